// swift-tools-version: 6.1
// Scavenger: the scavenge goal, pacing and background worker that return free pages to the OS with madvise. Depends on PageAlloc and Platform.
import PackageDescription

let package = Package(
    name: "Scavenger",
    products: [
        .library(name: "Scavenger", targets: ["Scavenger"]),
    ],
    dependencies: [
        .package(path: "../Platform"),
        .package(path: "../PageAlloc"),
    ],
    targets: [
        .target(name: "Scavenger", dependencies: [.product(name: "Platform", package: "Platform"), .product(name: "PageAlloc", package: "PageAlloc")]),
        .testTarget(name: "ScavengerTests", dependencies: ["Scavenger", .product(name: "Platform", package: "Platform"), .product(name: "PageAlloc", package: "PageAlloc")]),
    ]
)
