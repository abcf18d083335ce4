//! Training: the collect → update loop ([`Trainer`]), evaluation, checkpoints, metric logs,
//! and the run configuration. The loop is stepwise so that headless `train` and (later) the
//! desktop app drive the same code.

pub mod checkpoint;
pub mod config;
pub mod logger;

use crate::envs::{Env, VecEnv};
use crate::rl::buffer::ReplayBuffer;
use crate::rl::{Agent, AgentSpec, Metrics};
use anyhow::{Context, Result, bail};
use checkpoint::{Counters, Header};
use config::TrainConfig;
use logger::MetricLogger;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Episodes averaged in "recent return".
const RECENT_EPISODES: usize = 10;

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

/// Actions tensor back to a flat Vec.
pub fn tensor_to_vec(t: &Tensor) -> Vec<f32> {
    let t = t
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous()
        .view([-1]);
    let mut v = vec![0f32; t.numel()];
    let n = v.len();
    t.copy_data(&mut v, n);
    v
}

/// Mean and spread of deterministic-policy returns.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalResult {
    pub mean: f64,
    pub std: f64,
    pub returns: Vec<f64>,
}

/// Runs `episodes` episodes of `agent`'s deterministic policy on a fresh `env`; episode k is
/// seeded with `seed + k`.
pub fn evaluate(
    agent: &dyn Agent,
    env: &mut dyn Env,
    episodes: usize,
    seed: u64,
    device: Device,
) -> Result<EvalResult> {
    let dim = env.observation_space().dim();
    let mut returns = Vec::with_capacity(episodes);
    for k in 0..episodes {
        let mut obs = env.reset(Some(seed + k as u64));
        let mut total = 0.0;
        loop {
            let action = tensor_to_vec(&agent.act(&obs_tensor(&obs, dim, device), false));
            if action.iter().any(|a| !a.is_finite()) {
                bail!("the policy produced a non-finite action during evaluation");
            }
            let s = env.step(&action);
            total += f64::from(s.reward);
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
    Ok(EvalResult { mean, std, returns })
}

/// What one [`Trainer::step`] did.
#[derive(Clone, Debug, Default)]
pub struct StepReport {
    pub episodes: Vec<crate::envs::EpisodeEnd>,
    /// Metrics of the last gradient step, if any ran.
    pub update: Option<Metrics>,
}

/// One run's state: env copies, agent, replay buffer and counters.
pub struct Trainer {
    pub cfg: TrainConfig,
    pub spec: AgentSpec,
    pub device: Device,
    pub env: VecEnv,
    pub agent: Box<dyn Agent>,
    pub buffer: ReplayBuffer,
    pub counters: Counters,
    rng: StdRng,
    update_debt: f64,
    recent: VecDeque<f64>,
}

impl Trainer {
    /// Seeds everything from `cfg.seed` and builds env, agent and buffer.
    pub fn new(cfg: TrainConfig) -> Result<Self> {
        cfg.validate()?;
        let device = cfg.device.resolve()?;
        crate::runtime::init_torch(cfg.torch_threads);
        seed_torch(cfg.seed);
        let mut env = VecEnv::make(&cfg.env, cfg.num_envs)?;
        env.reset(cfg.seed);
        let spec = AgentSpec::of(&env);
        let agent = cfg.build_agent(&spec, device)?;
        let buffer =
            ReplayBuffer::new(cfg.replay().buffer_size, spec.obs_dim, spec.act_dim, device);
        Ok(Self {
            rng: StdRng::seed_from_u64(cfg.seed ^ 0x5eed_0f_ac71),
            cfg,
            spec,
            device,
            env,
            agent,
            buffer,
            counters: Counters::default(),
            update_debt: 0.0,
            recent: VecDeque::new(),
        })
    }

    /// Mean return of the last episodes, if any ended.
    pub fn recent_return(&self) -> Option<f64> {
        (!self.recent.is_empty())
            .then(|| self.recent.iter().sum::<f64>() / self.recent.len() as f64)
    }

    fn random_actions(&mut self) -> Vec<f32> {
        let space = self.env.action_space().clone();
        (0..self.env.num_envs())
            .flat_map(|_| space.low.iter().zip(&space.high))
            .map(|(&l, &h)| self.rng.random_range(l..=h))
            .collect()
    }

    /// Steps every env copy once, stores the transitions, and runs the gradient steps due.
    pub fn step(&mut self) -> Result<StepReport> {
        let learning_starts = self.cfg.replay().learning_starts;
        let obs = self.env.obs().to_vec();
        let actions = if self.counters.env_steps < learning_starts {
            self.random_actions()
        } else {
            tensor_to_vec(
                &self
                    .agent
                    .act(&obs_tensor(&obs, self.spec.obs_dim, self.device), true),
            )
        };
        if let Some(i) = actions.iter().position(|a| !a.is_finite()) {
            bail!(
                "non-finite action (component {i}) at env step {}",
                self.counters.env_steps
            );
        }
        let s = self.env.step(&actions);
        if let Some(i) = s
            .next_obs
            .iter()
            .chain(&s.rewards)
            .position(|x| !x.is_finite())
        {
            bail!(
                "the env '{}' returned a non-finite observation or reward (value {i}) at env step {}",
                self.spec.env,
                self.counters.env_steps
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
        let mut update = None;
        if self.counters.env_steps >= learning_starts {
            self.update_debt += self.cfg.updates_per_step * n as f64;
            while self.update_debt >= 1.0 {
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
                update = Some(m);
            }
        }
        Ok(StepReport {
            episodes: s.episodes,
            update,
        })
    }

    pub fn evaluate(&self, episodes: usize) -> Result<EvalResult> {
        let mut env = crate::envs::make(&self.cfg.env)?;
        evaluate(
            self.agent.as_ref(),
            env.as_mut(),
            episodes,
            self.cfg.seed.wrapping_add(1_000_003),
            self.device,
        )
    }

    pub fn header(&self) -> Header {
        Header {
            virel_lab_version: env!("CARGO_PKG_VERSION").into(),
            spec: self.spec.clone(),
            counters: self.counters,
            config: self.cfg.clone(),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        checkpoint::save(path, &self.header(), self.agent.as_ref())
    }

    /// Loads networks and counters from a checkpoint made for the same env (optimiser state
    /// and replay buffer start fresh).
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let ckpt = checkpoint::load(path)?;
        let ctx = || format!("checkpoint {}", path.display());
        ckpt.check_spec(&self.spec).with_context(ctx)?;
        if ckpt.header.config.algo != self.cfg.algo {
            bail!(
                "{}: holds a {} agent, this run trains {}",
                ctx(),
                ckpt.header.config.algo,
                self.cfg.algo
            );
        }
        ckpt.restore(self.agent.as_mut()).with_context(ctx)?;
        self.counters = ckpt.header.counters;
        Ok(())
    }
}

/// How a [`run`] ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    pub env: String,
    pub algo: String,
    pub seed: u64,
    pub env_steps: u64,
    pub updates: u64,
    pub episodes: u64,
    pub wall_seconds: f64,
    pub steps_per_second: f64,
    pub interrupted: bool,
    pub final_eval: Option<EvalResult>,
}

/// Set by Ctrl-C / SIGTERM: the run saves a checkpoint and stops.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C / SIGTERM handler: the first signal asks the run to stop after
/// checkpointing; a second one exits at once (the last checkpoint on disk is intact either way).
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: saving a checkpoint, then stopping (Ctrl-C again to quit now)");
    });
}

/// Trains `cfg` to completion in `out`: logs, periodic evaluations and checkpoints, a final
/// checkpoint and `summary.toml`. `progress` shows a progress bar on a terminal.
pub fn run(cfg: TrainConfig, out: &Path, progress: bool) -> Result<RunSummary> {
    if out.join(checkpoint::FILE_NAME).exists() {
        bail!(
            "{} already holds a run (checkpoint.ckpt): choose another --out, nothing was changed",
            out.display()
        );
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create run folder {}", out.display()))?;
    std::fs::write(out.join("config.toml"), cfg.to_toml())
        .with_context(|| format!("cannot write {}", out.join("config.toml").display()))?;
    let mut t = Trainer::new(cfg)?;
    let mut log = MetricLogger::create(out, t.cfg.tensorboard)?;
    let ckpt_path: PathBuf = out.join(checkpoint::FILE_NAME);
    let bar = progress_bar(progress, t.cfg.steps);
    let start = Instant::now();
    let (mut next_eval, mut next_ckpt) = (t.cfg.eval_every, t.cfg.checkpoint_every);
    let mut last_sps = (Instant::now(), 0u64);
    let mut interrupted = false;
    while t.counters.env_steps < t.cfg.steps {
        if INTERRUPTED.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        let before_updates = t.counters.updates;
        let report = t.step()?;
        let step = t.counters.env_steps;
        for e in &report.episodes {
            log.log_all(
                step,
                &[
                    ("charts/episodic_return", e.episode_return),
                    ("charts/episodic_length", e.length as f64),
                ],
            )?;
        }
        if let Some(m) = &report.update
            && t.cfg.log_every > 0
            && t.counters.updates / t.cfg.log_every > before_updates / t.cfg.log_every
        {
            log.log_all(step, m)?;
            let (when, at) = last_sps;
            let sps = (step - at) as f64 / when.elapsed().as_secs_f64().max(1e-9);
            log.log(step, "charts/SPS", sps)?;
            last_sps = (Instant::now(), step);
        }
        if t.cfg.eval_every > 0 && step >= next_eval && step < t.cfg.steps {
            next_eval += t.cfg.eval_every;
            let r = t.evaluate(t.cfg.eval_episodes)?;
            log.log_all(
                step,
                &[
                    ("eval/episodic_return", r.mean),
                    ("eval/episodic_return_std", r.std),
                ],
            )?;
            bar.suspend(|| eprintln!("step {step:>8}: eval return {:.1} ± {:.1}", r.mean, r.std));
        }
        if t.cfg.checkpoint_every > 0 && step >= next_ckpt {
            next_ckpt += t.cfg.checkpoint_every;
            log.flush()?;
            t.save(&ckpt_path)?;
        }
        bar.set_position(step.min(t.cfg.steps));
        if step % 50 < t.env.num_envs() as u64 {
            let (tname, tval) = t.agent.temperature();
            let short = tname.rsplit('/').next().unwrap_or(tname);
            let ret = t
                .recent_return()
                .map_or("–".to_owned(), |r| format!("{r:.1}"));
            bar.set_message(format!("return {ret} | {short} {tval:.4}"));
        }
    }
    let final_eval = if interrupted {
        None
    } else {
        Some(t.evaluate(t.cfg.eval_episodes)?)
    };
    if let Some(r) = &final_eval {
        log.log_all(
            t.counters.env_steps,
            &[
                ("eval/episodic_return", r.mean),
                ("eval/episodic_return_std", r.std),
            ],
        )?;
    }
    log.flush()?;
    t.save(&ckpt_path)?;
    bar.finish_and_clear();
    let wall = start.elapsed().as_secs_f64();
    let summary = RunSummary {
        env: t.cfg.env.clone(),
        algo: t.cfg.algo.to_string(),
        seed: t.cfg.seed,
        env_steps: t.counters.env_steps,
        updates: t.counters.updates,
        episodes: t.counters.episodes,
        wall_seconds: wall,
        steps_per_second: t.counters.env_steps as f64 / wall.max(1e-9),
        interrupted,
        final_eval,
    };
    std::fs::write(out.join("summary.toml"), toml::to_string(&summary)?)?;
    Ok(summary)
}

fn progress_bar(show: bool, len: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} {per_sec} eta {eta} | {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// Loads a checkpoint into a fresh agent for its env and evaluates the deterministic policy.
/// `expect_env` refuses a checkpoint of another env.
pub fn evaluate_checkpoint(
    path: &Path,
    episodes: usize,
    expect_env: Option<&str>,
    device: Device,
    seed: u64,
) -> Result<(Header, EvalResult)> {
    let ckpt = checkpoint::load(path)?;
    let h = ckpt.header.clone();
    let env_name = expect_env.unwrap_or(&h.spec.env);
    let mut env =
        crate::envs::make(env_name).with_context(|| format!("checkpoint {}", path.display()))?;
    let spec = AgentSpec::of(&VecEnv::new(vec![crate::envs::make(env_name)?])?);
    ckpt.check_spec(&spec)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    let mut agent = h.config.build_agent(&spec, device)?;
    ckpt.restore(agent.as_mut())
        .with_context(|| format!("checkpoint {}", path.display()))?;
    let r = evaluate(agent.as_ref(), env.as_mut(), episodes, seed, device)?;
    Ok((h, r))
}
