import ArgumentParser

/// `numaheap`: benchmarks, topology, size-class tables and statistics.
@main
struct NUMAHeapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "numaheap",
        abstract: "NUMAHeap's command-line tool: benchmarks, size-class tables and page-allocator scaling.",
        subcommands: [BenchCommand.self, TablesCommand.self, PageAllocScalingCommand.self, ScavengeBenchCommand.self, CollectBenchCommand.self,
                      StatsCommand.self, TopologyCommand.self]
    )
}
