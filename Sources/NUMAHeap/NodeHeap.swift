import ArenaMap
import Central
import PageAlloc
import Platform
import SpanCore

/// The page heap of one NUMA node (Go's `mheap`, one per node): its page
/// allocator, span records, the unused tail of its current arena, and its
/// central lists.
///
/// ## Lock rule
/// `lock` (Go's `mheap.lock`) protects `pages`, `spanRecords`, `arenaCursor`
/// and the page counters. It may be taken while holding a central list's lock
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

    /// The out-of-line fields (one mapping per node; see `init`).
    let _pages: UnsafeMutablePointer<PageAllocator>
    let _spanRecords: UnsafeMutablePointer<SpanRecordAllocator>
    let _counters: UnsafeMutablePointer<NodeCounters>
    let _mapping: UnsafeMutableRawPointer
    static var mappingBytes: Int { 4096 }

    /// Free and allocated pages of this node's arenas. Under `lock`.
    var pages: PageAllocator {
        unsafeAddress { UnsafePointer(_pages) }
        nonmutating unsafeMutableAddress { _pages }
    }
    /// Span records of this node's spans. Under `lock`.
    var spanRecords: SpanRecordAllocator {
        unsafeAddress { UnsafePointer(_spanRecords) }
        nonmutating unsafeMutableAddress { _spanRecords }
    }
    /// The reserved, not yet committed, remainder of the arena range last
    /// reserved for this node (Go's `mheap.curArena`). Under `lock`.
    var arenaCursor: ArenaCursor {
        unsafeAddress { UnsafePointer(_counters.pointer(to: \.arenaCursor)!) }
        nonmutating unsafeMutableAddress { _counters.pointer(to: \.arenaCursor)! }
    }
    /// Bytes committed for heap pages (Go's `HeapSys`). Under `lock`.
    var committedBytes: Int {
        unsafeAddress { UnsafePointer(_counters.pointer(to: \.committedBytes)!) }
        nonmutating unsafeMutableAddress { _counters.pointer(to: \.committedBytes)! }
    }
    /// Pages in in-use spans (Go's `pagesInUse`). Under `lock`.
    var pagesInUse: Int {
        unsafeAddress { UnsafePointer(_counters.pointer(to: \.pagesInUse)!) }
        nonmutating unsafeMutableAddress { _counters.pointer(to: \.pagesInUse)! }
    }
    /// Spans currently in use. Under `lock`.
    var spansInUse: Int {
        unsafeAddress { UnsafePointer(_counters.pointer(to: \.spansInUse)!) }
        nonmutating unsafeMutableAddress { _counters.pointer(to: \.spansInUse)! }
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
        precondition(countersOffset + MemoryLayout<NodeCounters>.stride <= NodeHeap.mappingBytes)
        _pages = (block + pagesOffset).bindMemory(to: PageAllocator.self, capacity: 1)
        _pages.initialize(to: PageAllocator(pageSize: pageSize))
        _spanRecords = (block + recordsOffset).bindMemory(to: SpanRecordAllocator.self, capacity: 1)
        _spanRecords.initialize(to: SpanRecordAllocator())
        _counters = (block + countersOffset).bindMemory(to: NodeCounters.self, capacity: 1)
        _counters.initialize(to: NodeCounters())
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
    var pagesInUse = 0
    var spansInUse = 0
}
