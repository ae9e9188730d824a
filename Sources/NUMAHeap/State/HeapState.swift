import ArenaMap
import Central
import PageAlloc
import Platform
import SpanCore
import Synchronization

/// Everything a ``Heap`` owns, in one mapping of its own (never the Swift heap):
/// the arena map shared by all nodes, the per-node page heaps and central lists,
/// the thread-cache records, and the counters of retired caches.
///
/// ## Locks (acquire in this order; never the reverse)
/// 1. a central list's lock (``CentralList``)
/// 2. a node's lock (``NodeHeap``)
/// 3. `arenaLock`: protects `arenas`' writers that are not node-local (reserving
///    arenas, the hint list); span-map and page-bitmap writes for a node's pages
///    are made under that node's lock, reads need no lock.
/// `cacheLock` protects the cache pool, the list of all caches and the retired
/// counters; it is taken alone, or inside the registry lock (``HeapRegistry``).
package struct HeapState: ~Copyable {
    /// Never reused by another heap in this process.
    let id: UInt
    let configuration: HeapConfiguration
    let pageSize: Int
    let spanClassCount: Int
    let sizeClassCount: Int

    package let arenas: ArenaMap<SystemAddressSpace>
    let arenaLock: RawLock

    let nodeCount: Int
    let nodes: UnsafeMutablePointer<NodeHeap>
    /// Which node a thread allocates from, and how arenas are bound (``NodePlacement``).
    let placement: NodePlacement
    /// Span with no objects that empty cache slots point at (Go's `emptymspan`).
    let emptySpan: SpanRef

    /// The size → size-class lookup (SpanCore's ``SizeClassLookup``), filled
    /// from SpanCore's tables at creation in this mapping, so the allocation
    /// fast path reads one byte through a pointer it already holds.
    let sizeClassLookup: SizeClassLookup
    /// The key of the free mark and of the bins' encoded links
    /// (``ThreadObjectCache``): random per heap, odd.
    let objectKey: FreeListKeys
    /// Blocks a thread's bin may hold, per size class (``ThreadObjectCache/limit(sizeClass:checks:)``).
    let objectLimits: UnsafeMutablePointer<Int32>

    let cacheLock: RawLock
    /// Counters folded in from retired caches: mallocs then frees per size class. Under `cacheLock`.
    let retiredCounters: UnsafeMutablePointer<Int>

    /// The fields the cache lock guards, out of line (see ``HeapCacheFields``).
    let cacheFields: UnsafeMutablePointer<HeapCacheFields>
    /// Link in ``HeapRegistry/liveHeaps``. Registry lock. Its own cache line,
    /// apart from ``cacheFields``: a field written under one lock never shares
    /// a Swift variable with a field read under another (ThreadSanitizer checks
    /// an access to `pointer.pointee.field` as an access to all of `pointee`).
    let registryLink: UnsafeMutablePointer<UnsafeMutablePointer<HeapState>?>
    /// The scavenger's per-heap state (owned by the scavenger's files). Written
    /// once while the heap is created (after it is registered, but before its
    /// creator returns it to anyone who could allocate from it) and when it is
    /// destroyed, after every thread is done with it; read without a lock.
    let scavengerSlot: UnsafeMutablePointer<UnsafeMutableRawPointer?>

    /// The mapping holding this struct and its arrays.
    let mappingBase: UnsafeMutableRawPointer
    let mappingBytes: Int
}

/// The fields of a ``HeapState`` written under its cache lock after creation.
/// They live out of line and are written through the ``HeapState/cacheFields``
/// pointer, so that writing one never claims the whole `HeapState`, which every
/// allocating thread reads at the same time. Every field here is the cache
/// lock's: fields under another rule get a pointer of their own.
struct HeapCacheFields {
    /// Every cache record of this heap, live or retired (`nextCache` links). Cache lock.
    var allCaches: UnsafeMutablePointer<ThreadCache>? = nil
    /// Retired records ready for reuse (`nextInThread` links while retired). Cache lock.
    var retiredCaches: UnsafeMutablePointer<ThreadCache>? = nil
    /// Bump region for new cache records. Cache lock.
    var cacheBumpNext: UInt = 0
    var cacheBumpEnd: UInt = 0
    var cacheMappedBytes = 0
    /// The malloc library's provider of a thread's guard and reclaim flags
    /// (``HeapCore/enableCacheReclaim(threadGuards:)``), set before the heap is
    /// shared; nil for every other heap.
    var threadGuards: ThreadHeldMemory.GuardProvider? = nil
    /// Whether the process could register for membarrier when the heap was
    /// made: then the owners' held-memory claims take no locked instruction
    /// (``ThreadHeldMemory``). Written once at creation.
    var asymmetricClaims = false
    /// Large-object bytes of retired caches. Cache lock.
    var retiredLargeBytesAllocated = 0
    var retiredLargeBytesFreed = 0
}

extension HeapState {
    /// Maps and initialises a heap's state. Nil when memory cannot be mapped.
    static func create(configuration: HeapConfiguration, placement: NodePlacement) -> UnsafeMutablePointer<HeapState>? {
        let nodeCount = placement.nodeCount
        let pageSize = SizeClasses.pageSize
        let sizeClassCount = SizeClasses.count
        let spanClassCount = SpanClass.count(sizeClasses: sizeClassCount)
        func round(_ n: Int) -> Int { (n + 63) & ~63 }
        let lockBytes = round(RawLock.byteCount)
        var layout = 0
        let stateOffset = layout; layout += round(MemoryLayout<HeapState>.stride)
        let nodesOffset = layout; layout += round(MemoryLayout<NodeHeap>.stride * nodeCount)
        let centralOffset = layout; layout += round(MemoryLayout<CentralList>.stride * spanClassCount * nodeCount)
        let centralStorageOffset = layout; layout += CentralList.storageBytes * spanClassCount * nodeCount
        let locksOffset = layout; layout += lockBytes * (nodeCount + 2)
        let emptyOffset = layout; layout += round(MemoryLayout<Span>.stride) + 3 * 8
        let countersOffset = layout; layout += round(8 * 2 * sizeClassCount)
        let cacheFieldsOffset = layout; layout += round(MemoryLayout<HeapCacheFields>.stride)
        let registryLinkOffset = layout; layout += 64
        let scavengerSlotOffset = layout; layout += 64
        let lookupOffset = layout; layout += round(SizeClassLookup.byteCount)
        let limitsOffset = layout; layout += round(4 * sizeClassCount)
        let bytes = (layout + SystemMemory.physicalPageSize - 1) & ~(SystemMemory.physicalPageSize - 1)
        guard case .success(let base) = SystemMemory.mapAnonymous(bytes: bytes) else { return nil }
        let arenas: ArenaMap<SystemAddressSpace>
        do {
            arenas = try ArenaMap(space: SystemAddressSpace(), pageSize: pageSize,
                                  addressSpaceLimit: configuration.addressSpaceLimit ?? Int.max)
        } catch {
            _ = SystemMemory.unmap(base, bytes: bytes)
            return nil
        }

        var nextLock = base + locksOffset
        func lockStorage() -> UnsafeMutableRawPointer { defer { nextLock += lockBytes }; return nextLock }

        let centrals = (base + centralOffset).bindMemory(to: CentralList.self, capacity: spanClassCount * nodeCount)
        var nextCentralStorage = base + centralStorageOffset
        let nodes = (base + nodesOffset).bindMemory(to: NodeHeap.self, capacity: nodeCount)
        for n in 0..<nodeCount {
            let mine = centrals + n * spanClassCount
            for c in 0..<spanClassCount {
                let spanClass = SpanClass(rawValue: UInt8(c))
                let pages = spanClass.sizeClass == 0 ? 0 : SizeClasses.pages(ofClass: spanClass.sizeClass)
                (mine + c).initialize(to: CentralList(spanClass: spanClass, pagesPerSpan: pages, storage: nextCentralStorage))
                nextCentralStorage += CentralList.storageBytes
            }
            (nodes + n).initialize(to: NodeHeap(node: Int32(n), pageSize: pageSize, lockStorage: lockStorage(), central: mine))
        }
        precondition(MemoryLayout<ThreadSpanStash>.size <= ThreadLargeSpans.scratchOffset
                        && ThreadLargeSpans.scratchOffset + MemoryLayout<ThreadLargeSpans>.size <= ThreadHeldMemory.scratchOffset
                        && ThreadHeldMemory.scratchOffset + ThreadHeldMemory.scratchBytes <= ThreadCache.heapScratchBytes,
                     "ThreadSpanStash, ThreadLargeSpans and ThreadHeldMemory outgrew ThreadCache.heapScratch")
        let emptyRaw = base + emptyOffset
        let empty = emptyRaw.bindMemory(to: Span.self, capacity: 1)
        empty.initialize(to: Span(bitmaps: emptyRaw + round(MemoryLayout<Span>.stride), bitmapWords: 1, recordBucket: 0))

        let lookup = SizeClassLookup(initializing: base + lookupOffset)
        let limits = (base + limitsOffset).bindMemory(to: Int32.self, capacity: sizeClassCount)
        for c in 0..<sizeClassCount { limits[c] = c == 0 ? 0 : Int32(ThreadObjectCache.limit(sizeClass: c, checks: configuration.checks)) }
        let cacheFields = (base + cacheFieldsOffset).bindMemory(to: HeapCacheFields.self, capacity: 1)
        cacheFields.initialize(to: HeapCacheFields())
        cacheFields.pointee.asymmetricClaims = ProcessBarrier.register()
        let registryLink = (base + registryLinkOffset).bindMemory(to: UnsafeMutablePointer<HeapState>?.self, capacity: 1)
        registryLink.initialize(to: nil)
        let scavengerSlot = (base + scavengerSlotOffset).bindMemory(to: UnsafeMutableRawPointer?.self, capacity: 1)
        scavengerSlot.initialize(to: nil)
        let state = (base + stateOffset).bindMemory(to: HeapState.self, capacity: 1)
        state.initialize(to: HeapState(
            id: HeapRegistry.takeHeapID(),
            configuration: configuration,
            pageSize: pageSize,
            spanClassCount: spanClassCount,
            sizeClassCount: sizeClassCount,
            arenas: arenas,
            arenaLock: RawLock(initializingAt: lockStorage()),
            nodeCount: nodeCount,
            nodes: nodes,
            placement: placement,
            emptySpan: empty,
            sizeClassLookup: lookup,
            objectKey: ThreadObjectCache.makeKeys(salt: UInt(bitPattern: base)),
            objectLimits: limits,
            cacheLock: RawLock(initializingAt: lockStorage()),
            retiredCounters: (base + countersOffset).bindMemory(to: Int.self, capacity: 2 * sizeClassCount),
            cacheFields: cacheFields,
            registryLink: registryLink,
            scavengerSlot: scavengerSlot,
            mappingBase: base,
            mappingBytes: bytes))
        return state
    }

    /// Tears down a heap's state: every page, span record and cache record it
    /// mapped goes back to the system. No thread may use the heap any more.
    static func destroy(_ state: UnsafeMutablePointer<HeapState>) {
        let base = state.pointee.mappingBase
        let bytes = state.pointee.mappingBytes
        for n in 0..<state.pointee.nodeCount {
            let node = state.pointee.nodes + n
            for c in 0..<state.pointee.spanClassCount { (node.pointee.central + c).deinitialize(count: 1) }
            node.deinitialize(count: 1)
        }
        state.pointee.placement.destroy()
        state.deinitialize(count: 1)
        _ = SystemMemory.unmap(base, bytes: bytes)
    }

    // MARK: Thread caches

    /// A cache record for the calling thread, from the retired pool or new memory.
    static func newCache(_ state: UnsafeMutablePointer<HeapState>) -> UnsafeMutablePointer<ThreadCache> {
        state.pointee.cacheLock.lock()
        defer { state.pointee.cacheLock.unlock() }
        // Through a local pointer: compound assignments through the addressors
        // crash Swift 6.3.1's compiler under -sanitize=thread.
        let fields = state.pointee.cacheFields
        let node = state.pointee.placement.initialNode()
        if let reused = fields.pointee.retiredCaches {
            fields.pointee.retiredCaches = reused.pointee.nextInThread?.assumingMemoryBound(to: ThreadCache.self)
            reused.pointee.nextInThread = nil
            reused.pointee.retired = false
            reused.pointee.node = node
            reused.pointee.objectNodes = ThreadObjectCache.objectNodes(state, node: node)
            return reused
        }
        let bytes = ThreadCache.recordBytes(spanClassCount: state.pointee.spanClassCount,
                                            sizeClassCount: state.pointee.sizeClassCount)
        if fields.pointee.cacheBumpNext + UInt(bytes) > fields.pointee.cacheBumpEnd {
            let chunk = max(bytes, 64 << 10)
            guard case .success(let memory) = SystemMemory.mapAnonymous(bytes: chunk) else {
                FatalMessage("NUMAHeap: cannot map ").decimal(chunk).text(" bytes for thread caches").crash()
            }
            fields.pointee.cacheMappedBytes += chunk
            fields.pointee.cacheBumpNext = UInt(bitPattern: memory)
            fields.pointee.cacheBumpEnd = fields.pointee.cacheBumpNext + UInt(chunk)
        }
        let raw = UnsafeMutableRawPointer(bitPattern: fields.pointee.cacheBumpNext)!
        fields.pointee.cacheBumpNext += UInt(bytes)
        let cache = ThreadCache.initialize(at: raw, spanClassCount: state.pointee.spanClassCount,
                                           sizeClassCount: state.pointee.sizeClassCount,
                                           empty: state.pointee.emptySpan, node: node, heapID: state.pointee.id,
                                           objectLimits: state.pointee.objectLimits,
                                           binGrowthBudget: ThreadObjectCache.growthBudgetBytes)
        cache.pointee.objectNodes = ThreadObjectCache.objectNodes(state, node: node)
        ThreadHeldMemory.symmetric(cache).pointee = !fields.pointee.asymmetricClaims
        cache.pointee.nextCache = UnsafeMutableRawPointer(fields.pointee.allCaches)
        fields.pointee.allCaches = cache
        return cache
    }
}

/// The heap as Central sees it: central lists per node and the node's span source.
struct HeapDirectory: CentralDirectory {
    let state: UnsafeMutablePointer<HeapState>
    /// The calling thread's cache when refilling it (its span stash serves small spans).
    var cache: UnsafeMutablePointer<ThreadCache>? = nil

    @inline(__always)
    func central(_ spanClass: SpanClass, node: Int32) -> UnsafeMutablePointer<CentralList> {
        state.pointee.nodes[Int(node)].central + spanClass.index
    }

    @inline(__always)
    func source(node: Int32) -> NodeSpanSource { NodeSpanSource(state: state, node: Int(node), cache: cache) }

    @inline(__always)
    var emptySpan: SpanRef { state.pointee.emptySpan }
}
