//! virel-lab: watch VIREL, SAC and TD3 agents learn, in real time.
//!
//! Module map:
//! - [`envs`] — the `Env` / `VecEnv` API and built-in tasks (Pendulum-v1, identity, VIREL's
//!   tabular counterexample).
//! - [`rl`] — agents on tch: `virel.rs` (VIREL, β-VIREL), `sac.rs`, `td3.rs`, and the shared
//!   networks, policies and replay buffer.
//! - [`training`] — the collect → update loop, evaluation, checkpoints, logs, run config.
//! - [`scene`] — robots and tasks as data (`scenes/*.ron`): format, parsing, validation.
//! - [`bench`] — benchmarks behind `virel-lab bench`.
//! - [`cli`] — the command line; `main.rs` only calls it.
//! - [`runtime`] — process-wide libtorch settings.

pub mod bench;
pub mod cli;
pub mod envs;
pub mod rl;
pub mod runtime;
pub mod scene;
pub mod sim;
pub mod training;
