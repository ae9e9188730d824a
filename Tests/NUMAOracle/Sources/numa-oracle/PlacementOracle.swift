import CNUMA
import Glibc
import NUMAHeap
import Platform

/// Where the kernel put the pages in `pages` (numa_move_pages with no target
/// nodes: a query): a node number, or a negative errno (-ENOENT: not present).
func kernelNodes(of pages: [UnsafeMutableRawPointer]) -> [Int32]? {
    var addresses: [UnsafeMutableRawPointer?] = pages
    var status = [Int32](repeating: Int32.min, count: pages.count)
    let rc = numa_move_pages(0, UInt(pages.count), &addresses, nil, &status, 0)
    if rc != 0 {
        mismatch("numa_move_pages(0, \(pages.count), …, NULL, status, 0) returned \(rc), errno \(errno)")
        return nil
    }
    return status
}

/// For every node with memory: a `.bind(node:)` heap allocates about
/// `bytesPerNode` in small, medium and large blocks, touches them, and every
/// page is checked: on the bound node (the kernel), and where `Heap.node(of:)`
/// says its block is.
func checkPlacement(_ topology: SystemTopology, bytesPerNode: Int) {
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    // A third each in 64-byte objects, 16 KiB blocks and 1 MiB blocks.
    let mix = [(64, bytesPerNode / 3 / 64), (16 << 10, bytesPerNode / 3 / (16 << 10)), (1 << 20, max(1, bytesPerNode / 3 / (1 << 20)))]
    for node in topology.memoryNodes {
        let heap: Heap
        do {
            heap = try Heap(configuration: .init(numaPolicy: .bind(node: node), scavenging: .disabled))
        } catch {
            mismatch("node \(node): Heap(configuration: .init(numaPolicy: .bind(node: \(node)))) threw \(error)")
            continue
        }
        var blocks: [UnsafeMutableRawPointer] = []
        var pages: [UnsafeMutableRawPointer] = []
        var heapAnswers: [Int?] = []         // Heap.node(of:) of each page's block
        var seenPages = Set<UInt>()
        var wrongHeapAnswers = 0
        for (size, count) in mix {
            for i in 0..<count {
                let p: UnsafeMutableRawPointer
                do { p = try heap.allocate(byteCount: size) } catch {
                    mismatch("node \(node): allocate(byteCount: \(size)) threw \(error)")
                    break
                }
                memset(p, Int32(truncatingIfNeeded: i | 1), size)
                blocks.append(p)
                let answer = heap.node(of: p)
                if answer != node { wrongHeapAnswers += 1 }
                var page = UInt(bitPattern: p) & ~UInt(pageSize - 1)
                while page < UInt(bitPattern: p) + UInt(size) {
                    if seenPages.insert(page).inserted {
                        pages.append(UnsafeMutableRawPointer(bitPattern: page)!)
                        heapAnswers.append(answer)
                    }
                    page += UInt(pageSize)
                }
            }
        }
        guard let status = kernelNodes(of: pages) else { continue }
        var onNode = 0, notPresent = 0, agreeing = 0
        var elsewhere: [Int32: Int] = [:]
        for (i, s) in status.enumerated() {
            if s == Int32(node) { onNode += 1 } else if s < 0 { notPresent += 1 } else { elsewhere[s, default: 0] += 1 }
            if s >= 0, heapAnswers[i] == Int(s) { agreeing += 1 }
        }
        let percent = pages.isEmpty ? 0 : 100 * Double(onNode) / Double(pages.count)
        let agreement = pages.isEmpty ? 0 : 100 * Double(agreeing) / Double(pages.count)
        let rounded = (percent * 10).rounded() / 10, roundedAgreement = (agreement * 10).rounded() / 10
        print("bind(node: \(node)): \(blocks.count) blocks, \(pages.count) pages: \(rounded)% on node \(node)"
              + (elsewhere.isEmpty ? "" : ", elsewhere \(elsewhere.sorted { $0.key < $1.key }.map { "node \($0.key): \($0.value)" }.joined(separator: ", "))")
              + (notPresent > 0 ? ", \(notPresent) not present/error" : "")
              + "; Heap.node(of:) agrees with the kernel on \(roundedAgreement)% of pages")
        if percent < 99 {
            mismatch("bind(node: \(node)): only \(rounded)% of \(pages.count) pages on node \(node) (elsewhere: \(elsewhere), not present: \(notPresent))")
        }
        if wrongHeapAnswers > 0 {
            mismatch("bind(node: \(node)): Heap.node(of:) is not \(node) for \(wrongHeapAnswers) of \(blocks.count) blocks")
        }
        if agreement < 99 {
            mismatch("bind(node: \(node)): Heap.node(of:) agrees with the kernel on only \(roundedAgreement)% of pages")
        }
        for p in blocks { heap.deallocate(p) }
    }
}
