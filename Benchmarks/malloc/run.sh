#!/usr/bin/env bash
# Runs Benchmarks/malloc/bench.c under glibc, libNUMAHeapMalloc.so and, where
# installed, jemalloc, TCMalloc and mimalloc (Debian libjemalloc2,
# libtcmalloc-minimal4, libmimalloc2.0), each through LD_PRELOAD. Rounds are
# interleaved (A B C D A B C D …: every allocator runs each workload once per
# round, in the same order), and the table shows the median of the rounds:
# throughput (ops/s) and peak RSS, each with its ratio to glibc.
#
# usage: Benchmarks/malloc/run.sh [ROUNDS (3)] [SCALE (1.0)]
#   NUMAHEAP_MALLOC_LIB=path/to/libNUMAHeapMalloc.so (default .build-malloc/release/…)
#   NUMAHEAP_MALLOC_BASELINE=another build of it, measured as "NUMAHeap-base" (before/after)
#   BENCH_BINARY  a built bench.c (default: compiled here with cc -O2)
#   BENCH_LIB_DIR where to look for the other allocators when ldconfig does not know them
#   BENCH_RAW     also write the raw results (one line per run) there
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
scale=${2:-1.0}
source Benchmarks/malloc/allocators.sh
workloads=(pairs16 churn xthread sizemix large realloc larson)
for r in $(seq "$rounds"); do
    for w in "${workloads[@]}"; do
        for i in "${!names[@]}"; do
            if out=$(LD_PRELOAD=${preload[$i]} "$bin" "$w" "$scale"); then
                echo "${names[$i]} $w $out" >>"$results"
            else
                echo "${names[$i]} $w FAILED (data integrity or crash)" >&2; exit 1
            fi
        done
    done
    echo "round $r/$rounds done" >&2
done

command -v python3 >/dev/null || { cat "$results"; exit 0; }
python3 - "$results" "$rounds" "$scale" "${names[@]}" <<'PY'
import statistics, sys
path, rounds, scale, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
data = {}
for line in open(path):
    n, w, ops, rss = line.split()
    data.setdefault((n, w), []).append((float(ops), int(rss)))
workloads = []
for line in open(path):
    w = line.split()[1]
    if w not in workloads: workloads.append(w)
print(f"Median of {rounds} interleaved rounds, scale {scale}. Throughput in million ops/s (×glibc); peak RSS in MiB (×glibc).\n")
print("| workload | " + " | ".join(names) + " |")
print("|---|" + "---|" * len(names))
for w in workloads:
    g_ops = statistics.median(o for o, _ in data[("glibc", w)])
    g_rss = statistics.median(r for _, r in data[("glibc", w)])
    ops_cells, rss_cells = [], []
    for n in names:
        ops = statistics.median(o for o, _ in data[(n, w)])
        rss = statistics.median(r for _, r in data[(n, w)])
        ops_cells.append(f"{ops / 1e6:.3g} ({ops / g_ops:.2f}×)")
        rss_cells.append(f"{rss / 1024:.1f} ({rss / g_rss:.2f}×)")
    print(f"| {w} ops/s | " + " | ".join(ops_cells) + " |")
    print(f"| {w} peak RSS | " + " | ".join(rss_cells) + " |")
PY
