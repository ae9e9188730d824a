// swift-tools-version: 6.1
// GCBits: mark/alloc/free bitmaps carved from 64 KiB bitmap arenas with epoch recycling (Go's gcBitsArenas). Depends on Platform only.
import PackageDescription

let package = Package(
    name: "GCBits",
    products: [
        .library(name: "GCBits", targets: ["GCBits"]),
    ],
    dependencies: [
        .package(path: "../Platform"),
    ],
    targets: [
        .target(name: "GCBits", dependencies: [.product(name: "Platform", package: "Platform")]),
        .testTarget(name: "GCBitsTests", dependencies: ["GCBits", .product(name: "Platform", package: "Platform")]),
    ]
)
