import ArgumentParser
import Glibc
import NUMAHeap

/// `numaheap bench-scavenger`: RSS over time for a phase-change workload — grow
/// to 1 GiB, shrink to 100 MiB, grow again, free everything — for NUMAHeap
/// (default configuration: background scavenger, the system's huge-page
/// setting), NUMAHeap with `transparentHugePages: .always`, and glibc, each in
/// a child process of this run (this executable again, with the hidden
/// `--child` option), RSS sampled from /proc/self/statm about every 50 ms.
/// Writes a hand-drawn SVG chart and prints the phase figures, how long after
/// each free RSS came within 10% of where it settled, and the scavenger's CPU.
struct ScavengeBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-scavenger",
        abstract: "RSS over time for a grow/shrink/grow workload, NUMAHeap vs glibc; writes an SVG chart.")

    @Option(help: "Where to write the SVG chart.")
    var output = "Docs/scavenger-rss.svg"
    @Option(help: "Peak live size in MiB.")
    var peakMiB = 1024
    @Option(help: "Live size after the shrink, in MiB.")
    var lowMiB = 100
    @Option(help: .hidden)
    var child: String? = nil

    func run() throws {
        if let child {
            ScavengeWorkload(useHeap: child.hasPrefix("numaheap"), hugePages: child == "numaheap-thp" ? .always : .default,
                             peak: peakMiB << 20, low: lowMiB << 20).run()
            return
        }
        var series: [(name: String, samples: [Sample])] = []
        var workerCPU: [String: [String: Int]] = [:]   // series → phase → scavenger CPU ns at its end
        let names = ["numaheap": "NUMAHeap", "numaheap-thp": "NUMAHeap THP always", "glibc": "glibc malloc"]
        for name in ["numaheap", "numaheap-thp", "glibc"] {
            let exe = String(cString: realpath("/proc/self/exe", nil))
            guard let pipe = popen("'\(exe)' bench-scavenger --child \(name) --peak-mi-b \(peakMiB) --low-mi-b \(lowMiB)", "r") else {
                throw ValidationError("cannot start the \(name) child")
            }
            var samples: [Sample] = []
            var line = [CChar](repeating: 0, count: 256)
            while fgets(&line, 256, pipe) != nil {
                let fields = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    .split(separator: " ")
                if fields.count == 4, fields[0] == "#cpu", let ns = Int(fields[2]) {
                    workerCPU[names[name]!, default: [:]][String(fields[1])] = ns
                }
                if fields.count == 3, let t = Double(fields[0]), let r = Double(fields[1]) {
                    samples.append(Sample(seconds: t, rssMiB: r, phase: String(fields[2].dropLast(fields[2].hasSuffix("\n") ? 1 : 0))))
                }
            }
            pclose(pipe)
            series.append((names[name]!, samples))
        }
        print(scavPad("phase", 27) + series.map { scavPad($0.name, 22) }.joined())
        for phase in ScavengeWorkload.phases {
            var row = scavPad(phase, 27)
            for s in series {
                let last = s.samples.last { $0.phase == phase }
                row += scavPad(last.map { "\(Int($0.rssMiB.rounded())) MiB" } ?? "-", 22)
            }
            print(row)
        }
        // After each free: when RSS came within 10% of where it settled at the
        // end of the hold, counted from the end of the free; and the worker's
        // CPU over the free and the hold, as a share of one CPU.
        print("")
        print(scavPad("after", 16) + scavPad("series", 22) + scavPad("settled at", 13) + scavPad("within 10% after", 18) + "scavenger CPU (free + hold)")
        for (free, hold) in [("shrink-100MiB", "hold-low"), ("free-all", "hold-empty")] {
            for s in series {
                guard let freeEnd = s.samples.last(where: { $0.phase == free }),
                      let settled = s.samples.last(where: { $0.phase == hold }) else { continue }
                let bound = settled.rssMiB * 1.10
                let reached = s.samples.first { ($0.phase == free || $0.phase == hold) && $0.rssMiB <= bound }
                let after = reached.map { max($0.seconds - freeEnd.seconds, 0) }
                var cpu = "-"
                if let byPhase = workerCPU[s.name], let before = s.samples.last(where: { $0.phase == ScavengeWorkload.phases[ScavengeWorkload.phases.firstIndex(of: free)! - 1] }),
                   let c0 = byPhase[ScavengeWorkload.phases[ScavengeWorkload.phases.firstIndex(of: free)! - 1]], let c1 = byPhase[hold] {
                    let wall = settled.seconds - before.seconds
                    cpu = "\(fixed(Double(c1 - c0) / 1e6, 1)) ms over \(fixed(wall, 1)) s = \(fixed(Double(c1 - c0) / 1e7 / wall, 2))%"
                }
                print(scavPad(free, 16) + scavPad(s.name, 22) + scavPad("\(Int(settled.rssMiB.rounded())) MiB", 13)
                      + scavPad(after.map { "\(fixed($0, 2)) s" } ?? "never", 18) + cpu)
            }
        }
        let svg = ScavengeChart.svg(series: series, peakMiB: peakMiB, lowMiB: lowMiB)
        guard let f = fopen(output, "w") else { throw ValidationError("cannot write \(output)") }
        fputs(svg, f)
        fclose(f)
        print("wrote \(output)")
    }
}

func scavPad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

/// `value` with `decimals` digits after the point (no Foundation).
func fixed(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let n = Int((abs(value) * scale).rounded())
    let whole = n / Int(scale), frac = n % Int(scale)
    var f = String(frac)
    while f.count < decimals { f = "0" + f }
    return (value < 0 ? "-" : "") + "\(whole)" + (decimals > 0 ? "." + f : "")
}

struct Sample {
    var seconds: Double
    var rssMiB: Double
    var phase: String
}

/// The workload one child runs, printing "seconds rssMiB phase" lines.
struct ScavengeWorkload {
    let useHeap: Bool
    let hugePages: HeapConfiguration.TransparentHugePages
    let peak: Int
    let low: Int
    static let phases = ["start", "grow-1GiB", "hold-peak", "shrink-100MiB", "hold-low", "grow-again", "hold-peak-2", "free-all", "hold-empty"]

    func run() {
        let heap = useHeap ? try! Heap(configuration: .init(transparentHugePages: hugePages)) : nil
        var rng: UInt64 = 0x9E3779B97F4A7C15
        func next() -> Int { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return Int(truncatingIfNeeded: rng >> 1) }
        let capacity = 2_000_000
        let blocks = UnsafeMutablePointer<(UnsafeMutableRawPointer?, Int)>.allocate(capacity: capacity)
        var count = 0, live = 0
        let start = now()
        var lastSample = -1.0
        var phase = "start"
        func sample(force: Bool = false) {
            let t = Double(now() - start) / 1e9
            if force || t - lastSample >= 0.05 {
                lastSample = t
                print("\(fixed(t, 3)) \(fixed(Double(rss()) / 1048576, 1)) \(phase)")
            }
            // The scavenger's CPU clock at the end of each phase ("#cpu phase ns").
            if force, let heap { print("#cpu \(phase) \(heap.statistics.scavenger.cpuNanoseconds) ns") }
        }
        func hold(_ seconds: Double) {
            let end = now() + Int(seconds * 1e9)
            while now() < end { usleep(50_000); sample() }
            sample(force: true)
        }
        func alloc(_ size: Int) -> UnsafeMutableRawPointer {
            heap.map { try! $0.allocate(byteCount: size) } ?? malloc(size)!
        }
        func free1(_ p: UnsafeMutableRawPointer) { if let heap { heap.deallocate(p) } else { free(p) } }
        func grow(to target: Int) {
            while live < target {
                let size = next() % 10 < 9 ? 16 + next() % 8192 : 32768 + next() % (512 << 10)
                let p = alloc(size)
                memset(p, 0x5A, size)
                blocks[count] = (p, size); count += 1; live += size
                if count & 255 == 0 { sample() }
            }
        }
        func shrink(to target: Int) {
            // Free random blocks (fragmentation, as a real program's would be).
            var i = 0
            while live > target && count > 0 {
                let j = next() % count
                free1(blocks[j].0!)
                live -= blocks[j].1
                count -= 1
                blocks[j] = blocks[count]
                i += 1
                if i & 255 == 0 { sample() }
            }
        }
        sample(force: true)
        phase = "grow-1GiB"; grow(to: peak); sample(force: true)
        phase = "hold-peak"; hold(1)
        phase = "shrink-100MiB"; shrink(to: low); sample(force: true)
        phase = "hold-low"; hold(12)
        phase = "grow-again"; grow(to: peak); sample(force: true)
        phase = "hold-peak-2"; hold(1)
        phase = "free-all"; shrink(to: 0); sample(force: true)
        phase = "hold-empty"; hold(12)
        fflush(nil)
    }

    func now() -> Int { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1_000_000_000 + t.tv_nsec }

    func rss() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = (0 ..< 128).map { _ in UInt8(0) }
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 127) }
        var field = 0, value = 0
        for b in buffer[0 ..< max(n, 0)] {
            if b == 32 { field += 1; if field == 2 { break }; continue }
            if field == 1 { value = value * 10 + Int(b - 48) }
        }
        return value * 4096
    }
}

/// A hand-written SVG line chart of RSS over time.
enum ScavengeChart {
    static func svg(series: [(name: String, samples: [Sample])], peakMiB: Int, lowMiB: Int) -> String {
        let w = 900.0, h = 440.0, left = 70.0, right = 20.0, top = 40.0, bottom = 60.0
        let maxT = max(1, series.flatMap { $0.samples.map(\.seconds) }.max() ?? 1)
        let maxR = max(Double(peakMiB) * 1.15, series.flatMap { $0.samples.map(\.rssMiB) }.max() ?? 1)
        func x(_ t: Double) -> Double { left + t / maxT * (w - left - right) }
        func y(_ r: Double) -> Double { h - bottom - r / maxR * (h - top - bottom) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(Int(w / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">RSS over time: grow to \(peakMiB) MiB, shrink to \(lowMiB) MiB, grow again, free all</text>\n"
        // Grid and axes.
        let stepR = maxR > 800 ? 200.0 : 100.0
        var r = 0.0
        while r <= maxR {
            s += "<line x1=\"\(left)\" y1=\"\(y(r))\" x2=\"\(w - right)\" y2=\"\(y(r))\" stroke=\"#ddd\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(y(r) + 4)\" text-anchor=\"end\">\(Int(r))</text>\n"
            r += stepR
        }
        var t = 0.0
        while t <= maxT {
            s += "<line x1=\"\(x(t))\" y1=\"\(h - bottom)\" x2=\"\(x(t))\" y2=\"\(h - bottom + 4)\" stroke=\"black\"/>"
            s += "<text x=\"\(x(t))\" y=\"\(h - bottom + 18)\" text-anchor=\"middle\">\(Int(t))</text>\n"
            t += 2
        }
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"black\"/>"
        s += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\" stroke=\"black\"/>\n"
        s += "<text x=\"\(Int((left + w - right) / 2))\" y=\"\(h - 20)\" text-anchor=\"middle\">seconds</text>\n"
        s += "<text x=\"18\" y=\"\(Int((top + h - bottom) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(Int((top + h - bottom) / 2)))\">RSS (MiB)</text>\n"
        let colors = ["#1f77b4", "#d62728", "#2ca02c"]
        for (i, series) in series.enumerated() {
            let points = series.samples.map { "\(fixed(x($0.seconds), 1)),\(fixed(y($0.rssMiB), 1))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colors[i % 3])\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            let ly = top + 16 + Double(i) * 18
            s += "<line x1=\"\(w - 200)\" y1=\"\(ly)\" x2=\"\(w - 170)\" y2=\"\(ly)\" stroke=\"\(colors[i % 3])\" stroke-width=\"3\"/>"
            s += "<text x=\"\(w - 164)\" y=\"\(ly + 4)\">\(series.name)</text>\n"
        }
        s += "</svg>\n"
        return s
    }
}
