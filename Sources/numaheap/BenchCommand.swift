import ArgumentParser
import Glibc
import NUMAHeap

/// `numaheap bench`: NUMAHeap side by side with the system allocator (glibc)
/// and, where their shared libraries are installed, jemalloc, TCMalloc and
/// mimalloc. Every workload runs once per allocator per round, allocators
/// interleaved (A B C A B C …); the table shows the median over the rounds.
///
/// (NUMA options — nodes, placement, local/remote bandwidth — come with the
/// per-node heaps: they will be more `BenchCase`s and options here.)
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run the default benchmark suite.",
        discussion: """
            Workloads: pairs (allocate+free of one size, one thread), cross-thread \
            (threads in a ring, each freeing what the previous one allocated), \
            batch (many live blocks of a size mix, freed in random order), \
            rss (peak RSS of 1 M live 64-byte blocks, one child process per allocator). \
            Times are nanoseconds per allocate+free pair (per thread), the median of \
            the rounds; the ratio is to glibc's malloc/free (below 1 is faster).
            """
    )

    @Option(help: "Seconds per measurement (one allocator, one workload, one round).")
    var duration: Double = 0.2

    @Option(help: "Rounds; the table shows each measurement's median.")
    var rounds: Int = 3

    @Option(name: .customLong("workload"), parsing: .singleValue,
            help: "Run only the workloads whose name contains this (pairs, cross-thread, batch, rss, or e.g. pairs/64); repeatable or comma-separated.")
    var workloads: [String] = []

    @Option(name: .customLong("sizes"), parsing: .singleValue,
            help: "Block sizes in bytes for the pairs and cross-thread workloads (default: 16,64,256,1024,8192,100000); repeatable or comma-separated.")
    var sizeList: [String] = []

    @Option(help: "Threads in the cross-thread ring (at least 2).")
    var threads: Int = 2

    @Option(name: .customLong("allocator"), parsing: .singleValue,
            help: "Measure only these allocators (NUMAHeap, glibc, jemalloc, tcmalloc, mimalloc); repeatable or comma-separated.")
    var allocators: [String] = []

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "Live blocks in the batch workload.")
    var batchObjects: Int = 50_000

    @Option(help: "Live blocks in the RSS workload.")
    var rssObjects: Int = 1_000_000

    @Option(help: "Block size in the RSS workload.")
    var rssSize: Int = 64

    /// Set in the child process of the RSS workload: the allocator to measure.
    @Option(name: .customLong("rss-child"), help: .hidden)
    var rssChild: String?

    static let pairSizes = [16, 64, 256, 1024, 8192, 100_000]

    func validate() throws {
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard threads >= 2 else { throw ValidationError("--threads must be at least 2 (the ring frees across threads)") }
        guard batchObjects >= 1, rssObjects >= 1 else { throw ValidationError("object counts must be positive") }
        for size in benchSplitList(sizeList) where Int(size).map({ $0 < 8 }) ?? true {
            throw ValidationError("--sizes: '\(size)' is not a size of at least 8 bytes (the pattern needs 8)")
        }
        guard rssSize >= 8 else { throw ValidationError("--rss-size must be at least 8 (the pattern needs 8 bytes)") }
        for name in benchSplitList(allocators) where AllocatorKind.named(name) == nil {
            throw ValidationError("unknown allocator '\(name)' (known: \(AllocatorKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    func run() throws {
        if let child = rssChild {
            guard let kind = AllocatorKind.named(child), case (let loaded?, _) = LoadedAllocator.load(kind) else {
                benchFailure("rss child: cannot load allocator \(child)")
            }
            let result = loaded.with(RSSChildWorkload(objects: rssObjects, size: rssSize))
            print(result.encoded())
            return
        }

        let progress = BenchProgress(enabled: isatty(2) != 0)
        let wanted = benchSplitList(allocators).compactMap(AllocatorKind.named)
        var loaded: [LoadedAllocator] = []
        var notes: [String] = []
        for kind in AllocatorKind.allCases where wanted.isEmpty || wanted.contains(kind) {
            let (allocator, reason) = LoadedAllocator.load(kind)
            if let allocator { loaded.append(allocator) } else { notes.append("\(kind.rawValue): \(reason ?? "unavailable")") }
        }
        if notes.contains(where: { $0.contains("static TLS") }) { reexecWithMoreStaticTLS() }
        guard !loaded.isEmpty else { throw ValidationError("no allocator to measure") }

        let filters = benchSplitList(workloads).map { $0.lowercased() }
        let cases = BenchCase.all(sizes: sizeList.isEmpty ? Self.pairSizes : benchSplitList(sizeList).compactMap { Int($0) }, threads: threads).filter { c in
            filters.isEmpty || filters.contains { c.name.lowercased().contains($0) }
        }
        let rssWanted = filters.isEmpty || filters.contains { "rss".contains($0) || $0.hasPrefix("rss") }

        var report = BenchReport(allocators: loaded.map(\.kind), notes: notes, duration: duration, rounds: rounds,
                                 threads: threads, batchObjects: batchObjects)
        let plan = cases.contains { if case .batch = $0 { true } else { false } } ? BatchPlan(count: batchObjects) : nil
        if let plan { report.batchMeanSize = plan.meanSize }

        // Warm each allocator up (the shared heap's creation, thread caches, lazy init).
        for allocator in loaded {
            _ = allocator.with(TimedWorkload(benchCase: .pairs(size: 64), seconds: 0.01, plan: nil))
        }

        for (index, benchCase) in cases.enumerated() {
            var samples = [[Double]](repeating: [], count: loaded.count)
            for _ in 0..<rounds {
                for (a, allocator) in loaded.enumerated() {
                    let sample = allocator.with(TimedWorkload(benchCase: benchCase, seconds: duration, plan: plan))
                    samples[a].append(sample.nanosecondsPerPair(threads: benchCase.threads))
                }
            }
            let row = BenchReport.Row(name: benchCase.name, label: benchCase.label, samples: samples)
            progress.say("[\(index + 1)/\(cases.count)] " + report.progressLine(row))
            report.rows.append(row)
        }

        if rssWanted {
            for allocator in loaded {
                progress.say("rss: \(allocator.kind.rawValue), \(rssObjects) × \(rssSize) B in a child process")
                switch spawnRSSChild(allocator.kind, objects: rssObjects, size: rssSize) {
                case .success(let r): report.rss.append((allocator.kind, r))
                case .failure(let e): report.notes.append("rss \(allocator.kind.rawValue): \(e.message)")
                }
            }
        }

        print(report.table(), terminator: "")
        if let json {
            try report.writeJSON(to: json)
            progress.say("wrote \(json)")
        }
    }
}

/// jemalloc and TCMalloc keep their thread state in initial-exec TLS, which
/// `dlopen` can place only in glibc's small surplus of static TLS (it fails with
/// "cannot allocate memory in static TLS block" once another library took it).
/// The surplus is a start-up tunable, so run this program again with a larger
/// one (once: the environment marks the second run).
func reexecWithMoreStaticTLS() {
    let marker = "NUMAHEAP_BENCH_STATIC_TLS"
    guard getenv(marker) == nil else { return }
    let tunable = "glibc.rtld.optional_static_tls=65536"
    let existing = getenv("GLIBC_TUNABLES").map { String(cString: $0) }
    setenv("GLIBC_TUNABLES", existing.map { $0 + ":" + tunable } ?? tunable, 1)
    setenv(marker, "1", 1)
    let argv = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", argv)
    argv.forEach { free($0) }  // execv failed: go on without that allocator.
}

/// Comma-separated and repeated values, flattened.
func benchSplitList(_ values: [String]) -> [String] {
    values.flatMap { $0.split(separator: ",").map { String($0).benchTrimmingSpaces() } }.filter { !$0.isEmpty }
}

extension String {
    func benchTrimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

extension AllocatorKind {
    static func named(_ name: String) -> AllocatorKind? {
        allCases.first { $0.rawValue.lowercased() == name.lowercased() }
    }
}

/// One timed measurement of the suite.
enum BenchCase {
    case pairs(size: Int)
    case crossThread(size: Int, threads: Int)
    case batch

    static func all(sizes: [Int], threads: Int) -> [BenchCase] {
        sizes.map { .pairs(size: $0) } + sizes.map { .crossThread(size: $0, threads: threads) } + [.batch]
    }

    var name: String {
        switch self {
        case .pairs(let size): "pairs/\(size)"
        case .crossThread(let size, _): "cross-thread/\(size)"
        case .batch: "batch/mix"
        }
    }

    var label: String {
        switch self {
        case .pairs(let size): "pairs \(size) B"
        case .crossThread(let size, let threads): "cross-thread ×\(threads) \(size) B"
        case .batch: "batch mix"
        }
    }

    var threads: Int {
        if case .crossThread(_, let threads) = self { return threads }
        return 1
    }
}

/// Runs one `BenchCase` on whichever allocator `LoadedAllocator.with` passes.
struct TimedWorkload: AllocatorConsumer {
    let benchCase: BenchCase
    let seconds: Double
    let plan: BatchPlan?

    func consume<A: BenchAllocator>(_ a: A) -> BenchSample {
        switch benchCase {
        case .pairs(let size):
            return runPairs(a, size: size, seconds: seconds, label: A.label)
        case .crossThread(let size, let threads):
            return runCrossThread(a, size: size, threads: threads, seconds: seconds, label: A.label)
        case .batch:
            return runBatch(a, plan: plan!, seconds: seconds, label: A.label)
        }
    }
}

/// Progress lines on stderr, only when stderr is a terminal.
struct BenchProgress {
    let enabled: Bool
    func say(_ line: String) {
        guard enabled else { return }
        var text = line + "\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
