#!/usr/bin/env bash
# Checks, on a release build of `numaheap`, that NUMAHeap's hot paths are
# specialised and inlined across the package boundaries (Docs/Benchmarks.md):
# Heap.allocate(byteCount:alignment:) is inlined at the call site and calls
# the leaf Heap._allocateFast(byteCount:), which must call nothing at all;
# Heap._allocate16(byteCount:) (its fallback), Heap.deallocate(_:) and
# HeapCore.deallocate(_:) must call no SpanCore/ArenaMap function on the fast
# path (nextFreeFast, sizeClass(for:), spanOf inlined), and nothing at all of
# swift_retain/swift_release/swift_once, protocol witnesses or generic
# metadata. With --count (needs gdb), also counts the instructions one
# fast-path call executes, entry to return, by stepping through a warm call in
# `numaheap bench --workload pairs/64`.
#
#   Benchmarks/check-specialisation.sh [--count]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --scratch-path .build-release --product numaheap >&2
B=.build-release/release/numaheap
demangle() { swift demangle --simplified; }

ALLOCATE='$s8NUMAHeap4HeapC13_allocateFast9byteCountSvSgSi_tF'
ALLOCATE16='$s8NUMAHeap4HeapC11_allocate169byteCountSvSi_tAA0B5ErrorOYKF'
DEALLOCATE='$s8NUMAHeap4HeapC10deallocateyySvF'
CORE_DEALLOCATE='$s8NUMAHeap8HeapCoreV10deallocateyySvF'
status=0

body() {
    local addr size
    read -r addr size < <(nm -S "$B" | awk -v s="$1" '$4 == s { print $1, $2 }')
    [ -n "$addr" ] || { echo "symbol $1 not found in $B" >&2; exit 1; }
    objdump -d --no-show-raw-insn "$B" --start-address=0x"$addr" \
        --stop-address="$(printf '0x%x' $((0x$addr + 0x$size)))" | demangle
}

for sym in "$ALLOCATE" "$ALLOCATE16" "$DEALLOCATE" "$CORE_DEALLOCATE"; do
    name=$(echo "$sym" | demangle)
    text=$(body "$sym")
    echo "== $name: $(echo "$text" | grep -c '^ ') instructions in the function, calls:"
    echo "$text" | { grep -E '\s(call|jmp)\s' || true; } | { grep -v "<$name" || true; } | sed -E 's/.*<(.*)>.*/    \1/' | sort | uniq -c
    if echo "$text" | grep -E '\scall\s' | grep -Eq 'swift_retain|swift_release|swift_once|swift_getGeneric|swift_getWitness|protocol witness|nextFreeFast|sizeClass\(for:\)|spanOf'; then
        echo "    FAIL: a retain/release/once, witness, generic or un-inlined SpanCore/ArenaMap call" ; status=1
    else
        echo "    ok: no retain/release/once, no witness or generic entry point, SpanCore/ArenaMap inlined"
    fi
    if [ "$sym" = "$ALLOCATE" ] && echo "$text" | { grep -E '\s(call|jmp)\s' || true; } | grep -v "<$name" | grep -q .; then
        echo "    FAIL: the allocation leaf calls something"; status=1
    fi
done

if [ "${1:-}" = "--count" ]; then
    command -v gdb >/dev/null || { echo "gdb not found: no instruction count"; exit $status; }
    counts=$(COUNT_CALLS="$ALLOCATE:300:1 $CORE_DEALLOCATE:100:1" gdb -q -batch -ex "file $B" \
        -ex "set args bench --workload pairs/64 --allocator NUMAHeap --duration 0.01 --rounds 1" \
        -ex "break main" -ex "run" -ex "source Benchmarks/count-instructions.py" 2>/dev/null | grep '^COUNT')
    printf '    allocate(byteCount: 64) leaf (_allocateFast): %.0f instructions, entry to return\n' \
        "$(awk -v s="$ALLOCATE" '$2 == s { print $3 }' <<<"$counts")"
    printf '    deallocate(_:) of a 64-byte block, local free: %.0f instructions, entry to return\n' \
        "$(awk -v s="$CORE_DEALLOCATE" '$2 == s { print $3 }' <<<"$counts")"
fi
exit $status
