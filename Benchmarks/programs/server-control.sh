# Sourced by run.sh and perf-tls.sh (from the repository root), after they set
# `work_prefix` and `port`: makes `$work` (removed at exit, with any server
# still running), and starts and stops the benchmark server under one
# allocator. Needs curl and taskset.
work=$(mktemp -d "${TMPDIR:-/tmp}/$work_prefix.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# server_start BINARY PRELOAD: the server on CPU 0 with LD_PRELOAD=PRELOAD,
# its output in $work/server.log; returns once /plaintext answers (30 s at
# most) or the server has died. Sets server_pid.
server_start() {
    local i
    LD_PRELOAD=$2 taskset -c 0 "$1" "$port" >"$work/server.log" 2>&1 &
    server_pid=$!
    for ((i = 0; i < 300; i++)); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/plaintext" && return 0
        kill -0 "$server_pid" 2>/dev/null || return 0
        sleep 0.1
    done
}

# server_stop: SIGTERM (Hummingbird shuts down gracefully) and wait; sets
# server_status to its exit status (143, SIGTERM, is a clean stop).
server_stop() {
    server_status=0
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" || server_status=$?
    server_pid=
}
