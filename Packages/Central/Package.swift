// swift-tools-version: 6.1
// Central: per-span-class central lists (mcentral) and per-thread caches (mcache). Depends on SpanCore and Platform.
import PackageDescription

let package = Package(
    name: "Central",
    products: [
        .library(name: "Central", targets: ["Central"]),
    ],
    dependencies: [
        .package(path: "../Platform"),
        .package(path: "../SpanCore"),
    ],
    targets: [
        .target(name: "Central", dependencies: [.product(name: "Platform", package: "Platform"), .product(name: "SpanCore", package: "SpanCore")]),
        .testTarget(name: "CentralTests", dependencies: ["Central"]),
    ]
)
