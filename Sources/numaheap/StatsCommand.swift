import ArgumentParser
import Glibc
import NUMAHeap
import Platform

/// `numaheap stats`: runs a short workload on a fresh heap — threads pinned to
/// each node's CPUs allocating a size mix, half of it freed by a thread on
/// another node — and prints the heap's statistics per node (Go's
/// `runtime.MemStats`, split by node) and its busiest size classes.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Run a short workload and print the heap's statistics per NUMA node.")

    @Option(help: "NUMA policy: automatic, disabled, interleave, or bind:NODE.")
    var policy: String = "automatic"

    @Option(help: "Blocks each node's thread allocates.")
    var blocks: Int = 100_000

    @Option(help: "Write the statistics as JSON to this file.")
    var json: String?

    func parsedPolicy() throws -> HeapConfiguration.NUMAPolicy {
        switch policy {
        case "automatic": return .automatic
        case "disabled": return .disabled
        case "interleave": return .interleave
        default:
            if policy.hasPrefix("bind:"), let n = Int(policy.dropFirst(5)) { return .bind(node: n) }
            throw ValidationError("--policy: '\(policy)' is not automatic, disabled, interleave or bind:NODE")
        }
    }

    func validate() throws {
        if case .bind(let node) = try parsedPolicy(), !SystemTopology.current.hasMemory(node) {
            throw ValidationError("--policy bind:\(node): node \(node) does not exist or has no memory (nodes with memory: \(SystemTopology.current.memoryNodes.map(String.init).joined(separator: ", ")))")
        }
        guard blocks >= 1 else { throw ValidationError("--blocks must be at least 1 (got \(blocks))") }
    }

    func run() throws {
        let topology = SystemTopology.current
        let heap: Heap
        do {
            heap = try Heap(configuration: .init(numaPolicy: try parsedPolicy(), scavenging: .disabled))
        } catch let error as HeapError {
            throw ValidationError(error.description)
        }
        let cpuNodes = topology.onlineNodes.filter { topology.hasCPUs($0) }
        let sizes = [16, 48, 128, 512, 2048, 4000, 40_000, 100_000]
        // Each node's thread allocates; the next node's thread frees every other block.
        var live: [[UnsafeMutableRawPointer]] = Array(repeating: [], count: cpuNodes.count)
        for (i, node) in cpuNodes.enumerated() {
            live[i] = runPinned(topology.cpus(of: node)) {
                var out: [UnsafeMutableRawPointer] = []
                out.reserveCapacity(blocks)
                for b in 0..<blocks {
                    // Large sizes one round in 64 (about 2.2 KiB a block on average), so they do not dominate.
                    let size = sizes[b % sizes.count] >= 40_000 && (b / sizes.count) % 64 != 0 ? 64 : sizes[b % sizes.count]
                    let p = try! heap.allocate(byteCount: size)
                    memset(p, 0x5A, min(size, 4096))
                    out.append(p)
                }
                heap.flushThreadCache()
                return out
            }
        }
        for (i, _) in cpuNodes.enumerated() {
            let freer = cpuNodes[(i + 1) % cpuNodes.count]
            let mine = live[i]
            live[i] = runPinned(topology.cpus(of: freer)) {
                var kept: [UnsafeMutableRawPointer] = []
                // Every other group of eight: half of every size class.
                for (j, p) in mine.enumerated() { if (j / sizes.count) % 2 == 0 { heap.deallocate(p) } else { kept.append(p) } }
                heap.flushThreadCache()
                return kept
            }
        }
        let stats = heap.statistics
        print(StatsReport(stats: stats, topology: topology, policy: policy, blocksPerNode: blocks).text, terminator: "")
        if let json {
            let text = StatsReport(stats: stats, topology: topology, policy: policy, blocksPerNode: blocks).json
            guard let f = fopen(json, "w") else { throw ValidationError("--json: cannot write \(json): errno \(errno)") }
            fputs(text, f)
            fclose(f)
        }
        for blocks in live { for p in blocks { heap.deallocate(p) } }
    }
}

final class PinnedJob {
    let cpus: CPUSet
    let run: () -> Void
    init(_ cpus: CPUSet, _ run: @escaping () -> Void) { self.cpus = cpus; self.run = run }
}

/// Runs `body` on a thread pinned to `cpus` and returns its result.
func runPinned<T>(_ cpus: CPUSet, _ body: @escaping () -> T) -> T {
    var result: T? = nil
    let job = PinnedJob(cpus) { result = body() }
    var t = pthread_t()
    pthread_create(&t, nil, { raw in
        let job = Unmanaged<PinnedJob>.fromOpaque(raw!).takeUnretainedValue()
        pinCurrentThread(to: job.cpus)
        job.run()
        return nil
    }, Unmanaged.passUnretained(job).toOpaque())
    pthread_join(t, nil)
    return result!
}

/// Pins the calling thread to `cpus` (left as it is when empty: a CPU-less node).
func pinCurrentThread(to cpus: CPUSet) {
    guard !cpus.isEmpty else { return }
    ThreadAffinity.pinCurrentThread(to: cpus)
}

/// `numaheap stats` output: a table per node, then the size classes.
struct StatsReport {
    let stats: HeapStatistics
    let topology: SystemTopology
    let policy: String
    let blocksPerNode: Int

    static func mib(_ bytes: Int) -> String {
        let tenths = (bytes * 10 + (1 << 19)) >> 20
        return "\(tenths / 10).\(tenths % 10)"
    }
    static func column(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

    var text: String {
        var out = "NUMAHeap statistics after \(blocksPerNode) blocks per CPU node, half freed from another node (policy \(policy))\n\n"
        out += "node   mapped MiB   in use MiB   idle MiB   released MiB    spans   bind failures   caches moved in\n"
        for n in stats.nodes {
            out += Self.column(String(n.id), 4) + Self.column(Self.mib(n.mappedBytes), 13) + Self.column(Self.mib(n.inUseBytes), 13)
                + Self.column(Self.mib(n.idleBytes), 11) + Self.column(Self.mib(n.releasedBytes), 15)
                + Self.column(String(n.spans), 9) + Self.column(String(n.bindFailures), 16)
                + Self.column(String(n.cachesMovedIn), 18) + "\n"
        }
        out += "\nnode   node-lock acquisitions   contended   central-list acquisitions   contended\n"
        for n in stats.nodes {
            out += Self.column(String(n.id), 4) + Self.column(String(n.lockAcquisitions), 25)
                + Self.column(String(n.contendedLockAcquisitions), 12) + Self.column(String(n.centralLockAcquisitions), 28)
                + Self.column(String(n.contendedCentralLockAcquisitions), 12) + "\n"
        }
        out += "\ntotal: live objects \(stats.liveObjects), live bytes \(Self.mib(stats.liveBytes)) MiB, in use \(Self.mib(stats.inUseBytes)) MiB, "
        out += "mapped \(Self.mib(stats.mappedBytes)) MiB, metadata \(Self.mib(stats.metadataBytes)) MiB\n"
        out += "large objects: \(stats.largeMallocs) allocated, \(stats.largeFrees) freed\n\n"
        out += "size class   mallocs     frees      live\n"
        for c in stats.sizeClasses.dropFirst() where c.mallocs > 0 {
            out += Self.column(String(c.size), 10) + Self.column(String(c.mallocs), 10) + Self.column(String(c.frees), 10)
                + Self.column(String(c.liveObjects), 10) + "\n"
        }
        return out
    }

    var json: String {
        let nodes = stats.nodes.map { n in
            "{\"node\":\(n.id),\"mappedBytes\":\(n.mappedBytes),\"inUseBytes\":\(n.inUseBytes),\"idleBytes\":\(n.idleBytes),"
                + "\"releasedBytes\":\(n.releasedBytes),\"spans\":\(n.spans),\"bindFailures\":\(n.bindFailures),\"cachesMovedIn\":\(n.cachesMovedIn),"
                + "\"lockAcquisitions\":\(n.lockAcquisitions),\"contendedLockAcquisitions\":\(n.contendedLockAcquisitions),"
                + "\"centralLockAcquisitions\":\(n.centralLockAcquisitions),"
                + "\"contendedCentralLockAcquisitions\":\(n.contendedCentralLockAcquisitions)}"
        }
        return "{\"policy\":\"\(policy)\",\"liveObjects\":\(stats.liveObjects),\"liveBytes\":\(stats.liveBytes),"
            + "\"inUseBytes\":\(stats.inUseBytes),\"mappedBytes\":\(stats.mappedBytes),\"nodes\":[\(nodes.joined(separator: ","))]}\n"
    }
}
