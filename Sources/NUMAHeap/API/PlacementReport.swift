import Platform

/// Where the kernel put the pages of a range, as `move_pages(2)` reports them:
/// the check behind ``Heap/verifyPlacement(_:byteCount:)``. ``Heap/node(of:)``
/// says where the heap *meant* a block to be (its arena's node); this says
/// where its pages *are*.
public struct PlacementReport: Sendable, Equatable, CustomStringConvertible {
    /// Physical pages examined.
    public var pages: Int
    /// Pages not yet touched (no physical page: `-ENOENT`).
    public var notPresent: Int
    /// Pages the kernel could not report (`-EFAULT` and other errors).
    public var unknown: Int
    /// `pagesOnNode[n]`: present pages on node `n`.
    public var pagesOnNode: [Int]

    /// Pages that are present (touched).
    public var presentPages: Int { pagesOnNode.reduce(0, +) }

    /// The share of present pages on `node`, 0…1 (0 when none is present).
    public func fraction(onNode node: Int) -> Double {
        let present = presentPages
        guard present > 0, node >= 0, node < pagesOnNode.count else { return 0 }
        return Double(pagesOnNode[node]) / Double(present)
    }

    public var description: String {
        let nodes = pagesOnNode.enumerated().filter { $0.element > 0 }.map { "node \($0.offset): \($0.element)" }
        return "\(pages) pages (\(nodes.joined(separator: ", "))\(notPresent > 0 ? ", \(notPresent) not touched" : "")\(unknown > 0 ? ", \(unknown) unknown" : ""))"
    }

    /// Asks the kernel about every physical page of `[pointer, pointer + byteCount)`.
    /// Fails only when `move_pages` itself fails (e.g. `ENOSYS` on a kernel
    /// without NUMA support).
    public static func of(_ pointer: UnsafeRawPointer, byteCount: Int) -> Result<PlacementReport, SystemError> {
        let pageSize = SystemMemory.physicalPageSize
        let first = UInt(bitPattern: pointer) & ~UInt(pageSize - 1)
        let end = UInt(bitPattern: pointer) + UInt(max(byteCount, 1))
        let count = Int((end - first + UInt(pageSize) - 1) / UInt(pageSize))
        var report = PlacementReport(pages: count, notPresent: 0, unknown: 0, pagesOnNode: [])
        let batch = 4096
        var addresses = [UnsafeMutableRawPointer?](repeating: nil, count: min(count, batch))
        var status = [Int32](repeating: 0, count: min(count, batch))
        var done = 0
        while done < count {
            let n = min(batch, count - done)
            for i in 0..<n { addresses[i] = UnsafeMutableRawPointer(bitPattern: first + UInt((done + i) * pageSize)) }
            let result = addresses.withUnsafeMutableBufferPointer { a in
                status.withUnsafeMutableBufferPointer { s in
                    SystemMemory.nodesOfPages(a.baseAddress!, count: n, status: s.baseAddress!)
                }
            }
            if case .failure(let e) = result { return .failure(e) }
            for i in 0..<n {
                let s = Int(status[i])
                if s >= 0 {
                    if s >= report.pagesOnNode.count { report.pagesOnNode += Array(repeating: 0, count: s + 1 - report.pagesOnNode.count) }
                    report.pagesOnNode[s] += 1
                } else if s == -2 /* ENOENT */ {
                    report.notPresent += 1
                } else {
                    report.unknown += 1
                }
            }
            done += n
        }
        return .success(report)
    }
}

extension Heap {
    /// Asks the kernel (`move_pages(2)`) where the pages of a block are — the
    /// check that placement promised by ``node(of:)`` and the NUMA policy is
    /// real. Untouched pages are counted apart: the kernel places a page when
    /// it is first written.
    public func verifyPlacement(_ pointer: UnsafeRawPointer, byteCount: Int) -> Result<PlacementReport, SystemError> {
        PlacementReport.of(pointer, byteCount: byteCount)
    }
}
