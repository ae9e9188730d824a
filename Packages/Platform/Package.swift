// swift-tools-version: 6.1
// Platform: the thin layer between NUMAHeap and the kernel. C shims for what Swift
// cannot call (variadic `syscall`, `__thread` thread-locals), the non-allocating
// fatal-error reporter, and raw memory mapping. Depends on nothing.
import PackageDescription

let package = Package(
    name: "Platform",
    products: [
        .library(name: "Platform", targets: ["Platform"]),
    ],
    targets: [
        .target(name: "CPlatform"),
        .target(name: "Platform", dependencies: ["CPlatform"]),
        .testTarget(name: "PlatformTests", dependencies: ["Platform"]),
    ]
)
