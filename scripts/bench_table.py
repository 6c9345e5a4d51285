#!/usr/bin/env python3
"""Prints criterion medians as markdown tables, with each peer's ratio to Lookout.

Reads target/criterion/<group>/<bench>/new/estimates.json after `cargo bench`.
Ratio = peer median / Lookout median: above 1 means Lookout is faster. The Lookout row
of a group is the bench named `lookout`; baselines (`atomic`, `hdrhistogram_*`) are
compared the same way, so a ratio below 1 there says how far Lookout is from the floor.
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
groups = {}
for estimates in sorted(root.glob("**/new/estimates.json")):
    bench_dir = estimates.parent.parent
    group = bench_dir.parent.relative_to(root).as_posix()
    median = json.loads(estimates.read_text())["median"]["point_estimate"]
    groups.setdefault(group, {})[bench_dir.name] = median


def human(ns):
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


if not groups:
    sys.exit(f"no criterion results under {root}: run cargo bench first")
for group, benches in groups.items():
    lookout = benches.get("lookout")
    print(f"\n**{group}**\n")
    print("| bench | median | peer / Lookout |")
    print("| --- | ---: | ---: |")
    for name, median in sorted(benches.items(), key=lambda kv: kv[1]):
        ratio = f"{median / lookout:.2f}x" if lookout else "-"
        print(f"| {name} | {human(median)} | {ratio} |")
