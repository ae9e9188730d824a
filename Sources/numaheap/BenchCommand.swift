import ArgumentParser
import Glibc
import NUMAHeap
import Platform

/// `numaheap bench`: the NUMA benchmark. For each node (`--nodes`, default
/// every node with memory), the allocation workloads run with their threads
/// pinned to the node's CPUs, NUMAHeap on a heap bound to the node, side by
/// side with the system allocator (glibc) and, where their shared libraries
/// are installed, jemalloc, TCMalloc and mimalloc; the share of pages on the
/// intended node is checked with `move_pages`. Then local vs remote access:
/// bandwidth and latency of a buffer on each memory node, read from each CPU
/// node. Then peak RSS. Every measurement runs once per allocator per round,
/// allocators interleaved (A B C A B C …); the table shows the median.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run the NUMA benchmark suite (about a minute by default).",
        discussion: """
            Workloads, run on each node: pairs (allocate+free of one size, one thread), \
            cross-thread (threads in a ring, each freeing what the previous one allocated), \
            batch (many live blocks of a size mix, freed in random order). Then memory (a \
            buffer on each memory node read from each CPU node: sequential GB/s, \
            dependent-load ns) and rss (peak RSS of 1 M live 64-byte blocks, one child process \
            per allocator). Threads are pinned to the node's CPUs (a node without CPUs uses \
            the first node with CPUs); NUMAHeap allocates from a heap bound to the node \
            (.bind(node:)), the other allocators get only the pinning. Times are CPU \
            nanoseconds per allocate+free pair (per thread), the median of the rounds; the \
            ratio is to glibc's malloc/free (below 1 is faster); "placed" is the share of \
            NUMAHeap's written pages that the kernel reports on the node.
            """
    )

    /// The default measuring budget: with the default workloads, about a
    /// minute in all on a 2-core machine.
    static let defaultDuration = 55.0

    @Option(help: ArgumentHelp(
        "Seconds of measuring in all (not per measurement), shared equally by every timed measurement — node × workload × allocator × round, and the memory matrix's — at least 5 ms each.",
        discussion: "Setup, placement probes and the RSS children come on top (a few seconds). Below \(Int(defaultDuration)) s the memory buffer, the batch and the RSS block counts shrink in proportion (so --duration 2 is a smoke test)."))
    var duration: Double = BenchCommand.defaultDuration

    @Option(help: "Rounds; the table shows each measurement's median.")
    var rounds: Int = 3

    @Option(name: .customLong("nodes"), parsing: .singleValue,
            help: "NUMA nodes to measure, e.g. 0,1 or 0-3 (default: every node with memory); repeatable or comma-separated.")
    var nodeList: [String] = []

    @Option(name: .customLong("workload"), parsing: .singleValue,
            help: "Run only the workloads whose name contains this (pairs, cross-thread, batch, memory, rss, or e.g. pairs/64); repeatable or comma-separated.")
    var workloads: [String] = []

    @Option(name: .customLong("sizes"), parsing: .singleValue,
            help: "Block sizes in bytes for the pairs and cross-thread workloads (default: 16,64,256,1024,8192,100000); repeatable or comma-separated.")
    var sizeList: [String] = []

    @Option(help: "Threads in the cross-thread ring (at least 2).")
    var threads: Int = 2

    @Option(name: .customLong("allocator"), parsing: .singleValue,
            help: "Measure only these allocators (NUMAHeap, glibc, jemalloc, tcmalloc, mimalloc); repeatable or comma-separated.")
    var allocators: [String] = []

    @Option(help: "NUMAHeap's check tier: standard (the default) or full (HeapConfiguration.checks).")
    var checks: HeapConfiguration.Checks = .standard

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "Write a chart of the results (SVG) to this file; '-' prints it on standard output after the table (for a guest VM whose files do not come back).")
    var svg: String?

    @Option(name: .customLong("buffer-mib"),
            help: "MiB of the memory-access buffer (default: 64, scaled down by --duration, at least 4).")
    var bufferMiB: Int?

    @Option(help: "Live blocks in the middle batch row; the others have a fifth and twice as many (default: 50000, scaled down by --duration, at least 5000).")
    var batchObjects: Int?

    @Option(help: "Live blocks in the RSS workload (default: 1000000, scaled down by --duration, at least 100000).")
    var rssObjects: Int?

    @Option(help: "Block size in the RSS workload.")
    var rssSize: Int = 64

    /// Set in the child process of the RSS workload: the allocator to measure.
    @Option(name: .customLong("rss-child"), help: .hidden)
    var rssChild: String?

    static let pairSizes = [16, 64, 256, 1024, 8192, 100_000]

    /// The shortest measurement: below it, the clock checks and thread starts
    /// would be a visible part of what is measured.
    static let minimumMeasurement = 0.005

    /// How far the defaults of the sized workloads shrink: 1 at the default duration.
    var scale: Double { min(1, duration / Self.defaultDuration) }
    var effectiveBatchObjects: Int { batchObjects ?? max(5_000, Int(50_000 * scale)) }
    var effectiveRSSObjects: Int { rssObjects ?? max(100_000, Int(1_000_000 * scale)) }
    var bufferBytes: Int { (bufferMiB ?? max(4, Int(64 * scale))) << 20 }

    func validate() throws {
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard threads >= 2 else { throw ValidationError("--threads must be at least 2 (the ring frees across threads)") }
        guard (batchObjects ?? 1) >= 1, (rssObjects ?? 1) >= 1 else { throw ValidationError("object counts must be positive") }
        guard (bufferMiB ?? 1) >= 1 else { throw ValidationError("--buffer-mib must be at least 1") }
        for size in benchSplitList(sizeList) where Int(size).map({ $0 < 8 }) ?? true {
            throw ValidationError("--sizes: '\(size)' is not a size of at least 8 bytes (the pattern needs 8)")
        }
        guard rssSize >= 8 else { throw ValidationError("--rss-size must be at least 8 (the pattern needs 8 bytes)") }
        for name in benchSplitList(allocators) where AllocatorKind.named(name) == nil {
            throw ValidationError("unknown allocator '\(name)' (known: \(AllocatorKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if rssChild == nil { _ = try benchSelectNodes(nodeList, topology: benchSystemTopology()) }
    }

    func run() throws {
        if let child = rssChild {
            guard let kind = AllocatorKind.named(child), case (let loaded?, _) = LoadedAllocator.load(kind) else {
                benchFailure("rss child: cannot load allocator \(child)")
            }
            let result = loaded.with(RSSChildWorkload(objects: effectiveRSSObjects, size: rssSize))
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

        let topology = benchSystemTopology()
        let nodes = try benchSelectNodes(nodeList, topology: topology)
        let restore = BenchAffinity.allowed()
        for node in nodes {
            if node.cpuNode != node.number {
                notes.append("node \(node.number) has no CPUs: its threads ran on node \(node.cpuNode)'s CPUs")
            }
            if !node.pinned { notes.append("node \(node.number): none of its CPUs is allowed to this process; threads not pinned") }
        }
        if loaded.count > 1 && loaded.contains(where: { $0.kind == .numaheap }) {
            notes.append("NUMAHeap: a heap bound to each node (.bind(node:)); the others: threads pinned to the node only")
        }

        let filters = benchSplitList(workloads).map { $0.lowercased() }
        func selected(_ name: String) -> Bool { filters.isEmpty || filters.contains { name.contains($0) || $0.hasPrefix(name) } }
        let sizes = sizeList.isEmpty ? Self.pairSizes : benchSplitList(sizeList).compactMap { Int($0) }
        let cases = BenchCase.all(sizes: sizes, threads: threads, batchObjects: effectiveBatchObjects).filter { c in
            filters.isEmpty || filters.contains { c.name.lowercased().contains($0) }
        }
        let rssWanted = selected("rss")
        let sources = [AccessSource.numaheap, .glibc].filter { s in loaded.contains { $0.kind.rawValue == s.rawValue } }
        let memoryWanted = selected("memory") && !sources.isEmpty
        let cpuNodes = benchCPUNodes(nodes)

        // The budget, shared equally by every timed measurement.
        let allocationCount = cases.count * nodes.count * loaded.count * rounds
        let accessCount = memoryWanted ? nodes.count * cpuNodes.count * sources.count * 2 * rounds : 0
        let perMeasurement = max(Self.minimumMeasurement, duration / Double(max(1, allocationCount + accessCount)))

        var report = BenchReport(allocators: loaded.map(\.kind), notes: notes, duration: duration, rounds: rounds,
                                 threads: threads, batchObjects: effectiveBatchObjects)
        report.perMeasurement = perMeasurement
        report.measurements = allocationCount + accessCount
        report.nodes = nodes
        report.topology = BenchTopologySummary(topology)
        // One plan per batch row (the same seed: the same size mix, longer).
        var plans: [Int: BatchPlan] = [:]
        for c in cases { if case .batch(let n) = c { plans[n] = BatchPlan(count: n) } }
        report.batchCounts = plans.keys.sorted()
        if let plan = plans[effectiveBatchObjects] ?? plans.values.first { report.batchMeanSize = plan.meanSize }

        // One heap per node, bound to it, alive for the whole run.
        var heaps: [Int: Heap] = [:]
        if loaded.contains(where: { $0.kind == .numaheap }) {
            for node in nodes {
                do { heaps[node.number] = try Heap(configuration: HeapConfiguration(numaPolicy: .bind(node: node.number),
                                                                                  checks: checks)) } catch {
                    benchFailure("NUMAHeap: cannot create a heap bound to node \(node.number): \(error)")
                }
            }
        }

        for node in nodes where !cases.isEmpty {
            let onNode = loaded.map { $0.on(heaps[node.number]) }
            BenchAffinity.on(node, restore: restore) {
                // Warm each allocator up on this node's CPUs (a heap's first
                // spans, thread caches, lazy initialisation).
                for allocator in onNode {
                    _ = allocator.with(TimedWorkload(benchCase: .pairs(size: 64), seconds: min(0.01, perMeasurement), plan: nil))
                }
                var probes: [String: PlacementFigures] = [:]
                for (index, benchCase) in cases.enumerated() {
                    let plan = benchCase.batchObjects.flatMap { plans[$0] }
                    var samples = [[Double]](repeating: [], count: onNode.count)
                    for _ in 0..<rounds {
                        for (a, allocator) in onNode.enumerated() {
                            let sample = allocator.with(TimedWorkload(benchCase: benchCase, seconds: perMeasurement, plan: plan))
                            samples[a].append(sample.nanosecondsPerPair(threads: benchCase.threads))
                        }
                    }
                    var row = BenchReport.Row(node: node.number, name: benchCase.name, label: benchCase.label, samples: samples)
                    if let numaheap = onNode.first(where: { $0.kind == .numaheap }) {
                        let probeSizes = benchCase.probeSizes(plan: plan)
                        let key = probeSizes.count == 1 ? "\(probeSizes[0])" : "batch"  // one probe for the batch rows
                        if probes[key] == nil { probes[key] = numaheap.with(PlacementProbe(sizes: probeSizes, node: node.number)) }
                        row.placement = probes[key]
                    }
                    progress.say("[node \(node.number) \(index + 1)/\(cases.count)] " + report.progressLine(row))
                    report.rows.append(row)
                }
            }
        }

        if memoryWanted {
            report.bufferBytes = bufferBytes
            report.access = runAccessMatrix(nodes: nodes, cpuNodes: cpuNodes, sources: sources, heaps: heaps,
                                            seconds: perMeasurement, restore: restore, progress: progress, report: &report)
        }

        if rssWanted {
            for allocator in loaded {
                progress.say("rss: \(allocator.kind.rawValue), \(effectiveRSSObjects) × \(rssSize) B in a child process")
                switch spawnRSSChild(allocator.kind, objects: effectiveRSSObjects, size: rssSize) {
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
        if let svg {
            if svg == "-" {
                print(BenchChart(report: report).svg())
            } else {
                try benchWriteText(BenchChart(report: report).svg(), to: svg)
                progress.say("wrote \(svg)")
            }
        }
    }

    /// The memory-access matrix: for each memory node, a buffer per source,
    /// placed and then read from each CPU node, rounds interleaved.
    func runAccessMatrix(nodes: [BenchNode], cpuNodes: [BenchNode], sources: [AccessSource], heaps: [Int: Heap],
                         seconds: Double, restore: CPUSet, progress: BenchProgress, report: inout BenchReport) -> [AccessResult] {
        var results: [AccessResult] = []
        for memory in nodes {
            var buffers: [AccessBuffer] = []
            BenchAffinity.on(memory, restore: restore) {
                for source in sources {
                    switch source {
                    case .numaheap:
                        guard let heap = heaps[memory.number], let p = try? heap.allocate(byteCount: bufferBytes, alignment: 4096) else {
                            report.notes.append("memory: NUMAHeap could not allocate \(bufferBytes >> 20) MiB on node \(memory.number)")
                            continue
                        }
                        buildChase(p, bytes: bufferBytes)
                        var b = AccessBuffer(source: source, memoryNode: memory.number, base: p, bytes: bufferBytes)
                        b.placement = figures(heap.verifyPlacement(p, byteCount: bufferBytes), node: memory.number)
                        buffers.append(b)
                    case .glibc:
                        // First touch places glibc's pages: meaningful only
                        // when a thread of the memory node writes them.
                        guard memory.cpuNode == memory.number && memory.pinned else {
                            report.notes.append("memory: no glibc buffer on node \(memory.number) (first touch needs a thread on its CPUs)")
                            continue
                        }
                        var raw: UnsafeMutableRawPointer? = nil
                        guard posix_memalign(&raw, 4096, bufferBytes) == 0, let p = raw else {
                            benchFailure("glibc: posix_memalign(4096, \(bufferBytes)) failed")
                        }
                        buildChase(p, bytes: bufferBytes)
                        var b = AccessBuffer(source: source, memoryNode: memory.number, base: p, bytes: bufferBytes)
                        b.placement = figures(PlacementReport.of(p, byteCount: bufferBytes), node: memory.number)
                        buffers.append(b)
                    }
                }
            }
            report.accessBuffers += buffers
            for cpu in cpuNodes {
                var cells = buffers.map { AccessResult(source: $0.source, memoryNode: memory.number, cpuNode: cpu.number) }
                BenchAffinity.on(cpu, restore: restore) {
                    for _ in 0..<rounds {
                        for (i, b) in buffers.enumerated() {
                            let read = runReadBandwidth(b.base, bytes: b.bytes, seconds: seconds)
                            cells[i].bandwidth.append(Double(read.bytes) / max(read.seconds, 1e-9) / 1e9)
                            let chase = runChase(b.base, seconds: seconds)
                            cells[i].latency.append(chase.seconds * 1e9 / Double(max(chase.loads, 1)))
                        }
                    }
                }
                for c in cells {
                    progress.say("[memory] \(c.source.rawValue) memory on node \(c.memoryNode), CPU node \(c.cpuNode): "
                                 + "\(benchFixed(benchMedian(c.bandwidth), 1)) GB/s, \(benchFixed(benchMedian(c.latency), 1)) ns per load")
                }
                results += cells
            }
            for b in buffers {
                switch b.source {
                case .numaheap: heaps[memory.number]!.deallocate(b.base)
                case .glibc: free(b.base)
                }
            }
        }
        return results
    }

    private func figures(_ result: Result<PlacementReport, SystemError>, node: Int) -> PlacementFigures {
        var f = PlacementFigures(blocks: 1, bytes: bufferBytes)
        switch result {
        case .success(let r): f.add(r, node: node)
        case .failure(let e): f.error = "\(e)"
        }
        return f
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
    case batch(objects: Int)

    /// The suite: pairs and cross-thread for each size, and batch at a fifth,
    /// once and twice `batchObjects` live blocks (10 000, 50 000 and 100 000 by
    /// default), so the table shows how the cost grows with the live set.
    static func all(sizes: [Int], threads: Int, batchObjects: Int) -> [BenchCase] {
        sizes.map { .pairs(size: $0) } + sizes.map { .crossThread(size: $0, threads: threads) }
            + batchCounts(batchObjects).map { .batch(objects: $0) }
    }

    /// The live-block counts of the batch rows for `--batch-objects` `n`.
    static func batchCounts(_ n: Int) -> [Int] {
        Array(Set([max(1, n / 5), n, 2 * n])).sorted()
    }

    var name: String {
        switch self {
        case .pairs(let size): "pairs/\(size)"
        case .crossThread(let size, _): "cross-thread/\(size)"
        case .batch(let objects): "batch/\(objects)"
        }
    }

    var label: String {
        switch self {
        case .pairs(let size): "pairs \(size) B"
        case .crossThread(let size, let threads): "cross×\(threads) \(size) B"
        case .batch(let objects): "batch \(objects)"
        }
    }

    var threads: Int {
        if case .crossThread(_, let threads) = self { return threads }
        return 1
    }

    /// The live blocks of a batch row; nil for the other workloads.
    var batchObjects: Int? {
        if case .batch(let n) = self { return n }
        return nil
    }

    /// The block sizes the placement probe allocates for this workload.
    func probeSizes(plan: BatchPlan?) -> [Int] {
        switch self {
        case .pairs(let size), .crossThread(let size, _): [size]
        case .batch: plan.map { Array($0.sizes.prefix(4096)) } ?? [64]
        }
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

/// `--checks standard|full`: the tier of NUMAHeap's heaps in the benchmark.
extension HeapConfiguration.Checks: ExpressibleByArgument {}
