#!/usr/bin/env python3
"""Checks that nothing reachable from libNUMAHeapMalloc.so's exported functions
(and its fork handlers, exit report and the heap's thread-exit destructor)
calls into the Swift runtime in a way that may allocate, run a lazy
initialiser, or need the runtime's metadata registry (which is not set up
until the library's own constructors run, after the loader and libc's
initialisers have already called malloc).

Follows direct calls, jumps and fall-through between pieces of code in
`objdump -d` (see pieces_of); indirect calls are counted and listed, not
followed. Exit status 1 with the offending call paths
when a forbidden function is reachable.

usage: callgraph.py libNUMAHeapMalloc.so
       callgraph.py --objdump-text FILE   (a saved `objdump -d` listing)
       callgraph.py --self-test           (the walk on listings with known verdicts)
"""
import bisect
import re
import subprocess
import sys
from collections import deque

FORBIDDEN = re.compile(
    r"^(swift_once|swift_allocObject|swift_allocBox|swift_slowAlloc|swift_task_alloc"
    r"|swift_getGenericMetadata|swift_getTypeByMangledName\w*|__swift_instantiateConcreteTypeFromMangledName\w*"
    r"|swift_conformsToProtocol\w*|swift_dynamicCast\w*|swift_getExistentialTypeMetadata"
    r"|swift_allocError|swift_willThrow|swift_initStaticObject|swift_getForeignTypeMetadata"
    r"|\$ss\d+_?allocateUninitializedArray\w*|swift_bridgeObjectRetain\w*"
    r"|malloc|calloc|realloc|free|posix_memalign|aligned_alloc|_Znwm|_Znam|__cxa_allocate_exception)(@plt)?$"
)
# Reached only when the process is already dying (a broken invariant, an
# exclusivity violation): the traversal stops there.
DYING = re.compile(
    r"^(_ZN5swift10fatalError\w*|_ZN5swift11fatalErrorv\w*|swift_reportError|_ZN5swift21printCurrentBacktrace\w*"
    r"|\$ss17_assertionFailure\w*|\$ss18_fatalErrorMessage\w*|abort(@plt)?|numaheap_abort"
    r"|numaheap_malloc_invalid_pointer|\$s8Platform12FatalMessageV5crash\w*"
    r"|_ZN5swift7runtime9AccessSet6insert\w*\.cold\.\d+|_ZN5swift19dumpStackTraceEntry\w*)$"
)
# Typed throws of non-generic error enums (HeapError, SystemError, ...): the
# (lazy, often inlined) witness-table accessor of their `Error` conformance
# calls swift_getWitnessTable, which for a conformance of a non-generic type
# returns the static pattern (no instantiation, no allocation, no registry);
# swift_willThrowTypedImpl boxes the error only when a debugger has installed
# an error hook. Allowed, not followed. Generic metadata, mangled-name lookups
# and lazy globals stay forbidden.
ALLOWED = re.compile(r"^(swift_willThrowTypedImpl|swift_getWitnessTable|\$s\w+s0C0AAWl)$")
ROOTS = re.compile(
    r"^(malloc|free|cfree|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc"
    r"|malloc_usable_size|numaheap_fork_(prepare|parent|child)|numaheap_exit_report|numaheap_initialize"
    r"|numaheap_malloc_load|numaheap_malloc_unload|\$s8NUMAHeap12HeapRegistryO12threadExited\w*"
    r"|\$s8NUMAHeap12HeapRegistryO9ensureKey\w*)$"
)

# Code is split into pieces: a piece starts at a symbol, or after an
# unconditional end (ret, jmp, ud2, hlt, a call to a DYING function) and the
# alignment padding that follows it. The compiler emits small helpers with no
# symbol of their own (lazy metadata accessors such as
# __swift_instantiateConcreteTypeFromMangledName) right after a function that
# ends in a noreturn call; objdump lists them under that function's name, and
# attributing their calls to it would invent a path. A piece is reachable from
# another when a direct call or jump targets an address in it, or when the
# other falls through into it; a piece of a symbol that makes an indirect jump
# (a jump table) reaches every piece of that symbol (its targets are unknown).
PADDING = re.compile(r"^(nop\w*|xchg\s+%ax,%ax|int3|(data16\s+|cs\s+)+nop\w*)(\s|$)")
INSN = re.compile(r"^\s+([0-9a-f]+):\s+(.*?)\s*$")
BRANCH = re.compile(r"^(call|jmp|j[a-z]+)\s+([0-9a-f]+) <([^>+]+)(\+0x[0-9a-f]+)?>")

def pieces_of(text):
    """Maps each piece's start address to {name, symbol, insns, falls}
    (falls: the piece does not end in an unconditional end)."""
    pieces = {}
    head = re.compile(r"^([0-9a-f]+) <(.+)>:$")
    symbol, sym_addr, cur, ended = None, 0, None, False
    for line in text.splitlines():
        m = head.match(line)
        if m:
            symbol, sym_addr = m.group(2), int(m.group(1), 16)
            cur = {"name": symbol, "symbol": symbol, "insns": [], "falls": True}
            pieces[sym_addr] = cur
            ended = False
            continue
        m = INSN.match(line)
        if not m or symbol is None:
            continue
        addr, insn = int(m.group(1), 16), m.group(2)
        if PADDING.match(insn) or insn.startswith("(bad)"):
            continue
        if ended:
            cur = {"name": f"{symbol}+{addr - sym_addr:#x}", "symbol": symbol, "insns": [], "falls": True}
            pieces[addr] = cur
            ended = False
        cur["insns"].append(insn)
        b = BRANCH.match(insn)
        op = insn.split()[-1] if insn.split()[-1] == "ret" else insn.split()[0]
        if op in ("ret", "ud2", "hlt", "jmp") or (op == "call" and b and DYING.match(b.group(3))):
            ended, cur["falls"] = True, False
    return pieces

# Listings the walk must judge right (--self-test): each is a root `malloc`
# and what follows it, with the verdict expected.
SELF_TESTS = [
    ("an unnamed accessor after a noreturn call is not reached", 0, """
0000000000001000 <malloc>:
    1000:\ttest   %rdi,%rdi
    1003:\tje     1010 <malloc+0x10>
    1005:\tret
    1010:\tcall   3000 <$s8Platform12FatalMessageV5crashs5NeverOyF>
    1015:\tnopl   0x0(%rax,%rax,1)
    1020:\tmov    (%rdi),%rax
    1023:\tcall   4000 <swift_getTypeByMangledNameInContext2>
    1028:\tret
"""),
    ("a call into that accessor reaches it", 1, """
0000000000001000 <malloc>:
    1000:\ttest   %rdi,%rdi
    1003:\tje     1010 <malloc+0x10>
    1005:\tcall   1020 <malloc+0x20>
    100a:\tret
    1010:\tcall   3000 <$s8Platform12FatalMessageV5crashs5NeverOyF>
    1015:\tnopl   0x0(%rax,%rax,1)
    1020:\tmov    (%rdi),%rax
    1023:\tcall   4000 <swift_getTypeByMangledNameInContext2>
    1028:\tret
"""),
    ("a branch to an aligned loop head after a jmp reaches it", 1, """
0000000000001000 <malloc>:
    1000:\tjmp    1010 <malloc+0x10>
    1002:\tnopw   0x0(%rax,%rax,1)
    1010:\tcall   2000 <helper>
    1015:\tret
0000000000002000 <helper>:
    2000:\tjmp    4000 <swift_once>
"""),
    ("a jump table reaches every piece of its function", 1, """
0000000000001000 <malloc>:
    1000:\tjmp    *(%rax,%rdi,8)
    1004:\tnopl   0x0(%rax)
    1008:\tret
    1009:\tint3
    1010:\tcall   4000 <swift_allocObject>
    1015:\tret
"""),
    ("a call through the PLT to glibc's malloc is forbidden", 1, """
0000000000001000 <free>:
    1000:\tcall   2000 <malloc@plt>
    1005:\tret
0000000000002000 <malloc@plt>:
    2000:\tjmp    *0x1000(%rip)
"""),
]

def self_test():
    failed = 0
    for title, want, text in SELF_TESTS:
        got = walk(pieces_of(text), quiet=True)
        print(f"{'ok  ' if got == want else 'FAIL'}  callgraph self-test: {title} (exit {got}, want {want})")
        failed |= got != want
    return 1 if failed else 0

def main():
    if sys.argv[1] == "--self-test":
        return self_test()
    if sys.argv[1] == "--objdump-text":
        text = open(sys.argv[2]).read()
    else:
        text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", sys.argv[1]], capture_output=True, text=True, check=True).stdout
    return walk(pieces_of(text))

def walk(pieces, quiet=False):
    out = (lambda *a: None) if quiet else print
    starts = sorted(pieces)
    def piece_at(addr):
        i = bisect.bisect_right(starts, addr) - 1
        return starts[i] if i >= 0 else None
    by_symbol = {}
    for a in starts:
        by_symbol.setdefault(pieces[a]["symbol"], []).append(a)
    calls, indirect = {a: set() for a in starts}, {}
    for i, a in enumerate(starts):
        p = pieces[a]
        if p["falls"] and i + 1 < len(starts) and pieces[starts[i + 1]]["symbol"] == p["symbol"]:
            calls[a].add(starts[i + 1])
        for insn in p["insns"]:
            b = BRANCH.match(insn)
            if b:
                # A target with no listing of its own (outside the text
                # listed) is known by the name objdump gives it.
                addr = int(b.group(2), 16)
                t = addr if addr in pieces else piece_at(addr) if b.group(4) else b.group(3)
                if t is not None and t != a:
                    calls[a].add(t)
            elif re.match(r"^call\s+\*", insn):
                indirect[a] = indirect.get(a, 0) + 1
            elif re.match(r"^jmp\s+\*", insn):
                calls[a].update(x for x in by_symbol[p["symbol"]] if x != a)
    name = lambda a: a if isinstance(a, str) else pieces[a]["name"]
    roots = [a for a in starts if pieces[a]["name"] == pieces[a]["symbol"] and ROOTS.match(name(a))]
    parent = {r: None for r in roots}
    queue = deque(roots)
    bad = []
    while queue:
        f = queue.popleft()
        for g in sorted(calls.get(f, ()), key=str):
            if g in parent:
                continue
            parent[g] = f
            if DYING.match(name(g)) or ALLOWED.match(name(g)):
                continue
            if FORBIDDEN.match(name(g)):
                bad.append(g)
                continue
            queue.append(g)
    symbols = {pieces[a]["symbol"] if not isinstance(a, str) else a for a in parent}
    out(f"callgraph: {len(roots)} roots, {len(parent)} pieces of code in {len(symbols)} functions reachable by direct calls, jumps and fall-through")
    reached_indirect = sorted(name(f) for f in parent if f in indirect and not FORBIDDEN.match(name(f)))
    if reached_indirect:
        out(f"callgraph: {len(reached_indirect)} reachable pieces make indirect calls (not followed):")
        for f in reached_indirect:
            out(f"    {f}")
    for g in bad:
        path, f = [name(g)], parent[g]
        while f is not None:
            path.append(name(f))
            f = parent[f]
        out("FORBIDDEN: " + " <- ".join(path))
    if bad:
        out(f"callgraph: {len(bad)} forbidden functions reachable")
        return 1
    out("callgraph: no forbidden function reachable")
    return 0

if __name__ == "__main__":
    sys.exit(main())
