//! The app's model: plain data that the view, the camera and the overlay read, none of it
//! torch. Each resource has one writer:
//!
//! - [`Runs`] — the runs training now, each with the latest [`Frame`] its training thread
//!   published (written by the training plugin).
//! - [`Curves`] — the curves of every run since the app started, kept after a run is replaced
//!   (training plugin).
//! - [`NextRun`] — the config the next new run starts from (overlay).
//! - [`LabSettings`] — speed and the followed copy (overlay, camera).
//! - [`LabRequest`] in, [`LabOutcome`] out — Bevy messages between the UI and the runs.
//! - [`Pace`] and [`Activity`] — Bevy `States`: paused or running, learning or watching.
//! - [`LabSystems`] — the app's ordered system sets.

use crate::rl::Algo;
use crate::rl::policy::ActionDistribution;
use crate::rl::posterior::Posterior;
use crate::scene::spec::SceneSpec;
use crate::sim::Push;
use crate::training::config;
use crate::training::config::TrainConfig;
use bevy::prelude::*;
use std::path::PathBuf;

/// The app's system sets, run in this order within `Update`: UI requests reach the runs'
/// training threads, then what the threads handed over is taken in, then the 3D view and the
/// camera follow it. The overlay draws afterwards, in egui's own pass.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabSystems {
    /// Requests, pause/watch and settings go to the training threads.
    Requests,
    /// The threads' frames, curve points and outcomes come in.
    Publish,
    /// Robots and lanes follow the frames.
    View,
    /// The camera follows the robots; the grid follows the camera.
    Camera,
}

/// A run config for watching: the env's training preset (the published one gradient step per
/// env step, 256-256 networks, VIREL's running ε_ω on locomotion), without log files, with
/// learning starting after 2 000 steps instead of 5 000–25 000, so that the agent soon acts by
/// itself. Every run trains on its own thread, so the app learns per gradient step as headless
/// `train` does (the README's "The app's speed" has the figures and the time to a running
/// half-cheetah).
pub fn desktop_config(env: &str, algo: Algo, num_envs: usize, seed: u64) -> TrainConfig {
    let mut cfg = TrainConfig::for_env(env);
    cfg.algo = algo;
    cfg.num_envs = num_envs.max(1);
    cfg.seed = seed;
    cfg.tensorboard = false;
    if env != "pendulum" && env != "identity" {
        cfg.agents.set_learning_starts(2_000);
    }
    cfg
}

/// Copies the app shows of a robot: 8 on CUDA; 4 on a CPU, where a vector step pays one
/// gradient step per copy: with 8 copies a small CPU shows the robots in slow motion.
pub fn default_copies() -> usize {
    let cuda = config::DeviceChoice::Auto
        .resolve()
        .is_ok_and(|d| d.is_cuda());
    if cuda { 8 } else { 4 }
}

/// Most points kept per curve; older halves are thinned out (every other point dropped).
pub const MAX_CURVE_POINTS: usize = 4_000;

/// A run of the lab, numbered from 1 in the order runs started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub u32);

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What one run has shown so far; kept after the run is replaced, for comparison.
#[derive(Clone, Debug, Default)]
pub struct RunCurves {
    /// The run these curves belong to.
    pub run: Option<RunId>,
    /// e.g. "#2 VIREL · half_cheetah ×8".
    pub label: String,
    /// Metric name of the temperature: `virel/epsilon`, `losses/alpha`, `td3/exploration_noise`.
    pub temperature_name: String,
    /// (env steps, episode return).
    pub returns: Vec<[f64; 2]>,
    /// (env steps, ε_ω / α / exploration noise).
    pub temperature: Vec<[f64; 2]>,
    /// (env steps, mean Q of the latest batch).
    pub q_values: Vec<[f64; 2]>,
    /// (env steps, critic loss: mean squared Bellman residual of the latest batch).
    pub bellman_residual: Vec<[f64; 2]>,
    /// (env steps, KL(q_θ ‖ π) at the followed copy's state, summed over joints), while the
    /// posterior panel is open.
    pub kl: Vec<[f64; 2]>,
}

impl RunCurves {
    /// Appends the points a training thread published since the last frame.
    pub fn extend(&mut self, new: &CurvePoints) {
        for (curve, points) in [
            (&mut self.returns, &new.returns),
            (&mut self.temperature, &new.temperature),
            (&mut self.q_values, &new.q_values),
            (&mut self.bellman_residual, &new.bellman_residual),
            (&mut self.kl, &new.kl),
        ] {
            for &p in points {
                push_point(curve, p);
            }
        }
    }
}

/// Curve points a training thread gathered between two hand-overs (same fields as
/// [`RunCurves`]).
#[derive(Clone, Debug, Default)]
pub struct CurvePoints {
    /// New episode returns: (x, return).
    pub returns: Vec<[f64; 2]>,
    /// New temperatures: (x, value).
    pub temperature: Vec<[f64; 2]>,
    /// New batch mean Qs: (x, value).
    pub q_values: Vec<[f64; 2]>,
    /// New critic losses: (x, value).
    pub bellman_residual: Vec<[f64; 2]>,
    /// New KLs of the actor from the posterior: (x, value).
    pub kl: Vec<[f64; 2]>,
}

impl CurvePoints {
    /// Moves `other`'s points to the end of these.
    pub fn append(&mut self, other: &mut CurvePoints) {
        self.returns.append(&mut other.returns);
        self.temperature.append(&mut other.temperature);
        self.q_values.append(&mut other.q_values);
        self.bellman_residual.append(&mut other.bellman_residual);
        self.kl.append(&mut other.kl);
    }
}

/// Appends a point, thinning the oldest half when the curve is full.
pub fn push_point(curve: &mut Vec<[f64; 2]>, p: [f64; 2]) {
    if curve.len() >= MAX_CURVE_POINTS {
        let half = curve.len() / 2;
        let mut i = 0;
        curve.retain(|_| {
            i += 1;
            i > half || i % 2 == 0
        });
    }
    curve.push(p);
}

/// The colour of the `i`-th run (in the order runs started), the same in the 3D view and in
/// every plot: sRGB bytes.
pub fn run_rgb(i: usize) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 6] = [
        [231, 111, 81],
        [42, 157, 143],
        [233, 196, 106],
        [120, 144, 255],
        [214, 120, 214],
        [160, 200, 90],
    ];
    PALETTE[i % PALETTE.len()]
}

/// Curves of every run since the app started, in the order they started.
#[derive(Resource, Default)]
pub struct Curves(pub Vec<RunCurves>);

impl Curves {
    /// A run's curves.
    pub fn of(&self, run: RunId) -> Option<&RunCurves> {
        self.0.iter().find(|c| c.run == Some(run))
    }
    /// A run's curves, to extend.
    pub fn of_mut(&mut self, run: RunId) -> Option<&mut RunCurves> {
        self.0.iter_mut().find(|c| c.run == Some(run))
    }
    /// The position of a run's curves: its colour in every plot.
    pub fn index_of(&self, run: RunId) -> Option<usize> {
        self.0.iter().position(|c| c.run == Some(run))
    }
}

/// Speed of the simulation relative to the robot's own clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeScale {
    /// `x` × real time: x / (timestep · frame_skip) vector steps per second.
    Times(f32),
    /// As fast as the training thread can go.
    Max,
}

/// Paused (nothing moves; [`LabRequest::Step`] advances every run by one vector step) or
/// running.
#[derive(States, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Pace {
    /// Every run steps.
    #[default]
    Running,
    /// Nothing steps but a requested single step.
    Paused,
}

/// Learning (exploring, storing, gradient steps) or watching (the deterministic policy acts,
/// nothing is learnt or stored).
#[derive(States, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Exploring, storing, gradient steps.
    #[default]
    Learning,
    /// The deterministic policy acts; nothing is learnt or stored.
    Watching,
}

/// A request from the UI (or a test), carried out by the training plugin.
#[derive(Message, Clone, Debug, PartialEq)]
pub enum LabRequest {
    /// Starts a run from [`NextRun`]: beside the others when `alongside`, else in place of the
    /// selected run (whose curves stay).
    NewRun {
        /// Beside the other runs, on lanes of its own.
        alongside: bool,
    },
    /// Starts a run of this config (instead of [`NextRun`]'s), as `NewRun` does.
    StartRun {
        /// The run's config.
        config: Box<TrainConfig>,
        /// Beside the other runs, on lanes of its own.
        alongside: bool,
    },
    /// Stops a run and takes its robots away; its curves stay.
    CloseRun(RunId),
    /// The run the overlay's save and statistics refer to.
    Select(RunId),
    /// Restarts every episode of every run (the agents keep what they learned).
    ResetEpisodes,
    /// One vector step of every run, while paused.
    Step,
    /// Saves the selected run.
    Save(PathBuf),
    /// Loads weights into a new run of the checkpoint's env and algorithm, in place of the
    /// selected run or beside the others.
    Load {
        /// The checkpoint file.
        path: PathBuf,
        /// Beside the other runs, on lanes of its own.
        alongside: bool,
    },
    /// Puts a hand on a copy of a run (Ctrl + drag), moves it, or lets go (`push: None`).
    Push {
        /// The run.
        run: RunId,
        /// The copy.
        copy: usize,
        /// The pushed body and where the spring pulls it, in the copy's frame.
        push: Option<Push>,
    },
}

/// What became of a request, or of a run.
#[derive(Message, Clone, Debug, PartialEq)]
pub enum LabOutcome {
    /// A new run trains.
    Started {
        /// The new run.
        run: RunId,
        /// Its label.
        label: String,
    },
    /// A checkpoint was written.
    Saved {
        /// The run saved.
        run: RunId,
        /// Where.
        path: PathBuf,
    },
    /// A checkpoint's weights went into a new run.
    Loaded {
        /// The new run.
        run: RunId,
        /// The checkpoint.
        path: PathBuf,
        /// Its env steps.
        env_steps: u64,
        /// Its algorithm.
        algo: Algo,
    },
    /// A request that could not be carried out; nothing changed.
    Refused {
        /// What was asked ("cannot load x.ckpt").
        request: String,
        /// Why not.
        error: String,
    },
    /// A run's training thread stopped on an error (non-finite loss …); its curves stay.
    Stopped {
        /// The run.
        run: RunId,
        /// The error.
        error: String,
    },
}

impl std::fmt::Display for LabOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Started { label, .. } => write!(f, "started {label}"),
            Self::Saved { run, path } => write!(f, "saved run {run} to {}", path.display()),
            Self::Loaded {
                path,
                env_steps,
                algo,
                ..
            } => write!(
                f,
                "loaded {} ({env_steps} steps of {})",
                path.display(),
                algo.display_name()
            ),
            Self::Refused { request, error } => write!(f, "{request}: {error}"),
            Self::Stopped { run, error } => write!(f, "run {run} stopped: {error}"),
        }
    }
}

impl LabOutcome {
    /// A request refused or a run stopped: what a caller waiting for success must hear.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::Stopped { .. })
    }
}

/// Config of the next run [`LabRequest::NewRun`] starts; the overlay edits it.
#[derive(Resource, Clone, Debug)]
pub struct NextRun(pub TrainConfig);

/// How the lab runs, set by the UI.
#[derive(Resource, Clone, Debug)]
pub struct LabSettings {
    /// Speed of every run.
    pub time_scale: TimeScale,
    /// The share of a core each training thread may take, in (0, 1]: less leaves more to
    /// rendering on a small machine (a software renderer takes every core it gets).
    pub training_share: f32,
    /// The run and copy the camera follows and whose action distribution is shown.
    pub followed: Followed,
    /// Where the overlay's save/load field points.
    pub checkpoint_path: String,
    /// The posterior panel.
    pub posterior: PosteriorView,
    /// Frames carry every copy's contact forces, drawn as arrows.
    pub contacts: bool,
}

/// What the posterior panel shows; the followed run's thread computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PosteriorView {
    /// The panel is open (its critic pass runs ten times a second on the training thread).
    pub shown: bool,
    /// The two joints of the heat map.
    pub pair: (usize, usize),
}

impl Default for PosteriorView {
    fn default() -> Self {
        Self {
            shown: true,
            pair: (0, 1),
        }
    }
}

impl Default for LabSettings {
    fn default() -> Self {
        Self {
            time_scale: TimeScale::Max,
            training_share: 1.0,
            followed: Followed::default(),
            checkpoint_path: "virel-lab.ckpt".into(),
            posterior: PosteriorView::default(),
            contacts: false,
        }
    }
}

/// A copy of a run: the first run's first copy until chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Followed {
    /// The run; `None` follows the selected one.
    pub run: Option<RunId>,
    /// The copy within that run.
    pub copy: usize,
}

/// Live numbers of a run, as its training thread last published them.
#[derive(Clone, Debug, Default)]
pub struct LiveStats {
    /// Training env steps of the run (a loaded checkpoint's count included).
    pub env_steps: u64,
    /// Env steps taken while watching (no learning); the curves' x goes on with them.
    pub watched_steps: u64,
    /// Gradient steps of the run.
    pub updates: u64,
    /// Episodes finished.
    pub episodes: u64,
    /// Env steps per second (all copies), over the last half second.
    pub steps_per_second: f64,
    /// Gradient steps per second, over the last half second.
    pub updates_per_second: f64,
    /// Mean return of the last 10 episodes.
    pub recent_return: Option<f64>,
    /// Mean forward velocity (m/s) over the last episode of as many episodes as there are
    /// copies: the `forward` reward term over its weight, per control step.
    pub forward_velocity: Option<f64>,
    /// The agent's temperature: ε_ω (VIREL), α (SAC), exploration noise (TD3).
    pub temperature: Option<f64>,
    /// Mean Q of the latest batch.
    pub q_value: Option<f64>,
    /// Critic loss of the latest batch.
    pub bellman_residual: Option<f64>,
    /// Return so far of each copy's running episode.
    pub episode_returns: Vec<f64>,
}

/// What a training thread hands the view: everything about its run at one moment.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    /// Vector steps the thread has taken (learning and watching): a new number means new poses.
    pub vector_steps: u64,
    /// Counters and figures.
    pub live: LiveStats,
    /// World poses (translation, rotation) of every body of every copy, scene frame (z up).
    pub poses: Vec<Vec<(Vec3, Quat)>>,
    /// The followed copy's action distribution, if this run holds it.
    pub action_distribution: Option<ActionDistribution>,
    /// The followed copy's posterior, while the panel shows it.
    pub posterior: Option<Posterior>,
    /// Contact points and the forces on the robot there, per copy (copy frame; empty unless
    /// [`LabSettings::contacts`]).
    pub contacts: Vec<Vec<(Vec3, Vec3)>>,
    /// A hand on a copy: (copy, the pushed body's centre of mass, the spring's target), copy
    /// frame.
    pub push: Option<(usize, Vec3, Vec3)>,
}

/// A run training now: what it is, and its latest frame.
#[derive(Clone, Debug)]
pub struct RunView {
    /// Its number.
    pub id: RunId,
    /// e.g. "#2 VIREL · half_cheetah ×8".
    pub label: String,
    /// The config it trains with.
    pub config: TrainConfig,
    /// The robot (bodies and geoms to draw), if the env is a scene.
    pub scene: Option<SceneSpec>,
    /// (low, high) per action dimension, and the actuated joints' names.
    pub action_bounds: Vec<(f32, f32)>,
    /// Names of the actuated joints, in action order.
    pub joint_names: Vec<String>,
    /// Env copies (lanes) of the run.
    pub copies: usize,
    /// Its latest hand-over.
    pub frame: Frame,
    /// A run whose thread stopped on an error stands still and says why.
    pub stopped: Option<String>,
}

/// The runs training now, in the order they started, and the one the overlay's buttons act
/// on.
#[derive(Resource, Default)]
pub struct Runs {
    /// The runs, in the order they started (their lanes in the same order).
    pub live: Vec<RunView>,
    /// The run the overlay's save, statistics and critic refer to.
    pub selected: Option<RunId>,
    /// Bumped whenever the set of robots changes (new run, load, close): the view respawns them.
    pub generation: u64,
}

impl Runs {
    /// A run by id.
    pub fn get(&self, id: RunId) -> Option<&RunView> {
        self.live.iter().find(|r| r.id == id)
    }
    /// The selected run.
    pub fn selected(&self) -> Option<&RunView> {
        self.selected.and_then(|id| self.get(id))
    }
    /// The followed run (the selected one, or the first, when `followed.run` is gone).
    pub fn followed(&self, f: Followed) -> Option<&RunView> {
        f.run
            .and_then(|id| self.get(id))
            .or_else(|| self.selected())
            .or(self.live.first())
    }
    /// Lane of `copy` of `run`: runs side by side, each with its copies in a block.
    pub fn lane(&self, run: RunId, copy: usize) -> usize {
        self.live
            .iter()
            .take_while(|r| r.id != run)
            .map(|r| r.copies)
            .sum::<usize>()
            + copy
    }
    /// Lanes of all runs.
    pub fn lanes(&self) -> usize {
        self.live.iter().map(|r| r.copies).sum()
    }
}
