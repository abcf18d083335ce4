//! VIREL (Fellows, Mahajan, Rudner, Whiteson, NeurIPS 2019): variational inference for RL with
//! the critic's residual error as the policy's temperature. Both published variants:
//!
//! - `virel`: temperature = ε_ω;
//! - `beta-virel`: temperature = beta_scale · ε_ω.
//!
//! ε_ω = (1/(p·|H|))·‖T^π Q̂ − Q̂‖_p^p with the online critics. T^π Q̂(s, a) = r + γ(1 − d)·
//! E_{a'~π}[min_j Q_j(s', a')] holds an expectation over a'; squaring a one-sample target would
//! add γ²·Var_{a'}[Q(s', a')] to every term, a bias that keeps ε_ω (and so the temperature) high
//! for as long as the policy is broad. So two independent a'₁, a'₂ ~ π(s') give targets y₁, y₂
//! and, for p = 2, the unbiased double-sampling estimate (Baird 1995) mean[(Q_i − y₁)(Q_i − y₂)]
//! / 2; for other p, mean|Q_i − (y₁ + y₂)/2|^p / p. ε_ω is the mean over the twin critics i,
//! floored at 0. It measures how far Q̂ is from a fixed point of the Bellman operator: the
//! model's uncertainty about the optimal action. As it goes to 0 the policy collapses onto
//! argmax Q̂. Two estimators ([`EpsilonEstimator`]):
//!
//! - `running` (the default): each gradient step scores the first `epsilon_rows` transitions of
//!   its own minibatch, before the critic moves: Q_i(s, a) comes from the critic step's forward
//!   pass, μ(s'), σ(s') from the TD target's actor pass, so the only new work is one critic
//!   forward pass over 2·`epsilon_rows` rows (s', a'₁), (s', a'₂). ε_ω is the exponential
//!   average of these scores with weight λ = 2k/(N + k) (k = `epsilon_rows`, N =
//!   `epsilon_batch_size`), bias-corrected as Adam's moments are. An exponential average with
//!   weight λ has the variance of a plain mean over (2 − λ)/λ = N/k scores, i.e. over N
//!   transitions, and the same mean age (N/2k steps) as a sliding window of N/k steps: it
//!   stands for "the last N transitions' worth of updates" in two numbers a checkpoint can
//!   carry. Before the first step ε_ω = 1.
//! - `batch` (the authors'): a fresh replay minibatch of `epsilon_batch_size` (4096 in their
//!   code) every `epsilon_every` gradient steps, after the critic step; ε_ω = 1 until the buffer
//!   holds that many transitions. One such pass costs several gradient steps.
//!
//! M-step (critic): minimise the Bellman residual with a target that carries NO entropy term:
//! r + γ(1 − d)·min Q_target(s', a'). E-step (actor): minimise E[temperature·log π(a|s) − Q̂(s, a)].

use super::buffer::{Batch, ReplayBuffer};
use super::optim::Adam;
use super::policy::ActionDistribution;
use super::ranges::{self, KeyError};
use super::registry::{AlgoInfo, Knob, KnobKind, UpdateShape};
use super::soft_actor_critic::{SoftActorCritic, SoftActorCriticConfig, TdTarget};
use super::{
    Agent, AgentSpec, Algo, AlgoConfigs, Metrics, ReplaySettings, metric_names, nets::scalar,
};
use crate::rl::policy;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor, nn};

/// VIREL as the registry knows it.
pub const VIREL: AlgoInfo = AlgoInfo {
    name: "virel",
    display_name: "VIREL",
    colour: [31, 119, 180],
    config_table: "virel",
    temperature_symbol: "ε_ω",
    posterior_temperature_symbol: Some("ε_ω"),
    temperature_metric: EPSILON_METRIC,
    fixed_temperature_key: Some("virel.fixed_temperature"),
    has_python_peers: false,
    knobs: &[ACTOR_LR, CRITIC_LR, REWARD_SCALE, ESTIMATOR, EPSILON_EVERY],
    unread_keys: &["beta_scale"],
    shape,
    build: |c, spec, device| Ok(Box::new(Virel::new(spec, c.virel.clone(), false, device)?)),
};

/// β-VIREL as the registry knows it.
pub const BETA_VIREL: AlgoInfo = AlgoInfo {
    name: "beta-virel",
    display_name: "β-VIREL",
    colour: [148, 103, 189],
    posterior_temperature_symbol: Some("β·ε_ω"),
    fixed_temperature_key: None,
    knobs: &[
        ACTOR_LR,
        CRITIC_LR,
        REWARD_SCALE,
        BETA,
        ESTIMATOR,
        EPSILON_EVERY,
    ],
    unread_keys: &[],
    build: |c, spec, device| Ok(Box::new(Virel::new(spec, c.virel.clone(), true, device)?)),
    ..VIREL
};

/// The metric ε_ω is logged under.
pub const EPSILON_METRIC: &str = "virel/epsilon";

const ACTOR_LR: Knob = Knob::learning_rate("policy_lr", "actor lr");
const CRITIC_LR: Knob = Knob::learning_rate("q_lr", "critic lr");
const REWARD_SCALE: Knob = Knob {
    key: "reward_scale",
    label: "reward scale",
    kind: KnobKind::Log { lo: 0.01, hi: 10.0 },
    shown_if: None,
};
const BETA: Knob = Knob {
    key: "beta_scale",
    label: "β",
    kind: KnobKind::Log { lo: 1e-4, hi: 1.0 },
    shown_if: None,
};
const ESTIMATOR: Knob = Knob {
    key: "epsilon_estimator",
    label: "ε_ω estimator",
    kind: KnobKind::Choice(&[
        ("running", "running (each step's minibatch)"),
        ("batch", "batch (authors': 4096 fresh)"),
    ]),
    shown_if: None,
};
const EPSILON_EVERY: Knob = Knob {
    key: "epsilon_every",
    label: "ε_ω every k updates",
    kind: KnobKind::Whole { lo: 1, hi: 50 },
    shown_if: Some(("epsilon_estimator", "batch")),
};

fn shape(c: &AlgoConfigs) -> UpdateShape<'_> {
    let v = &c.virel;
    UpdateShape {
        hidden: &v.hidden,
        batch_size: v.batch_size,
        extra_batch: v.epsilon_batch_size,
        actor_outputs: 2.0,
        actor_copies: 1.0,
        replay: ReplaySettings {
            buffer_size: v.buffer_size,
            learning_starts: v.learning_starts,
        },
        learning_rates: (v.policy_lr, v.q_lr),
    }
}

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
    /// How ε_ω is estimated: `running` (from each gradient step's own minibatch, averaged over
    /// the last `epsilon_batch_size` transitions' worth of steps) or `batch` (the authors': a
    /// fresh minibatch of `epsilon_batch_size` every `epsilon_every` steps). See the module docs.
    pub epsilon_estimator: EpsilonEstimator,
    /// Transitions ε_ω averages over: the `batch` estimator's minibatch (the authors: 4096),
    /// the `running` estimator's window.
    pub epsilon_batch_size: i64,
    /// `running`: transitions of each gradient step's minibatch that ε_ω scores (the whole
    /// minibatch where `batch_size` is smaller).
    pub epsilon_rows: i64,
    /// `batch`: gradient steps between re-estimates of ε_ω (the authors: 1). The 4096-sample
    /// pass costs several gradient steps (`bench updates` measures both).
    pub epsilon_every: u64,
    /// `running`: every this many gradient steps, also run the `batch` pass and log its value
    /// as `virel/epsilon_pass`, next to `virel/epsilon` (0: never). For checking that the two
    /// agree; each check costs one `batch` pass.
    pub epsilon_check_every: u64,
    /// The p of the residual norm ‖T Q̂ − Q̂‖_p^p (2: mean squared Bellman error / 2).
    pub p: f64,
    /// Temperature multiplier of the `beta-virel` variant (unused by `virel`). 0.01, from the
    /// authors' grid: the TF2 re-implementation's 4e-4 collapsed the hopper's policy entropy
    /// to −14.6 nats within 7k steps (docs/results.md).
    pub beta_scale: f64,
    /// Multiplier of the rewards the critic learns from (the authors' `reward_scale`). Scaling
    /// rewards by c scales Q̂ by c and ε_ω by c², so the `virel` temperature relative to
    /// Q̂ moves by c: the one lever that variant has over how greedy it is.
    pub reward_scale: f64,
    /// A temperature the actor uses in place of ε_ω (β·ε_ω for `beta-virel`) when > 0: the
    /// control that asks whether ε_ω's movement matters or only its level. ε_ω is still
    /// estimated and logged. 0 (the default): the temperature is ε_ω.
    pub fixed_temperature: f64,
    /// Bounds of the policy's log standard deviation.
    pub log_std_min: f64,
    /// Upper bound of the log standard deviation.
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
        ranges::at_least("epsilon_rows", self.epsilon_rows, 1)?;
        ranges::at_least("epsilon_every", self.epsilon_every, 1)?;
        ranges::positive_at_most("p", self.p, 10.0)?;
        ranges::positive("beta_scale", self.beta_scale)?;
        ranges::positive("reward_scale", self.reward_scale)?;
        ranges::non_negative("fixed_temperature", self.fixed_temperature)?;
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
            epsilon_estimator: EpsilonEstimator::Running,
            epsilon_batch_size: 4096,
            epsilon_rows: 64,
            epsilon_every: 1,
            epsilon_check_every: 0,
            p: 2.0,
            beta_scale: 0.01,
            reward_scale: 1.0,
            fixed_temperature: 0.0,
            log_std_min: -5.0,
            log_std_max: 2.0,
        }
    }
}

/// How ε_ω is estimated (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpsilonEstimator {
    /// From each gradient step's own minibatch, exponentially averaged over
    /// `epsilon_batch_size` transitions' worth of steps.
    #[default]
    Running,
    /// The authors': a fresh minibatch of `epsilon_batch_size` every `epsilon_every` steps.
    Batch,
}

/// The `running` estimator's state: a bias-corrected exponential average of per-step scores.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunningEpsilon {
    /// Σ_t λ(1 − λ)^(T−t)·score_t.
    pub average: f64,
    /// Σ_t λ(1 − λ)^(T−t) = 1 − (1 − λ)^T: what the average is divided by.
    pub weight: f64,
}

impl RunningEpsilon {
    /// The weight of a new score of `rows` transitions in an average over `window` transitions.
    pub fn lambda(rows: i64, window: i64) -> f64 {
        (2.0 * rows as f64 / (window + rows) as f64).min(1.0)
    }

    /// Folds in a new score with weight `lambda`.
    pub fn add(&mut self, score: f64, lambda: f64) {
        self.average += lambda * (score - self.average);
        self.weight += lambda * (1.0 - self.weight);
    }

    /// The estimate, floored at 0; 1 before any score.
    pub fn value(&self) -> f64 {
        if self.weight > 0.0 {
            (self.average / self.weight).max(0.0)
        } else {
            1.0
        }
    }
}

/// VIREL and β-VIREL (Fellows et al. 2019): a soft actor-critic whose temperature is ε_ω, the residual Bellman error of its critic (times β for β-VIREL).
pub struct Virel {
    cfg: VirelConfig,
    beta: bool,
    nets: SoftActorCritic,
    epsilon: f64,
    running: RunningEpsilon,
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
            running: RunningEpsilon::default(),
            updates: 0,
        })
    }

    /// The actor's temperature: ε_ω, or beta_scale·ε_ω, or `fixed_temperature` where set.
    pub fn actor_temperature(&self) -> f64 {
        if self.cfg.fixed_temperature > 0.0 {
            self.cfg.fixed_temperature
        } else if self.beta {
            self.cfg.beta_scale * self.epsilon
        } else {
            self.epsilon
        }
    }

    /// ε_ω on a fresh minibatch of `epsilon_batch_size` (the `batch` estimator's pass), or
    /// `None` while the buffer holds fewer transitions.
    pub fn estimate_epsilon(&self, buffer: &ReplayBuffer) -> Option<f64> {
        ((buffer.len() as i64) >= self.cfg.epsilon_batch_size)
            .then(|| self.epsilon_on(buffer, self.cfg.epsilon_batch_size))
    }

    /// ε_ω on `n` transitions drawn (with replacement) from a non-empty `buffer`.
    pub fn epsilon_on(&self, buffer: &ReplayBuffer, n: i64) -> f64 {
        let batch = self.scaled(buffer.sample(n));
        residual_error(&self.nets, &batch, self.cfg.gamma, self.cfg.p)
    }

    /// The `running` estimate after scoring one more minibatch with the critic as it is, and
    /// no gradient step: what [`Agent::update`] adds to it, for checking the estimator.
    pub fn observe_residual(&mut self, buffer: &ReplayBuffer) -> f64 {
        let batch = self.scaled(buffer.sample(self.cfg.batch_size));
        let td = self.nets.td_target(&batch, self.cfg.gamma, 0.0);
        let targets = self.scored_targets(&batch, &td);
        let k = self.scored_rows();
        let q_sa = tch::no_grad(|| {
            self.nets
                .critic
                .forward(&batch.obs.narrow(0, 0, k), &batch.actions.narrow(0, 0, k))
        });
        self.add_score(&q_sa, targets)
    }

    /// Adds the score of Q_i(s, a) (`[2, B]`, B ≥ [`Self::scored_rows`]) against the scored
    /// targets to the running estimate, and returns the estimate.
    fn add_score(&mut self, q_sa: &Tensor, (y1, y2): (Tensor, Tensor)) -> f64 {
        let k = self.scored_rows();
        let score = residual_score(&q_sa.narrow(1, 0, k), &y1, &y2, self.cfg.p);
        self.running.add(
            score,
            RunningEpsilon::lambda(k, self.cfg.epsilon_batch_size),
        );
        self.running.value()
    }

    /// Transitions of each minibatch the `running` estimator scores.
    fn scored_rows(&self) -> i64 {
        self.cfg.epsilon_rows.min(self.cfg.batch_size)
    }

    /// The double-sampled targets y₁, y₂ of the first [`Self::scored_rows`] transitions of
    /// `batch`, from the TD target's actor pass at s'; taken before the critic step, as the
    /// Q(s, a) they are scored against.
    #[inline(never)]
    fn scored_targets(&self, batch: &Batch, td: &TdTarget) -> (Tensor, Tensor) {
        let rows = |t: &Tensor| t.narrow(0, 0, self.scored_rows());
        let mean = rows(&td.next_mean);
        double_sampled_targets(
            &self.nets,
            &rows(&batch.next_obs),
            &rows(&batch.rewards),
            &rows(&batch.dones),
            (&mean, &rows(&td.next_log_std)),
            &two_draws(&mean),
            self.cfg.gamma,
        )
    }

    fn scaled(&self, mut batch: Batch) -> Batch {
        if self.cfg.reward_scale != 1.0 {
            batch.rewards *= self.cfg.reward_scale;
        }
        batch
    }
}

/// Rows of the authors' pass scored at a time. Its 4096 transitions in one piece make
/// activations of 2 × 8192 × 256 floats (16 MB) that the allocator returns to the system and
/// faults in again at every layer; in pieces of 512 they stay in the cache and the heap.
pub const PASS_CHUNK: i64 = 512;

/// The two targets r + γ(1 − d)·min_j Q_j(s', a'_k), k = 1, 2, of the double-sampling
/// estimate, with a'₁, a'₂ two independent draws from the actor's distribution (μ, log σ) at s'
/// (standard normal `noise` `[2B, A]`: rows 0..B draw a'₁, rows B..2B a'₂) and the online
/// critics, in one critic pass. Each `[B]`.
fn double_sampled_targets(
    nets: &SoftActorCritic,
    next_obs: &Tensor,
    rewards: &Tensor,
    dones: &Tensor,
    (mean, log_std): (&Tensor, &Tensor),
    noise: &Tensor,
    gamma: f64,
) -> (Tensor, Tensor) {
    tch::no_grad(|| {
        let n = next_obs.size()[0];
        let next_a = nets.actor.action_with_noise(
            &Tensor::cat(&[mean, mean], 0),
            &Tensor::cat(&[log_std, log_std], 0),
            noise,
        );
        let next_q = nets
            .critic
            .min_q(&Tensor::cat(&[next_obs, next_obs], 0), &next_a);
        let bootstrap = (1.0 - dones) * gamma;
        (
            rewards + &bootstrap * next_q.narrow(0, 0, n),
            rewards + &bootstrap * next_q.narrow(0, n, n),
        )
    })
}

/// Standard normal noise for the two draws a'₁, a'₂ at each row of `actions` (`[B, A]`, any
/// tensor of that shape, e.g. the actor's means), `[2B, A]`: rows 0..B for a'₁, B..2B for a'₂.
fn two_draws(actions: &Tensor) -> Tensor {
    let (b, a) = (actions.size()[0], actions.size()[1]);
    Tensor::randn([2 * b, a], (Kind::Float, actions.device()))
}

/// The sum over critics i and rows j of the residual terms of Q_i(s, a) (`[2, B]`) against
/// the targets y₁, y₂ (`[B]`): (Q_i − y₁)(Q_i − y₂) for p = 2 (unbiased, may be negative),
/// else |Q_i − (y₁ + y₂)/2|^p. A scalar tensor.
fn residual_terms(q_sa: &Tensor, y1: &Tensor, y2: &Tensor, p: f64) -> Tensor {
    tch::no_grad(|| {
        if p == 2.0 {
            ((q_sa - y1.unsqueeze(0)) * (q_sa - y2.unsqueeze(0))).sum(None)
        } else {
            (q_sa - ((y1 + y2) * 0.5).unsqueeze(0))
                .abs()
                .pow_tensor_scalar(p)
                .sum(None)
        }
    })
}

/// The residual score of Q_i(s, a) (`[2, B]`) against y₁, y₂: the mean of
/// [`residual_terms`] over both critics and the rows, divided by p.
fn residual_score(q_sa: &Tensor, y1: &Tensor, y2: &Tensor, p: f64) -> f64 {
    score_of_terms(&residual_terms(q_sa, y1, y2, p), q_sa.numel(), p)
}

/// The score from a sum of `entries` residual terms (both critics' rows): their mean over p.
fn score_of_terms(sum: &Tensor, entries: usize, p: f64) -> f64 {
    scalar(sum) / (entries as f64 * p)
}

/// ε_ω on `batch` (see the module docs): twin online critics, two samples a'₁, a'₂ ~ π(s'),
/// scored [`PASS_CHUNK`] rows at a time.
pub fn residual_error(nets: &SoftActorCritic, batch: &Batch, gamma: f64, p: f64) -> f64 {
    residual_error_in_chunks(nets, batch, gamma, p, PASS_CHUNK)
}

/// [`residual_error`] scored `chunk` rows at a time. The noise of all 2B draws is drawn
/// first, in the order one piece would draw it, so the value does not depend on `chunk`
/// beyond the order of float sums.
pub fn residual_error_in_chunks(
    nets: &SoftActorCritic,
    batch: &Batch,
    gamma: f64,
    p: f64,
    chunk: i64,
) -> f64 {
    tch::no_grad(|| {
        let (n, act_dim, chunk) = (batch.obs.size()[0], batch.actions.size()[1], chunk.max(1));
        // Row j of a' draw k at [k, j]: each piece takes its rows of both draws.
        let noise = two_draws(&batch.actions).view([2, n, act_dim]);
        let mut sum = Tensor::zeros([], (Kind::Float, batch.obs.device()));
        for start in (0..n).step_by(chunk as usize) {
            let len = chunk.min(n - start);
            let rows = |t: &Tensor| t.narrow(0, start, len);
            let q_sa = nets
                .critic
                .forward(&rows(&batch.obs), &rows(&batch.actions));
            let next_obs = rows(&batch.next_obs);
            let (mean, log_std) = nets.actor.distribution(&next_obs);
            let (y1, y2) = double_sampled_targets(
                nets,
                &next_obs,
                &rows(&batch.rewards),
                &rows(&batch.dones),
                (&mean, &log_std),
                &noise.narrow(1, start, len).reshape([2 * len, act_dim]),
                gamma,
            );
            sum += residual_terms(&q_sa, &y1, &y2, p);
        }
        score_of_terms(&sum, 2 * n as usize, p).max(0.0)
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
        let td = self.nets.td_target(&batch, self.cfg.gamma, 0.0);
        let running = self.cfg.epsilon_estimator == EpsilonEstimator::Running;
        let targets = running.then(|| self.scored_targets(&batch, &td));
        let critic = self.nets.critic_step(&batch, &td.target);
        let mut pass = None;
        match targets {
            Some(targets) => {
                // Q(s, a) from the critic step's forward pass, before its Adam step.
                self.epsilon = self.add_score(&critic.q, targets);
                let every = self.cfg.epsilon_check_every;
                if every > 0 && (self.updates + 1).is_multiple_of(every) {
                    pass = self.estimate_epsilon(buffer);
                }
            }
            None => {
                if self.updates.is_multiple_of(self.cfg.epsilon_every.max(1))
                    && let Some(eps) = self.estimate_epsilon(buffer)
                {
                    self.epsilon = eps;
                }
            }
        }
        self.updates += 1;
        // E-step: the actor at temperature ε_ω (or β·ε_ω).
        let temperature = self.actor_temperature();
        let (actor_loss, logp) = self.nets.actor_step(&batch.obs, temperature);
        self.nets.update_target(self.cfg.tau);
        let mut m = vec![
            (metric_names::Q_LOSS, critic.loss),
            (metric_names::Q_VALUES, critic.q_mean),
            ("losses/actor_loss", actor_loss),
            ("losses/entropy", -scalar(&logp.mean(None))),
            (EPSILON_METRIC, self.epsilon),
            ("virel/temperature", temperature),
        ];
        if let Some(eps) = pass {
            m.push(("virel/epsilon_pass", eps));
        }
        m
    }
    fn deterministic_actor(&self) -> policy::DeterministicActor {
        self.nets.actor.deterministic_actor()
    }
    fn q_value(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        tch::no_grad(|| self.nets.critic.min_q(obs, actions))
    }
    fn posterior_temperature(&self) -> Option<f64> {
        Some(self.actor_temperature())
    }
    fn action_distribution(&self, obs: &Tensor) -> ActionDistribution {
        self.nets.actor.action_distribution(obs)
    }
    fn temperature(&self) -> (&'static str, f64) {
        (EPSILON_METRIC, self.epsilon)
    }
    fn networks(&self) -> Vec<(&'static str, &nn::VarStore)> {
        self.nets.networks()
    }
    fn networks_mut(&mut self) -> Vec<(&'static str, &mut nn::VarStore)> {
        self.nets.networks_mut()
    }
    fn set_hidden_matmul(&mut self, matmul: super::nets::HiddenMatmul) {
        self.nets.set_hidden_matmul(matmul);
    }
    fn optimizers(&self) -> Vec<(&'static str, &Adam)> {
        self.nets.optimizers()
    }
    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut Adam)> {
        self.nets.optimizers_mut()
    }
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("epsilon", self.epsilon),
            ("epsilon_average", self.running.average),
            ("epsilon_weight", self.running.weight),
            ("updates", self.updates as f64),
        ]
    }
    fn set_scalar(&mut self, name: &str, value: f64) -> anyhow::Result<()> {
        match name {
            "epsilon" => self.epsilon = value,
            "epsilon_average" => self.running.average = value,
            "epsilon_weight" => self.running.weight = value,
            "updates" => self.updates = value as u64,
            _ => return Err(super::unknown_scalar(self.algo(), name)),
        }
        Ok(())
    }
}
