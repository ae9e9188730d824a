// numa-oracle: NUMAHeap's view of the machine checked against libnuma's.
//
//   numa-oracle [--expect-nodes N] [--placement-mib M]
//
// 1. Topology: Platform's SystemTopology.current against libnuma (node count
//    and limit, nodes with memory, CPU → node, CPUs per node, distances, node
//    sizes within 1%).
// 2. Placement: for every node with memory, a heap with .bind(node:) allocates
//    and touches about M MiB (default 4) of small, medium and large blocks; the
//    kernel's answer for every page (libnuma's numa_move_pages with no target
//    nodes) is compared with the intended node and with Heap.node(of:).
//
// Prints every comparison; exits 1 listing every mismatch, 2 on bad arguments
// or when libnuma reports no NUMA support.
import CNUMA
import Glibc
import NUMAHeap
import Platform

/// The mismatches found so far, each printed as it is found.
nonisolated(unsafe) var mismatches: [String] = []

func mismatch(_ what: String) {
    mismatches.append(what)
    print("MISMATCH: \(what)")
}

/// Writes `text` to stderr.
func printError(_ text: String) {
    _ = text.withCString { write(2, $0, strlen($0)) }
}

func usage(_ problem: String) -> Never {
    printError("numa-oracle: \(problem)\nusage: numa-oracle [--expect-nodes N] [--placement-mib M]\n")
    exit(2)
}

var expectedNodes: Int?
var placementMiB = 4
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    func value() -> Int {
        guard let text = arguments.popFirst() else { usage("\(argument) needs a number") }
        guard let n = Int(text), n >= 1 else { usage("\(argument): '\(text)' is not a positive number") }
        return n
    }
    switch argument {
    case "--expect-nodes": expectedNodes = value()
    case "--placement-mib": placementMiB = value()
    default: usage("unknown argument '\(argument)'")
    }
}

guard numa_available() >= 0 else {
    printError("numa-oracle: libnuma says NUMA is not available (numa_available() < 0)\n")
    exit(2)
}

let topology = SystemTopology.current
if let problem = topology.loadProblem { mismatch("SystemTopology.current fell back to one node: \(problem)") }
if let expectedNodes, topology.onlineNodes.count != expectedNodes {
    mismatch("expected \(expectedNodes) online nodes, SystemTopology.current has \(topology.onlineNodes)")
}
print("== topology: SystemTopology.current vs libnuma (API \(LIBNUMA_API_VERSION))")
checkTopology(topology)
print("== placement: Heap(.bind(node:)) vs the kernel (numa_move_pages), \(placementMiB) MiB per node")
checkPlacement(topology, bytesPerNode: placementMiB << 20)

if mismatches.isEmpty {
    print("numa-oracle: OK (\(topology.onlineNodes.count) nodes, \(topology.memoryNodes.count) with memory)")
    exit(0)
}
print("numa-oracle: \(mismatches.count) mismatch(es):")
for m in mismatches { print("  - \(m)") }
exit(1)
