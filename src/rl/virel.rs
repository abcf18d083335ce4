//! VIREL (Fellows, Mahajan, Rudner, Whiteson, NeurIPS 2019): variational inference for RL with
//! the critic's residual error as the policy's temperature. Both published variants:
//!
//! - `virel`: temperature = ε_ω;
//! - `beta-virel`: temperature = beta_scale · ε_ω.
//!
//! ε_ω = (1/(p·|H|))·‖T^π Q̂ − Q̂‖_p^p, estimated every gradient step, under no_grad, on a
//! fresh replay minibatch of `epsilon_batch_size` (4096 in the authors' code) with the online
//! critics. T^π Q̂(s, a) = r + γ(1 − d)·E_{a'~π}[min_j Q_j(s', a')] holds an expectation over
//! a'; squaring a one-sample target would add γ²·Var_{a'}[Q(s', a')] to every term, a bias
//! that keeps ε_ω (and so the temperature) high for as long as the policy is broad. So two
//! independent a'₁, a'₂ ~ π(s') give targets y₁, y₂ and, for p = 2, the unbiased
//! double-sampling estimate (Baird 1995) mean[(Q_i − y₁)(Q_i − y₂)] / 2; for other p,
//! mean|Q_i − (y₁ + y₂)/2|^p / p. ε_ω is the mean over the twin critics i, floored at 0.
//! Until the buffer holds a full minibatch, ε_ω = 1. ε_ω measures how far Q̂ is from a fixed
//! point of the Bellman operator: the model's uncertainty about the optimal action. As it goes
//! to 0 the policy collapses onto argmax Q̂.
//!
//! M-step (critic): minimise the Bellman residual with a target that carries NO entropy term:
//! r + γ(1 − d)·min Q_target(s', a'). E-step (actor): minimise E[temperature·log π(a|s) − Q̂(s, a)].

use super::buffer::{Batch, ReplayBuffer};
use super::optim::Adam;
use super::policy::ActionDistribution;
use super::ranges::{self, KeyError};
use super::soft_actor_critic::{SoftActorCritic, SoftActorCriticConfig};
use super::{Agent, AgentSpec, Algo, Metrics, nets::scalar};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor, nn};

/// VIREL hyper-parameters; defaults follow the authors' code (SAC-2018 base) where it speaks,
/// modern SAC otherwise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VirelConfig {
    /// Hidden layer widths of the actor and of each critic (authors: 300-300; modern SAC: 256-256).
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
    /// Adam learning rate of the critics.
    pub q_lr: f64,
    /// Minibatch on which ε_ω is re-estimated.
    pub epsilon_batch_size: i64,
    /// Gradient steps between re-estimates of ε_ω (the authors: 1). On one core of this 2-core
    /// CPU (hopper, 256-256) the 4096-sample pass takes ~100 ms and a gradient step ~12 ms:
    /// 8 makes VIREL ~4.5× faster, 32 ~7× (about SAC's speed), for a temperature at most 7 or 31
    /// steps old.
    pub epsilon_every: u64,
    /// The p of the residual norm ‖T Q̂ − Q̂‖_p^p (2: mean squared Bellman error / 2).
    pub p: f64,
    /// Temperature multiplier of the `beta-virel` variant (unused by `virel`).
    pub beta_scale: f64,
    /// Multiplier of the rewards the critic learns from (the authors' `reward_scale`). Scaling
    /// rewards by c scales Q̂ by c and ε_ω by c², so the `virel` temperature relative to
    /// Q̂ moves by c: the one lever that variant has over how greedy it is.
    pub reward_scale: f64,
    /// Bounds of the policy's log standard deviation.
    pub log_std_min: f64,
    pub log_std_max: f64,
}

impl VirelConfig {
    /// Every key within its range (keys relative to the `[virel]` table).
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
        ranges::at_least("epsilon_batch_size", self.epsilon_batch_size, 1)?;
        ranges::at_least("epsilon_every", self.epsilon_every, 1)?;
        ranges::positive_at_most("p", self.p, 10.0)?;
        ranges::positive("beta_scale", self.beta_scale)?;
        ranges::positive("reward_scale", self.reward_scale)?;
        ranges::ordered(
            "log_std_min",
            self.log_std_min,
            "log_std_max",
            self.log_std_max,
        )
    }
}

impl Default for VirelConfig {
    fn default() -> Self {
        Self {
            hidden: vec![256, 256],
            gamma: 0.99,
            tau: 0.005,
            batch_size: 256,
            buffer_size: 1_000_000,
            learning_starts: 5_000,
            policy_lr: 3e-4,
            q_lr: 3e-4,
            epsilon_batch_size: 4096,
            epsilon_every: 1,
            p: 2.0,
            beta_scale: 4e-4,
            reward_scale: 1.0,
            log_std_min: -5.0,
            log_std_max: 2.0,
        }
    }
}

pub struct Virel {
    cfg: VirelConfig,
    beta: bool,
    nets: SoftActorCritic,
    epsilon: f64,
    updates: u64,
}

impl Virel {
    /// `beta` picks the β-VIREL variant.
    pub fn new(
        spec: &AgentSpec,
        cfg: VirelConfig,
        beta: bool,
        device: Device,
    ) -> anyhow::Result<Self> {
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
        Ok(Self {
            cfg,
            beta,
            nets,
            epsilon: 1.0,
            updates: 0,
        })
    }

    /// The actor's temperature: ε_ω, or beta_scale·ε_ω.
    pub fn actor_temperature(&self) -> f64 {
        if self.beta {
            self.cfg.beta_scale * self.epsilon
        } else {
            self.epsilon
        }
    }

    /// ε_ω on a fresh minibatch, or `None` while the buffer is smaller than that minibatch.
    pub fn estimate_epsilon(&self, buffer: &ReplayBuffer) -> Option<f64> {
        if (buffer.len() as i64) < self.cfg.epsilon_batch_size {
            return None;
        }
        let batch = self.scaled(buffer.sample(self.cfg.epsilon_batch_size));
        Some(residual_error(
            &self.nets,
            &batch,
            self.cfg.gamma,
            self.cfg.p,
        ))
    }

    fn scaled(&self, mut batch: Batch) -> Batch {
        if self.cfg.reward_scale != 1.0 {
            batch.rewards *= self.cfg.reward_scale;
        }
        batch
    }
}

/// ε_ω on `batch` (see the module docs): twin online critics, two samples a'₁, a'₂ ~ π(s').
/// Q(s, a), Q(s', a'₁) and Q(s', a'₂) are evaluated in one batched pass.
pub fn residual_error(nets: &SoftActorCritic, batch: &Batch, gamma: f64, p: f64) -> f64 {
    tch::no_grad(|| {
        let n = batch.obs.size()[0];
        let next_obs = Tensor::cat(&[&batch.next_obs, &batch.next_obs], 0);
        // One actor pass over s', two draws from it.
        let (mean, log_std) = nets.actor.distribution(&batch.next_obs);
        let (next_a, _) = nets.actor.sample_from(
            &Tensor::cat(&[&mean, &mean], 0),
            &Tensor::cat(&[&log_std, &log_std], 0),
        );
        let q = nets.critic.forward(
            &Tensor::cat(&[&batch.obs, &next_obs], 0),
            &Tensor::cat(&[&batch.actions, &next_a], 0),
        );
        let q_sa = q.narrow(1, 0, n);
        let bootstrap = (1.0 - &batch.dones) * gamma;
        let y1: Tensor = &batch.rewards + &bootstrap * q.narrow(1, n, n).amin(0, false);
        let y2: Tensor = &batch.rewards + &bootstrap * q.narrow(1, 2 * n, n).amin(0, false);
        let eps = if p == 2.0 {
            scalar(&((&q_sa - y1.unsqueeze(0)) * (&q_sa - y2.unsqueeze(0))).mean(None)) / 2.0
        } else {
            scalar(
                &(&q_sa - ((y1 + y2) * 0.5).unsqueeze(0))
                    .abs()
                    .pow_tensor_scalar(p)
                    .mean(None),
            ) / p
        };
        eps.max(0.0)
    })
}

impl Agent for Virel {
    fn algo(&self) -> Algo {
        if self.beta {
            Algo::BetaVirel
        } else {
            Algo::Virel
        }
    }
    fn act(&self, obs: &Tensor, explore: bool) -> Tensor {
        self.nets.act(obs, explore)
    }
    fn update(&mut self, buffer: &ReplayBuffer) -> Metrics {
        let batch = self.scaled(buffer.sample(self.cfg.batch_size));
        // M-step: the critic target has no entropy term.
        let target = self.nets.td_target(&batch, self.cfg.gamma, 0.0);
        let critic = self.nets.critic_step(&batch, &target);
        if self.updates.is_multiple_of(self.cfg.epsilon_every.max(1))
            && let Some(eps) = self.estimate_epsilon(buffer)
        {
            self.epsilon = eps;
        }
        self.updates += 1;
        // E-step: the actor at temperature ε_ω (or β·ε_ω).
        let temperature = self.actor_temperature();
        let (actor_loss, logp) = self.nets.actor_step(&batch.obs, temperature);
        self.nets.update_target(self.cfg.tau);
        vec![
            ("losses/qf_loss", critic.loss),
            ("losses/qf_values", critic.q_mean),
            ("losses/actor_loss", actor_loss),
            ("losses/entropy", -scalar(&logp.mean(None))),
            ("virel/epsilon", self.epsilon),
            ("virel/temperature", temperature),
        ]
    }
    fn action_distribution(&self, obs: &Tensor) -> ActionDistribution {
        self.nets.actor.action_distribution(obs)
    }
    fn temperature(&self) -> (&'static str, f64) {
        ("virel/epsilon", self.epsilon)
    }
    fn networks(&self) -> Vec<(&'static str, &nn::VarStore)> {
        self.nets.networks()
    }
    fn networks_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        self.nets.networks_mut()
    }
    fn optimizers(&self) -> Vec<(&'static str, &Adam)> {
        self.nets.optimizers()
    }
    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut Adam)> {
        self.nets.optimizers_mut()
    }
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        vec![("epsilon", self.epsilon), ("updates", self.updates as f64)]
    }
    fn set_scalar(&mut self, name: &str, value: f64) -> anyhow::Result<()> {
        match name {
            "epsilon" => self.epsilon = value,
            "updates" => self.updates = value as u64,
            _ => return Err(super::unknown_scalar(self.algo(), name)),
        }
        Ok(())
    }
}
