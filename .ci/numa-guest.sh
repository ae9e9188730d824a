#!/usr/bin/env bash
# NUMA placement in real multi-node guests (../shared/numa-vm): the kernel's
# answers, not the heap's. Runs, at 2 nodes and at 4 nodes plus one CPU-less
# (memory-only) node:
#   - numaheap-guest-checks (Tests/NUMAGuest): ≥ 99% of pages on the intended
#     node for .automatic per node, cross-node frees, a moving thread, .bind on
#     every node (CPU-less included), .interleave;
#   - numaheap stats (per-node statistics after a cross-node workload);
#   - numaheap bench --duration 2 (the main job completes inside the guest).
# Needs the debug build of the root package (`swift build`), or
# NUMA_GUEST_BIN naming a folder with numaheap-guest-checks and numaheap.
#
# First a probe guest (/bin/true) boots: if it cannot (no QEMU, no kernel, no
# boot: numa-vm exit 125 or 124), the guest checks are skipped, loudly — or
# fail when NUMAHEAP_REQUIRE_GUESTS=1. After a probe that booted, every run
# must exit 0: a guest that panics, runs out of memory or never prints its exit
# marker fails like a failing check (.ci/numa-vm-status.sh says why).
# Exit status: 0 when every run passed or the guests were skipped; otherwise
# the first failing run's status, after a line saying what it means.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=.ci/numa-vm-status.sh
. "$root/.ci/numa-vm-status.sh"
# numa-vm: $NUMA_VM_RUN, the team's copy next to the checkout, else ours (.ci/numa-vm).
vm=${NUMA_VM_RUN:-$root/../shared/numa-vm/run-in-numa-vm}
[ -x "$vm" ] || vm=$root/.ci/numa-vm/run-in-numa-vm
bin=${NUMA_GUEST_BIN:-$(swift build --show-bin-path)}
for exe in numaheap-guest-checks numaheap; do
    [ -x "$bin/$exe" ] || { echo "numa-guest: $bin/$exe is missing (run swift build first)" >&2; exit 1; }
done
mem=320M

case $(numa_vm_probe "$vm" "$mem") in
    ready) ;;
    skip) numa_vm_skip "NUMA guest checks (.ci/numa-guest.sh): numa-vm cannot boot a guest on this machine"; exit 0 ;;
    *) echo "numa-guest: FAILED: the probe guest (/bin/true) did not run (see above)" >&2; exit 1 ;;
esac

run() {   # run NODES-ARGS... -- COMMAND...
    local started=$SECONDS rc=0
    "$vm" --mem-per-node "$mem" --timeout 900 "$@" || rc=$?
    if [ "$(numa_vm_run_verdict "$rc")" != pass ]; then
        echo "numa-guest: FAILED: '$*': $(numa_vm_describe "$rc")" >&2
        exit "$rc"
    fi
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
