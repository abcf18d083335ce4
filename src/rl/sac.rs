//! Soft Actor-Critic (Haarnoja et al. 2018/2019) with twin Q and automatic entropy tuning,
//! following CleanRL's `sac_continuous_action.py`.
//!
//! Critic target: r + γ(1 − d)·(min Q_target(s', a') − α·log π(a'|s')).
//! Actor: minimise E[α·log π(a|s) − min Q(s, a)]. Temperature: minimise
//! E[−log α·(log π(a|s) + H_target)] with H_target = `target_entropy_per_dim`·|A| (−|A| by
//! default).

use super::optim::Adam;
use super::policy::ActionDistribution;
use super::ranges::{self, KeyError, MAX_POLICY_FREQUENCY};
use super::registry::{AlgoInfo, Knob, KnobKind, UpdateShape};
use super::soft_actor_critic::{SoftActorCritic, SoftActorCriticConfig};
use super::{
    Agent, AgentSpec, Algo, AlgoConfigs, Metrics, ReplaySettings, buffer::ReplayBuffer,
    metric_names, nets::scalar,
};
use crate::rl::policy;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor, nn};

/// SAC as the registry knows it.
pub const SAC: AlgoInfo = AlgoInfo {
    name: "sac",
    display_name: "SAC",
    colour: [255, 127, 14],
    config_table: "sac",
    temperature_symbol: "α",
    posterior_temperature_symbol: Some("α"),
    temperature_metric: ALPHA_METRIC,
    fixed_temperature_key: None,
    has_python_peers: true,
    knobs: &[
        Knob::learning_rate("policy_lr", "actor lr"),
        Knob::learning_rate("q_lr", "critic lr"),
        Knob {
            key: "autotune",
            label: "tune α automatically",
            kind: KnobKind::Toggle,
            shown_if: None,
        },
    ],
    unread_keys: &[],
    shape,
    build: |c, spec, device| Ok(Box::new(Sac::new(spec, c.sac.clone(), device)?)),
};

fn shape(c: &AlgoConfigs) -> UpdateShape<'_> {
    UpdateShape {
        hidden: &c.sac.hidden,
        batch_size: c.sac.batch_size,
        extra_batch: 0,
        actor_outputs: 2.0,
        actor_copies: 1.0,
        replay: ReplaySettings {
            buffer_size: c.sac.buffer_size,
            learning_starts: c.sac.learning_starts,
        },
        learning_rates: (c.sac.policy_lr, c.sac.q_lr),
    }
}

/// The metric α is logged under (CleanRL's).
pub const ALPHA_METRIC: &str = "losses/alpha";

/// SAC hyper-parameters; defaults are CleanRL's published ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SacConfig {
    /// Hidden layer widths of the actor and of each critic.
    pub hidden: Vec<i64>,
    /// Discount factor γ.
    pub gamma: f64,
    /// Polyak coefficient τ of the target critics.
    pub tau: f64,
    /// Minibatch size of each gradient step.
    pub batch_size: i64,
    /// Replay buffer capacity (transitions).
    pub buffer_size: usize,
    /// Environment steps of uniformly random actions before learning starts.
    pub learning_starts: u64,
    /// Adam learning rate of the actor.
    pub policy_lr: f64,
    /// Adam learning rate of the critics and of α.
    pub q_lr: f64,
    /// The actor and α are updated every `policy_frequency` steps, `policy_frequency` times.
    pub policy_frequency: u64,
    /// Tune α automatically towards the target entropy −|A|.
    pub autotune: bool,
    /// α when `autotune` is off, and its starting value when on.
    pub alpha: f64,
    /// The entropy α is tuned towards, per action dimension: the target is this × |A|
    /// (Haarnoja et al.'s −|A| at −1; higher keeps the policy broader).
    pub target_entropy_per_dim: f64,
    /// Bounds of the policy's log standard deviation.
    pub log_std_min: f64,
    /// Upper bound of the log standard deviation.
    pub log_std_max: f64,
}

impl SacConfig {
    /// Every key within its range (keys relative to the `[sac]` table).
    pub fn check(&self) -> Result<(), KeyError> {
        ranges::common(
            &self.hidden,
            self.gamma,
            self.tau,
            self.batch_size,
            self.buffer_size,
        )?;
        ranges::positive_at_most("policy_lr", self.policy_lr, 1.0)?;
        ranges::positive_at_most("q_lr", self.q_lr, 1.0)?;
        ranges::within(
            "policy_frequency",
            self.policy_frequency,
            1,
            MAX_POLICY_FREQUENCY,
        )?;
        ranges::non_negative("alpha", self.alpha)?;
        ranges::between(
            "target_entropy_per_dim",
            self.target_entropy_per_dim,
            -MAX_TARGET_ENTROPY_PER_DIM,
            MAX_TARGET_ENTROPY_PER_DIM,
        )?;
        ranges::ordered(
            "log_std_min",
            self.log_std_min,
            "log_std_max",
            self.log_std_max,
        )
    }
}

/// The largest |target entropy| per action dimension: a tanh-Gaussian's entropy per dimension
/// lies between about −7 (log σ at its floor of −5) and the uniform's log 2.
pub const MAX_TARGET_ENTROPY_PER_DIM: f64 = 10.0;

impl Default for SacConfig {
    fn default() -> Self {
        Self {
            hidden: vec![256, 256],
            gamma: 0.99,
            tau: 0.005,
            batch_size: 256,
            buffer_size: 1_000_000,
            learning_starts: 5_000,
            policy_lr: 3e-4,
            q_lr: 1e-3,
            policy_frequency: 2,
            autotune: true,
            alpha: 1.0,
            target_entropy_per_dim: -1.0,
            log_std_min: -5.0,
            log_std_max: 2.0,
        }
    }
}

/// Soft Actor-Critic (Haarnoja et al. 2018; CleanRL's `sac_continuous_action`): twin critics, a tanh-Gaussian actor, α tuned towards a target entropy or fixed.
pub struct Sac {
    cfg: SacConfig,
    nets: SoftActorCritic,
    alpha_vs: nn::VarStore,
    log_alpha: Tensor,
    alpha_opt: Adam,
    target_entropy: f64,
    updates: u64,
}

impl Sac {
    /// A SAC agent for `spec` on `device`.
    pub fn new(spec: &AgentSpec, cfg: SacConfig, device: Device) -> anyhow::Result<Self> {
        let nets = SoftActorCritic::new(
            spec,
            SoftActorCriticConfig {
                hidden: &cfg.hidden,
                actor_lr: cfg.policy_lr,
                critic_lr: cfg.q_lr,
                log_std_bounds: (cfg.log_std_min, cfg.log_std_max),
            },
            device,
        )?;
        let alpha_vs = nn::VarStore::new(device);
        let log_alpha = alpha_vs
            .root()
            .var("log_alpha", &[1], nn::Init::Const(cfg.alpha.ln()));
        let alpha_opt = Adam::new(&alpha_vs, cfg.q_lr);
        Ok(Self {
            target_entropy: cfg.target_entropy_per_dim * spec.act_dim as f64,
            cfg,
            nets,
            alpha_vs,
            log_alpha,
            alpha_opt,
            updates: 0,
        })
    }

    fn alpha(&self) -> f64 {
        scalar(&self.log_alpha.exp())
    }
}

impl Agent for Sac {
    fn algo(&self) -> Algo {
        Algo::Sac
    }
    fn act(&self, obs: &Tensor, explore: bool) -> Tensor {
        self.nets.act(obs, explore)
    }
    fn update(&mut self, buffer: &ReplayBuffer) -> Metrics {
        let batch = buffer.sample(self.cfg.batch_size);
        let alpha = self.alpha();
        let target = self.nets.td_target(&batch, self.cfg.gamma, alpha);
        let critic = self.nets.critic_step(&batch, &target.target);
        let mut m = vec![
            (metric_names::Q_LOSS, critic.loss),
            (metric_names::Q_VALUES, critic.q_mean),
            (ALPHA_METRIC, alpha),
        ];
        if self.updates.is_multiple_of(self.cfg.policy_frequency) {
            let mut alpha = alpha;
            for k in 0..self.cfg.policy_frequency {
                if k > 0 && self.cfg.autotune {
                    alpha = self.alpha();
                }
                let (actor_loss, logp) = self.nets.actor_step(&batch.obs, alpha);
                m.push(("losses/actor_loss", actor_loss));
                m.push(("losses/entropy", -scalar(&logp.mean(None))));
                if self.cfg.autotune {
                    let alpha_loss =
                        (-(&self.log_alpha.exp()) * (logp + self.target_entropy)).mean(None);
                    self.alpha_opt.backward_step(&alpha_loss);
                    m.push(("losses/alpha_loss", scalar(&alpha_loss)));
                }
            }
        }
        self.nets.update_target(self.cfg.tau);
        self.updates += 1;
        m
    }
    fn deterministic_actor(&self) -> policy::DeterministicActor {
        self.nets.actor.deterministic_actor()
    }
    fn q_value(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        tch::no_grad(|| self.nets.critic.min_q(obs, actions))
    }
    fn posterior_temperature(&self) -> Option<f64> {
        Some(self.alpha())
    }
    fn action_distribution(&self, obs: &Tensor) -> ActionDistribution {
        self.nets.actor.action_distribution(obs)
    }
    fn temperature(&self) -> (&'static str, f64) {
        (ALPHA_METRIC, self.alpha())
    }
    fn networks(&self) -> Vec<(&'static str, &nn::VarStore)> {
        let mut v = self.nets.networks();
        v.push(("alpha", &self.alpha_vs));
        v
    }
    fn networks_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        let mut v = self.nets.networks_mut();
        v.push(("alpha", &mut self.alpha_vs));
        v
    }
    fn set_hidden_matmul(&mut self, matmul: super::nets::HiddenMatmul) {
        self.nets.set_hidden_matmul(matmul);
    }
    fn optimizers(&self) -> Vec<(&'static str, &Adam)> {
        let mut v = self.nets.optimizers();
        v.push(("alpha", &self.alpha_opt));
        v
    }
    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut Adam)> {
        let mut v = self.nets.optimizers_mut();
        v.push(("alpha", &mut self.alpha_opt));
        v
    }
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        vec![("updates", self.updates as f64)]
    }
    fn set_scalar(&mut self, name: &str, value: f64) -> anyhow::Result<()> {
        match name {
            "updates" => self.updates = value as u64,
            _ => return Err(super::unknown_scalar(self.algo(), name)),
        }
        Ok(())
    }
}
