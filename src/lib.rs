//! virel-lab: watch VIREL, SAC and TD3 agents learn, in real time.
//!
//! Layers point one way — each module uses only those before it (a test in
//! `tests/layers.rs` reads every `crate::` path and fails on one that points back):
//!
//! `runtime` · `scene` → `sim` → `envs` → `rl` → `training` → `app` / `study` / `export` →
//! `record` / `bench` → `cli`
//!
//! Module map:
//! - [`app`] — the desktop app (Bevy + egui), `LabPlugins`: runs on their own training
//!   threads, 3D view, camera, overlay, the Record button; ordered sets `LabSystems`.
//! - [`envs`] — the `Env` / `VecEnv` API and the tasks: Pendulum-v1, identity, VIREL's
//!   tabular counterexample, and the Gymnasium v5 locomotion tasks (`locomotion.rs`). A name
//!   becomes an env once, as an `envs::ResolvedEnv` (scene, spaces, fingerprint), where it
//!   enters the program (`cli`, `app`, a sweep, a bench, a run folder or checkpoint); runs are
//!   handed it (`tests/layers.rs` holds the list of those places).
//! - [`rl`] — agents on tch: `registry.rs` describes every algorithm once (name, label,
//!   colour, config table, temperature, knobs, memory shape, constructor) for the rest of the
//!   program to read; `virel.rs` (VIREL, β-VIREL), `sac.rs`, `td3.rs`, each with its
//!   descriptor; the shared networks, policies and replay buffer. A new algorithm is its own
//!   file plus its entry in the registry (`tests/registry.rs` walks every entry).
//! - [`training`] — the collect → update step (`trainer.rs`), the one training loop with its
//!   callbacks (`driver.rs`: logs, evaluations, checkpoints, progress), runs and resumes (`run.rs`) in
//!   run folders that defend themselves (`run_dir.rs`: one process each, only their own run
//!   resumed), signals (`interrupt.rs`), evaluation, checkpoints, logs, the run config and its
//!   ranges (`config.rs`, `rl/ranges.rs`), memory checks before allocating (`memory.rs`).
//! - [`scene`] — robots and tasks as data (`scenes/*.ron`): format, parsing, validation; MuJoCo
//!   MJCF import (`mjcf.rs`).
//! - [`sim`] — their physics: every copy of a robot as rapier3d multibodies in one world,
//!   hosted by bevy_rapier3d in a Bevy world the trainer steps (`vendor/rapier3d`: rapier,
//!   patched for speed).
//! - [`record`] — demo videos off-screen (`virel-lab record`), with the app's plugin group.
//! - [`bench`] — benchmarks behind `virel-lab bench`.
//! - [`study`] — grids of runs (`sweep`: locally or on Slurm; `select`: a tuning sweep's
//!   selection rule applied) and their reports (`report/`: loading runs, curves, figures,
//!   tables, every arm's settings; `stats`: IQM, bootstrap intervals, probability of
//!   improvement).
//! - [`export`] — policies out of the lab: a checkpoint's deterministic actor as ONNX or
//!   TorchScript.
//! - [`cli`] — the command line; `main.rs` only calls it.
//! - [`runtime`] — process-wide libtorch settings.

#![warn(missing_docs)]

pub mod app;
pub mod bench;
pub mod cli;
pub mod envs;
pub mod export;
pub mod record;
pub mod rl;
pub mod runtime;
pub mod scene;
pub mod sim;
pub mod study;
pub mod training;
