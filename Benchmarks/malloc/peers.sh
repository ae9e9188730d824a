# Sourced (from the repository root) by every benchmark that runs programs
# under each allocator: sets `names` and `preload`, the allocators to compare
# and their LD_PRELOAD values — glibc (none), NUMAHeap ($NUMAHEAP_MALLOC_LIB,
# default the .build-malloc release build), then jemalloc, TCMalloc and
# mimalloc (Debian libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0) where
# ldconfig or $BENCH_LIB_DIR has them; one line on stderr for each missing one.
# The caller builds the library first; `peers_caller` names it in the error.
# $NUMAHEAP_MALLOC_BASELINE, when set, adds a second NUMAHeap build (another
# commit's library) as "NUMAHeap-base", for before/after in one interleaved run.
lib=$(realpath "${NUMAHEAP_MALLOC_LIB:-.build-malloc/release/libNUMAHeapMalloc.so}")
[ -f "$lib" ] || { echo "${peers_caller:-$0}: no libNUMAHeapMalloc.so at $lib; build it first: swift build -c release --product NUMAHeapMalloc --scratch-path .build-malloc -Xswiftc -cross-module-optimization" >&2; exit 1; }
names=(glibc NUMAHeap)
preload=("" "$lib")
if [ -n "${NUMAHEAP_MALLOC_BASELINE:-}" ]; then
    base=$(realpath "$NUMAHEAP_MALLOC_BASELINE")
    [ -f "$base" ] || { echo "${peers_caller:-$0}: NUMAHEAP_MALLOC_BASELINE=$NUMAHEAP_MALLOC_BASELINE: no such file" >&2; exit 1; }
    names+=(NUMAHeap-base); preload+=("$base")
fi
for candidate in jemalloc:libjemalloc.so.2 TCMalloc:libtcmalloc_minimal.so.4 mimalloc:libmimalloc.so.2; do
    name=${candidate%%:*} so=${candidate#*:}
    path=$(ldconfig -p 2>/dev/null | awk -v so="$so" '$1 == so { print $NF; exit }')
    if [ -z "$path" ] && [ -n "${BENCH_LIB_DIR:-}" ] && [ -f "$BENCH_LIB_DIR/$so" ]; then path=$(realpath "$BENCH_LIB_DIR/$so"); fi
    if [ -n "$path" ]; then names+=("$name"); preload+=("$path"); else echo "($name not installed: skipped)" >&2; fi
done
