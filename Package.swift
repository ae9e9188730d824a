// swift-tools-version: 6.1
//
// NUMAHeap: a NUMA-aware memory allocator for Swift on Linux, after the Go
// runtime's page heap. The concerns live in separate local packages under
// Packages/ (each builds and tests alone); this root composes them into the
// NUMAHeap module, the numaheap CLI, the size-class generator and its plugin.
//
// `swift test` here runs the root's tests *and* every local package's tests:
// each package's test folder is declared again below as a root test target
// (`packageTestTarget`), since SwiftPM runs only the root package's tests.
import PackageDescription

/// The local packages, in dependency order, with what each one's tests need.
let localPackages: [(name: String, testDependencies: [String])] = [
    ("Platform", []),
    ("ArenaMap", ["Platform"]),
    ("PageAlloc", ["Platform"]),
    ("GCBits", ["Platform"]),
    ("SpanCore", ["Platform"]),
    ("Central", ["Platform", "SpanCore", "GCBits"]),
    ("Scavenger", ["Platform", "PageAlloc"]),
]

func product(_ name: String) -> Target.Dependency {
    .product(name: name, package: name)
}

/// A local package's own test folder, run again from the root.
func packageTestTarget(_ name: String, _ extra: [String]) -> Target {
    .testTarget(
        name: "\(name)Tests",
        dependencies: ([name] + extra).map(product),
        path: "Packages/\(name)/Tests/\(name)Tests"
    )
}

/// This manifest's folder (for the malloc library's linker version script).
let packageDirectory = String(#filePath.dropLast("/Package.swift".count))

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "NUMAHeap",
    products: [
        .library(name: "NUMAHeap", targets: ["NUMAHeap"]),
        .library(name: "SizeClassGeneration", targets: ["SizeClassGeneration"]),
        .executable(name: "numaheap", targets: ["numaheap"]),
        // libNUMAHeapMalloc.so, the malloc family for LD_PRELOAD (Docs/Malloc.md). Build it with
        // `swift build -c release --product NUMAHeapMalloc --scratch-path .build-malloc -Xswiftc -cross-module-optimization`.
        .library(name: "NUMAHeapMalloc", type: .dynamic, targets: ["CNUMAHeapMalloc", "NUMAHeapMalloc"]),
        .executable(name: "size-class-gen", targets: ["size-class-gen"]),
        .plugin(name: "GenerateSizeClasses", targets: ["GenerateSizeClasses"]),
    ],
    dependencies: localPackages.map { .package(path: "Packages/\($0.name)") } + [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The composed heap.
        .target(name: "NUMAHeap", dependencies: localPackages.map { product($0.name) }),

        // Size classes: the algorithm (a library, so tests call it directly),
        // the command-line generator, and the command plugin that runs it.
        .target(name: "SizeClassGeneration"),
        .executableTarget(name: "size-class-gen", dependencies: ["SizeClassGeneration", argumentParser]),
        .plugin(
            name: "GenerateSizeClasses",
            capability: .command(
                intent: .custom(
                    verb: "generate-size-classes",
                    description: "Regenerate SpanCore's size-class and divmagic tables (Go's mksizeclasses.go)."
                ),
                permissions: [
                    .writeToPackageDirectory(reason: "Writes Packages/SpanCore/Sources/SpanCore/SizeClasses.generated.swift."),
                ]
            ),
            dependencies: ["size-class-gen"]
        ),

        // The CLI: bench, topology, tables, stats.
        .executableTarget(name: "numaheap", dependencies: ["NUMAHeap", "SizeClassGeneration", argumentParser, product("SpanCore"), product("Platform")]),

        // The malloc library: C exports (default visibility, only those in exports.map)
        // forwarding to the Swift side. The Swift runtime is linked in statically so the
        // library loads into any program; its tests are Tests/Malloc/run.sh (not `swift test`).
        .target(name: "CNUMAHeapMalloc", dependencies: [product("Platform")], exclude: ["exports.map"]),
        .target(
            name: "NUMAHeapMalloc",
            dependencies: ["NUMAHeap", "CNUMAHeapMalloc", product("Platform")],
            linkerSettings: [.unsafeFlags([
                "-static-stdlib",
                "-Xlinker", "--version-script=\(packageDirectory)/Sources/CNUMAHeapMalloc/exports.map",
            ])]
        ),

        // NUMA placement checked by the kernel in a multi-node guest (.ci/numa-guest.sh);
        // an executable, since `swift test` must pass where there is no guest.
        .executableTarget(name: "numaheap-guest-checks", dependencies: ["NUMAHeap", product("Platform"), product("Central"), product("SpanCore")],
                          path: "Tests/NUMAGuest"),

        .testTarget(name: "NUMAHeapTests", dependencies: ["NUMAHeap", product("Platform"), product("Central")]),
        .testTarget(
            name: "SizeClassGenerationTests",
            dependencies: ["SizeClassGeneration", "size-class-gen", product("SpanCore")]
        ),
    ] + localPackages.map { packageTestTarget($0.name, $0.testDependencies) }
)
