#!/usr/bin/env python3
"""Checks what `numaheap bench --json J --svg S` wrote (Sources/numaheap/BenchReport.swift,
BenchChart.swift): J is strict JSON (no NaN or Infinity) with every key the report writes,
one result per measured node x workload x allocator, medians that are the medians of
their rounds; S is well-formed XML (an <svg> root), with a legend entry per allocator and
one bar per result, in the JSON's order, labelled with the same allocator, node and ns;
and a heat-table cell per memory-access result with the JSON's GB/s and ns.

    .ci/check-bench-output.py --json J --svg S [--duration D] [--rounds R] [--workloads W,...]
    .ci/check-bench-output.py --json J --svg S --self-test

--self-test checks the checker: J and S must pass, and each of a list of broken
copies of them (a key missing, a NaN, a result or a series dropped, a bar that
disagrees with the JSON, a truncated file, ...) must fail.
Exit status: 0 when everything holds, 1 otherwise (each problem on stderr).
"""
import argparse
import copy
import json
import math
import re
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
DEFAULT_SIZES = [16, 64, 256, 1024, 8192, 100000]
DEFAULT_WORKLOADS = ([f"pairs/{s}" for s in DEFAULT_SIZES] + [f"cross-thread/{s}" for s in DEFAULT_SIZES]
                     + ["batch/*"])   # one per entry of the JSON's batch.rows
# Every top-level key BenchReport.writeJSON writes, with its type.
TOP_KEYS = {
    "date": str, "machine": str, "duration_s": (int, float), "seconds_per_measurement": (int, float),
    "rounds": int, "threads": int, "allocators": list, "notes": list, "topology": dict, "nodes": list,
    "batch": dict, "results": list, "memory_access": dict, "rss": list,
}
RESULT_KEYS = {"node": int, "workload": str, "allocator": str, "ns_per_pair": (int, float),
               "rounds_ns_per_pair": list}
PLACEMENT_KEYS = {"pages": int, "pages_on_node": int, "pages_missing": int, "blocks": int, "bytes": int}
CELL_KEYS = {"allocator": str, "memory_node": int, "cpu_node": int, "read_gb_per_s": (int, float),
             "rounds_read_gb_per_s": list, "ns_per_load": (int, float), "rounds_ns_per_load": list}
RSS_KEYS = {"allocator": str, "objects": int, "size": int, "baseline_kib": int, "peak_kib": int,
            "after_free_kib": int, "peak_growth_kib": int, "bytes_per_object": (int, float),
            "fill_ns_per_allocate": (int, float), "peak_reset": bool}


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def close(a, b, tolerance):
    return abs(a - b) <= tolerance + 1e-9 * max(abs(a), abs(b))


def reject_constant(name):
    raise ValueError(f"{name} is not JSON (a NaN or infinite number was written)")


def has_keys(obj, keys, where, errors):
    if not isinstance(obj, dict):
        errors.append(f"{where}: expected an object, got {type(obj).__name__}")
        return False
    ok = True
    for key, kind in keys.items():
        if key not in obj:
            errors.append(f"{where}: key '{key}' missing")
            ok = False
        elif not isinstance(obj[key], kind) or (kind is int and isinstance(obj[key], bool)):
            errors.append(f"{where}: '{key}' is {obj[key]!r}, not {getattr(kind, '__name__', kind)}")
            ok = False
    return ok


def positive_numbers(values, where, errors):
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
            errors.append(f"{where}: {v!r} is not a positive number")
            return False
    return True


def check_json(text, duration, rounds, workloads):
    """Returns (report or None, errors)."""
    errors = []
    try:
        report = json.loads(text, parse_constant=reject_constant)
    except ValueError as e:
        return None, [f"JSON: does not parse: {e}"]
    if not has_keys(report, TOP_KEYS, "JSON", errors):
        return None, errors
    if duration is not None and report["duration_s"] != duration:
        errors.append(f"JSON: duration_s is {report['duration_s']}, the run asked for {duration}")
    if rounds is not None and report["rounds"] != rounds:
        errors.append(f"JSON: rounds is {report['rounds']}, the run asked for {rounds}")
    rounds = report["rounds"]
    allocators = report["allocators"]
    if len(set(allocators)) != len(allocators) or not all(isinstance(a, str) for a in allocators):
        errors.append(f"JSON: allocators {allocators!r} are not distinct names")
    for needed in ("NUMAHeap", "glibc"):
        if needed not in allocators:
            errors.append(f"JSON: allocator '{needed}' missing from {allocators!r}")
    topology_nodes = [n.get("node") for n in report["topology"].get("nodes", [])]
    if not topology_nodes:
        errors.append("JSON: topology.nodes is empty")
    nodes = [n.get("node") for n in report["nodes"]]
    if not nodes:
        errors.append("JSON: no measured node")
    for n in nodes:
        if n not in topology_nodes:
            errors.append(f"JSON: measured node {n} is not in the topology {topology_nodes}")
    batch_rows = []
    if has_keys(report["batch"], {"objects": int, "rows": list, "mean_size": (int, float)}, "JSON batch", errors):
        # The growth rows: a fifth, once and twice the middle row's blocks.
        o = report["batch"]["objects"]
        batch_rows = report["batch"]["rows"]
        if "batch/*" in workloads and batch_rows != sorted({max(1, o // 5), o, 2 * o}):
            errors.append(f"JSON batch: rows {batch_rows} are not a fifth, once and twice {o} live blocks")
    workloads = [w for name in workloads
                 for w in ([f"batch/{n}" for n in batch_rows] if name == "batch/*" else [name])]

    # Results: exactly one per node x workload x allocator, rows in order.
    seen = {}
    for i, r in enumerate(report["results"]):
        where = f"JSON results[{i}]"
        if not has_keys(r, RESULT_KEYS, where, errors):
            continue
        key = (r["node"], r["workload"], r["allocator"])
        if key in seen:
            errors.append(f"{where}: a second result for {key}")
        seen[key] = r
        samples = r["rounds_ns_per_pair"]
        if len(samples) != rounds:
            errors.append(f"{where} {key}: {len(samples)} rounds, expected {rounds}")
        if positive_numbers([r["ns_per_pair"]] + samples, f"{where} {key}", errors) and samples:
            if not close(r["ns_per_pair"], median(samples), 0):
                errors.append(f"{where} {key}: ns_per_pair {r['ns_per_pair']} is not the median of {samples}")
        if r["allocator"] == "NUMAHeap":
            p = r.get("placement")
            if p is None:
                errors.append(f"{where} {key}: NUMAHeap's placement missing")
            elif has_keys(p, PLACEMENT_KEYS, f"{where} placement", errors):
                if "error" not in p and (p["pages"] <= 0 or not 0 <= p["pages_on_node"] <= p["pages"]):
                    errors.append(f"{where} {key}: placement {p} is not a share of the pages")
                f = p.get("fraction_on_node")
                if f is not None and not 0 <= f <= 1:
                    errors.append(f"{where} {key}: fraction_on_node {f} is outside 0...1")
    for node in nodes:
        for workload in workloads:
            for allocator in allocators:
                if (node, workload, allocator) not in seen:
                    errors.append(f"JSON: no result for node {node}, workload {workload}, allocator {allocator}")
    if "glibc" in allocators:
        for (node, workload, allocator), r in seen.items():
            g = seen.get((node, workload, "glibc"))
            ratio = r.get("ratio_to_glibc")
            if g is None or not isinstance(g.get("ns_per_pair"), (int, float)):
                continue
            if not isinstance(ratio, (int, float)):
                errors.append(f"JSON: ratio_to_glibc missing for {(node, workload, allocator)}")
            elif g["ns_per_pair"] > 0 and not close(ratio, r["ns_per_pair"] / g["ns_per_pair"], 1e-9):
                errors.append(f"JSON: ratio_to_glibc {ratio} for {(node, workload, allocator)} is not ns / glibc's ns")

    # Memory access: a buffer per source and node, a cell per buffer and CPU node.
    access = report["memory_access"]
    if has_keys(access, {"buffer_bytes": int, "buffers": list, "cells": list}, "JSON memory_access", errors):
        if access["buffer_bytes"] <= 0:
            errors.append(f"JSON memory_access: buffer_bytes {access['buffer_bytes']}")
        buffers = {(b.get("allocator"), b.get("memory_node")) for b in access["buffers"]}
        for node in nodes:
            if ("NUMAHeap", node) not in buffers:
                errors.append(f"JSON memory_access: no NUMAHeap buffer on node {node}")
        cells = {}
        for i, c in enumerate(access["cells"]):
            where = f"JSON memory_access.cells[{i}]"
            if not has_keys(c, CELL_KEYS, where, errors):
                continue
            cells[(c["allocator"], c["memory_node"], c["cpu_node"])] = c
            for name in ("read_gb_per_s", "ns_per_load"):
                samples = c["rounds_" + name]
                if len(samples) != rounds:
                    errors.append(f"{where}: {len(samples)} rounds of {name}, expected {rounds}")
                if positive_numbers([c[name]] + samples, f"{where} {name}", errors) and samples:
                    if not close(c[name], median(samples), 0):
                        errors.append(f"{where}: {name} {c[name]} is not the median of {samples}")
        cpu_nodes = sorted({n.get("cpu_node") for n in report["nodes"]})
        for (allocator, memory) in buffers:
            for cpu in cpu_nodes:
                if (allocator, memory, cpu) not in cells:
                    errors.append(f"JSON memory_access: no cell for {allocator} memory on node {memory}, CPU node {cpu}")

    # RSS: one child per allocator.
    rss = {}
    for i, r in enumerate(report["rss"]):
        if has_keys(r, RSS_KEYS, f"JSON rss[{i}]", errors):
            rss[r["allocator"]] = r
            if r["objects"] <= 0 or r["peak_kib"] < r["baseline_kib"] or r["bytes_per_object"] <= 0:
                errors.append(f"JSON rss[{i}]: implausible figures {r}")
    for allocator in allocators:
        if allocator not in rss and not any(n.startswith(f"rss {allocator}:") for n in report["notes"]):
            errors.append(f"JSON: no rss result (and no note why) for {allocator}")
    return report, errors


BAR_TITLE = re.compile(r"^(?P<allocator>.+?), node (?P<node>\d+), (?P<label>.+): (?P<ns>[0-9.]+) ns \((?P<ratio>[0-9.]+)\)$")


def ns_tolerance(ns):      # benchTime: one decimal below 100, none above
    return 0.05 if ns < 100 else 0.5


def ratio_tolerance(r):    # benchRatio: three decimals below 0.1, two below 10, one above
    return 0.0005 if r < 0.1 else 0.005 if r < 10 else 0.05


def ordered_unique(values):
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def check_svg(text, report):
    errors = []
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        return [f"SVG: not well-formed XML: {e}"]
    if root.tag != SVG + "svg":
        return [f"SVG: the root is <{root.tag}>, not an SVG <svg>"]
    for attribute in ("width", "height"):
        value = root.get(attribute, "")
        if not value.isdigit() or int(value) <= 0:
            errors.append(f"SVG: {attribute}={value!r}")
    texts = ["".join(t.itertext()) for t in root.iter(SVG + "text")]
    if report is None:
        return errors

    # The allocation series: a legend entry per allocator, a bar per JSON result, same order.
    if not any(t.startswith("ns per allocate+free pair") for t in texts):
        errors.append("SVG: the allocation chart's title is missing")
    for allocator in report["allocators"]:
        if allocator not in texts:
            errors.append(f"SVG: no legend entry for {allocator}")
    bars = []
    for rect in root.iter(SVG + "rect"):
        title = rect.find(SVG + "title")
        if title is not None:
            bars.append(title.text or "")
    results = report["results"]
    if len(bars) != len(results):
        errors.append(f"SVG: {len(bars)} bars, the JSON has {len(results)} results")
    for i, (title, r) in enumerate(zip(bars, results)):
        m = BAR_TITLE.match(title)
        if m is None:
            errors.append(f"SVG bar {i}: title {title!r} is not 'allocator, node N, workload: T ns (R)'")
            continue
        want = (r.get("allocator"), r.get("node"))
        got = (m["allocator"], int(m["node"]))
        if got != want:
            errors.append(f"SVG bar {i}: {got}, the JSON's result {i} is {want}")
            continue
        ns = float(m["ns"])
        if isinstance(r.get("ns_per_pair"), (int, float)) and not close(ns, r["ns_per_pair"], ns_tolerance(r["ns_per_pair"])):
            errors.append(f"SVG bar {i} ({title}): {ns} ns, the JSON says {r['ns_per_pair']}")
        ratio = r.get("ratio_to_glibc")
        if isinstance(ratio, (int, float)) and not close(float(m["ratio"]), ratio, ratio_tolerance(ratio)):
            errors.append(f"SVG bar {i} ({title}): ratio {m['ratio']}, the JSON says {ratio}")
    for allocator in report["allocators"]:
        if results and not any(b.startswith(allocator + ", ") for b in bars):
            errors.append(f"SVG: no bar of the {allocator} series")

    # The memory-access heat tables: one cell per JSON cell, sources, memory nodes
    # and CPU nodes in the order they first appear (BenchChart.accessTables).
    cells = report["memory_access"].get("cells", []) if isinstance(report["memory_access"], dict) else []
    if cells:
        if not any(t.startswith("memory access,") for t in texts):
            errors.append("SVG: the memory-access table's title is missing")
        sources = ordered_unique([c.get("allocator") for c in cells])
        memories = ordered_unique([c.get("memory_node") for c in cells])
        cpus = ordered_unique([c.get("cpu_node") for c in cells])
        index = {(c.get("allocator"), c.get("memory_node"), c.get("cpu_node")): c for c in cells}
        expected = [index[(s, m, c)] for s in sources for m in memories for c in cpus if (s, m, c) in index]
        bandwidths = [float(t[:-5]) for t in texts if re.fullmatch(r"[0-9.]+ GB/s", t)]
        latencies = [float(t[:-3]) for t in texts if re.fullmatch(r"[0-9.]+ ns", t)]
        if len(bandwidths) != len(expected) or len(latencies) != len(expected):
            errors.append(f"SVG: {len(bandwidths)} GB/s and {len(latencies)} ns cells, the JSON has {len(expected)} cells")
        for cell, gb, ns in zip(expected, bandwidths, latencies):
            if isinstance(cell.get("read_gb_per_s"), (int, float)) and not close(gb, cell["read_gb_per_s"], 0.05):
                errors.append(f"SVG: cell {cell['allocator']} memory {cell['memory_node']} CPU {cell['cpu_node']}: {gb} GB/s, the JSON says {cell['read_gb_per_s']}")
            if isinstance(cell.get("ns_per_load"), (int, float)) and not close(ns, cell["ns_per_load"], 0.05):
                errors.append(f"SVG: cell {cell['allocator']} memory {cell['memory_node']} CPU {cell['cpu_node']}: {ns} ns, the JSON says {cell['ns_per_load']}")
        for s in sources:
            if s not in texts:
                errors.append(f"SVG: no heat table titled {s}")
        for m in memories:
            if f"memory node {m}" not in texts:
                errors.append(f"SVG: no row for memory node {m}")
        for c in cpus:
            if f"CPU node {c}" not in texts:
                errors.append(f"SVG: no column for CPU node {c}")
    return errors


def check(json_text, svg_text, duration=None, rounds=None, workloads=DEFAULT_WORKLOADS):
    report, errors = check_json(json_text, duration, rounds, workloads)
    return errors + check_svg(svg_text, report)


def self_test(json_text, svg_text, duration, rounds, workloads):
    """The real files pass; every broken copy fails. Returns the problems."""
    problems = [f"the real output fails: {e}" for e in check(json_text, svg_text, duration, rounds, workloads)]
    if problems:
        return problems
    report = json.loads(json_text)

    def with_report(change):
        r = copy.deepcopy(report)
        change(r)
        return json.dumps(r)

    def drop_svg(predicate):
        root = ET.fromstring(svg_text)
        for parent in root.iter():
            for child in list(parent):
                if predicate(child):
                    parent.remove(child)
        return ET.tostring(root, encoding="unicode")

    def is_bar_of(allocator):
        return lambda e: e.tag == SVG + "rect" and (e.findtext(SVG + "title") or "").startswith(allocator + ", ")

    def is_text(content):
        return lambda e: e.tag == SVG + "text" and "".join(e.itertext()) == content

    first = report["results"][0]
    first_ns = f'"ns_per_pair": {json.dumps(first["ns_per_pair"])}'
    broken = {
        "truncated JSON": (json_text[: len(json_text) // 2], svg_text),
        "a NaN (Swift writes nan)": (json_text.replace(first_ns, '"ns_per_pair": nan', 1), svg_text),
        "a NaN (Python writes NaN)": (with_report(lambda r: r["results"][0].update(ns_per_pair=float("nan"))), svg_text),
        "an infinite ratio": (with_report(lambda r: r["results"][0].update(ratio_to_glibc=float("inf"))), svg_text),
        "key 'results' missing": (with_report(lambda r: r.pop("results")), svg_text),
        "key 'rss' missing": (with_report(lambda r: r.pop("rss")), svg_text),
        "key 'memory_access' missing": (with_report(lambda r: r.pop("memory_access")), svg_text),
        "a result key renamed": (with_report(lambda r: r["results"][0].update(ns=r["results"][0].pop("ns_per_pair"))), svg_text),
        "the last result dropped": (with_report(lambda r: r["results"].pop()), svg_text),
        "a round missing": (with_report(lambda r: r["results"][0]["rounds_ns_per_pair"].pop()), svg_text),
        "a median that is not the rounds' median": (with_report(lambda r: r["results"][0].update(ns_per_pair=r["results"][0]["ns_per_pair"] * 3)), svg_text),
        "glibc missing from the allocators": (with_report(lambda r: r["allocators"].remove("glibc")), svg_text),
        "a batch growth row missing": (with_report(lambda r: r["batch"]["rows"].pop()), svg_text),
        "a memory-access cell dropped": (with_report(lambda r: r["memory_access"]["cells"].pop()), svg_text),
        "truncated SVG": (json_text, svg_text[: len(svg_text) // 2]),
        "an HTML root instead of <svg>": (json_text, svg_text.replace("<svg ", "<html ", 1).replace("</svg>", "</html>")),
        "the glibc bars dropped": (json_text, drop_svg(is_bar_of("glibc"))),
        "the NUMAHeap bars dropped": (json_text, drop_svg(is_bar_of("NUMAHeap"))),
        "the NUMAHeap legend entry dropped": (json_text, drop_svg(is_text("NUMAHeap"))),
        "a bar's ns disagreeing with the JSON": (json_text, svg_text.replace(
            f": {first['ns_per_pair']:.0f} ns (" if first["ns_per_pair"] >= 100 else f": {first['ns_per_pair']:.1f} ns (",
            ": 99999 ns (", 1)),
        "the heat table's GB/s cells dropped": (json_text, drop_svg(lambda e: e.tag == SVG + "text" and "".join(e.itertext()).endswith(" GB/s"))),
    }
    if duration is not None:
        broken["the wrong duration"] = (with_report(lambda r: r.update(duration_s=r["duration_s"] + 1)), svg_text)
    if rounds is not None:
        broken["the wrong number of rounds"] = (with_report(lambda r: r.update(rounds=r["rounds"] + 1)), svg_text)
    for name, (j, s) in broken.items():
        if j == json_text and s == svg_text:
            problems.append(f"self-test '{name}': the mutation changed nothing (fix the self-test)")
        elif not check(j, s, duration, rounds, workloads):
            problems.append(f"self-test '{name}': the broken output was accepted")
    if not problems:
        print(f"check-bench-output: self-test: the real output passes and all {len(broken)} broken copies are rejected")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", required=True)
    parser.add_argument("--svg", required=True)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--workloads", help="comma-separated workload names expected (default: the bench's defaults)")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    workloads = args.workloads.split(",") if args.workloads else DEFAULT_WORKLOADS
    with open(args.json, encoding="utf-8") as f:
        json_text = f.read()
    with open(args.svg, encoding="utf-8") as f:
        svg_text = f.read()
    if args.self_test:
        problems = self_test(json_text, svg_text, args.duration, args.rounds, workloads)
    else:
        problems = check(json_text, svg_text, args.duration, args.rounds, workloads)
        if not problems:
            report = json.loads(json_text)
            print(f"check-bench-output: {args.json}: {len(report['results'])} results "
                  f"({', '.join(report['allocators'])} on node{'s' if len(report['nodes']) > 1 else ''} "
                  f"{', '.join(str(n['node']) for n in report['nodes'])}), "
                  f"{len(report['memory_access']['cells'])} memory-access cells, {len(report['rss'])} RSS results; "
                  f"{args.svg}: well-formed SVG with every series")
    for p in problems:
        print(f"check-bench-output: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
