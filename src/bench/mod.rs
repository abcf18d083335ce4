//! `virel-lab bench …`: figures for the notes, never timed unit tests.
//!
//! - `updates`: gradient steps per second of the tch agents (2×256 MLPs, batch 256, obs 17,
//!   act 6) next to the same update in Python PyTorch, timed in the same run, as a ratio.
//! - `learning`: every algorithm on Pendulum, several seeds, in parallel child processes;
//!   reports the median final deterministic evaluation return.
//! - `envs`: env steps per second of the robots (or of scene files) with random actions, next to
//!   Gymnasium + MuJoCo timed in the same run and EnvPool's anchors.
//! - `gait`: what a random policy does on each robot (episode length, return, forward
//!   velocity) next to Gymnasium + MuJoCo: speed is only worth having with the same dynamics.
//! - `posterior`: the app's posterior panel pass per robot, next to a gradient step.
//! - `training` ([`training`]): end-to-end env steps/s and final return of every algorithm
//!   next to Stable-Baselines3 and SBX SAC/TD3, same settings, same invocation.

mod envs;
mod gait;
mod learning;
mod peers;
mod posterior;
pub mod training;
mod updates;

pub use updates::tch_updates_per_second;

use envs::bench_envs;
use gait::bench_gait;
use learning::bench_learning;
use posterior::bench_posterior;
use updates::bench_updates;

use crate::rl::nets::HiddenMatmul;
use crate::rl::virel::EpsilonEstimator;
use crate::rl::{AgentSpec, Algo, buffer::ReplayBuffer};
use crate::scene;
use crate::training::RunSummary;
use crate::training::config::{DeviceChoice, TrainConfig};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// `virel-lab bench`: what to measure.
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Gradient updates per second: tch vs Python PyTorch, same run.
    Updates {
        /// Seconds to time each side.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Torch threads on both sides.
        #[arg(long, default_value_t = 1)]
        threads: i32,
        /// Where the tch side runs.
        #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
        device: DeviceChoice,
        /// Python with torch 2.11 (default: the setup venv's).
        #[arg(long)]
        python: Option<PathBuf>,
        /// Skip the Python side.
        #[arg(long)]
        no_python: bool,
        /// Minibatch sizes to time (e.g. `--batch-size 256 1024` on a GPU).
        #[arg(long, num_args = 1.., default_values_t = [256])]
        batch_size: Vec<i64>,
        /// Precision of the tch side's multiplies between hidden layers.
        #[arg(long, value_enum, default_value_t = HiddenMatmul::Float32)]
        hidden_matmul: HiddenMatmul,
    },
    /// Env steps per second of each robot with random actions: 1 env on 1 thread, and N envs
    /// on 2 threads, next to Gymnasium + MuJoCo timed in the same run (when `--python` has it).
    Envs {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Env copies in the vectorised measurement, split over 2 threads.
        #[arg(long, default_value_t = 16)]
        num_envs: usize,
        /// Python with `gymnasium[mujoco]` for the peer figures (skipped when it fails).
        #[arg(long, default_value = "python3")]
        python: PathBuf,
        /// Robots to time: shipped names or scene files (a file is compared with the peer of
        /// its scene's `name`).
        #[arg(long, num_args = 1.., default_values_t = scene::robots().map(String::from).collect::<Vec<_>>())]
        env: Vec<String>,
    },
    /// What a random policy does on each robot (episodes, length, return, forward velocity),
    /// next to Gymnasium + MuJoCo with the same number of steps (when `--python` has it).
    Gait {
        /// Control steps per robot (episodes restart as they end).
        #[arg(long, default_value_t = 20_000)]
        steps: usize,
        /// Seed of the resets and of the actions.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Python with `gymnasium[mujoco]` for the peer figures (skipped when it fails).
        #[arg(long, default_value = "python3")]
        python: PathBuf,
        /// Robots: shipped names or scene files (compared with the peer of the scene's `name`).
        #[arg(long, num_args = 1.., default_values_t = scene::robots().map(String::from).collect::<Vec<_>>())]
        env: Vec<String>,
    },
    /// Milliseconds of the app's posterior panel pass (every joint's grid and a pair's map
    /// through the critic) per robot, next to one gradient step, timed in the same run.
    Posterior {
        /// Seconds to time each side, per robot.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// Robots: shipped names or scene files.
        #[arg(long, num_args = 1.., default_values_t = scene::robots().map(String::from).collect::<Vec<_>>())]
        env: Vec<String>,
    },
    /// End-to-end env steps/s and final deterministic return of each algorithm, next to
    /// Stable-Baselines3 and SBX SAC/TD3 on Gymnasium's envs with the same settings, one thread
    /// per run, timed in the same invocation.
    Training(training::TrainingBench),
    /// Final deterministic return of each algorithm on Pendulum over several seeds.
    Learning {
        /// Seeds per algorithm.
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        /// Env steps per run.
        #[arg(long, default_value_t = 20_000)]
        steps: u64,
        /// Runs at once (each uses one torch thread).
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Algorithms to run.
        #[arg(long, value_enum, num_args = 1.., default_values_t = Algo::ALL)]
        algos: Vec<Algo>,
        /// Folder of the runs.
        #[arg(long, default_value = "runs/bench-learning")]
        out: PathBuf,
        /// Config overrides passed to every run, as `train --set`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

/// The longest a single measurement may take, s.
const MAX_SECONDS: f64 = 3600.0;

impl BenchCommand {
    /// Flags within their ranges: an error names the flag and its value.
    fn check(&self) -> Result<()> {
        let seconds = |v: f64| {
            if v.is_finite() && v > 0.0 && v <= MAX_SECONDS {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "--seconds {v}: expected a number of seconds > 0 and at most {MAX_SECONDS}"
                ))
            }
        };
        let at_least_one = |flag: &str, v: u64| {
            if v >= 1 {
                Ok(())
            } else {
                Err(anyhow::anyhow!("{flag} 0: expected at least 1"))
            }
        };
        match self {
            BenchCommand::Updates {
                seconds: s,
                threads,
                batch_size,
                ..
            } => {
                seconds(*s)?;
                if let Some(b) = batch_size.iter().find(|&&b| !(1..=1 << 20).contains(&b)) {
                    bail!("--batch-size {b}: expected 1 to {}", 1 << 20);
                }
                if !(1..=1024).contains(threads) {
                    bail!("--threads {threads}: expected 1 to 1024");
                }
                Ok(())
            }
            BenchCommand::Envs {
                seconds: s,
                num_envs,
                ..
            } => {
                seconds(*s)?;
                if !(1..=MAX_BENCH_ENVS).contains(num_envs) {
                    bail!("--num-envs {num_envs}: expected 1 to {MAX_BENCH_ENVS}");
                }
                Ok(())
            }
            BenchCommand::Gait { steps, .. } => at_least_one("--steps", *steps as u64),
            BenchCommand::Posterior { seconds: s, .. } => seconds(*s),
            BenchCommand::Training(bench) => bench.check(),
            BenchCommand::Learning {
                seeds, steps, jobs, ..
            } => {
                at_least_one("--seeds", *seeds)?;
                at_least_one("--steps", *steps)?;
                at_least_one("--jobs", *jobs as u64)
            }
        }
    }
}

/// The most env copies `bench envs` steps.
const MAX_BENCH_ENVS: usize = 65_536;

/// Runs a benchmark and prints its table.
pub fn run(cmd: BenchCommand) -> Result<()> {
    cmd.check()?;
    match cmd {
        BenchCommand::Updates {
            seconds,
            threads,
            device,
            python,
            no_python,
            batch_size,
            hidden_matmul,
        } => bench_updates(
            seconds,
            threads,
            device,
            python,
            no_python,
            &batch_size,
            hidden_matmul,
        ),
        BenchCommand::Learning {
            seeds,
            steps,
            jobs,
            algos,
            out,
            set,
        } => bench_learning(seeds, steps, jobs, &algos, &out, &set),
        BenchCommand::Training(bench) => bench.run(),
        BenchCommand::Posterior { seconds, env } => bench_posterior(seconds, &env),
        BenchCommand::Envs {
            seconds,
            num_envs,
            python,
            env,
        } => bench_envs(seconds, num_envs, &python, &env),
        BenchCommand::Gait {
            steps,
            seed,
            python,
            env,
        } => bench_gait(steps, seed, &python, &env),
    }
}

/// The median (the mean of the middle two for an even count).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
