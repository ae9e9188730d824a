// swift-tools-version: 6.1
//
// NUMAHeap: a NUMA-aware memory allocator for Swift on Linux, after the Go
// runtime's page heap.
//
// This manifest declares every module of the repository, so that NUMAHeap is
// usable as a dependency by URL: a dependent names one product — `PageAlloc`
// alone, say — and SwiftPM builds that product's modules and nothing else.
// The concerns live under Packages/<Name>/ (sources, tests, docs); each of
// those folders also has a Package.swift of its own, which exists only to build
// and test that one package alone (`swift test --package-path Packages/PageAlloc`).
// Both manifests name the same source folders, so what is tested alone is what
// a dependent builds.
//
// `swift test` here runs the root's tests and every package's tests.
//
// No target that a library product a dependent may use needs `unsafeFlags`
// (SwiftPM refuses them in dependencies); the only unsafe flags are the
// preloadable library's link options, on a target of its own that only the
// `NUMAHeapMalloc` dynamic library product contains.
import PackageDescription

/// The packages under Packages/, in dependency order: each is one module of
/// the same name (and a library product), with what it and its tests depend on.
let packages: [(name: String, dependencies: [String], testDependencies: [String])] = [
    ("Platform", ["CPlatform"], []),
    ("ArenaMap", ["Platform"], ["Platform"]),
    ("PageAlloc", ["Platform"], ["Platform"]),
    ("GCBits", ["Platform"], ["Platform"]),
    ("SpanCore", ["Platform"], ["Platform"]),
    ("Central", ["Platform", "SpanCore"], ["Platform", "SpanCore"]),
    ("Scavenger", ["Platform", "PageAlloc"], ["Platform", "PageAlloc"]),
]

func packageTargets(_ p: (name: String, dependencies: [String], testDependencies: [String])) -> [Target] {
    [
        .target(
            name: p.name,
            dependencies: p.dependencies.map { .target(name: $0) },
            path: "Packages/\(p.name)/Sources/\(p.name)"
        ),
        .testTarget(
            name: "\(p.name)Tests",
            dependencies: ([p.name] + p.testDependencies).map { .target(name: $0) },
            path: "Packages/\(p.name)/Tests/\(p.name)Tests"
        ),
    ]
}

/// This manifest's folder (for the preloadable library's linker version script).
let packageDirectory = String(#filePath.dropLast("/Package.swift".count))

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "NUMAHeap",
    products: packages.map { .library(name: $0.name, targets: [$0.name]) } + [
        // The composed heap: `Heap`, per-node page heaps, statistics.
        .library(name: "NUMAHeap", targets: ["NUMAHeap"]),
        .library(name: "NUMAHeapCollected", targets: ["NUMAHeapCollected"]),
        // The size-class algorithm (Go's mksizeclasses.go), for runtime authors.
        .library(name: "SizeClassGeneration", targets: ["SizeClassGeneration"]),
        // Link it into an executable and NUMAHeap is that process's malloc family,
        // as libNUMAHeapMalloc.so is under LD_PRELOAD (Docs/Malloc.md, "Linking it in").
        .library(name: "NUMAHeapAllocator", targets: ["NUMAHeapAllocator"]),
        // libNUMAHeapMalloc.so, the malloc family for LD_PRELOAD (Docs/Malloc.md). Build it with
        // `swift build -c release --product NUMAHeapMalloc --scratch-path .build-malloc -Xswiftc -cross-module-optimization`.
        .library(name: "NUMAHeapMalloc", type: .dynamic, targets: ["NUMAHeapMallocPreload"]),
        .executable(name: "numaheap", targets: ["numaheap"]),
        .executable(name: "size-class-gen", targets: ["size-class-gen"]),
        .plugin(name: "GenerateSizeClasses", targets: ["GenerateSizeClasses"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation` (.ci/docs.sh). A plugin only: no
        // target uses it, so a dependent builds nothing of it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // Platform's C shims (thread-local slots, syscalls without varargs).
        .target(name: "CPlatform", path: "Packages/Platform/Sources/CPlatform"),
    ] + packages.flatMap(packageTargets) + [
        // The composed heap.
        .target(name: "NUMAHeap", dependencies: ["Platform", "ArenaMap", "PageAlloc", "SpanCore", "Central", "Scavenger"]),
        .target(name: "NUMAHeapCollected", dependencies: ["NUMAHeap", "Platform", "ArenaMap", "GCBits", "SpanCore"]),

        // Size classes: the algorithm (a library, so tests call it directly),
        // the command-line generator, and the command plugin that runs it.
        .target(name: "SizeClassGeneration"),
        .executableTarget(name: "size-class-gen", dependencies: ["SizeClassGeneration", argumentParser]),
        .plugin(
            name: "GenerateSizeClasses",
            capability: .command(
                intent: .custom(
                    verb: "generate-size-classes",
                    description: "Regenerate SpanCore's size-class and divmagic tables (Go's mksizeclasses.go)."
                ),
                permissions: [
                    .writeToPackageDirectory(reason: "Writes Packages/SpanCore/Sources/SpanCore/SizeClasses.generated.swift."),
                ]
            ),
            dependencies: ["size-class-gen"]
        ),

        // The CLI: bench, topology, tables, stats.
        .executableTarget(name: "numaheap", dependencies: ["NUMAHeap", "NUMAHeapCollected", "SizeClassGeneration", argumentParser, "SpanCore", "Platform"]),

        // The malloc family. CNUMAHeapMalloc holds the exported C functions
        // (malloc, free, …), the options and the bootstrap area; NUMAHeapMalloc
        // the Swift side over one process-wide heap. Neither needs a flag, so
        // the NUMAHeapAllocator product links them into any executable; the
        // preloadable library adds NUMAHeapMallocPreload, which carries its link
        // options (the Swift runtime linked in statically, so the library loads
        // into any program; only the malloc family exported; lld's packed
        // relative relocations — DT_RELR, glibc 2.36 or later — so that loading
        // it reads 3 KiB of relocations instead of 394 KiB: 340 KiB less RSS
        // in every process). The library's
        // tests are Tests/Malloc/run.sh, the linked allocator's Examples/LinkedAllocator.
        .target(name: "CNUMAHeapMalloc", dependencies: ["Platform"]),
        .target(name: "NUMAHeapMalloc", dependencies: ["NUMAHeap", "CNUMAHeapMalloc", "Platform"]),
        .target(name: "NUMAHeapAllocator", dependencies: ["NUMAHeap", "NUMAHeapMalloc", "CNUMAHeapMalloc"]),
        .target(
            name: "NUMAHeapMallocPreload",
            dependencies: ["NUMAHeapMalloc", "CNUMAHeapMalloc"],
            exclude: ["exports.map"],
            linkerSettings: [.unsafeFlags([
                "-static-stdlib", "-use-ld=lld",
                "-Xlinker", "--version-script=\(packageDirectory)/Sources/NUMAHeapMallocPreload/exports.map",
                "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
            ])]
        ),

        // NUMA placement checked by the kernel in a multi-node guest (.ci/numa-guest.sh);
        // an executable, since `swift test` must pass where there is no guest.
        .executableTarget(name: "numaheap-guest-checks", dependencies: ["NUMAHeap", "Platform", "Central", "SpanCore"],
                          path: "Tests/NUMAGuest"),

        .testTarget(name: "NUMAHeapTests", dependencies: ["NUMAHeap", "Platform", "CPlatform", "Central", "SpanCore"]),
        .testTarget(name: "NUMAHeapCollectedTests", dependencies: ["NUMAHeapCollected", "NUMAHeap", "Platform"]),
        .testTarget(
            name: "SizeClassGenerationTests",
            dependencies: ["SizeClassGeneration", "size-class-gen", "SpanCore"]
        ),
    ]
)
