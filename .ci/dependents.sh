#!/usr/bin/env bash
# What a user of NUMAHeap does: depend on it by URL and a version. The
# committed HEAD is cloned bare into a scratch folder and tagged 1.0.0; two
# scratch packages name it with `.package(url: "file://…", from: "1.0.0")`:
#
#   1. a program that takes the PageAlloc product alone: it must build, run,
#      and build no module of NUMAHeap's but Platform (with its C shims) and
#      PageAlloc — and nothing of swift-argument-parser;
#   2. a program that takes NUMAHeapAllocator (the example in
#      Examples/LinkedAllocator, its manifest rewritten to the URL): it must
#      build without unsafe flags and run, with malloc resolved in the
#      executable and its allocations seen by Heap.shared.
#
# Uncommitted changes are not in the clone: like a user, this sees only commits.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d /tmp/numaheap-dependents.XXXXXX)
trap 'rm -rf "$work"' EXIT

git clone -q --bare "$repo" "$work/NUMAHeap.git"
git -C "$work/NUMAHeap.git" tag -d $(git -C "$work/NUMAHeap.git" tag) >/dev/null 2>&1 || true
git -C "$work/NUMAHeap.git" tag 1.0.0 HEAD
url="file://$work/NUMAHeap.git"
echo "dependency: $url at 1.0.0 ($(git -C "$work/NUMAHeap.git" rev-parse --short HEAD))"

# --- 1. PageAlloc alone --------------------------------------------------------------
mkdir -p "$work/uses-pagealloc/Sources/uses-pagealloc"
cat > "$work/uses-pagealloc/Package.swift" <<MANIFEST
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "uses-pagealloc",
    dependencies: [.package(url: "$url", from: "1.0.0")],
    targets: [
        .executableTarget(name: "uses-pagealloc", dependencies: [.product(name: "PageAlloc", package: "NUMAHeap")]),
    ]
)
MANIFEST
cat > "$work/uses-pagealloc/Sources/uses-pagealloc/main.swift" <<'SOURCE'
import PageAlloc

// The 4 KiB blocks of a 1 GiB file: "addresses" are byte offsets.
var blocks = PageAllocator(pageSize: 4096)
blocks.grow(base: 0, bytes: 1 << 30)
guard let (offset, _) = blocks.allocate(pages: 16), let (next, _) = blocks.allocate(pages: 1) else {
    fatalError("PageAllocator refused 17 pages of 262 144")
}
precondition(offset == 0 && next == 16 * 4096, "lowest-address-first: got \(offset), \(next)")
blocks.free(base: offset, pages: 16)
precondition(blocks.freePages == (1 << 30) / 4096 - 1)
print("uses-pagealloc: ok (\(blocks.freePages) free pages)")
SOURCE
echo "--- a package that takes PageAlloc alone"
(cd "$work/uses-pagealloc" && swift build 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]|^(Fetching|Fetched|Cloning|Cloned|Computing|Computed|Creating|Working copy)' || true)
(cd "$work/uses-pagealloc" && swift build >/dev/null 2>&1) || { echo "uses-pagealloc: build failed" >&2; exit 1; }
(cd "$work/uses-pagealloc" && "$(swift build --show-bin-path)/uses-pagealloc")
modules=$(cd "$work/uses-pagealloc/.build/debug/Modules" && ls -d *.swiftmodule | sed 's/\.swiftmodule$//' | sort | tr '\n' ' ')
echo "Swift modules built: $modules"
if [ "$modules" != "PageAlloc Platform uses_pagealloc " ]; then
    echo "expected exactly PageAlloc, Platform and the program's own module" >&2
    exit 1
fi
# SwiftPM lays out a folder for every target of the graph; the ones it compiled hold objects.
built=$(cd "$work/uses-pagealloc/.build/debug" && for d in *.build; do
    [ -n "$(find "$d" -name '*.o' -print -quit)" ] && echo "${d%.build}"; done | sort | tr '\n' ' ')
echo "targets compiled: $built"
if [ "$built" != "CPlatform PageAlloc Platform uses_pagealloc " ]; then
    echo "expected exactly CPlatform, Platform, PageAlloc and the program" >&2
    exit 1
fi

# --- 2. NUMAHeapAllocator ------------------------------------------------------------
mkdir -p "$work/uses-allocator"
cp -R Examples/LinkedAllocator/Sources "$work/uses-allocator/"
cat > "$work/uses-allocator/Package.swift" <<MANIFEST
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "uses-allocator",
    dependencies: [.package(url: "$url", from: "1.0.0")],
    targets: [
        .executableTarget(name: "linked-allocator-example", dependencies: [.product(name: "NUMAHeapAllocator", package: "NUMAHeap")]),
    ]
)
MANIFEST
echo "--- a package that links NUMAHeapAllocator"
(cd "$work/uses-allocator" && swift build > "$work/allocator-build.log" 2>&1) || { cat "$work/allocator-build.log" >&2; echo "uses-allocator: build failed" >&2; exit 1; }
(cd "$work/uses-allocator" && "$(swift build --show-bin-path)/linked-allocator-example")
echo "dependents: ok"
