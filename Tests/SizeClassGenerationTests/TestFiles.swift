import Foundation

/// File and process helpers for the generator's tests.
enum TestFiles {
    static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The built `size-class-gen`, beside the test bundle in the build folder.
    static var generatorPath: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // Swift Testing may run from inside a `.xctest` bundle folder.
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("size-class-gen").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("size-class-gen").path
    }

    /// Runs the generator; returns its exit status, stdout and stderr.
    static func runGenerator(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: generatorPath)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// A fresh path in the temporary folder (nothing created).
    static func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "size-class-gen-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-" + name
    }
}
