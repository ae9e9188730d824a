import ArgumentParser
import Glibc

/// The results of one `numaheap bench` run: the table on stdout and the JSON file.
struct BenchReport {
    struct Row {
        var name: String
        var label: String
        /// Nanoseconds per pair, per allocator (in `allocators` order), one per round.
        var samples: [[Double]]
        var medians: [Double] { samples.map(benchMedian) }
    }

    var allocators: [AllocatorKind]
    var notes: [String]
    var duration: Double
    var rounds: Int
    var threads: Int
    var batchObjects: Int
    var batchMeanSize = 0.0
    var rows: [Row] = []
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
    }

    // MARK: Table

    func table() -> String {
        var out = "numaheap bench — \(date), \(machine)\n"
        out += "median of \(rounds) round\(rounds == 1 ? "" : "s"), \(benchFixed(duration, 2)) s per measurement, allocators interleaved\n"
        for note in notes { out += "  \(note)\n" }
        let width = 16
        if !rows.isEmpty {
            out += "\nns per allocate+free pair, per thread (ratio to glibc; below 1.00 is faster)\n"
            out += benchPad("workload", 26) + allocators.map { benchLeftPad($0.rawValue, width) }.joined() + "\n"
            for row in rows {
                var line = benchPad(row.label, 26)
                for c in allocators.indices {
                    let r = ratio(row, c).map { " (\(benchFixed($0, $0 < 0.1 ? 3 : 2)))" } ?? ""
                    line += benchLeftPad(benchFixed(row.medians[c], 1) + r, width)
                }
                out += line + "\n"
            }
            if rows.contains(where: { $0.name.hasPrefix("batch") }) {
                out += "batch: \(batchObjects) live blocks, 16 B–128 KiB (mean \(benchFixed(batchMeanSize, 0)) B), freed in random order\n"
            }
        }
        if let first = rss.first?.1 {
            out += "\npeak RSS, \(first.objects) live blocks of \(first.size) B (one child process per allocator)\n"
            out += benchPad("", 26) + rss.map { benchLeftPad($0.0.rawValue, width) }.joined() + "\n"
            let lines: [(String, (RSSResult) -> String)] = [
                ("peak RSS growth, MiB", { benchFixed(Double($0.peakGrowthKiB) / 1024, 1) }),
                ("bytes per block", { benchFixed($0.bytesPerObject, 1) }),
                ("RSS after free, MiB", { benchFixed(Double($0.afterFreeKiB - $0.baselineKiB) / 1024, 1) }),
                ("fill, ns per allocate", { benchFixed($0.fillNanoseconds, 1) }),
            ]
            for (title, value) in lines {
                out += benchPad(title, 26) + rss.map { benchLeftPad(value($0.1), width) }.joined() + "\n"
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
        j += "  \"duration_s\": \(duration),\n  \"rounds\": \(rounds),\n  \"threads\": \(threads),\n"
        j += "  \"allocators\": [\(allocators.map { benchQuote($0.rawValue) }.joined(separator: ", "))],\n"
        j += "  \"notes\": [\(notes.map(benchQuote).joined(separator: ", "))],\n"
        j += "  \"batch\": {\"objects\": \(batchObjects), \"mean_size\": \(batchMeanSize)},\n"
        j += "  \"results\": [\n"
        var entries: [String] = []
        for row in rows {
            for c in allocators.indices {
                var e = "    {\"workload\": \(benchQuote(row.name)), \"allocator\": \(benchQuote(allocators[c].rawValue)), "
                e += "\"ns_per_pair\": \(row.medians[c]), \"rounds_ns_per_pair\": [\(row.samples[c].map { "\($0)" }.joined(separator: ", "))]"
                if let r = ratio(row, c) { e += ", \"ratio_to_glibc\": \(r)" }
                entries.append(e + "}")
            }
        }
        j += entries.joined(separator: ",\n") + "\n  ],\n  \"rss\": [\n"
        j += rss.map { kind, r in
            "    {\"allocator\": \(benchQuote(kind.rawValue)), \"objects\": \(r.objects), \"size\": \(r.size), "
                + "\"baseline_kib\": \(r.baselineKiB), \"peak_kib\": \(r.peakKiB), \"after_free_kib\": \(r.afterFreeKiB), "
                + "\"peak_growth_kib\": \(r.peakGrowthKiB), \"bytes_per_object\": \(r.bytesPerObject), "
                + "\"fill_ns_per_allocate\": \(r.fillNanoseconds), \"peak_reset\": \(r.peakReset)}"
        }.joined(separator: ",\n")
        j += "\n  ]\n}\n"
        guard let file = fopen(path, "w") else {
            throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        guard fputs(j, file) >= 0 else { throw ValidationError("cannot write \(path)") }
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
