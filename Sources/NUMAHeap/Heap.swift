import ArenaMap
import Central
import Glibc
import PageAlloc
import Platform
import SpanCore
import Synchronization

/// A NUMA-aware memory heap after the Go runtime's: size-classed spans served
/// from per-thread caches, central lists per span class, and a radix-tree page
/// allocator over 64 MiB arenas.
///
/// ```swift
/// let heap = try Heap(configuration: .init())
/// let p = try heap.allocate(byteCount: 100, alignment: 16)
/// heap.deallocate(p)
/// ```
///
/// Every method is thread-safe. Any thread may free a block any other thread
/// allocated. Misuse — freeing a pointer the heap did not allocate, a double
/// free, an interior pointer — stops the process with a message naming the
/// address (as glibc's `free(): invalid pointer` does); it never corrupts the heap.
///
/// Destroying a `Heap` returns all its memory to the system; every block it
/// handed out becomes invalid, and no thread may be using it at that time.
public final class Heap: @unchecked Sendable {
    /// The heap's operations, on state it maps itself (no Swift objects).
    @_spi(NUMAHeapInternals) public let core: HeapCore

    /// False for the heap behind a linked allocator's `malloc`, which outlives
    /// any `Heap` (see ``shared``).
    private let ownsCore: Bool

    /// The process-wide heap. In a program that links the NUMAHeapAllocator
    /// product it is the heap behind that program's `malloc` (configured by the
    /// `NUMAHEAP_*` variables), so the program reads its own allocations in
    /// ``statistics``; otherwise a heap of its own with the default configuration.
    public static let shared: Heap = {
        if let state = LinkedAllocator.heapState {
            return Heap(borrowing: HeapCore(state: state.assumingMemoryBound(to: HeapState.self)))
        }
        do { return try Heap(configuration: HeapConfiguration()) } catch {
            FatalMessage("NUMAHeap: cannot create the shared heap").crash()
        }
    }()

    /// The largest alignment ``allocate(byteCount:alignment:)`` accepts: one arena (64 MiB).
    public static var maximumAlignment: Int { 64 << 20 }
    /// The largest byte count ``allocate(byteCount:alignment:)`` accepts (1 TiB).
    public static var maximumByteCount: Int { 1 << 40 }

    /// Creates a heap. Maps its metadata at once; arenas are reserved on first use.
    public init(configuration: HeapConfiguration = HeapConfiguration()) throws(HeapError) {
        core = try HeapCore(configuration: configuration, topology: SystemTopology.current)
        ownsCore = true
    }

    /// A `Heap` over a heap that something else created and never destroys.
    private init(borrowing core: HeapCore) {
        self.core = core
        ownsCore = false
    }

    /// Creates a heap that places memory on the nodes of `topology` — a
    /// `FixedTopology` in tests; the machine's (`SystemTopology.current`)
    /// otherwise. Throws ``HeapError/invalidNode(_:)`` when
    /// ``HeapConfiguration/NUMAPolicy/bind(node:)`` names a node without memory.
    public init<T: NUMATopology>(configuration: HeapConfiguration = HeapConfiguration(), topology: T) throws(HeapError) {
        core = try HeapCore(configuration: configuration, topology: topology)
        ownsCore = true
    }

    deinit { if ownsCore { core.destroy() } }

    /// Allocates `byteCount` bytes aligned to `alignment` (a power of two up to
    /// ``maximumAlignment``). The contents are unspecified; see
    /// ``allocateZeroed(byteCount:alignment:)``. A byte count of 0 returns a
    /// unique block of the smallest size.
    @inlinable
    public func allocate(byteCount: Int, alignment: Int = 16) throws(HeapError) -> UnsafeMutableRawPointer {
        // The call site usually names the alignment (or takes the default):
        // then this folds to a call of the leaf, with the full path behind it.
        if alignment == 16 {
            if let p = _allocateFast(byteCount: byteCount) { return p }
            return try _allocate16(byteCount: byteCount)
        }
        return try _allocate(byteCount: byteCount, alignment: alignment)
    }

    /// ``HeapCore/allocateFast(byteCount:threadBindings:)``: a leaf, so the
    /// common allocation saves no registers.
    @usableFromInline
    func _allocateFast(byteCount: Int) -> UnsafeMutableRawPointer? {
        core.allocateFast(byteCount: byteCount, threadBindings: ThreadLocalSlot.cache.value)
    }

    @usableFromInline
    func _allocate16(byteCount: Int) throws(HeapError) -> UnsafeMutableRawPointer {
        try core.allocate(byteCount: byteCount, alignment: 16, zeroed: false)
    }

    @usableFromInline
    func _allocate(byteCount: Int, alignment: Int) throws(HeapError) -> UnsafeMutableRawPointer {
        try core.allocate(byteCount: byteCount, alignment: alignment, zeroed: false)
    }

    /// Allocates like ``allocate(byteCount:alignment:)`` with every byte zero.
    /// Zeroes only memory that may hold old data (Go's `needzero`).
    public func allocateZeroed(byteCount: Int, alignment: Int = 16) throws(HeapError) -> UnsafeMutableRawPointer {
        try core.allocate(byteCount: byteCount, alignment: alignment, zeroed: true)
    }

    /// Returns a block to the heap. Any thread may free any block.
    ///
    /// A pointer this heap did not return — foreign, interior, already freed —
    /// stops the process with a message naming it; nothing is corrupted.
    public func deallocate(_ pointer: UnsafeMutableRawPointer) { core.deallocate(pointer) }

    /// Resizes a block, in place when its size class (or large span) still fits;
    /// otherwise moves it, copying the smaller of the two sizes, and frees the old one.
    public func reallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) throws(HeapError) -> UnsafeMutableRawPointer {
        try core.reallocate(pointer, byteCount: byteCount)
    }

    /// Bytes usable in the block at `pointer` (its size class's size, or its
    /// span's pages for a large block): at least what was requested. Must not
    /// overlap a `reallocate` of the same block (which may grow it in place).
    public func usableSize(of pointer: UnsafeRawPointer) -> Int { core.usableSize(of: pointer) }

    /// True when `pointer` is the base of a block in a span this heap has in use
    /// (it does not tell whether that block is currently allocated). Must not
    /// overlap a `reallocate` of the same block.
    public func owns(_ pointer: UnsafeRawPointer) -> Bool { core.owns(pointer) }

    /// NUMA node of the memory at `pointer`, from the arena map (no system call);
    /// nil when the heap did not map it.
    public func node(of pointer: UnsafeRawPointer) -> Int? { core.node(of: pointer) }

    /// Returns this thread's cached spans to their central lists (Go's
    /// `mcache.releaseAll`), so that statistics and other threads see them.
    public func flushThreadCache() { core.flushThreadCache() }

    /// Returns every free page to the system now (Go's `debug.FreeOSMemory`)
    /// and reports the bytes released. Pages already released are not counted again.
    @discardableResult
    public func releaseFreeMemory() -> Int { core.releaseFreeMemory() }

    /// A snapshot of the heap's statistics.
    public var statistics: HeapStatistics { core.statistics }
}

/// The heap's operations over its mapped state: a one-word value with no
/// reference counting, so code that must not allocate Swift objects or run lazy
/// initialisers (the malloc library) can hold one in a global. ``Heap`` wraps it.
///
/// A `HeapCore` names its heap's state: copies name the same heap, and
/// ``destroy()`` ends it for all of them.
@_spi(NUMAHeapInternals)
public struct HeapCore: @unchecked Sendable {
    let state: UnsafeMutablePointer<HeapState>

    /// Maps and registers a new heap on the machine's topology
    /// (``SystemTopology/current``); nil when its metadata cannot be mapped or
    /// the configuration names a node without memory. Allocates nothing on the
    /// Swift heap (the malloc library calls it inside `malloc`).
    public init?(configuration: HeapConfiguration) {
        guard let core = try? HeapCore(configuration: configuration, topology: SystemTopology.current) else { return nil }
        self = core
    }

    /// Maps and registers a new heap that places memory on `topology`'s nodes.
    /// Throws ``HeapError/invalidNode(_:)`` when `.bind(node:)` names a node
    /// without memory, ``HeapError/outOfMemory(requested:)`` when the heap's
    /// metadata cannot be mapped.
    public init<T: NUMATopology>(configuration: HeapConfiguration, topology: T) throws(HeapError) {
        let placement: NodePlacement
        switch NodePlacement.plan(configuration, topology: topology) {
        case .success(let p): placement = p
        case .failure(let e): throw e
        }
        guard let s = HeapState.create(configuration: configuration, placement: placement) else {
            placement.destroy()
            throw .outOfMemory(requested: 0)
        }
        state = s
        HeapRegistry.register(s)
        HeapState.scavengerHeapCreated(s)
    }

    /// Unregisters the heap and returns all its memory to the system.
    public func destroy() {
        HeapState.scavengerHeapDestroying(state)
        HeapRegistry.unregister(state)
        HeapState.destroy(state)
    }
}

extension HeapCore {
    // MARK: Allocation

    /// Allocates `byteCount` bytes aligned to `alignment`, zeroed when asked.
    @inline(__always)
    public func allocate(byteCount: Int, alignment: Int, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        try allocate(byteCount: byteCount, alignment: alignment, zeroed: zeroed,
                     threadBindings: ThreadLocalSlot.cache.value)
    }

    /// ``allocate(byteCount:alignment:zeroed:)`` with the calling thread's
    /// ``ThreadLocalSlot/cache`` value read by the caller: the malloc library's
    /// C `malloc` reads it (one `%fs` load, inlined by clang) and passes it,
    /// because in the library's cross-module-optimised build Swift calls the C
    /// accessor out of line (its call site is marked `noinline`).
    @inline(__always)
    public func allocate(byteCount: Int, alignment: Int, zeroed: Bool,
                         threadBindings: UnsafeMutableRawPointer?) throws(HeapError) -> UnsafeMutableRawPointer {
        // Alignments 1…16 need no search: every class above 16 bytes but 24 is a
        // multiple of 16 and spans are page-aligned; the lookup's second array
        // already maps 8 → 16 and 24 → 32 for alignment 16.
        let alignmentOK = UInt(bitPattern: alignment &- 1) < 16 && alignment & (alignment &- 1) == 0
        let size = UInt(bitPattern: byteCount)
        if _fastPath(size <= UInt(SizeClassTable.maxSmallSize) && alignmentOK) {
            let row = size > 1024 ? 258 : alignment == 16 ? 129 : 0
            let entry = size > 1024 ? (size &- 1024 &+ 127) >> 7 : (size &+ 7) >> 3
            let sizeClass = Int(state.pointee.sizeClassLookup[row &+ Int(truncatingIfNeeded: entry)])
            return try allocateSmall(sizeClass: sizeClass, zeroed: zeroed, threadBindings: threadBindings)
        }
        if _fastPath(size <= UInt(Heap.maximumByteCount) && alignmentOK) {
            return try allocateLarge(byteCount: byteCount, alignment: 16, zeroed: zeroed, threadBindings: threadBindings)
        }
        return try allocateSlow(byteCount: byteCount, alignment: alignment, zeroed: zeroed)
    }

    /// The full small allocation: this thread's bin or cached span for the
    /// class (``cachedBlock(sizeClass:zeroed:cache:)``), then the slow refill.
    /// Its calls out (the unbound thread, the refill) are not tail calls —
    /// typed throws are checked after them — so it saves registers; the
    /// register-free path is the leaf ``allocateFast(byteCount:threadBindings:)``.
    @inline(__always)
    func allocateSmall(sizeClass: Int, zeroed: Bool,
                       threadBindings: UnsafeMutableRawPointer?) throws(HeapError) -> UnsafeMutableRawPointer {
        guard let cache = HeapState.boundCache(state, threadBindings: threadBindings) else {
            return try allocateSmallUnbound(sizeClass: sizeClass, zeroed: zeroed)
        }
        return try allocateSmall(sizeClass: sizeClass, zeroed: zeroed, cache: cache)
    }

    /// ``allocateSmall(sizeClass:zeroed:threadBindings:)`` when the thread's
    /// first binding is not to this heap (first use, or several heaps).
    @inline(never)
    func allocateSmallUnbound(sizeClass: Int, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        try allocateSmall(sizeClass: sizeClass, zeroed: zeroed, cache: HeapState.bindSlow(state))
    }

    @inline(__always)
    func allocateSmall(sizeClass: Int, zeroed: Bool,
                       cache: UnsafeMutablePointer<ThreadCache>) throws(HeapError) -> UnsafeMutableRawPointer {
        if let block = cachedBlock(sizeClass: sizeClass, zeroed: zeroed, cache: cache) { return block }
        return try refill(cache: cache, spanClass: SpanClass(sizeClass: sizeClass, noscan: true), zeroed: zeroed)
    }

    /// A block of the class from the thread's cache — the thread's most
    /// recently freed block of the class first (ThreadObjectCache), then its
    /// span's `allocCache` — counted, and zeroed when asked and needed; nil
    /// when both are empty (then ``refill(cache:spanClass:zeroed:)``). Calls
    /// nothing unless zeroing or reporting.
    ///
    /// `inLeaf`: the caller is the leaf ``allocateFast(byteCount:threadBindings:)``,
    /// which may call nothing, so a bin whose first block's mark is broken
    /// answers nil and is left to the full path, which stops the process
    /// naming the block (``ThreadObjectCache/corruptedFreeList(_:)``).
    @inline(__always)
    func cachedBlock(sizeClass: Int, zeroed: Bool, cache: UnsafeMutablePointer<ThreadCache>,
                     inLeaf: Bool = false) -> UnsafeMutableRawPointer? {
        let bin = ThreadCache.bins(cache) + sizeClass
        if bin.pointee.head != 0 {
            let key = state.pointee.objectKey
            guard let block = ThreadObjectCache.peek(bin, key: key) else {
                if inLeaf { return nil }
                ThreadObjectCache.corruptedFreeList(bin.pointee.head)
            }
            ThreadObjectCache.unlink(bin, block, key: key, clearingMark: true)
            ThreadCache.count(cache.pointee.mallocs + sizeClass)
            if zeroed { zeroBinned(UnsafeMutableRawPointer(block), sizeClass: sizeClass) }
            return UnsafeMutableRawPointer(block)
        }
        let span = cache.pointee.spans[SpanClass(sizeClass: sizeClass, noscan: true).index]
        guard let address = span.pointee.nextFreeFast() else { return nil }
        ThreadObjectCache.clearMark(address, sizeClass: sizeClass)
        ThreadCache.count(cache.pointee.mallocs + sizeClass)
        let p = UnsafeMutableRawPointer(bitPattern: address).unsafelyUnwrapped
        if zeroed && span.pointee.needzero.load(ordering: .relaxed) {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: span.pointee.elemSize)
        }
        return p
    }

    @inline(never)
    func refill(cache: UnsafeMutablePointer<ThreadCache>, spanClass: SpanClass, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        chooseNode(cache)
        guard let address = ThreadCache.nextFree(cache, spanClass, directory: HeapDirectory(state: state, cache: cache)) else {
            throw .outOfMemory(requested: SizeClassTable.size(of: spanClass.sizeClass))
        }
        ThreadObjectCache.clearMark(address, sizeClass: spanClass.sizeClass)
        ThreadCache.count(cache.pointee.mallocs + spanClass.sizeClass)
        let span = cache.pointee.spans[spanClass.index]
        let p = UnsafeMutableRawPointer(bitPattern: address)!
        if zeroed && span.pointee.needzero.load(ordering: .relaxed) {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: span.pointee.elemSize)
        }
        return p
    }

    /// Validation, over-aligned small blocks and large blocks.
    @inline(never)
    func allocateSlow(byteCount: Int, alignment: Int, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        guard byteCount >= 0, byteCount <= Heap.maximumByteCount else { throw .invalidSize(byteCount) }
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= Heap.maximumAlignment else {
            throw .invalidAlignment(alignment)
        }
        let size = max(byteCount, 1)
        let pageSize = state.pointee.pageSize
        if size <= SizeClassTable.maxSmallSize && alignment <= pageSize {
            // Objects of a class whose size is a multiple of the alignment are
            // aligned, since spans start on page boundaries.
            var sizeClass = SizeClassTable.sizeClass(for: max(size, alignment))
            while sizeClass < SizeClassTable.count && SizeClassTable.size(of: sizeClass) % alignment != 0 {
                sizeClass += 1
            }
            if sizeClass < SizeClassTable.count {
                return try allocateSmall(sizeClass: sizeClass, zeroed: zeroed, threadBindings: ThreadLocalSlot.cache.value)
            }
        }
        return try allocateLarge(byteCount: size, alignment: alignment, zeroed: zeroed,
                                 threadBindings: ThreadLocalSlot.cache.value)
    }

    /// A block with a span of its own (Go's `largeAlloc`): `byteCount` and
    /// `alignment` are valid and `byteCount` is above the small classes (or
    /// no class has the alignment). `threadBindings` is the thread's
    /// ``ThreadLocalSlot/cache`` value, read by the caller.
    @inline(never)
    func allocateLarge(byteCount: Int, alignment: Int, zeroed: Bool,
                       threadBindings: UnsafeMutableRawPointer?) throws(HeapError) -> UnsafeMutableRawPointer {
        let pageSize = SizeClassTable.pageSize  // the heap's (state.pageSize), a constant: no division below
        let pages = ThreadLargeSpans.spanPages(for: (byteCount + pageSize - 1) / pageSize)
        let alignmentPages = max(1, alignment / pageSize)
        let cache = HeapState.cache(state, threadBindings: threadBindings)
        chooseNode(cache)
        if alignment <= pageSize,
           let span = reuseLargeSpan(pages: pages, node: cache.pointee.node, cache: cache)
                      ?? takeNodeLargeSpan(pages: pages, node: cache.pointee.node) {
            let bytes = span.pointee.pageCount * pageSize
            ThreadCache.count(cache.pointee.mallocs)
            ThreadCache.count(cache.pointee.largeBytesAllocated, bytes)
            let p = UnsafeMutableRawPointer(bitPattern: span.pointee.startAddress)!
            if zeroed { p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }  // Freed memory is dirty.
            return p
        }
        let source = NodeSpanSource(state: state, node: Int(cache.pointee.node), cache: cache)
        guard let span = source.allocateSpan(pages: pages, alignmentPages: alignmentPages,
                                         spanClass: SpanClass(sizeClass: 0, noscan: true),
                                         elemSize: pages * pageSize) else {
            throw .outOfMemory(requested: byteCount)
        }
        _ = span.pointee.nextFreeIndex()  // Its one object is now allocated.
        ThreadCache.count(cache.pointee.mallocs)
        ThreadCache.count(cache.pointee.largeBytesAllocated, pages * pageSize)
        let p = UnsafeMutableRawPointer(bitPattern: span.pointee.startAddress)!
        if zeroed && span.pointee.needzero.load(ordering: .relaxed) { p.initializeMemory(as: UInt8.self, repeating: 0, count: pages * pageSize) }
        return p
    }
}
