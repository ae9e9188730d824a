import ArgumentParser
import Glibc
import Platform

// Which nodes `numaheap bench` measures, and on which CPUs each node's threads
// run. Pinning is what makes "node n" mean something for the allocators that
// know nothing of NUMA: their memory lands where their threads first touch it.

/// One node of the run: where its memory is meant to be, where its threads run.
struct BenchNode {
    /// The node whose memory is measured (NUMAHeap binds its heap here).
    var number: Int
    /// The CPUs its threads are pinned to: the node's own, or — for a node
    /// without CPUs — those of the first node with CPUs (`cpuNode`).
    var cpus: CPUSet
    /// The node those CPUs belong to; differs from `number` only for a CPU-less node.
    var cpuNode: Int
    var memoryBytes: Int
    /// False when `cpus` is empty after intersecting with the CPUs this process
    /// may use (a cgroup cpuset): its threads then run unpinned.
    var pinned: Bool
}

/// The machine's layout as the bench reports it (JSON, table header).
struct BenchTopologySummary {
    var nodes: [(number: Int, cpus: [Int], memoryBytes: Int)]
    var distances: [[Int]]

    init(_ topology: some NUMATopology) {
        let online = topology.onlineNodes
        nodes = online.map { (number: $0, cpus: Array(topology.cpus(of: $0)), memoryBytes: topology.memoryBytes(of: $0)) }
        distances = online.map { a in online.map { b in topology.distance(from: a, to: b) } }
    }

    var line: String {
        "\(nodes.count) node\(nodes.count == 1 ? "" : "s"): " + nodes.map { n in
            "node \(n.number) " + (n.cpus.isEmpty ? "no CPUs" : "CPUs \(benchRangeList(n.cpus))")
                + ", " + (n.memoryBytes > 0 ? "\(benchFixed(Double(n.memoryBytes) / Double(1 << 30), 1)) GiB" : "no memory")
        }.joined(separator: "; ")
    }
}

/// The nodes to measure, from `--nodes` (empty: every node with memory).
/// Throws a `ValidationError` naming the bad value and the valid nodes.
func benchSelectNodes(_ arguments: [String], topology: some NUMATopology) throws -> [BenchNode] {
    let valid = topology.memoryNodes
    let validText = valid.isEmpty ? "none" : benchRangeList(valid)
    var numbers: [Int] = []
    if arguments.isEmpty {
        numbers = valid
    } else {
        for item in benchSplitList(arguments) {
            guard let list = benchParseRangeList(item) else {
                throw ValidationError("--nodes: '\(item)' is not a node number or range (e.g. 0,2 or 0-3); nodes with memory: \(validText)")
            }
            for n in list {
                guard topology.isOnline(n) else {
                    throw ValidationError("--nodes: no online node \(n) (in '\(item)'); nodes with memory: \(validText)")
                }
                guard topology.hasMemory(n) else {
                    throw ValidationError("--nodes: node \(n) has no memory to place a heap on; nodes with memory: \(validText)")
                }
                if !numbers.contains(n) { numbers.append(n) }
            }
        }
    }
    guard !numbers.isEmpty else { throw ValidationError("--nodes: this machine reports no node with memory") }
    let allowed = BenchAffinity.allowed()
    let firstCPUNode = topology.onlineNodes.first { !topology.cpus(of: $0).isEmpty }
    return numbers.map { n in
        let cpuNode = topology.cpus(of: n).isEmpty ? (firstCPUNode ?? n) : n
        let cpus = BenchAffinity.intersect(topology.cpus(of: cpuNode), allowed)
        return BenchNode(number: n, cpus: cpus, cpuNode: cpuNode, memoryBytes: topology.memoryBytes(of: n), pinned: !cpus.isEmpty)
    }
}

/// The CPU nodes of the memory-access matrix: the measured nodes that have
/// CPUs (a CPU-less node has no local thread to measure from), or, when none
/// has, the node whose CPUs stand in for them.
func benchCPUNodes(_ nodes: [BenchNode]) -> [BenchNode] {
    let own = nodes.filter { $0.cpuNode == $0.number }
    if !own.isEmpty { return own }
    var stand = nodes[0]
    stand.number = stand.cpuNode
    return [stand]
}

/// The machine's topology (Platform's `SystemTopology`, read from sysfs once per process).
func benchSystemTopology() -> SystemTopology { SystemTopology.current }

/// Thread placement with `sched_setaffinity`. New threads inherit their
/// creator's mask, so pinning the main thread pins the cross-thread workers
/// it starts as well.
enum BenchAffinity {
    /// The CPUs this thread may run on now (the process's mask at start, before
    /// any pinning: a cgroup or `taskset` may have narrowed it).
    static func allowed() -> CPUSet {
        let cpus = ThreadAffinity.currentThreadCPUs()
        return cpus.isEmpty ? CPUSet(0..<CPUSet.capacity) : cpus
    }

    /// Pins the calling thread to `cpus`; false when the kernel refuses.
    @discardableResult
    static func pin(_ cpus: CPUSet) -> Bool {
        if case .success = ThreadAffinity.pinCurrentThread(to: cpus) { return true }
        return false
    }

    static func intersect(_ a: CPUSet, _ b: CPUSet) -> CPUSet { CPUSet(a.filter { b.contains($0) }) }

    /// Runs `body` with the calling thread pinned to `node`'s CPUs (unpinned
    /// when it has none it may use), then restores `restore`.
    static func on<R>(_ node: BenchNode, restore: CPUSet, _ body: () throws -> R) rethrows -> R {
        if node.pinned { pin(node.cpus) }
        defer { if node.pinned { pin(restore) } }
        return try body()
    }
}

/// Parses a kernel-style list: "0", "0,2", "0-3", "0-1,4".
func benchParseRangeList(_ text: String) -> [Int]? {
    var out: [Int] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { String($0).benchTrimmingSpaces() }
        guard bounds.count == 1 || bounds.count == 2, let low = Int(bounds[0]), low >= 0 else { return nil }
        let high = bounds.count == 2 ? Int(bounds[1]) : low
        guard let high, high >= low else { return nil }
        out += Array(low...high)
    }
    return out
}

/// "0-3,6" for [0, 1, 2, 3, 6].
func benchRangeList<S: Sequence<Int>>(_ numbers: S) -> String {
    var parts: [String] = []
    var start: Int? = nil, last = 0
    for n in numbers.sorted() {
        if let s = start, n == last + 1 { last = n; _ = s; continue }
        if let s = start { parts.append(s == last ? "\(s)" : "\(s)-\(last)") }
        start = n; last = n
    }
    if let s = start { parts.append(s == last ? "\(s)" : "\(s)-\(last)") }
    return parts.joined(separator: ",")
}
