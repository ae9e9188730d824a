#!/usr/bin/env python3
"""Checks that nothing reachable from libNUMAHeapMalloc.so's exported functions
(and its fork handlers, exit report and the heap's thread-exit destructor)
calls into the Swift runtime in a way that may allocate, run a lazy
initialiser, or need the runtime's metadata registry (which is not set up
until the library's own constructors run, after the loader and libc's
initialisers have already called malloc).

Follows direct calls and tail jumps in `objdump -d`; indirect calls are
counted and listed, not followed. Exit status 1 with the offending call paths
when a forbidden function is reachable.

usage: callgraph.py libNUMAHeapMalloc.so
"""
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

def main():
    lib = sys.argv[1]
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", lib], capture_output=True, text=True, check=True).stdout
    calls, indirect, current = {}, {}, None
    head = re.compile(r"^[0-9a-f]+ <(.+)>:$")
    call = re.compile(r"\s(call|jmp)\s+[0-9a-f]+ <([^>+]+)(\+0x[0-9a-f]+)?>")
    icall = re.compile(r"\scall\s+\*")
    for line in out.splitlines():
        m = head.match(line)
        if m:
            current = m.group(1)
            calls.setdefault(current, set())
            continue
        if current is None:
            continue
        m = call.search(line)
        if m and m.group(2) != current:
            calls[current].add(m.group(2))
        elif icall.search(line):
            indirect[current] = indirect.get(current, 0) + 1
    roots = [f for f in calls if ROOTS.match(f)]
    parent = {r: None for r in roots}
    queue = deque(roots)
    bad = []
    while queue:
        f = queue.popleft()
        for g in sorted(calls.get(f, ())):
            if g in parent:
                continue
            parent[g] = f
            if DYING.match(g) or ALLOWED.match(g):
                continue
            if FORBIDDEN.match(g):
                bad.append(g)
                continue
            queue.append(g)
    print(f"callgraph: {len(roots)} roots, {len(parent)} functions reachable by direct calls")
    reached_indirect = sorted(f for f in parent if f in indirect and not FORBIDDEN.match(f))
    if reached_indirect:
        print(f"callgraph: {len(reached_indirect)} reachable functions make indirect calls (not followed):")
        for f in reached_indirect:
            print(f"    {f} ({indirect[f]})")
    # Calls from our own exported wrappers to our own malloc/free are expected
    # only through numaheap_* (never the PLT); report any forbidden target.
    for g in bad:
        path, f = [g], parent[g]
        while f is not None:
            path.append(f)
            f = parent[f]
        print("FORBIDDEN: " + " <- ".join(path))
    if bad:
        print(f"callgraph: {len(bad)} forbidden functions reachable")
        return 1
    print("callgraph: no forbidden function reachable")
    return 0

if __name__ == "__main__":
    sys.exit(main())
