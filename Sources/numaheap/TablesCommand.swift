import ArgumentParser

struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tables", abstract: "Print the active size-class table.")
    func run() throws { print("(not yet)") }
}
