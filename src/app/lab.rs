//! The app's model: the live run ([`Lab`], a non-send resource: tch objects stay on the main
//! thread) and everything the view and the overlay read ([`LabState`]: plain data, so those
//! systems need no access to torch).

use crate::rl::policy::ActionDistribution;
use crate::training::Trainer;
use crate::training::config::TrainConfig;
use bevy::prelude::*;
use std::path::PathBuf;

/// Most points kept per curve; older halves are thinned out (every other point dropped).
pub const MAX_CURVE_POINTS: usize = 4_000;

/// The training run the app steps, if any (none while a load failed or in an empty lab).
#[derive(Default)]
pub struct Lab {
    pub trainer: Option<Trainer>,
}

/// What one run has shown so far; kept after the run is replaced, for comparison.
#[derive(Clone, Debug, Default)]
pub struct RunCurves {
    /// e.g. "#2 VIREL · half_cheetah".
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

/// Speed of the simulation relative to the robot's own clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeScale {
    /// `x` × real time: x / (timestep · frame_skip) vector steps per second.
    Times(f32),
    /// As many steps as the frame's training budget allows.
    Max,
}

/// A request from the UI (or a test), carried out by the training plugin.
#[derive(Clone, Debug, PartialEq)]
pub enum LabRequest {
    /// Starts a new run from `LabState::next_run` (the current one's curves stay).
    NewRun,
    /// Restarts every episode of the current run (the agent keeps what it learned).
    ResetEpisodes,
    Save(PathBuf),
    /// Loads weights into a new run of the checkpoint's env and algorithm.
    Load(PathBuf),
}

/// Live numbers of the current run.
#[derive(Clone, Debug, Default)]
pub struct LiveStats {
    /// Training env steps of the run (a loaded checkpoint's count included).
    pub env_steps: u64,
    /// Env steps taken while watching (no learning); the curves' x goes on with them.
    pub watched_steps: u64,
    pub updates: u64,
    pub episodes: u64,
    pub steps_per_second: f64,
    pub updates_per_second: f64,
    pub recent_return: Option<f64>,
    pub temperature: Option<f64>,
    pub q_value: Option<f64>,
    pub bellman_residual: Option<f64>,
    /// Return so far of each copy's running episode.
    pub episode_returns: Vec<f64>,
    /// Milliseconds the last frame spent training (budget + at most one step or update).
    pub frame_training_ms: f64,
}

/// Per-frame view of the lab for rendering and the overlay.
#[derive(Resource)]
pub struct LabState {
    /// Config of the next run `NewRun` starts; the overlay edits it.
    pub next_run: TrainConfig,
    /// Config of the current run.
    pub current: Option<TrainConfig>,
    /// Curves of every run since the app started; the last one is the current run's.
    pub runs: Vec<RunCurves>,
    pub live: LiveStats,
    /// Bumped whenever the set of robots changes (new run, load): the view respawns them.
    pub generation: u64,
    pub paused: bool,
    /// One vector step requested while paused.
    pub single_step: bool,
    pub time_scale: TimeScale,
    /// Milliseconds of training a frame may spend (the render loop stays responsive).
    pub budget_ms: f32,
    /// Watch mode: the policy acts deterministically and nothing is learnt.
    pub watch_only: bool,
    /// The copy the camera follows and whose action distribution is shown.
    pub followed: usize,
    pub action_distribution: Option<ActionDistribution>,
    /// (low, high) per action dimension, and the actuated joints' names.
    pub action_bounds: Vec<(f32, f32)>,
    pub joint_names: Vec<String>,
    /// World poses (translation, rotation) of every body of every copy, scene frame (z up).
    pub poses: Vec<Vec<(Vec3, Quat)>>,
    pub requests: Vec<LabRequest>,
    /// Last outcome worth telling the user (saved file, load error …).
    pub message: Option<String>,
    /// Where the overlay's save/load field points.
    pub checkpoint_path: String,
}

impl LabState {
    pub fn new(next_run: TrainConfig) -> Self {
        Self {
            next_run,
            current: None,
            runs: Vec::new(),
            live: LiveStats::default(),
            generation: 0,
            paused: false,
            single_step: false,
            time_scale: TimeScale::Max,
            budget_ms: 30.0,
            watch_only: false,
            followed: 0,
            action_distribution: None,
            action_bounds: Vec::new(),
            joint_names: Vec::new(),
            poses: Vec::new(),
            requests: vec![LabRequest::NewRun],
            message: None,
            checkpoint_path: "virel-lab.ckpt".into(),
        }
    }

    pub fn current_curves(&self) -> Option<&RunCurves> {
        self.current.as_ref().and(self.runs.last())
    }
}
