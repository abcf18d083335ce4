//! `virel-lab bench …`: figures for the notes, never timed unit tests.
//!
//! - `updates`: gradient steps per second of the tch agents (2×256 MLPs, batch 256, obs 17,
//!   act 6) next to the same update in Python PyTorch, timed in the same run, as a ratio.
//! - `learning`: every algorithm on Pendulum, several seeds, in parallel child processes;
//!   reports the median final deterministic evaluation return.

use crate::rl::{AgentSpec, Algo, buffer::ReplayBuffer};
use crate::training::RunSummary;
use crate::training::config::{DeviceChoice, TrainConfig};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

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
        #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
        device: DeviceChoice,
        /// Python with torch 2.11 (default: the setup venv's).
        #[arg(long)]
        python: Option<PathBuf>,
        /// Skip the Python side.
        #[arg(long)]
        no_python: bool,
    },
    /// Final deterministic return of each algorithm on Pendulum over several seeds.
    Learning {
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        #[arg(long, default_value_t = 20_000)]
        steps: u64,
        /// Runs at once (each uses one torch thread).
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        #[arg(long, value_enum, num_args = 1.., default_values_t = Algo::ALL)]
        algos: Vec<Algo>,
        #[arg(long, default_value = "runs/bench-learning")]
        out: PathBuf,
        /// Config overrides passed to every run, as `train --set`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Updates {
            seconds,
            threads,
            device,
            python,
            no_python,
        } => bench_updates(seconds, threads, device, python, no_python),
        BenchCommand::Learning {
            seeds,
            steps,
            jobs,
            algos,
            out,
            set,
        } => bench_learning(seeds, steps, jobs, &algos, &out, &set),
    }
}

const BENCH_OBS: usize = 17;
const BENCH_ACT: usize = 6;

/// Updates/s of `algo` on a buffer of random transitions.
pub fn tch_updates_per_second(algo: Algo, seconds: f64, device: Device) -> Result<f64> {
    crate::training::seed_torch(0);
    let spec = AgentSpec {
        env: "bench".into(),
        obs_dim: BENCH_OBS,
        act_dim: BENCH_ACT,
        act_low: vec![-1.0; BENCH_ACT],
        act_high: vec![1.0; BENCH_ACT],
    };
    let cfg = TrainConfig::default();
    let mut agent = cfg.agents.build(algo, &spec, device)?;
    let n = 100_000;
    let mut buffer = ReplayBuffer::new(n, BENCH_OBS, BENCH_ACT, device);
    let rnd = |cols: usize| {
        crate::training::tensor_to_vec(&Tensor::randn(
            [n as i64, cols as i64],
            (Kind::Float, Device::Cpu),
        ))
    };
    buffer.push(
        &rnd(BENCH_OBS),
        &rnd(BENCH_ACT)
            .iter()
            .map(|a| a.clamp(-1.0, 1.0))
            .collect::<Vec<_>>(),
        &rnd(1),
        &rnd(BENCH_OBS),
        &vec![false; n],
    );
    for _ in 0..50 {
        agent.update(&buffer);
    }
    let (start, mut count) = (Instant::now(), 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        agent.update(&buffer);
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

fn default_python() -> PathBuf {
    let libtorch = std::env::var_os("LIBTORCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".libtorch"));
    // <venv>/lib/pythonX.Y/site-packages/torch → <venv>/bin/python
    let candidate = libtorch
        .canonicalize()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.parent()?.parent()?.join("bin/python")));
    candidate
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn script_path() -> PathBuf {
    let local = Path::new("scripts/bench_update.py");
    if local.exists() {
        local.to_path_buf()
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_update.py")
    }
}

fn python_updates_per_second(
    python: &Path,
    algo: Algo,
    seconds: f64,
    threads: i32,
    device: Device,
) -> Result<f64> {
    let out = Command::new(python)
        .arg(script_path())
        .args(["--algo", if algo == Algo::Sac { "sac" } else { "virel" }])
        .args([
            "--seconds",
            &seconds.to_string(),
            "--threads",
            &threads.to_string(),
        ])
        .args([
            "--obs",
            &BENCH_OBS.to_string(),
            "--act",
            &BENCH_ACT.to_string(),
        ])
        .args(["--device", if device.is_cuda() { "cuda" } else { "cpu" }])
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("updates_per_second ")?.trim().parse().ok())
        .with_context(|| {
            format!(
                "the Python benchmark failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn bench_updates(
    seconds: f64,
    threads: i32,
    device: DeviceChoice,
    python: Option<PathBuf>,
    no_python: bool,
) -> Result<()> {
    crate::runtime::init_torch(threads);
    let device = device.resolve()?;
    let python = python.unwrap_or_else(default_python);
    println!(
        "gradient updates/s — 2×256 MLPs, batch 256, obs {BENCH_OBS}, act {BENCH_ACT}, {threads} torch thread(s), device {device:?}"
    );
    println!(
        "{:<12} {:>12} {:>14} {:>8}",
        "algorithm", "tch", "PyTorch 2.11", "ratio"
    );
    for algo in [Algo::Sac, Algo::Virel] {
        let rust = tch_updates_per_second(algo, seconds, device)?;
        if no_python {
            println!("{:<12} {rust:>12.1}", algo.name());
            continue;
        }
        let py = python_updates_per_second(&python, algo, seconds, threads, device)?;
        println!(
            "{:<12} {rust:>12.1} {py:>14.1} {:>7.2}×",
            algo.name(),
            rust / py
        );
    }
    Ok(())
}

fn bench_learning(
    seeds: u64,
    steps: u64,
    jobs: usize,
    algos: &[Algo],
    out: &Path,
    set: &[String],
) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut queue: Vec<(Algo, u64, PathBuf)> = Vec::new();
    for &algo in algos {
        for seed in 1..=seeds {
            queue.push((algo, seed, out.join(format!("{algo}__seed{seed}"))));
        }
    }
    for (_, _, dir) in &queue {
        if dir.exists() {
            bail!("{} already holds a run: pass another --out", dir.display());
        }
    }
    let start = Instant::now();
    let mut running: Vec<(std::process::Child, String)> = Vec::new();
    let mut pending = queue.clone().into_iter();
    loop {
        while running.len() < jobs.max(1) {
            let Some((algo, seed, dir)) = pending.next() else {
                break;
            };
            let child = Command::new(&exe)
                .args([
                    "train",
                    "--env",
                    "pendulum",
                    "--algo",
                    algo.name(),
                    "--seed",
                    &seed.to_string(),
                    "--steps",
                    &steps.to_string(),
                ])
                .args([
                    "--threads",
                    "1",
                    "--eval-every",
                    "0",
                    "--checkpoint-every",
                    "0",
                    "--quiet",
                    "--device",
                    "cpu",
                    "--out",
                ])
                .arg(&dir)
                .args(set.iter().flat_map(|s| ["--set", s.as_str()]))
                .stdout(std::process::Stdio::null())
                .spawn()?;
            running.push((child, format!("{algo} seed {seed}")));
        }
        if running.is_empty() {
            break;
        }
        let (mut child, name) = running.remove(0);
        let status = child.wait()?;
        if !status.success() {
            bail!("{name} failed ({status})");
        }
        eprintln!(
            "done: {name} ({:.0} s elapsed)",
            start.elapsed().as_secs_f64()
        );
    }
    println!(
        "Pendulum, {steps} env steps, {seeds} seeds: final deterministic eval return (10 episodes)"
    );
    println!(
        "{:<12} {:>9} {:>24} {:>10}",
        "algorithm", "median", "per seed", "steps/s"
    );
    for &algo in algos {
        let mut finals = Vec::new();
        let mut sps = Vec::new();
        for (a, _, dir) in &queue {
            if *a != algo {
                continue;
            }
            let text = std::fs::read_to_string(dir.join("summary.toml"))?;
            let s: RunSummary = toml::from_str(&text)?;
            finals.push(s.final_eval.map_or(f64::NAN, |e| e.mean));
            sps.push(s.steps_per_second);
        }
        let per_seed = finals
            .iter()
            .map(|f| format!("{f:.0}"))
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "{:<12} {:>9.1} {:>24} {:>10.0}",
            algo.name(),
            median(&finals),
            per_seed,
            median(&sps)
        );
    }
    Ok(())
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
