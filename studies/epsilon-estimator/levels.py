"""ε_ω's level and the policy's entropy per run, for issue 15's estimator check (README, "VIREL in
this implementation"): over a step range, each run's mean of log ε_ω and of
entropy − (A/2)·log ε_ω (A: the action's dimensions; a Gaussian policy's entropy moves by A/2
nats per nat of temperature), from the archived (thinned) metrics.csv of the study folders.

    python3 studies/epsilon-estimator/levels.py half_cheetah 6 10000 60000 [FOLDER ...]

FOLDERs hold the archived runs (default: this study's `runs` and the five-robot study's VIREL
cells, `runs`); the half-cheetah's runs on its former step are in `superseded/`:

    python3 studies/epsilon-estimator/levels.py half_cheetah 6 10000 60000 \
        studies/epsilon-estimator/superseded/half_cheetah-12.5ms \
        studies/five-robots/superseded/half_cheetah-12.5ms
"""
import csv
import glob
import math
import statistics
import sys

robot, actions, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
folders = sys.argv[5:] or ["studies/epsilon-estimator/runs", "studies/five-robots/runs"]
# The five-robot study's folders hold other algorithms too: of VIREL, its `default` cells.
runs = sorted(
    run
    for folder in folders
    for run in glob.glob(f"{folder}/{robot}__virel__*")
    if "five-robots" not in folder or "__virel__default__" in run
)
groups = {}
for run in runs:
    eps, ent = {}, {}
    for step, _, metric, value in list(csv.reader(open(f"{run}/metrics.csv")))[1:]:
        if lo <= int(step) < hi:
            {"virel/epsilon": eps, "losses/entropy": ent}.get(metric, {})[int(step)] = float(value)
    steps = sorted(set(eps) & set(ent))
    if not steps:
        continue
    log_eps = statistics.mean(math.log(eps[s]) for s in steps)
    excess = statistics.mean(ent[s] - actions / 2 * math.log(eps[s]) for s in steps)
    name = run.split("/")[-1]
    kind = "running" if "__default__" in name else "pass-based"
    groups.setdefault(kind, []).append((log_eps, excess))
    print(f"{name:42} {kind:10} points {len(steps):3}  mean log ε {log_eps:6.2f}  "
          f"entropy − {actions}/2·log ε {excess:6.2f}")
for kind, rows in groups.items():
    print(f"{kind:10} runs {len(rows)}  mean log ε {statistics.mean(r[0] for r in rows):6.2f}  "
          f"entropy − {actions}/2·log ε {statistics.mean(r[1] for r in rows):6.2f}")
