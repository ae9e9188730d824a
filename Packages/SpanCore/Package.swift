// swift-tools-version: 6.1
// SpanCore: spans (Go's mspan), span classes, the generated size-class and divmagic tables, span lists and the span-struct allocator. Depends on Platform only.
import PackageDescription

let package = Package(
    name: "SpanCore",
    products: [
        .library(name: "SpanCore", targets: ["SpanCore"]),
    ],
    dependencies: [
        .package(path: "../Platform"),
    ],
    targets: [
        .target(name: "SpanCore", dependencies: [.product(name: "Platform", package: "Platform")]),
        .testTarget(name: "SpanCoreTests", dependencies: ["SpanCore", .product(name: "Platform", package: "Platform")]),
    ]
)
