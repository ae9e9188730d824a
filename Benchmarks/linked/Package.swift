// swift-tools-version: 6.1
//
// One Swift workload (classes, arrays, dictionaries, strings) built twice: as
// a plain program (glibc's malloc, or any allocator under LD_PRELOAD) and with
// NUMAHeap linked in as its malloc (the NUMAHeapAllocator product). run.sh
// builds both in release and alternates them with the preloaded library.
import PackageDescription

/// A path dependency's identity is its folder's name: the repository's is
/// whatever the clone is called, two levels above this folder.
let repository = String(#filePath.split(separator: "/").dropLast(3).last!)

let package = Package(
    name: "LinkedAllocatorBenchmark",
    dependencies: [
        .package(path: "../.."),
    ],
    targets: [
        .target(name: "SwiftWorkload"),
        .executableTarget(name: "workload-plain", dependencies: ["SwiftWorkload"]),
        .executableTarget(
            name: "workload-linked",
            dependencies: ["SwiftWorkload", .product(name: "NUMAHeapAllocator", package: repository)]
        ),
    ]
)
