import Glibc

// The chart `numaheap bench --svg PATH` writes: one self-contained SVG, text
// written by hand (no dependency, no script, no external font or style), so
// that it renders the same in a browser, on GitHub and in an editor preview.
//
// Top: per node and workload, one horizontal bar per allocator, the ratio of
// its ns per pair to glibc's on a log scale centred on 1 (left of the line is
// faster), labelled with the ns and NUMAHeap's placement. Bottom: the memory
// access matrix as heat tables (memory node × CPU node), one per allocator,
// shaded by latency relative to the table's fastest cell.

struct BenchChart {
    let report: BenchReport

    static let colours: [AllocatorKind: String] = [
        .numaheap: "#d9480f", .glibc: "#495057", .jemalloc: "#1971c2", .tcmalloc: "#2f9e44", .mimalloc: "#ae3ec9",
    ]

    /// Wide enough for the heat tables (one per allocator, a column per CPU node).
    var width: Double {
        max(960, 12 + Double(report.accessSources.count) * (accessRowLabel + Double(report.accessCPUNodes.count) * accessCellWidth + 30))
    }
    let accessRowLabel = 90.0, accessCellWidth = 110.0
    let labelWidth = 210.0
    /// Ratios beyond 1/limit…limit are drawn at the edge (marked with an arrow).
    let limit = 32.0
    let barHeight = 7.0
    let barGap = 2.0

    /// The column every ratio is taken against: glibc, or the first allocator without it.
    var baseColumn: Int { report.glibcColumn ?? 0 }

    func svg() -> String {
        var body = ""
        var y = 20.0
        body += text(12, y, "numaheap bench — \(report.date)", size: 15, weight: "bold")
        y += 18
        body += text(12, y, report.machine, size: 11, fill: "#495057")
        if let t = report.topology {
            y += 15
            body += text(12, y, t.line, size: 11, fill: "#495057")
        }
        y += 15
        body += text(12, y, "median of \(report.rounds) rounds, \(benchFixed(report.perMeasurement * 1000, 0)) ms per measurement; threads pinned to the node's CPUs, NUMAHeap bound to the node",
                     size: 11, fill: "#495057")
        if !report.rows.isEmpty {
            y += 28
            body += allocationBars(top: y, bottom: &y)
        }
        if !report.access.isEmpty {
            y += 20
            body += accessTables(top: y, bottom: &y)
        }
        y += 16
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(y))\" viewBox=\"0 0 \(Int(width)) \(Int(y))\" "
            + "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n" + body + "</svg>\n"
    }

    // MARK: Allocation bars

    private func allocationBars(top: Double, bottom: inout Double) -> String {
        let allocators = report.allocators
        let base = allocators[baseColumn].rawValue
        var s = text(12, top, "ns per allocate+free pair, as a ratio to \(base) (log scale; left of the line is faster)", size: 13, weight: "bold")
        // Legend.
        var x = 12.0
        let legendY = top + 18
        for kind in allocators {
            s += "<rect x=\"\(f(x))\" y=\"\(f(legendY - 9))\" width=\"10\" height=\"10\" fill=\"\(Self.colours[kind] ?? "#868e96")\"/>\n"
            s += text(x + 14, legendY, kind.rawValue, size: 11)
            x += 24 + Double(kind.rawValue.count) * 7
        }
        // Axis: ratio 1/limit … limit over the plot's width.
        let plotLeft = labelWidth, plotRight = min(width, 960) - 90
        let centre = (plotLeft + plotRight) / 2
        let half = (plotRight - plotLeft) / 2
        func xOf(_ ratio: Double) -> Double {
            centre + half * max(-1, min(1, log2(max(ratio, 1e-9)) / log2(limit)))
        }
        var y = legendY + 18
        let ticks: [Double] = [1 / 32, 1 / 8, 1 / 2, 1, 2, 8, 32]
        let groupHeight = Double(allocators.count) * (barHeight + barGap) + 8
        let plotHeight = Double(report.rows.count) * groupHeight + Double(benchUnique(report.rows.map(\.node)).count) * 18
        for t in ticks {
            let tx = xOf(t)
            s += "<line x1=\"\(f(tx))\" y1=\"\(f(y))\" x2=\"\(f(tx))\" y2=\"\(f(y + plotHeight))\" stroke=\"\(t == 1 ? "#212529" : "#dee2e6")\" stroke-width=\"1\"/>\n"
            s += text(tx, y - 3, t < 1 ? "1/\(Int((1 / t).rounded()))" : "\(Int(t))×", size: 10, anchor: "middle", fill: "#495057")
        }
        var lastNode: Int? = nil
        for row in report.rows {
            if row.node != lastNode {
                y += 14
                s += text(12, y, "node \(row.node)", size: 12, weight: "bold")
                y += 4
                lastNode = row.node
            }
            let medians = row.medians
            let baseValue = medians[baseColumn]
            s += text(12, y + 10, row.label, size: 11)
            if let p = row.placement { s += text(labelWidth - 8, y + 10, "placed \(p.text)", size: 10, anchor: "end", fill: "#495057") }
            for (c, kind) in allocators.enumerated() {
                let by = y + Double(c) * (barHeight + barGap)
                let ratio = baseValue > 0 ? medians[c] / baseValue : 1
                let x1 = xOf(ratio)
                let left = min(x1, centre), w = max(1, abs(x1 - centre))
                s += "<rect x=\"\(f(left))\" y=\"\(f(by))\" width=\"\(f(w))\" height=\"\(f(barHeight))\" fill=\"\(Self.colours[kind] ?? "#868e96")\">"
                s += "<title>\(escape("\(kind.rawValue), node \(row.node), \(row.label): \(benchTime(medians[c])) ns (\(benchRatio(ratio)))"))</title></rect>\n"
                let clipped = ratio > limit || ratio < 1 / limit
                let labelX = ratio >= 1 ? max(x1, centre) + 3 : min(x1, centre) - 3
                s += text(labelX, by + barHeight - 0.5, "\(benchTime(medians[c]))\(clipped ? " ▸" : "")", size: 8,
                          anchor: ratio >= 1 ? "start" : "end", fill: "#343a40")
            }
            y += groupHeight
        }
        bottom = y
        return s
    }

    // MARK: Access heat tables

    private func accessTables(top: Double, bottom: inout Double) -> String {
        let memories = report.accessMemoryNodes, cpus = report.accessCPUNodes
        var s = text(12, top, "memory access, \(report.bufferBytes >> 20) MiB buffer: sequential read GB/s, dependent-load ns (shade: latency ÷ the table's lowest)",
                     size: 13, weight: "bold")
        let cellW = accessCellWidth, cellH = 34.0, rowLabel = accessRowLabel
        var x = 12.0
        var maxY = top
        for source in report.accessSources {
            let cells = report.access.filter { $0.source == source }
            let best = cells.map { benchMedian($0.latency) }.filter { $0 > 0 }.min() ?? 1
            var y = top + 22
            s += text(x, y, source.rawValue, size: 12, weight: "bold")
            y += 8
            for (j, cpu) in cpus.enumerated() {
                s += text(x + rowLabel + Double(j) * cellW + cellW / 2, y + 10, "CPU node \(cpu)", size: 10, anchor: "middle", fill: "#495057")
            }
            y += 14
            for memory in memories {
                s += text(x, y + cellH / 2 + 4, "memory node \(memory)", size: 10, fill: "#495057")
                for (j, cpu) in cpus.enumerated() {
                    let cx = x + rowLabel + Double(j) * cellW
                    guard let cell = report.accessCell(source, memory: memory, cpu: cpu) else { continue }
                    let latency = benchMedian(cell.latency), bandwidth = benchMedian(cell.bandwidth)
                    s += "<rect x=\"\(f(cx))\" y=\"\(f(y))\" width=\"\(f(cellW - 2))\" height=\"\(f(cellH - 2))\" fill=\"\(heat(latency / best))\"/>\n"
                    s += text(cx + cellW / 2, y + 13, "\(benchFixed(bandwidth, 1)) GB/s", size: 11, anchor: "middle")
                    s += text(cx + cellW / 2, y + 26, "\(benchFixed(latency, 1)) ns", size: 11, anchor: "middle")
                }
                y += cellH
            }
            let placed = memories.compactMap { m in report.bufferPlacement(source, memory: m).map { "node \(m): \($0.text)" } }
            if !placed.isEmpty {
                y += 12
                s += text(x, y, "placed " + placed.joined(separator: ", "), size: 10, fill: "#495057")
            }
            maxY = max(maxY, y)
            x += rowLabel + Double(cpus.count) * cellW + 30
        }
        bottom = maxY + 8
        return s
    }

    /// White at 1× the best latency to red at 2× and beyond.
    private func heat(_ relative: Double) -> String {
        let t = max(0, min(1, relative - 1))
        let g = Int(245 - 150 * t), b = Int(240 - 170 * t)
        return "rgb(250,\(g),\(b))"
    }

    // MARK: Text

    private func text(_ x: Double, _ y: Double, _ content: String, size: Int, weight: String? = nil,
                      anchor: String? = nil, fill: String = "#212529") -> String {
        var s = "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\" fill=\"\(fill)\""
        if let weight { s += " font-weight=\"\(weight)\"" }
        if let anchor { s += " text-anchor=\"\(anchor)\"" }
        return s + ">\(escape(content))</text>\n"
    }

    private func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    private func f(_ v: Double) -> String { benchFixed(v, 1) }
}
