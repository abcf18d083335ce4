#!/usr/bin/env bash
# virel-lab developer entry point. Each command first runs scripts/setup.sh (idempotent).
#   ./dev.sh run [ARGS]   set up, build (release) and run the main job: the desktop app
#                         (ARGS go to virel-lab, e.g. `train --env hopper`)
#   ./dev.sh test         set up, then run every test
#   ./dev.sh bench [ARGS] set up, then run the benchmarks: updates/s vs PyTorch, env steps/s
#                         and random-policy gaits vs Gymnasium + MuJoCo, end-to-end training
#                         speed vs Stable-Baselines3 and SBX, and learning on Pendulum (ARGS go
#                         to `bench learning`, e.g. --seeds 3)
#   ./dev.sh setup        only set up
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
cmd="${1:-run}"; shift || true
source scripts/setup.sh
case "$cmd" in
    setup) ;;
    run)
        cargo run --release --quiet -- "$@" ;;
    test)
        # Gymnasium's MuJoCo models, which tests/mjcf.rs imports against the shipped scenes
        # (it says SKIPPED where the wheel could not be installed).
        if assets="$("$(gym_venv)" -c 'import gymnasium, os; print(os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets"))' 2>/dev/null)"; then
            export VIREL_GYM_ASSETS="$assets"
        fi
        cargo test --all-targets "$@" ;;
    bench)
        # Python's `import torch` needs the full install, whatever libtorch the build uses.
        python="$(torch_venv 1)/bin/python"
        cargo build --release --quiet
        "$CARGO_TARGET_DIR/release/virel-lab" bench updates --python "$python"
        gym="$(gym_venv)"
        "$CARGO_TARGET_DIR/release/virel-lab" bench envs --python "$gym"
        "$CARGO_TARGET_DIR/release/virel-lab" bench gait --python "$gym"
        # Ours in float32 and with the hidden multiplies in bfloat16 (README, "On an Intel
        # Xeon, and bfloat16 between hidden layers"); the peers in float32.
        "$CARGO_TARGET_DIR/release/virel-lab" bench training --python "$(peers_venv)" \
            --hidden-matmul float32 bfloat16 --out "runs/bench-training-$(date +%Y%m%d-%H%M%S)"
        "$CARGO_TARGET_DIR/release/virel-lab" bench learning "$@" ;;
    *) echo "unknown command '$cmd' (run | test | bench | setup)" >&2; exit 2 ;;
esac
