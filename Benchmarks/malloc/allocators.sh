# Sourced by run.sh and scaling.sh (from the repository root): sets `bin` (the
# built bench.c: $BENCH_BINARY, or compiled here with cc -O2), and `names` /
# `preload`, the allocators to compare and their LD_PRELOAD values — glibc
# (none), NUMAHeap ($NUMAHEAP_MALLOC_LIB, default the .build-malloc release
# build), then jemalloc, TCMalloc and mimalloc where ldconfig or
# $BENCH_LIB_DIR has them. $BENCH_RAW, when set, is where the raw results go.
lib=$(realpath "${NUMAHEAP_MALLOC_LIB:-.build-malloc/release/libNUMAHeapMalloc.so}")
[ -f "$lib" ] || { echo "build it first: swift build -c release --product NUMAHeapMalloc --scratch-path .build-malloc -Xswiftc -cross-module-optimization" >&2; exit 1; }
bin=${BENCH_BINARY:-}
if [ -z "$bin" ]; then bin=$(mktemp -d)/bench; cc -O2 -pthread -o "$bin" Benchmarks/malloc/bench.c; fi

names=(glibc NUMAHeap)
preload=("" "$lib")
for candidate in jemalloc:libjemalloc.so.2 TCMalloc:libtcmalloc_minimal.so.4 mimalloc:libmimalloc.so.2; do
    name=${candidate%%:*} so=${candidate#*:}
    path=$(ldconfig -p 2>/dev/null | awk -v so="$so" '$1 == so { print $NF; exit }')
    if [ -z "$path" ] && [ -n "${BENCH_LIB_DIR:-}" ] && [ -f "$BENCH_LIB_DIR/$so" ]; then path=$(realpath "$BENCH_LIB_DIR/$so"); fi
    if [ -n "$path" ]; then names+=("$name"); preload+=("$path"); else echo "($name not installed: skipped)" >&2; fi
done
results=${BENCH_RAW:-$(mktemp)}
: >"$results"
