#!/usr/bin/env python3
"""Object-heavy Python for Benchmarks/programs/run.sh: many small objects,
dicts, lists and strings, a JSON dumps/loads round trip of generated data;
prints a checksum line that run.sh compares with the glibc run's.
    python3 python-objects.py [SCALE (1)]"""
import json
import sys


class Node:
    __slots__ = ("key", "value", "children")

    def __init__(self, key, value):
        self.key = key
        self.value = value
        self.children = []


class Record:  # an ordinary class: its instances have a __dict__
    def __init__(self, i):
        self.id = i
        self.name = f"record-{i}"
        self.tags = [f"t{i % 7}", f"u{i % 11}"]
        self.meta = {"score": i * 13 % 1000, "flag": i % 2 == 0}


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else "1"
    if not arg.isdigit() or int(arg) < 1:
        print(f"python-objects.py: SCALE must be a positive integer, not '{arg}'", file=sys.stderr)
        sys.exit(2)
    n = 60_000 * int(arg)
    total = 0
    for rnd in range(3):
        # A tree of small objects.
        root = Node("root", 0)
        level = [root]
        for i in range(n):
            child = Node(f"k{rnd}-{i}", i)
            level[i % len(level)].children.append(child)
            if i % 50 == 0:
                level.append(child)
        stack, count = [root], 0
        while stack:
            node = stack.pop()
            count += len(node.key) + len(node.children)
            stack.extend(node.children)
        total += count
        # Records and dictionaries keyed by strings.
        records = [Record(i) for i in range(n)]
        by_name = {r.name: r for r in records}
        by_tag = {}
        for r in records:
            for t in r.tags:
                by_tag.setdefault(t, []).append(r.id)
        total += sum(len(v) for v in by_tag.values()) + len(by_name)
        # JSON round trip of generated data.
        data = [{"id": r.id, "name": r.name, "tags": r.tags, "meta": r.meta} for r in records[: n // 2]]
        text = json.dumps(data)
        back = json.loads(text)
        total += len(text) + sum(d["meta"]["score"] for d in back)
        # String building and splitting.
        s = ",".join(f"{k}:{len(v)}" for k, v in sorted(by_tag.items()))
        total += len(s.split(",")) + sum(len(w) for w in " ".join(by_name).split())
        del root, level, records, by_name, by_tag, data, back
    print(f"python checksum {total}")


main()
