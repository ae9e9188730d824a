// swift-tools-version: 6.1
//
// A small Hummingbird 2 HTTP server for Benchmarks/programs/run.sh, which
// copies this folder out of the repository (to ${TMPDIR:-/tmp}/numaheap-bench-server)
// and builds it there in release: it is not part of NUMAHeap's package graph,
// and neither its Package.resolved nor its .build ever lands in the repository.
import PackageDescription

let package = Package(
    name: "bench-server",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "bench-server",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
