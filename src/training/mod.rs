//! Training: the collect → update loop ([`Trainer`]), evaluation, checkpoints, metric logs,
//! and the run configuration. The loop is stepwise so that headless `train` and the
//! desktop app drive the same code.

pub mod checkpoint;
pub mod config;
pub mod driver;
pub mod interrupt;
pub mod logger;
pub mod memory;
mod run;
pub mod run_dir;
pub mod tensorboard;
mod trainer;

pub use run::{Feedback, RunSummary, host_name, resume, robot_changed, run};
pub use trainer::{EVAL_SEED_STRIDE, StepReport, Trainer, eval_seed};

use crate::envs;
use crate::envs::Env;
use crate::rl::{Agent, AgentSpec};
use anyhow::{Context, Result, bail};
use checkpoint::Header;
use std::path::Path;
use tch::{Device, Tensor};

/// Seeds torch's global generator (network init, minibatches, policy noise).
pub fn seed_torch(seed: u64) {
    tch::manual_seed(seed as i64);
}

/// Observations `[n × dim]` as a tensor on `device`.
pub fn obs_tensor(obs: &[f32], dim: usize, device: Device) -> Tensor {
    Tensor::from_slice(obs)
        .view([(obs.len() / dim) as i64, dim as i64])
        .to_device(device)
}

pub use crate::rl::nets::tensor_to_vec;

/// Mean and spread of deterministic-policy returns.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalResult {
    /// Mean return.
    pub mean: f64,
    /// Standard deviation of the returns.
    pub std: f64,
    /// Every episode's return.
    pub returns: Vec<f64>,
    /// Mean episode length.
    #[serde(default)]
    pub mean_length: f64,
    /// Per-step means of the reward terms (for locomotion `forward` is the forward
    /// velocity times its weight).
    #[serde(default)]
    pub term_means: std::collections::BTreeMap<String, f64>,
}

/// Runs `episodes` episodes of `agent`'s deterministic policy on a fresh `env`; episode k is
/// seeded with `seed + k` (wrapping). A signal stops it within a step, as
/// [`interrupt::Interrupted`].
pub fn evaluate(
    agent: &dyn Agent,
    env: &mut dyn Env,
    episodes: usize,
    seed: u64,
    device: Device,
) -> Result<EvalResult> {
    let dim = env.observation_space().dim();
    let mut returns = Vec::new();
    let mut term_sums = std::collections::BTreeMap::<String, f64>::new();
    let mut steps = 0usize;
    if episodes == 0 {
        bail!("an evaluation needs at least 1 episode");
    }
    for k in 0..episodes {
        let mut obs = env.reset(Some(seed.wrapping_add(k as u64)));
        let mut total = 0.0;
        loop {
            if interrupt::requested() {
                return Err(interrupt::Interrupted.into());
            }
            let action = tensor_to_vec(&agent.act(&obs_tensor(&obs, dim, device), false));
            if action.iter().any(|a| !a.is_finite()) {
                bail!("the policy produced a non-finite action during evaluation");
            }
            let s = env.step(&action);
            total += f64::from(s.reward);
            steps += 1;
            for (name, v) in &s.terms {
                *term_sums.entry((*name).to_owned()).or_default() += f64::from(*v);
            }
            if s.terminated || s.truncated {
                break;
            }
            obs = s.obs;
        }
        returns.push(total);
    }
    let n = returns.len().max(1) as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let std = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let per_step = steps.max(1) as f64;
    let term_means = term_sums
        .into_iter()
        .map(|(k, v)| (k, v / per_step))
        .collect();
    Ok(EvalResult {
        mean,
        std,
        returns,
        mean_length: steps as f64 / n,
        term_means,
    })
}

/// A checkpoint's agent, loaded into fresh networks on `device`, with a fresh env (see
/// [`PolicyEnv`]): what `eval` and `export` start from.
pub struct LoadedPolicy {
    /// The checkpoint's header.
    pub header: Header,
    /// The env it acts in: its own kind, or the one [`PolicyEnv::Other`] named.
    pub env: Box<dyn Env>,
    /// The agent with its weights.
    pub agent: Box<dyn Agent>,
}

/// The env a loaded policy acts in.
#[derive(Clone, Copy, Debug)]
pub enum PolicyEnv<'a> {
    /// The env it was trained on.
    Trained,
    /// The env it was trained on, refused unless it is this one (`eval --env`).
    Expect(&'a str),
    /// Another env with the same observation and action sizes: a variant of its robot, say a
    /// scene file with a finer physics step or other friction (`eval --on`).
    Other(&'a str),
}

/// Loads a checkpoint file, or a run folder's newest, as a [`LoadedPolicy`]. Its sizes are
/// checked like a config file's before the networks are built.
pub fn load_policy(path: &Path, acts_in: PolicyEnv, device: Device) -> Result<LoadedPolicy> {
    let (path, ckpt) = checkpoint::load_file_or_latest(path)?;
    let ctx = || format!("checkpoint {}", path.display());
    let header = ckpt.header.clone();
    let env_name = match acts_in {
        PolicyEnv::Trained => &header.spec.env,
        PolicyEnv::Expect(name) | PolicyEnv::Other(name) => name,
    };
    // A checkpoint is where a policy meets its env's name: resolved here, once.
    let env = envs::ResolvedEnv::resolve(env_name)
        .and_then(|r| r.make())
        .with_context(ctx)?;
    let spec = AgentSpec::of(env.as_ref());
    match acts_in {
        PolicyEnv::Other(_) => ckpt.check_shapes(&spec),
        PolicyEnv::Trained | PolicyEnv::Expect(_) => ckpt.check_spec(&spec),
    }
    .with_context(ctx)?;
    let sizes = || -> Result<()> {
        header.config.check_keys()?;
        memory::check(&memory::agent_needs(&header.config, &spec))
    };
    sizes().with_context(ctx)?;
    let mut agent = header.config.build_agent(&spec, device)?;
    ckpt.restore_weights(agent.as_mut()).with_context(ctx)?;
    ckpt.restore_scalars(agent.as_mut()).with_context(ctx)?;
    Ok(LoadedPolicy { header, env, agent })
}

/// Loads a checkpoint into a fresh agent and evaluates the deterministic policy in the env
/// `acts_in` names.
pub fn evaluate_checkpoint(
    path: &Path,
    episodes: usize,
    acts_in: PolicyEnv,
    device: Device,
    seed: u64,
) -> Result<(Header, EvalResult)> {
    let mut p = load_policy(path, acts_in, device)?;
    let r = evaluate(p.agent.as_ref(), p.env.as_mut(), episodes, seed, device)?;
    Ok((p.header, r))
}
