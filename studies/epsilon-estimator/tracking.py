"""The running ε_ω against the authors' pass at each check of the tracking runs (tracking.toml):
per run and per 5k-step block, the geometric mean of running / pass and how many checks lie
below 1. Reads the full run folders (the archive keeps one row per metric per 1000 steps,
which are not the check's own step).

    python3 studies/epsilon-estimator/tracking.py runs/epsilon-estimator-tracking/*
"""
import csv
import math
import sys

BLOCK = 5000
pooled = {}
for run in sys.argv[1:]:
    eps, passes = {}, {}
    for step, _, metric, value in list(csv.reader(open(f"{run}/metrics.csv")))[1:]:
        {"virel/epsilon": eps, "virel/epsilon_pass": passes}.get(metric, {})[int(step)] = float(value)
    ratios = [(s, eps[s] / p) for s, p in sorted(passes.items()) if s in eps and p > 0]
    print(run.rstrip("/").split("/")[-1])
    blocks = {}
    for s, r in ratios:
        blocks.setdefault(s // BLOCK, []).append(r)
        pooled.setdefault(s // BLOCK, []).append(r)
    for b, rs in sorted(blocks.items()):
        gm = math.exp(sum(map(math.log, rs)) / len(rs))
        print(f"  {b * BLOCK:>6}–{(b + 1) * BLOCK:<6} checks {len(rs):3}  running/pass {gm:.3f}  "
              f"below 1: {sum(r < 1 for r in rs)}")
print("all runs")
for b, rs in sorted(pooled.items()):
    gm = math.exp(sum(map(math.log, rs)) / len(rs))
    print(f"  {b * BLOCK:>6}–{(b + 1) * BLOCK:<6} checks {len(rs):3}  running/pass {gm:.3f}  "
          f"below 1: {sum(r < 1 for r in rs)}")
