#!/usr/bin/env bash
# Thread scaling of the malloc library against glibc and, where found,
# jemalloc, TCMalloc and mimalloc: Benchmarks/malloc/bench.c's pairs16, churn,
# sizemix, xthread and larson workloads on 1, 2, 4, … threads at once
# (BENCH_THREADS), every thread doing the one-thread work (xthread: N/2
# producer/consumer pairs; larson: N threads handing their blocks on in a ring). Rounds are interleaved (each allocator runs
# each workload and thread count once per round, in the same order); the table
# is the median of the rounds, total million ops/s with the ratio to glibc.
#
# usage: Benchmarks/malloc/scaling.sh [ROUNDS (3)] [SCALE (0.5)] [THREADS ("1 2 4 8 16")]
#   NUMAHEAP_MALLOC_LIB  the library (default .build-malloc/release/libNUMAHeapMalloc.so)
#   BENCH_BINARY         a built bench.c (default: compiled here with cc -O2)
#   BENCH_LIB_DIR        where to look for libjemalloc.so.2, libtcmalloc_minimal.so.4,
#                        libmimalloc.so.2 when ldconfig does not know them
#   BENCH_RAW            also write the raw results (one line per run) there
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
scale=${2:-0.5}
counts=${3:-"1 2 4 8 16"}
source Benchmarks/malloc/allocators.sh
for r in $(seq "$rounds"); do
    for w in pairs16 churn sizemix xthread larson; do
        for n in $counts; do
            for i in "${!names[@]}"; do
                if out=$(BENCH_THREADS=$n LD_PRELOAD=${preload[$i]} "$bin" "$w" "$scale"); then
                    echo "${names[$i]} $w $n $out" >>"$results"
                else
                    echo "${names[$i]} $w ×$n FAILED (data integrity or crash)" >&2; exit 1
                fi
            done
        done
    done
    echo "round $r/$rounds done" >&2
done
if command -v python3 >/dev/null; then
python3 - "$results" "$rounds" "$scale" "${names[@]}" <<'PY'
import statistics, sys
path, rounds, scale, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
data, order = {}, []
for line in open(path):
    n, w, t, ops, rss = line.split()
    data.setdefault((n, w, int(t)), []).append(float(ops))
    if (w, int(t)) not in order: order.append((w, int(t)))
print(f"Median of {rounds} interleaved rounds, scale {scale}; total million ops/s over all threads (×glibc).\n")
print("| workload | threads | " + " | ".join(names) + " |")
print("|---|---|" + "---|" * len(names))
for w, t in order:
    g = statistics.median(data[("glibc", w, t)])
    cells = []
    for n in names:
        v = statistics.median(data[(n, w, t)])
        cells.append(f"{v / 1e6:.3g} ({v / g:.2f}×)")
    print(f"| {w} | {t} | " + " | ".join(cells) + " |")
PY
else
    cat "$results"
fi
