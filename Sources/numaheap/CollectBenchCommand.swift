import ArgumentParser
import Dispatch
import Glibc
import NUMAHeap
import NUMAHeapCollected

/// `numaheap collect-bench`: CollectedHeap's mark and sweep throughput for
/// 10⁶–10⁷ objects, and allocation throughput while the sweep is lazy.
///
/// For each object count N: allocate N objects of `--size` bytes (the
/// allocation rate with no sweep pending is reported too); mark every other
/// one (one thread, then `--threads` threads on a second heap cycle); then
/// `sweep()` (all N objects' spans swept, N/2 freed); then a lazy cycle:
/// mark every other survivor, `beginCycle()`, and allocate N/4 objects, each
/// allocation sweeping spans of its class as it needs them; `finishSweep()`
/// does the rest. Rates are objects per second; best of `--repeat` runs.
struct CollectBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect-bench",
        abstract: "CollectedHeap: mark, sweep and lazy-sweep allocation throughput (objects/s).")

    @Option(help: "Object counts, comma-separated.")
    var counts = "1000000,10000000"
    @Option(help: "Object size in bytes.")
    var size = 32
    @Option(help: "Marking threads for the parallel mark row.")
    var threads = 2
    @Option(help: "Runs per count; the best is reported.")
    var `repeat` = 2

    func run() throws {
        let ns = counts.split(separator: ",").compactMap { Int($0) }
        print("CollectedHeap, \(size)-byte objects, best of \(self.repeat) (objects/s; ns per object in parentheses)")
        print(pad("objects", 12) + pad("alloc (no sweep)", 22) + pad("mark 1 thread", 22)
              + pad("mark \(threads) threads", 22) + pad("sweep", 22) + pad("alloc, lazy sweep", 22) + "finishSweep")
        for n in ns {
            var best = [Double](repeating: .infinity, count: 6)
            for _ in 0..<self.repeat {
                let t = try measure(n)
                for i in 0..<6 { best[i] = min(best[i], t[i]) }
            }
            // best: seconds for allocN, mark N/2 (1 thread), mark N/2 (T threads),
            // sweep N, lazy alloc N/4, finishSweep of the rest (rate over N/2 survivors' spans).
            let perObject = [Double(n), Double(n / 2), Double(n / 4), Double(n), Double(n / 4), Double(n / 2)]
            var row = pad("\(n)", 12)
            for i in 0..<6 { row += pad(rate(perObject[i], best[i]), i == 5 ? 0 : 22) }
            print(row)
        }
    }

    func measure(_ n: Int) throws -> [Double] {
        let heap = try CollectedHeap()
        let objects = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: n)
        defer { objects.deallocate() }
        var t0 = now()
        for i in 0..<n { objects[i] = try heap.allocate(byteCount: size) }
        let alloc = now() - t0

        t0 = now()
        var i = 0
        while i < n { heap.mark(objects[i]); i += 2 }
        let mark1 = now() - t0
        t0 = now()
        heap.sweep()
        let sweep = now() - t0

        // Parallel mark of every other survivor, then a lazy cycle.
        let objs = SendablePointer(objects), threadCount = threads
        t0 = now()
        DispatchQueue.concurrentPerform(iterations: threadCount) { t in
            var j = t * 4
            while j < n { heap.mark(objs.value[j]); j += 4 * threadCount }
        }
        // Every other survivor is marked (each thread takes a stride): N/4 marks.
        let markT = now() - t0
        heap.beginCycle()
        t0 = now()
        for _ in 0..<(n / 4) { _ = try heap.allocate(byteCount: size) }
        let lazy = now() - t0
        t0 = now()
        heap.finishSweep()
        let finish = now() - t0
        return [alloc, mark1, markT, sweep, lazy, finish]
    }

    func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func rate(_ objects: Double, _ seconds: Double) -> String {
        let r = objects / seconds
        let text = r >= 1e6 ? "\(Double(Int(r / 1e5)) / 10) M/s" : "\(Int(r / 1e3)) k/s"
        return text + " (\(Double(Int(seconds / objects * 1e10)) / 10) ns)"
    }

    func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
}

struct SendablePointer: @unchecked Sendable {
    let value: UnsafeMutablePointer<UnsafeMutableRawPointer>
    init(_ value: UnsafeMutablePointer<UnsafeMutableRawPointer>) { self.value = value }
}
