#!/usr/bin/env bash
# NUMA placement in real multi-node guests (../shared/numa-vm): the kernel's
# answers, not the heap's. Runs, at 2 nodes and at 4 nodes plus one CPU-less
# (memory-only) node:
#   - numaheap-guest-checks (Tests/NUMAGuest): ≥ 99% of pages on the intended
#     node for .automatic per node, cross-node frees, a moving thread, .bind on
#     every node (CPU-less included), .interleave;
#   - numaheap stats (per-node statistics after a cross-node workload);
#   - numaheap bench --duration 2 (the main job completes inside the guest).
# Needs the debug build of the root package (`swift build`). Exit status: the
# first failure's.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# numa-vm: $NUMA_VM_RUN, the team's copy next to the checkout, else ours (.ci/numa-vm).
vm=${NUMA_VM_RUN:-$root/../shared/numa-vm/run-in-numa-vm}
[ -x "$vm" ] || vm=$root/.ci/numa-vm/run-in-numa-vm
bin=$(swift build --show-bin-path)
for exe in numaheap-guest-checks numaheap; do
    [ -x "$bin/$exe" ] || { echo "numa-guest: $bin/$exe is missing (run swift build first)" >&2; exit 1; }
done

run() {   # run NODES-ARGS... -- COMMAND...
    local started=$SECONDS rc=0
    "$vm" --mem-per-node 320M --timeout 900 "$@" || rc=$?
    if [ "$rc" -eq 125 ]; then
        # numa-vm's own failure (no QEMU, no kernel, the VM did not boot): the
        # machine cannot run guests. Said loudly; not a failure of the heap.
        echo "NOTE: the guest VM could not run here (numa-vm exit 125); guest checks skipped" >&2
        exit 0
    fi
    [ "$rc" -eq 0 ] || { echo "numa-guest: '$*' failed with status $rc" >&2; exit "$rc"; }
    echo "(guest run took $((SECONDS - started)) s)"
}

for shape in "--nodes 2" "--nodes 4 --cpuless-nodes 1"; do
    echo "--- guest: $shape: numaheap-guest-checks"
    # shellcheck disable=SC2086
    run $shape -- "$bin/numaheap-guest-checks"
    echo "--- guest: $shape: numaheap stats"
    # shellcheck disable=SC2086
    run $shape -- "$bin/numaheap" stats --blocks 20000
done
echo "--- guest: --nodes 2: numaheap bench --duration 2"
run --nodes 2 -- "$bin/numaheap" bench --duration 2
