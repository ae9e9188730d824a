#!/usr/bin/env bash
# The malloc library's tests: real programs under LD_PRELOAD (output identical
# to a run without it), the C contract suite, misuse reports, the NUMAHEAP_*
# options. Needs no root. Called by .ci/run; run it alone with
#
#   swift build -c release --product NUMAHeapMalloc --scratch-path .build-malloc -Xswiftc -cross-module-optimization
#   Tests/Malloc/run.sh .build-malloc/release/libNUMAHeapMalloc.so
#
# Needs python3, git, sqlite3, sort and cc; a program that is missing is reported
# as a failure (CI installs them), unless MALLOC_TESTS_SKIP_MISSING=1.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$(realpath "${1:?usage: run.sh path/to/libNUMAHeapMalloc.so}")
work=$(mktemp -d /tmp/numaheap-malloc-tests.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
pass() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failed=$((failed + 1)); }

need() {
    command -v "$1" >/dev/null && return 0
    if [ "${MALLOC_TESTS_SKIP_MISSING:-0}" = 1 ]; then printf 'skip  %s (not installed)\n' "$1"; else fail "$1 is not installed"; fi
    return 1
}

# same NAME MASK COMMAND...: runs COMMAND in $work/plain and in $work/preload
# (same relative layout), without and with the library preloaded; the exit
# status and stdout+stderr (with MASK, a sed script, applied) must be identical.
same() {
    local name=$1 mask=$2
    shift 2
    rm -rf "$work/plain" "$work/preload"
    mkdir -p "$work/plain" "$work/preload"
    (cd "$work/plain" && "$@") >"$work/plain.out" 2>&1
    local s1=$?
    (cd "$work/preload" && LD_PRELOAD="$lib" "$@") >"$work/preload.out" 2>&1
    local s2=$?
    sed -e "$mask" "$work/plain.out" >"$work/plain.masked"
    sed -e "$mask" "$work/preload.out" >"$work/preload.masked"
    if [ "$s1" -ne "$s2" ]; then
        fail "$name: exit status $s2 under preload, $s1 without"
        tail -5 "$work/preload.out" | sed 's/^/      /'
    elif ! cmp -s "$work/plain.masked" "$work/preload.masked"; then
        fail "$name: output differs under preload"
        diff "$work/plain.masked" "$work/preload.masked" | head -20 | sed 's/^/      /'
    else
        pass "$name ($(wc -l <"$work/preload.out") lines, status $s2)"
        [ "$s2" -eq 0 ] || fail "$name: exit status $s2"
    fi
}

echo "libNUMAHeapMalloc tests: $lib"

# --- The library really replaces malloc ------------------------------------
if out=$(LD_PRELOAD="$lib" NUMAHEAP_VERBOSE=1 /bin/true 2>&1) && grep -q 'libNUMAHeapMalloc ready' <<<"$out"; then
    pass "preloaded into /bin/true (NUMAHEAP_VERBOSE=1: $(wc -l <<<"$out") line)"
else
    fail "preload into /bin/true: $out"
fi

# --- Real programs ----------------------------------------------------------
if need python3; then
    py=$(command -v python3)
    same "python3: dict/list/string workload" '' "$py" "$here/workload.py"
    # Python's own unit tests, where this Python ships its test package.
    mods=()
    for m in test.test_dict test.test_list test.test_string test.test_set; do
        "$py" -c "import $m" 2>/dev/null && mods+=("$m")
    done
    if [ ${#mods[@]} -gt 0 ]; then
        same "python3 -m unittest ${mods[*]}" 's/in [0-9.]*s$/in Ns/' "$py" -m unittest "${mods[@]}"
    else
        fail "python3 has no test package (test.test_dict)"
    fi
fi

if need git; then
    git_session() {
        export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
        export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z' GIT_CONFIG_NOSYSTEM=1 HOME=$PWD
        git init -q -b main repo && cd repo || return 1
        for c in 1 2 3 4 5 6; do
            for d in 0 1 2 3 4 5 6 7; do
                mkdir -p "dir$d"
                awk -v c="$c" -v d="$d" 'BEGIN { for (i = 0; i < 400; i++) printf "line %d of %d/%d %x\n", i, c, d, i * c * 2654435761 % 4294967296 }' >"dir$d/file$c.txt"
            done
            [ "$c" -gt 2 ] && rm -f "dir$c/file1.txt"
            git add -A && git commit -q -m "commit $c" || return 1
        done
        git log --stat --format='%H %s' && git rev-list --count HEAD && git fsck --no-progress 2>&1 && git gc -q && git count-objects -v | grep -v size
    }
    same "git init/add/commit/log/fsck/gc" '' git_session
fi

if need sqlite3; then
    sqlite_session() {
        sqlite3 db.sqlite <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, payload BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t(k, name, payload) SELECT (i * 2654435761) % 1000, 'name-' || (i * 7919 % 100003), zeroblob(i % 300) FROM n;
CREATE INDEX t_k ON t(k);
SELECT count(*), sum(k), sum(length(payload)) FROM t;
SELECT k, count(*), min(name), max(name) FROM t GROUP BY k ORDER BY count(*) DESC, k LIMIT 10;
SELECT name FROM t WHERE k = 77 ORDER BY name LIMIT 5;
UPDATE t SET name = upper(name) WHERE k % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), count(DISTINCT name), group_concat(substr(name, 1, 2), '') IS NOT NULL FROM t;
VACUUM;
PRAGMA integrity_check;
SQL
    }
    same "sqlite3: build, index, query, update, vacuum" '' sqlite_session
fi

if need sort; then
    sort_session() {
        awk 'BEGIN { srand(7); for (i = 0; i < 1500000; i++) printf "%08x %d %s\n", int(rand() * 4294967295), i % 977, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26) }' >input.txt
        sort input.txt | md5sum
        sort -S 8M -k2,2n -k1,1r input.txt | md5sum
        sort --parallel=2 -u -t' ' -k3 input.txt | md5sum
    }
    same "sort of a 1.5M-line file (three orders)" '' sort_session
fi

# --- The malloc contract --------------------------------------------------------
if need cc; then
    if cc -O2 -pthread -Wno-alloc-size-larger-than -o "$work/contract" "$here/contract.c" -ldl 2>"$work/cc.err"; then
        if LD_PRELOAD="$lib" timeout 600 "$work/contract" >"$work/contract.out" 2>&1; then
            pass "C contract suite: $(grep -c '^ok' "$work/contract.out") groups"
            sed 's/^/      /' "$work/contract.out"
        else
            fail "C contract suite"
            sed 's/^/      /' "$work/contract.out" | tail -40
        fi
        # Misuse: a foreign pointer is reported once, in glibc's words, and aborts.
        for mode in invalid-free invalid-realloc double-free; do
            (LD_PRELOAD="$lib" exec "$work/contract" "$mode") >"$work/misuse.out" 2>&1
            status=$?
            case $mode in
                invalid-free) want='^free\(\): invalid pointer 0x[0-9a-f]+' ;;
                invalid-realloc) want='^realloc\(\): invalid pointer 0x[0-9a-f]+' ;;
                double-free) want='^NUMAHeap: deallocate\(0x[0-9a-f]+\): double free' ;;
            esac
            if [ "$status" -eq 134 ] && grep -Eq "$want" "$work/misuse.out" && [ "$(wc -l <"$work/misuse.out")" -eq 1 ]; then
                pass "$mode: aborts with \"$(head -c 60 "$work/misuse.out")…\""
            else
                fail "$mode: status $status, output: $(cat "$work/misuse.out")"
            fi
        done
        # The check tiers (NUMAHEAP_CHECKS): each misuse stops the process
        # with SIGABRT and a report naming the address the program printed,
        # in each tier that catches it; a write after free is ignored by full.
        for tier in standard full; do
            for mode in interior-free double-free-after-traffic large-double-free realloc-freed write-after-free \
                        overwritten-double-free usable-size-freed; do
                case $tier:$mode in
                    standard:overwritten-double-free | standard:usable-size-freed) continue ;;  # full only
                    full:write-after-free) want='^no report$'; expect_status=0 ;;
                    *:interior-free) want='interior pointer: 8 bytes into the block at' ;;
                    *:double-free-after-traffic) want='deallocate\(ADDR\): double free of a block of size 48' ;;
                    *:large-double-free) want='deallocate\(ADDR\): pointer into freed memory' ;;
                    *:realloc-freed) want='reallocate\(ADDR\): double free of a block of size 256' ;;
                    standard:write-after-free) want='^NUMAHeap: corrupted free list at ADDR' ;;
                    full:overwritten-double-free) want='deallocate\(ADDR\): double free of a block of size 80' ;;
                    full:usable-size-freed) want='usableSize\(ADDR\): use of a freed block of size 208' ;;
                esac
                case $tier:$mode in full:write-after-free) ;; *) expect_status=134 ;; esac
                (LD_PRELOAD="$lib" NUMAHEAP_CHECKS=$tier exec "$work/contract" "$mode") >"$work/misuse.out" 2>&1
                status=$?
                addr=$(sed -n 's/^addr=//p' "$work/misuse.out")
                pattern=${want//ADDR/$addr}
                if [ -n "$addr" ] && [ "$status" -eq "$expect_status" ] && grep -Eq "$pattern" "$work/misuse.out" \
                    && { [ "$expect_status" -eq 0 ] || grep -q "$addr" <(grep -v '^addr=' "$work/misuse.out"); }; then
                    pass "NUMAHEAP_CHECKS=$tier $mode: status $status, \"$(grep -v '^addr=' "$work/misuse.out" | head -1 | head -c 70)…\""
                else
                    fail "NUMAHEAP_CHECKS=$tier $mode: status $status (want $expect_status, /$pattern/), output: $(cat "$work/misuse.out")"
                fi
            done
        done
    else
        fail "cc contract.c: $(cat "$work/cc.err")"
    fi
fi

# --- malloc_trim ---------------------------------------------------------------------
# With the background scavenger off, malloc_trim alone returns 128 MiB freed
# by the program (1, RSS down), and then finds nothing left (0).
if [ -x "$work/contract" ]; then
    if out=$(LD_PRELOAD="$lib" NUMAHEAP_SCAVENGER=disabled "$work/contract" trim 2>&1); then
        pass "$out"
    else
        fail "malloc_trim: $out"
    fi
fi

# --- Memory comes back ----------------------------------------------------------------
# About 1 GiB of 16 B – 64 KiB blocks freed while the threads stay alive and
# idle: at least 90% of the RSS growth back within 3 s (memory-returns.c).
if need cc; then
    if cc -O2 -pthread -o "$work/memory-returns" "$here/memory-returns.c" 2>"$work/cc.err"; then
        if out=$(LD_PRELOAD="$lib" timeout 120 "$work/memory-returns" 2>&1); then
            pass "memory comes back: $out"
        else
            fail "memory comes back: $out"
        fi
    else
        fail "cc memory-returns.c: $(cat "$work/cc.err")"
    fi
fi

# --- NUMAHEAP_* options -------------------------------------------------------------
out=$(LD_PRELOAD="$lib" NUMAHEAP_STATS=1 /bin/true 2>&1)
if grep -q '^NUMAHeap statistics (pid [0-9]*): mallocs [0-9]*' <<<"$out"; then pass "NUMAHEAP_STATS=1 prints statistics at exit"; else fail "NUMAHEAP_STATS=1: $out"; fi
# The lock line: the node lock was taken at least once (the first span's pages).
if grep -Eq '^NUMAHeap statistics: node locks [1-9][0-9]* acquisitions \([0-9]+ contended\), central-list locks [0-9]+ \([0-9]+ contended\)$' <<<"$out"; then
    pass "NUMAHEAP_STATS=1 counts lock acquisitions"
else
    fail "NUMAHEAP_STATS=1 lock line: $out"
fi
out=$(LD_PRELOAD="$lib" NUMAHEAP_THP=sometimes NUMAHEAP_MEMORY_LIMIT=lots NUMAHEAP_NUMA=bind:x NUMAHEAP_CHECKS=paranoid \
      NUMAHEAP_RETAIN_PEAK_MS=-5 /bin/echo hi 2>&1)
if [ "$(grep -c '^NUMAHeap: ignoring NUMAHEAP_' <<<"$out")" -eq 5 ] && grep -q '^hi$' <<<"$out" \
    && grep -qx 'NUMAHeap: ignoring NUMAHEAP_CHECKS=paranoid: expected standard or full; using the default (standard)' <<<"$out" \
    && grep -qx 'NUMAHeap: ignoring NUMAHEAP_RETAIN_PEAK_MS=-5: expected milliseconds from 0 to 3600000; using the default (1000)' <<<"$out"; then
    pass "bad NUMAHEAP_* values: one line each, defaults used"
else
    fail "bad values: $out"
fi
out=$(LD_PRELOAD="$lib" NUMAHEAP_NUMA=bind:999 /bin/echo hi 2>&1)
if grep -q '^NUMAHeap: NUMAHEAP_NUMA=bind:999: node 999 does not exist or has no memory; using automatic$' <<<"$out" && grep -q '^hi$' <<<"$out"; then
    pass "NUMAHEAP_NUMA=bind: a node without memory is named, automatic used"
else
    fail "bind:999: $out"
fi
out=$(LD_PRELOAD="$lib" NUMAHEAP_VERBOSE=1 NUMAHEAP_NUMA=disabled NUMAHEAP_SCAVENGER=background:50 NUMAHEAP_RELEASE=free \
      NUMAHEAP_RETAIN_PEAK_MS=250 NUMAHEAP_THP=never NUMAHEAP_CHECKS=full NUMAHEAP_MEMORY_LIMIT=2G NUMAHEAP_ADDRESS_SPACE_LIMIT=64G /bin/true 2>&1)
if grep -q 'NUMAHEAP_NUMA=disabled NUMAHEAP_SCAVENGER=background:50 NUMAHEAP_RETAIN_PEAK_MS=250 NUMAHEAP_RELEASE=free NUMAHEAP_THP=never NUMAHEAP_CHECKS=full NUMAHEAP_MEMORY_LIMIT=2147483648 NUMAHEAP_ADDRESS_SPACE_LIMIT=68719476736' <<<"$out"; then
    pass "NUMAHEAP_* values are read"
else
    fail "options: $out"
fi
# An address-space limit makes big allocations fail with ENOMEM instead of growing.
if need python3; then
    out=$(LD_PRELOAD="$lib" NUMAHEAP_ADDRESS_SPACE_LIMIT=256M python3 -c '
try:
    b = bytearray(1 << 30)
    print("allocated")
except MemoryError:
    print("MemoryError")' 2>&1)
    if [ "$out" = MemoryError ]; then pass "NUMAHEAP_ADDRESS_SPACE_LIMIT=256M: a 1 GiB bytearray raises MemoryError"; else fail "address-space limit: $out"; fi
    # The memory limit is soft (like GOMEMLIMIT): the heap releases free memory
    # aggressively above it but never refuses an allocation.
    out=$(LD_PRELOAD="$lib" NUMAHEAP_MEMORY_LIMIT=256M python3 -c '
b = bytearray(1 << 30)
b[-1] = 1
del b
c = bytearray(1 << 30)
print("allocated", c[0])' 2>&1)
    if [ "$out" = "allocated 0" ]; then pass "NUMAHEAP_MEMORY_LIMIT=256M: 1 GiB blocks still allocate (soft limit)"; else fail "memory limit: $out"; fi
fi

echo
if [ "$failed" -eq 0 ]; then echo "malloc tests passed"; else echo "$failed malloc test(s) failed"; fi
[ "$failed" -eq 0 ]
