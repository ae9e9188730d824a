#!/usr/bin/env bash
# Real programs with each allocator as their malloc, side by side: glibc (no
# preload), libNUMAHeapMalloc.so, and jemalloc, TCMalloc and mimalloc where
# installed (Debian libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0), each
# through LD_PRELOAD, named and found as Benchmarks/malloc/allocators.sh does.
#
# Workloads (each about 0.5-3 s under glibc on a 2-core machine):
#   perl          perl-hashes.pl: build, look up and delete string keys, nested hashes
#   python        python-objects.py: small objects, dicts, lists, JSON round trip
#                 (Debian's /usr/bin/python3 where there is one; Python's own
#                 pymalloc serves objects up to 512 bytes, as in any real run)
#   sqlite        sqlite3 :memory: < sqlite-queries.sql: 200k inserts, indexes, queries
#   swiftc-typecheck  swiftc -typecheck of a generated file (generate-swift.py, 150 structs)
#   swiftc-O      swiftc -O -c of a generated file (10 structs: the optimiser and LLVM)
#   swift-linked  Benchmarks/linked's workload-plain (classes, arrays, dictionaries, strings)
#   server-json, server-plaintext  server/ (Hummingbird 2) on CPU 0, wrk -t1 -c32 on CPU 1
#
# Rounds are interleaved: round r, workload w: glibc, NUMAHeap, jemalloc,
# TCMalloc, mimalloc. Every run's output is checked against the glibc run's
# (or, for the compiler, its exit status and the object's symbols), so an
# allocator that breaks a program fails instead of looking fast. The table
# shows per workload the median wall time (requests/s for the server) and the
# ratio to glibc as throughput (>1 = faster than glibc), then the geometric
# mean of the ratios per allocator.
#
# usage: Benchmarks/programs/run.sh [ROUNDS (3)]
#   NUMAHEAP_MALLOC_LIB  a built libNUMAHeapMalloc.so (default: built here, the README's way)
#   BENCH_LIB_DIR        where to look for the other allocators when ldconfig does not know them
#   BENCH_RAW            also write the raw results (one line per run) there
#   BENCH_PORT           the server's port (default 18391); WRK_DURATION (default 5s)
#   BENCH_SERVER_DIR     where the server is copied and built (default ${TMPDIR:-/tmp}/numaheap-bench-server)
#   BENCH_WORKLOADS      the workloads to run, of those above (default all); without a
#                        server-* one, the server is not built and wrk is not needed
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -le 1 ] || { echo "run.sh: at most one argument (ROUNDS), not '$*'" >&2; exit 2; }
rounds=${1:-3}
case $rounds in '' | *[!0-9]* | 0*) echo "run.sh: ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2 ;; esac
port=${BENCH_PORT:-18391}
case $port in '' | *[!0-9]* | 0*) echo "run.sh: BENCH_PORT must be a port number, not '$port'" >&2; exit 2 ;; esac
wrk_duration=${WRK_DURATION:-5s}
here=Benchmarks/programs
all_workloads="perl python sqlite swiftc-typecheck swiftc-O swift-linked server-json server-plaintext"
read -r -a workloads <<<"${BENCH_WORKLOADS:-$all_workloads}"
[ ${#workloads[@]} -gt 0 ] || { echo "run.sh: BENCH_WORKLOADS names no workload" >&2; exit 2; }
server=0
for w in "${workloads[@]}"; do
    case " $all_workloads " in *" $w "*) ;; *) echo "run.sh: BENCH_WORKLOADS: no workload '$w' (workloads: $all_workloads)" >&2; exit 2 ;; esac
    case $w in server-*) server=1 ;; esac
done
server_tools=""
[ $server = 0 ] || server_tools="wrk curl taskset"

# --- Tools: install what is missing from Debian's packages (as root with apt-get) ------
need_apt=()
for tool in perl sqlite3 python3 $server_tools nm; do
    command -v "$tool" >/dev/null || case $tool in
        taskset) need_apt+=(util-linux) ;; nm) need_apt+=(binutils) ;; *) need_apt+=("$tool") ;;
    esac
done
have_lib() { ldconfig -p 2>/dev/null | awk -v so="$1" '$1 == so { found = 1 } END { exit !found }'; }
have_lib libjemalloc.so.2 || need_apt+=(libjemalloc2)
have_lib libtcmalloc_minimal.so.4 || need_apt+=(libtcmalloc-minimal4)
have_lib libmimalloc.so.2 || need_apt+=(libmimalloc2.0)
if [ ${#need_apt[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "apt-get install ${need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null \
        || echo "(apt-get install failed: going on with what is installed)" >&2
fi
for tool in perl sqlite3 python3 $server_tools nm swift swiftc; do
    command -v "$tool" >/dev/null || { echo "run.sh: '$tool' is needed and not installed" >&2; exit 1; }
done
py=$(command -v /usr/bin/python3 || command -v python3)   # Debian's, not a pyenv shim (a shell script)

# --- Allocators: names and LD_PRELOAD values (Benchmarks/malloc/peers.sh) ---------------
if [ -z "${NUMAHEAP_MALLOC_LIB:-}" ]; then
    echo "building libNUMAHeapMalloc.so (release, cross-module optimisation)" >&2
    swift build -c release --product NUMAHeapMalloc --scratch-path .build-malloc \
        -Xswiftc -cross-module-optimization 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2
fi
peers_caller=run.sh
source Benchmarks/malloc/peers.sh

# --- The Swift programs: Benchmarks/linked's workload, and the server built outside ----
echo "building Benchmarks/linked (workload-plain)$( [ $server = 0 ] || echo " and the Hummingbird server") (release)" >&2
swift build -c release --package-path Benchmarks/linked --product workload-plain 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2
linked_bin=$(swift build -c release --package-path Benchmarks/linked --show-bin-path)/workload-plain
if [ $server = 1 ]; then
    server_dir=${BENCH_SERVER_DIR:-${TMPDIR:-/tmp}/numaheap-bench-server}
    case $(realpath -m "$server_dir")/ in "$PWD"/*) echo "run.sh: BENCH_SERVER_DIR must be outside the repository, not '$server_dir'" >&2; exit 2 ;; esac
    mkdir -p "$server_dir"
    rm -rf "$server_dir/Sources"   # a fresh copy of the sources; its .build is kept (incremental)
    cp -R "$here/server/Package.swift" "$here/server/Sources" "$server_dir/"
    swift build -c release --package-path "$server_dir" 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' >&2
    server_bin=$(swift build -c release --package-path "$server_dir" --show-bin-path)/bench-server
fi

work_prefix=numaheap-programs
source "$here/server-control.sh"
"$py" "$here/generate-swift.py" 150 "$work/typecheck.swift"
"$py" "$here/generate-swift.py" 10 "$work/optimise.swift"
results=${BENCH_RAW:-$work/results}
: >"$results"
failures=0

# --- One run of a program workload: wall time, output checked ---------------------------
# run_program NAME WORKLOAD PRELOAD: runs the workload's program (in $work) under
# PRELOAD, 300 s at most, and takes its wall time; then turns what it wrote into
# what is checked and compares that with the first glibc run's. Appends
# "NAME WORKLOAD seconds SECONDS" or "NAME WORKLOAD FAILED WHY" to the results.
run_program() {
    local name=$1 w=$2 pre=$3 out=$work/out stdin=/dev/null status start end
    local -a cmd
    case $w in
        perl) cmd=(perl "$PWD/$here/perl-hashes.pl") ;;
        python) cmd=("$py" "$PWD/$here/python-objects.py") ;;
        sqlite) cmd=(sqlite3 :memory:) stdin=$PWD/$here/sqlite-queries.sql ;;
        swiftc-typecheck) cmd=(swiftc -typecheck typecheck.swift) ;;
        swiftc-O) rm -f "$work/optimise.o"; cmd=(swiftc -O -c -parse-as-library -module-name Generated optimise.swift -o optimise.o) ;;
        swift-linked) cmd=("$linked_bin" 2000) ;;
    esac
    start=$(date +%s%N)
    status=0
    (cd "$work" && exec timeout 300 env LD_PRELOAD="$pre" "${cmd[@]}") <"$stdin" >"$out" 2>&1 || status=$?
    end=$(date +%s%N)
    if [ "$status" -ne 0 ]; then
        echo "$name $w FAILED exit-status-$status" >>"$results"
        echo "FAILED: $w under $name: exit status $status$( [ "$status" -gt 128 ] && echo " (signal $((status - 128)))"; [ "$status" -eq 124 ] && echo " (timed out)"); its output's end:" >&2
        tail -5 "$out" >&2; failures=$((failures + 1)); return
    fi
    case $w in   # what is compared: the object's symbols (code layout may differ), the checksum without its own timing
        swiftc-O) nm --defined-only "$work/optimise.o" | awk '{ print $NF }' | LC_ALL=C sort >>"$out" ;;
        swift-linked) sed -Ei 's/ in [0-9]+ µs//' "$out" ;;
    esac
    if [ ! -f "$work/ref.$w" ] && [ "$name" = glibc ]; then cp "$out" "$work/ref.$w"; fi
    if ! cmp -s "$out" "$work/ref.$w"; then
        echo "$name $w FAILED wrong-output" >>"$results"
        echo "FAILED: $w under $name: output differs from glibc's" >&2
        diff "$work/ref.$w" "$out" 2>&1 | head -5 >&2; failures=$((failures + 1)); return
    fi
    echo "$name $w seconds $(awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }')" >>"$results"
}

# --- One run of the server: start, check the bodies, wrk, stop ------------------------
canonical_json() { "$py" -c 'import json, sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'; }
run_server() {  # NAME ROUTE PRELOAD
    local name=$1 route=$2 pre=$3 w=server-$2 body rps
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "run.sh: port $port is already in use (set BENCH_PORT)" >&2; exit 1
    fi
    server_start "$server_bin" "$pre"
    # The bodies: /plaintext's text, /json's 40 objects (keys sorted: the encoder's order varies).
    body=$( { curl -sf "http://127.0.0.1:$port/plaintext"; echo; curl -sf "http://127.0.0.1:$port/json" | canonical_json; } 2>&1) || body="(no answer) $body"
    if [ ! -f "$work/ref.server" ] && [ "$name" = glibc ]; then printf '%s\n' "$body" >"$work/ref.server"; fi
    if [ "$body" != "$(cat "$work/ref.server")" ]; then
        echo "$name $w FAILED wrong-response" >>"$results"
        echo "FAILED: $w under $name: the server's response differs from glibc's (or none): $(head -c 200 <<<"$body")" >&2
        tail -5 "$work/server.log" >&2; failures=$((failures + 1))
    else
        # The load: one wrk thread, 32 connections, on the other CPU.
        taskset -c 1 wrk -t1 -c32 -d"$wrk_duration" "http://127.0.0.1:$port/$route" >"$work/wrk.out" 2>&1 || true
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")
        if [ -z "$rps" ] || grep -qE 'Non-2xx|Socket errors' "$work/wrk.out" || ! kill -0 "$server_pid" 2>/dev/null; then
            echo "$name $w FAILED wrk-errors-or-server-died" >>"$results"
            echo "FAILED: $w under $name: wrk reported errors, or the server died:" >&2
            cat "$work/wrk.out" >&2; tail -5 "$work/server.log" >&2; failures=$((failures + 1))
        else
            echo "$name $w rps $rps" >>"$results"
        fi
    fi
    server_stop
    if [ "$server_status" -ne 0 ] && [ "$server_status" -ne 143 ]; then
        echo "(server under $name exited with status $server_status after SIGTERM)" >&2
    fi
}

# --- The rounds -----------------------------------------------------------------------
for r in $(seq "$rounds"); do
    for w in "${workloads[@]}"; do
        for i in "${!names[@]}"; do
            case $w in
                server-*) run_server "${names[$i]}" "${w#server-}" "${preload[$i]}" ;;
                *) run_program "${names[$i]}" "$w" "${preload[$i]}" ;;
            esac
        done
    done
    echo "round $r/$rounds done" >&2
done

# --- The table: medians, ratios to glibc as throughput, geometric means -----------------
"$py" - "$results" "$rounds" "${names[@]}" <<'PY'
import math, statistics, sys
path, rounds, names = sys.argv[1], sys.argv[2], sys.argv[3:]
data, failed, workloads = {}, {}, []
for line in open(path):
    n, w, kind, value = line.split()
    if w not in workloads: workloads.append(w)
    if kind == "FAILED":
        failed.setdefault((n, w), []).append(value)
    else:
        data.setdefault((n, w), (kind, []))[1].append(float(value))
print(f"Median of {rounds} interleaved rounds: wall time in s, or requests/s for the server; "
      "(×glibc) is throughput relative to glibc, >1 = faster. FAILED: a run crashed or gave other output than glibc's.\n")
print("| workload | " + " | ".join(names) + " |")
print("|---|" + "---|" * len(names))
ratios = {n: [] for n in names}
for w in workloads:
    cells = []
    g = data.get(("glibc", w))
    for n in names:
        if (n, w) in failed:
            cells.append(f"FAILED {len(failed[(n, w)])}/{rounds} ({failed[(n, w)][0]})")
            continue
        kind, values = data[(n, w)]
        m = statistics.median(values)
        if g is None:
            cells.append(f"{m:.3g}"); continue
        gm = statistics.median(g[1])
        ratio = m / gm if kind == "rps" else gm / m
        ratios[n].append(ratio)
        cells.append((f"{m:.0f} req/s" if kind == "rps" else f"{m:.3f} s") + f" ({ratio:.2f}×)")
    print(f"| {w} | " + " | ".join(cells) + " |")
geo = []
for n in names:
    r = ratios[n]
    note = "" if len(r) == len(workloads) else f" over {len(r)} of {len(workloads)}"
    geo.append(f"{math.exp(sum(map(math.log, r)) / len(r)):.3f}×{note}" if r else "—")
print("| geomean | " + " | ".join(geo) + " |")
PY
if [ "$failures" -gt 0 ]; then echo "run.sh: $failures run(s) FAILED (see above)" >&2; exit 1; fi
