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
/// allocated. Misuse that the configured tier catches
/// (``HeapConfiguration/Checks``) — freeing a pointer the heap did not
/// allocate, an interior pointer, a block of a freed span, a double free
/// (`.standard`: unless the program wrote over the block's first 16 bytes in
/// between; `.full`: every one) — stops the process with a message naming
/// the address (as glibc's `free(): invalid pointer` does), before anything
/// is corrupted. Neither tier sees an overflow past a block's end, or a
/// stale pointer freed after its block was handed out again.
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
