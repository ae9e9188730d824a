#!/usr/bin/env bash
# What the check tiers cost (HeapConfiguration.checks, Docs/Heap.md "Checks"):
# the same `numaheap` built twice in release — as shipped, and with the
# standard tier's checks compiled out (-DNUMAHEAP_UNCHECKED, a benchmark-only
# flag: no product is ever built with it) — measured three ways: unchecked,
# standard, full (`numaheap bench --checks full`).
#
#  1. Instructions per call (gdb, stepping every instruction from entry to
#     return, callees included, of 64 consecutive warm calls in
#     `numaheap bench --workload pairs/SIZE`): the allocation leaf
#     Heap._allocateFast(byteCount:) and HeapCore.deallocate(_:).
#  2. Time: ns per allocate+free pair of `numaheap bench --workload pairs`
#     (16, 64, 256, 1024 B), the three variants alternated ROUNDS times in
#     one run; medians and their ratios to the unchecked build.
#
#   Benchmarks/checks/run.sh [ROUNDS (5)] [SECONDS_PER_RUN (2)]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
seconds=${2:-2}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2; }
[[ "$seconds" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: SECONDS_PER_RUN must be a number, not '$seconds'" >&2; exit 2; }
quiet() { grep -Ev '^\[[0-9]+/[0-9]+\]' >&2 || true; }
swift build -c release --scratch-path .build-release --product numaheap 2>&1 | quiet
swift build -c release --scratch-path .build-unchecked --product numaheap -Xswiftc -DNUMAHEAP_UNCHECKED 2>&1 | quiet
checked=.build-release/release/numaheap
unchecked=.build-unchecked/release/numaheap
sizes=(16 64 256 1024)

ALLOCATE='$s8NUMAHeap4HeapC13_allocateFast9byteCountSvSgSi_tF'
DEALLOCATE='$s8NUMAHeap8HeapCoreV10deallocateyySvF'
count() {  # binary tier size → "alloc free" mean instructions per call (Benchmarks/count-instructions.py)
    COUNT_CALLS="$ALLOCATE:300:64 $DEALLOCATE:100:64" gdb -q -batch -ex "file $1" \
        -ex "set args bench --workload pairs/$3 --sizes $3 --allocator NUMAHeap --checks $2 --duration 0.01 --rounds 1" \
        -ex "break main" -ex "run" -ex "source Benchmarks/count-instructions.py" 2>/dev/null \
        | awk '$1 == "COUNT" { printf "%s ", $3 } END { print "" }'
}

echo "Instructions per call, entry to return (callees included), mean of 64 warm calls:"
printf '%-8s %-22s %-22s %-22s\n' size "unchecked alloc+free" "standard alloc+free" "full alloc+free"
if command -v gdb >/dev/null; then
    for s in 16 64 256; do
        read -r ua uf <<<"$(count "$unchecked" standard "$s")"
        read -r sa sf <<<"$(count "$checked" standard "$s")"
        read -r fa ff <<<"$(count "$checked" full "$s")"
        printf '%-8s %-22s %-22s %-22s\n' "$s B" "$ua + $uf" "$sa + $sf" "$fa + $ff"
    done
else
    echo "(gdb not installed: no instruction counts)"
fi

echo
echo "ns per allocate+free pair, median of $rounds alternated runs (ratio to unchecked):"
declare -A ns
json=$(mktemp)
for ((r = 0; r < rounds; r++)); do
    for variant in unchecked standard full; do
        case $variant in unchecked) bin=$unchecked tier=standard ;; standard) bin=$checked tier=standard ;; full) bin=$checked tier=full ;; esac
        "$bin" bench --workload pairs --sizes "$(IFS=,; echo "${sizes[*]}")" --allocator NUMAHeap --checks "$tier" \
            --rounds 1 --duration "$seconds" --json "$json" >/dev/null
        while read -r size value; do ns[$variant.$size]+="$value "; done < <(python3 - "$json" <<'PY'
import json, sys
for row in json.load(open(sys.argv[1]))["results"]:
    if row["allocator"] == "NUMAHeap" and row["workload"].startswith("pairs/"):
        print(row["workload"].split("/")[1], row["ns_per_pair"])
PY
)
    done
done
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-8s %-12s %-20s %-20s\n' size unchecked standard full
for s in "${sizes[@]}"; do
    u=$(median "${ns[unchecked.$s]:-}"); st=$(median "${ns[standard.$s]:-}"); f=$(median "${ns[full.$s]:-}")
    printf "%-8s %-12s %-20s %-20s\n" "$s B" "$(printf %.1f "$u")" "$(printf %.1f "$st") ($(awk "BEGIN {printf \"%.2f\", $st/$u}")×)" "$(printf %.1f "$f") ($(awk "BEGIN {printf \"%.2f\", $f/$u}")×)"
done
rm -f "$json"
