import ArenaMap
import Central
import PageAlloc
import Platform
import SpanCore
import Synchronization

/// The page heap of one NUMA node (Go's `mheap`, one per node): its page
/// allocator, span records, the unused tail of its current arena, and its
/// central lists.
///
/// ## Lock rule
/// `lock` (Go's `mheap.lock`) protects what `_pages` (the page allocator),
/// `_spanRecords` (the span-record pool) and `_counters` (the arena cursor and
/// the committed bytes) point at. `_inUse` and `largeSpans` are atomic and
/// need no lock. It may be taken while holding a central list's lock
/// (lock order: central → node → arena), never the other way round, and it is
/// never held while calling out of the heap. The central lists have their own
/// locks (see ``CentralList``).
///
/// The mutable fields live out of line (in memory the node maps) and are
/// reached through `nonmutating` addressors, so writing one never claims the
/// `NodeHeap` as a whole while other threads read its `let` fields: the only
/// accesses that overlap in time are reads.
struct NodeHeap: ~Copyable {
    let lock: RawLock
    /// NUMA node number.
    let node: Int32
    /// Central lists, one per span class.
    let central: UnsafeMutablePointer<CentralList>

    /// The out-of-line fields (one mapping per node; see `init`): the page
    /// allocator, the span records, and the arena cursor with the committed
    /// bytes, all under `lock`; the in-use figures, atomic. Writes go through
    /// these pointers, never through an lvalue rooted at the `NodeHeap`.
    let _pages: UnsafeMutablePointer<PageAllocator>
    let _spanRecords: UnsafeMutablePointer<SpanRecordAllocator>
    let _counters: UnsafeMutablePointer<NodeCounters>
    /// Spans and pages in use: atomic, since threads make small spans from their
    /// own page caches without the lock (``ThreadSpanStash``).
    let _inUse: UnsafeMutablePointer<NodeInUse>
    /// Freed large spans shared by the node's threads: lock-free (see the type).
    let largeSpans: NodeLargeSpans
    let _mapping: UnsafeMutableRawPointer
    static var mappingBytes: Int { 4096 }

    /// Pages in in-use spans (Go's `pagesInUse`). Atomic.
    var pagesInUse: Int { _inUse.pointee.pages.load(ordering: .relaxed) }
    /// Spans currently in use. Atomic.
    var spansInUse: Int { _inUse.pointee.spans.load(ordering: .relaxed) }

    /// The node's page figures, read under its lock; `alsoUnderLock` runs
    /// before the lock is released (for figures the same lock guards elsewhere).
    /// Allocates nothing (the malloc library's exit summary uses it).
    func figures(pageSize: Int, alsoUnderLock: () -> Void = {}) -> NodeFigures {
        lock.lock()
        defer { lock.unlock() }
        alsoUnderLock()
        return NodeFigures(committedBytes: _counters.pointee.committedBytes,
                           inUseBytes: pagesInUse * pageSize,
                           freeBytes: _pages.pointee.freePages * pageSize,
                           releasedBytes: _pages.pointee.scavengedPages * pageSize,
                           spans: spansInUse,
                           spanRecordBytes: _spanRecords.pointee.mappedBytes)
    }

    /// Acquisitions of the node's central-list locks, all classes, and the
    /// contended ones (relaxed reads of each lock's counters).
    func centralLockCounts(spanClassCount: Int) -> (acquisitions: Int, contended: Int) {
        var total = (acquisitions: 0, contended: 0)
        for c in 0..<spanClassCount {
            total.acquisitions += central[c].lock.acquisitions
            total.contended += central[c].lock.contendedAcquisitions
        }
        return total
    }

    /// Bytes the node's shared large-span stacks may hold now: by the bytes
    /// in use less the stacks' own (``NodeLargeSpans/limit(inUseBytes:)``).
    func sharedLargeSpanLimit(pageSize: Int) -> Int {
        NodeLargeSpans.limit(inUseBytes: max(0, pagesInUse * pageSize - largeSpans.bytes))
    }

    func noteBindFailure() { _inUse.pointee.bindFailures.add(1, ordering: .relaxed) }
    func noteCacheMovedIn() { _inUse.pointee.cachesMovedIn.add(1, ordering: .relaxed) }
    var bindFailures: Int { _inUse.pointee.bindFailures.load(ordering: .relaxed) }
    var cachesMovedIn: Int { _inUse.pointee.cachesMovedIn.load(ordering: .relaxed) }

    /// Counts a span of `pages` pages that went into (positive) or out of use.
    func noteSpanInUse(pages: Int) {
        let now = _inUse.pointee.pages.add(pages, ordering: .relaxed).newValue
        _inUse.pointee.spans.add(pages > 0 ? 1 : -1, ordering: .relaxed)
        if pages < 0 { noteLowWater(now) } else { noteHighWater(now) }
    }

    /// Raises the high-water mark to `pages` if it is higher (a load and a
    /// compare unless it is a new high).
    func noteHighWater(_ pages: Int) {
        var high = _inUse.pointee.highWaterPages.load(ordering: .relaxed)
        while pages > high {
            let (exchanged, original) = _inUse.pointee.highWaterPages.compareExchange(
                expected: high, desired: pages, ordering: .relaxed)
            if exchanged { break }
            high = original
        }
    }

    /// The most pages in use since the last call (the scavenger's look at
    /// its goal), and the mark restarted from the pages in use now.
    func takeHighWaterPages() -> Int {
        let high = _inUse.pointee.highWaterPages.exchange(pagesInUse, ordering: .relaxed)
        return max(high, pagesInUse)
    }

    /// Lowers the low-water mark to `pages` if it is lower (a load and a
    /// compare unless it is a new low).
    func noteLowWater(_ pages: Int) {
        var low = _inUse.pointee.lowWaterPages.load(ordering: .relaxed)
        while pages < low {
            let (exchanged, original) = _inUse.pointee.lowWaterPages.compareExchange(
                expected: low, desired: pages, ordering: .relaxed)
            if exchanged { break }
            low = original
        }
    }

    /// The fewest pages in use since the last call (the background worker's
    /// look), and the mark restarted from the pages in use now.
    func takeLowWaterPages() -> Int {
        let low = _inUse.pointee.lowWaterPages.exchange(pagesInUse, ordering: .relaxed)
        return min(low, pagesInUse)
    }

    /// An in-use span grew in place by `pages` pages (no new span).
    func noteSpanGrew(pages: Int) {
        noteHighWater(_inUse.pointee.pages.add(pages, ordering: .relaxed).newValue)
    }

    init(node: Int32, pageSize: Int, lockStorage: UnsafeMutableRawPointer, central: UnsafeMutablePointer<CentralList>) {
        lock = RawLock(initializingAt: lockStorage)
        self.node = node
        self.central = central
        guard case .success(let block) = SystemMemory.mapAnonymous(bytes: NodeHeap.mappingBytes) else {
            FatalMessage("NUMAHeap: cannot map the state of node ").decimal(Int(node)).crash()
        }
        _mapping = block
        let pagesOffset = 0
        let recordsOffset = (MemoryLayout<PageAllocator>.stride + 63) & ~63
        let countersOffset = recordsOffset + ((MemoryLayout<SpanRecordAllocator>.stride + 63) & ~63)
        let inUseOffset = countersOffset + ((MemoryLayout<NodeCounters>.stride + 63) & ~63)
        let largeSpansOffset = inUseOffset + ((MemoryLayout<NodeInUse>.stride + 63) & ~63)
        precondition(largeSpansOffset + NodeLargeSpans.byteCount <= NodeHeap.mappingBytes)
        _pages = (block + pagesOffset).bindMemory(to: PageAllocator.self, capacity: 1)
        _pages.initialize(to: PageAllocator(pageSize: pageSize))
        _spanRecords = (block + recordsOffset).bindMemory(to: SpanRecordAllocator.self, capacity: 1)
        _spanRecords.initialize(to: SpanRecordAllocator())
        _counters = (block + countersOffset).bindMemory(to: NodeCounters.self, capacity: 1)
        _counters.initialize(to: NodeCounters())
        _inUse = (block + inUseOffset).bindMemory(to: NodeInUse.self, capacity: 1)
        _inUse.initialize(to: NodeInUse())
        largeSpans = NodeLargeSpans.initialize(at: block + largeSpansOffset)
    }

    deinit {
        _pages.deinitialize(count: 1)
        _spanRecords.deinitialize(count: 1)
        _ = SystemMemory.unmap(_mapping, bytes: NodeHeap.mappingBytes)
    }
}

/// A node's plain counters and arena cursor (see ``NodeHeap``). Under the node's lock.
struct NodeCounters {
    var arenaCursor = ArenaCursor()
    var committedBytes = 0
}

/// A snapshot of a node's pages (see ``NodeHeap/figures(pageSize:alsoUnderLock:)``).
struct NodeFigures {
    var committedBytes: Int
    var inUseBytes: Int
    /// Free pages, released or not.
    var freeBytes: Int
    var releasedBytes: Int
    var spans: Int
    var spanRecordBytes: Int
}

/// A node's in-use figures and placement events, updated atomically (see ``NodeHeap``).
struct NodeInUse: ~Copyable {
    let pages = Atomic<Int>(0)
    let spans = Atomic<Int>(0)
    /// The fewest pages in use since the background worker last looked
    /// (``NodeHeap/takeLowWaterPages()``): its shrink credit must see the
    /// troughs of churn it samples too rarely to catch.
    let lowWaterPages = Atomic<Int>(0)
    /// The most pages in use since the scavenger last read its goal figures
    /// (``NodeHeap/takeHighWaterPages()``): the goal follows the peaks of
    /// churn (``PeakWindow``), which its looks sample too rarely to catch.
    let highWaterPages = Atomic<Int>(0)
    /// Arena reservations whose `mbind` the kernel refused (used unbound).
    let bindFailures = Atomic<Int>(0)
    /// Thread caches that moved to this node because their thread now runs on one of its CPUs.
    let cachesMovedIn = Atomic<Int>(0)
}
