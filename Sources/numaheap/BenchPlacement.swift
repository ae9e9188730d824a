import Glibc
import NUMAHeap
import Platform

// Placement of an allocation workload's memory: after a node's timed rounds,
// the same thread (pinned to the node's CPUs) allocates a sample of blocks of
// the workload's sizes from the same allocator, writes every page of each, and
// asks the kernel (`move_pages(2)`, through `verifyPlacement` for NUMAHeap)
// where those pages are. The timed loops are not touched: a probe inside them
// would be measured. Placement depends on the heap's policy and the thread's
// node, not on timing, so the probe sees what the loops got.

/// Pages of a sample, by where the kernel put them.
struct PlacementFigures {
    /// Pages written and reported present.
    var present = 0
    /// Of those, pages on the intended node.
    var onNode = 0
    /// Pages the kernel reported untouched or could not report.
    var missing = 0
    /// Blocks sampled, and bytes.
    var blocks = 0
    var bytes = 0
    /// Set when `move_pages` failed (e.g. ENOSYS: a kernel without NUMA).
    var error: String?

    var fraction: Double? { present > 0 && error == nil ? Double(onNode) / Double(present) : nil }

    mutating func add(_ report: PlacementReport, node: Int) {
        present += report.presentPages
        onNode += node < report.pagesOnNode.count ? report.pagesOnNode[node] : 0
        missing += report.notPresent + report.unknown
    }

    /// "100.0%", or why there is no figure.
    var text: String {
        if error != nil { return "n/a" }
        return fraction.map { benchFixed($0 * 100, 1) + "%" } ?? "-"
    }
}

/// Allocates a sample of blocks — sizes taken in turn from `sizes`, until
/// `maxBytes` or `maxBlocks` — from one allocator and reports where their pages are.
struct PlacementProbe: AllocatorConsumer {
    let sizes: [Int]
    let node: Int
    var maxBytes = 2 << 20
    var maxBlocks = 16_384

    func consume<A: BenchAllocator>(_ a: A) -> PlacementFigures {
        let page = SystemMemory.physicalPageSize
        var blocks: [(address: UInt, size: Int)] = []
        blocks.reserveCapacity(maxBlocks)
        var bytes = 0
        while bytes < maxBytes && blocks.count < maxBlocks {
            let size = sizes[blocks.count % sizes.count]
            let p = a.allocate(size)
            // Write every page of the block (and its last byte): a page is
            // placed when first written, and a user writes what it allocates.
            var offset = 0
            while offset < size { p.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self); offset += page }
            p.storeBytes(of: 1, toByteOffset: size - 1, as: UInt8.self)
            blocks.append((UInt(bitPattern: p), size))
            bytes += size
        }
        // Small blocks share pages: merge the blocks' page ranges so that each
        // page is asked about (and counted) once, in few system calls.
        var ranges: [(first: UInt, end: UInt)] = blocks.map {
            ($0.address & ~UInt(page - 1), ($0.address + UInt($0.size) + UInt(page - 1)) & ~UInt(page - 1))
        }
        ranges.sort { $0.first < $1.first }
        var merged: [(first: UInt, end: UInt)] = []
        for r in ranges {
            if let last = merged.last, r.first <= last.end { merged[merged.count - 1].end = max(last.end, r.end) } else { merged.append(r) }
        }
        var figures = PlacementFigures(blocks: blocks.count, bytes: bytes)
        for r in merged {
            switch a.placement(of: UnsafeRawPointer(bitPattern: r.first)!, byteCount: Int(r.end - r.first)) {
            case .success(let report): figures.add(report, node: node)
            case .failure(let e): figures.error = "\(e)"
            }
            if figures.error != nil { break }
        }
        for b in blocks { a.deallocate(UnsafeMutableRawPointer(bitPattern: b.address)!) }
        return figures
    }
}
