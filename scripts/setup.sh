#!/usr/bin/env bash
# Idempotent setup for virel-lab on Debian/Ubuntu. Installs only what is missing:
#   - system packages needed to build (C compiler, python3-venv),
#   - a Rust toolchain (rustup) when cargo is absent,
#   - what the desktop app needs at run time: X11 client libraries, a Vulkan loader with Mesa's
#     drivers (software rendering where there is no GPU), Xvfb for the window tests without a
#     display, ffmpeg for video recording, Slurm and munge for the sweep's Slurm test,
#   - libtorch, from PyPI's torch==2.11.0 wheel, into a venv in a cache directory OUTSIDE the repo
#     (full CUDA install where an NVIDIA GPU is present, a lean CPU install otherwise),
# and wires tch to it: the `.libtorch` link in the repo root (read by .cargo/config.toml) and
# the `build-version` file torch-sys checks the PyTorch version against.
#
# Environment:
#   VIREL_CACHE        cache directory (default ${XDG_CACHE_HOME:-$HOME/.cache}/virel-lab)
#   VIREL_TORCH_CUDA   1 = full CUDA install, 0 = lean CPU install (default: 1 iff nvidia-smi works)
#   CARGO_TARGET_DIR   build folder (default: $VIREL_CACHE/target, shared by every clone on this
#                      machine, so that a fresh clone does not rebuild Bevy and libtorch's bindings)
set -euo pipefail

TORCH_VERSION=2.11.0
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${VIREL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/virel-lab}"

log() { printf '[setup] %s\n' "$*" >&2; }

sudo_cmd() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install_missing() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if ! command -v apt-get >/dev/null; then
            log "missing packages ${missing[*]} and no apt-get: install them by hand"; exit 1
        fi
        log "installing ${missing[*]}"
        sudo_cmd apt-get update -qq
        DEBIAN_FRONTEND=noninteractive sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# 1. Build tools. python3-venv only where the system python lacks venv/ensurepip.
need=()
command -v cc >/dev/null || need+=(build-essential)
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl ca-certificates)
[ ${#need[@]} -gt 0 ] && apt_install_missing "${need[@]}"
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    pyver=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt_install_missing "python3-venv" "python${pyver}-venv"
fi

# Desktop runtime: winit loads the X11 libraries and wgpu the Vulkan loader at run time.
apt_install_missing libx11-6 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0 libvulkan1 \
    mesa-vulkan-drivers xvfb ffmpeg
# Slurm and munge: `sweep --slurm` submits to a cluster's sbatch; the Slurm test starts its own
# munged, slurmctld and slurmd from these packages (their system services are not used).
apt_install_missing slurm-wlm munge

# 2. Rust toolchain.
if ! command -v cargo >/dev/null; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        log "installing Rust (rustup, stable)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
fi

# 3. libtorch from the PyPI wheel, in a venv outside the repo.
# torch_venv CUDA: creates (once) and prints the venv. CUDA=1: the full install (what CUDA and
# Python's `import torch` need); CUDA=0: the lean one, enough for libtorch on the CPU.
torch_venv() {
    local venv="$cache/torch-$TORCH_VERSION"
    [ "$1" = 1 ] && venv="$venv-cuda"
    if [ ! -f "$venv/.virel-complete" ]; then
        log "installing torch==$TORCH_VERSION into $venv (full CUDA install: $1)"
        rm -rf "$venv"
        mkdir -p "$cache"
        python3 -m venv "$venv"
        if [ "$1" = 1 ]; then
            "$venv/bin/pip" install -q "torch==$TORCH_VERSION" >&2
        else
            # libtorch_cpu needs only these two of the CUDA wheels to load.
            "$venv/bin/pip" install -q --no-deps "torch==$TORCH_VERSION" \
                nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85 >&2
        fi
        touch "$venv/.virel-complete"
    fi
    echo "$venv"
}

# peer_venv NAME IMPORTS WHAT FALLBACK PACKAGES…: creates (once) the venv $cache/NAME with
# PACKAGES, unless its python already imports IMPORTS, and prints its python. WHAT names it in
# the log; FALLBACK says what the benchmarks do when it cannot be installed (no network).
peer_venv() {
    local venv="$cache/$1" imports="$2" what="$3" fallback="$4"
    shift 4
    if ! "$venv/bin/python" -c "import $imports" >/dev/null 2>&1; then
        log "installing $* into $venv ($what)"
        rm -rf "$venv"
        mkdir -p "$cache"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "$@" >&2 || log "could not install $what: $fallback"
    fi
    echo "$venv/bin/python"
}

# Gymnasium + MuJoCo, the peers of `bench envs` and `bench gait`.
gym_venv() {
    peer_venv gym "gymnasium, mujoco" "the peers of bench envs and gait" \
        "the benchmarks will show the reference's anchors" "gymnasium[mujoco]==1.4.0"
}

# Stable-Baselines3 (PyTorch), SBX (JAX) and Gymnasium + MuJoCo, the peers of `bench training`.
peers_venv() {
    peer_venv peers "stable_baselines3, sbx, gymnasium, mujoco" "the peers of bench training" \
        "bench training will show our runs alone" "torch==$TORCH_VERSION" \
        "stable-baselines3==2.9.2" "sbx-rl==0.28.0" "gymnasium[mujoco]==1.4.0"
}

if [ -z "${VIREL_TORCH_CUDA:-}" ]; then
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then VIREL_TORCH_CUDA=1; else VIREL_TORCH_CUDA=0; fi
fi
venv="$(torch_venv "$VIREL_TORCH_CUDA")"
libtorch="$venv/lib/$(basename "$(ls -d "$venv"/lib/python3*)")/site-packages/torch"
[ -f "$libtorch/build-version" ] || echo "$TORCH_VERSION" > "$libtorch/build-version"
ln -sfn "$libtorch" "$repo_root/.libtorch"
export LIBTORCH="$libtorch"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
log "libtorch: $LIBTORCH"
