#!/usr/bin/env bash
# Prints the result tables of Docs/Benchmarks.md as markdown: for each section,
# the command that made the table (in a code block), then its output. It runs
# the existing drivers and adds nothing to what they measure; each driver's
# own header says how (rounds, medians, interleaving).
#
# usage: Benchmarks/report.sh [--quick] SECTION...
#   bench         numaheap bench, the README's NUMA suite (Sources/numaheap)
#   malloc        Benchmarks/malloc/run.sh: the malloc library under LD_PRELOAD, one thread
#   scaling       Benchmarks/malloc/scaling.sh: the same, 1, 2, 4 (and 8) threads
#   checks        Benchmarks/checks/run.sh: the check tiers' cost
#   instructions  Benchmarks/check-specialisation.sh --count: the fast paths' calls and instructions
#   linked        Benchmarks/linked/run.sh: NUMAHeapAllocator linked vs preloaded vs glibc
#   programs      Benchmarks/programs/run.sh without the server: perl, python, sqlite, swiftc, a Swift program
#   server        Benchmarks/programs/run.sh's Hummingbird server workloads (needs wrk; builds the server)
#   tls           Benchmarks/programs/perf-tls.sh: __tls_get_addr per request (needs perf; after `server`)
#   locks         lock acquisitions per 10^6 operations of bench.c under the library (NUMAHEAP_STATS)
#   microbench    swift package --package-path Benchmarks benchmark (ordo-one package-benchmark)
#   all           every section above but tls, locks and microbench, in that order
# --quick runs fewer rounds and shorter measurements (for a smoke run; the
# commands printed say what ran). Each section first builds what it runs, in
# release (the drivers' own builds; bench: .build-release; malloc, scaling,
# programs, server, tls, locks: the library in .build-malloc, the README's way).
#
# The peers (jemalloc, TCMalloc, mimalloc; Debian libjemalloc2,
# libtcmalloc-minimal4, libmimalloc2.0) must be installed for the sections that
# compare against them: the report stops, naming the missing library, rather
# than print a table without a column. Progress and the drivers' stderr go to
# stderr, with the time each section took; the markdown goes to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
sections=()
for arg in "$@"; do
    case $arg in
        --quick) quick=1 ;;
        -h | --help) sed -n '2,/^set -euo pipefail/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        all) sections+=(bench malloc scaling checks instructions linked programs server) ;;
        bench | malloc | scaling | checks | instructions | linked | programs | server | tls | locks | microbench) sections+=("$arg") ;;
        *) echo "report.sh: unknown section '$arg' (sections: bench malloc scaling checks instructions linked programs server tls locks microbench all; option --quick)" >&2; exit 2 ;;
    esac
done
[ ${#sections[@]} -gt 0 ] || { echo "usage: Benchmarks/report.sh [--quick] SECTION... (bench malloc scaling checks instructions linked programs server tls locks microbench all)" >&2; exit 2; }

# --- What the sections need ---------------------------------------------------------------
need_tool() {  # SECTION TOOL [DEBIAN-PACKAGE]
    command -v "$2" >/dev/null || { echo "report.sh: section '$1' needs '$2', which is not installed (Debian package ${3:-$2})" >&2; exit 1; }
}
need_peers() {  # SECTION
    local entry so pkg
    for entry in libjemalloc.so.2:libjemalloc2 libtcmalloc_minimal.so.4:libtcmalloc-minimal4 libmimalloc.so.2:libmimalloc2.0; do
        so=${entry%%:*} pkg=${entry#*:}
        if ! ldconfig -p 2>/dev/null | awk -v so="$so" '$1 == so { found = 1 } END { exit !found }' \
            && ! { [ -n "${BENCH_LIB_DIR:-}" ] && [ -f "$BENCH_LIB_DIR/$so" ]; }; then
            echo "report.sh: section '$1' compares against $so, which is not installed: apt-get install -y $pkg (or set BENCH_LIB_DIR)" >&2
            exit 1
        fi
    done
}
for s in "${sections[@]}"; do
    case $s in
        bench | malloc | scaling | programs | server | tls) need_peers "$s" ;;
    esac
    case $s in
        malloc | scaling) need_tool "$s" cc gcc; need_tool "$s" python3 ;;
        locks) need_tool "$s" cc gcc ;;
        checks) need_tool "$s" gdb; need_tool "$s" python3 ;;
        instructions) need_tool "$s" gdb; need_tool "$s" objdump binutils ;;
        programs) for t in perl sqlite3 python3; do need_tool "$s" "$t"; done ;;
        server) for t in wrk curl taskset; do need_tool "$s" "$t" "$( [ "$t" = taskset ] && echo util-linux || echo "$t")"; done ;;
        tls) for t in perf wrk curl; do need_tool "$s" "$t" "$( [ "$t" = perf ] && echo linux-perf || echo "$t")"; done ;;
    esac
done

quiet() { grep -Ev '^\[[0-9]+/[0-9]+\]' >&2 || true; }
build_malloc='swift build -c release --product NUMAHeapMalloc --scratch-path .build-malloc -Xswiftc -cross-module-optimization'
build_numaheap='swift build -c release --scratch-path .build-release --product numaheap'

# section NAME TITLE BUILD COMMAND FORMAT [SHOWN]: runs BUILD, then COMMAND (bash,
# from the repository root); prints TITLE as a heading, the command in a code
# block, and COMMAND's stdout: as it is when FORMAT is markdown, in a code
# block when it is text, only its last two lines (the medians) for summary,
# without the call lists and "ok" lines (the check passed) for calls, and as
# one table of p50s for p50 (package-benchmark's markdown).
# SHOWN, when given, is the command printed instead of COMMAND.
section() {
    local name=$1 title=$2 build=$3 command=$4 format=$5 shown=${6:-$4} start out
    start=$(date +%s)
    echo "report.sh: $name: $command" >&2
    if [ -n "$build" ]; then
        eval "$build" 2>&1 | quiet || { echo "report.sh: section '$name': the build failed: $build" >&2; exit 1; }
    fi
    out=$(eval "$command") || { echo "report.sh: section '$name' failed: $command" >&2; exit 1; }
    printf '### %s\n\n```sh\n%s\n```\n\n' "$title" "$shown"
    case $format in
        text) printf '```\n%s\n```\n\n' "$out" ;;
        summary) printf '```\n%s\n```\n\n' "$(tail -n 2 <<<"$out")" ;;   # the medians, not each round
        calls) printf '```\n%s\n```\n\n' "$(grep -Ev '^ +(ok:|[0-9]+ )' <<<"$out" | sed 's/, calls:$//')" ;;   # passed (else the script fails): sizes and counts
        p50) awk '  # package-benchmark markdown: "### NAME N B" then its wall-clock row; p50 is column 5
                /^### / { name = $0; sub(/^### /, "", name); n = split(name, w, " "); size = w[n - 1]; who = (name ~ /^NUMAHeap/) ? "NUMAHeap" : "glibc" }
                /Time \(wall clock\)/ { split($0, c, "|"); v = c[5]; gsub(/ /, "", v); t[who, size] = v; if (!(size in seen)) { seen[size] = 1; order[++k] = size } }
                END { print "p50 of wall-clock ns per allocate+free pair (1000 pairs a sample):\n"; print "| size | NUMAHeap | glibc |"; print "|---:|---:|---:|"
                      for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (order[j] + 0 < order[i] + 0) { x = order[i]; order[i] = order[j]; order[j] = x }
                      for (i = 1; i <= k; i++) printf "| %s B | %s | %s |\n", order[i], t["NUMAHeap", order[i]], t["glibc", order[i]] }' <<<"$out"; echo ;;
        *) printf '%s\n\n' "$out" ;;
    esac
    echo "report.sh: $name took $(( $(date +%s) - start )) s" >&2
}

# locks SCALE: one run of bench.c per row under the library with NUMAHEAP_STATS=1;
# its report's acquisitions per 10^6 malloc and free calls, as a markdown table.
locks() {
    local bin row w n stats
    bin=$(mktemp -d)/bench
    cc -O2 -pthread -o "$bin" Benchmarks/malloc/bench.c
    echo "One run per row, scale $1: acquisitions per 10⁶ malloc and free calls (contended ones in parentheses)."
    echo
    echo "| workload | threads | node lock | central lists |"
    echo "|---|---|---|---|"
    for row in sizemix:4 sizemix:8 churn:8 xthread:8 larson:8; do
        w=${row%:*} n=${row#*:}
        stats=$(BENCH_THREADS=$n NUMAHEAP_STATS=1 LD_PRELOAD=$PWD/.build-malloc/release/libNUMAHeapMalloc.so "$bin" "$w" "$1" 2>&1 >/dev/null) \
            || { echo "report.sh: locks: $w on $n threads failed" >&2; return 1; }
        awk -v w="$w" -v n="$n" '
            /mallocs/ { for (i = 1; i <= NF; i++) { if ($i == "mallocs") m = $(i + 1); if ($i == "frees") f = $(i + 1) } }
            /node locks/ { split($0, a, /node locks | acquisitions \(| contended\), central-list locks | \(| contended\)/); nl = a[2]; nc = a[3]; cl = a[4]; cc = a[5] }
            END { ops = (m + f) / 1e6
                  printf "| %s | %s | %.0f (%.0f) | %.0f (%.0f) |\n", w, n, nl / ops, nc / ops, cl / ops, cc / ops }' <<<"$stats"
    done
}

if [ $quick = 1 ]; then
    bench_args='--duration 20' malloc_args='3 0.5' scaling_args='3 0.25 "1 2 4"' checks_args='3 1'
    linked_args='3 1000' programs_rounds=1 tls_args=1 locks_scale=0.25
else
    bench_args='' malloc_args='5 1' scaling_args='3 0.5 "1 2 4 8"' checks_args='5 2'
    linked_args='5 2000' programs_rounds=3 tls_args=3 locks_scale=1
fi
programs_workloads='perl python sqlite swiftc-typecheck swiftc-O swift-linked'

echo "report.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (with changes)')" >&2
for s in "${sections[@]}"; do
    case $s in
        bench) section bench 'The NUMA suite (`numaheap bench`)' "$build_numaheap" ".build-release/release/numaheap bench${bench_args:+ $bench_args}" text ;;
        malloc) section malloc "The malloc library, one thread" "$build_malloc" "Benchmarks/malloc/run.sh $malloc_args" markdown ;;
        scaling) section scaling "The malloc library, threads at once" "$build_malloc" "Benchmarks/malloc/scaling.sh $scaling_args" markdown ;;
        checks) section checks "The check tiers" "" "Benchmarks/checks/run.sh $checks_args" text ;;
        instructions) section instructions "The fast paths: calls and instructions" "" "Benchmarks/check-specialisation.sh --count" calls ;;
        linked) section linked "Linked vs preloaded" "" "Benchmarks/linked/run.sh $linked_args" summary ;;
        programs) section programs "Real programs" "$build_malloc" "NUMAHEAP_MALLOC_LIB=.build-malloc/release/libNUMAHeapMalloc.so BENCH_WORKLOADS='$programs_workloads' Benchmarks/programs/run.sh $programs_rounds" markdown ;;
        server) section server "A Swift server" "$build_malloc" "NUMAHEAP_MALLOC_LIB=.build-malloc/release/libNUMAHeapMalloc.so BENCH_WORKLOADS='server-json server-plaintext' Benchmarks/programs/run.sh $programs_rounds" markdown ;;
        tls) section tls '`__tls_get_addr` per request' "$build_malloc" "NUMAHEAP_MALLOC_LIB=.build-malloc/release/libNUMAHeapMalloc.so Benchmarks/programs/perf-tls.sh $tls_args" markdown ;;
        locks) section locks 'Lock acquisitions' "$build_malloc" "locks $locks_scale" markdown \
            "Benchmarks/report.sh$( [ $quick = 0 ] || echo ' --quick') locks   # per row: BENCH_THREADS=N NUMAHEAP_STATS=1 LD_PRELOAD=.build-malloc/release/libNUMAHeapMalloc.so bench WORKLOAD $locks_scale" ;;
        microbench) section microbench "package-benchmark" "" "swift package --package-path Benchmarks benchmark --format markdown --no-progress" p50 \
            "swift package --package-path Benchmarks benchmark --format markdown --no-progress   # the p50 rows, as Benchmarks/report.sh microbench prints them" ;;
    esac
done
