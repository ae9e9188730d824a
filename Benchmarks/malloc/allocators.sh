# Sourced by run.sh and scaling.sh (from the repository root): sets `bin` (the
# built bench.c: $BENCH_BINARY, or compiled here with cc -O2), and `names` /
# `preload` (peers.sh). $BENCH_RAW, when set, is where the raw results go.
bin=${BENCH_BINARY:-}
if [ -z "$bin" ]; then bin=$(mktemp -d)/bench; cc -O2 -pthread -o "$bin" Benchmarks/malloc/bench.c; fi
source Benchmarks/malloc/peers.sh
results=${BENCH_RAW:-$(mktemp)}
: >"$results"
