//! Run configuration: one TOML table, resolved in this order (later wins):
//! algorithm defaults → env preset → `--config FILE` → `--set key=value` → explicit flags.
//! Unknown keys are errors that name the file (or flag) and the key.

use crate::rl::{Agent, AgentSpec, Algo, AlgoConfigs, ReplaySettings};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::Device;

/// Where the networks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA when a GPU is usable, else the CPU.
    Auto,
    Cpu,
    Cuda,
}

impl DeviceChoice {
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto => Ok(Device::cuda_if_available()),
            DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
            DeviceChoice::Cuda if !cuda_linked() => bail!(
                "--device cuda: this binary was built against a CPU-only libtorch install; \
                 rebuild after `VIREL_TORCH_CUDA=1 ./dev.sh setup` on a machine with an NVIDIA GPU"
            ),
            DeviceChoice::Cuda => {
                bail!("--device cuda: no usable CUDA device (driver missing or no GPU)")
            }
        }
    }
}

/// Whether the build linked libtorch_cuda (see build.rs).
pub fn cuda_linked() -> bool {
    env!("VIREL_CUDA_LINKED") == "1"
}

/// Everything a training run needs. Field docs are the `--help` of the config file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Environment name (`pendulum`, `identity`).
    pub env: String,
    /// Algorithm: virel, beta-virel, sac, td3.
    pub algo: Algo,
    /// Total environment steps, summed over copies.
    pub steps: u64,
    /// Seed of torch, the envs and the exploration.
    pub seed: u64,
    /// Copies of the env stepped together.
    pub num_envs: usize,
    /// Gradient steps per environment step.
    pub updates_per_step: f64,
    /// auto, cpu or cuda.
    pub device: DeviceChoice,
    /// Torch intra-op threads (1 is fastest for small networks next to other work).
    pub torch_threads: i32,
    /// Environment steps between deterministic evaluations (0: only at the end).
    pub eval_every: u64,
    /// Episodes per evaluation.
    pub eval_episodes: usize,
    /// Environment steps between checkpoints (0: only at the end).
    pub checkpoint_every: u64,
    /// Checkpoints kept in the run folder (older ones are deleted).
    pub keep_checkpoints: usize,
    /// Put the replay buffer in checkpoints (its filled part only), so that a resumed run
    /// continues the very same learning curve. Without it a resumed run refills the buffer.
    pub checkpoint_buffer: bool,
    /// Gradient steps between loss records in the logs.
    pub log_every: u64,
    /// Write TensorBoard event files next to metrics.csv.
    pub tensorboard: bool,
    /// Hyper-parameters per algorithm: tables [virel], [sac], [td3].
    #[serde(flatten)]
    pub agents: AlgoConfigs,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            env: "pendulum".into(),
            algo: Algo::Virel,
            steps: 20_000,
            seed: 1,
            num_envs: 1,
            updates_per_step: 1.0,
            device: DeviceChoice::Auto,
            torch_threads: 1,
            eval_every: 5_000,
            eval_episodes: 10,
            checkpoint_every: 10_000,
            keep_checkpoints: 3,
            checkpoint_buffer: true,
            log_every: 100,
            tensorboard: true,
            agents: AlgoConfigs::default(),
        }
    }
}

impl TrainConfig {
    /// Defaults with the preset of `env` applied. Presets change only what the published
    /// defaults get wrong for a short task:
    /// - pendulum: learning starts after 1000 steps (5 episodes) instead of 5000/25000, which
    ///   would leave TD3 no learning at all in the usual 20k-step budget; 64-64 networks,
    ///   ample for a 3-D observation: on a 2-core CPU a 256-256 SAC step takes ~11 ms and
    ///   VIREL's ε_ω pass over 4096 transitions ~55 ms more, 64-64 cuts both ~8×; VIREL's
    ///   rewards scaled by 0.1: Pendulum's costs reach 16 per step, its critic's residual
    ///   error ε_ω sits near 20 at scale 1 and the policy stays nearly uniform (seed 1: −1260
    ///   after 7.5k steps), at 0.1 ε_ω falls to 0.05 and it swings up (−187).
    /// - identity: learning starts after 100 steps, ε_ω from minibatches of 256.
    /// - half_cheetah: VIREL's rewards scaled by 0.1, as on Pendulum (rewards reach ~10 per
    ///   step). Seed 1, ε_ω every 4 updates, eval after 20k steps: scale 1 gives −82.9 (and
    ///   4.4 after 30k with ε_ω every update), scale 0.1 gives 834, then 1139 (1.5 m/s) at 30k.
    pub fn for_env(env: &str) -> Self {
        let mut cfg = Self {
            env: env.to_owned(),
            ..Self::default()
        };
        match env {
            "pendulum" => {
                cfg.agents.set_learning_starts(1_000);
                cfg.agents.set_hidden(&[64, 64]);
                cfg.agents.virel.reward_scale = 0.1;
            }
            "half_cheetah" => cfg.agents.virel.reward_scale = 0.1,
            "identity" => {
                cfg.agents.set_learning_starts(100);
                cfg.agents.virel.epsilon_batch_size = 256;
                cfg.eval_every = 0;
            }
            _ => {}
        }
        cfg
    }

    pub fn replay(&self) -> ReplaySettings {
        self.agents.replay(self.algo)
    }

    pub fn build_agent(&self, spec: &AgentSpec, device: Device) -> Result<Box<dyn Agent>> {
        self.agents.build(self.algo, spec, device)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a train config always serialises")
    }

    /// Checks values no type can: a clear error beats a panic deep in training.
    pub fn validate(&self) -> Result<()> {
        crate::envs::make(&self.env)?;
        if self.steps == 0 {
            bail!("steps must be at least 1");
        }
        if self.num_envs == 0 {
            bail!("num_envs must be at least 1");
        }
        if !(self.updates_per_step >= 0.0 && self.updates_per_step.is_finite()) {
            bail!(
                "updates_per_step must be a finite number ≥ 0, got {}",
                self.updates_per_step
            );
        }
        if self.torch_threads < 1 {
            bail!("torch_threads must be at least 1");
        }
        let a = &self.agents;
        for (name, batch, hidden) in [
            ("virel", a.virel.batch_size, &a.virel.hidden),
            ("sac", a.sac.batch_size, &a.sac.hidden),
            ("td3", a.td3.batch_size, &a.td3.hidden),
        ] {
            if batch < 1 || hidden.iter().any(|&h| h < 1) {
                bail!("{name}: batch_size and hidden widths must be ≥ 1");
            }
        }
        if a.virel.epsilon_batch_size < 1 || a.virel.p <= 0.0 || a.virel.epsilon_every == 0 {
            bail!("virel: epsilon_batch_size and epsilon_every must be ≥ 1 and p > 0");
        }
        if a.sac.policy_frequency == 0 || a.td3.policy_frequency == 0 {
            bail!("policy_frequency must be ≥ 1");
        }
        Ok(())
    }
}

/// Builds a config from an optional file, `key=value` overrides and the env named on the
/// command line (which picks the preset; otherwise the file's `env`, otherwise pendulum).
pub struct ConfigBuilder {
    table: toml::Table,
}

impl ConfigBuilder {
    pub fn new(config_file: Option<&Path>, env_flag: Option<&str>) -> Result<Self> {
        match config_file {
            Some(path) => Self::from_text(&read_file(path)?, &path.display().to_string(), env_flag),
            None => Self::from_table(None, env_flag),
        }
    }

    /// Starts from `base` instead of an env's preset (the desktop app's own defaults); a
    /// config file still overrides it.
    pub fn from_base(base: &TrainConfig, config_file: Option<&Path>) -> Result<Self> {
        let mut table = toml::Table::try_from(base).context("config not serialisable")?;
        if let Some(path) = config_file {
            let origin = path.display();
            let t = parse_table(&read_file(path)?, &origin.to_string())?;
            overlay(&mut table, t, "").with_context(|| format!("in config file {origin}"))?;
        }
        Ok(Self { table })
    }

    /// A config file's text; `origin` names it in errors.
    pub fn from_text(text: &str, origin: &str, env_flag: Option<&str>) -> Result<Self> {
        Self::from_table(Some((origin, parse_table(text, origin)?)), env_flag)
    }

    fn from_table(file: Option<(&str, toml::Table)>, env_flag: Option<&str>) -> Result<Self> {
        let env = env_flag
            .map(str::to_owned)
            .or_else(|| {
                file.as_ref()
                    .and_then(|(_, t)| t.get("env")?.as_str().map(str::to_owned))
            })
            .unwrap_or_else(|| "pendulum".to_owned());
        let mut table = toml::Table::try_from(TrainConfig::for_env(&env)).expect("serialisable");
        if let Some((origin, t)) = file {
            overlay(&mut table, t, "").with_context(|| format!("in config file {origin}"))?;
        }
        Ok(Self { table })
    }

    /// Applies `key.path=value`; the value is read as TOML, or as a string when it is not.
    pub fn set(&mut self, assignment: &str) -> Result<()> {
        let (key, value) = assignment
            .split_once('=')
            .with_context(|| format!("--set {assignment}: expected key=value"))?;
        let key = key.trim();
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.trim().to_owned()));
        let mut nested = value;
        for part in key.rsplit('.') {
            let mut t = toml::Table::new();
            t.insert(part.to_owned(), nested);
            nested = toml::Value::Table(t);
        }
        let toml::Value::Table(t) = nested else {
            unreachable!()
        };
        overlay(&mut self.table, t, "").with_context(|| format!("--set {assignment}"))
    }

    /// The resolved config, type-checked and validated.
    pub fn build(self) -> Result<TrainConfig> {
        // Through text, so that a type error names its key and shows the value.
        let text = toml::to_string(&self.table).expect("a TOML table always serialises");
        let cfg: TrainConfig = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }
}

fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))
}

fn parse_table(text: &str, origin: &str) -> Result<toml::Table> {
    toml::from_str(text).with_context(|| format!("config file {origin} is not valid TOML"))
}

/// Writes `over` into `base`, refusing keys `base` does not have.
fn overlay(base: &mut toml::Table, over: toml::Table, prefix: &str) -> Result<()> {
    for (k, v) in over {
        let path = format!("{prefix}{k}");
        match (base.get_mut(&k), v) {
            (None, _) => bail!("unknown key '{path}'"),
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                overlay(b, o, &format!("{path}."))?
            }
            (Some(toml::Value::Table(_)), _) => bail!("'{path}' must be a table"),
            (Some(slot), v) => *slot = v,
        }
    }
    Ok(())
}

/// The default run folder: `runs/<env>__<algo>__<seed>__<unix time>` (CleanRL's run names).
pub fn default_run_dir(cfg: &TrainConfig) -> PathBuf {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from("runs").join(format!("{}__{}__{}__{}", cfg.env, cfg.algo, cfg.seed, t))
}
