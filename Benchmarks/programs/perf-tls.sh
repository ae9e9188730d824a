#!/usr/bin/env bash
# What the Hummingbird /json route costs in glibc's __tls_get_addr under each
# allocator, per request: the server (server/, built by run.sh) runs on CPU 0
# under LD_PRELOAD, wrk -t1 -c32 loads /json from CPU 1, and
# `perf record -e cpu-clock -g -p PID` samples the server meanwhile.
# Per run it prints the requests served, the server's CPU time per request
# (cpu-clock samples × period / requests), the time in __tls_get_addr per
# request split into its fast path (the inline generation check and dtv load,
# __tls_get_addr+0x0…+0x2a in Debian glibc 2.36) and its slow paths
# (__tls_get_addr_slow, update_get_addr, _dl_update_slotinfo,
# tls_get_addr_tail: named only with libc6-dbg installed, otherwise counted as
# "ld.so other"), and the top callers; then each allocator's medians. It also
# reads, with gdb where installed, glibc's TLS generation and every thread's
# dtv[0] counter (the slow path runs when they differ).
#
# usage: Benchmarks/programs/perf-tls.sh [ALTERNATIONS (3)]
#   needs: perf (Debian linux-perf), wrk, curl; run Benchmarks/programs/run.sh
#   once first (it builds the server and the library), or set BENCH_SERVER_BIN.
#   NUMAHEAP_MALLOC_LIB, BENCH_LIB_DIR, BENCH_PORT (18392), WRK_DURATION (5s) as in run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -le 1 ] || { echo "perf-tls.sh: at most one argument (ALTERNATIONS), not '$*'" >&2; exit 2; }
alternations=${1:-3}
case $alternations in '' | *[!0-9]* | 0*) echo "perf-tls.sh: ALTERNATIONS must be a positive integer, not '$alternations'" >&2; exit 2 ;; esac
port=${BENCH_PORT:-18392}
wrk_duration=${WRK_DURATION:-5s}
if ! command -v perf >/dev/null && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null || true
fi
for tool in perf wrk curl taskset; do
    command -v "$tool" >/dev/null || { echo "perf-tls.sh: '$tool' is needed and not installed" >&2; exit 1; }
done
py=$(command -v /usr/bin/python3 || command -v python3)
server_bin=${BENCH_SERVER_BIN:-$(swift build -c release --package-path "${BENCH_SERVER_DIR:-${TMPDIR:-/tmp}/numaheap-bench-server}" --show-bin-path 2>/dev/null)/bench-server}
[ -x "$server_bin" ] || { echo "perf-tls.sh: no server at $server_bin: run Benchmarks/programs/run.sh first" >&2; exit 1; }

# The allocators (Benchmarks/malloc/peers.sh).
peers_caller=perf-tls.sh
source Benchmarks/malloc/peers.sh

work_prefix=numaheap-perf-tls
source Benchmarks/programs/server-control.sh
: >"$work/runs"

for a in $(seq "$alternations"); do
    for i in "${!names[@]}"; do
        name=${names[$i]}
        server_start "$server_bin" "${preload[$i]}"
        # The TLS generation and each thread's dtv[0].counter (once per allocator).
        if [ "$a" = 1 ] && command -v gdb >/dev/null; then
            taskset -c 1 wrk -t1 -c8 -d1s "http://127.0.0.1:$port/json" >/dev/null   # start every thread first
            timeout 60 gdb -p "$server_pid" -batch -ex 'p _rtld_global._dl_tls_generation' -ex 'p _rtld_global._dl_tls_max_dtv_idx' \
                -ex 'thread apply all p *(unsigned long *)(((unsigned long *)$fs_base)[1])' 2>/dev/null \
                | awk -v n="$name" '/^\$1 /{g=$3} /^\$2 /{m=$3} /^\$[0-9]+ /&&!/^\$[12] /{t++; if ($3 != g) d++}
                    END {printf "%s: dl_tls_generation %s, TLS modules %s, threads %d, threads whose dtv[0].counter differs %d\n", n, g, m, t, d}' >&2 || true
        fi
        perf record -q -e cpu-clock -g -p "$server_pid" -o "$work/perf.data" >/dev/null 2>&1 &
        perf_pid=$!
        sleep 0.3
        taskset -c 1 wrk -t1 -c32 -d"$wrk_duration" "http://127.0.0.1:$port/json" >"$work/wrk.out"
        kill -INT "$perf_pid"; wait "$perf_pid" || true
        server_stop
        requests=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
        perf script -i "$work/perf.data" -F period,ip,sym,symoff,dso 2>/dev/null \
            | "$py" -c '
import collections, sys
name, requests = sys.argv[1], int(sys.argv[2])
total = fast = slow = other = 0
callers = collections.Counter()
slow_names = ("__tls_get_addr_slow", "update_get_addr", "_dl_update_slotinfo", "tls_get_addr_tail")
for block in sys.stdin.read().split("\n\n"):
    lines = block.strip().splitlines()
    if len(lines) < 2: continue
    period = int(lines[0].split()[0]); total += period
    frame = lines[1].split(None, 1)[1]
    sym, dso = frame.rsplit(" (", 1)
    if "ld-linux" not in dso: continue
    fn, _, off = sym.partition("+0x")
    if fn == "__tls_get_addr" and int(off or "0", 16) <= 0x2a: fast += period
    elif fn in slow_names: slow += period
    else: other += period; continue
    if len(lines) > 2: callers[lines[2].split(None, 1)[1].split("+0x")[0]] += 1
top = ",".join(f"{c}:{n}" for c, n in callers.most_common(3))
print(name, requests, total / requests / 1e3, fast / requests, slow / requests, other / requests, top)
' "$name" "$requests" >>"$work/runs"
        tail -1 "$work/runs" | awk '{ printf "%s: %d requests, %.1f µs CPU/request, __tls_get_addr fast %.0f ns/request, slow paths %.0f ns, ld.so other %.0f ns; callers %s\n", $1, $2, $3, $4, $5, $6, $7 }' >&2
    done
done

"$py" - "$work/runs" "$alternations" "${names[@]}" <<'PY'
import statistics, sys
path, alternations, names = sys.argv[1], sys.argv[2], sys.argv[3:]
runs = {}
for line in open(path):
    f = line.split()
    runs.setdefault(f[0], []).append([float(x) for x in f[1:6]])
print(f"\nMedians of {alternations} runs each (cpu-clock samples of the server; wrk -t1 -c32 on /json)\n")
print("| allocator | requests served | CPU µs/request | __tls_get_addr fast path ns/request | slow paths ns/request | ×glibc (fast path) |")
print("|---|---|---|---|---|---|")
g = statistics.median(r[2] for r in runs["glibc"])
for n in names:
    r = runs[n]
    med = [statistics.median(x[k] for x in r) for k in range(5)]
    print(f"| {n} | {med[0]:.0f} | {med[1]:.0f} | {med[2]:.0f} | {med[3]:.0f} | {med[2] / g:.2f} |")
PY
