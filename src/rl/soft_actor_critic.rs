//! The machinery SAC and VIREL share: a tanh-Gaussian actor, twin Q-critics with a polyak
//! target, and their gradient steps. The two algorithms differ only in where the actor's
//! temperature comes from (SAC: a learned α; VIREL: the residual error ε_ω) and in the critic
//! target (SAC adds the entropy bonus −α·log π; VIREL's has none).

use super::AgentSpec;
use super::buffer::Batch;
use super::nets::{HiddenMatmul, TwinQ, flatten, hard_update, polyak_update, scalar};
use super::optim::Adam;
use super::policy::TanhGaussianPolicy;
use tch::{Device, Tensor, nn};

/// Network sizes and optimiser settings for [`SoftActorCritic::new`].
pub struct SoftActorCriticConfig<'a> {
    /// Hidden layer sizes of the actor and the critics.
    pub hidden: &'a [i64],
    /// The actor's learning rate.
    pub actor_lr: f64,
    /// The critics' learning rate.
    pub critic_lr: f64,
    /// Bounds of the actor's log standard deviation.
    pub log_std_bounds: (f64, f64),
}

/// The networks SAC and VIREL share: tanh-Gaussian actor, twin critics and their targets, with their optimisers.
pub struct SoftActorCritic {
    /// The actor's variables.
    pub actor_vs: nn::VarStore,
    /// π(a|s): tanh-Gaussian.
    pub actor: TanhGaussianPolicy,
    /// The critics' variables.
    pub critic_vs: nn::VarStore,
    /// Q₁ and Q₂.
    pub critic: TwinQ,
    /// The target critics' variables.
    pub target_vs: nn::VarStore,
    /// Polyak-averaged copies of Q₁ and Q₂.
    pub target: TwinQ,
    /// The target critics' variables in one buffer, for the polyak update.
    target_flat: Tensor,
    /// The actor's Adam.
    pub actor_opt: Adam,
    /// The critics' Adam.
    pub critic_opt: Adam,
}

/// What one critic step measured.
pub struct CriticStats {
    /// Mean over the twin critics of each one's mean squared Bellman residual.
    pub loss: f64,
    /// Mean Q of the batch, over both critics.
    pub q_mean: f64,
    /// Q_i(s, a) `[2, B]` before the step (detached): VIREL's running ε_ω reuses it.
    pub q: Tensor,
}

/// A TD target and the actor's distribution at s' it was drawn from.
pub struct TdTarget {
    /// r + γ(1 − d)·(min Q_target(s', a') − entropy_coef·log π(a'|s')), `[B]`.
    pub target: Tensor,
    /// μ(s') and log σ(s') of the pre-tanh Gaussian, `[B, A]` (detached).
    pub next_mean: Tensor,
    /// log σ(s'), `[B, A]` (detached).
    pub next_log_std: Tensor,
}

impl SoftActorCritic {
    /// Actor, critics and targets (targets equal to the critics) on `device`.
    pub fn new(
        spec: &AgentSpec,
        cfg: SoftActorCriticConfig,
        device: Device,
    ) -> anyhow::Result<Self> {
        let (od, ad) = (spec.obs_dim as i64, spec.act_dim as i64);
        let actor_vs = nn::VarStore::new(device);
        let actor = TanhGaussianPolicy::new(
            &(actor_vs.root() / "actor"),
            od,
            cfg.hidden,
            &spec.act_low,
            &spec.act_high,
            cfg.log_std_bounds,
        );
        let critic_vs = nn::VarStore::new(device);
        let critic = TwinQ::new(&(critic_vs.root() / "critic"), od, ad, cfg.hidden);
        let mut target_vs = nn::VarStore::new(device);
        let target = TwinQ::new(&(target_vs.root() / "critic"), od, ad, cfg.hidden);
        hard_update(&mut target_vs, &critic_vs);
        target_vs.freeze();
        let target_flat = flatten(&target_vs);
        let actor_opt = Adam::new(&actor_vs, cfg.actor_lr);
        let critic_opt = Adam::new(&critic_vs, cfg.critic_lr);
        Ok(Self {
            actor_vs,
            actor,
            critic_vs,
            critic,
            target_vs,
            target,
            target_flat,
            actor_opt,
            critic_opt,
        })
    }

    /// Explores with a sample of π, or acts with its deterministic mode.
    pub fn act(&self, obs: &Tensor, explore: bool) -> Tensor {
        tch::no_grad(|| {
            if explore {
                self.actor.sample_action(obs)
            } else {
                self.actor.mode(obs)
            }
        })
    }

    /// r + γ(1 − d)·(min Q_target(s', a') − entropy_coef·log π(a'|s')), a' ~ π(s').
    /// (Not inlined, here and in the other phases of a step, so that a profile names them.)
    #[inline(never)]
    pub fn td_target(&self, batch: &Batch, gamma: f64, entropy_coef: f64) -> TdTarget {
        tch::no_grad(|| {
            let (next_mean, next_log_std) = self.actor.distribution(&batch.next_obs);
            let (next_a, next_logp) = self.actor.sample_from(&next_mean, &next_log_std);
            let mut next_v = self.target.min_q(&batch.next_obs, &next_a);
            if entropy_coef != 0.0 {
                next_v -= next_logp * entropy_coef;
            }
            TdTarget {
                target: &batch.rewards + (1.0 - &batch.dones) * gamma * next_v,
                next_mean,
                next_log_std,
            }
        })
    }

    /// One Adam step on Σ_i MSE(Q_i(s, a), target); reports the mean over i.
    pub fn critic_step(&mut self, batch: &Batch, target: &Tensor) -> CriticStats {
        let q = self.critic.forward(&batch.obs, &batch.actions);
        let loss = (&q - target.unsqueeze(0))
            .square()
            .mean_dim(1, false, None)
            .sum(None);
        self.critic_opt.backward_step(&loss);
        let q = q.detach();
        CriticStats {
            loss: scalar(&loss) / 2.0,
            q_mean: scalar(&q.mean(None)),
            q,
        }
    }

    /// One Adam step on E[temperature·log π(a|s) − min Q(s, a)], a ~ π(s) reparameterised.
    /// The critic is frozen meanwhile so no gradient is spent on its weights.
    /// Returns the loss and log π of the sampled actions (detached), for temperature tuning.
    pub fn actor_step(&mut self, obs: &Tensor, temperature: f64) -> (f64, Tensor) {
        self.critic_vs.freeze();
        let (a, logp) = self.actor.sample(obs);
        let loss = (&logp * temperature - self.critic.min_q(obs, &a)).mean(None);
        self.actor_opt.backward_step(&loss);
        self.critic_vs.unfreeze();
        (scalar(&loss), logp.detach())
    }

    /// Moves the targets towards the critics by `tau`.
    pub fn update_target(&self, tau: f64) {
        polyak_update(&self.target_flat, self.critic_opt.flat_params(), tau);
    }

    /// The networks by checkpoint name.
    pub fn networks(&self) -> Vec<(&'static str, &nn::VarStore)> {
        vec![
            ("actor", &self.actor_vs),
            ("critic", &self.critic_vs),
            ("critic_target", &self.target_vs),
        ]
    }
    /// The optimisers by checkpoint name.
    pub fn optimizers(&self) -> Vec<(&'static str, &Adam)> {
        vec![("actor", &self.actor_opt), ("critic", &self.critic_opt)]
    }
    /// The optimisers by checkpoint name, to restore.
    pub fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut Adam)> {
        vec![
            ("actor", &mut self.actor_opt),
            ("critic", &mut self.critic_opt),
        ]
    }
    /// The networks by checkpoint name, to restore.
    pub fn networks_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        vec![
            ("actor", &mut self.actor_vs),
            ("critic", &mut self.critic_vs),
            ("critic_target", &mut self.target_vs),
        ]
    }
    /// Every network multiplies between hidden layers in `matmul`'s precision from now on.
    pub fn set_hidden_matmul(&mut self, matmul: HiddenMatmul) {
        self.actor.set_hidden_matmul(matmul);
        self.critic.set_hidden_matmul(matmul);
        self.target.set_hidden_matmul(matmul);
    }
}
