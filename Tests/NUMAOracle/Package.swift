// swift-tools-version: 6.1
//
// numa-oracle: checks NUMAHeap's view of the machine against libnuma's, the
// independent oracle (Docs/Topology.md). Its own package so that nothing in the
// root links libnuma (libnuma allocates with malloc, which NUMAHeap may be);
// `.ci/numa-oracle.sh` builds it and runs it on the host and in multi-node guests.
import PackageDescription

/// A path dependency's identity is its folder's name: the root's is whatever
/// the checkout is called ("main", "NUMAHeap", …), two levels above this folder.
let rootIdentity = String(#filePath.split(separator: "/").dropLast(3).last!)

let package = Package(
    name: "NUMAOracle",
    dependencies: [
        .package(path: "../.."),  // the root (identity: its folder name, see below); it declares every module
    ],
    targets: [
        .systemLibrary(
            name: "CNUMA",
            pkgConfig: "numa",
            providers: [.apt(["libnuma-dev"])]
        ),
        .executableTarget(
            name: "numa-oracle",
            dependencies: [
                "CNUMA",
                .product(name: "NUMAHeap", package: rootIdentity),
                .product(name: "Platform", package: rootIdentity),
            ]
        ),
    ]
)
