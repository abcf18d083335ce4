//! [`Driver`]: the one training loop. It advances a [`Trainer`] one vector step at a time and
//! hands each step to its [`Callback`]s, the way Stable-Baselines3's `learn()` takes
//! callbacks: headless `train` adds metric logs, evaluations, checkpoints and a progress bar
//! ([`run`](super::run)); the desktop app's training thread adds the hand-over to the view.

use super::logger::{MetricLogger, names};
use super::{EvalResult, StepReport, Trainer};
use crate::training::interrupt::Interrupted;
use anyhow::Result;
use std::time::Instant;

/// Whether the loop goes on after a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop now (a signal cut an evaluation short): the run is interrupted.
    Interrupt,
}

/// What the callbacks of one loop share: the metric log, the progress bar, the latest
/// evaluation.
pub struct Session {
    /// `None`: nothing is written (the desktop app).
    pub log: Option<MetricLogger>,
    /// Progress bar (hidden when not shown).
    pub bar: indicatif::ProgressBar,
    /// The latest evaluation (the final one at the end of a finished run).
    pub last_eval: Option<EvalResult>,
    /// A signal or a callback stopped the loop early.
    pub interrupted: bool,
}

impl Session {
    /// A session writing to `log` (if any) and `bar`.
    pub fn new(log: Option<MetricLogger>, bar: indicatif::ProgressBar) -> Self {
        Self {
            log,
            bar,
            last_eval: None,
            interrupted: false,
        }
    }

    /// Logs metrics at `step`, if this session writes a log.
    pub fn log(&mut self, step: u64, metrics: &[(&str, f64)]) -> Result<()> {
        match &mut self.log {
            Some(l) => l.log_all(step, metrics),
            None => Ok(()),
        }
    }
}

/// Something done after every vector step and at the end of the loop.
pub trait Callback: Send {
    /// After every vector step: what it did, and the session to log to.
    fn on_step(&mut self, _t: &Trainer, _step: &StepReport, _s: &mut Session) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// At the end (`s.interrupted` says whether the run finished).
    fn on_end(&mut self, _t: &Trainer, _s: &mut Session) -> Result<()> {
        Ok(())
    }
}

/// A trainer and its callbacks.
pub struct Driver<'a> {
    /// The run it advances.
    pub trainer: Trainer,
    /// What its callbacks share.
    pub session: Session,
    callbacks: Vec<Box<dyn Callback + 'a>>,
}

impl<'a> Driver<'a> {
    /// A driver without callbacks.
    pub fn new(trainer: Trainer, session: Session) -> Self {
        Self {
            trainer,
            session,
            callbacks: Vec::new(),
        }
    }

    /// Adds a callback; they run in the order added.
    pub fn with(mut self, callback: impl Callback + 'a) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Adds a boxed callback.
    pub fn with_boxed(mut self, callback: Box<dyn Callback + 'a>) -> Self {
        self.callbacks.push(callback);
        self
    }

    /// One vector step, then the callbacks: learning (collect, store, the gradient steps due)
    /// or watching (the deterministic policy acts; nothing is learnt or stored). Returns what
    /// the step did, and whether a callback interrupted the run.
    pub fn step(&mut self, learn: bool) -> Result<(StepReport, Flow)> {
        let report = if learn {
            self.trainer.step()?
        } else {
            StepReport {
                episodes: self.trainer.watch_step()?,
                update: None,
            }
        };
        for c in &mut self.callbacks {
            if c.on_step(&self.trainer, &report, &mut self.session)? == Flow::Interrupt {
                self.session.interrupted = true;
                return Ok((report, Flow::Interrupt));
            }
        }
        Ok((report, Flow::Continue))
    }

    /// Ends the loop: every callback's `on_end`, in order.
    pub fn finish(&mut self) -> Result<()> {
        for c in &mut self.callbacks {
            c.on_end(&self.trainer, &mut self.session)?;
        }
        Ok(())
    }
}

/// Logs every finished episode's return and length.
pub struct EpisodeLog;

impl Callback for EpisodeLog {
    fn on_step(&mut self, t: &Trainer, step: &StepReport, s: &mut Session) -> Result<Flow> {
        for e in &step.episodes {
            s.log(
                t.counters.env_steps,
                &[
                    (names::EPISODIC_RETURN, e.episode_return),
                    (names::EPISODIC_LENGTH, e.length as f64),
                ],
            )?;
        }
        Ok(Flow::Continue)
    }
}

/// Logs the last gradient step's metrics and env steps/s every `every` gradient steps.
pub struct UpdateLog {
    every: u64,
    last_updates: u64,
    since: (Instant, u64),
}

impl UpdateLog {
    /// Logs every `log_every` gradient steps of `t`'s config.
    pub fn new(t: &Trainer) -> Self {
        Self {
            every: t.cfg.log_every,
            last_updates: t.counters.updates,
            since: (Instant::now(), t.counters.env_steps),
        }
    }
}

impl Callback for UpdateLog {
    fn on_step(&mut self, t: &Trainer, step: &StepReport, s: &mut Session) -> Result<Flow> {
        let before = std::mem::replace(&mut self.last_updates, t.counters.updates);
        let (Some(m), every) = (&step.update, self.every) else {
            return Ok(Flow::Continue);
        };
        if every == 0 || t.counters.updates / every == before / every {
            return Ok(Flow::Continue);
        }
        let now = t.counters.env_steps;
        let (when, at) = self.since;
        let sps = (now - at) as f64 / when.elapsed().as_secs_f64().max(1e-9);
        s.log(now, m)?;
        s.log(now, &[(names::SPS, sps)])?;
        self.since = (Instant::now(), now);
        Ok(Flow::Continue)
    }
}

/// The first multiple of `every` after `step` (u64::MAX when `every` is 0: never).
fn next_multiple(step: u64, every: u64) -> u64 {
    step.checked_div(every)
        .map_or(u64::MAX, |k| (k + 1) * every)
}

/// Evaluates the deterministic policy every `eval_every` env steps and once at the end of a
/// finished run; logs `eval/episodic_return` and its spread, prints a line.
pub struct Evaluations {
    next: u64,
}

impl Evaluations {
    /// Evaluates every `eval_every` env steps of `t`'s config.
    pub fn new(t: &Trainer) -> Self {
        Self {
            next: next_multiple(t.counters.env_steps, t.cfg.eval_every),
        }
    }

    fn evaluate(t: &Trainer, s: &mut Session) -> Result<Flow> {
        let step = t.counters.env_steps;
        let r = match t.evaluate(t.cfg.eval_episodes) {
            Ok(r) => r,
            Err(e) if e.is::<Interrupted>() => return Ok(Flow::Interrupt),
            Err(e) => return Err(e),
        };
        s.log(
            step,
            &[
                (names::EVAL_RETURN, r.mean),
                (names::EVAL_RETURN_STD, r.std),
            ],
        )?;
        s.bar
            .suspend(|| eprintln!("step {step:>8}: eval return {:.1} ± {:.1}", r.mean, r.std));
        s.last_eval = Some(r);
        Ok(Flow::Continue)
    }
}

impl Callback for Evaluations {
    fn on_step(&mut self, t: &Trainer, _: &StepReport, s: &mut Session) -> Result<Flow> {
        let step = t.counters.env_steps;
        if step < self.next || step >= t.cfg.steps {
            return Ok(Flow::Continue);
        }
        self.next = next_multiple(step, t.cfg.eval_every);
        Self::evaluate(t, s)
    }

    fn on_end(&mut self, t: &Trainer, s: &mut Session) -> Result<()> {
        s.last_eval = None;
        if !s.interrupted && Self::evaluate(t, s)? == Flow::Interrupt {
            s.interrupted = true;
        }
        Ok(())
    }
}

/// Writes a checkpoint every `checkpoint_every` env steps and at the end, through `save`
/// (which knows the run folder).
pub struct Checkpoints<F> {
    next: u64,
    save: F,
}

impl<F: FnMut(&Trainer) -> Result<()> + Send> Checkpoints<F> {
    /// Saves every `checkpoint_every` env steps of `t`'s config through `save`.
    pub fn new(t: &Trainer, save: F) -> Self {
        Self {
            next: next_multiple(t.counters.env_steps, t.cfg.checkpoint_every),
            save,
        }
    }

    fn save(&mut self, t: &Trainer, s: &mut Session) -> Result<()> {
        if let Some(l) = &mut s.log {
            l.flush()?;
        }
        (self.save)(t)
    }
}

impl<F: FnMut(&Trainer) -> Result<()> + Send> Callback for Checkpoints<F> {
    fn on_step(&mut self, t: &Trainer, _: &StepReport, s: &mut Session) -> Result<Flow> {
        let step = t.counters.env_steps;
        if step >= self.next && step < t.cfg.steps {
            self.next = next_multiple(step, t.cfg.checkpoint_every);
            self.save(t, s)?;
        }
        Ok(Flow::Continue)
    }

    fn on_end(&mut self, t: &Trainer, s: &mut Session) -> Result<()> {
        if s.interrupted {
            s.bar.suspend(|| {
                eprintln!(
                    "interrupted by {}: saving a checkpoint at step {}, then stopping (a second \
                     signal quits at once)",
                    super::interrupt::signal_name(),
                    t.counters.env_steps
                )
            });
        }
        self.save(t, s)
    }
}

/// Seconds between two [`ProgressLines`].
pub const PROGRESS_LINE_SECONDS: f64 = 30.0;

/// Progress as a line on standard error every [`PROGRESS_LINE_SECONDS`], for a run without a
/// terminal (nohup, Slurm, `tee`): env steps, speed, gradient steps, recent return and the
/// temperature.
pub struct ProgressLines {
    start: std::time::Instant,
    last: std::time::Instant,
    start_steps: u64,
}

impl ProgressLines {
    /// Lines from now on for a run at `t`'s step.
    pub fn new(t: &Trainer) -> Self {
        let now = std::time::Instant::now();
        Self {
            start: now,
            last: now,
            start_steps: t.counters.env_steps,
        }
    }

    /// The line for `t` after `seconds` of this session.
    pub fn line(t: &Trainer, seconds: f64, steps_per_second: f64) -> String {
        let (name, value) = t.agent.temperature();
        let short = name.rsplit('/').next().unwrap_or(name);
        let ret = t
            .recent_return()
            .map_or("–".to_owned(), |r| format!("{r:.1}"));
        let (step, total) = (t.counters.env_steps, t.cfg.steps);
        format!(
            "[{seconds:.0} s] {step}/{total} env steps ({:.0}%), {steps_per_second:.0} steps/s, \
             {} updates, recent return {ret}, {short} {value:.4}",
            100.0 * step as f64 / total.max(1) as f64,
            t.counters.updates
        )
    }
}

impl Callback for ProgressLines {
    fn on_step(&mut self, t: &Trainer, _: &StepReport, _: &mut Session) -> Result<Flow> {
        if self.last.elapsed().as_secs_f64() >= PROGRESS_LINE_SECONDS {
            self.last = std::time::Instant::now();
            let seconds = self.start.elapsed().as_secs_f64();
            let sps = (t.counters.env_steps - self.start_steps) as f64 / seconds.max(1e-9);
            eprintln!("{}", Self::line(t, seconds, sps));
        }
        Ok(Flow::Continue)
    }
}

/// The progress bar: position, recent return and the temperature.
pub struct Progress;

impl Callback for Progress {
    fn on_step(&mut self, t: &Trainer, _: &StepReport, s: &mut Session) -> Result<Flow> {
        let step = t.counters.env_steps;
        s.bar.set_position(step.min(t.cfg.steps));
        if step % 50 < t.env.num_envs() as u64 {
            let (name, value) = t.agent.temperature();
            let short = name.rsplit('/').next().unwrap_or(name);
            let ret = t
                .recent_return()
                .map_or("–".to_owned(), |r| format!("{r:.1}"));
            s.bar
                .set_message(format!("return {ret} | {short} {value:.4}"));
        }
        Ok(Flow::Continue)
    }

    fn on_end(&mut self, _: &Trainer, s: &mut Session) -> Result<()> {
        s.bar.finish_and_clear();
        Ok(())
    }
}
