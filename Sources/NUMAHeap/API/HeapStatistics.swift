import Central
import PageAlloc
import Platform
import SpanCore
import Synchronization

/// A snapshot of a heap's memory, after Go's `runtime.MemStats`.
///
/// Object counts come from per-thread counters read without stopping the
/// threads: exact when no thread is allocating, approximate (by the operations
/// in flight) otherwise. Page figures are read under each node's lock.
public struct HeapStatistics: Sendable, Equatable {
    /// One size class's objects.
    public struct SizeClass: Sendable, Equatable {
        /// Object size of the class.
        public var size: Int
        /// Objects allocated over the heap's life (Go's `BySize[i].Mallocs`).
        public var mallocs: Int
        /// Objects freed (Go's `BySize[i].Frees`).
        public var frees: Int
        /// Objects allocated now.
        public var liveObjects: Int { mallocs - frees }
        /// Bytes of live objects (object size × live objects).
        public var liveBytes: Int { size * liveObjects }
    }

    /// One NUMA node's pages.
    public struct Node: Sendable, Equatable {
        /// The node's number (as the kernel numbers it).
        public var id: Int
        /// Bytes of arena memory committed (Go's `HeapSys`, per node).
        public var mappedBytes: Int
        /// Bytes in spans in use (Go's `HeapInuse`).
        public var inUseBytes: Int
        /// Bytes of free pages still backed by memory (Go's `HeapIdle − HeapReleased`).
        public var idleBytes: Int
        /// Bytes of free pages returned to the system (Go's `HeapReleased`).
        public var releasedBytes: Int
        /// Spans in use.
        public var spans: Int
        /// Arena reservations the kernel refused to bind to this node with
        /// `mbind` (their pages were placed by the kernel's default policy).
        public var bindFailures: Int = 0
        /// Thread caches that moved to this node because their thread began
        /// running on one of its CPUs (``HeapConfiguration/NUMAPolicy/automatic``).
        public var cachesMovedIn: Int = 0
        /// Acquisitions of the node's lock (Go's `mheap.lock`: page allocator,
        /// span records) since the heap was made, by threads and the scavenger.
        public var lockAcquisitions: Int = 0
        /// Of those, acquisitions that found the lock held (the thread spun or
        /// slept before it got it).
        public var contendedLockAcquisitions: Int = 0
        /// Acquisitions of the node's central-list locks (Go's `mcentral.lock`),
        /// all span classes together, and the contended ones among them.
        public var centralLockAcquisitions: Int = 0
        public var contendedCentralLockAcquisitions: Int = 0
        /// Bytes of freed large spans the node's threads share now
        /// (`NodeLargeSpans`; counted in ``inUseBytes`` until they go back).
        public var sharedLargeSpanBytes: Int = 0
    }

    /// Per size class, index = size class (class 0, large objects, has size 0).
    public var sizeClasses: [SizeClass]
    /// Per NUMA node.
    public var nodes: [Node]
    /// Large objects (a span each) allocated and freed over the heap's life.
    public var largeMallocs: Int
    public var largeFrees: Int
    /// Bytes of live large objects (whole pages).
    public var largeLiveBytes: Int
    /// Bytes of the heap's own metadata mappings (state, span records, thread caches).
    public var metadataBytes: Int

    /// What the scavenger has done over the heap's life.
    public struct Scavenger: Sendable, Equatable {
        /// Bytes returned to the system with `madvise` (background worker,
        /// growth and memory limit, ``Heap/releaseFreeMemory()``). Pages used
        /// again and released again count again; ``HeapStatistics/releasedBytes``
        /// is what is released now.
        public var releasedBytesTotal = 0
        /// Of those, released inline when the heap grew (goal or memory limit).
        public var releasedOnGrowthBytes = 0
        /// Of those, released by the background worker.
        public var releasedInBackgroundBytes = 0
        /// CPU time of the background worker's thread, from its own
        /// `CLOCK_THREAD_CPUTIME_ID`.
        public var cpuNanoseconds = 0
        /// Background cycles (the worker left the goal and released memory) and
        /// steps (releases of up to one quantum, 2 MiB).
        public var cycles = 0
        public var steps = 0
        /// Whether the worker's thread runs now (started by the first growth).
        public var isRunning = false
        /// `madvise` calls the kernel refused (those pages stayed backed).
        public var releaseFailures = 0
        public init() {}
    }
    public var scavenger = Scavenger()

    /// Bytes of arena memory committed, all nodes.
    public var mappedBytes: Int { nodes.reduce(0) { $0 + $1.mappedBytes } }
    /// Bytes in spans in use, all nodes.
    public var inUseBytes: Int { nodes.reduce(0) { $0 + $1.inUseBytes } }
    /// Free bytes still backed by memory, all nodes.
    public var idleBytes: Int { nodes.reduce(0) { $0 + $1.idleBytes } }
    /// Free bytes returned to the system, all nodes.
    public var releasedBytes: Int { nodes.reduce(0) { $0 + $1.releasedBytes } }
    /// Live objects, small and large (Go's `HeapObjects`).
    public var liveObjects: Int {
        sizeClasses.dropFirst().reduce(0) { $0 + $1.liveObjects } + largeMallocs - largeFrees
    }
    /// Bytes of live objects at their class sizes, small and large (Go's `HeapAlloc`).
    public var liveBytes: Int { sizeClasses.dropFirst().reduce(0) { $0 + $1.liveBytes } + largeLiveBytes }
    /// Objects allocated over the heap's life.
    public var mallocs: Int { sizeClasses.dropFirst().reduce(0) { $0 + $1.mallocs } + largeMallocs }
    /// Objects freed over the heap's life.
    public var frees: Int { sizeClasses.dropFirst().reduce(0) { $0 + $1.frees } + largeFrees }
}

extension HeapCore {
    /// Calls `perClass` with every size class's malloc and free counts, `large`
    /// with large-object bytes allocated and freed, from the counters of exited
    /// threads and of every live cache, and `metadata` once with the bytes of the
    /// heap's state and cache records — all under the cache lock, allocating
    /// nothing (the malloc library's exit summary uses it too).
    func visitCounters(_ perClass: (Int, Int, Int) -> Void, large: (Int, Int) -> Void, metadata: (Int) -> Void) {
        let s = state
        let n = s.pointee.sizeClassCount
        let counters = s.pointee.retiredCounters
        let fields = s.pointee.cacheFields
        s.pointee.cacheLock.lock()
        for c in 0..<n { perClass(c, counters[c], counters[n + c]) }
        large(fields.pointee.retiredLargeBytesAllocated, fields.pointee.retiredLargeBytesFreed)
        var link = fields.pointee.allCaches
        while let cache = link {
            if !cache.pointee.retired {
                let mallocs = cache.pointee.mallocs, frees = cache.pointee.frees
                for c in 0..<n { perClass(c, mallocs[c].load(ordering: .relaxed), frees[c].load(ordering: .relaxed)) }
                large(cache.pointee.largeBytesAllocated.pointee.load(ordering: .relaxed),
                      cache.pointee.largeBytesFreed.pointee.load(ordering: .relaxed))
            }
            link = cache.pointee.nextCache?.assumingMemoryBound(to: ThreadCache.self)
        }
        metadata(s.pointee.mappingBytes + fields.pointee.cacheMappedBytes)
        s.pointee.cacheLock.unlock()
    }

    /// A snapshot of the heap's statistics.
    public var statistics: HeapStatistics {
        let s = state
        let n = s.pointee.sizeClassCount
        var mallocs = [Int](repeating: 0, count: n)
        var frees = [Int](repeating: 0, count: n)
        var largeAllocated = 0
        var largeFreed = 0
        var metadata = 0
        visitCounters { sizeClass, m, f in
            mallocs[sizeClass] += m
            frees[sizeClass] += f
        } large: { allocated, freed in
            largeAllocated += allocated
            largeFreed += freed
        } metadata: { metadata = $0 }

        var nodes: [HeapStatistics.Node] = []
        nodes.reserveCapacity(s.pointee.nodeCount)
        var spanRecordBytes = 0
        var scavenger = HeapStatistics.Scavenger()
        let sc = ScavengerState.of(s)
        for i in 0..<s.pointee.nodeCount {
            let f = s.pointee.nodes[i].figures(pageSize: s.pointee.pageSize) {
                guard let sc else { return }
                scavenger.releasedBytesTotal += sc.pointee.nodes[i].releasedBytes
                scavenger.releasedOnGrowthBytes += sc.pointee.nodes[i].inlineReleasedBytes
                scavenger.releaseFailures += sc.pointee.nodes[i].releaseFailures
            }
            spanRecordBytes += f.spanRecordBytes
            let central = s.pointee.nodes[i].centralLockCounts(spanClassCount: s.pointee.spanClassCount)
            // Nodes the heap never used and cannot use (no memory) are left
            // out; decided from the figures read under the node's lock.
            let used = s.pointee.placement.hasMemory(i) || f.committedBytes > 0 || s.pointee.nodeCount == 1
            if !used { continue }
            nodes.append(HeapStatistics.Node(   // after unlocking: appending may allocate
                id: i, mappedBytes: f.committedBytes, inUseBytes: f.inUseBytes,
                idleBytes: f.freeBytes - f.releasedBytes, releasedBytes: f.releasedBytes, spans: f.spans,
                bindFailures: s.pointee.nodes[i].bindFailures, cachesMovedIn: s.pointee.nodes[i].cachesMovedIn,
                lockAcquisitions: s.pointee.nodes[i].lock.acquisitions,
                contendedLockAcquisitions: s.pointee.nodes[i].lock.contendedAcquisitions,
                centralLockAcquisitions: central.acquisitions, contendedCentralLockAcquisitions: central.contended,
                sharedLargeSpanBytes: s.pointee.nodes[i].largeSpans.bytes))
        }
        var scavengerMetadata = 0
        if let sc {
            scavengerMetadata = sc.pointee.mappingBytes
            if let worker = sc.pointee.worker {
                let w = worker.statistics
                scavenger.cpuNanoseconds = w.cpuNanoseconds
                scavenger.cycles = w.cycles
                scavenger.steps = w.steps
                scavenger.isRunning = w.isRunning
                scavenger.releasedInBackgroundBytes = w.releasedBytes
                scavengerMetadata += 4096
            }
        }
        let classes = (0..<n).map { c in
            HeapStatistics.SizeClass(size: c == 0 ? 0 : SizeClasses.size(ofClass: c), mallocs: mallocs[c], frees: frees[c])
        }
        return HeapStatistics(sizeClasses: classes, nodes: nodes, largeMallocs: mallocs[0], largeFrees: frees[0],
                              largeLiveBytes: largeAllocated - largeFreed,
                              metadataBytes: metadata + spanRecordBytes + scavengerMetadata, scavenger: scavenger)
    }
}
