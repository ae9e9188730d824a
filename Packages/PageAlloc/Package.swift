// swift-tools-version: 6.1
// PageAlloc: Go's radix-tree page allocator over any page-granular range — chunk bitmaps, packed summaries, scavenged bits, the per-thread page cache. Depends on Platform only; knows nothing of arenas.
import PackageDescription

let package = Package(
    name: "PageAlloc",
    products: [
        .library(name: "PageAlloc", targets: ["PageAlloc"]),
    ],
    dependencies: [
        .package(path: "../Platform"),
    ],
    targets: [
        .target(name: "PageAlloc", dependencies: [.product(name: "Platform", package: "Platform")]),
        .testTarget(name: "PageAllocTests", dependencies: ["PageAlloc", .product(name: "Platform", package: "Platform")]),
    ]
)
