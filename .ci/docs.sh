#!/usr/bin/env bash
# Every library module's documentation builds, with no DocC warning: the
# catalogues of the packages (Packages/<Name>/Sources/<Name>/<Name>.docc) and of
# NUMAHeap (Sources/NUMAHeap/NUMAHeap.docc), and the doc comments of every
# public symbol (a broken ``symbol`` link fails). swift-docc-plugin is a
# dependency of the root manifest only; no target uses it, so a dependent
# builds nothing of it.
#
# The archives land in .build-docs/plugins/Swift-DocC/outputs/<Module>.doccarchive;
# `swift package --disable-sandbox preview-documentation --target X` serves one.
#
# Usage: .ci/docs.sh [Module ...]   (default: every library module)
set -euo pipefail
cd "$(dirname "$0")/.."

modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
    # The packages' modules, the composed heap, and the other Swift library
    # modules (without catalogues: their doc comments are checked all the same).
    modules=(Platform ArenaMap PageAlloc GCBits SpanCore Central Scavenger NUMAHeap NUMAHeapCollected
             SizeClassGeneration NUMAHeapMalloc NUMAHeapAllocator)
fi
args=()
for m in "${modules[@]}"; do args+=(--target "$m"); done

log=$(mktemp /tmp/numaheap-docs.XXXXXX)
trap 'rm -f "$log"' EXIT
echo "docs: ${modules[*]}"
set +e
swift package --scratch-path .build-docs generate-documentation "${args[@]}" --warnings-as-errors >"$log" 2>&1
status=$?
set -e
if [ "$status" -ne 0 ] || grep -q 'warning:' "$log"; then
    grep -v '^\[[0-9]*/[0-9]*\]' "$log" | grep -E -A12 'warning:|error:' | head -150 >&2 || true
    echo "docs: generate-documentation failed (status $status) or warned" >&2
    exit 1
fi
grep -o '[A-Za-z]*\.doccarchive' "$log" | sort -u | sed 's/^/docs: built /'
