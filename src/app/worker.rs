//! [`RunWorker`]: one run's training thread. It owns the run's [`Trainer`] (through the one
//! training [`Driver`]), steps it as fast as its share of the machine allows or at the chosen
//! time scale, and hands the view its latest [`Frame`] and the curve points gathered since the
//! last hand-over. The hand-over is a slot the thread fills and the view empties, each under a
//! lock held only to swap the contents (never across a step): rendering never waits for a
//! gradient step, and training never waits for a frame. The UI's requests arrive as
//! [`Command`]s on a channel.

use super::lab::{CurvePoints, Frame, LiveStats, PosteriorView, TimeScale};
use crate::rl::Metrics;
use crate::rl::metric_names;
use crate::rl::posterior::{self, Posterior};
use crate::runtime;
use crate::sim::Push;
use crate::training::driver::{Callback, Driver, Session};
use crate::training::{StepReport, Trainer, obs_tensor};
use anyhow::Result;
use bevy::math::{Quat, Vec3};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Least time between two hand-overs while running: faster than any screen refreshes.
const PUBLISH_EVERY: Duration = Duration::from_millis(8);
/// At most this much lag (seconds of robot time at the chosen scale) is caught up after a
/// slow stretch; slower machines run slower instead.
const MAX_LAG_SECONDS: f64 = 0.25;
/// The smallest share of a core a training thread is given.
pub const MIN_SHARE: f32 = 0.05;

/// Least time between two posterior passes (a critic pass over a few hundred rows, see
/// `bench posterior`): ten a second is as often as anyone reads the panel.
const POSTERIOR_EVERY: Duration = Duration::from_millis(100);

/// Steps/s and updates/s are measured over windows this long.
const SPEED_WINDOW: Duration = Duration::from_millis(500);

/// A request to a training thread.
#[derive(Debug)]
pub enum Command {
    /// Pause (true) or run.
    Pause(bool),
    /// One vector step while paused.
    Step,
    /// Watch (true: the deterministic policy, no learning) or learn.
    Watch(bool),
    /// The speed.
    TimeScale(TimeScale),
    /// Restarts every episode (the agent keeps what it learned).
    ResetEpisodes,
    /// The share of a core the thread may take, in (0, 1]: after a step of t seconds it rests
    /// t·(1 − share)/share. 1 takes all it can.
    Share(f32),
    /// The copy whose action distribution the frames carry (`None`: no copy of this run).
    Follow(Option<usize>),
    /// Writes a checkpoint there.
    Save(PathBuf),
    /// Whether frames carry the followed copy's posterior, and over which pair of joints.
    Posterior(PosteriorView),
    /// A hand on a copy (copy, push), held at every step until replaced; `None` lets go.
    Push(Option<(usize, Push)>),
    /// Whether frames carry every copy's contact forces.
    Contacts(bool),
}

/// What a thread did that the app must hear about once.
#[derive(Debug)]
pub enum Event {
    /// A checkpoint was written there.
    Saved(PathBuf),
    /// Writing one there failed, with the error.
    SaveFailed(PathBuf, String),
    /// The thread stopped on an error; it takes no more steps.
    Stopped(String),
}

/// The hand-over slot.
#[derive(Default)]
pub struct Handover {
    /// The latest frame, taken by the view.
    pub frame: Option<Frame>,
    /// Curve points since the last hand-over.
    pub points: CurvePoints,
    /// Saves and failures since the last hand-over.
    pub events: Vec<Event>,
}

/// How a thread starts.
#[derive(Clone, Copy, Debug)]
pub struct WorkerOptions {
    /// Start paused.
    pub paused: bool,
    /// Start watching (deterministic policy, no learning).
    pub watching: bool,
    /// Start at this speed.
    pub time_scale: TimeScale,
    /// The copy whose action distribution frames carry.
    pub followed: Option<usize>,
    /// Torch intra-op threads of this thread's gradient steps.
    pub torch_threads: i32,
    /// Share of a core (see [`Command::Share`]).
    pub share: f32,
    /// What of the posterior frames carry.
    pub posterior: PosteriorView,
    /// Frames carry contact forces.
    pub contacts: bool,
}

/// A run's training thread; dropping it stops the thread (within one step) and waits for it.
pub struct RunWorker {
    commands: Sender<Command>,
    handover: Arc<Mutex<Handover>>,
    thread: Option<JoinHandle<()>>,
}

impl RunWorker {
    /// Starts the thread with `trainer`; `extra` callbacks run after each step beside the
    /// hand-over's own (tests add slow ones).
    pub fn spawn(
        trainer: Trainer,
        opts: WorkerOptions,
        extra: Vec<Box<dyn Callback>>,
    ) -> Result<Self> {
        let (tx, rx) = channel();
        let handover = Arc::new(Mutex::new(Handover::default()));
        let shared = handover.clone();
        let thread = std::thread::Builder::new()
            .name(format!("train-{}", trainer.cfg.env))
            .spawn(move || {
                runtime::init_torch(opts.torch_threads);
                let mut driver = Driver::new(
                    trainer,
                    Session::new(None, indicatif::ProgressBar::hidden()),
                );
                for c in extra {
                    driver = driver.with_boxed(c);
                }
                Loop::new(driver, rx, shared, opts).run();
            })?;
        Ok(Self {
            commands: tx,
            handover,
            thread: Some(thread),
        })
    }

    /// Sends a command; a stopped thread ignores it.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Takes what the thread handed over since the last call (a short lock, never across a
    /// step).
    pub fn take(&self) -> Handover {
        std::mem::take(&mut *self.handover.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for RunWorker {
    fn drop(&mut self) {
        // Closing the channel is the stop signal.
        let (dead, _) = channel();
        self.commands = dead;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn metric(m: &Metrics, name: &str) -> Option<f64> {
    m.iter().find(|(k, _)| *k == name).map(|&(_, v)| v)
}

/// The thread's state.
struct Loop {
    driver: Driver<'static>,
    commands: Receiver<Command>,
    handover: Arc<Mutex<Handover>>,
    /// Curve points since the last hand-over.
    points: CurvePoints,
    /// Env steps taken while watching.
    watched_steps: u64,
    opts: WorkerOptions,
    vector_steps: u64,
    /// Vector steps owed to the time scale.
    debt: f64,
    last_tick: Instant,
    last_publish: Option<Instant>,
    speed: (Instant, u64, u64),
    live: LiveStats,
    stopped: bool,
    /// A step was taken since the last hand-over.
    unpublished: bool,
    /// Forward velocity of the latest episodes, one per copy at most.
    velocities: std::collections::VecDeque<f64>,
    /// The followed copy's latest posterior and when it was computed.
    posterior: Option<(Instant, Posterior)>,
    /// The hand on a copy, put back before every step (a reset respawns the copy).
    push: Option<(usize, Push)>,
}

impl Loop {
    fn new(
        driver: Driver<'static>,
        commands: Receiver<Command>,
        handover: Arc<Mutex<Handover>>,
        opts: WorkerOptions,
    ) -> Self {
        let now = Instant::now();
        Self {
            speed: (
                now,
                driver.trainer.counters.env_steps,
                driver.trainer.counters.updates,
            ),
            driver,
            commands,
            handover,
            points: CurvePoints::default(),
            watched_steps: 0,
            opts,
            vector_steps: 0,
            debt: 0.0,
            last_tick: now,
            last_publish: None,
            live: LiveStats::default(),
            stopped: false,
            unpublished: false,
            velocities: Default::default(),
            posterior: None,
            push: None,
        }
    }

    /// Seconds of robot time per vector step.
    fn control_dt(&self) -> f64 {
        self.driver.trainer.env.robots().map_or(0.05, |r| {
            let task = &r.scene().task;
            f64::from(task.timestep) * f64::from(task.frame_skip)
        })
    }

    fn run(mut self) {
        self.publish();
        loop {
            // Commands first; while there is nothing to do, wait for one (or for the time
            // scale's next step).
            let wait = self.idle_for();
            let first = match wait {
                None => self.commands.try_recv().map_err(|e| match e {
                    std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                }),
                Some(d) => self.commands.recv_timeout(d),
            };
            let mut single = false;
            match first {
                Ok(c) => single |= self.apply(c),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while let Ok(c) = self.commands.try_recv() {
                single |= self.apply(c);
            }
            if self.stopped {
                continue;
            }
            let due = if self.opts.paused {
                single
            } else {
                self.owed_steps() >= 1.0
            };
            if !due {
                // Idle (paused, or ahead of the time scale): the view gets the last step.
                if self.unpublished {
                    self.publish();
                }
                continue;
            }
            let learn = !self.opts.watching;
            if let (Some((copy, push)), Some(robots)) =
                (self.push, self.driver.trainer.env.robots_mut())
            {
                robots.set_push(copy, Some(push));
            }
            let began = Instant::now();
            let result = self.driver.step(learn);
            self.rest_after(began.elapsed());
            match result {
                Ok((report, _)) => {
                    self.vector_steps += 1;
                    self.debt -= 1.0;
                    if !learn {
                        self.watched_steps += self.driver.trainer.env.num_envs() as u64;
                    }
                    self.gather_points(&report);
                }
                Err(e) => {
                    self.stopped = true;
                    self.handover_mut()
                        .events
                        .push(Event::Stopped(format!("{e:#}")));
                }
            }
            self.unpublished = true;
            let publish_due = self
                .last_publish
                .is_none_or(|t| t.elapsed() >= PUBLISH_EVERY);
            if single || self.opts.paused || publish_due || self.stopped {
                self.publish();
            }
        }
    }

    /// Rests so that stepping takes [`WorkerOptions::share`] of a core; a command ends the rest
    /// early (it is kept for the loop).
    fn rest_after(&mut self, took: Duration) {
        let share = self.opts.share.clamp(MIN_SHARE, 1.0);
        if share >= 1.0 {
            return;
        }
        let rest = took.mul_f32((1.0 - share) / share);
        std::thread::sleep(rest.min(Duration::from_millis(500)));
    }

    /// How long the thread may wait for a command: `None` when a step is due now.
    fn idle_for(&mut self) -> Option<Duration> {
        if self.stopped || self.opts.paused {
            return Some(Duration::from_millis(50));
        }
        let owed = self.owed_steps();
        match self.opts.time_scale {
            TimeScale::Max => None,
            TimeScale::Times(x) if owed < 1.0 => {
                let rate = f64::from(x) / self.control_dt();
                Some(Duration::from_secs_f64(
                    ((1.0 - owed) / rate).clamp(0.0, 0.05),
                ))
            }
            TimeScale::Times(_) => None,
        }
    }

    /// Vector steps the time scale owes by now.
    fn owed_steps(&mut self) -> f64 {
        let now = Instant::now();
        let dt = (now - self.last_tick).as_secs_f64();
        self.last_tick = now;
        match self.opts.time_scale {
            TimeScale::Max => {
                self.debt = 1.0;
            }
            TimeScale::Times(x) => {
                let rate = f64::from(x) / self.control_dt();
                self.debt = (self.debt + dt * rate).min(rate * MAX_LAG_SECONDS + 1.0);
            }
        }
        self.debt
    }

    /// Carries out a command; true for a single step.
    fn apply(&mut self, c: Command) -> bool {
        match c {
            Command::Pause(p) => {
                self.opts.paused = p;
                self.debt = 0.0;
            }
            Command::Step => return true,
            Command::Watch(w) => self.opts.watching = w,
            Command::Share(share) => self.opts.share = share.clamp(MIN_SHARE, 1.0),
            Command::TimeScale(s) => {
                self.opts.time_scale = s;
                self.debt = 0.0;
            }
            Command::ResetEpisodes => {
                let t = &mut self.driver.trainer;
                let seed = t
                    .cfg
                    .seed
                    .wrapping_add(t.counters.episodes.wrapping_mul(7919));
                t.env.reset(seed);
                self.vector_steps += 1;
                self.publish();
            }
            Command::Follow(copy) => {
                self.opts.followed = copy;
                self.posterior = None;
                self.publish();
            }
            Command::Posterior(view) if view != self.opts.posterior => {
                self.opts.posterior = view;
                self.posterior = None;
                self.publish();
            }
            Command::Posterior(_) => {}
            Command::Push(push) => {
                if let (Some((copy, _)), Some(robots)) =
                    (self.push, self.driver.trainer.env.robots_mut())
                {
                    robots.set_push(copy, None);
                }
                self.push = push;
            }
            Command::Contacts(on) => self.opts.contacts = on,
            Command::Save(path) => {
                let event = match self.driver.trainer.save(&path) {
                    Ok(()) => Event::Saved(path),
                    Err(e) => Event::SaveFailed(path, format!("{e:#}")),
                };
                self.handover_mut().events.push(event);
            }
        }
        false
    }

    /// The step's curve points: episode returns, and after a gradient step the temperature,
    /// mean Q and critic loss.
    fn gather_points(&mut self, step: &StepReport) {
        let t = &self.driver.trainer;
        let x = (t.counters.env_steps + self.watched_steps) as f64;
        let weight = t
            .env
            .robots()
            .map(|r| f64::from(r.scene().task.forward_reward_weight))
            .filter(|&w| w > 0.0);
        let copies = t.env.num_envs();
        let p = &mut self.points;
        for e in &step.episodes {
            p.returns.push([x, e.episode_return]);
            if let (Some(w), Some(f)) = (weight, e.term_sum("forward"))
                && e.length > 0
            {
                self.velocities.push_back(f / w / e.length as f64);
                while self.velocities.len() > copies {
                    self.velocities.pop_front();
                }
                let n = self.velocities.len() as f64;
                self.live.forward_velocity = Some(self.velocities.iter().sum::<f64>() / n);
            }
        }
        if let Some(m) = &step.update {
            p.temperature.push([x, t.agent.temperature().1]);
            if let Some(q) = metric(m, metric_names::Q_VALUES) {
                p.q_values.push([x, q]);
                self.live.q_value = Some(q);
            }
            if let Some(r) = metric(m, metric_names::Q_LOSS) {
                p.bellman_residual.push([x, r]);
                self.live.bellman_residual = Some(r);
            }
        }
    }

    /// Recomputes the followed copy's posterior when the panel shows it and the last one is
    /// older than [`POSTERIOR_EVERY`] (or at each step while paused); its KL joins the curves.
    fn refresh_posterior(&mut self) {
        let t = &self.driver.trainer;
        let n = t.env.num_envs();
        let Some(copy) = self
            .opts
            .followed
            .filter(|&i| i < n && self.opts.posterior.shown)
        else {
            self.posterior = None;
            return;
        };
        let fresh = self
            .posterior
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < POSTERIOR_EVERY && !self.opts.paused);
        if fresh {
            return;
        }
        let dim = t.spec.obs_dim;
        let obs = obs_tensor(&t.env.obs()[copy * dim..(copy + 1) * dim], dim, t.device);
        let p = posterior::posterior(
            t.agent.as_ref(),
            &obs,
            &t.spec.action_bounds(),
            Some(self.opts.posterior.pair),
        );
        if let Some(kl) = p.kl()
            && t.counters.updates > 0
        {
            let x = (t.counters.env_steps + self.watched_steps) as f64;
            self.points.kl.push([x, kl]);
        }
        self.posterior = Some((Instant::now(), p));
    }

    fn handover_mut(&self) -> std::sync::MutexGuard<'_, Handover> {
        self.handover.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Builds the frame (outside the lock), then swaps it in with the points gathered.
    fn publish(&mut self) {
        let t = &self.driver.trainer;
        let now = Instant::now();
        let watched = self.watched_steps;
        let (steps, updates) = (t.counters.env_steps + watched, t.counters.updates);
        let (then, s0, u0) = self.speed;
        if now - then >= SPEED_WINDOW {
            let dt = (now - then).as_secs_f64();
            self.live.steps_per_second = (steps - s0) as f64 / dt;
            self.live.updates_per_second = (updates - u0) as f64 / dt;
            self.speed = (now, steps, updates);
        }
        let n = t.env.num_envs();
        let action_distribution = self.opts.followed.filter(|&i| i < n).map(|i| {
            let dim = t.spec.obs_dim;
            let obs = obs_tensor(&t.env.obs()[i * dim..(i + 1) * dim], dim, t.device);
            t.agent.action_distribution(&obs)
        });
        self.refresh_posterior();
        let t = &self.driver.trainer;
        let poses: Vec<Vec<(Vec3, Quat)>> = (0..n)
            .map(|i| {
                t.env.robots().map_or_else(Vec::new, |r| {
                    r.body_poses(i)
                        .iter()
                        .map(|p| (p.translation, p.rotation))
                        .collect()
                })
            })
            .collect();
        let robots = t.env.robots();
        let contacts = match robots {
            Some(r) if self.opts.contacts => (0..n).map(|i| r.contact_forces(i)).collect(),
            _ => Vec::new(),
        };
        let push = self.push.zip(robots).and_then(|((copy, p), r)| {
            (copy < n && p.body < r.scene().bodies.len())
                .then(|| (copy, r.body_center_of_mass(copy, p.body), p.target))
        });
        let mut live = self.live.clone();
        live.env_steps = t.counters.env_steps;
        live.watched_steps = watched;
        live.updates = updates;
        live.episodes = t.counters.episodes;
        live.recent_return = t.recent_return();
        live.episode_returns = t.env.episode_returns().to_vec();
        live.temperature = (updates > 0).then(|| t.agent.temperature().1);
        let frame = Frame {
            vector_steps: self.vector_steps,
            live,
            poses,
            action_distribution,
            posterior: self.posterior.as_ref().map(|(_, p)| p.clone()),
            contacts,
            push,
        };
        let mut new_points = std::mem::take(&mut self.points);
        let mut h = self.handover_mut();
        h.frame = Some(frame);
        h.points.append(&mut new_points);
        drop(h);
        self.last_publish = Some(now);
        self.unpublished = false;
    }
}
