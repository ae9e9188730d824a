# shellcheck shell=bash
# What numa-vm's exit status means for CI, and when CI may skip the guests.
# Sourced by .ci/numa-guest.sh and .ci/numa-oracle.sh; tested by
# .ci/test-numa-vm-status.sh (every case below, and the scripts' wiring).
#
# numa-vm (.ci/numa-vm/run-in-numa-vm) exits with the program's status, 124
# when the VM hit --timeout, and 125 when "the VM failed". 125 covers two very
# different things:
#   - the machine cannot run a guest at all: QEMU or the kernel cannot be
#     installed or fetched, or the guest never reaches /init;
#   - the guest booted, started the program, and then panicked, ran out of
#     memory, reset, or never printed its exit marker — which is what a heap bug
#     that takes the guest down looks like (or a program that exits 125).
# numa-vm cannot tell them apart, so the scripts do: before any real run they
# boot one probe guest whose program is /bin/true (nothing of ours runs in
# it). Only the probe's failure may skip:
#
#   probe status   verdict
#   0              ready: every later run must exit 0
#   124, 125       skip, loudly (the machine cannot boot a guest); "fail"
#                  instead when NUMAHEAP_REQUIRE_GUESTS=1
#   anything else  fail (2 is numa-vm's usage error: a bug in the script)
#
#   run status     verdict
#   0              pass
#   anything else  fail, 124 and 125 included: the probe showed that guests
#                  boot here, so whatever happened, happened after the
#                  program started.

# numa_vm_probe_verdict STATUS: prints ready, skip or fail.
numa_vm_probe_verdict() {
    case $1 in
        0) echo ready ;;
        124 | 125) if [ "${NUMAHEAP_REQUIRE_GUESTS:-0}" = 1 ]; then echo fail; else echo skip; fi ;;
        *) echo fail ;;
    esac
}

# numa_vm_run_verdict STATUS: prints pass or fail.
numa_vm_run_verdict() {
    if [ "$1" -eq 0 ]; then echo pass; else echo fail; fi
}

# numa_vm_describe STATUS: one line on what a run's exit status means.
numa_vm_describe() {
    local rc=$1
    if [ "$rc" -eq 0 ]; then
        echo "exit 0"
    elif [ "$rc" -eq 124 ]; then
        echo "exit 124: the guest hit numa-vm's --timeout after the program started (a hang, or far too slow)"
    elif [ "$rc" -eq 125 ]; then
        echo "exit 125: the guest died after the probe guest had booted — a kernel panic, out of memory, a reset, or no exit marker (or the program itself exited 125); see the [guest console] lines above"
    elif [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
        echo "exit $rc: the program was killed by signal $((rc - 128))"
    else
        echo "exit $rc: the program's own status"
    fi
}

# numa_vm_skip MESSAGE: the loud skip — a banner on stderr, and a line in
# $NUMAHEAP_CI_SKIPS when set (.ci/run prints those at the end).
numa_vm_skip() {
    {
        echo
        echo "############################################################################"
        echo "## SKIPPED: $1"
        echo "## (the probe guest, /bin/true, did not boot: this machine cannot run"
        echo "##  numa-vm guests; set NUMAHEAP_REQUIRE_GUESTS=1 to make this a failure)"
        echo "############################################################################"
        echo
    } >&2
    if [ -n "${NUMAHEAP_CI_SKIPS:-}" ]; then echo "$1" >> "$NUMAHEAP_CI_SKIPS"; fi
}

# numa_vm_probe VM MEM-PER-NODE: boots the probe guest; prints its verdict.
# The probe's own output goes to stderr.
numa_vm_probe() {
    local vm=$1 mem=$2 rc=0
    echo "--- probe guest: --nodes 2 --mem-per-node $mem, program /bin/true" >&2
    "$vm" --nodes 2 --mem-per-node "$mem" --timeout 300 -- /bin/true >&2 || rc=$?
    echo "(probe guest: exit $rc)" >&2
    numa_vm_probe_verdict "$rc"
}
