//! [`OverlayPlugin`]: the egui overlay, one file per window:
//!
//! - [`run_window`] — "Run": algorithm, robot, hyper-parameters; the runs training now (start
//!   one in place of the selected run or beside it, select, close); time controls,
//!   checkpoints, quality, recording, speed figures.
//! - [`plots`] — "Learning curves" (every run since the app started), "ε_ω — the model's
//!   uncertainty about the optimal action" (VIREL's temperature, SAC's α for comparison) and
//!   "Critic" (Q estimate and Bellman residual of the latest batch).
//! - [`posterior`] — "Actor and posterior": the followed copy's actor density per joint under
//!   the Boltzmann posterior π ∝ exp(Q̂/T), KL(q_θ ‖ π) over time, a heat map over two joints.
//! - [`counterexample`] — "VIREL's counterexample (tabular)": the seed's MDP with sliders,
//!   MERL's and VIREL's policies side by side, backup by backup.
//! - [`race`] — "Race", while several runs train: best recent return first, distance this
//!   episode, temperature.

mod counterexample;
mod plots;
mod posterior;
mod race;
mod run_window;

use super::camera::OrbitCamera;
use super::hands::Hand;
use super::lab::{Activity, Curves, LabOutcome, LabRequest, LabSettings, NextRun, Pace, Runs};
use super::recording::WindowRecording;
use super::view::RenderQuality;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass};
pub use counterexample::CounterexamplePanel;
pub use run_window::algorithm_menu;

/// The egui windows of the app.
pub struct OverlayPlugin;

impl Plugin for OverlayPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<FrameRate>()
            .init_resource::<CounterexamplePanel>()
            .init_resource::<StatusLine>()
            .init_resource::<ProgressLog>()
            .add_systems(
                Update,
                (measure_frame_rate, keep_last_outcome, log_progress),
            )
            .add_systems(EguiPrimaryContextPass, draw_overlay);
    }
}

/// Frames per second, smoothed.
#[derive(Resource, Default)]
pub struct FrameRate(pub f64);

/// The last outcome worth telling the user (started, saved, a load error …).
#[derive(Resource, Default)]
pub struct StatusLine(pub Option<String>);

/// Real time: `Time` (virtual) clamps a frame to 250 ms, which would cap slow frames at 4 FPS.
fn measure_frame_rate(time: Res<Time<Real>>, mut fps: ResMut<FrameRate>) {
    let dt = time.delta_secs_f64();
    if dt > 0.0 {
        fps.0 = if fps.0 == 0.0 {
            1.0 / dt
        } else {
            0.9 * fps.0 + 0.1 / dt
        };
    }
}

/// Seconds between two progress lines in the log.
const PROGRESS_EVERY: f64 = 30.0;

/// When the last progress line was written.
#[derive(Resource, Default)]
struct ProgressLog(Option<f64>);

/// A line per run in the log every [`PROGRESS_EVERY`] seconds: what the overlay shows, for a
/// terminal or a script (the app's speed, measured in the README).
fn log_progress(
    time: Res<Time<Real>>,
    mut last: ResMut<ProgressLog>,
    runs: Res<Runs>,
    fps: Res<FrameRate>,
) {
    let now = time.elapsed_secs_f64();
    if last.0.is_some_and(|t| now - t < PROGRESS_EVERY) {
        return;
    }
    last.0 = Some(now);
    for run in &runs.live {
        let l = &run.frame.live;
        let opt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.2}"));
        info!(
            "progress {}: {now:.0} s, {} env steps, {} updates, {:.0} steps/s, {:.1} updates/s, \
             {:.1} FPS, recent return {}, forward velocity {} m/s",
            run.label,
            l.env_steps,
            l.updates,
            l.steps_per_second,
            l.updates_per_second,
            fps.0,
            opt(l.recent_return),
            opt(l.forward_velocity),
        );
    }
}

fn keep_last_outcome(mut outcomes: MessageReader<LabOutcome>, mut line: ResMut<StatusLine>) {
    if let Some(o) = outcomes.read().last() {
        line.0 = Some(o.to_string());
    }
}

/// What the overlay reads and changes of the lab.
#[derive(SystemParam)]
struct LabControls<'w> {
    runs: Res<'w, Runs>,
    curves: Res<'w, Curves>,
    next: ResMut<'w, NextRun>,
    settings: ResMut<'w, LabSettings>,
    pace: Res<'w, State<Pace>>,
    set_pace: ResMut<'w, NextState<Pace>>,
    activity: Res<'w, State<Activity>>,
    set_activity: ResMut<'w, NextState<Activity>>,
    requests: MessageWriter<'w, LabRequest>,
    status: Res<'w, StatusLine>,
}

/// What the overlay reads and changes of the window itself: render quality, recording, frame
/// rate, the hands, the counterexample panel.
#[derive(SystemParam)]
struct WindowControls<'w> {
    quality: ResMut<'w, RenderQuality>,
    recording: ResMut<'w, WindowRecording>,
    fps: Res<'w, FrameRate>,
    hand: Res<'w, Hand>,
    counterexample: ResMut<'w, CounterexamplePanel>,
}

fn draw_overlay(
    mut contexts: EguiContexts,
    mut lab: LabControls,
    mut window: WindowControls,
    mut cams: Query<&mut OrbitCamera>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    if window.recording.active && !window.recording.include_overlay {
        return Ok(()); // recording the 3D view alone; F9 stops
    }
    let mut follow = cams.single().map(|c| c.follow).unwrap_or(false);
    run_window::run_window(ctx, &mut lab, &mut window, &mut follow);
    if let Ok(mut c) = cams.single_mut()
        && c.follow != follow
    {
        c.follow = follow;
    }
    race::race_window(ctx, &lab.runs, &lab.curves);
    counterexample::counterexample_window(ctx, &mut window.counterexample);
    plots::curves_window(ctx, &lab.curves);
    let selected = lab.runs.selected();
    plots::temperature_window(ctx, &lab.curves, selected);
    plots::critic_window(ctx, &lab.curves, selected);
    let followed = lab.settings.followed;
    if let Some(run) = lab.runs.followed(followed) {
        let copy = lab.settings.followed.copy;
        posterior::posterior_window(ctx, run, copy, &lab.curves, &mut lab.settings);
    }
    Ok(())
}
