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
struct NodeHeap: ~Copyable {
    let lock: RawLock
    /// NUMA node number.
    let node: Int32
    /// Free and allocated pages of this node's arenas.
    var pages: PageAllocator
    /// Span records of this node's spans.
    var spanRecords: SpanRecordAllocator
    /// The reserved, not yet committed, remainder of the arena range last
    /// reserved for this node (Go's `mheap.curArena`).
    var arenaCursor = ArenaCursor()
    /// Bytes committed for heap pages (Go's `HeapSys` minus what was never mapped).
    var committedBytes: Int = 0
    /// Pages in in-use spans (Go's `pagesInUse`).
    var pagesInUse: Int = 0
    /// Spans currently in use.
    var spansInUse: Int = 0
    /// Central lists, one per span class.
    let central: UnsafeMutablePointer<CentralList>

    init(node: Int32, pageSize: Int, lockStorage: UnsafeMutableRawPointer, central: UnsafeMutablePointer<CentralList>) {
        lock = RawLock(initializingAt: lockStorage)
        self.node = node
        pages = PageAllocator(pageSize: pageSize)
        spanRecords = SpanRecordAllocator()
        self.central = central
    }
}
