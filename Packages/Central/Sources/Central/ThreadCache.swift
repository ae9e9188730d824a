import Platform
import SpanCore
import Synchronization

/// One thread's cache of spans for one heap (Go's `mcache`): the span it
/// allocates from for each span class, and its allocation counters.
///
/// ## Ownership
/// Only the thread the cache belongs to reads or writes `spans`; a span listed
/// here has `owner == address of this cache`. The counters are written only by
/// that thread, with relaxed atomic loads and stores (plain moves, no locked
/// instructions), and read by statistics from any thread: exact once the thread
/// is quiescent, as Go's `mcache` stats are.
///
/// The operations are static functions over a pointer to the cache, never
/// `mutating` methods: other threads read the record (statistics) while its
/// owner allocates, so nothing may claim the whole record for modification.
///
/// The record lives in memory the heap maps (never the Swift heap): a header,
/// `sizeClassCount` ``FreeObjectBin``s at a fixed offset (``bins(_:)``, no
/// pointer to load on the fast path), then `spanClassCount` span pointers,
/// `sizeClassCount` malloc and free counters, the large-byte counters and
/// the bin growth budget, then the heap's scratch area.
public struct ThreadCache: ~Copyable {
    /// Current span per span class; the heap's empty sentinel span when none, so
    /// the fast path needs no nil check (Go's `emptymspan`).
    public let spans: UnsafeMutablePointer<SpanRef>
    /// Objects allocated per size class (index 0: large allocations).
    public let mallocs: UnsafeMutablePointer<Atomic<Int>>
    /// Objects freed per size class by this thread (index 0: large frees).
    public let frees: UnsafeMutablePointer<Atomic<Int>>
    /// Bytes of large objects allocated and freed by this thread.
    public let largeBytesAllocated: UnsafeMutablePointer<Atomic<Int>>
    public let largeBytesFreed: UnsafeMutablePointer<Atomic<Int>>
    /// Bytes by which this cache's ``FreeObjectBin`` limits may still grow
    /// above the limits it was created with (TCMalloc's per-thread cache
    /// budget): the heap spends it when a full bin doubles its limit and
    /// refills it when it empties the bins. Owner only, as the bins are
    /// (relaxed loads and stores).
    public let binGrowthBudget: UnsafeMutablePointer<Atomic<Int>>
    public let spanClassCount: Int
    public let sizeClassCount: Int
    /// NUMA node whose central lists this cache refills from. Owner only.
    public var node: Int32
    /// Link in the heap's list of caches (protected by the heap's cache-list lock).
    public var nextCache: UnsafeMutableRawPointer?
    /// Link in the thread's list of caches (one per heap it used; thread-private).
    public var nextInThread: UnsafeMutableRawPointer?
    /// Identity of the heap this cache belongs to (never reused across heaps).
    public let heapID: UInt
    /// ``heapScratchBytes`` bytes (64-byte aligned, zeroed) for the heap that
    /// composes Central to keep per-thread state next to the cache — NUMAHeap
    /// keeps Go's per-P page cache and span-record stash there. Owner thread
    /// only; Central never reads it.
    public let heapScratch: UnsafeMutableRawPointer

    /// Bytes of ``heapScratch``.
    public static var heapScratchBytes: Int { 1024 }
    /// True once the thread has exited; the heap recycles it. Under the heap's cache lock.
    public var retired: Bool = false
    /// Bit *n* set: objects of spans on node *n* may enter this cache's
    /// ``FreeObjectBin``s (the heap's NUMA rule: a thread keeps only blocks of
    /// the node it allocates from; others go home through their span). Owner only.
    public var objectNodes: UInt64 = ~0

    /// Bytes of the record's header: the ``FreeObjectBin``s start here.
    @inlinable @inline(__always)
    public static var headerBytes: Int { (MemoryLayout<ThreadCache>.stride + 63) & ~63 }

    /// The cache's free-object bins, one per size class (index 0 unused).
    @inlinable @inline(__always)
    public static func bins(_ cache: UnsafeMutablePointer<ThreadCache>) -> UnsafeMutablePointer<FreeObjectBin> {
        (UnsafeMutableRawPointer(cache) + headerBytes).assumingMemoryBound(to: FreeObjectBin.self)
    }

    /// Bytes a cache record needs for the given class counts.
    public static func recordBytes(spanClassCount: Int, sizeClassCount: Int) -> Int {
        let bins = (MemoryLayout<FreeObjectBin>.stride * sizeClassCount + 63) & ~63
        return headerBytes + bins + ((8 * spanClassCount + 16 * sizeClassCount + 24 + 63) & ~63) + heapScratchBytes
    }

    /// Initialises a cache record in place at `address` (``recordBytes(spanClassCount:sizeClassCount:)`` bytes of
    /// zeroed, mapped memory); every span slot points at `empty`, every bin is
    /// empty with the limit `objectLimits[sizeClass]` (0: the class is never
    /// binned; no table: no class is), and ``binGrowthBudget`` holds
    /// `binGrowthBudget` bytes.
    public static func initialize(at address: UnsafeMutableRawPointer, spanClassCount: Int, sizeClassCount: Int,
                                  empty: SpanRef, node: Int32, heapID: UInt,
                                  objectLimits: UnsafePointer<Int32>? = nil,
                                  binGrowthBudget: Int = 0) -> UnsafeMutablePointer<ThreadCache> {
        let binBytes = (MemoryLayout<FreeObjectBin>.stride * sizeClassCount + 63) & ~63
        let bins = (address + headerBytes).bindMemory(to: FreeObjectBin.self, capacity: sizeClassCount)
        for c in 0..<sizeClassCount {
            (bins + c).initialize(to: FreeObjectBin(head: 0, count: 0, limit: c == 0 ? 0 : objectLimits?[c] ?? 0))
        }
        let header = headerBytes + binBytes
        let spans = (address + header).bindMemory(to: SpanRef.self, capacity: spanClassCount)
        spans.initialize(repeating: empty, count: spanClassCount)
        let counters = (address + header + 8 * spanClassCount)
            .bindMemory(to: Atomic<Int>.self, capacity: 2 * sizeClassCount + 3)
        for i in 0..<(2 * sizeClassCount + 2) { (counters + i).initialize(to: Atomic(0)) }
        (counters + 2 * sizeClassCount + 2).initialize(to: Atomic(max(binGrowthBudget, 0)))
        let scratch = address + header + ((8 * spanClassCount + 16 * sizeClassCount + 24 + 63) & ~63)
        scratch.initializeMemory(as: UInt8.self, repeating: 0, count: heapScratchBytes)
        let cache = address.bindMemory(to: ThreadCache.self, capacity: 1)
        cache.initialize(to: ThreadCache(spans: spans, mallocs: counters, frees: counters + sizeClassCount,
                                         heapScratch: scratch,
                                         largeBytesAllocated: counters + 2 * sizeClassCount,
                                         largeBytesFreed: counters + 2 * sizeClassCount + 1,
                                         binGrowthBudget: counters + 2 * sizeClassCount + 2,
                                         spanClassCount: spanClassCount, sizeClassCount: sizeClassCount,
                                         node: node, heapID: heapID))
        return cache
    }

    @usableFromInline
    init(spans: UnsafeMutablePointer<SpanRef>, mallocs: UnsafeMutablePointer<Atomic<Int>>,
         frees: UnsafeMutablePointer<Atomic<Int>>, heapScratch: UnsafeMutableRawPointer, largeBytesAllocated: UnsafeMutablePointer<Atomic<Int>>,
         largeBytesFreed: UnsafeMutablePointer<Atomic<Int>>, binGrowthBudget: UnsafeMutablePointer<Atomic<Int>>,
         spanClassCount: Int, sizeClassCount: Int, node: Int32, heapID: UInt) {
        self.spans = spans
        self.mallocs = mallocs
        self.frees = frees
        self.heapScratch = heapScratch
        self.largeBytesAllocated = largeBytesAllocated
        self.largeBytesFreed = largeBytesFreed
        self.binGrowthBudget = binGrowthBudget
        self.spanClassCount = spanClassCount
        self.sizeClassCount = sizeClassCount
        self.node = node
        self.heapID = heapID
    }

    /// Adds `n` to an owner-written counter: a relaxed load and store (no locked
    /// instruction), since only the owning thread writes it.
    @inlinable @inline(__always)
    public static func count(_ counter: UnsafeMutablePointer<Atomic<Int>>, _ n: Int = 1) {
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }
}

/// A thread's stack of freed objects of one size class (TCMalloc's per-thread
/// free list, glibc's tcache bin), in front of the span's bitmaps.
///
/// Objects are linked through their first word; their second word holds the
/// heap's *free-object key* while they sit in a bin, so a second free of the
/// same block (by any thread) is recognised without a lookup. The span still
/// counts a binned object as allocated: only the heap that composes Central
/// decides what may enter a bin and returns its objects to their spans.
/// Owner thread only; no atomics.
public struct FreeObjectBin {
    /// Address of the first object, 0 when empty.
    public var head: UInt
    /// Objects in the bin.
    public var count: Int32
    /// Objects the bin may hold; 0 for a class that is never binned.
    public var limit: Int32

    public init(head: UInt, count: Int32, limit: Int32) {
        self.head = head
        self.count = count
        self.limit = limit
    }
}

/// What a thread cache needs from the heap around it: the central list for a
/// span class on the cache's node, and the span source behind it. The heap
/// implements it with a small value pointing at its state, so calls specialise.
public protocol CentralDirectory {
    associatedtype Source: SpanSource
    /// The central list of `spanClass` on `node`.
    func central(_ spanClass: SpanClass, node: Int32) -> UnsafeMutablePointer<CentralList>
    /// The span source for `node`.
    func source(node: Int32) -> Source
    /// The sentinel span with no free objects that empty cache slots point at.
    var emptySpan: SpanRef { get }
}

extension ThreadCache {
    /// The slow path of a small allocation (Go's `mcache.nextFree` + `refill`):
    /// the address of a free object of `spanClass`, after sweeping the current
    /// span's frees or swapping it for another span from the central list. Nil
    /// when the heap cannot grow.
    @inlinable
    public static func nextFree<Directory: CentralDirectory>(_ cache: UnsafeMutablePointer<ThreadCache>,
                                                             _ spanClass: SpanClass, directory: Directory) -> UInt? {
        let spans = cache.pointee.spans
        let slot = spanClass.index
        var span = spans[slot]
        let empty = directory.emptySpan
        if span != empty {
            let index = span.pointee.nextFreeIndex()
            if index < span.pointee.nelems { return span.pointee.objectAddress(index) }
            // Exhausted: objects freed since the last sweep make it useful again.
            if span.pointee.sweepFrees() > 0 {
                let again = span.pointee.nextFreeIndex()
                if again < span.pointee.nelems { return span.pointee.objectAddress(again) }
            }
            let home = span.pointee.node
            directory.central(spanClass, node: home).pointee.uncacheSpan(span, source: directory.source(node: home))
            spans[slot] = empty
        }
        let node = cache.pointee.node
        guard let fresh = directory.central(spanClass, node: node).pointee
            .cacheSpan(owner: UInt(bitPattern: cache), source: directory.source(node: node)) else { return nil }
        spans[slot] = fresh
        span = fresh
        let index = span.pointee.nextFreeIndex()
        if _slowPath(index >= span.pointee.nelems) {
            FatalMessage("Central: span ").hex(UnsafeRawPointer(span)).text(" of class ")
                .decimal(spanClass.sizeClass).text(" handed out with no free object").crash()
        }
        return span.pointee.objectAddress(index)
    }

    /// Returns every cached span to its central list (Go's `mcache.releaseAll`):
    /// on thread exit, when the thread moves to another node, and on demand.
    @inlinable
    public static func flush<Directory: CentralDirectory>(_ cache: UnsafeMutablePointer<ThreadCache>,
                                                          directory: Directory) {
        let empty = directory.emptySpan
        let spans = cache.pointee.spans
        for slot in 0..<cache.pointee.spanClassCount {
            let span = spans[slot]
            if span == empty { continue }
            spans[slot] = empty
            directory.central(span.pointee.spanClass, node: span.pointee.node).pointee
                .uncacheSpan(span, source: directory.source(node: span.pointee.node))
        }
    }
}
