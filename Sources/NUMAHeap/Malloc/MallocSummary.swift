import Central
import Glibc
import Platform

// What the malloc library (Sources/NUMAHeapMalloc) asks of the heap beyond
// HeapCore's allocation API: a cheap "is this address ours" test for
// reporting foreign frees in glibc's words, and a summary of the figures it
// prints at exit computed without allocating (``HeapCore/statistics``
// builds Swift arrays, and appends to one while holding a node's lock —
// which would re-enter the malloc library under that lock).

extension HeapCore {
    /// True when `pointer` lies in a page of this heap's arenas that belongs to
    /// some span (one lock-free arena-map lookup; no liveness check — that is
    /// ``deallocate(_:)``'s job). False for memory this heap never mapped.
    @inline(__always)
    public func mapsAddress(_ pointer: UnsafeRawPointer) -> Bool {
        state.pointee.arenas.spanOf(UInt(bitPattern: pointer)) != nil
    }

    /// The malloc library's exit summary, computed without allocating.
    public struct MallocSummary: Sendable {
        /// Blocks allocated and freed, all threads, exited ones included.
        public var mallocs = 0
        public var frees = 0
        /// Bytes of arena memory committed, in in-use spans (less the freed
        /// large spans the nodes' threads share for reuse: the blocks a
        /// program holds), and released to the system.
        public var committedBytes = 0
        public var inUseBytes = 0
        public var releasedBytes = 0
        /// Metadata mapped by the heap (state, cache records, span records).
        public var metadataBytes = 0
        public var spans = 0
        public var threadCaches = 0
        /// Node-lock and central-list-lock acquisitions, all nodes, and the
        /// contended ones (see ``HeapStatistics/Node``).
        public var nodeLockAcquisitions = 0
        public var contendedNodeLockAcquisitions = 0
        public var centralLockAcquisitions = 0
        public var contendedCentralLockAcquisitions = 0
    }

    /// Figures like ``statistics``' but summed, with no Swift allocation: the
    /// cache lock, then each node's lock, one at a time.
    public var mallocSummary: MallocSummary {
        var r = MallocSummary()
        let s = state
        visitCounters { _, m, f in
            r.mallocs += m
            r.frees += f
        } large: { _, _ in
        } metadata: { r.metadataBytes = $0 }
        s.pointee.cacheLock.lock()
        var link = s.pointee.cacheFields.pointee.allCaches
        while let cache = link {
            r.threadCaches += 1
            link = cache.pointee.nextCache?.assumingMemoryBound(to: ThreadCache.self)
        }
        s.pointee.cacheLock.unlock()
        for i in 0..<s.pointee.nodeCount {
            let f = s.pointee.nodes[i].figures(pageSize: s.pointee.pageSize)
            r.committedBytes += f.committedBytes
            r.inUseBytes += max(0, f.inUseBytes - s.pointee.nodes[i].largeSpans.bytes)
            r.releasedBytes += f.releasedBytes
            r.spans += f.spans
            r.metadataBytes += f.spanRecordBytes
            r.nodeLockAcquisitions += s.pointee.nodes[i].lock.acquisitions
            r.contendedNodeLockAcquisitions += s.pointee.nodes[i].lock.contendedAcquisitions
            let central = s.pointee.nodes[i].centralLockCounts(spanClassCount: s.pointee.spanClassCount)
            r.centralLockAcquisitions += central.acquisitions
            r.contendedCentralLockAcquisitions += central.contended
        }
        return r
    }
}
