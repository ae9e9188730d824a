#!/usr/bin/env bash
# libnuma as the oracle for NUMAHeap's topology and placement (Docs/Topology.md).
#
#   .ci/numa-oracle.sh
#
# 1. Installs libnuma-dev and numactl with apt-get when missing.
# 2. Builds Tests/NUMAOracle (numa-oracle, the only thing linking libnuma) and
#    the root's numaheap CLI, each with its own scratch path
#    (NUMA_ORACLE_SCRATCH, default .build-numa-oracle; NUMA_ORACLE_CLI_SCRATCH,
#    default .build-numa-oracle-cli).
# 3. Host: numa-oracle, and `numaheap topology` against `numactl --hardware`.
# 4. Multi-node guests (../shared/numa-vm, or NUMA_VM_RUN): the same two checks
#    with 2 nodes (distance 0↔1 set to 32) and with 4 nodes plus one CPU-less
#    memory-only node (a distance table with every pair different). A probe
#    guest (/bin/true) boots first: when it cannot boot (numa-vm exit 125 or
#    124), the guest checks are skipped loudly (failed with
#    NUMAHEAP_REQUIRE_GUESTS=1); after it booted, any guest run that does not
#    exit 0 is a failure, 124 and 125 included (.ci/numa-vm-status.sh).
# Exit status: 0 when every check passed, 1 otherwise (each failure is listed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=.ci/numa-vm-status.sh
. "$root/.ci/numa-vm-status.sh"
started=$SECONDS
failures=()
fail() { failures+=("$1"); echo "FAIL: $1"; }
step() { echo; echo "=== $* ($((SECONDS - started)) s)"; }

# --- 1. packages ---------------------------------------------------------
missing=()
[ -f /usr/include/numa.h ] && pkg-config --exists numa 2>/dev/null || missing+=(libnuma-dev)
command -v numactl >/dev/null || missing+=(numactl)
command -v pkg-config >/dev/null || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- 2. builds -------------------------------------------------------------
oracle_scratch=${NUMA_ORACLE_SCRATCH:-$root/.build-numa-oracle}
cli_scratch=${NUMA_ORACLE_CLI_SCRATCH:-$root/.build-numa-oracle-cli}
step "building numa-oracle (Tests/NUMAOracle) in $oracle_scratch"
swift build --package-path Tests/NUMAOracle --scratch-path "$oracle_scratch" --product numa-oracle
oracle=$(swift build --package-path Tests/NUMAOracle --scratch-path "$oracle_scratch" --show-bin-path)/numa-oracle
step "building numaheap in $cli_scratch"
swift build --scratch-path "$cli_scratch" --product numaheap
numaheap=$(swift build --scratch-path "$cli_scratch" --show-bin-path)/numaheap

# The guest check: numa-oracle, then `numaheap topology` against
# `numactl --hardware` without the free: lines. Runs on the host too.
guest_script=$(mktemp /tmp/numa-oracle-guest.XXXXXX)
trap 'rm -f "$guest_script"' EXIT
cat > "$guest_script" <<'SH'
#!/bin/sh
# In the guest (or on the host): ORACLE, NUMAHEAP and EXPECT_NODES from the environment.
rc=0
if [ -n "${EXPECT_NODES:-}" ]; then "$ORACLE" --expect-nodes "$EXPECT_NODES" || rc=1; else "$ORACLE" || rc=1; fi
dir=$(mktemp -d)
"$NUMAHEAP" topology > "$dir/numaheap" || rc=1
numactl --hardware > "$dir/numactl" || rc=1
grep -v ' free: ' "$dir/numaheap" > "$dir/numaheap.cmp"
grep -v ' free: ' "$dir/numactl" > "$dir/numactl.cmp"
echo "--- numaheap topology:"
cat "$dir/numaheap"
if diff -u "$dir/numactl.cmp" "$dir/numaheap.cmp"; then
    echo "numaheap topology matches numactl --hardware ($(wc -l < "$dir/numactl.cmp") lines compared, free: lines aside)"
else
    echo "MISMATCH: numaheap topology differs from numactl --hardware (diff above: - numactl, + numaheap)"
    rc=1
fi
rm -rf "$dir"
exit $rc
SH
chmod +x "$guest_script"

# --- 3. host -------------------------------------------------------------------
step "host: numa-oracle and numaheap topology vs numactl --hardware"
ORACLE=$oracle NUMAHEAP=$numaheap "$guest_script" || fail "host checks"

# --- 4. guests -------------------------------------------------------------------
vm=${NUMA_VM_RUN:-$root/../shared/numa-vm/run-in-numa-vm}
[ -x "$vm" ] || vm=$root/.ci/numa-vm/run-in-numa-vm   # the vendored copy (.ci/numa-vm/VENDORED.md)
if [ ! -x "$vm" ]; then
    # Not reached from a clone (.ci/numa-vm is part of it); kept for a copy of the script alone.
    fail "numa-vm not found at $vm"
    printf 'numa-oracle.sh: FAILED: %s\n' "${failures[@]}"
    exit 1
fi
step "probe guest"
case $(numa_vm_probe "$vm" 256M) in
    ready) ;;
    skip)
        numa_vm_skip "libnuma oracle in guests (.ci/numa-oracle.sh): numa-vm cannot boot a guest on this machine; only the host was checked"
        [ ${#failures[@]} -eq 0 ] || { printf 'numa-oracle.sh: FAILED: %s\n' "${failures[@]}"; exit 1; }
        exit 0 ;;
    *)
        fail "the probe guest (/bin/true) did not run"
        printf 'numa-oracle.sh: FAILED: %s\n' "${failures[@]}"
        exit 1 ;;
esac

# The guest gets the script as its program; numa-oracle and numaheap travel
# with their shared libraries (--add copies only the file itself).
adds=()
for exe in "$oracle" "$numaheap"; do
    adds+=(--add "$exe")
    for lib in $(ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do adds+=(--add "$lib"); done
done

guest() {   # guest NAME EXPECTED-NODES VM-ARGS...
    local name=$1 expect=$2 t0=$SECONDS
    shift 2
    step "guest: $name"
    local rc=0
    "$vm" --mem-per-node 256M --timeout 600 "${adds[@]}" \
        --env "ORACLE=$oracle" --env "NUMAHEAP=$numaheap" --env "EXPECT_NODES=$expect" "$@" -- "$guest_script" || rc=$?
    if [ "$(numa_vm_run_verdict "$rc")" = pass ]; then
        echo "(guest $name: passed in $((SECONDS - t0)) s)"
    else
        fail "guest $name ($(numa_vm_describe "$rc"); $((SECONDS - t0)) s)"
    fi
}

guest "--nodes 2, distance 0-1 = 32" 2 --nodes 2 --qemu-arg -numa --qemu-arg dist,src=0,dst=1,val=32

# 4 nodes + node 4 memory-only: distance i-j = 10 + 11·|i-j| (21, 32, 43, 54), both directions given.
dist=()
for i in 0 1 2 3 4; do
    for j in 0 1 2 3 4; do
        [ "$i" -lt "$j" ] && dist+=(--qemu-arg -numa --qemu-arg "dist,src=$i,dst=$j,val=$((10 + 11 * (j - i)))")
    done
done
guest "--nodes 4 --cpuless-nodes 1" 5 --nodes 4 --cpuless-nodes 1 "${dist[@]}"

echo
if [ ${#failures[@]} -gt 0 ]; then
    printf 'numa-oracle.sh: FAILED (%s s):\n' "$((SECONDS - started))"
    printf '  - %s\n' "${failures[@]}"
    exit 1
fi
echo "numa-oracle.sh: all checks passed, host and guests ($((SECONDS - started)) s)"
