/// The machine's NUMA layout as the heap needs it: which nodes exist, which hold
/// memory, which CPUs belong to which node, and how far nodes are from each
/// other (the ACPI SLIT distances, 10 = local).
///
/// Node and CPU numbers are the kernel's; they may have gaps (a machine may
/// have nodes 0 and 2 only). ``nodeLimit`` and ``cpuLimit`` bound them.
///
/// ``SystemTopology`` reads `/sys/devices/system/node`; ``FixedTopology`` is
/// a layout given in code, for tests. Neither links libnuma: the heap must
/// work where libnuma is not installed, and libnuma allocates with malloc,
/// which the heap may be.
public protocol NUMATopology: Sendable {
    /// One more than the highest possible node number.
    var nodeLimit: Int { get }
    /// One more than the highest possible CPU number.
    var cpuLimit: Int { get }
    /// True when `node` is online.
    func isOnline(_ node: Int) -> Bool
    /// True when `node` is online and has memory (`has_memory`).
    func hasMemory(_ node: Int) -> Bool
    /// The node's total memory in bytes (its `meminfo`'s `MemTotal`); 0 when none or unknown.
    func memoryBytes(of node: Int) -> Int
    /// The node's free memory in bytes (`MemFree`); 0 when none or unknown.
    func freeMemoryBytes(of node: Int) -> Int
    /// The online CPUs of `node` (empty for a memory-only node).
    func cpus(of node: Int) -> CPUSet
    /// The node `cpu` belongs to; nil when the CPU is unknown or offline.
    func node(ofCPU cpu: Int) -> Int?
    /// The distance from `from` to `to` (10 for a node to itself); 0 when unknown.
    func distance(from: Int, to: Int) -> Int
}

extension NUMATopology {
    /// The online nodes, ascending.
    public var onlineNodes: [Int] { (0..<nodeLimit).filter { isOnline($0) } }
    /// The online nodes with memory, ascending.
    public var memoryNodes: [Int] { (0..<nodeLimit).filter { hasMemory($0) } }
    /// True when the node has online CPUs.
    public func hasCPUs(_ node: Int) -> Bool { !cpus(of: node).isEmpty }
}

/// A set of CPU numbers below ``CPUSet/capacity`` as a fixed bitmask: a value
/// with no storage on the Swift heap, so the heap can keep one per node.
public struct CPUSet: Sendable, Equatable, Hashable, Sequence {
    /// The largest CPU number a set can hold, plus one.
    public static let capacity = 1024
    @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                  UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    public init() { words = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }

    public init<S: Sequence>(_ cpus: S) where S.Element == Int {
        self.init()
        for c in cpus { insert(c) }
    }

    /// Adds `cpu`; numbers outside `0..<capacity` are ignored.
    public mutating func insert(_ cpu: Int) {
        guard cpu >= 0, cpu < Self.capacity else { return }
        withUnsafeMutableBytes(of: &words) { $0.storeBytes(of: $0.load(fromByteOffset: BitIndex.word(cpu) * 8, as: UInt64.self) | BitIndex.mask(cpu), toByteOffset: BitIndex.word(cpu) * 8, as: UInt64.self) }
    }

    public func contains(_ cpu: Int) -> Bool {
        guard cpu >= 0, cpu < Self.capacity else { return false }
        return withUnsafeBytes(of: words) { $0.load(fromByteOffset: BitIndex.word(cpu) * 8, as: UInt64.self) & BitIndex.mask(cpu) != 0 }
    }

    public var count: Int {
        withUnsafeBytes(of: words) { raw in (0..<16).reduce(0) { $0 + raw.load(fromByteOffset: $1 * 8, as: UInt64.self).nonzeroBitCount } }
    }

    public var isEmpty: Bool { count == 0 }

    public func makeIterator() -> Iterator { Iterator(set: self, position: 0) }

    public struct Iterator: IteratorProtocol {
        let set: CPUSet
        var position: Int
        public mutating func next() -> Int? {
            while position < CPUSet.capacity {
                defer { position += 1 }
                if set.contains(position) { return position }
            }
            return nil
        }
    }

    public static func == (a: CPUSet, b: CPUSet) -> Bool {
        withUnsafeBytes(of: a.words) { x in withUnsafeBytes(of: b.words) { y in x.elementsEqual(y) } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: words) { hasher.combine(bytes: $0) }
    }
}

/// A topology given in code, for tests: nodes with CPUs and memory, distances.
public struct FixedTopology: NUMATopology {
    public struct Node: Sendable {
        public var number: Int
        public var cpus: [Int]
        public var memoryBytes: Int
        public init(number: Int, cpus: [Int], memoryBytes: Int = 1 << 30) {
            self.number = number; self.cpus = cpus; self.memoryBytes = memoryBytes
        }
    }
    public let nodes: [Node]
    /// `distances[i][j]` between `nodes[i]` and `nodes[j]`; nil: 10 local, 20 remote.
    public let distances: [[Int]]?

    public init(nodes: [Node], distances: [[Int]]? = nil) {
        self.nodes = nodes
        self.distances = distances
    }

    /// `count` nodes numbered from 0, each with `cpusPerNode` consecutive CPUs.
    public init(nodeCount: Int, cpusPerNode: Int) {
        self.init(nodes: (0..<nodeCount).map { n in
            Node(number: n, cpus: Array(n * cpusPerNode..<(n + 1) * cpusPerNode))
        })
    }

    private func index(of node: Int) -> Int? { nodes.firstIndex { $0.number == node } }

    public var nodeLimit: Int { (nodes.map(\.number).max() ?? -1) + 1 }
    public var cpuLimit: Int { (nodes.flatMap(\.cpus).max() ?? -1) + 1 }
    public func isOnline(_ node: Int) -> Bool { index(of: node) != nil }
    public func hasMemory(_ node: Int) -> Bool { index(of: node).map { nodes[$0].memoryBytes > 0 } ?? false }
    public func memoryBytes(of node: Int) -> Int { index(of: node).map { nodes[$0].memoryBytes } ?? 0 }
    public func freeMemoryBytes(of node: Int) -> Int { memoryBytes(of: node) }
    public func cpus(of node: Int) -> CPUSet { index(of: node).map { CPUSet(nodes[$0].cpus) } ?? CPUSet() }
    public func node(ofCPU cpu: Int) -> Int? { nodes.first { $0.cpus.contains(cpu) }?.number }
    public func distance(from: Int, to: Int) -> Int {
        guard let i = index(of: from), let j = index(of: to) else { return 0 }
        if let distances { return distances[i][j] }
        return i == j ? 10 : 20
    }
}
