//! Runs driven to completion: fresh ([`run`]) or continued from their last checkpoint
//! ([`resume`]), with logs, periodic evaluations and checkpoints, Ctrl-C / SIGTERM handling
//! and `summary.toml` at the end, in a run folder that defends itself ([`RunDir`]).

use super::checkpoint::{self, Counters};
use super::config::TrainConfig;
use super::driver::{
    Checkpoints, Driver, EpisodeLog, Evaluations, Flow, Progress, ProgressLines, Session, UpdateLog,
};
use super::interrupt;
use super::logger::{self, MetricLogger};
use super::run_dir::{CONFIG_FILE, RunDir, SUMMARY_FILE};
use super::{EvalResult, Trainer};
use crate::envs::ResolvedEnv;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::Instant;

/// How a run ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    /// The env trained on.
    pub env: String,
    /// The algorithm.
    pub algo: String,
    /// The run's seed.
    pub seed: u64,
    /// Env steps at the end.
    pub env_steps: u64,
    /// Gradient steps at the end.
    pub updates: u64,
    /// Episodes finished.
    pub episodes: u64,
    /// Seconds of this invocation (a resumed run counts from its resume).
    pub wall_seconds: f64,
    /// Env steps per second of this invocation.
    pub steps_per_second: f64,
    /// A signal stopped the run before its last step.
    pub interrupted: bool,
    /// The final evaluation (none when interrupted).
    pub final_eval: Option<EvalResult>,
    /// The machine this invocation ran on (its host name), and its device.
    #[serde(default)]
    pub host: String,
    /// "cpu" or "cuda(0)".
    #[serde(default)]
    pub device: String,
    /// The [`crate::scene::fingerprint`] of the robot's scene it trained on (none for an env
    /// defined in code, and in summaries from before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene: Option<String>,
}

/// Whether a run that recorded the scene fingerprint `recorded` trained on another robot than
/// the one whose fingerprint is `now`. A run from before fingerprints were kept cannot tell,
/// and counts as the same.
pub fn robot_changed(recorded: Option<&str>, now: Option<&str>) -> bool {
    recorded.is_some_and(|was| now != Some(was))
}

/// This machine's host name ("" if it has none).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    }
}

/// How a run tells its progress on standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feedback {
    /// A progress bar (a terminal).
    Bar,
    /// A line every [`super::driver::PROGRESS_LINE_SECONDS`] (no terminal: nohup, Slurm, a pipe).
    Lines,
    /// Nothing but evaluations.
    Silent,
}

impl Feedback {
    /// A bar on a terminal, lines without one, nothing when `quiet`.
    pub fn for_stderr(quiet: bool) -> Self {
        use std::io::IsTerminal;
        match (quiet, std::io::stderr().is_terminal()) {
            (true, _) => Feedback::Silent,
            (false, true) => Feedback::Bar,
            (false, false) => Feedback::Lines,
        }
    }
}

/// Trains `cfg` on `env` (its env, resolved by the caller) in a new run folder `out`. Nothing
/// is written before the run could be built, and nothing at all in a folder that holds a run
/// or that another process uses.
pub fn run(
    cfg: TrainConfig,
    env: &ResolvedEnv,
    out: &Path,
    progress: Feedback,
) -> Result<RunSummary> {
    let t = Trainer::new(cfg, env)?;
    let dir = RunDir::create(out)?;
    checkpoint::write_atomically(&out.join(CONFIG_FILE), t.cfg.to_toml().as_bytes())?;
    drive(t, &dir, progress)
}

/// Continues the run in `dir` from the newest checkpoint of the run its `config.toml`
/// describes. `adjust` may change what a resumed run can change (total steps, device,
/// evaluation and checkpoint settings). A run folder is where a resumed run meets its env's
/// name, so its env is resolved here, once.
pub fn resume(
    dir: &Path,
    adjust: impl FnOnce(&mut TrainConfig) -> Result<()>,
    progress: Feedback,
) -> Result<RunSummary> {
    let run_dir = RunDir::open(dir)?;
    let own = run_dir.config()?;
    let (path, ckpt) = run_dir.latest_checkpoint(&own)?;
    let mut cfg = ckpt.header.config.clone();
    adjust(&mut cfg)?;
    let done = ckpt.header.counters.env_steps;
    if cfg.steps <= done {
        bail!(
            "the run in {} already has {done} of its {} steps: pass --steps N with N > {done} to extend it",
            dir.display(),
            cfg.steps
        );
    }
    let env = ResolvedEnv::resolve(&cfg.env)?;
    let mut t = Trainer::new(cfg, &env)?;
    let (was, now) = (ckpt.header.scene.as_deref(), t.scene.as_deref());
    if robot_changed(was, now) {
        bail!(
            "the run in {} trained on another {} than there is now (scene fingerprint {}, now {}): its robot or task changed since, so it cannot go on; train a new run (nothing was changed)",
            dir.display(),
            t.cfg.env,
            was.unwrap_or_default(),
            now.unwrap_or("none")
        );
    }
    t.restore(&ckpt)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    // Metrics the interrupted process logged after its last checkpoint are logged again.
    logger::truncate_after(dir, done)?;
    eprintln!(
        "resuming {} from {} ({done} env steps)",
        t.cfg.algo,
        path.display()
    );
    drive(t, &run_dir, progress)
}

fn drive(t: Trainer, dir: &RunDir, progress: Feedback) -> Result<RunSummary> {
    let out = dir.path();
    let log = MetricLogger::create(out, t.cfg.tensorboard)?;
    let bar = progress_bar(progress == Feedback::Bar, t.cfg.steps, t.counters.env_steps);
    let start = Instant::now();
    let start_counters: Counters = t.counters;
    let save = |t: &Trainer| -> Result<()> {
        t.save(&dir.checkpoint_path(t.counters.env_steps, &t.cfg)?)?;
        dir.prune(t.cfg.keep_checkpoints, &t.cfg)
    };
    let (episodes, updates, evals) = (EpisodeLog, UpdateLog::new(&t), Evaluations::new(&t));
    let checkpoints = Checkpoints::new(&t, save);
    let mut driver = Driver::new(t, Session::new(Some(log), bar))
        .with(episodes)
        .with(updates)
        .with(evals)
        .with(checkpoints)
        .with(Progress);
    if progress == Feedback::Lines {
        let lines = ProgressLines::new(&driver.trainer);
        driver = driver.with(lines);
    }
    while driver.trainer.counters.env_steps < driver.trainer.cfg.steps {
        if interrupt::requested() {
            driver.session.interrupted = true;
            break;
        }
        if driver.step(true)?.1 == Flow::Interrupt {
            break;
        }
    }
    driver.finish()?;
    let (t, s) = (&driver.trainer, &driver.session);
    let wall = start.elapsed().as_secs_f64();
    let summary = RunSummary {
        env: t.cfg.env.clone(),
        algo: t.cfg.algo.to_string(),
        seed: t.cfg.seed,
        env_steps: t.counters.env_steps,
        updates: t.counters.updates,
        episodes: t.counters.episodes,
        wall_seconds: wall,
        steps_per_second: (t.counters.env_steps - start_counters.env_steps) as f64 / wall.max(1e-9),
        interrupted: s.interrupted,
        final_eval: s.last_eval.clone(),
        host: host_name(),
        device: format!("{:?}", t.device).to_lowercase(),
        scene: t.scene.clone(),
    };
    checkpoint::write_atomically(
        &out.join(SUMMARY_FILE),
        toml::to_string(&summary)?.as_bytes(),
    )?;
    Ok(summary)
}

fn progress_bar(show: bool, len: u64, pos: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len).with_position(pos);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} {per_sec} eta {eta} | {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}
