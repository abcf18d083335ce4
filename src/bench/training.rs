//! `bench training`: end-to-end learning speed (env steps/s, collection, gradient steps and the
//! final evaluation included) and final deterministic return of our algorithms, next to
//! Stable-Baselines3 (PyTorch) and SBX (JAX) SAC and TD3 on Gymnasium's MuJoCo envs, run in
//! the same invocation with the same settings, one thread per run (each run pinned to a core
//! of its own where the machine has one per job), as ratios.

use crate::rl::Algo;
use crate::rl::nets::HiddenMatmul;
use crate::runtime;
use crate::training::RunSummary;
use crate::training::config::{DeviceChoice, TrainConfig};
use crate::training::run_dir;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// What `bench training` runs and how (its command-line flags).
#[derive(Clone, Debug, clap::Args)]
pub struct TrainingBench {
    /// Envs (shipped names with a Gymnasium peer).
    #[arg(long = "env", num_args = 1.., default_values = ["pendulum", "hopper"])]
    pub envs: Vec<String>,
    /// Algorithms to time.
    #[arg(long, value_enum, num_args = 1.., default_values_t = Algo::ALL)]
    pub algos: Vec<Algo>,
    /// Env steps of each run.
    #[arg(long, default_value_t = 10_000)]
    pub steps: u64,
    /// Env steps of random actions before learning (every run).
    #[arg(long, default_value_t = 1_000)]
    pub learning_starts: u64,
    /// Hidden layer widths of every network.
    #[arg(long, num_args = 1.., default_values_t = [256, 256])]
    pub hidden: Vec<i64>,
    /// Minibatch size.
    #[arg(long, default_value_t = 256)]
    pub batch_size: i64,
    /// Precisions of our runs' multiplies between hidden layers: each runs every algorithm
    /// (the peers train in float32).
    #[arg(long, value_enum, num_args = 1.., default_values_t = [HiddenMatmul::Float32])]
    pub hidden_matmul: Vec<HiddenMatmul>,
    /// Seeds per algorithm.
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Runs at once, each on one thread (and on a core of its own where there are enough).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Where to train.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// Python with stable-baselines3, sbx-rl and gymnasium[mujoco] (default: the setup step's
    /// peers venv in the cache).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Our runs only.
    #[arg(long)]
    pub no_python: bool,
    /// Folder of the runs and the results.
    #[arg(long, default_value = "runs/bench-training")]
    pub out: PathBuf,
}

/// A peer library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lib {
    Sb3,
    Sbx,
}

impl Lib {
    fn flag(self) -> &'static str {
        match self {
            Lib::Sb3 => "sb3",
            Lib::Sbx => "sbx",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Lib::Sb3 => "SB3",
            Lib::Sbx => "SBX",
        }
    }
}

/// Who trains a cell: our binary (multiplying between hidden layers in a precision) or a
/// peer library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Ours(HiddenMatmul),
    Peer(Lib),
}

impl Side {
    fn is_ours(self) -> bool {
        matches!(self, Side::Ours(_))
    }

    /// The folder-name part of this side's runs.
    fn flag(self) -> &'static str {
        match self {
            Side::Ours(HiddenMatmul::Float32) => "virel-lab",
            Side::Ours(HiddenMatmul::Bfloat16) => "virel-lab-bfloat16",
            Side::Peer(lib) => lib.flag(),
        }
    }

    /// How the table and the log name this side.
    fn label(self) -> &'static str {
        match self {
            Side::Ours(HiddenMatmul::Float32) => "virel-lab",
            Side::Ours(HiddenMatmul::Bfloat16) => "virel-lab bf16",
            Side::Peer(lib) => lib.label(),
        }
    }
}

#[derive(Clone, Debug)]
struct Cell {
    side: Side,
    algo: Algo,
    env: String,
    seed: u64,
}

/// What a finished cell measured.
#[derive(Clone, Copy, Debug)]
struct Outcome {
    steps_per_second: f64,
    final_return: f64,
}

/// Gymnasium's id of a shipped env.
pub fn gymnasium_id(env: &str) -> Option<&'static str> {
    Some(match env {
        "pendulum" => "Pendulum-v1",
        "half_cheetah" => "HalfCheetah-v5",
        "hopper" => "Hopper-v5",
        "walker2d" => "Walker2d-v5",
        "ant" => "Ant-v5",
        "humanoid" => "Humanoid-v5",
        _ => return None,
    })
}

impl TrainingBench {
    /// Flags within their ranges: an error names the flag and its value.
    pub fn check(&self) -> Result<()> {
        let at_least_one = |flag: &str, v: u64| {
            if v >= 1 {
                Ok(())
            } else {
                Err(anyhow::anyhow!("{flag} 0: expected at least 1"))
            }
        };
        at_least_one("--steps", self.steps)?;
        at_least_one("--seeds", self.seeds)?;
        at_least_one("--jobs", self.jobs as u64)?;
        if self.batch_size < 1 {
            bail!("--batch-size {}: expected at least 1", self.batch_size);
        }
        if self.learning_starts >= self.steps {
            bail!(
                "--learning-starts {}: expected fewer than --steps {}",
                self.learning_starts,
                self.steps
            );
        }
        if let Some(h) = self.hidden.iter().find(|&&h| h < 1) {
            bail!("--hidden {h}: expected layer widths of at least 1");
        }
        // A value given twice would train two runs into one folder.
        let twice = |flag: &str, values: Vec<String>| -> Result<()> {
            for (i, v) in values.iter().enumerate() {
                if values[..i].contains(v) {
                    bail!("{flag} {v}: given twice");
                }
            }
            Ok(())
        };
        twice("--env", self.envs.clone())?;
        twice(
            "--algos",
            self.algos.iter().map(|a| a.to_string()).collect(),
        )?;
        twice(
            "--hidden-matmul",
            self.hidden_matmul
                .iter()
                .map(|m| m.name().to_owned())
                .collect(),
        )?;
        if let Some(env) = self.envs.iter().find(|e| gymnasium_id(e).is_none()) {
            bail!(
                "--env {env}: expected an env with a Gymnasium peer (pendulum, half_cheetah, \
                 hopper, walker2d, ant, humanoid)"
            );
        }
        Ok(())
    }

    /// The peers' Python, unless `--no-python`.
    fn python(&self) -> Option<PathBuf> {
        (!self.no_python).then(|| {
            self.python
                .clone()
                .unwrap_or_else(super::peers::peers_python)
        })
    }

    fn cells(&self) -> Vec<Cell> {
        let mut cells = Vec::new();
        for seed in 1..=self.seeds {
            for env in &self.envs {
                for &algo in &self.algos {
                    for &matmul in &self.hidden_matmul {
                        cells.push(Cell {
                            side: Side::Ours(matmul),
                            algo,
                            env: env.clone(),
                            seed,
                        });
                    }
                    if !self.no_python && algo.info().has_python_peers {
                        for lib in [Lib::Sbx, Lib::Sb3] {
                            cells.push(Cell {
                                side: Side::Peer(lib),
                                algo,
                                env: env.clone(),
                                seed,
                            });
                        }
                    }
                }
            }
        }
        cells
    }

    fn cell_dir(&self, c: &Cell) -> PathBuf {
        self.out.join(format!(
            "{}__{}__{}__seed{}",
            c.env,
            c.algo,
            c.side.flag(),
            c.seed
        ))
    }

    /// The run config our side trains: the env's preset with the bench's shared settings
    /// ([`Self::run`] validates it once, before any run starts).
    fn our_config(&self, c: &Cell) -> TrainConfig {
        let mut cfg = TrainConfig::for_env(&c.env);
        cfg.algo = c.algo;
        cfg.seed = c.seed;
        cfg.steps = self.steps;
        cfg.device = self.device;
        cfg.torch_threads = 1;
        cfg.eval_every = 0;
        cfg.checkpoint_every = 0;
        cfg.checkpoint_buffer = false;
        cfg.tensorboard = false;
        cfg.agents.set_learning_starts(self.learning_starts);
        cfg.agents.set_hidden(&self.hidden);
        if let Side::Ours(matmul) = c.side {
            cfg.agents.hidden_matmul = matmul;
        }
        cfg.agents.virel.batch_size = self.batch_size;
        cfg.agents.sac.batch_size = self.batch_size;
        cfg.agents.td3.batch_size = self.batch_size;
        cfg
    }

    /// Starts a cell's process, pinned to `core` when given.
    fn spawn(&self, c: &Cell, core: Option<usize>) -> Result<Child> {
        let mut cmd = self.command(c)?;
        if let Some(core) = core {
            runtime::pin_to_cores(&mut cmd, &[core]);
        }
        cmd.spawn()
            .with_context(|| format!("cannot start {}", cmd.get_program().to_string_lossy()))
    }

    fn command(&self, c: &Cell) -> Result<Command> {
        let dir = self.cell_dir(c);
        match c.side {
            Side::Ours(_) => {
                let cfg = self.our_config(c);
                std::fs::create_dir_all(&self.out)?;
                let config_file = self.out.join(format!(
                    "{}.toml",
                    dir.file_name().unwrap_or_default().to_string_lossy()
                ));
                std::fs::write(&config_file, cfg.to_toml())?;
                let mut cmd = Command::new(std::env::current_exe()?);
                cmd.args(["train", "--quiet", "--config"])
                    .arg(&config_file)
                    .arg("--out")
                    .arg(&dir)
                    .env("OMP_WAIT_POLICY", "PASSIVE")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                Ok(cmd)
            }
            Side::Peer(lib) => {
                let python = self
                    .python()
                    .context("no Python for the peers (--no-python)")?;
                let id = gymnasium_id(&c.env)
                    .with_context(|| format!("env '{}' has no Gymnasium peer", c.env))?;
                let cfg = self.our_config(c);
                let (policy_lr, q_lr) = (c.algo.info().shape)(&cfg.agents).learning_rates;
                let mut cmd = Command::new(python);
                cmd.arg(super::peers::script_path("bench_training.py"))
                    .args(["--lib", lib.flag(), "--algo", c.algo.name(), "--env", id])
                    .args(["--steps", &self.steps.to_string()])
                    .args(["--learning-starts", &self.learning_starts.to_string()])
                    .arg("--hidden")
                    .args(self.hidden.iter().map(|h| h.to_string()))
                    .args(["--batch", &self.batch_size.to_string()])
                    .args(["--policy-lr", &policy_lr.to_string()])
                    .args(["--q-lr", &q_lr.to_string()])
                    .args(["--eval-episodes", &cfg.eval_episodes.to_string()])
                    .args(["--seed", &c.seed.to_string()])
                    .args([
                        "--device",
                        if self.device == DeviceChoice::Cuda {
                            "cuda"
                        } else {
                            "cpu"
                        },
                    ])
                    .env("OMP_WAIT_POLICY", "PASSIVE")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                Ok(cmd)
            }
        }
    }

    fn outcome(&self, c: &Cell, out: std::process::Output) -> Result<Outcome> {
        let err = || String::from_utf8_lossy(&out.stderr).trim().to_owned();
        match c.side {
            Side::Ours(_) => {
                if !out.status.success() {
                    bail!("{} failed ({}): {}", describe(c), out.status, err());
                }
                let path = self.cell_dir(c).join(run_dir::SUMMARY_FILE);
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let s: RunSummary =
                    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
                Ok(Outcome {
                    steps_per_second: s.steps_per_second,
                    final_return: s.final_eval.map_or(f64::NAN, |e| e.mean),
                })
            }
            Side::Peer(_) => {
                let stdout = String::from_utf8_lossy(&out.stdout);
                let figures: Option<Vec<f64>> = stdout
                    .lines()
                    .find_map(|l| l.strip_prefix("result "))
                    .map(|r| {
                        r.split_whitespace()
                            .filter_map(|x| x.parse().ok())
                            .collect()
                    });
                match figures.as_deref() {
                    Some([sps, ret, _wall]) => Ok(Outcome {
                        steps_per_second: *sps,
                        final_return: *ret,
                    }),
                    _ => bail!("{} failed ({}): {}", describe(c), out.status, err()),
                }
            }
        }
    }

    /// Runs every cell, `jobs` at a time, and prints the table.
    pub fn run(&self) -> Result<()> {
        let cells = self.cells();
        for c in cells.iter().filter(|c| c.side.is_ours()) {
            let dir = self.cell_dir(c);
            if dir.exists() {
                bail!("{} already holds a run: pass another --out", dir.display());
            }
            self.our_config(c).validate()?;
        }
        let start = Instant::now();
        let mut results: Vec<(Cell, Result<Outcome>)> = Vec::new();
        // Each run on a core of its own where there are enough: a peer's helper threads (XLA
        // keeps two busy besides its main one) then take nothing from the run beside it.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pin = self.jobs <= cores;
        let mut free_cores: Vec<usize> = (0..self.jobs.max(1)).rev().collect();
        let mut running: Vec<(Cell, Child, usize)> = Vec::new();
        let mut pending = cells.into_iter();
        loop {
            while let Some(&slot) = free_cores.last() {
                let Some(c) = pending.next() else { break };
                free_cores.pop();
                let child = self.spawn(&c, pin.then_some(slot))?;
                running.push((c, child, slot));
            }
            if running.is_empty() {
                break;
            }
            // The first run to finish frees its core.
            let finished = loop {
                let mut done = None;
                for (i, (_, child, _)) in running.iter_mut().enumerate() {
                    if child.try_wait()?.is_some() {
                        done = Some(i);
                        break;
                    }
                }
                match done {
                    Some(i) => break i,
                    None => std::thread::sleep(std::time::Duration::from_millis(200)),
                }
            };
            let (c, child, slot) = running.remove(finished);
            let out = child.wait_with_output()?;
            free_cores.push(slot);
            let outcome = self.outcome(&c, out);
            match &outcome {
                Ok(o) => eprintln!(
                    "done: {} — {:.1} steps/s, return {:.1} ({:.0} s elapsed)",
                    describe(&c),
                    o.steps_per_second,
                    o.final_return,
                    start.elapsed().as_secs_f64()
                ),
                Err(e) => eprintln!("{e:#}"),
            }
            results.push((c, outcome));
        }
        print!("{}", self.table(&results));
        Ok(())
    }

    fn table(&self, results: &[(Cell, Result<Outcome>)]) -> String {
        let mut s = format!(
            "bench training — {} env steps (learning from {}), hidden {:?}, batch {}, one gradient \
             step per env step, 1 thread per run, {} runs at a time, {} seed(s), device {:?}\n\
             steps/s: env steps / wall time of training and its final deterministic evaluation\n",
            self.steps,
            self.learning_starts,
            self.hidden,
            self.batch_size,
            self.jobs,
            self.seeds,
            self.device
        );
        if self.hidden_matmul.contains(&HiddenMatmul::Bfloat16) {
            s += "bf16: our multiplies between hidden layers in bfloat16 (hidden_matmul); the \
                  peers' and every other run's in float32\n";
        }
        s += &format!(
            "{:<14} {:<24} {:>9} {:>10} {:>9} {:>9} {:>12}\n",
            "env", "run", "steps/s", "return", "vs SBX", "vs SB3", "vs our SAC"
        );
        let summary = |side: Side, algo: Algo, env: &str| -> Option<(f64, f64)> {
            let (sps, ret): (Vec<f64>, Vec<f64>) = results
                .iter()
                .filter(|(c, _)| c.side == side && c.algo == algo && c.env == env)
                .filter_map(|(_, o)| o.as_ref().ok())
                .map(|o| (o.steps_per_second, o.final_return))
                .unzip();
            (!sps.is_empty()).then(|| {
                (
                    super::median(&sps),
                    ret.iter().sum::<f64>() / ret.len() as f64,
                )
            })
        };
        let ratio = |a: f64, b: Option<(f64, f64)>| {
            b.map_or("–".to_owned(), |(b, _)| format!("{:.2}×", a / b))
        };
        for env in &self.envs {
            let mut rows: Vec<(Side, Algo)> = Vec::new();
            for &matmul in &self.hidden_matmul {
                rows.extend(self.algos.iter().map(|&a| (Side::Ours(matmul), a)));
            }
            for lib in [Lib::Sbx, Lib::Sb3] {
                for &a in self.algos.iter().filter(|a| a.info().has_python_peers) {
                    rows.push((Side::Peer(lib), a));
                }
            }
            for (side, algo) in rows {
                let Some((sps, ret)) = summary(side, algo, env) else {
                    continue;
                };
                let name = format!("{} {algo}", side.label());
                let (vs_sbx, vs_sb3, vs_sac) = match (side, algo) {
                    (Side::Ours(_), a) if a.info().has_python_peers => (
                        ratio(sps, summary(Side::Peer(Lib::Sbx), algo, env)),
                        ratio(sps, summary(Side::Peer(Lib::Sb3), algo, env)),
                        "".to_owned(),
                    ),
                    (Side::Ours(_), _) => (
                        "".to_owned(),
                        "".to_owned(),
                        ratio(sps, summary(side, crate::rl::registry::BASELINE, env)),
                    ),
                    _ => Default::default(),
                };
                s += &format!(
                    "{env:<14} {name:<24} {sps:>9.1} {ret:>10.1} {vs_sbx:>9} {vs_sb3:>9} {vs_sac:>12}\n"
                );
            }
        }
        s
    }
}

fn describe(c: &Cell) -> String {
    format!(
        "{} {} on {} (seed {})",
        c.side.label(),
        c.algo,
        c.env,
        c.seed
    )
}
