import ArgumentParser
import SizeClassGeneration
#if canImport(Glibc)
import Glibc
#endif

/// `size-class-gen`: Go 1.14's `mksizeclasses.go` for any page size, maximum
/// small size and tail-waste bound. Prints (or writes, or checks) the table as
/// Swift source for SpanCore, as JSON, or as Go's text table.
///
/// Exit status: 0 on success; 1 when `--check` finds the file out of date (a
/// diff is printed); 64 (`EX_USAGE`) for bad parameters, with one error line
/// on stderr and nothing written.
@main
struct SizeClassGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "size-class-gen",
        abstract: "Generate size-class and divmagic tables with the algorithm of Go 1.14's mksizeclasses.go."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case swift, json, table
    }

    @Option(help: "Bytes per page: a power of two from 4096 to 65536.")
    var pageSize: Int = SizeClassParameters.defaultPageSize

    @Option(help: "The largest size served by a size class (at least 1024, on the size grid).")
    var maxSmallSize: Int = SizeClassParameters.defaultMaxSmallSize

    @Option(parsing: .unconditional, help: "Most tail waste per span, as a fraction of the span: 1/8, 0.125 or 12.5%.")
    var maxWaste: String = "1/8"

    @Option(help: "Output format: swift, json or table.")
    var format: Format = .swift

    @Option(help: "Write the output to this file instead of standard output.")
    var output: String?

    @Option(help: "Compare this file with the output; exit 1 with a diff when it is out of date.")
    var check: String?

    func run() throws {
        guard let waste = Fraction(parsing: maxWaste) else {
            fail("max waste '\(maxWaste)' is not a fraction such as 1/8, 0.125 or 12.5%; it must be greater than 0")
        }
        let table: SizeClassTable
        do {
            table = try SizeClassTable(parameters: .init(pageSize: pageSize, maxSmallSize: maxSmallSize, maxWaste: waste))
        } catch {
            fail(error.description)
        }
        let text: String
        switch format {
        case .swift: text = SwiftRenderer.render(table)
        case .json: text = JSONRenderer.render(table)
        case .table: text = GoTableRenderer.render(table)
        }

        if let check {
            guard let current = TextFile.read(check) else {
                fail("cannot read \(check)", status: 1)
            }
            if current != text {
                print("\(check) is out of date; regenerate it (swift package --allow-writing-to-package-directory generate-size-classes):")
                print(LineDiff.unified(old: current, new: text, oldName: check, newName: "size-class-gen \(table.parameters.commandLineArguments)"), terminator: "")
                throw ExitCode(1)
            }
        }
        if let output {
            // Rewrite only on change, so an unchanged table keeps its timestamp
            // and triggers no rebuild.
            if TextFile.read(output) != text {
                guard TextFile.write(text, to: output) else { fail("cannot write \(output)", status: 1) }
            }
        } else if check == nil {
            print(text, terminator: "")
        }
    }

    /// Prints one error line on stderr and exits (64, `EX_USAGE`, by default).
    func fail(_ message: String, status: Int32 = 64) -> Never {
        let line = Array("size-class-gen: error: \(message)\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
        Self.exit(withError: ExitCode(status))
    }
}
