// Per-node heaps on a topology given in code (FixedTopology): which node's
// heap a thread allocates from, moving with the thread, cross-node frees,
// `.bind`, `.interleave`, `.disabled`, and the mbind policy arenas get. On a
// single-node machine the kernel refuses binding to the fake nodes (counted in
// `bindFailures`); the multi-node guest tests (Tests/NUMAGuest) check the
// kernel's placement for real.
import CPlatform
import Central
import Glibc
import NUMAHeap
import Platform
import Testing

/// Pins the calling thread to `cpu`. Returns false when the CPU is not usable.
@discardableResult
func pinCurrentThread(toCPU cpu: Int) -> Bool {
    if case .success = ThreadAffinity.pinCurrentThread(to: CPUSet([cpu])) { return true }
    return false
}

/// Runs `body` on a new thread pinned to `cpu` and waits for it.
func onThread(pinnedTo cpu: Int, _ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable { let body: @Sendable () -> Void; let cpu: Int
        init(_ b: @escaping @Sendable () -> Void, _ c: Int) { body = b; cpu = c } }
    var t = pthread_t()
    let box = Unmanaged.passRetained(Box(body, cpu)).toOpaque()
    pthread_create(&t, nil, { raw in
        let box = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! Box
        pinCurrentThread(toCPU: box.cpu)
        box.body()
        return nil
    }, box)
    pthread_join(t, nil)
}

let onlineCPUs = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))

/// Node 1 owns CPU 0; node 0 owns every other CPU (none on a 1-CPU machine).
let splitTopology = FixedTopology(nodes: [
    .init(number: 0, cpus: Array(1..<max(onlineCPUs, 2))),
    .init(number: 1, cpus: [0]),
])

struct SendablePointer: @unchecked Sendable { var p: UnsafeMutableRawPointer }
final class PointerBag: @unchecked Sendable { var items: [SendablePointer] = [] }

@Suite(.serialized) struct NUMAPlacementTests {
    @Test func bindToANodeWithoutMemoryOrUnknownIsAnError() {
        let t = FixedTopology(nodes: [.init(number: 0, cpus: [0]), .init(number: 2, cpus: [], memoryBytes: 0)])
        for bad in [-1, 1, 2, 3, 64] {
            #expect(throws: HeapError.invalidNode(bad)) {
                _ = try Heap(configuration: .init(numaPolicy: .bind(node: bad)), topology: t)
            }
        }
        #expect(HeapError.invalidNode(7).description.hasPrefix("NUMAHeap: invalid NUMA node 7: the nodes with memory are "))
    }

    @Test func threadsAllocateFromTheirCPUsNodeAndFreesGoHome() throws {
        let heap = try Heap(configuration: .init(scavenging: .disabled), topology: splitTopology)
        let bag = PointerBag()
        onThread(pinnedTo: 0) {
            for i in 0..<2000 {
                let p = try! heap.allocate(byteCount: 64)
                p.storeBytes(of: UInt64(i), as: UInt64.self)
                bag.items.append(SendablePointer(p: p))
            }
            let large = try! heap.allocate(byteCount: 1 << 20)
            bag.items.append(SendablePointer(p: large))
        }
        #expect(bag.items.allSatisfy { heap.node(of: $0.p) == 1 }, "blocks of a thread on CPU 0 come from node 1")
        let stats = heap.statistics
        let node1 = try #require(stats.nodes.first { $0.id == 1 })
        #expect(node1.inUseBytes >= 2000 * 64 + (1 << 20))
        // What the kernel did with node 1's binding, checked against the
        // machine's real nodes: accepted — then it has a node 1 and the page is
        // there — or refused, counted in bindFailures, because it has no node 1
        // (the page is then on one of its own nodes) or no NUMA system calls.
        let first = try #require(bag.items.first)
        let kernelNodes = SystemTopology.current.memoryNodes
        let placement = heap.verifyPlacement(first.p, byteCount: 64)
        if node1.bindFailures == 0 {
            #expect(kernelNodes.contains(1), "binding to node 1 succeeded, but the kernel's memory nodes are \(kernelNodes)")
            if case .success(let r) = placement {
                #expect(r.presentPages == 1 && r.fraction(onNode: 1) == 1, "placement \(r)")
            } else {
                Issue.record("binding to node 1 succeeded, but move_pages cannot say where the page is: \(placement)")
            }
        } else {
            switch placement {
            case .success(let r):
                // move_pages works, so mbind would have too: the kernel has no node 1.
                #expect(!kernelNodes.contains(1), "the kernel has node 1 but refused \(node1.bindFailures) bindings to it")
                let nodesUsed = r.pagesOnNode.indices.filter { r.pagesOnNode[$0] > 0 }
                #expect(r.presentPages == 1 && nodesUsed.allSatisfy(kernelNodes.contains),
                        "placement \(r), the kernel's memory nodes \(kernelNodes)")
            case .failure(let e):
                // No NUMA system calls here at all (a kernel without NUMA, or a seccomp filter).
                #expect(e.code == ENOSYS || e.code == EPERM, "move_pages failed: \(e)")
            }
        }
        if onlineCPUs >= 2 {
            // Another thread on node 0's CPU frees everything: the objects go
            // back to node 1's spans, and node 0 never holds them.
            onThread(pinnedTo: 1) {
                for (i, item) in bag.items.dropLast().enumerated() {
                    precondition(item.p.load(as: UInt64.self) == UInt64(i))
                    heap.deallocate(item.p)
                }
                heap.deallocate(bag.items.last!.p)
                heap.flushThreadCache()
            }
            let after = heap.statistics
            #expect(after.liveObjects == 0)
            let n1 = try #require(after.nodes.first { $0.id == 1 })
            let n0 = try #require(after.nodes.first { $0.id == 0 })
            // At most the class's retained empty spans (one-page spans) stay in
            // use on node 1, and the large block's span, which the freeing
            // thread (of node 0) hands to node 1's shared stacks.
            let retained = CentralList.retainedEmptyLimit(pagesPerSpan: 1) * 8192
            #expect(n1.sharedLargeSpanBytes <= 1 << 20)
            #expect(n1.inUseBytes - n1.sharedLargeSpanBytes <= retained, "node 1 still has \(n1.inUseBytes) bytes in use")
            #expect(n0.inUseBytes == 0)
        }
    }

    @Test func aThreadThatMovesFollowsItsNewNode() throws {
        guard onlineCPUs >= 2 else {
            // One CPU: nothing to move between; the routing test above covers CPU 0.
            return
        }
        let heap = try Heap(configuration: .init(scavenging: .disabled), topology: splitTopology)
        let bag = PointerBag()
        onThread(pinnedTo: 0) {
            for _ in 0..<300 { bag.items.append(SendablePointer(p: try! heap.allocate(byteCount: 256))) }
            pinCurrentThread(toCPU: 1)
            // The cached span still has room; the move shows on the next refill.
            for _ in 0..<2000 { bag.items.append(SendablePointer(p: try! heap.allocate(byteCount: 256))) }
            bag.items.append(SendablePointer(p: try! heap.allocate(byteCount: 300_000)))
        }
        #expect(heap.node(of: bag.items[0].p) == 1)
        #expect(heap.node(of: bag.items.last!.p) == 0, "a large block after the move comes from node 0")
        let onNode0 = bag.items.filter { heap.node(of: $0.p) == 0 }.count
        #expect(onNode0 >= 1500, "\(onNode0) of 2001 blocks allocated after the move are on node 0")
        let stats = heap.statistics
        #expect(stats.nodes.first { $0.id == 0 }?.cachesMovedIn ?? 0 >= 1)
        for item in bag.items { heap.deallocate(item.p) }
        #expect(heap.statistics.liveObjects == 0)
    }

    @Test func bindPlacesEverySpanOnTheNode() throws {
        // Node 1 is memory-only (no CPUs), like a CXL expander.
        let t = FixedTopology(nodes: [.init(number: 0, cpus: Array(0..<onlineCPUs)), .init(number: 1, cpus: [])])
        let heap = try Heap(configuration: .init(numaPolicy: .bind(node: 1), scavenging: .disabled), topology: t)
        var blocks: [UnsafeMutableRawPointer] = []
        for size in [16, 100, 4000, 40_000, 1 << 20] {
            for _ in 0..<20 { blocks.append(try heap.allocate(byteCount: size)) }
        }
        #expect(blocks.allSatisfy { heap.node(of: $0) == 1 })
        let stats = heap.statistics
        #expect(stats.nodes.map(\.id).contains(1))
        #expect((stats.nodes.first { $0.id == 0 }?.mappedBytes ?? 0) == 0, "nothing mapped on node 0")
        for p in blocks { heap.deallocate(p) }
    }

    @Test func interleaveSpreadsSpansOverTheNodes() throws {
        let t = FixedTopology(nodeCount: 2, cpusPerNode: max(onlineCPUs, 1))
        let heap = try Heap(configuration: .init(numaPolicy: .interleave, scavenging: .disabled), topology: t)
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<40 { blocks.append(try heap.allocate(byteCount: 200_000)) }
        for _ in 0..<4000 { blocks.append(try heap.allocate(byteCount: 1024)) }
        let large = blocks.prefix(40)
        let onNode1 = large.filter { heap.node(of: $0) == 1 }.count
        #expect(onNode1 == 20, "\(onNode1) of 40 large blocks on node 1")
        let small1 = blocks.dropFirst(40).filter { heap.node(of: $0) == 1 }.count
        #expect(small1 > 1000 && small1 < 3000, "\(small1) of 4000 small blocks on node 1")
        for p in blocks { heap.deallocate(p) }
    }

    @Test func disabledIsOneNodeWithoutBinding() throws {
        let heap = try Heap(configuration: .init(numaPolicy: .disabled), topology: splitTopology)
        let p = try heap.allocate(byteCount: 100_000)
        #expect(heap.node(of: p) == 0)
        #expect(heap.statistics.nodes.count == 1)
        #expect(SystemMemory.policyMode(at: p) == .success(Int32(MPOL_DEFAULT)), "no mbind: the default policy")
        heap.deallocate(p)
    }

    @Test func arenasGetTheConfiguredMbindMode() throws {
        // The machine's own topology: node 0 has memory everywhere.
        let single = FixedTopology(nodes: [.init(number: 0, cpus: Array(0..<max(onlineCPUs, 1)))])
        let automatic = try Heap(configuration: .init(), topology: single)
        let a = try automatic.allocate(byteCount: 64)
        #expect(SystemMemory.policyMode(at: a) == .success(Int32(MPOL_DEFAULT)), "one node: .automatic makes no mbind call")
        automatic.deallocate(a)
        let strict = try Heap(configuration: .init(numaPolicy: .bind(node: 0)), topology: single)
        let b = try strict.allocate(byteCount: 64)
        #expect(SystemMemory.policyMode(at: b) == .success(MemoryBindPolicy.bind.rawValue), "MPOL_BIND")
        strict.deallocate(b)
        let preferred = try Heap(configuration: .init(numaPolicy: .bind(node: 0), nodeBinding: .preferred), topology: single)
        let c = try preferred.allocate(byteCount: 64)
        #expect(SystemMemory.policyMode(at: c) == .success(MemoryBindPolicy.preferred.rawValue), "MPOL_PREFERRED")
        preferred.deallocate(c)
    }
}
