import ArgumentParser

struct PageAllocScalingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-pagealloc", abstract: "Page allocator cost as the grown space rises.")
    func run() throws { print("(not yet)") }
}
