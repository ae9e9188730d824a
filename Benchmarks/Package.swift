// swift-tools-version: 6.1
//
// NUMAHeap's micro-benchmarks, on ordo-one's package-benchmark. A package of
// its own so the root's clean build stays fast; run from the repository root:
//
//     swift package --package-path Benchmarks benchmark
//
// The `.package` line names only the `MallocInterposer` trait, which leaves out
// package-benchmark's default `RuntimeInterposer` trait (the Swift 6.3 ARC
// runtime interposer, from ordo-one/swift-runtime-interposer, a package this
// machine has no copy of). With the trait off, SwiftPM prunes that dependency.
import PackageDescription

let package = Package(
    name: "NUMAHeapBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        // Named, so the product reference below holds whatever the clone's folder is called.
        .package(name: "NUMAHeap", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HeapBenchmarks",
            dependencies: [
                .product(name: "NUMAHeap", package: "NUMAHeap"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/HeapBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
