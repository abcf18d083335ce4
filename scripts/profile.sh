#!/usr/bin/env bash
# Where one env step's time goes: samples a release `virel-lab train` run with perf and prints
#   1. the share of each kind of work (MKL's matrix multiplies, torch's element-wise kernels,
#      dispatch and tensor bookkeeping, autograd, malloc, the kernel, our Rust code),
#   2. the share of each phase of the step (act, env step, replay insert and sampling, TD
#      target, critic, actor, α, target update, Adam, logging), from DWARF call graphs.
# Usage: scripts/profile.sh ALGO ENV [STEPS] [extra train args…]
#   e.g. scripts/profile.sh sac pendulum 3000 --set sac.hidden=[256,256]
# Needs perf (Debian: linux-perf) and a release build (`cargo build --release`).
set -euo pipefail
algo="$1"; env="$2"; steps="${3:-3000}"; shift $(( $# >= 3 ? 3 : $# ))
bin="${CARGO_TARGET_DIR:-$HOME/.cache/virel-lab/target}/release/virel-lab"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
case "$algo" in virel|beta-virel) table=virel ;; *) table="$algo" ;; esac
# record NAME "PERF_FLAGS" [TRAIN_ARGS…]: one sampled training run into $work/NAME.data.
record() {
    local name="$1" flags="$2"
    shift 2
    # shellcheck disable=SC2086 # the perf flags are words
    perf record -q $flags -o "$work/$name.data" -- \
        "$bin" train --algo "$algo" --env "$env" --steps "$steps" --quiet --threads 1 \
        --eval-every 0 --checkpoint-every 0 --out "$work/run-$name" \
        --set "$table.learning_starts=1000" "$@" >/dev/null 2>&1
}

# 1. Kinds of work: flat profile, every sample counted.
record flat "-F 499" "$@"
echo "== $algo on $env, $steps steps (learning from 1000): kinds of work (share of all samples)"
perf report -i "$work/flat.data" --no-children --sort dso,symbol 2>/dev/null | grep -E '^ +[0-9.]+%' |
awk '{p=$1; sub("%","",p); l=$0; g="other";
  if (l ~ /mkl_blas|mkl_/) g="matrix multiplies (MKL sgemm)";
  else if (l ~ /\[k\]/) g="kernel (syscalls, page faults)";
  else if (l ~ /malloc|free|_int_|memcpy|memset|memmove|cfree/) g="malloc / memcpy";
  else if (l ~ /autograd/) g="autograd engine";
  else if (l ~ /VectorizedLoop|vectorized_|Vectorized|_kernel|serial_for_each|cpu_kernel|reduce|loop_2d/) g="element-wise and reduction kernels";
  else if (l ~ /c10::|at::|Dispatch|TensorImpl|intrusive|torch::/) g="dispatch and tensor bookkeeping";
  else if (l ~ /virel_lab|rapier|parry|nalgebra|glam|bevy|std::|core::/) g="our code (envs, physics, trainer)";
  s[g]+=p} END {for (k in s) printf "%6.1f%%  %s\n", s[k], k}' | sort -rn

# 2. Phases: DWARF call graphs; shares of the samples whose stack unwinds to the trainer.
record graph "-F 99 --call-graph dwarf,32768" "$@"
echo "== phases (share of the samples that unwind to Trainer::step)"
perf report -i "$work/graph.data" --no-inline --children --sort symbol 2>/dev/null |
grep -E '^ +[0-9.]+% +[0-9.]+%' | sed -E 's/^ +([0-9.]+)% +[0-9.]+% +\[.\] +/\1 /; s/ +- +- *$//' |
awk '
  { v=$1; $1=""; sub(/^ /, ""); pct[$0]=v; if ($0 ~ /Trainer::step$/) total=v }
  END {
    n=split("Trainer::collect|Agent>::act|VecEnv::step|ReplayBuffer::push|ReplayBuffer::sample|Agent>::update|::td_target|::critic_step|::actor_step|scored_targets|::estimate_epsilon|Adam::backward_step|Adam::step|polyak_update", keys, "|")
    for (i=1;i<=n;i++) { s=0; for (k in pct) if (index(k, keys[i])) s+=pct[k];
      if (total>0 && s>0) printf "%6.1f%%  %s\n", 100*s/total, keys[i] }
  }'
