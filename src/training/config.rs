//! Run configuration: one TOML table, resolved in this order (later wins):
//! algorithm defaults → env preset → `--config FILE` → `--set key=value` → explicit flags.
//! Unknown keys are errors that name the file (or flag) and the key.

use crate::envs;
use crate::rl::ranges::{self, KeyError};
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
    /// The CPU.
    Cpu,
    /// The first CUDA device; an error without one.
    Cuda,
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Cuda => "cuda",
        })
    }
}

impl DeviceChoice {
    /// The torch device: an error when CUDA is asked for and missing.
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
            algo: crate::rl::registry::SUBJECT,
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
    ///   ample for a 3-D observation, cut a SAC step and VIREL's ε_ω pass over 4096
    ///   transitions ~8× against 256-256 (`bench training --hidden`); VIREL's
    ///   rewards scaled by 0.1: Pendulum's costs reach 16 per step, its critic's residual
    ///   error ε_ω sits near 20 at scale 1 and the policy stays nearly uniform (seed 1: −1260
    ///   after 7.5k steps), at 0.1 ε_ω falls to 0.05 and it swings up (−187).
    /// - identity: learning starts after 100 steps, ε_ω from minibatches of 256.
    /// - the locomotion robots: VIREL's rewards scaled by 0.1, as on Pendulum. ε_ω is a mean
    ///   squared Bellman residual, so it grows with the square of the rewards' scale while Q̂
    ///   grows with the scale: at scale 1 the temperature ε_ω keeps the policy near uniform.
    ///   Half-cheetah, seed 1, ε_ω every 4 updates, eval after 20k steps: scale 1 gives −82.9
    ///   (and 4.4 after 30k with ε_ω every update), scale 0.1 gives 834, then 1139 (1.5 m/s)
    ///   at 30k. Hopper and walker2d, seed 1, running ε_ω (the five-robot study's first cells):
    ///   at scale 1 the policy's entropy stayed at 1.8 of the 2.08 nats of a uniform policy
    ///   (walker2d: 3.9 of 4.16) for 100k steps, and the evaluations ended at 300 and 193 after
    ///   100k steps; at scale 0.1, 417 and 384 (peaks 663 at 40k and 1048 at 60k), the entropy
    ///   falling to ~0.5 and ~1 nat within 20k steps. The ant and
    ///   the humanoid share the preset untested (the study runs them).
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
            "half_cheetah" | "hopper" | "walker2d" | "ant" | "humanoid" => {
                cfg.agents.virel.reward_scale = 0.1;
            }
            "identity" => {
                cfg.agents.set_learning_starts(100);
                cfg.agents.virel.epsilon_batch_size = 256;
                cfg.eval_every = 0;
            }
            _ => {}
        }
        cfg
    }

    /// The replay settings of the run's algorithm.
    pub fn replay(&self) -> ReplaySettings {
        self.agents.replay(self.algo)
    }

    /// The run's agent for `spec` on `device`.
    pub fn build_agent(&self, spec: &AgentSpec, device: Device) -> Result<Box<dyn Agent>> {
        self.agents.build(self.algo, spec, device)
    }

    /// What to tell a run that ends before its learning starts: it only collects random
    /// actions. `None` for a run that learns.
    pub fn no_learning_warning(&self) -> Option<String> {
        let starts = self.replay().learning_starts;
        (self.steps <= starts).then(|| {
            let key = format!("{}.learning_starts", self.algo.config_table());
            format!(
                "learning starts after {starts} env steps ({key}) and this run has {}: it will \
                 take random actions and make no gradient step; give it more --steps, or \
                 --set {key}=N",
                self.steps
            )
        })
    }

    /// The config as TOML (`config.toml` of a run folder).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a train config always serialises")
    }

    /// Checks values no type can: a clear error beats a panic deep in training. A value out
    /// of range is a [`KeyError`] (which [`ConfigBuilder::build`] traces to the file or flag
    /// that set it); an env that does not load is the env's own error.
    pub fn validate(&self) -> Result<()> {
        envs::check_name(&self.env)?;
        self.check_keys()?;
        Ok(())
    }

    /// Every key within its range.
    pub fn check_keys(&self) -> Result<(), KeyError> {
        for (key, v) in [
            ("seed", self.seed),
            ("steps", self.steps),
            ("eval_every", self.eval_every),
            ("checkpoint_every", self.checkpoint_every),
            ("log_every", self.log_every),
            ("num_envs", self.num_envs as u64),
            ("eval_episodes", self.eval_episodes as u64),
            ("keep_checkpoints", self.keep_checkpoints as u64),
        ] {
            if v > TOML_MAX {
                return Err(KeyError::new(
                    key,
                    v,
                    format!("at most {TOML_MAX} (the largest integer a config file holds)"),
                ));
            }
        }
        ranges::at_least("steps", self.steps, 1)?;
        ranges::at_least("num_envs", self.num_envs, 1)?;
        ranges::between("updates_per_step", self.updates_per_step, 0.0, 1000.0)?;
        ranges::within("torch_threads", self.torch_threads, 1, 1024)?;
        ranges::at_least("eval_episodes", self.eval_episodes, 1)?;
        ranges::at_least("keep_checkpoints", self.keep_checkpoints, 1)?;
        self.agents.check()
    }

    /// The keys in which `other` describes another run than `self`: all but the
    /// [`SCHEDULE_KEYS`], which a resumed run may change, the tables of the algorithms the
    /// run does not train (a preset changed for VIREL does not make a SAC run another), and
    /// the keys its algorithm never reads (`beta_scale` for VIREL).
    pub fn differences(&self, other: &TrainConfig) -> Vec<String> {
        let (a, b) = (flat(self), flat(other));
        let unused = |k: &str| {
            let (table, key) = k.split_once('.').unwrap_or((k, ""));
            let unread = |a: Algo| a.config_table() != table || a.info().unread_keys.contains(&key);
            Algo::ALL.iter().any(|x| x.config_table() == table)
                && unread(self.algo)
                && unread(other.algo)
        };
        let mut keys: Vec<String> = a
            .keys()
            .chain(b.keys())
            .filter(|k| {
                !SCHEDULE_KEYS.contains(&k.as_str()) && !unused(k) && a.get(*k) != b.get(*k)
            })
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// The largest integer TOML (and so a config file) holds.
pub const TOML_MAX: u64 = i64::MAX as u64;

/// Keys a resumed run may change: how long it runs, where and in what precision it multiplies,
/// and how often it evaluates and checkpoints. Every other key is the run's identity.
pub const SCHEDULE_KEYS: &[&str] = &[
    "steps",
    "device",
    "torch_threads",
    "hidden_matmul",
    "eval_every",
    "eval_episodes",
    "checkpoint_every",
];

/// A config as `dotted.key → value` (JSON values, which hold every u64).
pub fn flat(cfg: &TrainConfig) -> std::collections::BTreeMap<String, serde_json::Value> {
    fn walk(
        prefix: &str,
        v: serde_json::Value,
        out: &mut std::collections::BTreeMap<String, serde_json::Value>,
    ) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            v => {
                out.insert(prefix.to_owned(), v);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(
        "",
        serde_json::to_value(cfg).expect("a train config is JSON"),
        &mut out,
    );
    out
}

/// Builds a config from an optional file, `key=value` overrides and flags; the env named on
/// the command line picks the preset (otherwise the file's `env`, otherwise pendulum). Every
/// value remembers who set it, so that a wrong type or a value out of range is reported with
/// the file or flag and the key.
pub struct ConfigBuilder {
    table: toml::Table,
    /// The table before any file, `--set` or flag.
    base: toml::Table,
    /// Who set each key, in order: (dotted key, origin).
    origins: Vec<(String, String)>,
}

impl ConfigBuilder {
    /// Starts from the config file (if any), else from the env flag's preset.
    pub fn new(config_file: Option<&Path>, env_flag: Option<&str>) -> Result<Self> {
        match config_file {
            Some(path) => Self::from_text(&read_file(path)?, &path.display().to_string(), env_flag),
            None => Self::from_table(None, env_flag),
        }
    }

    /// Starts from `base` instead of an env's preset (the desktop app's own defaults, a
    /// resumed run's config); a config file still overrides it.
    pub fn from_base(base: &TrainConfig, config_file: Option<&Path>) -> Result<Self> {
        let table = toml::Table::try_from(base).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut b = Self::start(table);
        if let Some(path) = config_file {
            let origin = format!("config file {}", path.display());
            let t = parse_table(&read_file(path)?, &path.display().to_string())?;
            b.overlay(t, &origin)?;
        }
        Ok(b)
    }

    /// A config file's text; `origin` names it in errors.
    pub fn from_text(text: &str, origin: &str, env_flag: Option<&str>) -> Result<Self> {
        Self::from_table(Some((origin, parse_table(text, origin)?)), env_flag)
    }

    fn start(table: toml::Table) -> Self {
        Self {
            base: table.clone(),
            table,
            origins: Vec::new(),
        }
    }

    fn from_table(file: Option<(&str, toml::Table)>, env_flag: Option<&str>) -> Result<Self> {
        let env = env_flag
            .map(str::to_owned)
            .or_else(|| {
                file.as_ref()
                    .and_then(|(_, t)| t.get("env")?.as_str().map(str::to_owned))
            })
            .unwrap_or_else(|| "pendulum".to_owned());
        let mut b =
            Self::start(toml::Table::try_from(TrainConfig::for_env(&env)).expect("serialisable"));
        if let Some((origin, t)) = file {
            for w in frozen_presets(&t, &env) {
                eprintln!("warning: config file {origin}: {w}");
            }
            b.overlay(t, &format!("config file {origin}"))?;
        }
        Ok(b)
    }

    fn overlay(&mut self, over: toml::Table, origin: &str) -> Result<()> {
        let mut set = Vec::new();
        overlay(&mut self.table, over, "", &mut set).with_context(|| format!("in {origin}"))?;
        self.origins
            .extend(set.into_iter().map(|k| (k, origin.to_owned())));
        Ok(())
    }

    /// Applies `key.path=value`; the value is read as TOML, or as a string when it is not.
    pub fn set(&mut self, assignment: &str) -> Result<()> {
        let (key, value) = assignment
            .split_once('=')
            .with_context(|| format!("--set {assignment}: expected key=value"))?;
        let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.trim().to_owned()));
        self.set_value(key.trim(), value, &format!("--set {assignment}"))
    }

    /// Sets `key` to the value of a command-line flag; `flag` (with its value) names it in
    /// errors.
    pub fn set_flag<T: Serialize + std::fmt::Display>(
        &mut self,
        key: &str,
        value: Option<&T>,
        flag: &str,
    ) -> Result<()> {
        let Some(v) = value else { return Ok(()) };
        let origin = format!("{flag} {v}");
        let value = toml::Value::try_from(v).map_err(|_| {
            anyhow::anyhow!(
                "{origin}: at most {TOML_MAX} (the largest integer a config file holds)"
            )
        })?;
        self.set_value(key, value, &origin)
    }

    /// Sets `key.path` to `value`; `origin` (a file and table, a flag) names it in errors.
    pub fn set_value(&mut self, key: &str, value: toml::Value, origin: &str) -> Result<()> {
        let mut nested = value;
        for part in key.rsplit('.') {
            let mut t = toml::Table::new();
            t.insert(part.to_owned(), nested);
            nested = toml::Value::Table(t);
        }
        let toml::Value::Table(t) = nested else {
            unreachable!()
        };
        let mut set = Vec::new();
        overlay(&mut self.table, t, "", &mut set).with_context(|| origin.to_owned())?;
        self.origins
            .extend(set.into_iter().map(|k| (k, origin.to_owned())));
        Ok(())
    }

    /// Who last set any of `keys` (a file, `--set` or a flag), or that they are defaults.
    fn origin_of<'a>(&self, keys: impl Iterator<Item = &'a str> + Clone) -> String {
        self.origins
            .iter()
            .rev()
            .find(|(k, _)| {
                keys.clone()
                    .any(|key| key == k || key.starts_with(&format!("{k}.")))
            })
            .map_or_else(|| "default".to_owned(), |(_, o)| o.clone())
    }

    /// The resolved config, type-checked and validated. A value of the wrong type or out of
    /// range is reported with who set it and its key.
    pub fn build(self) -> Result<TrainConfig> {
        let cfg: TrainConfig = toml::Value::Table(self.table.clone())
            .try_into()
            .map_err(|e| self.blame(e))?;
        if let Err(e) = cfg.validate() {
            return Err(match e.downcast_ref::<KeyError>() {
                Some(k) => anyhow::anyhow!("{}: {k}", self.origin_of(k.keys())),
                None => e,
            });
        }
        Ok(cfg)
    }

    /// The key (and who set it) behind a type error: the first value set by a file or flag
    /// that fails on its own over the defaults.
    fn blame(&self, e: toml::de::Error) -> anyhow::Error {
        for (key, origin) in &self.origins {
            let Some(value) = lookup(&self.table, key) else {
                continue;
            };
            let mut t = self.base.clone();
            if write_path(&mut t, key, value.clone()).is_none() {
                continue;
            }
            if let Err(alone) = toml::Value::Table(t).try_into::<TrainConfig>() {
                let msg = alone.message().trim().to_owned();
                return anyhow::anyhow!("{origin}: key '{key}': {msg}");
            }
        }
        anyhow::anyhow!("{}", e.message().trim())
    }
}

/// What a config file written for another env (`virel-lab config --env pendulum > my.toml`,
/// then `--env hopper`) freezes of that env's preset: each key the file sets to the value its
/// own env's preset has, where the preset of `env` (the env the run trains) differs.
pub fn frozen_presets(file: &toml::Table, env: &str) -> Vec<String> {
    let Some(written_for) = file.get("env").and_then(toml::Value::as_str) else {
        return Vec::new();
    };
    if written_for == env {
        return Vec::new();
    }
    let theirs = flat(&TrainConfig::for_env(written_for));
    let ours = flat(&TrainConfig::for_env(env));
    let mut set = Vec::new();
    let mut keys = Vec::new();
    leaves("", file, &mut keys);
    for (key, v) in keys {
        let (Some(t), Some(o)) = (theirs.get(&key), ours.get(&key)) else {
            continue;
        };
        let v = serde_json::to_value(v).ok();
        if v.as_ref() == Some(t) && t != o {
            set.push(format!(
                "sets {key} = {t}, {written_for}'s preset, but the run trains {env}, whose preset is {o} (delete the key to take {env}'s)"
            ));
        }
    }
    set
}

/// `a.b = v` for every leaf of a table (its dotted keys and values, in the table's order).
pub fn leaves(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => leaves(&key, t, out),
            v => out.push((key, v.clone())),
        }
    }
}

/// The value at a dotted key.
fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut v = table.get(parts.next()?)?;
    for p in parts {
        v = v.as_table()?.get(p)?;
    }
    Some(v)
}

/// Writes `value` at a dotted key whose tables exist.
fn write_path(table: &mut toml::Table, key: &str, value: toml::Value) -> Option<()> {
    let (parents, last) = match key.rsplit_once('.') {
        Some((p, l)) => (Some(p), l),
        None => (None, key),
    };
    let mut t = table;
    for p in parents.into_iter().flat_map(|p| p.split('.')) {
        t = t.get_mut(p)?.as_table_mut()?;
    }
    t.insert(last.to_owned(), value);
    Some(())
}

fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))
}

fn parse_table(text: &str, origin: &str) -> Result<toml::Table> {
    toml::from_str(text).with_context(|| format!("config file {origin} is not valid TOML"))
}

/// The error for a key `base` (the table at `prefix`) does not have, with the keys meant by
/// it: the same key in an algorithm's table (`learning_starts` → `sac.learning_starts`), or a
/// near spelling (`batch_sise` → `batch_size`).
fn unknown_key(base: &toml::Table, key: &str, prefix: &str) -> anyhow::Error {
    let mut meant: Vec<String> = Vec::new();
    if prefix.is_empty() {
        for (table, v) in base {
            if v.as_table().is_some_and(|t| t.contains_key(key)) {
                meant.push(format!("{table}.{key}"));
            }
        }
    }
    if meant.is_empty() {
        meant = base
            .keys()
            .filter(|k| strsim::damerau_levenshtein(k, key) <= 2)
            .map(|k| format!("{prefix}{k}"))
            .collect();
    }
    match meant.as_slice() {
        [] => anyhow::anyhow!("unknown key '{prefix}{key}' (`virel-lab config` lists every key)"),
        m => anyhow::anyhow!(
            "unknown key '{prefix}{key}': did you mean {}?",
            m.iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    }
}

/// Writes `over` into `base`, refusing keys `base` does not have; `set` collects the dotted
/// keys written. An integer where the default is a float is taken as that float.
fn overlay(
    base: &mut toml::Table,
    over: toml::Table,
    prefix: &str,
    set: &mut Vec<String>,
) -> Result<()> {
    for (k, v) in over {
        let path = format!("{prefix}{k}");
        match (base.get_mut(&k), v) {
            (None, _) => return Err(unknown_key(base, &k, prefix)),
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                overlay(b, o, &format!("{path}."), set)?
            }
            (Some(toml::Value::Table(_)), _) => bail!("'{path}' must be a table"),
            (Some(slot), v) => {
                *slot = match (&*slot, v) {
                    (toml::Value::Float(_), toml::Value::Integer(i)) => {
                        toml::Value::Float(i as f64)
                    }
                    (_, v) => v,
                };
                set.push(path);
            }
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
