#!/usr/bin/env python3
"""Writes a large Swift source file for the swiftc workload of
Benchmarks/programs/run.sh: COUNT structs, each with a protocol conformance,
a generic function, closures over arrays and a dictionary, a switch, and a
public function that specialises it (so the optimiser has work in -O).
    python3 generate-swift.py COUNT OUT.swift"""
import sys

if len(sys.argv) != 3 or not sys.argv[1].isdigit():
    print("usage: generate-swift.py COUNT OUT.swift", file=sys.stderr)
    sys.exit(2)
count, out = int(sys.argv[1]), sys.argv[2]
parts = ["protocol Scored { var score: Int { get }; func describe() -> String }\n"]
for i in range(count):
    parts.append(f"""
struct S{i}: Scored, Hashable {{
    var a: Int = {i}
    var b: String = "s{i}"
    var c: [Double] = [{i}.0, {i + 1}.5, {i + 2}.25]
    var score: Int {{ a &* {i % 97 + 1} &+ b.utf8.count }}
    func describe() -> String {{ "S{i}(\\(a), \\(b), \\(c.count))" }}
    mutating func bump(_ by: Int) -> Int {{ a &+= by; return a }}
}}

func f{i}<T: Scored>(_ xs: [T], seed: Int) -> (Int, [String: Int]) {{
    var table: [String: Int] = [:]
    let total = xs.map {{ $0.score &+ seed }}.filter {{ $0 % {i % 5 + 2} != 0 }}.reduce(0, &+)
    for (k, x) in xs.enumerated() where k < {i % 7 + 3} {{
        table[x.describe(), default: 0] &+= k
    }}
    switch total % 4 {{
    case 0: return (total, table)
    case 1: return (total &+ {i}, table.filter {{ $0.value > 1 }})
    case 2: return (total &* 2, table.mapValues {{ $0 &+ {i % 11} }})
    default: return (total, [:])
    }}
}}
""")
for i in range(count):  # public entry points keep every function's code from being dropped
    parts.append(f"public func run{i}(_ n: Int) -> Int {{ var s = S{i}(); return s.bump(n) &+ f{i}([s, S{i}()], seed: n).0 }}\n")
with open(out, "w") as fh:
    fh.write("".join(parts))
