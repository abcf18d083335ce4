//! The command line: `virel-lab` (the desktop app) and `app | play | train | eval | config |
//! scene | bench | sweep | report | export`.

use crate::app::view::RenderQuality;
use crate::envs::counterexample::Solution;
use crate::export::Format;
use crate::record::RecordOptions;
use crate::rl::Algo;
use crate::study::{pool, select, slurm, sweep};
use crate::training::config::{ConfigBuilder, DeviceChoice, TrainConfig, default_run_dir};
use crate::training::{checkpoint, interrupt};
use crate::{app, bench, envs, export, record, runtime, scene, study, training};
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "virel-lab",
    version,
    about = "Train and watch VIREL, β-VIREL, SAC and TD3 agents.",
    long_about = "Train and watch VIREL, β-VIREL, SAC and TD3 agents. Without a command: the \
                  desktop app, half-cheetahs learning VIREL from scratch (8 on CUDA, 4 on a CPU)."
)]
/// The command line.
pub struct Cli {
    /// What to do (the desktop app without one).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// The desktop app: robots learning in 3D, with ε_ω, action distributions and learning
    /// curves (the default command).
    App(AppArgs),
    /// Watch a saved checkpoint's deterministic policy in the desktop app, without training.
    Play(PlayArgs),
    /// Render a checkpoint's policy to a video (MP4 via ffmpeg, else GIF), off-screen: no
    /// display needed. One frame per control step at a fixed frame rate.
    Record(RecordArgs),
    /// Train an agent headless, with a progress bar, CSV + TensorBoard logs and checkpoints.
    Train(TrainArgs),
    /// Evaluate a checkpoint's deterministic policy: mean return over N episodes.
    Eval(EvalArgs),
    /// Print the fully resolved training config (TOML), to start a config file from.
    Config(ConfigArgs),
    /// Check a robot scene (a shipped name, a .ron file or a MuJoCo MJCF .xml) and summarise
    /// it; `--to-ron` writes an imported MJCF model as a scene file.
    Scene {
        /// half_cheetah, hopper, walker2d, ant, humanoid, path/to/robot.ron or path/to/robot.xml
        scene: String,
        /// Write the scene file of an MJCF model there (the task from its sidecar
        /// robot.task.ron, else forward-velocity defaults).
        #[arg(long, value_name = "FILE")]
        to_ron: Option<PathBuf>,
    },
    /// Benchmarks, each next to its peer in the same invocation: updates/s (PyTorch), env
    /// steps/s and random gaits (Gymnasium + MuJoCo), the posterior panel's cost, end-to-end
    /// training (Stable-Baselines3, SBX), and learning on Pendulum.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Run a grid of runs (envs × algorithms × variants × seeds) from a sweep file: on this
    /// machine (--local -j N), as a Slurm job array (--slurm), or one cell (--cell K).
    /// Finished cells are skipped and interrupted ones resumed.
    Sweep(SweepArgs),
    /// Learning curves (IQM across seeds, 95% bootstrap bands) as PNG and SVG, a table of
    /// final returns per env × algorithm (Markdown, CSV), and the probability of improvement
    /// over SAC, from run folders.
    Report(ReportArgs),
    /// Write a checkpoint's deterministic policy (observation → action in the env's units) as
    /// ONNX or TorchScript, the observation layout in the ONNX model's metadata.
    Export(ExportArgs),
    /// VIREL's counterexample to maximum-entropy RL: π(a1|s0) of
    /// MERL (soft value iteration at temperature c) and of VIREL (temperature ε_ω from its own
    /// Q), backup by backup from Q = 0, next to MERL's closed form. a2 is optimal.
    Counterexample(CounterexampleArgs),
}

/// `virel-lab counterexample`.
#[derive(Args, Debug)]
pub struct CounterexampleArgs {
    /// MERL's temperature c (> 0).
    #[arg(long, default_value_t = 1.0)]
    pub c: f64,
    /// Discount γ, in [0, 1).
    #[arg(long, default_value_t = 0.99)]
    pub gamma: f64,
    /// Actions in s1 (≥ 1): the entropy a1 leads to.
    #[arg(long, default_value_t = 100)]
    pub k1: usize,
    /// The p of VIREL's residual norm (≥ 1; 2: mean squared Bellman error / 2).
    #[arg(long, default_value_t = 2.0)]
    pub p: f64,
}

/// The most actions `counterexample --k1` takes.
const MAX_K1: usize = 1_000_000;

/// `virel-lab export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Checkpoint file, or a run folder (its newest checkpoint).
    #[arg(long, value_name = "FILE|DIR")]
    pub checkpoint: PathBuf,
    /// The model file to write.
    #[arg(long, default_value = "policy.onnx", value_name = "FILE")]
    pub out: PathBuf,
    /// onnx, or torchscript (default: from --out's extension, .pt for TorchScript).
    #[arg(long, value_enum)]
    pub format: Option<export::Format>,
    /// Replace --out if it exists.
    #[arg(long)]
    pub overwrite: bool,
}

/// `virel-lab report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Run folders, or folders of run folders (a sweep's `out` or `archive`).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Folder for curves-ENV.png/.svg, results.md and results.csv.
    #[arg(long, default_value = "report", value_name = "DIR")]
    pub out: PathBuf,
    /// Also put results.md into this Markdown file, between `<!-- report:begin -->` and
    /// `<!-- report:end -->`.
    #[arg(long, value_name = "FILE")]
    pub readme: Option<PathBuf>,
    /// The label the probability of improvement is taken against, as the table's algorithm
    /// column spells it (e.g. "VIREL"). Default: SAC, and no such section where no run is SAC.
    #[arg(long, value_name = "LABEL")]
    pub baseline: Option<String>,
    /// Also draw this training metric per env, as metrics.csv names it (e.g. virel/epsilon,
    /// losses/entropy, losses/qf_loss): curves-ENV-NAME.png/.svg, the IQM across seeds of each
    /// run's mean per 1% of the longest run, for the runs that log it. Repeatable.
    #[arg(long = "metric", value_name = "NAME")]
    pub metrics: Vec<String>,
}

/// `virel-lab sweep`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["local", "slurm", "cell", "status", "select"])))]
pub struct SweepArgs {
    /// The sweep file (TOML): name, out, steps, envs, algos, seeds, [set], [variants.NAME],
    /// [variants_from], [select], [slurm].
    pub file: PathBuf,
    /// Run the cells on this machine, -j at a time.
    #[arg(long)]
    pub local: bool,
    /// Cells at once with --local (each pinned to its own core when there are enough).
    #[arg(short = 'j', long, default_value_t = 1, requires = "local")]
    pub jobs: usize,
    /// Write the job-array script to OUT/sweep.sbatch and submit it with sbatch.
    #[arg(long)]
    pub slurm: bool,
    /// With --local or --slurm: print the cells (and the script) and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start, resume or skip one cell (what each array task and pool worker runs).
    #[arg(long, value_name = "K")]
    pub cell: Option<usize>,
    /// Print every cell and where it stands.
    #[arg(long)]
    pub status: bool,
    /// Apply the sweep's [select] rule to its finished cells: print every variant's value and
    /// write each algorithm's pick to the rule's `out` file.
    #[arg(long)]
    pub select: bool,
    /// Train every cell on this device instead of the one its config names.
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Torch CPU threads per cell instead of its config's `torch_threads` (a Slurm task gets
    /// its `cpus_per_task`); with --local each cell is pinned to this many cores of its own.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1024))]
    pub threads: Option<i32>,
    /// Every cell this many env steps long instead of the file's `steps`: the same grid,
    /// longer (a cluster's 1M), finished cells resumed and carried on.
    #[arg(long)]
    pub steps: Option<u64>,
    /// No progress bar (a cell run by --cell).
    #[arg(long)]
    pub quiet: bool,
}

/// Options that shape a run's config; each overrides the config file and `--set`.
#[derive(Args, Clone, Debug, Default)]
pub struct ConfigArgs {
    /// TOML config file (see `virel-lab config` for every key and its default).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Environment: hopper, half_cheetah, walker2d, ant, humanoid, pendulum, identity, or a
    /// scene file of your own robot (path/to/robot.ron) or a MuJoCo MJCF model (path/to/robot.xml).
    /// Gymnasium's ids (Hopper-v5, HalfCheetah-v4, Pendulum-v1) and other spellings
    /// (half-cheetah) select the same env.
    #[arg(long, value_parser = parse_env)]
    pub env: Option<String>,
    /// Algorithm (any case).
    #[arg(long, value_enum, ignore_case = true)]
    pub algo: Option<Algo>,
    /// Total environment steps (all copies together): 100000, 100_000 or 1e5.
    #[arg(long, visible_alias = "total-timesteps", value_parser = parse_count)]
    pub steps: Option<u64>,
    /// Seed: two runs with the same seed on the CPU are identical.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Env copies stepped together.
    #[arg(long, visible_alias = "n-envs")]
    pub num_envs: Option<usize>,
    /// Where the networks run: auto picks CUDA when available.
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Torch CPU threads.
    #[arg(long)]
    pub threads: Option<i32>,
    /// Environment steps between evaluations (0: only at the end).
    #[arg(long, visible_alias = "eval-freq", value_parser = parse_count)]
    pub eval_every: Option<u64>,
    /// Episodes per evaluation.
    #[arg(long)]
    pub eval_episodes: Option<usize>,
    /// Environment steps between checkpoints (0: only at the end).
    #[arg(long, value_parser = parse_count)]
    pub checkpoint_every: Option<u64>,
    /// Override any config key, e.g. `--set virel.beta_scale=0.004 --set sac.hidden=[64,64]`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl ConfigArgs {
    /// The run's config: file, `--set`, then the flags.
    pub fn resolve(&self) -> Result<TrainConfig> {
        self.resolve_with(ConfigBuilder::new(
            self.config.as_deref(),
            self.env.as_deref(),
        )?)
    }

    /// The desktop app's config: its defaults for the env, then file, `--set`, flags.
    pub fn resolve_desktop(&self) -> Result<TrainConfig> {
        let env = self.env.as_deref().unwrap_or(app::DEFAULT_ENV);
        let base = app::desktop_config(
            env,
            self.algo.unwrap_or(crate::rl::registry::SUBJECT),
            self.num_envs.unwrap_or_else(app::default_copies),
            self.seed.unwrap_or(1),
        );
        self.resolve_with(ConfigBuilder::from_base(&base, self.config.as_deref())?)
    }

    fn resolve_with(&self, mut b: ConfigBuilder) -> Result<TrainConfig> {
        for s in &self.set {
            b.set(s)?;
        }
        b.set_flag("env", self.env.as_ref(), "--env")?;
        b.set_flag("algo", self.algo.as_ref(), "--algo")?;
        b.set_flag("seed", self.seed.as_ref(), "--seed")?;
        b.set_flag("num_envs", self.num_envs.as_ref(), "--num-envs")?;
        self.set_schedule_flags(&mut b)?;
        b.build()
    }

    /// Applies the flags a resumed run may change; the others are refused, since they would
    /// make the checkpoint's state meaningless.
    pub fn adjust_resumed(&self, cfg: &mut TrainConfig) -> Result<()> {
        let fixed = [
            ("--config", self.config.is_some()),
            ("--env", self.env.is_some()),
            ("--algo", self.algo.is_some()),
            ("--seed", self.seed.is_some()),
            ("--num-envs", self.num_envs.is_some()),
            ("--set", !self.set.is_empty()),
        ];
        if let Some((flag, _)) = fixed.iter().find(|f| f.1) {
            anyhow::bail!(
                "{flag} cannot change a resumed run (it trains {} on {}, seed {})",
                cfg.algo,
                cfg.env,
                cfg.seed
            );
        }
        let mut b = ConfigBuilder::from_base(cfg, None)?;
        self.set_schedule_flags(&mut b)?;
        *cfg = b.build()?;
        Ok(())
    }

    /// Length, device and evaluation/checkpoint schedule: what any run may set
    /// ([`crate::training::config::SCHEDULE_KEYS`]).
    fn set_schedule_flags(&self, b: &mut ConfigBuilder) -> Result<()> {
        b.set_flag("steps", self.steps.as_ref(), "--steps")?;
        b.set_flag("device", self.device.as_ref(), "--device")?;
        b.set_flag("torch_threads", self.threads.as_ref(), "--threads")?;
        b.set_flag("eval_every", self.eval_every.as_ref(), "--eval-every")?;
        b.set_flag(
            "eval_episodes",
            self.eval_episodes.as_ref(),
            "--eval-episodes",
        )?;
        b.set_flag(
            "checkpoint_every",
            self.checkpoint_every.as_ref(),
            "--checkpoint-every",
        )
    }
}

/// A count as people write it: `100000`, `100_000`, `1e5`, `2.5e5`; a whole number ≥ 0.
pub fn parse_count(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim().replace('_', "");
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= u64::MAX as f64 => {
            Ok(x as u64)
        }
        Ok(x) if x.is_finite() && x >= 0.0 && x.fract() != 0.0 => {
            Err(format!("'{s}' is not a whole number"))
        }
        _ => Err(format!(
            "'{s}' is not a count (write 100000, 100_000 or 1e5)"
        )),
    }
}

/// `--env`: our name for what people type (Gymnasium's ids, other spellings), saying once
/// what a Gymnasium id selects; a file path as it is; an error lists the names.
pub fn parse_env(s: &str) -> std::result::Result<String, String> {
    let file = s.ends_with(".ron") || s.ends_with(".xml") || s.contains('/');
    if file {
        return Ok(s.to_owned());
    }
    match envs::canonical_name(s) {
        Some((env, gym)) => {
            if gym {
                eprintln!("note: {}", envs::gymnasium_note(s, env));
            }
            Ok(env.to_owned())
        }
        None => Err(envs::unknown_env(s)),
    }
}

/// `virel-lab train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The run's config: file, `--set`, flags.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Run folder (default: runs/<env>__<algo>__<seed>__<unix time>). Must not hold a run yet.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint, exactly where it stopped. Only
    /// --steps, --device, --threads, --eval-every, --eval-episodes and --checkpoint-every may
    /// change.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// No progress: neither the bar a terminal gets nor the line every 30 s it gets without one.
    #[arg(long)]
    pub quiet: bool,
}

/// Window options shared by `app` and `play`.
#[derive(Args, Debug, Clone)]
pub struct WindowArgs {
    /// Render quality: low (no shadows, no MSAA) keeps software renderers usable.
    #[arg(long, value_enum, default_value_t = Quality::High)]
    pub quality: Quality,
    /// The share of the window's width and height the 3D view is drawn at, then stretched
    /// (0.25 to 1; the overlay keeps full resolution). Default: 0.5 on a software renderer,
    /// 1 on a GPU.
    #[arg(long, value_name = "SHARE")]
    pub resolution: Option<f32>,
    /// Window width, pixels.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Window height, pixels.
    #[arg(long, default_value_t = 800)]
    pub height: u32,
    /// Record the window's first N frames to videos/virel-lab-<time>.mp4, as the Record
    /// button does.
    #[arg(long, value_name = "N")]
    pub record_frames: Option<u64>,
    /// Share of a core each run's training thread may take, 0.05 to 1 (the overlay's slider):
    /// less leaves more to rendering on a small machine.
    #[arg(long, default_value_t = 1.0, value_name = "SHARE")]
    pub training_share: f32,
    /// Save a PNG of the window after --screenshot-after frames, then exit.
    #[arg(long, value_name = "PNG")]
    pub screenshot: Option<PathBuf>,
    /// Frames drawn before the --screenshot.
    #[arg(long, default_value_t = 120, value_name = "FRAMES")]
    pub screenshot_after: u32,
    /// Open the panel of VIREL's tabular counterexample (also a switch in the Run window).
    #[arg(long)]
    pub counterexample: bool,
}

/// Render quality.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quality {
    /// No shadows, no MSAA: for software renderers.
    Low,
    /// Shadows and 4× MSAA.
    High,
}

/// `virel-lab app`.
#[derive(Args, Debug, Default)]
pub struct AppArgs {
    /// --env picks the robot (default half_cheetah), --num-envs the copies (default 8 on CUDA,
    /// 4 on a CPU).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Algorithms racing on the robot, each with its own run on its own lanes (--num-envs
    /// copies split between them, the same env seeds), e.g. --race virel,sac.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "ALGO,ALGO")]
    pub race: Vec<Algo>,
    /// Window settings.
    #[command(flatten)]
    pub window: WindowArgs,
}

/// `virel-lab play`.
#[derive(Args, Debug)]
pub struct PlayArgs {
    /// Checkpoint file, or a run folder (its newest checkpoint).
    #[arg(long, value_name = "FILE|DIR")]
    pub checkpoint: PathBuf,
    /// Copies of the robot shown side by side.
    #[arg(long, default_value_t = 4)]
    pub num_envs: usize,
    /// Window settings.
    #[command(flatten)]
    pub window: WindowArgs,
}

impl Quality {
    /// Shadows and MSAA of this quality.
    pub fn render_quality(self) -> RenderQuality {
        match self {
            Quality::Low => RenderQuality::LOW,
            Quality::High => RenderQuality::HIGH,
        }
    }
}

impl Default for WindowArgs {
    fn default() -> Self {
        Self {
            quality: Quality::High,
            resolution: None,
            width: 1280,
            height: 800,
            record_frames: None,
            training_share: 1.0,
            screenshot: None,
            screenshot_after: 120,
            counterexample: false,
        }
    }
}

impl WindowArgs {
    fn options(&self, config: TrainConfig, checkpoint: Option<PathBuf>) -> app::AppOptions {
        app::AppOptions {
            config,
            checkpoint,
            quality: RenderQuality {
                resolution: self.resolution,
                ..self.quality.render_quality()
            },
            width: self.width,
            height: self.height,
            record_frames: self.record_frames,
            training_share: self.training_share,
            screenshot: self.screenshot.clone().map(|p| (p, self.screenshot_after)),
            race: Vec::new(),
            counterexample: self.counterexample,
        }
    }
}

/// `virel-lab record`.
#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Checkpoint file, or a run folder (its newest checkpoint).
    #[arg(long, value_name = "FILE|DIR")]
    pub checkpoint: PathBuf,
    /// Refuse the checkpoint unless it was trained on this env.
    #[arg(long)]
    pub env: Option<String>,
    /// Episodes to record.
    #[arg(long, default_value_t = 1)]
    pub episodes: usize,
    /// Stop after this many control steps even if the episodes go on.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Output file: .mp4 (H.264; a .gif next to it when ffmpeg is missing) or .gif.
    #[arg(long, default_value = "demo.mp4")]
    pub out: PathBuf,
    /// Frame width, pixels.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Frame height, pixels.
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Frames per second of the video; one frame is one control step.
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// Shadows and MSAA.
    #[arg(long, value_enum, default_value_t = Quality::High)]
    pub quality: Quality,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub overwrite: bool,
    /// Draw a panel of the app into the video: `posterior` (the actor's density and the
    /// Boltzmann posterior per joint, along the bottom).
    #[arg(long, value_enum)]
    pub overlay: Option<RecordOverlay>,
}

/// A panel `record --overlay` draws into the video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordOverlay {
    /// The actor's density q_θ and the posterior π = exp(Q̂/T)/Z per joint, with T and KL.
    Posterior,
}

/// `virel-lab eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Checkpoint file written by `train`, or a run folder (its newest checkpoint).
    #[arg(long, value_name = "FILE|DIR")]
    pub checkpoint: PathBuf,
    /// Episodes to average over.
    #[arg(long, default_value_t = 10)]
    pub episodes: usize,
    /// Refuse the checkpoint unless it was trained on this env.
    #[arg(long, conflicts_with = "on")]
    pub env: Option<String>,
    /// Evaluate on this env instead of the one the checkpoint was trained on: a variant of its
    /// robot (a scene file with a finer physics step, other friction or masses) whose
    /// observations and actions have the same sizes. Does the policy's gait survive it?
    #[arg(long, value_name = "ENV")]
    pub on: Option<String>,
    /// Where the networks run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Seed of the first evaluation episode.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs the command; the exit status is 0, or 128 + the signal for a training run stopped by
/// one (130 for Ctrl-C, 143 for SIGTERM).
pub fn run(cli: Cli) -> Result<ExitCode> {
    let done = |r: Result<()>| r.map(|()| ExitCode::SUCCESS);
    match cli.command.unwrap_or(Command::App(AppArgs::default())) {
        Command::App(args) => done(app(args)),
        Command::Train(args) => train(args),
        Command::Eval(args) => done(eval(args)),
        Command::Play(args) => done(play(args)),
        Command::Record(args) => done(record(args)),
        Command::Config(args) => done(config(args)),
        Command::Scene {
            scene: name,
            to_ron,
        } => done(scene(&name, to_ron.as_deref())),
        Command::Bench(cmd) => done(bench::run(cmd)),
        Command::Sweep(args) => sweep(args),
        Command::Report(args) => done(report(args)),
        Command::Export(args) => done(export(args)),
        Command::Counterexample(args) => done(counterexample(&args)),
    }
}

fn at_least_one(flag: &str, n: usize, what: &str) -> Result<()> {
    if n == 0 {
        anyhow::bail!("{flag} 0: expected at least 1 {what}");
    }
    Ok(())
}

fn train(args: TrainArgs) -> Result<ExitCode> {
    interrupt::install_handler();
    let progress = training::Feedback::for_stderr(args.quiet);
    let (s, out) = match &args.resume {
        Some(dir) => (
            training::resume(dir, |cfg| args.config.adjust_resumed(cfg), progress)?,
            dir.clone(),
        ),
        None => {
            let cfg = args.config.resolve()?;
            let env = envs::ResolvedEnv::resolve(&cfg.env)?;
            let out = args.out.clone().unwrap_or_else(|| default_run_dir(&cfg));
            let device = cfg.device.resolve()?;
            if let Some(w) = cfg.no_learning_warning() {
                eprintln!("warning: {w}");
            }
            eprintln!(
                "training {} on {} for {} steps (seed {}, device {device:?}) → {}",
                cfg.algo,
                cfg.env,
                cfg.steps,
                cfg.seed,
                out.display()
            );
            (training::run(cfg, &env, &out, progress)?, out)
        }
    };
    let eval = s
        .final_eval
        .as_ref()
        .map_or("none (interrupted)".to_owned(), |r| {
            format!("{:.1} ± {:.1}", r.mean, r.std)
        });
    println!(
        "{} {} seed {}: {} steps, {} updates, {:.0} steps/s; final eval return {eval}; checkpoints in {}",
        s.env,
        s.algo,
        s.seed,
        s.env_steps,
        s.updates,
        s.steps_per_second,
        out.display()
    );
    Ok(if s.interrupted {
        ExitCode::from(interrupt::exit_code())
    } else {
        ExitCode::SUCCESS
    })
}

fn sweep(args: SweepArgs) -> Result<ExitCode> {
    interrupt::install_handler();
    at_least_one("-j", args.jobs, "job")?;
    let sw = sweep::Sweep::load_with_steps(&args.file, args.steps)?;
    let print_cells = |sw: &sweep::Sweep| -> Result<()> {
        for (cell, state) in sw.cells.iter().zip(sw.states()?) {
            println!("{:>4}  {:<40} {state}", cell.index, cell.name());
        }
        Ok(())
    };
    let exe =
        std::env::current_exe().map_err(|e| anyhow::anyhow!("cannot find this program: {e}"))?;
    if let Some(k) = args.cell {
        let progress = training::Feedback::for_stderr(args.quiet);
        let opts = sweep::CellOptions {
            device: args.device,
            threads: args.threads,
            progress,
        };
        let outcome = match sweep::run_cell(&sw, k, &opts) {
            Ok(o) => o,
            Err(e) if sweep::is_busy(&e) => {
                eprintln!("error: {e:#}");
                return Ok(ExitCode::from(sweep::BUSY_EXIT));
            }
            Err(e) => return Err(e),
        };
        let name = sw.cell(k)?.name();
        match &outcome {
            sweep::CellOutcome::AlreadyDone => println!("{name}: already finished"),
            sweep::CellOutcome::Trained(s) => println!(
                "{name}: {} steps{}",
                s.env_steps,
                s.final_eval
                    .as_ref()
                    .map_or(" (interrupted)".to_owned(), |e| format!(
                        ", final eval return {:.1} ± {:.1}",
                        e.mean, e.std
                    ))
            ),
        }
        return Ok(ExitCode::from(sweep::exit_code(&outcome)));
    }
    if args.select {
        print!("{}", select::select(&sw)?);
        return Ok(ExitCode::SUCCESS);
    }
    if args.status || args.dry_run && args.local {
        print_cells(&sw)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.slurm {
        let cells = slurm::pending_cells(&sw)?;
        if args.dry_run {
            print_cells(&sw)?;
            println!();
            if cells.is_empty() {
                println!("every cell is finished or running: no job array to submit");
            } else {
                print!("{}", slurm::script(&sw, &cells, &exe));
            }
            return Ok(ExitCode::SUCCESS);
        }
        let id = slurm::submit(&sw, &cells, &exe)?;
        println!(
            "submitted job {id}: {} cells of {} (script {})",
            cells.len(),
            sw.name,
            sw.out.join("sweep.sbatch").display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report = pool::run_pool(
        &sw,
        &pool::PoolOptions {
            jobs: args.jobs,
            device: args.device,
            threads: args.threads,
            exe,
        },
    )?;
    println!(
        "sweep {}: {} finished now, {} finished before, {} running elsewhere, {} interrupted, {} not started, {} failed",
        sw.name,
        report.finished.len(),
        report.already_done.len(),
        report.busy.len(),
        report.interrupted.len(),
        report.not_started.len(),
        report.failed.len()
    );
    for (name, why) in &report.failed {
        eprintln!("failed: {name}: {why}");
    }
    Ok(if !report.failed.is_empty() {
        ExitCode::FAILURE
    } else if !report.interrupted.is_empty() || !report.not_started.is_empty() {
        ExitCode::from(interrupt::exit_code())
    } else {
        ExitCode::SUCCESS
    })
}

fn app(args: AppArgs) -> Result<()> {
    if args.race.is_empty() {
        let cfg = args.config.resolve_desktop()?;
        return app::run(args.window.options(cfg, None));
    }
    if args.config.algo.is_some() {
        anyhow::bail!("--race and --algo: give one (--race names every algorithm)");
    }
    if args.race.len() > MAX_RACERS {
        anyhow::bail!(
            "--race: {} algorithms, expected at most {MAX_RACERS}",
            args.race.len()
        );
    }
    let total = args.config.num_envs.unwrap_or_else(app::default_copies);
    let each = (total / args.race.len()).max(1);
    let mut configs = args
        .race
        .iter()
        .map(|&algo| {
            let mut c = args.config.clone();
            c.algo = Some(algo);
            c.num_envs = Some(each);
            c.resolve_desktop()
        })
        .collect::<Result<Vec<_>>>()?;
    let first = configs.remove(0);
    let mut opts = args.window.options(first, None);
    opts.race = configs;
    app::run(opts)
}

/// The most runs `app --race` starts.
const MAX_RACERS: usize = 8;

fn play(args: PlayArgs) -> Result<()> {
    at_least_one("--num-envs", args.num_envs, "copy")?;
    let (ckpt, loaded) = checkpoint::load_file_or_latest(&args.checkpoint)?;
    let mut cfg = loaded.header.config;
    cfg.num_envs = args.num_envs;
    app::run(args.window.options(cfg, Some(ckpt)))
}

fn record(a: RecordArgs) -> Result<()> {
    at_least_one("--episodes", a.episodes, "episode")?;
    let (path, frames) = record::record(RecordOptions {
        checkpoint: a.checkpoint,
        env: a.env,
        episodes: a.episodes,
        max_steps: a.max_steps,
        out: a.out,
        width: a.width,
        height: a.height,
        fps: a.fps,
        quality: a.quality.render_quality(),
        overwrite: a.overwrite,
        overlay_posterior: a.overlay == Some(RecordOverlay::Posterior),
    })?;
    println!(
        "wrote {frames} frames ({}×{} at {} fps) to {}",
        a.width,
        a.height,
        a.fps,
        path.display()
    );
    Ok(())
}

fn eval(args: EvalArgs) -> Result<()> {
    at_least_one("--episodes", args.episodes, "episode")?;
    runtime::init_torch(1);
    let device = args.device.resolve()?;
    let acts_in = match (&args.on, &args.env) {
        (Some(other), _) => training::PolicyEnv::Other(other),
        (None, Some(name)) => training::PolicyEnv::Expect(name),
        (None, None) => training::PolicyEnv::Trained,
    };
    let (h, r) =
        training::evaluate_checkpoint(&args.checkpoint, args.episodes, acts_in, device, args.seed)?;
    let on = match &args.on {
        Some(other) => format!(" of {}, on {other}", h.spec.env),
        None => format!(" on {}", h.spec.env),
    };
    println!(
        "{}{on} ({} env steps): mean return {:.2} ± {:.2} over {} episodes",
        h.config.algo,
        h.counters.env_steps,
        r.mean,
        r.std,
        r.returns.len()
    );
    Ok(())
}

fn config(args: ConfigArgs) -> Result<()> {
    print!("{}", args.resolve()?.to_toml());
    Ok(())
}

fn scene(name: &str, to_ron: Option<&Path>) -> Result<()> {
    if let Some(out) = to_ron.filter(|out| out.exists()) {
        anyhow::bail!(
            "--to-ron {}: the file exists; remove it or choose another path (nothing was written)",
            out.display()
        );
    }
    if scene::mjcf::is_mjcf(name) {
        let imported = scene::mjcf::load(Path::new(name))?;
        for note in &imported.notes {
            println!("note: {note}");
        }
        if let Some(out) = to_ron {
            let text = format!(
                "// {}: imported by `virel-lab scene {name} --to-ron` (world frame at the reset \
                 pose, SI units, radians).\n{}\n",
                imported.scene.name,
                scene::mjcf::to_ron(&imported.scene)?
            );
            checkpoint::write_atomically(out, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e:#}", out.display()))?;
            println!("wrote {}", out.display());
        }
    } else if to_ron.is_some() {
        anyhow::bail!("--to-ron: {name} is not an MJCF .xml file");
    }
    let s = scene::load(name)?;
    // What training relies on beyond the file: the physics builds and steps.
    let mut env = envs::make(name)?;
    envs::check_steps(env.as_mut()).map_err(|e| anyhow::anyhow!("scene {name}: {e}"))?;
    let mass: f32 = s.bodies.iter().map(|b| b.mass).sum();
    println!(
        "{}: {:?} root, {} bodies ({mass:.2} kg), {} hinges, {} actuators; obs {}, action {}; dt {:.4} s ({} × {} s, solver substeps: {}), {} steps per episode; fingerprint {}",
        s.name,
        s.root,
        s.bodies.len(),
        s.joints.len(),
        s.actuators.len(),
        s.task.obs_dim,
        s.task.action_dim,
        s.task.timestep * s.task.frame_skip as f32,
        s.task.frame_skip,
        s.task.timestep,
        s.task.solver_substeps,
        s.task.episode_steps,
        scene::fingerprint(&s)?
    );
    Ok(())
}

fn export(args: ExportArgs) -> Result<()> {
    let format = args
        .format
        .unwrap_or(match args.out.extension().and_then(|e| e.to_str()) {
            Some("pt" | "pth" | "torchscript") => Format::Torchscript,
            _ => Format::Onnx,
        });
    runtime::init_torch(1);
    let e = export::export(&args.checkpoint, &args.out, format, args.overwrite)?;
    println!(
        "wrote the deterministic {} policy of {} ({} env steps) as {:?} to {}: observation [batch × {}] → action [batch × {}]",
        e.algo.display_name(),
        e.env,
        e.env_steps,
        e.format,
        e.path.display(),
        e.actor.obs_dim(),
        e.actor.act_dim()
    );
    Ok(())
}

fn counterexample(a: &CounterexampleArgs) -> Result<()> {
    if !(a.c.is_finite() && a.c > 0.0) {
        anyhow::bail!("--c {}: expected a temperature > 0", a.c);
    }
    if !(0.0..1.0).contains(&a.gamma) {
        anyhow::bail!("--gamma {}: expected a discount in [0, 1)", a.gamma);
    }
    if !(1..=MAX_K1).contains(&a.k1) {
        anyhow::bail!("--k1 {}: expected 1 to {MAX_K1} actions", a.k1);
    }
    if !(a.p.is_finite() && a.p >= 1.0) {
        anyhow::bail!("--p {}: expected a norm ≥ 1", a.p);
    }
    let s = Solution::new(a.c, a.gamma, a.k1, a.p, 100);
    println!(
        "VIREL's counterexample: c = {}, γ = {}, k1 = {} (a2 pays 1 and is optimal; a1 leads \
         to {} actions that pay 0)",
        a.c, a.gamma, a.k1, a.k1
    );
    println!(
        "MERL   π(a1|s0) = {:.4} (soft value iteration), {:.4} (closed form \
         1/(k1^(−γ)·exp(1/c) + 1))",
        s.merl_a1, s.merl_a1_closed_form
    );
    println!(
        "VIREL  π_ω(a1|s0) = {:.4} with ε_ω = {} at Q* (Q*(s0, ·) = {:?})",
        s.virel_a1, s.epsilon, s.q_star_s0
    );
    println!("\nbackups  MERL π(a1|s0)  VIREL ε_ω  VIREL π_ω(a1|s0)");
    for r in &s.rows {
        println!(
            "{:>7}  {:>13.4}  {:>9.6}  {:>16.4}",
            r.k, r.merl_a1, r.epsilon, r.virel_a1
        );
    }
    Ok(())
}

fn report(args: ReportArgs) -> Result<()> {
    if let Some(readme) = &args.readme {
        study::report::readme_slot(readme, &args.out)?;
    }
    let w = study::report::write_report(
        &args.dirs,
        &args.out,
        args.baseline.as_deref(),
        &args.metrics,
        std::io::stderr().is_terminal(),
    )?;
    if let Some(readme) = &args.readme {
        study::report::splice_readme(readme, &w.markdown, &args.out)?;
    }
    println!(
        "read {} runs; {} env × algorithm rows; wrote {}",
        w.runs,
        w.rows.len(),
        w.files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
