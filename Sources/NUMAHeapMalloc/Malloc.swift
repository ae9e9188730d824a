// The Swift side of libNUMAHeapMalloc.so: the malloc family over one process-wide
// `HeapCore`, called from the exported C functions in Sources/CNUMAHeapMalloc.
//
// Nothing reachable from these functions may allocate through the Swift runtime
// or run a lazy initialiser (malloc → swift_once → swift_allocObject → malloc
// deadlocks). So the heap lives in statically initialised atomics — no `static
// let`, no lazy global, no class instance — and errors are reported by the C
// side or `FatalMessage`, never with a `String`. `.ci/run` checks the compiled
// library's call graph for this (Tests/Malloc/check-symbols.sh).
@_spi(NUMAHeapInternals) import NUMAHeap
import CNUMAHeapMalloc
import Glibc
import Platform
import Synchronization

/// The heap's `HeapCore` bit pattern once it is ready; 0 before. A `HeapCore`
/// is one pointer, so the fast paths are one load and one compare away from it.
let heapWord = Atomic<Int>(0)
/// 0: not started; 1: a thread is initialising the heap; 2: ready; 3: failed.
let heapPhase = Atomic<Int>(0)
/// The thread initialising the heap (`pthread_self`), so that a call it makes
/// back into malloc while initialising is served from the bootstrap area.
let initialisingThread = Atomic<UInt>(0)

/// The 16-byte minimum alignment of every malloc result (glibc's on x86_64).
@inline(__always) var minimumAlignment: Int { 16 }

@inline(__always)
func readyHeap() -> HeapCore? {
    let word = heapWord.load(ordering: .acquiring)
    if _fastPath(word != 0) { return unsafeBitCast(word, to: HeapCore.self) }
    return nil
}

// MARK: Initialisation

/// Creates the heap on first use. Returns nil when the caller must use the
/// bootstrap area (a re-entrant call on the initialising thread) or when the
/// heap could not be created.
@inline(never)
func initializeHeap() -> HeapCore? {
    let me = UInt(pthread_self())
    while true {
        if let core = readyHeap() { return core }
        if heapPhase.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged {
            initialisingThread.store(me, ordering: .releasing)
            var options = numaheap_malloc_options()
            numaheap_malloc_read_options(&options)
            var wanted = configuration(from: options)
            if case .bind(let node) = wanted.numaPolicy, HeapCore.nodeHasMemory(node) == false {
                // NUMAHEAP_NUMA=bind:N parsed, but the machine has no such node
                // with memory: say so once and place memory automatically.
                numaheap_malloc_write_bad_node(Int32(truncatingIfNeeded: node))
                wanted.numaPolicy = .automatic
            }
            guard let core = HeapCore(configuration: wanted) else {
                heapPhase.store(3, ordering: .releasing)
                numaheap_malloc_write_line("NUMAHeap: cannot create the heap (mmap failed); every allocation will fail")
                return nil
            }
            // Before any thread has a cache: idle threads' cached blocks may be
            // taken back where nothing but the malloc family reaches the heap.
            if numaheap_malloc_heap_is_private() != 0 {
                core.enableCacheReclaim(threadGuards: numaheap_malloc_thread_guards)
            }
            heapWord.store(unsafeBitCast(core, to: Int.self), ordering: .releasing)
            numaheap_malloc_set_ready_state(core.cHandle)
            heapPhase.store(2, ordering: .releasing)
            if options.verbose != 0 { numaheap_malloc_print_options(&options) }
            return core
        }
        switch heapPhase.load(ordering: .acquiring) {
        case 3: return nil
        case 1 where initialisingThread.load(ordering: .acquiring) == me: return nil
        default: sched_yield()
        }
    }
}

func configuration(from o: numaheap_malloc_options) -> HeapConfiguration {
    var c = HeapConfiguration()
    switch o.numa {
    case Int32(NUMAHEAP_OPT_NUMA_DISABLED): c.numaPolicy = .disabled
    case Int32(NUMAHEAP_OPT_NUMA_BIND): c.numaPolicy = .bind(node: Int(o.numa_node))
    case Int32(NUMAHEAP_OPT_NUMA_INTERLEAVE): c.numaPolicy = .interleave
    default: c.numaPolicy = .automatic
    }
    c.scavenging = o.scavenger_enabled != 0 ? .background(retainExtraPercent: Int(o.retain_extra_percent)) : .disabled
    c.retainedPeakWindow = .milliseconds(Int(o.retain_peak_ms))
    c.releaseMethod = o.release == Int32(NUMAHEAP_OPT_RELEASE_FREE) ? .free : .dontNeed
    switch o.thp {
    case Int32(NUMAHEAP_OPT_THP_ALWAYS): c.transparentHugePages = .always
    case Int32(NUMAHEAP_OPT_THP_NEVER): c.transparentHugePages = .never
    default: c.transparentHugePages = .default
    }
    c.checks = o.checks == Int32(NUMAHEAP_OPT_CHECKS_FULL) ? .full : .standard
    c.memoryLimit = o.memory_limit > 0 ? Int(o.memory_limit) : nil
    c.addressSpaceLimit = o.address_space_limit > 0 ? Int(o.address_space_limit) : nil
    return c
}

@_cdecl("numaheap_initialize")
public func numaheap_initialize() { _ = initializeHeap() }

// MARK: Allocation
//
// The C side calls these with this thread's re-entrancy guard set, and routes
// any call made meanwhile (from inside the heap) to the bootstrap area or to
// the `*_reentrant` functions below, so nothing here enters the heap twice.

@inline(__always)
func allocate(_ core: HeapCore, _ size: Int, _ alignment: Int, _ zeroed: Bool) -> UnsafeMutableRawPointer? {
    do {
        return try core.allocate(byteCount: size, alignment: alignment, zeroed: zeroed)
    } catch {
        return failed(error)
    }
}

@inline(never)
func failed(_ error: HeapError) -> UnsafeMutableRawPointer? {
    if case .invalidAlignment = error { numaheap_malloc_set_errno(EINVAL) } else { numaheap_malloc_set_errno(ENOMEM) }
    return nil
}

/// The heap is not ready: initialise it (or wait for the thread that does).
@inline(never)
func allocateSlow(_ size: Int, _ alignment: Int, _ zeroed: Bool) -> UnsafeMutableRawPointer? {
    if let core = initializeHeap() { return allocate(core, size, alignment, zeroed) }
    numaheap_malloc_set_errno(ENOMEM)
    return nil
}

@_cdecl("numaheap_malloc")
public func numaheap_malloc(_ size: Int) -> UnsafeMutableRawPointer? {
    if let core = readyHeap() { return allocate(core, size, minimumAlignment, false) }
    return allocateSlow(size, minimumAlignment, false)
}

/// `size` is the product, already checked for overflow by the C side.
@_cdecl("numaheap_calloc")
public func numaheap_calloc(_ size: Int) -> UnsafeMutableRawPointer? {
    if let core = readyHeap() { return allocate(core, size, minimumAlignment, true) }
    return allocateSlow(size, minimumAlignment, true)
}

/// `alignment` is a power of two (the C side checked or rounded it).
@_cdecl("numaheap_aligned")
public func numaheap_aligned(_ alignment: Int, _ size: Int) -> UnsafeMutableRawPointer? {
    let a = max(alignment, minimumAlignment)
    if let core = readyHeap() { return allocate(core, size, a, false) }
    return allocateSlow(size, a, false)
}

// MARK: Free

/// `pointer` is not NULL.
@_cdecl("numaheap_free")
public func numaheap_free(_ pointer: UnsafeMutableRawPointer) {
    if let core = readyHeap(), _fastPath(core.deallocateIfMapped(pointer)) { return }
    freeUnmapped(pointer)
}

/// Outside the heap's arenas: a bootstrap block (nothing to do), or foreign
/// memory (glibc's, or garbage), reported in glibc's words before aborting.
@inline(never)
func freeUnmapped(_ pointer: UnsafeMutableRawPointer) {
    if numaheap_bootstrap_owns(pointer) != 0 { return }
    numaheap_malloc_invalid_pointer("free", pointer)
}

/// A free from inside the heap: a bootstrap block, or a heap block left alone
/// (freeing it could need a lock this thread holds: a rare, small leak).
@_cdecl("numaheap_free_reentrant")
public func numaheap_free_reentrant(_ pointer: UnsafeMutableRawPointer) {
    if numaheap_bootstrap_owns(pointer) != 0 { return }
    if let core = readyHeap(), core.mapsAddress(pointer) { return }
    numaheap_malloc_invalid_pointer("free", pointer)
}

// MARK: realloc

/// The size to move a growing large block to: the request rounded up to a
/// quarter of its power of two (jemalloc's large-class spacing), so a block
/// grown by repeated `realloc` is copied O(log n) times, not once per page.
@inline(__always)
func grownLargeSize(_ size: Int) -> Int {
    let step = (1 << (Int.bitWidth - 1 - size.leadingZeroBitCount)) >> 2
    return (size + step - 1) & ~(step - 1)
}

/// `pointer` is not NULL and `size` is not 0 (the C side handles those as glibc does).
@_cdecl("numaheap_realloc")
public func numaheap_realloc(_ pointer: UnsafeMutableRawPointer, _ size: Int) -> UnsafeMutableRawPointer? {
    guard size >= 0 else { return failed(.invalidSize(size)) }
    guard let core = readyHeap(), core.mapsAddress(pointer) else {
        guard numaheap_bootstrap_owns(pointer) != 0 else { numaheap_malloc_invalid_pointer("realloc", pointer) }
        guard let fresh = numaheap_malloc(size) else { return nil }
        fresh.copyMemory(from: pointer, byteCount: min(numaheap_bootstrap_size(pointer), size))
        return fresh
    }
    let usable = core.usableSize(resizing: pointer)  // Stops the process for a pointer that is no live block's base.
    // In place while it fits and at least half of the block stays used.
    if size <= usable && size > usable / 2 { return pointer }
    let smallMaximum = 32 << 10
    let target = size > usable && size > smallMaximum ? grownLargeSize(size) : size
    // A large block grows into the free pages after it, without a copy.
    if size > usable && usable > smallMaximum && core.growInPlace(pointer, byteCount: target) { return pointer }
    guard let fresh = allocate(core, target, minimumAlignment, false) else { return nil }
    fresh.copyMemory(from: pointer, byteCount: min(usable, size))
    core.deallocate(pointer)
    return fresh
}

/// realloc from inside the heap: the new block comes from the bootstrap area;
/// the old one is left alone (see ``numaheap_free_reentrant(_:)``).
@_cdecl("numaheap_realloc_reentrant")
public func numaheap_realloc_reentrant(_ pointer: UnsafeMutableRawPointer, _ size: Int) -> UnsafeMutableRawPointer? {
    let oldSize: Int
    if numaheap_bootstrap_owns(pointer) != 0 {
        oldSize = numaheap_bootstrap_size(pointer)
    } else if let core = readyHeap(), core.mapsAddress(pointer) {
        oldSize = core.usableSize(of: pointer)
    } else {
        numaheap_malloc_invalid_pointer("realloc", pointer)
    }
    guard size >= 0, let fresh = numaheap_bootstrap_allocate(size, 16) else {
        numaheap_malloc_set_errno(ENOMEM)
        return nil
    }
    fresh.copyMemory(from: pointer, byteCount: min(oldSize, size))
    return fresh
}

// MARK: malloc_usable_size

@_cdecl("numaheap_usable_size")
public func numaheap_usable_size(_ pointer: UnsafeMutableRawPointer) -> Int {
    if let core = readyHeap(), core.mapsAddress(pointer) { return core.usableSize(of: pointer) }
    if numaheap_bootstrap_owns(pointer) != 0 { return numaheap_bootstrap_size(pointer) }
    numaheap_malloc_invalid_pointer("malloc_usable_size", pointer)
}

// MARK: fork

/// `pthread_atfork` prepare: every heap lock, in order (see Sources/NUMAHeap/Malloc/ForkHandlers.swift).
@_cdecl("numaheap_fork_prepare")
public func numaheap_fork_prepare() { readyHeap()?.prepareForFork() }

@_cdecl("numaheap_fork_parent")
public func numaheap_fork_parent() { readyHeap()?.parentAfterFork() }

@_cdecl("numaheap_fork_child")
public func numaheap_fork_child() { readyHeap()?.childAfterFork() }

// MARK: malloc_trim, mallinfo

/// malloc_trim: `HeapCore.releaseFreeMemory()`; the bytes released.
@_cdecl("numaheap_trim")
public func numaheap_trim() -> Int {
    readyHeap()?.releaseFreeMemory() ?? 0
}

/// mallinfo/mallinfo2's figures, read without allocating.
@_cdecl("numaheap_figures")
public func numaheap_figures(_ figures: UnsafeMutablePointer<numaheap_malloc_figures>) {
    guard let core = readyHeap() else { return }
    let s = core.mallocSummary
    figures.pointee = numaheap_malloc_figures(
        committed_bytes: s.committedBytes, in_use_bytes: s.inUseBytes, released_bytes: s.releasedBytes,
        live_blocks: max(s.mallocs - s.frees, 0), spans: s.spans)
}

// MARK: Statistics at exit

/// NUMAHEAP_STATS=1: one block of figures on stderr at exit, built without allocating.
@_cdecl("numaheap_exit_report")
public func numaheap_exit_report() {
    guard let core = readyHeap() else { return }
    let s = core.mallocSummary
    FatalMessage("NUMAHeap statistics (pid ").decimal(Int(getpid())).text("): mallocs ").decimal(s.mallocs)
        .text(", frees ").decimal(s.frees).text(", live blocks ").decimal(s.mallocs - s.frees)
        .text(", thread caches ").decimal(s.threadCaches).write()
    FatalMessage("NUMAHeap statistics: committed ").decimal(s.committedBytes)
        .text(" B, in use ").decimal(s.inUseBytes).text(" B in ").decimal(s.spans)
        .text(" spans, released ").decimal(s.releasedBytes).text(" B, metadata ").decimal(s.metadataBytes).text(" B")
        .write()
    FatalMessage("NUMAHeap statistics: node locks ").decimal(s.nodeLockAcquisitions)
        .text(" acquisitions (").decimal(s.contendedNodeLockAcquisitions).text(" contended), central-list locks ")
        .decimal(s.centralLockAcquisitions).text(" (").decimal(s.contendedCentralLockAcquisitions).text(" contended)")
        .write()
}
