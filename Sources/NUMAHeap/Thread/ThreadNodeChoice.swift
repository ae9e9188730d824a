import Central
import Glibc
import Platform

/// How a thread's cache follows the placement plan (``NodePlacement``): the
/// node a new cache starts on, and the re-check before each refill and large
/// allocation — Go has one `mcache` per P; here a cache belongs to a thread,
/// and its node follows the CPU the thread runs on.
extension NodePlacement {
    /// The node a new cache starts on.
    func initialNode() -> Int32 {
        switch selection {
        case .fixed: return fixedNode
        case .cpuLocal: return homeNode(ofCPU: SystemTopology.currentCPU()) ?? fixedNode
        case .interleave: return Int32(memoryNodes[0])
        }
    }
}

extension HeapCore {
    /// Points `cache` at the node it should allocate from now. Called on the
    /// slow paths only (refill, large allocation): one `sched_getcpu` (a read
    /// of the kernel's rseq area in current glibc) for `.automatic`.
    @inline(__always)
    func chooseNode(_ cache: UnsafeMutablePointer<ThreadCache>) {
        let selection = state.pointee.placement.selection
        if selection == .fixed { return }
        if selection == .cpuLocal {
            guard let home = state.pointee.placement.homeNode(ofCPU: SystemTopology.currentCPU()),
                  home != cache.pointee.node else { return }
            moveCache(cache, to: home)
        } else {
            let turnSlot = ThreadHeldMemory.interleaveTurn(cache)
            let turn = turnSlot.pointee
            turnSlot.pointee = turn &+ 1
            let placement = state.pointee.placement
            cache.pointee.node = Int32(placement.memoryNodes[Int(turn % UInt(placement.memoryNodeCount))])
        }
    }

    /// The thread now runs on a CPU of another node: return what the cache
    /// holds of the old node — its spans to their central lists, its page
    /// cache and span records to the old node's heap — and continue on `node`.
    /// Blocks freed later into the old spans still go to their owner node,
    /// since every free follows the span, not the thread.
    @inline(never)
    func moveCache(_ cache: UnsafeMutablePointer<ThreadCache>, to node: Int32) {
        returnAllObjects(cache)
        ThreadCache.flush(cache, directory: HeapDirectory(state: state))
        ThreadHeldMemory.acquire(cache)
        returnHeldMemory(cache)
        ThreadHeldMemory.release(cache)
        cache.pointee.node = node
        cache.pointee.objectNodes = ThreadObjectCache.objectNodes(state, node: node)
        state.pointee.nodes[Int(node)].noteCacheMovedIn()
    }
}

