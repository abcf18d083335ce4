//! TD3 (Fujimoto et al. 2018), following CleanRL's `td3_continuous_action.py`: clipped double-Q,
//! target policy smoothing, delayed actor and target updates, Gaussian exploration noise.

use super::nets::{HiddenMatmul, TwinQ, flatten, hard_update, polyak_update, scalar};
use super::optim::Adam;
use super::policy::{ActionDistribution, DeterministicPolicy};
use super::ranges::{self, KeyError, MAX_POLICY_FREQUENCY};
use super::registry::{AlgoInfo, Knob, KnobKind, UpdateShape};
use super::{
    Agent, AgentSpec, Algo, AlgoConfigs, Metrics, ReplaySettings, buffer::ReplayBuffer,
    metric_names,
};
use crate::rl::nets;
use crate::rl::policy;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor, nn};

/// TD3 as the registry knows it.
pub const TD3: AlgoInfo = AlgoInfo {
    name: "td3",
    display_name: "TD3",
    colour: [44, 160, 44],
    config_table: "td3",
    temperature_symbol: "σ",
    posterior_temperature_symbol: None,
    temperature_metric: NOISE_METRIC,
    fixed_temperature_key: None,
    has_python_peers: true,
    knobs: &[
        Knob::learning_rate("learning_rate", "learning rate"),
        Knob {
            key: "exploration_noise",
            label: "exploration noise",
            kind: KnobKind::Linear { lo: 0.0, hi: 1.0 },
            shown_if: None,
        },
    ],
    unread_keys: &[],
    shape,
    build: |c, spec, device| Ok(Box::new(Td3::new(spec, c.td3.clone(), device)?)),
};

/// The metric of the exploration noise's scale.
pub const NOISE_METRIC: &str = "td3/exploration_noise";

fn shape(c: &AlgoConfigs) -> UpdateShape<'_> {
    UpdateShape {
        hidden: &c.td3.hidden,
        batch_size: c.td3.batch_size,
        extra_batch: 0,
        actor_outputs: 1.0,
        actor_copies: 2.0,
        replay: ReplaySettings {
            buffer_size: c.td3.buffer_size,
            learning_starts: c.td3.learning_starts,
        },
        learning_rates: (c.td3.learning_rate, c.td3.learning_rate),
    }
}

/// TD3 hyper-parameters; defaults are CleanRL's published ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Td3Config {
    /// Hidden layer widths of the actor and of each critic.
    pub hidden: Vec<i64>,
    /// Discount factor γ.
    pub gamma: f64,
    /// Polyak coefficient τ of the target actor and critics.
    pub tau: f64,
    /// Minibatch size of each gradient step.
    pub batch_size: i64,
    /// Replay buffer capacity (transitions).
    pub buffer_size: usize,
    /// Environment steps of uniformly random actions before learning starts.
    pub learning_starts: u64,
    /// Adam learning rate of actor and critics.
    pub learning_rate: f64,
    /// Std of the target policy smoothing noise, as a fraction of the action scale.
    pub policy_noise: f64,
    /// Clip of the smoothing noise, as a fraction of the action scale.
    pub noise_clip: f64,
    /// Std of the exploration noise, as a fraction of the action scale.
    pub exploration_noise: f64,
    /// Actor and targets are updated every `policy_frequency` critic steps.
    pub policy_frequency: u64,
}

impl Td3Config {
    /// Every key within its range (keys relative to the `[td3]` table).
    pub fn check(&self) -> Result<(), KeyError> {
        ranges::common(
            &self.hidden,
            self.gamma,
            self.tau,
            self.batch_size,
            self.buffer_size,
        )?;
        ranges::positive_at_most("learning_rate", self.learning_rate, 1.0)?;
        ranges::non_negative("policy_noise", self.policy_noise)?;
        ranges::non_negative("noise_clip", self.noise_clip)?;
        ranges::non_negative("exploration_noise", self.exploration_noise)?;
        ranges::within(
            "policy_frequency",
            self.policy_frequency,
            1,
            MAX_POLICY_FREQUENCY,
        )
    }
}

impl Default for Td3Config {
    fn default() -> Self {
        Self {
            hidden: vec![256, 256],
            gamma: 0.99,
            tau: 0.005,
            batch_size: 256,
            buffer_size: 1_000_000,
            learning_starts: 25_000,
            learning_rate: 3e-4,
            policy_noise: 0.2,
            noise_clip: 0.5,
            exploration_noise: 0.1,
            policy_frequency: 2,
        }
    }
}

/// TD3 (Fujimoto et al. 2018; CleanRL's `td3_continuous_action`): twin critics, a deterministic actor updated every `policy_frequency` steps, target policy smoothing, Gaussian exploration.
pub struct Td3 {
    cfg: Td3Config,
    actor_vs: nn::VarStore,
    actor: DeterministicPolicy,
    actor_target_vs: nn::VarStore,
    actor_target: DeterministicPolicy,
    critic_vs: nn::VarStore,
    critic: TwinQ,
    critic_target_vs: nn::VarStore,
    critic_target: TwinQ,
    /// The target actor's and target critics' variables, each in one buffer, for the polyak
    /// update.
    targets_flat: (Tensor, Tensor),
    actor_opt: Adam,
    critic_opt: Adam,
    low: Tensor,
    high: Tensor,
    updates: u64,
    last_actor_loss: f64,
}

impl Td3 {
    /// A TD3 agent for `spec` on `device`.
    pub fn new(spec: &AgentSpec, cfg: Td3Config, device: Device) -> anyhow::Result<Self> {
        let (od, ad) = (spec.obs_dim as i64, spec.act_dim as i64);
        let (lo, hi) = (&spec.act_low, &spec.act_high);
        let actor_vs = nn::VarStore::new(device);
        let actor = DeterministicPolicy::new(&(actor_vs.root() / "actor"), od, &cfg.hidden, lo, hi);
        let mut actor_target_vs = nn::VarStore::new(device);
        let actor_target =
            DeterministicPolicy::new(&(actor_target_vs.root() / "actor"), od, &cfg.hidden, lo, hi);
        hard_update(&mut actor_target_vs, &actor_vs);
        actor_target_vs.freeze();
        let critic_vs = nn::VarStore::new(device);
        let critic = TwinQ::new(&(critic_vs.root() / "critic"), od, ad, &cfg.hidden);
        let mut critic_target_vs = nn::VarStore::new(device);
        let critic_target = TwinQ::new(&(critic_target_vs.root() / "critic"), od, ad, &cfg.hidden);
        hard_update(&mut critic_target_vs, &critic_vs);
        critic_target_vs.freeze();
        let targets_flat = (flatten(&actor_target_vs), flatten(&critic_target_vs));
        let actor_opt = Adam::new(&actor_vs, cfg.learning_rate);
        let critic_opt = Adam::new(&critic_vs, cfg.learning_rate);
        Ok(Self {
            low: Tensor::from_slice(lo).to_device(device),
            high: Tensor::from_slice(hi).to_device(device),
            cfg,
            actor_vs,
            actor,
            actor_target_vs,
            actor_target,
            critic_vs,
            critic,
            critic_target_vs,
            critic_target,
            targets_flat,
            actor_opt,
            critic_opt,
            updates: 0,
            last_actor_loss: 0.0,
        })
    }
}

impl Agent for Td3 {
    fn algo(&self) -> Algo {
        Algo::Td3
    }
    fn act(&self, obs: &Tensor, explore: bool) -> Tensor {
        tch::no_grad(|| {
            let a = self.actor.forward(obs);
            if !explore {
                return a;
            }
            let noise = a.randn_like() * (&self.actor.act.scale * self.cfg.exploration_noise);
            (a + noise).clamp_tensor(Some(&self.low), Some(&self.high))
        })
    }
    fn update(&mut self, buffer: &ReplayBuffer) -> Metrics {
        let b = buffer.sample(self.cfg.batch_size);
        let target: Tensor = tch::no_grad(|| {
            let scale = &self.actor.act.scale;
            let noise = (b.actions.randn_like() * self.cfg.policy_noise * scale).clamp_tensor(
                Some(&(-self.cfg.noise_clip * scale)),
                Some(&(self.cfg.noise_clip * scale)),
            );
            let next_a = (self.actor_target.forward(&b.next_obs) + noise)
                .clamp_tensor(Some(&self.low), Some(&self.high));
            &b.rewards
                + (1.0 - &b.dones) * self.cfg.gamma * self.critic_target.min_q(&b.next_obs, &next_a)
        });
        let q = self.critic.forward(&b.obs, &b.actions);
        let qf_loss = (&q - target.unsqueeze(0))
            .square()
            .mean_dim(1, false, None)
            .sum(None);
        self.critic_opt.backward_step(&qf_loss);
        if self.updates.is_multiple_of(self.cfg.policy_frequency) {
            self.critic_vs.freeze();
            let actor_loss = -self
                .critic
                .q1(&b.obs, &self.actor.forward(&b.obs))
                .mean(None);
            self.actor_opt.backward_step(&actor_loss);
            self.critic_vs.unfreeze();
            self.last_actor_loss = scalar(&actor_loss);
            let (actor_target, critic_target) = &self.targets_flat;
            polyak_update(actor_target, self.actor_opt.flat_params(), self.cfg.tau);
            polyak_update(critic_target, self.critic_opt.flat_params(), self.cfg.tau);
        }
        self.updates += 1;
        vec![
            (metric_names::Q_LOSS, scalar(&qf_loss) / 2.0),
            (metric_names::Q_VALUES, scalar(&q.detach().mean(None))),
            ("losses/actor_loss", self.last_actor_loss),
        ]
    }
    fn deterministic_actor(&self) -> policy::DeterministicActor {
        self.actor.deterministic_actor()
    }
    fn q_value(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        tch::no_grad(|| self.critic.forward(obs, actions).get(0))
    }
    fn posterior_temperature(&self) -> Option<f64> {
        None
    }
    fn action_distribution(&self, obs: &Tensor) -> ActionDistribution {
        tch::no_grad(|| {
            let mean = self.actor.forward(&obs.narrow(0, 0, 1));
            let std = &self.actor.act.scale * self.cfg.exploration_noise;
            ActionDistribution::ClippedGaussian {
                mean: nets::tensor_to_vec(&mean),
                std: nets::tensor_to_vec(&std.expand_as(&mean)),
            }
        })
    }
    fn temperature(&self) -> (&'static str, f64) {
        (NOISE_METRIC, self.cfg.exploration_noise)
    }
    fn networks(&self) -> Vec<(&'static str, &nn::VarStore)> {
        vec![
            ("actor", &self.actor_vs),
            ("actor_target", &self.actor_target_vs),
            ("critic", &self.critic_vs),
            ("critic_target", &self.critic_target_vs),
        ]
    }
    fn networks_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        vec![
            ("actor", &mut self.actor_vs),
            ("actor_target", &mut self.actor_target_vs),
            ("critic", &mut self.critic_vs),
            ("critic_target", &mut self.critic_target_vs),
        ]
    }
    fn set_hidden_matmul(&mut self, matmul: HiddenMatmul) {
        self.actor.set_hidden_matmul(matmul);
        self.actor_target.set_hidden_matmul(matmul);
        self.critic.set_hidden_matmul(matmul);
        self.critic_target.set_hidden_matmul(matmul);
    }
    fn optimizers(&self) -> Vec<(&'static str, &Adam)> {
        vec![("actor", &self.actor_opt), ("critic", &self.critic_opt)]
    }
    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut Adam)> {
        vec![
            ("actor", &mut self.actor_opt),
            ("critic", &mut self.critic_opt),
        ]
    }
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("updates", self.updates as f64),
            ("last_actor_loss", self.last_actor_loss),
        ]
    }
    fn set_scalar(&mut self, name: &str, value: f64) -> anyhow::Result<()> {
        match name {
            "updates" => self.updates = value as u64,
            "last_actor_loss" => self.last_actor_loss = value,
            _ => return Err(super::unknown_scalar(self.algo(), name)),
        }
        Ok(())
    }
}
