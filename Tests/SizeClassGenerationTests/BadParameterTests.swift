import Foundation
import Testing
import SizeClassGeneration

/// Bad parameters: one error line naming the value and the limit, exit code 64,
/// nothing written — in the library and in the real binary.
@Suite struct BadParameterTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        /// Text the single error line must contain (the value and the limit).
        var mentions: [String]
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let cases: [Case] = [
        Case(arguments: ["--page-size", "12288"], mentions: ["page size 12288", "power of two", "4096", "65536"]),
        Case(arguments: ["--page-size", "2048"], mentions: ["page size 2048", "4096"]),
        Case(arguments: ["--page-size", "131072"], mentions: ["page size 131072", "65536"]),
        Case(arguments: ["--page-size", "0"], mentions: ["page size 0"]),
        Case(arguments: ["--max-waste", "0"], mentions: ["max waste 0", "greater than 0"]),
        Case(arguments: ["--max-waste", "-1/8"], mentions: ["max waste -1/8", "greater than 0"]),
        Case(arguments: ["--max-waste", "0/5"], mentions: ["max waste 0", "greater than 0"]),
        Case(arguments: ["--max-waste", "abc"], mentions: ["max waste 'abc'"]),
        Case(arguments: ["--max-small-size", "65536"], mentions: ["max small size 65536", "above 57344", "uint16"]),
        Case(arguments: ["--max-small-size", "65280"], mentions: ["max small size 65280", "above 57344", "16-bit divmagic"]),
        Case(arguments: ["--page-size", "65536", "--max-small-size", "65280"], mentions: ["max small size 65280", "above 32768"]),
        Case(arguments: ["--page-size", "4096", "--max-small-size", "65280"], mentions: ["max small size 65280", "above 61440"]),
        Case(arguments: ["--max-small-size", "3000"], mentions: ["max small size 3000", "2816", "3072"]),
        Case(arguments: ["--max-small-size", "512"], mentions: ["max small size 512", "1024"]),
    ]

    @Test(arguments: cases)
    func binaryExitsWith64AndOneLine(_ c: Case) throws {
        let output = TestFiles.temporaryPath("bad.swift")
        let result = try TestFiles.runGenerator(c.arguments + ["--output", output])
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        for text in c.mentions {
            #expect(result.stderr.contains(text), "stderr '\(result.stderr)' lacks '\(text)'")
        }
        #expect(!FileManager.default.fileExists(atPath: output), "wrote \(output)")
    }

    @Test func libraryNamesTheLimit() {
        #expect(throws: SizeClassError.pageSize(12288)) { try SizeClassTable(parameters: .init(pageSize: 12288)) }
        #expect(throws: SizeClassError.maxWaste(Fraction(0, 1))) { try SizeClassTable(parameters: .init(maxWaste: Fraction(0, 3))) }
        #expect(throws: SizeClassError.maxSmallSizeOffGrid(1100, below: 1024, above: 1152)) {
            try SizeClassTable(parameters: .init(maxSmallSize: 1100))
        }
        do {
            _ = try SizeClassTable(parameters: .init(maxSmallSize: 65280))
            Issue.record("65280 with 8 KiB pages should not fit")
        } catch {
            guard case .maxSmallSizeAboveLimit(65280, let limit, _) = error else { Issue.record("\(error)"); return }
            #expect(limit == 57344)
            #expect((try? SizeClassTable(parameters: .init(maxSmallSize: limit))) != nil, "the limit itself must fit")
        }
    }

    @Test func checkReportsAnOutOfDateFile() throws {
        let path = TestFiles.temporaryPath("stale.swift")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try TestFiles.runGenerator(["--output", path]).status == 0)
        #expect(try TestFiles.runGenerator(["--check", path]).status == 0)
        let stale = try TestFiles.runGenerator(["--check", path, "--page-size", "4096"])
        #expect(stale.status == 1)
        #expect(stale.stdout.contains("out of date") && stale.stdout.contains("+// Page size 4096"))
    }
}
