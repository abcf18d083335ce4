#!/usr/bin/env bash
# virel-lab developer entry point. Each command first runs scripts/setup.sh (idempotent).
#   ./dev.sh run [ARGS]   set up, build (release) and run the main job
#   ./dev.sh test         set up, then run every test
#   ./dev.sh bench        set up, then run the benchmarks (learning + speed vs PyTorch)
#   ./dev.sh setup        only set up
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
cmd="${1:-run}"; shift || true
source scripts/setup.sh
case "$cmd" in
    setup) ;;
    run)
        # The main job until the desktop app exists: headless VIREL on Pendulum with a progress bar.
        if [ $# -eq 0 ]; then set -- train --env pendulum --algo virel --steps 20000 --seed 1 --out runs; fi
        cargo run --release --quiet -- "$@" ;;
    test) cargo test --all-targets "$@" ;;
    bench) cargo bench "$@" ;;
    *) echo "unknown command '$cmd' (run | test | bench | setup)" >&2; exit 2 ;;
esac
