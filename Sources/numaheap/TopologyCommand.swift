import ArgumentParser
import Glibc
import Platform

/// `numaheap topology`: the NUMA topology the heap sees (Platform's
/// `SystemTopology`), printed line for line as `numactl --hardware` (numactl
/// 2.0.16, Debian 12) prints it, so a script can diff the two; only the
/// `free:` lines may differ (they are read at different instants).
/// `.ci/numa-oracle.sh` does that diff in multi-node guests.
struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Print the NUMA topology as `numactl --hardware` does (nodes, CPUs, sizes, distances).")

    @Option(help: "Also write the topology as JSON to this file.")
    var json: String?

    func run() throws {
        // A fresh reading (free memory now), not the once-per-process snapshot;
        // nodes ≥ 64 and CPUs ≥ 1024 are left out as in SystemTopology.current.
        let topology: SystemTopology
        do {
            topology = try SystemTopology(sysfsRoot: "/sys", truncating: true)
        } catch {
            printError("numaheap topology: \(error); showing SystemTopology.current (one node) instead")
            topology = SystemTopology.current
        }
        if topology.isTruncated {
            printError("numaheap topology: nodes ≥ 64 or CPUs ≥ \(CPUSet.capacity) left out")
        }
        print(Self.numactlHardware(topology), terminator: "")
        if let json {
            try Self.writeFile(json, Self.json(topology))
            printError("wrote \(json)")
        }
    }

    /// `numactl --hardware`'s text for `topology` (numactl.c `hardware()` and
    /// `print_distances()`, numactl 2.0.16: `%d` lists, "% 3d" columns, sizes in MiB).
    static func numactlHardware(_ topology: some NUMATopology) -> String {
        let nodes = topology.onlineNodes
        var out = "available: \(nodes.count) nodes (\(numactlNodeRanges(nodes)))\n"
        for n in nodes {
            out += "node \(n) cpus:" + topology.cpus(of: n).map { " \($0)" }.joined() + "\n"
            out += "node \(n) size: \(topology.memoryBytes(of: n) >> 20) MB\n"
            out += "node \(n) free: \(topology.freeMemoryBytes(of: n) >> 20) MB\n"
        }
        guard let first = nodes.first, let last = nodes.last, topology.distance(from: last, to: first) != 0 else {
            return out + "No distance information available.\n"
        }
        out += "node distances:\nnode " + nodes.map { column($0) + " " }.joined() + "\n"
        for i in nodes {
            out += column(i) + ": " + nodes.map { column(topology.distance(from: i, to: $0)) + " " }.joined() + "\n"
        }
        return out
    }

    /// printf's "% 3d": a space where a sign would go, padded on the left to 3.
    static func column(_ value: Int) -> String {
        let text = value < 0 ? String(value) : " " + String(value)
        return String(repeating: " ", count: max(0, 3 - text.count)) + text
    }

    /// numactl's node list for "available:": runs of consecutive nodes as
    /// "a-b", the rest comma-separated ("0-1,3").
    static func numactlNodeRanges(_ nodes: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        while i < nodes.count {
            var j = i
            while j + 1 < nodes.count, nodes[j + 1] == nodes[j] + 1 { j += 1 }
            parts.append(j == i ? "\(nodes[i])" : "\(nodes[i])-\(nodes[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    static func json(_ topology: SystemTopology) -> String {
        let nodes = topology.onlineNodes
        var j = "{\n"
        j += "  \"source\": \"\(topology.isFromNodeDirectory ? "sysfs" : "single-node")\",\n"
        j += "  \"node_limit\": \(topology.nodeLimit),\n  \"cpu_limit\": \(topology.cpuLimit),\n"
        j += "  \"truncated\": \(topology.isTruncated),\n"
        j += "  \"nodes\": [\n" + nodes.map { n in
            "    {\"node\": \(n), \"cpus\": [\(topology.cpus(of: n).map(String.init).joined(separator: ", "))], "
                + "\"has_memory\": \(topology.hasMemory(n)), \"memory_bytes\": \(topology.memoryBytes(of: n)), "
                + "\"free_bytes\": \(topology.freeMemoryBytes(of: n)), "
                + "\"distances\": [\(nodes.map { String(topology.distance(from: n, to: $0)) }.joined(separator: ", "))]}"
        }.joined(separator: ",\n") + "\n  ]\n}\n"
        return j
    }

    static func writeFile(_ path: String, _ text: String) throws {
        guard let f = fopen(path, "w") else {
            throw ValidationError("--json: cannot open \(path) for writing: errno \(errno)")
        }
        defer { fclose(f) }
        guard fputs(text, f) >= 0 else { throw ValidationError("--json: cannot write \(path): errno \(errno)") }
    }

    func printError(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
