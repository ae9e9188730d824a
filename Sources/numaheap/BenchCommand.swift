import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Run the default benchmark suite.")
    func run() throws { print("(not yet)") }
}
