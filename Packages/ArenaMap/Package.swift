// swift-tools-version: 6.1
// ArenaMap: the heap's address space — 64 MiB arenas reserved by hints, the L1/L2 arena index, and per-arena metadata (span map, pageInUse, pageMarks, zeroedBase, node). Depends on Platform only.
import PackageDescription

let package = Package(
    name: "ArenaMap",
    products: [
        .library(name: "ArenaMap", targets: ["ArenaMap"]),
    ],
    dependencies: [
        .package(path: "../Platform"),
    ],
    targets: [
        .target(name: "ArenaMap", dependencies: [.product(name: "Platform", package: "Platform")]),
        .testTarget(name: "ArenaMapTests", dependencies: ["ArenaMap"]),
    ]
)
