// numaheap-guest-checks: NUMA placement checked by the kernel, for a real
// multi-node machine or the multi-node guest of ../shared/numa-vm
// (`.ci/numa-guest.sh` runs it with 2 and 4 nodes). Every answer the heap gives
// (`Heap.node(of:)`) is checked against where the kernel put the pages
// (`move_pages(2)` through `Heap.verifyPlacement`).
//
//   1. `.automatic`: threads pinned to each node's CPUs get ≥ 99% of their
//      touched pages on that node (small, medium and large blocks).
//   2. Cross-node frees: blocks allocated on node A and freed by a thread on
//      node B go back to A's spans; per-node statistics add up.
//   3. A thread that moves to another node's CPU allocates from the new node.
//   4. `.bind(n)` for every node with memory, CPU-less nodes included.
//   5. `.interleave`: spans spread over all nodes with memory, each where
//      `node(of:)` says.
//   6. Per-node scavenging: freed memory is released on its own node, and a
//      node within its goal keeps its free pages (kernel-checked).
// Exits 1 listing every failed check; prints a placement table either way.
import Glibc
import Central
import NUMAHeap
import SpanCore
import Platform

nonisolated(unsafe) var failures: [String] = []
func check(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { failures.append(what()); print("FAIL: \(what())") }
}

func pin(toCPUs cpus: CPUSet) {
    if case .failure(let e) = ThreadAffinity.pinCurrentThread(to: cpus) {
        print("FAIL: pinning to CPUs \(Array(cpus)): \(e)")
        exit(1)
    }
}

/// Runs `body` on a new thread pinned to `cpus` and waits for it.
func onThread(pinnedTo cpus: CPUSet, _ body: @escaping () -> Void) {
    final class Job { let body: () -> Void; let cpus: CPUSet; init(_ b: @escaping () -> Void, _ c: CPUSet) { body = b; cpus = c } }
    var t = pthread_t()
    let job = Unmanaged.passRetained(Job(body, cpus)).toOpaque()
    pthread_create(&t, nil, { raw in
        let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
        pin(toCPUs: job.cpus)
        job.body()
        return nil
    }, job)
    pthread_join(t, nil)
}

/// Placement of blocks: pages on each node (kernel) and blocks whose
/// `node(of:)` differs from `expected`.
struct Tally {
    var pagesOnNode = [Int](repeating: 0, count: 64)
    var notPresent = 0
    var wrongAnswers = 0
    var present: Int { pagesOnNode.reduce(0, +) }
    func percent(onNode n: Int) -> Double { present == 0 ? 0 : 100 * Double(pagesOnNode[n]) / Double(present) }

    /// The last physical page asked about: small blocks share pages, and each
    /// page is counted (and asked about) once.
    var lastPage: UInt = 0

    mutating func add(_ heap: Heap, _ p: UnsafeMutableRawPointer, _ bytes: Int, expected: Int) {
        if heap.node(of: p) != expected { wrongAnswers += 1 }
        let pageSize = UInt(sysconf(Int32(_SC_PAGESIZE)))
        var start = UInt(bitPattern: p)
        let end = start + UInt(bytes)
        if start & ~(pageSize - 1) == lastPage { start = lastPage + pageSize }
        guard start < end else { return }
        lastPage = (end - 1) & ~(pageSize - 1)
        switch heap.verifyPlacement(UnsafeRawPointer(bitPattern: start)!, byteCount: Int(end - start)) {
        case .success(let r):
            for (n, c) in r.pagesOnNode.enumerated() { pagesOnNode[n] += c }
            notPresent += r.notPresent
        case .failure(let e):
            print("FAIL: move_pages: \(e)"); exit(1)
        }
    }
}

let topology = SystemTopology.current
let memoryNodes = topology.memoryNodes
let cpuNodes = topology.onlineNodes.filter { topology.hasCPUs($0) }
print("topology: nodes \(topology.onlineNodes), with memory \(memoryNodes), with CPUs \(cpuNodes)")
check(memoryNodes.count >= 2, "at least two nodes with memory (got \(memoryNodes))")
var table: [(String, Int, Double, Int)] = []   // check, node, % on node, pages

let sizes = [64, 1000, 16 << 10, 200_000, 4 << 20]
/// Allocates and touches blocks of every size: about 40 MiB.
func allocateMix(_ heap: Heap) -> [(UnsafeMutableRawPointer, Int)] {
    var blocks: [(UnsafeMutableRawPointer, Int)] = []
    for size in sizes {
        let count = size >= 1 << 20 ? 4 : max(8, (6 << 20) / size)
        for i in 0..<count {
            let p = try! heap.allocate(byteCount: size)
            memset(p, Int32(i & 0xFF), size)
            blocks.append((p, size))
        }
    }
    return blocks
}

// 1. .automatic: each node's threads get that node's memory.
let automatic = try! Heap(configuration: .init(scavenging: .disabled))
for node in cpuNodes where topology.hasMemory(node) {
    var tally = Tally()
    var blocks: [(UnsafeMutableRawPointer, Int)] = []
    onThread(pinnedTo: topology.cpus(of: node)) {
        blocks = allocateMix(automatic)
        for (p, size) in blocks { tally.add(automatic, p, size, expected: node) }
    }
    table.append(("automatic", node, tally.percent(onNode: node), tally.present))
    check(tally.percent(onNode: node) >= 99, "automatic: thread on node \(node): \(tally.percent(onNode: node))% of \(tally.present) pages on node \(node)")
    check(tally.wrongAnswers == 0, "automatic: node(of:) differs from node \(node) for \(tally.wrongAnswers) blocks")
    for (p, _) in blocks { automatic.deallocate(p) }
}

// 2. Cross-node frees: node A allocates, node B frees.
if cpuNodes.count >= 2 {
    let (a, b) = (cpuNodes[0], cpuNodes[1])
    let heap = try! Heap(configuration: .init(scavenging: .disabled))
    var blocks: [UnsafeMutableRawPointer] = []
    onThread(pinnedTo: topology.cpus(of: a)) {
        for i in 0..<20_000 {
            let p = try! heap.allocate(byteCount: 48)
            p.storeBytes(of: UInt64(i), as: UInt64.self)
            blocks.append(p)
        }
        heap.flushThreadCache()
    }
    let before = heap.statistics
    let inUseA = before.nodes.first { $0.id == a }?.inUseBytes ?? 0
    check(inUseA >= 20_000 * 48, "cross-node: node \(a) has \(inUseA) bytes in use after allocating 960000")
    onThread(pinnedTo: topology.cpus(of: b)) {
        for (i, p) in blocks.enumerated() {
            if p.load(as: UInt64.self) != UInt64(i) { print("FAIL: block \(i) corrupted"); exit(1) }
            heap.deallocate(p)
        }
        heap.flushThreadCache()
    }
    let after = heap.statistics
    check(after.liveObjects == 0, "cross-node: \(after.liveObjects) objects still live")
    let nodeA = after.nodes.first { $0.id == a }, nodeB = after.nodes.first { $0.id == b }
    // At most the 48 B class's kept empty spans (one-page spans) stay in use on node A.
    let kept = CentralList.retainedEmptyLimit(pagesPerSpan: SizeClasses.pages(ofClass: SizeClasses.sizeClass(for: 48)))
        * SizeClasses.pages(ofClass: SizeClasses.sizeClass(for: 48)) * SizeClasses.pageSize
    check((nodeA?.inUseBytes ?? 0) <= kept, "cross-node: node \(a) still has \(nodeA?.inUseBytes ?? -1) bytes in use, more than the \(kept) its central list may keep (objects did not go home)")
    check((nodeB?.inUseBytes ?? 0) == 0, "cross-node: node \(b) has \(nodeB?.inUseBytes ?? -1) bytes in use; it allocated nothing")
    let sum = after.nodes.reduce(0) { $0 + $1.inUseBytes }
    check(sum == after.inUseBytes, "cross-node: per-node in-use bytes add to \(sum), total says \(after.inUseBytes)")
    table.append(("cross-node free", a, 100, 0))
}

// 3. A thread that moves to another node's CPUs follows it.
if cpuNodes.count >= 2 {
    let (a, b) = (cpuNodes[0], cpuNodes[1])
    let heap = try! Heap(configuration: .init(scavenging: .disabled))
    var tally = Tally()
    var blocks: [(UnsafeMutableRawPointer, Int)] = []
    onThread(pinnedTo: topology.cpus(of: a)) {
        _ = allocateMix(heap)
        pin(toCPUs: topology.cpus(of: b))
        blocks = allocateMix(heap)
        // Blocks after the move: the first refill of each class moves the cache.
        for (p, size) in blocks where size >= 16 << 10 { tally.add(heap, p, size, expected: b) }
    }
    table.append(("moved thread", b, tally.percent(onNode: b), tally.present))
    check(tally.percent(onNode: b) >= 99, "moved thread: \(tally.percent(onNode: b))% of pages on its new node \(b)")
    check((heap.statistics.nodes.first { $0.id == b }?.cachesMovedIn ?? 0) >= 1, "moved thread: no cache move counted on node \(b)")
}

// 4. .bind(n), from a thread on the first CPU node, for every node with memory.
for node in memoryNodes {
    let heap = try! Heap(configuration: .init(numaPolicy: .bind(node: node), scavenging: .disabled))
    var tally = Tally()
    onThread(pinnedTo: topology.cpus(of: cpuNodes[0])) {
        for (p, size) in allocateMix(heap) { tally.add(heap, p, size, expected: node) }
    }
    let label = topology.hasCPUs(node) ? "bind" : "bind (CPU-less)"
    table.append((label, node, tally.percent(onNode: node), tally.present))
    check(tally.percent(onNode: node) >= 99, "\(label): \(tally.percent(onNode: node))% of \(tally.present) pages on node \(node)")
    check(tally.wrongAnswers == 0, "\(label): node(of:) differs from \(node) for \(tally.wrongAnswers) blocks")
    let nodeStats: HeapStatistics.Node? = heap.statistics.nodes.first { $0.id == node }
    let bindFailures: Int = nodeStats?.bindFailures ?? 1
    check(bindFailures == 0, "\(label): mbind to node \(node) failed")
}
do {
    let bad = memoryNodes.max()! + 1
    do {
        _ = try Heap(configuration: .init(numaPolicy: .bind(node: bad)))
        check(false, "bind to node \(bad) (no such node) did not throw")
    } catch {
        check(error == HeapError.invalidNode(bad), "bind to node \(bad): threw \(error)")
    }
}

// 5. .interleave: spans over every node with memory, each where node(of:) says.
do {
    let heap = try! Heap(configuration: .init(numaPolicy: .interleave, scavenging: .disabled))
    var perNode = [Int](repeating: 0, count: 64)
    var misplaced = 0, pages = 0
    onThread(pinnedTo: topology.cpus(of: cpuNodes[0])) {
        for i in 0..<(8 * memoryNodes.count) {
            let p = try! heap.allocate(byteCount: 1 << 20)
            memset(p, Int32(i), 1 << 20)
            let n = heap.node(of: p)!
            perNode[n] += 1
            if case .success(let r) = heap.verifyPlacement(p, byteCount: 1 << 20) {
                pages += r.presentPages
                misplaced += r.presentPages - (n < r.pagesOnNode.count ? r.pagesOnNode[n] : 0)
            }
        }
    }
    for node in memoryNodes {
        check(perNode[node] == 8, "interleave: \(perNode[node]) of \(8 * memoryNodes.count) blocks on node \(node), want 8")
    }
    let ok = pages == 0 ? 0 : 100 * Double(pages - misplaced) / Double(pages)
    table.append(("interleave", -1, ok, pages))
    check(ok >= 99, "interleave: \(ok)% of pages where node(of:) says")
}

// 6. Per-node scavenging: the background worker keeps each node to its own
//    goal. The first memory node frees 1 of its 16 blocks (within its goal:
//    32 MiB retained ≤ 30 MiB in use × 1.1),
//    the second frees all of its blocks; the kernel must then show the second
//    node's freed pages gone and the first node's still there.
do {
    let heap = try! Heap(configuration: .init(numaPolicy: .interleave, scavenging: .background(retainExtraPercent: 10)))
    let blockBytes = 2 << 20
    var byNode: [Int: [UnsafeMutableRawPointer]] = [:]
    onThread(pinnedTo: topology.cpus(of: cpuNodes[0])) {
        for i in 0..<(16 * memoryNodes.count) {
            let p = try! heap.allocate(byteCount: blockBytes)
            memset(p, Int32(i & 0x7f), blockBytes)
            byNode[heap.node(of: p)!, default: []].append(p)
        }
    }
    let (a, b) = (memoryNodes[0], memoryNodes[1])
    let keptFree = Array(byNode[a, default: []].prefix(1)), releasedBlocks = byNode[b, default: []]
    check(keptFree.count == 1 && releasedBlocks.count == 16, "per-node scavenging: blocks per node \(byNode.mapValues(\.count))")
    for p in keptFree { heap.deallocate(p) }
    for p in releasedBlocks { heap.deallocate(p) }
    heap.flushThreadCache()
    let idleA = heap.statistics.nodes.first { $0.id == a }?.idleBytes ?? -1
    var waited = 0
    while (heap.statistics.nodes.first { $0.id == b }?.idleBytes ?? 0) > 0 && waited < 10_000 {
        usleep(10_000)
        waited += 10
    }
    let s = heap.statistics
    let nodeA = s.nodes.first { $0.id == a }, nodeB = s.nodes.first { $0.id == b }
    print("per-node scavenging: after \(waited) ms node \(a) idle \(nodeA?.idleBytes ?? -1) B (was \(idleA)), released \(nodeA?.releasedBytes ?? -1) B; node \(b) idle \(nodeB?.idleBytes ?? -1) B, released \(nodeB?.releasedBytes ?? -1) B")
    check(nodeB?.idleBytes == 0, "per-node scavenging: node \(b) still has \(nodeB?.idleBytes ?? -1) idle bytes after \(waited) ms")
    check(nodeA?.idleBytes == idleA, "per-node scavenging: node \(a)'s idle bytes went from \(idleA) to \(nodeA?.idleBytes ?? -1) (within its own goal)")
    // The kernel's word: node b's freed pages are gone, node a's are resident on node a.
    var goneB = 0, pagesB = 0, residentA = 0, pagesA = 0
    for p in releasedBlocks {
        // Released pages are not present (ENOENT) or, for some kernels, not
        // mapped at all (EFAULT: counted as unknown).
        if case .success(let r) = heap.verifyPlacement(p, byteCount: blockBytes) { goneB += r.notPresent + r.unknown; pagesB += r.pages }
    }
    for p in keptFree {
        if case .success(let r) = heap.verifyPlacement(p, byteCount: blockBytes) {
            residentA += a < r.pagesOnNode.count ? r.pagesOnNode[a] : 0
            pagesA += r.pages
        }
    }
    print("per-node scavenging: node \(b): \(goneB) of \(pagesB) freed pages released to the kernel; node \(a): \(residentA) of \(pagesA) freed pages still resident there")
    check(pagesB > 0 && goneB == pagesB, "per-node scavenging: \(pagesB - goneB) of node \(b)'s \(pagesB) freed pages still resident")
    check(pagesA > 0 && residentA == pagesA, "per-node scavenging: only \(residentA) of node \(a)'s \(pagesA) freed pages still resident")
    for p in byNode[a, default: []].dropFirst(1) { heap.deallocate(p) }
    for n in memoryNodes.dropFirst(2) { for p in byNode[n, default: []] { heap.deallocate(p) } }
}

func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
func percentText(_ p: Double) -> String {
    let hundredths = Int((p * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)%"
}
print("\ncheck              node  on node   pages")
for (label, node, percent, pages) in table {
    let n: String = node < 0 ? "all" : String(node)
    print(pad(label, 18) + " " + pad(n, 5) + " " + pad(percentText(percent), 9) + " " + String(pages))
}
if failures.isEmpty {
    print("\nall NUMA guest checks passed (\(memoryNodes.count) nodes with memory)")
} else {
    print("\n\(failures.count) NUMA guest check(s) failed")
    exit(1)
}
