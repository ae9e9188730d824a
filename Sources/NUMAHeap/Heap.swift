import ArenaMap
import Central
import Glibc
import PageAlloc
import Platform
import SpanCore

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
    let state: UnsafeMutablePointer<HeapState>

    /// The process-wide heap with the default configuration.
    public static let shared: Heap = {
        do { return try Heap(configuration: HeapConfiguration()) } catch {
            FatalMessage("NUMAHeap: cannot create the shared heap").crash()
        }
    }()

    /// The largest alignment ``allocate(byteCount:alignment:)`` accepts: one arena (64 MiB).
    public static let maximumAlignment = 64 << 20
    /// The largest byte count ``allocate(byteCount:alignment:)`` accepts (1 TiB).
    public static let maximumByteCount = 1 << 40

    /// Creates a heap. Maps its metadata at once; arenas are reserved on first use.
    public init(configuration: HeapConfiguration = HeapConfiguration()) throws(HeapError) {
        guard let s = HeapState.create(configuration: configuration, nodeCount: 1) else {
            throw .outOfMemory(requested: 0)
        }
        state = s
        HeapRegistry.register(s)
    }

    deinit {
        HeapRegistry.unregister(state)
        HeapState.destroy(state)
    }

    // MARK: Allocation

    /// Allocates `byteCount` bytes aligned to `alignment` (a power of two up to
    /// ``maximumAlignment``). The contents are unspecified; see
    /// ``allocateZeroed(byteCount:alignment:)``. A byte count of 0 returns a
    /// unique block of the smallest size.
    public func allocate(byteCount: Int, alignment: Int = 16) throws(HeapError) -> UnsafeMutableRawPointer {
        try allocate(byteCount: byteCount, alignment: alignment, zeroed: false)
    }

    /// Allocates like ``allocate(byteCount:alignment:)`` with every byte zero.
    /// Zeroes only memory that may hold old data (Go's `needzero`).
    public func allocateZeroed(byteCount: Int, alignment: Int = 16) throws(HeapError) -> UnsafeMutableRawPointer {
        try allocate(byteCount: byteCount, alignment: alignment, zeroed: true)
    }

    @inline(__always)
    func allocate(byteCount: Int, alignment: Int, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        if _fastPath(byteCount >= 0 && byteCount <= SizeClassTable.maxSmallSize && alignment > 0 && alignment <= 16
                        && alignment & (alignment &- 1) == 0) {
            // Every class above 16 bytes but 24 is a multiple of 16 and spans are
            // page-aligned, so 16-byte alignment only needs 24 → 32.
            let size = max(byteCount, 1)
            var sizeClass = SizeClassTable.sizeClass(for: size)
            if alignment == 16 && SizeClassTable.size(of: sizeClass) & 15 != 0 {
                sizeClass = SizeClassTable.sizeClass(for: (size + 15) & ~15)
            }
            return try allocateSmall(sizeClass: sizeClass, zeroed: zeroed)
        }
        return try allocateSlow(byteCount: byteCount, alignment: alignment, zeroed: zeroed)
    }

    /// The fast path: this thread's cached span for the class, then the slow refill.
    @inline(__always)
    func allocateSmall(sizeClass: Int, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        let cache = HeapState.currentCache(state)
        let spanClass = SpanClass(sizeClass: sizeClass, noscan: true)
        let span = cache.pointee.spans[spanClass.index]
        if let address = span.pointee.nextFreeFast() {
            cache.pointee.mallocs[sizeClass] &+= 1
            let p = UnsafeMutableRawPointer(bitPattern: address).unsafelyUnwrapped
            if zeroed && span.pointee.needzero { p.initializeMemory(as: UInt8.self, repeating: 0, count: span.pointee.elemSize) }
            return p
        }
        return try refill(cache: cache, spanClass: spanClass, zeroed: zeroed)
    }

    @inline(never)
    func refill(cache: UnsafeMutablePointer<ThreadCache>, spanClass: SpanClass, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        guard let address = cache.pointee.nextFree(spanClass, directory: HeapDirectory(state: state)) else {
            throw .outOfMemory(requested: SizeClassTable.size(of: spanClass.sizeClass))
        }
        cache.pointee.mallocs[spanClass.sizeClass] &+= 1
        let span = cache.pointee.spans[spanClass.index]
        let p = UnsafeMutableRawPointer(bitPattern: address)!
        if zeroed && span.pointee.needzero { p.initializeMemory(as: UInt8.self, repeating: 0, count: span.pointee.elemSize) }
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
                return try allocateSmall(sizeClass: sizeClass, zeroed: zeroed)
            }
        }
        return try allocateLarge(byteCount: size, alignment: alignment, zeroed: zeroed)
    }

    /// A block with a span of its own (Go's `largeAlloc`).
    func allocateLarge(byteCount: Int, alignment: Int, zeroed: Bool) throws(HeapError) -> UnsafeMutableRawPointer {
        let pageSize = state.pointee.pageSize
        let pages = (byteCount + pageSize - 1) / pageSize
        let alignmentPages = max(1, alignment / pageSize)
        let cache = HeapState.currentCache(state)
        let source = NodeSpanSource(state: state, node: Int(cache.pointee.node))
        guard let span = source.allocate(pages: pages, alignmentPages: alignmentPages,
                                         spanClass: SpanClass(sizeClass: 0, noscan: true),
                                         elemSize: pages * pageSize) else {
            throw .outOfMemory(requested: byteCount)
        }
        _ = span.pointee.nextFreeIndex()  // Its one object is now allocated.
        cache.pointee.mallocs[0] &+= 1
        cache.pointee.largeBytesAllocated &+= pages * pageSize
        let p = UnsafeMutableRawPointer(bitPattern: span.pointee.startAddress)!
        if zeroed && span.pointee.needzero { p.initializeMemory(as: UInt8.self, repeating: 0, count: pages * pageSize) }
        return p
    }
}
