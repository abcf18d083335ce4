//! [`Trainer`]: one run's env copies, agent, replay buffer and counters, advanced one vector
//! step at a time (collect → store → gradient steps), saved and restored whole.

use super::checkpoint::{self, Checkpoint, Counters, Header, ResumeState};
use super::config::TrainConfig;
use super::memory;
use super::{EvalResult, evaluate, obs_tensor, seed_torch, tensor_to_vec};
use crate::envs::{EpisodeEnd, ResolvedEnv, VecEnv};
use crate::rl::buffer::ReplayBuffer;
use crate::rl::{Agent, AgentSpec, Metrics};
use crate::runtime;
use anyhow::{Context, Result, bail};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::path::Path;
use tch::Device;

/// Episodes averaged in "recent return".
const RECENT_EPISODES: usize = 10;

/// What one [`Trainer::step`] did.
#[derive(Clone, Debug, Default)]
pub struct StepReport {
    /// Episodes that ended in this step.
    pub episodes: Vec<EpisodeEnd>,
    /// Metrics of the last gradient step, if any ran.
    pub update: Option<Metrics>,
}

/// One run: its env copies, agent, replay buffer, counters and random generators.
pub struct Trainer {
    /// The config it was built from.
    pub cfg: TrainConfig,
    /// The env's sizes the agent was built for.
    pub spec: AgentSpec,
    /// The [`crate::scene::fingerprint`] of its robot's scene (none for an env defined in code).
    pub scene: Option<String>,
    /// The env it trains on, resolved once: evaluations make their copies from it.
    pub resolved: ResolvedEnv,
    /// Where the networks and the replay buffer live.
    pub device: Device,
    /// The env copies, stepped together.
    pub env: VecEnv,
    /// VIREL, β-VIREL, SAC or TD3.
    pub agent: Box<dyn Agent>,
    /// Transitions the gradient steps sample from.
    pub buffer: ReplayBuffer,
    /// Env steps, gradient steps and episodes so far.
    pub counters: Counters,
    rng: ChaCha8Rng,
    update_debt: f64,
    recent: VecDeque<f64>,
    /// No gradient steps before this env step: refills a replay buffer that a checkpoint
    /// without one could not restore.
    warmup_until: u64,
}

/// The torch seed of a run from `env_steps` on. Torch's generator state cannot be read back,
/// so every checkpoint reseeds it: a resumed run and the run it continues draw the same
/// numbers from then on.
fn torch_seed(seed: u64, env_steps: u64) -> u64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ env_steps.rotate_left(32));
    rng.random::<u64>() >> 1
}

/// Reset seeds of a run's evaluation episodes are `eval_seed(seed) + k`: blocks of
/// [`EVAL_SEED_STRIDE`] apart, so runs with seeds below 2^32 never share a start state
/// (consecutive run seeds once gave blocks 1 apart, and seeds 1 and 2 shared 9 of their 10
/// evaluation episodes), and away from the training envs' own seeds.
pub fn eval_seed(seed: u64) -> u64 {
    seed.wrapping_mul(EVAL_SEED_STRIDE)
        .wrapping_add(EVAL_SEED_OFFSET)
}

/// Evaluation episodes a run may hold before its start states meet the next seed's.
pub const EVAL_SEED_STRIDE: u64 = 1 << 32;
const EVAL_SEED_OFFSET: u64 = 0x5eed_0000_0000_0000;

impl Trainer {
    /// Seeds everything from `cfg.seed` and builds env copies (from `env`, the config's env
    /// resolved once by the caller), agent and buffer.
    pub fn new(cfg: TrainConfig, env: &ResolvedEnv) -> Result<Self> {
        if env.name() != cfg.env {
            bail!(
                "the run's env is '{}' but '{}' was resolved for it",
                cfg.env,
                env.name()
            );
        }
        let resolved = env.clone();
        let spec = AgentSpec::of_resolved(env);
        let scene = env.fingerprint().map(str::to_owned);
        cfg.check_keys()?;
        let device = cfg.device.resolve()?;
        runtime::init_torch(cfg.torch_threads);
        seed_torch(cfg.seed);
        // Sizes are checked against the machine's memory before anything big is allocated.
        memory::check_run(&cfg, &spec)?;
        let mut env = resolved.make_vec(cfg.num_envs)?;
        env.reset(cfg.seed);
        let agent = cfg.build_agent(&spec, device)?;
        let buffer =
            ReplayBuffer::new(cfg.replay().buffer_size, spec.obs_dim, spec.act_dim, device)?;
        Ok(Self {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x005e_ed0f_ac71),
            cfg,
            spec,
            scene,
            resolved,
            device,
            env,
            agent,
            buffer,
            counters: Counters::default(),
            update_debt: 0.0,
            recent: VecDeque::new(),
            warmup_until: 0,
        })
    }

    /// Mean return of the last episodes, if any ended.
    pub fn recent_return(&self) -> Option<f64> {
        (!self.recent.is_empty())
            .then(|| self.recent.iter().sum::<f64>() / self.recent.len() as f64)
    }

    fn random_actions(&mut self) -> Vec<f32> {
        let copies = self.env.num_envs();
        self.env
            .action_space()
            .sample_uniform(&mut self.rng, copies)
    }

    /// Steps every env copy once, stores the transitions, and runs the gradient steps due.
    pub fn step(&mut self) -> Result<StepReport> {
        let episodes = self.collect()?;
        let mut update = None;
        while let Some(m) = self.update_once()? {
            update = Some(m);
        }
        Ok(StepReport { episodes, update })
    }

    /// Gradient steps owed by the env steps collected so far.
    pub fn updates_due(&self) -> bool {
        self.update_debt >= 1.0
    }

    /// Runs one owed gradient step, if any.
    pub fn update_once(&mut self) -> Result<Option<Metrics>> {
        if !self.updates_due() {
            return Ok(None);
        }
        self.update_debt -= 1.0;
        let m = self.agent.update(&self.buffer);
        self.counters.updates += 1;
        if let Some((name, v)) = m.iter().find(|(_, v)| !v.is_finite()) {
            bail!(
                "non-finite {name} = {v} at env step {} (gradient step {})",
                self.counters.env_steps,
                self.counters.updates
            );
        }
        Ok(Some(m))
    }

    /// Steps every env copy once and stores the transitions; gradient steps become due
    /// (`updates_per_step` per transition) once learning has started.
    pub fn collect(&mut self) -> Result<Vec<EpisodeEnd>> {
        let learning_starts = self.cfg.replay().learning_starts;
        let step = self.counters.env_steps;
        let obs = self.env.obs().to_vec();
        let actions = if step < learning_starts {
            self.random_actions()
        } else {
            tensor_to_vec(
                &self
                    .agent
                    .act(&obs_tensor(&obs, self.spec.obs_dim, self.device), true),
            )
        };
        if let Some(i) = actions.iter().position(|a| !a.is_finite()) {
            bail!("non-finite action (component {i}) at env step {step}");
        }
        let s = self.env.step(&actions);
        if let Some(i) = s.next_obs.iter().position(|x| !x.is_finite()) {
            bail!(
                "the env '{}' returned a non-finite observation (component {i}) at env step {step}",
                self.spec.env
            );
        }
        if let Some(i) = s.rewards.iter().position(|x| !x.is_finite()) {
            bail!(
                "the env '{}' returned a non-finite reward (copy {i}) at env step {step}",
                self.spec.env
            );
        }
        self.buffer
            .push(&obs, &actions, &s.rewards, &s.next_obs, &s.terminated);
        let n = self.env.num_envs() as u64;
        self.counters.env_steps += n;
        self.counters.episodes += s.episodes.len() as u64;
        for e in &s.episodes {
            self.recent.push_back(e.episode_return);
            if self.recent.len() > RECENT_EPISODES {
                self.recent.pop_front();
            }
        }
        if self.counters.env_steps >= learning_starts.max(self.warmup_until) {
            self.update_debt += self.cfg.updates_per_step * n as f64;
        }
        Ok(s.episodes)
    }

    /// Steps every copy with the deterministic policy, learning nothing and storing nothing:
    /// watching a policy.
    pub fn watch_step(&mut self) -> Result<Vec<EpisodeEnd>> {
        let obs = obs_tensor(self.env.obs(), self.spec.obs_dim, self.device);
        let actions = tensor_to_vec(&self.agent.act(&obs, false));
        if let Some(i) = actions.iter().position(|a| !a.is_finite()) {
            bail!("non-finite action (component {i})");
        }
        Ok(self.env.step(&actions).episodes)
    }

    /// Deterministic-policy evaluation on fresh env copies (the training envs are untouched),
    /// from the start states of [`eval_seed`]: the same at every evaluation of a run and for
    /// every algorithm with this seed, different for every other seed.
    pub fn evaluate(&self, episodes: usize) -> Result<EvalResult> {
        let mut env = self.resolved.make()?;
        evaluate(
            self.agent.as_ref(),
            env.as_mut(),
            episodes,
            eval_seed(self.cfg.seed),
            self.device,
        )
    }

    /// The checkpoint header of the run as it stands: versions, sizes, counters, config and what a resume needs.
    pub fn header(&self) -> Header {
        Header {
            virel_lab_version: env!("CARGO_PKG_VERSION").into(),
            spec: self.spec.clone(),
            counters: self.counters,
            config: self.cfg.clone(),
            scene: self.scene.clone(),
            resume: ResumeState {
                agent_scalars: self
                    .agent
                    .scalars()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                rng: self.rng.clone(),
                envs: self.env.snapshot(),
                update_debt: self.update_debt,
                recent_returns: self.recent.iter().copied().collect(),
                buffer: self.cfg.checkpoint_buffer.then(|| self.buffer.meta()),
            },
        }
    }

    /// Writes a checkpoint (atomically), then reseeds torch for what follows (see
    /// [`torch_seed`]).
    pub fn save(&self, path: &Path) -> Result<()> {
        let extra = if self.cfg.checkpoint_buffer {
            self.buffer.tensors()
        } else {
            Vec::new()
        };
        checkpoint::save(path, &self.header(), self.agent.as_ref(), extra)?;
        seed_torch(torch_seed(self.cfg.seed, self.counters.env_steps));
        Ok(())
    }

    fn check_compatible(&self, ckpt: &Checkpoint) -> Result<()> {
        ckpt.check_spec(&self.spec)?;
        if ckpt.header.config.algo != self.cfg.algo {
            bail!(
                "holds a {} agent, this run trains {}",
                ckpt.header.config.algo,
                self.cfg.algo
            );
        }
        Ok(())
    }

    /// Loads the weights, agent scalars (ε_ω) and counters of a checkpoint made for the same
    /// env and algorithm; optimiser state and replay buffer start fresh. For watching or
    /// fine-tuning a policy.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let ckpt = checkpoint::load(path)?;
        let ctx = || format!("checkpoint {}", path.display());
        self.check_compatible(&ckpt).with_context(ctx)?;
        ckpt.restore_weights(self.agent.as_mut())
            .with_context(ctx)?;
        ckpt.restore_scalars(self.agent.as_mut())
            .with_context(ctx)?;
        self.counters = ckpt.header.counters;
        Ok(())
    }

    /// Continues exactly where `ckpt` stopped: weights, optimiser moments, agent scalars,
    /// counters, random generators, env states and the replay buffer. Without a saved buffer
    /// the run first collects `learning_starts` fresh transitions with its policy.
    pub fn restore(&mut self, ckpt: &Checkpoint) -> Result<()> {
        self.check_compatible(ckpt)?;
        ckpt.restore_agent(self.agent.as_mut())?;
        let r = &ckpt.header.resume;
        self.env.restore(&r.envs)?;
        self.counters = ckpt.header.counters;
        self.rng = r.rng.clone();
        self.update_debt = r.update_debt;
        self.recent = r.recent_returns.iter().copied().collect();
        if !ckpt.restore_buffer(&mut self.buffer)? {
            self.warmup_until = self.counters.env_steps + self.cfg.replay().learning_starts;
        }
        seed_torch(torch_seed(self.cfg.seed, self.counters.env_steps));
        Ok(())
    }
}
