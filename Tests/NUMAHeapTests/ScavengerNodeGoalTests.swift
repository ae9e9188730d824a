// The background scavenger keeps a goal per node: a node retains at most its
// own in-use bytes × (1 + p). Memory freed on one node is released there, and
// another node's free pages, within that node's goal, are left alone — a
// heap-wide goal would release the lowest node's pages first.
import Glibc
import NUMAHeap
import Testing

@Suite struct ScavengerNodeGoalTests {
    @Test func memoryFreedOnOneNodeIsReleasedThereAndTheOtherKeepsItsFreePages() throws {
        let topology = FixedTopology(nodeCount: 2, cpusPerNode: max(onlineCPUs, 1))
        let heap = try Heap(configuration: .init(numaPolicy: .interleave, scavenging: .background(retainExtraPercent: 10)),
                            topology: topology)
        // 2 MiB blocks: each a span of its own from its node's page heap (not
        // kept by the thread), placed on the nodes in turn.
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<64 {
            let p = try heap.allocate(byteCount: 2 << 20)
            memset(p, 1, 2 << 20)
            blocks.append(p)
        }
        let node0 = blocks.filter { heap.node(of: $0) == 0 }, node1 = blocks.filter { heap.node(of: $0) == 1 }
        #expect(node0.count == 32 && node1.count == 32)
        // Node 0 frees 2 of its 32 blocks: 4 MiB idle, within its goal (30 × 2 MiB × 1.1).
        // Node 1 frees all of its blocks: 64 MiB over its goal of 0.
        for p in node0.prefix(2) { heap.deallocate(p) }
        for p in node1 { heap.deallocate(p) }
        heap.flushThreadCache()
        let idle0 = heap.statistics.nodes[0].idleBytes
        #expect(idle0 >= 4 << 20)
        // The worker (started by the first growth; it looks every 50 ms) brings node 1 to its goal…
        let deadline = monotonicSeconds() + 10
        while heap.statistics.nodes[1].idleBytes > 0 && monotonicSeconds() < deadline { usleep(5_000) }
        let s = heap.statistics
        #expect(s.nodes[1].idleBytes == 0, "node 1 still retains \(s.nodes[1].idleBytes) free bytes")
        // …and leaves node 0's free pages, which its own goal allows.
        #expect(s.nodes[0].idleBytes == idle0, "node 0's idle bytes went from \(idle0) to \(s.nodes[0].idleBytes)")
        for p in node0.dropFirst(2) { heap.deallocate(p) }
    }
}

private func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
