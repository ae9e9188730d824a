import Glibc
import Platform

/// Which node's page heap and central lists a thread allocates from, decided
/// once from the topology and the configuration's ``HeapConfiguration/NUMAPolicy``,
/// and the `mbind` policy new arenas get.
///
/// The plan lives in the heap's own mapping (a CPU → node table and the list of
/// nodes with memory), is written once at creation and read without a lock.
///
/// - `.automatic`: a thread uses the node of the CPU it runs on (its *home*
///   node: the CPU's node when that node has memory, else the nearest node with
///   memory by distance). The thread's cache re-checks the CPU on every refill
///   and, when the thread moved, flushes its cached spans and page cache and
///   continues on the new node. With a single node with memory there is
///   nothing to choose and no `mbind` call is made.
/// - `.disabled`: one node (0), no `mbind`.
/// - `.bind(node)`: every span from `node`'s heap, its arenas bound to it.
/// - `.interleave`: each refill takes the next node with memory, round-robin
///   per thread, so a thread's spans spread over all nodes.
///
/// Memory-only (CPU-less) nodes get a heap and can be named by `.bind`; no
/// thread's home is one unless it is the nearest node with memory.
struct NodePlacement {
    enum Selection: UInt8 {
        /// Always `fixedNode`.
        case fixed
        /// The home node of the current CPU.
        case cpuLocal
        /// Round-robin over the nodes with memory.
        case interleave
    }

    let selection: Selection
    /// The node of `.fixed`; the fallback of the others.
    let fixedNode: Int32
    /// Policy for `mbind` on new arenas; nil: arenas are not bound.
    let bindPolicy: MemoryBindPolicy?
    /// Home node per CPU number (`cpuLimit` entries; -1: unknown CPU).
    let cpuHomeNode: UnsafeMutablePointer<Int16>
    let cpuLimit: Int
    /// The nodes with memory, ascending.
    let memoryNodes: UnsafeMutablePointer<Int16>
    let memoryNodeCount: Int
    /// One more than the highest node number the heap keeps a page heap for.
    let nodeCount: Int
    let mapping: UnsafeMutableRawPointer
    let mappingBytes: Int

    /// The largest node count a heap supports (topologies report more only on
    /// very large machines; nodes above are not used).
    static var maximumNodeCount: Int { 64 }

    /// Plans placement for `configuration` on `topology`. Reads the topology
    /// only through its protocol and allocates nothing on the Swift heap (the
    /// malloc library creates its heap inside `malloc`).
    static func plan<T: NUMATopology>(_ configuration: HeapConfiguration, topology: T) -> Result<NodePlacement, HeapError> {
        let nodeLimit = min(max(topology.nodeLimit, 1), maximumNodeCount)
        if case .bind(let node) = configuration.numaPolicy, !accepts(node, topology) {
            return .failure(.invalidNode(node))
        }
        let cpuLimit = max(topology.cpuLimit, 1)
        let bytes = (2 * cpuLimit + 2 * nodeLimit + SystemMemory.physicalPageSize - 1) & ~(SystemMemory.physicalPageSize - 1)
        guard case .success(let mapping) = SystemMemory.mapAnonymous(bytes: bytes) else {
            return .failure(.outOfMemory(requested: bytes))
        }
        let cpuHome = mapping.bindMemory(to: Int16.self, capacity: cpuLimit)
        let memoryNodes = (mapping + 2 * cpuLimit).bindMemory(to: Int16.self, capacity: nodeLimit)
        var memoryNodeCount = 0
        for n in 0..<nodeLimit where topology.hasMemory(n) {
            memoryNodes[memoryNodeCount] = Int16(n)
            memoryNodeCount += 1
        }
        if memoryNodeCount == 0 {  // A topology that says nothing: node 0.
            memoryNodes[0] = 0
            memoryNodeCount = 1
        }
        for cpu in 0..<cpuLimit {
            guard let node = topology.node(ofCPU: cpu), node >= 0, node < nodeLimit else {
                cpuHome[cpu] = -1
                continue
            }
            cpuHome[cpu] = Int16(nearestMemoryNode(to: node, memoryNodes, memoryNodeCount, topology))
        }

        let binding: MemoryBindPolicy = configuration.nodeBinding == .preferred ? .preferred : .bind
        let selection: Selection
        var fixedNode = Int32(memoryNodes[0])
        var bindPolicy: MemoryBindPolicy? = nil
        var nodeCount = nodeLimit
        switch configuration.numaPolicy {
        case .disabled:
            selection = .fixed
            fixedNode = 0
            nodeCount = 1
        case .bind(let node):  // Checked above.
            selection = .fixed
            fixedNode = Int32(node)
            bindPolicy = binding
        case .automatic:
            selection = memoryNodeCount > 1 ? .cpuLocal : .fixed
            bindPolicy = memoryNodeCount > 1 ? binding : nil
        case .interleave:
            selection = memoryNodeCount > 1 ? .interleave : .fixed
            bindPolicy = memoryNodeCount > 1 ? binding : nil
        }
        return .success(NodePlacement(selection: selection, fixedNode: fixedNode, bindPolicy: bindPolicy,
                                      cpuHomeNode: cpuHome, cpuLimit: cpuLimit, memoryNodes: memoryNodes,
                                      memoryNodeCount: memoryNodeCount, nodeCount: nodeCount,
                                      mapping: mapping, mappingBytes: bytes))
    }

    /// Whether `.bind(node:)` may name `node`: a node with memory below the
    /// heap's node limit.
    static func accepts<T: NUMATopology>(_ node: Int, _ topology: T) -> Bool {
        node >= 0 && node < min(topology.nodeLimit, maximumNodeCount) && topology.hasMemory(node)
    }

    /// The node with memory nearest to `node` (itself when it has memory;
    /// ties to the lowest number; the first node with memory when distances
    /// are unknown).
    private static func nearestMemoryNode<T: NUMATopology>(
        to node: Int, _ memoryNodes: UnsafeMutablePointer<Int16>, _ count: Int, _ topology: T
    ) -> Int {
        var best = Int(memoryNodes[0])
        var bestDistance = Int.max
        for i in 0..<count {
            let m = Int(memoryNodes[i])
            if m == node { return m }
            let d = topology.distance(from: node, to: m)
            if d > 0 && d < bestDistance { best = m; bestDistance = d }
        }
        return best
    }

    /// The home node of `cpu`; nil for a CPU the topology did not know.
    @inline(__always)
    func homeNode(ofCPU cpu: Int) -> Int32? {
        guard cpu >= 0, cpu < cpuLimit else { return nil }
        let n = cpuHomeNode[cpu]
        return n < 0 ? nil : Int32(n)
    }

    /// True when `node` is a node with memory this heap uses.
    func hasMemory(_ node: Int) -> Bool {
        (0..<memoryNodeCount).contains { Int(memoryNodes[$0]) == node }
    }

    func destroy() { _ = SystemMemory.unmap(mapping, bytes: mappingBytes) }
}

extension HeapCore {
    /// Whether `node` is a node with memory on this machine (what
    /// ``HeapConfiguration/NUMAPolicy/bind(node:)`` accepts). Allocates nothing.
    public static func nodeHasMemory(_ node: Int) -> Bool {
        NodePlacement.accepts(node, SystemTopology.current)
    }
}
