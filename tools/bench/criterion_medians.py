#!/usr/bin/env python3
"""Median and min-max of the per-sample throughput of criterion benchmarks, from
target/criterion/<group>/<bench>/new/{sample,benchmark}.json (BENCHMARKS.md quotes these).

    tools/bench/criterion_medians.py stress_1h/simulate_encode open_orders/30k open_orders/500k
"""
import json
import statistics
import sys
from pathlib import Path

root = Path("target/criterion")
for name in sys.argv[1:]:
    new = root / name / "new"
    samples = json.loads((new / "sample.json").read_text())
    elements = json.loads((new / "benchmark.json").read_text())["throughput"]["Elements"]
    rates = [elements * n / t * 1e3 for n, t in zip(samples["iters"], samples["times"])]  # M/s
    print(f"{name:30} median {statistics.median(rates):.2f} M/s ({min(rates):.2f}-{max(rates):.2f})")
