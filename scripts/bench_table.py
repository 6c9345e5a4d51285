#!/usr/bin/env python3
"""Prints criterion medians as markdown tables, one per group, with Lookout's ratio.

Usage: python3 scripts/bench_table.py [--root DIR] [GROUP_PREFIX ...]

Reads <root>/**/new/estimates.json (root: target/criterion) after `cargo bench`; the
group and bench names come from the benchmark.json beside each. Ratio = peer median /
Lookout median, so above 1 means Lookout is faster. The Lookout row of a group is the
bench named `lookout`, else the first `lookout_*` one; each table says which.
"""
import argparse
import json
import pathlib
import sys


def load(root):
    groups = {}
    for estimates in sorted(root.glob("**/new/estimates.json")):
        meta_file = estimates.with_name("benchmark.json")
        if meta_file.exists():
            meta = json.loads(meta_file.read_text())
            group, bench = meta["group_id"], meta["function_id"] or meta["full_id"]
        else:
            bench_dir = estimates.parent.parent
            group, bench = bench_dir.parent.relative_to(root).as_posix(), bench_dir.name
        median = json.loads(estimates.read_text())["median"]["point_estimate"]
        groups.setdefault(group, {})[bench] = median
    return groups


def machine():
    """The CPU model and core count of this machine, which the medians depend on."""
    model, cores = "unknown CPU", 0
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            if line.startswith("processor"):
                cores += 1
    except OSError:
        pass
    return f"Machine: {model}, {cores or '?'} logical cores (the medians below are this machine's)"


def human(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def reference(benches):
    if "lookout" in benches:
        return "lookout"
    variants = sorted(name for name in benches if name.startswith("lookout_"))
    return variants[0] if variants else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="target/criterion", type=pathlib.Path)
    parser.add_argument("prefixes", nargs="*", help="only groups starting with these")
    args = parser.parse_args()

    groups = load(args.root)
    if args.prefixes:
        groups = {
            g: b for g, b in groups.items() if any(g.startswith(p) for p in args.prefixes)
        }
    if not groups:
        sys.exit(f"no criterion results under {args.root}: run cargo bench first")

    print(machine())
    for group in sorted(groups):
        benches = groups[group]
        ref = reference(benches)
        print(f"\n**{group}**" + (f" (Lookout row: `{ref}`)" if ref else " (no Lookout row)"))
        print()
        print("| bench | median | Lookout's ratio (peer / Lookout) |")
        print("| --- | ---: | ---: |")
        for name, median in sorted(benches.items(), key=lambda kv: kv[1]):
            ratio = f"{median / benches[ref]:.2f}x" if ref else "-"
            print(f"| {name} | {human(median)} | {ratio} |")


if __name__ == "__main__":
    main()
