import ArgumentParser
import Glibc

/// The results of one `numaheap bench` run: the table on stdout, the JSON file
/// and the chart (BenchChart.swift).
struct BenchReport {
    struct Row {
        /// The node the workload ran on (threads pinned, NUMAHeap bound).
        var node: Int
        var name: String
        var label: String
        /// Nanoseconds per pair, per allocator (in `allocators` order), one per round.
        var samples: [[Double]]
        /// NUMAHeap's pages on `node`, from the placement probe.
        var placement: PlacementFigures?
        var medians: [Double] { samples.map(benchMedian) }
    }

    var allocators: [AllocatorKind]
    var notes: [String]
    var duration: Double
    var rounds: Int
    var threads: Int
    var batchObjects: Int
    var batchMeanSize = 0.0
    /// Live blocks of each batch row measured.
    var batchCounts: [Int] = []
    /// Seconds each timed measurement ran, and how many there were.
    var perMeasurement = 0.0
    var measurements = 0
    var nodes: [BenchNode] = []
    var topology: BenchTopologySummary?
    var rows: [Row] = []
    var bufferBytes = 0
    var accessBuffers: [AccessBuffer] = []
    var access: [AccessResult] = []
    var rss: [(AllocatorKind, RSSResult)] = []
    let date = BenchReport.utcDate()
    let machine = BenchReport.machineDescription()

    var glibcColumn: Int? { allocators.firstIndex(of: .glibc) }

    func ratio(_ row: Row, _ column: Int) -> Double? {
        guard let g = glibcColumn else { return nil }
        let base = row.medians[g]
        return base > 0 ? row.medians[column] / base : nil
    }

    func progressLine(_ row: Row) -> String {
        row.label + ": " + allocators.indices.map { "\(allocators[$0].rawValue) \(benchFixed(row.medians[$0], 1)) ns" }.joined(separator: ", ")
            + (row.placement.map { ", NUMAHeap placed \($0.text)" } ?? "")
    }

    /// Memory-node rows and CPU-node columns of the access matrix.
    var accessMemoryNodes: [Int] { benchUnique(access.map(\.memoryNode)) }
    var accessCPUNodes: [Int] { benchUnique(access.map(\.cpuNode)) }
    var accessSources: [AccessSource] { benchUnique(access.map(\.source)) }

    func accessCell(_ source: AccessSource, memory: Int, cpu: Int) -> AccessResult? {
        access.first { $0.source == source && $0.memoryNode == memory && $0.cpuNode == cpu }
    }

    func bufferPlacement(_ source: AccessSource, memory: Int) -> PlacementFigures? {
        accessBuffers.first { $0.source == source && $0.memoryNode == memory }?.placement
    }

    // MARK: Table

    /// Fits 100 columns with five allocators: a 22-column label (node and
    /// workload), 14 per allocator, 8 for the placement.
    func table() -> String {
        var out = "numaheap bench — \(date), \(machine)\n"
        if let topology { out += topology.line + "\n" }
        if measurements > 0 {
            out += "median of \(rounds) round\(rounds == 1 ? "" : "s"); \(benchFixed(duration, 1)) s of measuring shared by "
                + "\(measurements) measurements (\(benchFixed(perMeasurement * 1000, 0)) ms each); allocators interleaved\n"
        }
        for note in notes { out += "  \(note)\n" }
        let width = 14
        if !rows.isEmpty {
            out += "\nns per allocate+free pair, per thread" + (glibcColumn == nil ? ";\n" : " (ratio to glibc; below 1.00 is faster);\n")
            out += "placed: NUMAHeap's written pages on the node (move_pages); cross×N: cross-thread free, N threads\n"
            out += benchPad("node workload", 22) + allocators.map { benchLeftPad($0.rawValue, width) }.joined() + benchLeftPad("placed", 8) + "\n"
            var lastNode: Int? = nil
            for row in rows {
                var line = benchPad((row.node == lastNode ? "" : "\(row.node)"), 5) + benchPad(row.label, 17)
                lastNode = row.node
                for c in allocators.indices {
                    let r = ratio(row, c).map { " (\(benchRatio($0)))" } ?? ""
                    line += benchLeftPad(benchTime(row.medians[c]) + r, width)
                }
                out += line + benchLeftPad(row.placement?.text ?? "", 8) + "\n"
            }
            if rows.contains(where: { $0.name.hasPrefix("batch") }) {
                out += "batch N: N live blocks (\(batchCounts.map(String.init).joined(separator: ", "))), 16 B–128 KiB (mean \(benchFixed(batchMeanSize, 0)) B), freed in random order\n"
            }
        }
        if !access.isEmpty {
            out += "\nmemory access, \(bufferBytes >> 20) MiB buffer on each memory node (row), read by a thread on each CPU node\n"
            out += "(column): sequential read GB/s | dependent-load ns (random pointer chase, one load per 64 B line)\n"
            let cpus = accessCPUNodes
            out += benchPad("memory on", 22) + cpus.map { benchLeftPad("CPU node \($0)", 19) }.joined() + benchLeftPad("placed", 8) + "\n"
            for memory in accessMemoryNodes {
                for source in accessSources {
                    guard cpus.contains(where: { accessCell(source, memory: memory, cpu: $0) != nil }) else { continue }
                    var line = benchPad("node \(memory) \(source.rawValue)", 22)
                    for cpu in cpus {
                        let cell = accessCell(source, memory: memory, cpu: cpu)
                        line += benchLeftPad(cell.map { benchFixed(benchMedian($0.bandwidth), 1) + " | " + benchFixed(benchMedian($0.latency), 1) } ?? "-", 19)
                    }
                    out += line + benchLeftPad(bufferPlacement(source, memory: memory)?.text ?? "", 8) + "\n"
                }
            }
            out += accessSources.map {
                $0 == .numaheap ? "NUMAHeap: a block from the heap bound to the node" : "glibc: posix_memalign, first written by a thread on the node"
            }.joined(separator: "; ") + "\n"
        }
        if let first = rss.first?.1 {
            out += "\npeak RSS, \(first.objects) live blocks of \(first.size) B (one child process per allocator, Heap.shared)\n"
            out += benchPad("", 22) + rss.map { benchLeftPad($0.0.rawValue, width) }.joined() + "\n"
            let lines: [(String, (RSSResult) -> String)] = [
                ("peak RSS growth, MiB", { benchFixed(Double($0.peakGrowthKiB) / 1024, 1) }),
                ("bytes per block", { benchFixed($0.bytesPerObject, 1) }),
                ("RSS after free, MiB", { benchFixed(Double($0.afterFreeKiB - $0.baselineKiB) / 1024, 1) }),
                ("fill, ns per allocate", { benchFixed($0.fillNanoseconds, 1) }),
            ]
            for (title, value) in lines {
                out += benchPad(title, 22) + rss.map { benchLeftPad(value($0.1), width) }.joined() + "\n"
            }
            if rss.contains(where: { !$0.1.peakReset }) {
                out += "(peak from VmRSS: /proc/self/clear_refs could not reset VmHWM)\n"
            }
        }
        return out
    }

    // MARK: JSON

    func writeJSON(to path: String) throws {
        var j = "{\n"
        j += "  \"date\": \(benchQuote(date)),\n  \"machine\": \(benchQuote(machine)),\n"
        j += "  \"duration_s\": \(duration),\n  \"seconds_per_measurement\": \(perMeasurement),\n"
        j += "  \"rounds\": \(rounds),\n  \"threads\": \(threads),\n"
        j += "  \"allocators\": [\(allocators.map { benchQuote($0.rawValue) }.joined(separator: ", "))],\n"
        j += "  \"notes\": [\(notes.map(benchQuote).joined(separator: ", "))],\n"
        if let topology {
            j += "  \"topology\": {\"nodes\": [" + topology.nodes.map {
                "{\"node\": \($0.number), \"cpus\": [\($0.cpus.map(String.init).joined(separator: ", "))], \"memory_bytes\": \($0.memoryBytes)}"
            }.joined(separator: ", ") + "], \"distances\": [" + topology.distances.map { "[\($0.map(String.init).joined(separator: ", "))]" }.joined(separator: ", ") + "]},\n"
        }
        j += "  \"nodes\": [" + nodes.map {
            "{\"node\": \($0.number), \"cpu_node\": \($0.cpuNode), \"pinned_cpus\": [\($0.cpus.map(String.init).joined(separator: ", "))]}"
        }.joined(separator: ", ") + "],\n"
        j += "  \"batch\": {\"objects\": \(batchObjects), \"rows\": [\(batchCounts.map(String.init).joined(separator: ", "))], \"mean_size\": \(batchMeanSize)},\n"
        j += "  \"results\": [\n"
        var entries: [String] = []
        for row in rows {
            for c in allocators.indices {
                var e = "    {\"node\": \(row.node), \"workload\": \(benchQuote(row.name)), \"allocator\": \(benchQuote(allocators[c].rawValue)), "
                e += "\"ns_per_pair\": \(row.medians[c]), \"rounds_ns_per_pair\": [\(row.samples[c].map { "\($0)" }.joined(separator: ", "))]"
                if let r = ratio(row, c) { e += ", \"ratio_to_glibc\": \(r)" }
                if allocators[c] == .numaheap, let p = row.placement { e += ", \"placement\": \(p.json)" }
                entries.append(e + "}")
            }
        }
        j += entries.joined(separator: ",\n") + "\n  ],\n"
        j += "  \"memory_access\": {\"buffer_bytes\": \(bufferBytes), \"buffers\": [\n"
        j += accessBuffers.map {
            "    {\"allocator\": \(benchQuote($0.source.rawValue)), \"memory_node\": \($0.memoryNode), \"placement\": \($0.placement.json)}"
        }.joined(separator: ",\n")
        j += "\n  ], \"cells\": [\n"
        j += access.map { c in
            "    {\"allocator\": \(benchQuote(c.source.rawValue)), \"memory_node\": \(c.memoryNode), \"cpu_node\": \(c.cpuNode), "
                + "\"read_gb_per_s\": \(benchMedian(c.bandwidth)), \"rounds_read_gb_per_s\": [\(c.bandwidth.map { "\($0)" }.joined(separator: ", "))], "
                + "\"ns_per_load\": \(benchMedian(c.latency)), \"rounds_ns_per_load\": [\(c.latency.map { "\($0)" }.joined(separator: ", "))]}"
        }.joined(separator: ",\n")
        j += "\n  ]},\n  \"rss\": [\n"
        j += rss.map { kind, r in
            "    {\"allocator\": \(benchQuote(kind.rawValue)), \"objects\": \(r.objects), \"size\": \(r.size), "
                + "\"baseline_kib\": \(r.baselineKiB), \"peak_kib\": \(r.peakKiB), \"after_free_kib\": \(r.afterFreeKiB), "
                + "\"peak_growth_kib\": \(r.peakGrowthKiB), \"bytes_per_object\": \(r.bytesPerObject), "
                + "\"fill_ns_per_allocate\": \(r.fillNanoseconds), \"peak_reset\": \(r.peakReset)}"
        }.joined(separator: ",\n")
        j += "\n  ]\n}\n"
        try benchWriteText(j, to: path)
    }

    // MARK: Helpers

    static func utcDate() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M UTC", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func machineDescription() -> String {
        var names = utsname()
        uname(&names)
        let system = withUnsafeBytes(of: &names.sysname) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let release = withUnsafeBytes(of: &names.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let machine = withUnsafeBytes(of: &names.machine) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        var model = ""
        if let f = fopen("/proc/cpuinfo", "r") {
            defer { fclose(f) }
            var line = [CChar](repeating: 0, count: 512)
            while fgets(&line, Int32(line.count), f) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if text.hasPrefix("model name"), let colon = text.firstIndex(of: ":") {
                    model = String(text[text.index(after: colon)...]).benchTrimmingSpaces()
                    if model.hasSuffix("\n") { model.removeLast() }
                    break
                }
            }
        }
        let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return "\(system) \(release) \(machine), \(cpus) CPUs" + (model.isEmpty ? "" : " (\(model))")
    }
}

func benchMedian(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// `value` with `decimals` digits after the point (no Foundation).
func benchFixed(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let fraction = Int(scaled - Double(whole) * scale)
    var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        let digits = String(fraction)
        text += "." + String(repeating: "0", count: decimals - digits.count) + digits
    }
    return text
}

/// A time in ns: one decimal below 100, none above (so the columns stay narrow).
func benchTime(_ ns: Double) -> String { benchFixed(ns, ns < 100 ? 1 : 0) }

/// A ratio with two significant digits or more.
func benchRatio(_ r: Double) -> String { benchFixed(r, r < 0.1 ? 3 : r < 10 ? 2 : 1) }

func benchUnique<T: Equatable>(_ values: [T]) -> [T] {
    var out: [T] = []
    for v in values where !out.contains(v) { out.append(v) }
    return out
}

/// Writes `text` to `path`, replacing it.
func benchWriteText(_ text: String, to path: String) throws {
    guard let file = fopen(path, "w") else {
        throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    guard fputs(text, file) >= 0 else { throw ValidationError("cannot write \(path)") }
}

extension PlacementFigures {
    var json: String {
        var e = "{\"pages\": \(present), \"pages_on_node\": \(onNode), \"pages_missing\": \(missing), \"blocks\": \(blocks), \"bytes\": \(bytes)"
        if let f = fraction { e += ", \"fraction_on_node\": \(f)" }
        if let error { e += ", \"error\": \(benchQuote(error))" }
        return e + "}"
    }
}

func benchPad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(1, width - s.count)) }
func benchLeftPad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(1, width - s.count)) + s }

func benchQuote(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += "\\u00" + (u.value < 0x10 ? "0" : "") + String(u.value, radix: 16) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
