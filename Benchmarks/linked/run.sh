#!/usr/bin/env bash
# The same Swift workload (Sources/SwiftWorkload) three ways, alternated in
# one run: the plain build on glibc's malloc, the build that links
# NUMAHeapAllocator, and the plain build under LD_PRELOAD of
# libNUMAHeapMalloc.so. Prints every run, the medians and the ratios, then the
# startup cost (the programs with 0 rounds, wall time, mean of 50 runs each).
#
#   Benchmarks/linked/run.sh [ROUNDS_OF_ALTERNATION] [WORKLOAD_ROUNDS]
#
# Builds what it needs in release (the preloadable library as the README says).
set -euo pipefail
cd "$(dirname "$0")/../.."
alternations=${1:-5}
rounds=${2:-2000}
case "$alternations$rounds" in *[!0-9]*) echo "usage: $0 [ALTERNATIONS] [WORKLOAD_ROUNDS] (non-negative integers)" >&2; exit 2 ;; esac

swift build -c release --package-path Benchmarks/linked 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2
swift build -c release --product NUMAHeapMalloc --scratch-path .build-malloc -Xswiftc -cross-module-optimization 2>&1 \
    | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2
bin=$(swift build -c release --package-path Benchmarks/linked --show-bin-path)
lib=$PWD/.build-malloc/release/libNUMAHeapMalloc.so

run() {  # label command… → prints the workload's µs
    local label=$1; shift
    local out
    out=$("$@" "$rounds" | head -1)
    sed -E 's/.* in ([0-9]+) µs.*/\1/' <<<"$out"
}
declare -a plain linked preload
for ((i = 0; i < alternations; i++)); do
    plain+=("$(run plain "$bin/workload-plain")")
    linked+=("$(run linked "$bin/workload-linked")")
    preload+=("$(run preload env LD_PRELOAD="$lib" "$bin/workload-plain")")
    echo "round $((i + 1)): plain ${plain[-1]} µs, linked ${linked[-1]} µs, preloaded ${preload[-1]} µs"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mp=$(median "${plain[@]}"); ml=$(median "${linked[@]}"); mq=$(median "${preload[@]}")
echo "workload ($rounds rounds), median of $alternations: plain (glibc) $mp µs, linked $ml µs ($(awk "BEGIN {printf \"%.3f\", $ml/$mp}")× plain), preloaded $mq µs ($(awk "BEGIN {printf \"%.3f\", $mq/$mp}")× plain)"

startup() {  # command… → mean wall µs of one run with 0 workload rounds, over 50 runs in a row
    local s e
    s=$(date +%s%N)
    for ((j = 0; j < 50; j++)); do "$@" 0 >/dev/null; done
    e=$(date +%s%N)
    echo $(( (e - s) / 50000 ))
}
echo "startup (0 rounds, wall, mean of 50): plain $(startup "$bin/workload-plain") µs," \
    "linked $(startup "$bin/workload-linked") µs, preloaded $(startup env LD_PRELOAD="$lib" "$bin/workload-plain") µs"
