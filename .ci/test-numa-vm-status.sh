#!/usr/bin/env bash
# Tests of how CI reads numa-vm's exit status (.ci/numa-vm-status.sh) and of
# .ci/numa-guest.sh's wiring: only a probe guest that cannot boot may skip;
# anything that goes wrong once the probe booted fails.
#
#   .ci/test-numa-vm-status.sh            the verdict table, then numa-guest.sh
#                                         over a fake numa-vm (no VM; seconds)
#   .ci/test-numa-vm-status.sh --real-vm  also numa-guest.sh over the real
#                                         numa-vm: a guest program that exits
#                                         125 and one that panics the guest
#                                         kernel must fail CI (~30 s; skipped,
#                                         and said, where the probe cannot boot)
# Exit status: 0 when every case passed, 1 otherwise (each failure listed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=.ci/numa-vm-status.sh
. "$root/.ci/numa-vm-status.sh"
real_vm=0
[ "${1:-}" = --real-vm ] && real_vm=1

failures=()
passed=0
check() {   # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1))
    else
        failures+=("$1: expected '$2', got '$3'")
        echo "FAIL: $1: expected '$2', got '$3'"
    fi
}

# --- 1. The verdicts -------------------------------------------------------------
unset NUMAHEAP_REQUIRE_GUESTS
for case in "0 ready" "125 skip" "124 skip" "2 fail" "1 fail" "134 fail" "137 fail"; do
    set -- $case
    check "probe exit $1" "$2" "$(numa_vm_probe_verdict "$1")"
done
for case in "0 ready" "125 fail" "124 fail" "2 fail"; do
    set -- $case
    check "probe exit $1, NUMAHEAP_REQUIRE_GUESTS=1" "$2" "$(NUMAHEAP_REQUIRE_GUESTS=1 numa_vm_probe_verdict "$1")"
done
# After the probe booted: 125 (panic, OOM, no exit marker) and 124 (timeout) fail like any other status.
for case in "0 pass" "125 fail" "124 fail" "1 fail" "2 fail" "134 fail" "137 fail"; do
    set -- $case
    check "run exit $1" "$2" "$(numa_vm_run_verdict "$1")"
done
check "describe 125" yes "$(numa_vm_describe 125 | grep -q 'after the probe guest had booted' && echo yes || echo no)"
check "describe 134" yes "$(numa_vm_describe 134 | grep -q 'signal 6' && echo yes || echo no)"

# --- 2. numa-guest.sh over a fake numa-vm -----------------------------------------------
work=$(mktemp -d /tmp/numa-vm-status-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
for exe in numaheap-guest-checks numaheap; do printf '#!/bin/sh\nexit 0\n' > "$work/bin/$exe"; chmod +x "$work/bin/$exe"; done
# The fake: logs each call's program; the probe (/bin/true) exits $FAKE_PROBE_RC,
# run N (1-based, probe excluded) exits $FAKE_RUN_RC when N = $FAKE_FAIL_AT, else 0.
cat > "$work/fake-numa-vm" <<'FAKE'
#!/usr/bin/env bash
while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
shift
echo "$*" >> "$FAKE_LOG"
if [ "$1" = /bin/true ]; then exit "${FAKE_PROBE_RC:-0}"; fi
n=$(grep -vc '^/bin/true' "$FAKE_LOG")
if [ "$n" = "${FAKE_FAIL_AT:-0}" ]; then exit "${FAKE_RUN_RC:-0}"; fi
exit 0
FAKE
chmod +x "$work/fake-numa-vm"

guest_case() {   # guest_case NAME WANT-STATUS(zero|nonzero) WANT-RUNS WANT-SKIP(yes|no) ENV...
    local name=$1 want=$2 runs=$3 skip=$4 rc=0
    shift 4
    : > "$work/log"
    rm -f "$work/skips"
    env NUMA_VM_RUN="$work/fake-numa-vm" NUMA_GUEST_BIN="$work/bin" FAKE_LOG="$work/log" \
        NUMAHEAP_CI_SKIPS="$work/skips" "$@" .ci/numa-guest.sh > "$work/out" 2>&1 || rc=$?
    local got=zero
    [ "$rc" -eq 0 ] || got=nonzero
    check "numa-guest.sh, $name: exit status" "$want" "$got"
    check "numa-guest.sh, $name: guest runs after the probe" "$runs" "$(grep -vc '^/bin/true' "$work/log" || true)"
    local skipped=no
    grep -q '## SKIPPED' "$work/out" && [ -s "$work/skips" ] && skipped=yes
    check "numa-guest.sh, $name: loud skip" "$skip" "$skipped"
    if [ "$got" != "$want" ]; then sed 's/^/    | /' "$work/out"; fi
}
guest_case "every run passes" zero 5 no FAKE_PROBE_RC=0
guest_case "the probe cannot boot (125)" zero 0 yes FAKE_PROBE_RC=125
guest_case "the probe times out (124)" zero 0 yes FAKE_PROBE_RC=124
guest_case "the probe cannot boot, NUMAHEAP_REQUIRE_GUESTS=1" nonzero 0 no FAKE_PROBE_RC=125 NUMAHEAP_REQUIRE_GUESTS=1
guest_case "numa-vm usage error at the probe (2)" nonzero 0 no FAKE_PROBE_RC=2
guest_case "the first guest dies after the program started (125)" nonzero 1 no FAKE_FAIL_AT=1 FAKE_RUN_RC=125
guest_case "a 4-node guest dies after the program started (125)" nonzero 3 no FAKE_FAIL_AT=3 FAKE_RUN_RC=125
guest_case "the bench guest dies (125)" nonzero 5 no FAKE_FAIL_AT=5 FAKE_RUN_RC=125
guest_case "a guest times out (124)" nonzero 2 no FAKE_FAIL_AT=2 FAKE_RUN_RC=124
guest_case "a check fails (1)" nonzero 1 no FAKE_FAIL_AT=1 FAKE_RUN_RC=1
guest_case "the program aborts (134)" nonzero 4 no FAKE_FAIL_AT=4 FAKE_RUN_RC=134

# --- 3. numa-guest.sh over the real numa-vm ----------------------------------------------
if [ "$real_vm" = 1 ]; then
    vm=${NUMA_VM_RUN:-$root/../shared/numa-vm/run-in-numa-vm}
    [ -x "$vm" ] || vm=$root/.ci/numa-vm/run-in-numa-vm
    if [ "$(numa_vm_probe "$vm" 320M 2>"$work/probe")" = ready ]; then
        # A program that exits 125 — what numa-vm also reports for a dead VM.
        printf '#!/bin/sh\necho "guest program started"\nexit 125\n' > "$work/bin/numaheap-guest-checks"
        rc=0
        NUMA_VM_RUN="$vm" NUMA_GUEST_BIN="$work/bin" .ci/numa-guest.sh > "$work/out" 2>&1 || rc=$?
        check "real guest: the program exits 125: numa-guest.sh's status" 125 "$rc"
        check "real guest: the program exits 125: not skipped" no "$(grep -q SKIPPED "$work/out" && echo yes || echo no)"
        # A program that panics the guest kernel: no exit marker, numa-vm exits 125.
        printf '#!/bin/sh\necho "guest program started"\necho c > /proc/sysrq-trigger\nsleep 60\n' > "$work/bin/numaheap-guest-checks"
        rc=0
        NUMA_VM_RUN="$vm" NUMA_GUEST_BIN="$work/bin" .ci/numa-guest.sh > "$work/out" 2>&1 || rc=$?
        check "real guest: kernel panic: numa-guest.sh's status" 125 "$rc"
        check "real guest: kernel panic: the program had started" yes "$(grep -q 'guest program started' "$work/out" && echo yes || echo no)"
        check "real guest: kernel panic: not skipped" no "$(grep -q SKIPPED "$work/out" && echo yes || echo no)"
        if [ "$rc" != 125 ]; then sed 's/^/    | /' "$work/out"; fi
    else
        cat "$work/probe" >&2
        numa_vm_skip "the real-guest cases of .ci/test-numa-vm-status.sh: numa-vm cannot boot a guest on this machine"
    fi
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
    printf 'test-numa-vm-status.sh: %d passed, %d FAILED:\n' "$passed" "${#failures[@]}"
    printf '  - %s\n' "${failures[@]}"
    exit 1
fi
echo "test-numa-vm-status.sh: all $passed checks passed"
