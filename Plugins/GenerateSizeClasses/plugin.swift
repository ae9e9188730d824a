// Command plugin `generate-size-classes`: runs size-class-gen (Go 1.14's
// mksizeclasses.go algorithm) and writes SpanCore's committed tables.
//
//     swift package --allow-writing-to-package-directory generate-size-classes [--page-size N] [--max-small-size N] [--max-waste F]
//
// Extra arguments go to size-class-gen unchanged (after the plugin's own
// `--format swift --output …`, so a later `--output` wins). With the
// defaults the output is byte-for-byte the committed file, which the
// generator then leaves untouched.
import Foundation
import PackagePlugin

@main
struct GenerateSizeClasses: CommandPlugin {
    /// The committed table, relative to the root package.
    static let generatedFile = "Packages/SpanCore/Sources/SpanCore/SizeClasses.generated.swift"

    func performCommand(context: PluginContext, arguments: [String]) async throws {
        let tool = try context.tool(named: "size-class-gen")
        let output = context.package.directoryURL.appending(path: Self.generatedFile)

        let process = Process()
        process.executableURL = tool.url
        process.arguments = ["--format", "swift", "--output", output.path()] + arguments
        try process.run()
        process.waitUntilExit()

        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            // size-class-gen has already printed its one-line reason.
            throw GenerateSizeClassesError.toolFailed(status: process.terminationStatus)
        }
        print("generate-size-classes: regenerated \(Self.generatedFile) (rewritten only if it changed)")
    }
}

enum GenerateSizeClassesError: Error, CustomStringConvertible {
    case toolFailed(status: Int32)

    var description: String {
        switch self {
        case .toolFailed(let status): "size-class-gen failed with exit status \(status); nothing was written"
        }
    }
}
