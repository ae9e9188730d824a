#!/usr/bin/env bash
# Static checks of libNUMAHeapMalloc.so (run by .ci/run before Tests/Malloc/run.sh):
#  1. it exports exactly the malloc family (default visibility, from the C target);
#  2. `nm -D --undefined-only`: nothing from the Swift runtime is imported (it is
#     linked in statically) and no allocation function is imported (the library
#     defines them; an imported one would be glibc's);
#  3. no shared Swift library is needed (ldd);
#  4. nothing reachable from the exported functions calls swift_once,
#     swift_allocObject, metadata instantiation or anything else that may
#     allocate (Tests/Malloc/callgraph.py, over `objdump -d`);
#  5. the leaf fast paths `malloc` and `free` tail-call
#     (numaheap_core_malloc_fast, numaheap_core_free_fast) call nothing: on a
#     miss they jump to the full path, so nothing they run re-enters malloc.
set -uo pipefail
lib=${1:?usage: check-symbols.sh path/to/libNUMAHeapMalloc.so}
here=$(cd "$(dirname "$0")" && pwd)
failed=0

expected="aligned_alloc calloc cfree free mallinfo mallinfo2 malloc malloc_stats malloc_trim malloc_usable_size mallopt memalign posix_memalign pvalloc realloc reallocarray valloc"
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "W" || $2 == "i" { print $3 }' | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$exported" = "$expected" ]; then
    echo "ok    exported functions: $exported"
else
    echo "FAIL  exported functions: got '$exported', want '$expected'"; failed=1
fi

undefined=$(nm -D --undefined-only "$lib" | awk '{ print $NF }')
echo "      nm -D --undefined-only: $(wc -l <<<"$undefined") symbols"
bad=$(grep -E '^(swift_|_swift_|\$s)|^(malloc|free|calloc|realloc|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size)(@|$)' <<<"$undefined")
if [ -z "$bad" ]; then
    echo "ok    no Swift runtime or allocation function imported"
else
    echo "FAIL  imported: $(tr '\n' ' ' <<<"$bad")"; failed=1
fi

if ldd "$lib" | grep -q 'libswift'; then
    echo "FAIL  needs a shared Swift library: $(ldd "$lib" | grep libswift | tr '\n' ' ')"; failed=1
else
    echo "ok    no shared Swift library needed (-static-stdlib): $(ldd "$lib" | awk '{ print $1 }' | tr '\n' ' ')"
fi

# The walk is tested on listings it must judge right before it judges the library.
if python3 "$here/callgraph.py" --self-test | sed 's/^/      /'; then
    echo "ok    call-graph walk passes its self-tests"
else
    echo "FAIL  call-graph walk: a self-test failed (see above)"; failed=1
fi
if python3 "$here/callgraph.py" "$lib" | sed 's/^/      /'; then
    echo "ok    call graph from the exported functions"
else
    echo "FAIL  call graph: a forbidden function is reachable (see above)"; failed=1
fi
# The leaves call nothing: no `call` at all, and the only jump out of each is
# the tail jump to its miss handler (numaheap_malloc_miss / numaheap_free_miss,
# the library's full path). The exported malloc and free end in a tail jump
# to their leaf (they keep nothing across a call).
for pair in numaheap_core_malloc_fast:numaheap_malloc_miss numaheap_core_free_fast:numaheap_free_miss; do
    leaf=${pair%%:*} miss=${pair#*:}
    read -r addr size < <(nm -S "$lib" | awk -v s="$leaf" '$4 == s { print $1, $2 }')
    if [ -z "${addr:-}" ]; then
        echo "FAIL  $leaf: not in the library"; failed=1; continue
    fi
    text=$(objdump -d --no-show-raw-insn "$lib" --start-address=0x"$addr" \
        --stop-address="$(printf '0x%x' $((0x$addr + 0x$size)))")
    calls=$( { grep -E '\scall' <<<"$text" || true; }; { grep -E '\sjmp\s' <<<"$text" | grep -Ev "<($leaf|$miss)(\+0x[0-9a-f]+)?>" || true; } )
    if [ -z "$calls" ] && grep -Eq "\sjmp\s+[0-9a-f]+ <$miss>" <<<"$text"; then
        echo "ok    $leaf calls nothing (a leaf; its miss is a tail jump to $miss)"
    else
        echo "FAIL  $leaf calls or jumps out: $(awk '{ print $NF }' <<<"$calls" | tr '\n' ' ')"; failed=1
    fi
done
exit "$failed"
