// swift-tools-version: 6.1
//
// An example of NUMAHeap linked into a program as its malloc: the executable
// depends on the NUMAHeapAllocator product, and nothing else is needed — no
// LD_PRELOAD, no linker flags. A package of its own, as a dependent's would be;
// it names the repository by path, where yours would name it by URL:
//
//     .package(url: "https://github.com/OWNER/NUMAHeap", from: "1.0.0"),
//
// Run it from the repository root (CI does):
//
//     swift run -c release --package-path Examples/LinkedAllocator
import PackageDescription

/// A path dependency's identity is its folder's name: the repository's is
/// whatever the clone is called ("main", "NUMAHeap", …), two levels above this folder.
let repository = String(#filePath.split(separator: "/").dropLast(3).last!)

let package = Package(
    name: "LinkedAllocatorExample",
    dependencies: [
        .package(path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "linked-allocator-example",
            dependencies: [.product(name: "NUMAHeapAllocator", package: repository)]
        ),
    ]
)
