//! Agents (tch networks): one file per algorithm, shared pieces once.
//!
//! - [`registry`]: every algorithm described once ([`Algo`] and its [`registry::AlgoInfo`]);
//! - [`virel`]: VIREL and β-VIREL; [`sac`]: SAC; [`td3`]: TD3.
//! - [`soft_actor_critic`]: actor/critic machinery SAC and VIREL share.
//! - [`nets`]: MLP, fused twin Q, polyak update; [`policy`]: tanh-Gaussian and deterministic
//!   policies; [`posterior`]: the Boltzmann posterior π ∝ exp(Q̂/T) the actor is fitted to; [`buffer`]: replay buffer on the training device; [`ranges`]: the range of
//!   every hyper-parameter.

pub mod buffer;
pub mod nets;
pub mod optim;
pub mod policy;
pub mod posterior;
pub mod ranges;
pub mod registry;
pub mod sac;
pub mod soft_actor_critic;
pub mod td3;
pub mod virel;

use anyhow::Result;
pub use registry::Algo;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor, nn};

/// What an agent must know of its env.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentSpec {
    /// The env the agent is for.
    pub env: String,
    /// Observation size.
    pub obs_dim: usize,
    /// Action size.
    pub act_dim: usize,
    /// Lowest action, per dimension.
    pub act_low: Vec<f32>,
    /// Highest action, per dimension.
    pub act_high: Vec<f32>,
}

impl AgentSpec {
    /// The sizes of `env`.
    pub fn of(env: &dyn envs::Env) -> Self {
        Self::of_spaces(env.name(), env.observation_space(), env.action_space())
    }

    /// The sizes of an env resolved once ([`envs::ResolvedEnv`]).
    pub fn of_resolved(env: &envs::ResolvedEnv) -> Self {
        Self::of_spaces(env.name(), env.observation_space(), env.action_space())
    }

    fn of_spaces(env: &str, obs: &envs::BoxSpace, a: &envs::BoxSpace) -> Self {
        Self {
            env: env.to_owned(),
            obs_dim: obs.dim(),
            act_dim: a.dim(),
            act_low: a.low.clone(),
            act_high: a.high.clone(),
        }
    }

    /// (low, high) of each action dimension.
    pub fn action_bounds(&self) -> Vec<(f32, f32)> {
        self.act_low
            .iter()
            .copied()
            .zip(self.act_high.iter().copied())
            .collect()
    }
}

/// Named scalar metrics of one step, with the stable names of the CSV/TensorBoard logs.
pub type Metrics = Vec<(&'static str, f64)>;

/// Names of the metrics agents report (CleanRL's where they exist): one definition for the
/// agents that write them and the app, logs and reports that read them.
pub mod metric_names {
    /// Mean over the twin critics of each one's mean squared Bellman residual on the batch
    /// (CleanRL logs `(qf1_loss + qf2_loss) / 2` under this name).
    pub const Q_LOSS: &str = "losses/qf_loss";
    /// Mean Q of the batch's actions, over both critics.
    pub const Q_VALUES: &str = "losses/qf_values";
}

/// An off-policy agent: acts, and learns from a replay buffer one gradient step at a time.
pub trait Agent: Send {
    /// Which algorithm it is.
    fn algo(&self) -> Algo;
    /// Actions `[N, act_dim]` within the env's bounds for observations `[N, obs_dim]`:
    /// exploratory when `explore`, else the deterministic policy.
    fn act(&self, obs: &Tensor, explore: bool) -> Tensor;
    /// One gradient step on minibatches drawn from `buffer`.
    fn update(&mut self, buffer: &ReplayBuffer) -> Metrics;
    /// The quantity that sets how much the agent explores, by metric name: ε_ω for VIREL,
    /// α for SAC, the exploration noise for TD3.
    fn temperature(&self) -> (&'static str, f64);
    /// The action distribution for the first observation of `obs` (`[N, obs_dim]`).
    fn action_distribution(&self, obs: &Tensor) -> policy::ActionDistribution;
    /// Q̂(s, a) `[N]` as the actor's objective reads it (min of the twin critics; TD3: Q₁),
    /// without gradients; `obs` is `[N, obs_dim]`, or `[1, obs_dim]` for N actions at one state.
    fn q_value(&self, obs: &Tensor, actions: &Tensor) -> Tensor;
    /// T of the Boltzmann posterior π ∝ exp(Q̂/T) the actor is fitted to: ε_ω (VIREL),
    /// β·ε_ω (β-VIREL), α (SAC); `None` for TD3, whose actor maximises Q̂.
    fn posterior_temperature(&self) -> Option<f64>;
    /// The deterministic policy (`act(obs, false)`) as plain numbers, for export.
    fn deterministic_actor(&self) -> policy::DeterministicActor;
    /// The agent's networks by name, for checkpoints.
    fn networks(&self) -> Vec<(&'static str, &nn::VarStore)>;
    /// The networks by name, to restore.
    fn networks_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)>;
    /// Every network multiplies between hidden layers in `matmul`'s precision from now on.
    fn set_hidden_matmul(&mut self, matmul: nets::HiddenMatmul);
    /// The agent's optimisers by name, for checkpoints a run resumes from.
    fn optimizers(&self) -> Vec<(&'static str, &optim::Adam)>;
    /// The optimisers by name, to restore.
    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut optim::Adam)>;
    /// Scalar state besides networks and optimisers (update counters, ε_ω), by name.
    fn scalars(&self) -> Vec<(&'static str, f64)>;
    /// Restores one of [`Agent::scalars`]; unknown names are errors.
    fn set_scalar(&mut self, name: &str, value: f64) -> Result<()>;
}

/// The error for a scalar an agent does not have.
pub fn unknown_scalar(algo: Algo, name: &str) -> anyhow::Error {
    anyhow::anyhow!("a {algo} agent has no state '{name}'")
}

use crate::envs;
use buffer::ReplayBuffer;

/// Hyper-parameters of every algorithm; a run uses the table of its algorithm.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlgoConfigs {
    /// The precision of the multiplies between hidden layers, every algorithm's (`float32`,
    /// or `bfloat16` where the hardware multiplies it faster: see [`nets::HiddenMatmul`]).
    pub hidden_matmul: nets::HiddenMatmul,
    /// VIREL's and β-VIREL's hyper-parameters (`[virel]`).
    pub virel: virel::VirelConfig,
    /// SAC's (`[sac]`).
    pub sac: sac::SacConfig,
    /// TD3's (`[td3]`).
    pub td3: td3::Td3Config,
}

/// Replay settings of the chosen algorithm.
#[derive(Clone, Copy, Debug)]
pub struct ReplaySettings {
    /// Most transitions the replay buffer holds.
    pub buffer_size: usize,
    /// Env steps of uniformly random actions before learning starts.
    pub learning_starts: u64,
}

impl AlgoConfigs {
    /// The replay settings of `algo`'s table.
    pub fn replay(&self, algo: Algo) -> ReplaySettings {
        (algo.info().shape)(self).replay
    }

    /// Sets `learning_starts` of every algorithm.
    pub fn set_learning_starts(&mut self, steps: u64) {
        self.virel.learning_starts = steps;
        self.sac.learning_starts = steps;
        self.td3.learning_starts = steps;
    }

    /// Sets the hidden widths of every algorithm's networks.
    pub fn set_hidden(&mut self, hidden: &[i64]) {
        self.virel.hidden = hidden.to_vec();
        self.sac.hidden = hidden.to_vec();
        self.td3.hidden = hidden.to_vec();
    }

    /// Every table's keys within their ranges; the error names `table.key`.
    pub fn check(&self) -> Result<(), ranges::KeyError> {
        self.virel.check().map_err(|e| e.within("virel"))?;
        self.sac.check().map_err(|e| e.within("sac"))?;
        self.td3.check().map_err(|e| e.within("td3"))
    }

    /// Builds the agent for `algo`.
    pub fn build(&self, algo: Algo, spec: &AgentSpec, device: Device) -> Result<Box<dyn Agent>> {
        let mut agent = (algo.info().build)(self, spec, device)?;
        agent.set_hidden_matmul(self.hidden_matmul);
        Ok(agent)
    }
}
