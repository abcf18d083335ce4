//! Demo videos: [`record`] (`virel-lab record`) renders a checkpoint's policy off-screen (no
//! window, no display needed) with the app's own plugins ([`LabPlugins`], overlay off,
//! camera on an image), exactly one video frame per control step: the lab stays paused and
//! advances one step only after the previous step's frame came back from the GPU, so the
//! machine's rendering speed changes the wall time, never the video. The camera follows the
//! robot; a caption names algorithm, env, episode and return so far. Frames go to
//! [`VideoWriter`]: ffmpeg (H.264 MP4) or, without ffmpeg, a GIF. (The window's Record button
//! is the app's: [`crate::app::recording`].)

use crate::app::burnin::{draw_caption, draw_posterior};
use crate::app::camera::{CameraPlugin, OffscreenTarget};
use crate::app::lab::{Curves, LabOutcome, LabRequest, LabSettings, Pace, RunView, Runs};
use crate::app::overlay;
use crate::app::recording::{CapturedFrames, WindowRecorderPlugin, rgba_rows};
use crate::app::resolution::ResolutionPlugin;
use crate::app::video::VideoWriter;
use crate::app::view::RenderQuality;
use crate::app::{LabPlugins, LabSystems};
use crate::runtime;
use crate::training::checkpoint;
use crate::training::config::DeviceChoice;
use anyhow::{Context, Result, bail};
use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::render::view::screenshot::Screenshot;
use bevy::window::ExitCondition;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `virel-lab record` options.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// A checkpoint file, or a run folder (its newest checkpoint).
    pub checkpoint: PathBuf,
    /// Refuse the checkpoint unless it was trained on this env.
    pub env: Option<String>,
    /// Episodes to record.
    pub episodes: usize,
    /// Stop after this many control steps even if the episodes have not ended.
    pub max_steps: Option<u64>,
    /// The video file (.mp4; .gif without ffmpeg).
    pub out: PathBuf,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// Frames per second of the video.
    pub fps: u32,
    /// Shadows and MSAA.
    pub quality: RenderQuality,
    /// Replace an existing file at `out` (or at its GIF fallback).
    pub overwrite: bool,
    /// Draw the app's posterior panel along the bottom of every frame.
    pub overlay_posterior: bool,
}

#[derive(Resource)]
struct OffscreenRecorder {
    writer: Option<VideoWriter>,
    target: Handle<Image>,
    width: u32,
    height: u32,
    episodes: usize,
    max_steps: u64,
    steps: u64,
    /// A frame is in flight: no step until it is encoded.
    waiting: bool,
    /// A step was requested: its frame is captured once the run hands over this many vector
    /// steps.
    awaiting: Option<u64>,
    stepped: bool,
    /// Warm-up: frames of the unmoved first pose are captured and thrown away until the
    /// renderer gives the same, non-empty picture twice (meshes and pipelines ready), so that
    /// the video's first frame is not a black or half-built one.
    warm: bool,
    warmup_capture: bool,
    warmup_frames: u32,
    last_warmup: Option<Vec<u8>>,
    caption: String,
    result: RecordOutcome,
    failure: Option<String>,
    /// Draw the posterior panel.
    overlay_posterior: bool,
    /// The run as it was when the frame being encoded was captured (for the panel).
    panel: Option<RunView>,
}

/// What [`record`] hands back from inside the app: the video's path and frame count.
type RecordOutcome = Arc<Mutex<Option<Result<(PathBuf, u64)>>>>;

/// Renders a checkpoint's policy to a video file; returns its path and frame count.
pub fn record(opts: RecordOptions) -> Result<(PathBuf, u64)> {
    let (ckpt_path, ckpt) = checkpoint::load_file_or_latest(&opts.checkpoint)?;
    let mut cfg = ckpt.header.config.clone();
    if let Some(env) = &opts.env
        && *env != ckpt.header.spec.env
    {
        bail!(
            "checkpoint {} was trained on '{}', not '{env}'",
            ckpt_path.display(),
            ckpt.header.spec.env
        );
    }
    if opts.out.is_dir() || opts.out.file_name().is_none() {
        bail!(
            "--out {}: expected a video file name (.mp4 or .gif), not a folder",
            opts.out.display()
        );
    }
    if !opts.overwrite {
        let gif = opts.out.with_extension("gif");
        for p in [&opts.out, &gif] {
            if p.exists() {
                bail!("{} exists: pass --overwrite to replace it", p.display());
            }
        }
    }
    cfg.num_envs = 1;
    cfg.device = DeviceChoice::Auto;
    runtime::init_torch(cfg.torch_threads);
    let writer = VideoWriter::create(&opts.out, opts.width, opts.height, opts.fps)?;
    let result: RecordOutcome = Arc::new(Mutex::new(None));
    let caption = format!("{} | {}", cfg.algo.display_name(), cfg.env);

    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: None,
                exit_condition: ExitCondition::DontExit,
                close_when_requested: false,
                ..default()
            })
            .disable::<bevy::winit::WinitPlugin>(),
    )
    .add_plugins(ScheduleRunnerPlugin::run_loop(Duration::ZERO))
    .add_plugins(
        LabPlugins {
            config: cfg,
            checkpoint: Some(ckpt_path),
            paused: true,
            quality: opts.quality,
            camera: CameraPlugin {
                offscreen: Some((opts.width, opts.height)),
                smooth_follow: false,
            },
            record_frames: None,
            race: Vec::new(),
        }
        .build()
        .disable::<overlay::OverlayPlugin>()
        .disable::<ResolutionPlugin>()
        .disable::<WindowRecorderPlugin>(),
    )
    .init_resource::<CapturedFrames>()
    .add_systems(
        Update,
        (note_failures, step_when_frame_done)
            .chain()
            .before(LabSystems::Requests),
    )
    .add_systems(PostUpdate, capture_stepped_frame)
    .add_systems(First, encode_captured_frames);
    let target = app.world().resource::<OffscreenTarget>().0.clone();
    app.insert_resource(OffscreenRecorder {
        writer: Some(writer),
        target,
        width: opts.width,
        height: opts.height,
        episodes: opts.episodes.max(1),
        max_steps: opts.max_steps.unwrap_or(u64::MAX),
        steps: 0,
        waiting: false,
        awaiting: None,
        stepped: false,
        warm: false,
        warmup_capture: false,
        warmup_frames: 0,
        last_warmup: None,
        caption,
        result: result.clone(),
        failure: None,
        overlay_posterior: opts.overlay_posterior,
        panel: None,
    });
    // The posterior's critic pass runs only when the video shows it.
    app.world_mut()
        .resource_mut::<LabSettings>()
        .posterior
        .shown = opts.overlay_posterior;
    app.run();
    let outcome = result.lock().expect("recorder result").take();
    outcome.unwrap_or_else(|| Err(anyhow::anyhow!("the recorder stopped without a result")))
}

fn finished_episodes(curves: &Curves) -> usize {
    curves.0.last().map_or(0, |r| r.returns.len())
}

/// Frames the renderer may take to produce a stable first picture.
const WARMUP_LIMIT: u32 = 600;

/// A failed load (or a run that stopped) ends the recording with its error.
fn note_failures(mut outcomes: MessageReader<LabOutcome>, mut rec: ResMut<OffscreenRecorder>) {
    for o in outcomes.read().filter(|o| o.is_failure()) {
        rec.failure.get_or_insert_with(|| o.to_string());
    }
}

/// Requests the next control step once the previous frame is encoded.
fn step_when_frame_done(
    mut rec: ResMut<OffscreenRecorder>,
    runs: Res<Runs>,
    curves: Res<Curves>,
    mut requests: MessageWriter<LabRequest>,
) {
    rec.stepped = false;
    rec.warmup_capture = false;
    let Some(run) = runs.live.first() else {
        return;
    };
    if rec.waiting || rec.writer.is_none() || rec.awaiting.is_some() {
        return;
    }
    if !rec.warm {
        rec.warmup_capture = !run.frame.poses.is_empty();
        return;
    }
    if rec.steps >= rec.max_steps || finished_episodes(&curves) >= rec.episodes {
        return;
    }
    requests.write(LabRequest::Step);
    rec.awaiting = Some(run.frame.vector_steps + 1);
    rec.steps += 1;
}

/// Once the requested step's poses reached the meshes: one screenshot of the render target.
fn capture_stepped_frame(
    mut commands: Commands,
    mut rec: ResMut<OffscreenRecorder>,
    runs: Res<Runs>,
    curves: Res<Curves>,
    frames: Res<CapturedFrames>,
) {
    let Some(run) = runs.live.first() else {
        return;
    };
    if let Some(n) = rec.awaiting
        && run.frame.vector_steps >= n
    {
        rec.awaiting = None;
        rec.stepped = true;
    }
    if !rec.stepped && !rec.warmup_capture {
        return;
    }
    rec.waiting = true;
    let episode = finished_episodes(&curves);
    let returns = &run.frame.live.episode_returns;
    let ret = if returns.first().is_some_and(|&r| r == 0.0) && episode > 0 {
        curves
            .0
            .last()
            .and_then(|r| r.returns.last())
            .map_or(0.0, |p| p[1])
    } else {
        returns.first().copied().unwrap_or(0.0)
    };
    let shown = (episode + 1).min(rec.episodes);
    let title: Vec<&str> = rec.caption.split(" | ").take(2).collect();
    rec.caption = format!(
        "{} | episode {shown}/{} | step {} | return {ret:.1}",
        title.join(" | "),
        rec.episodes,
        rec.steps
    );
    if rec.overlay_posterior {
        rec.panel = Some(run.clone());
    }
    frames.capture(&mut commands, Screenshot::image(rec.target.clone()));
}

fn encode_captured_frames(
    mut rec: ResMut<OffscreenRecorder>,
    frames: Res<CapturedFrames>,
    curves: Res<Curves>,
    pace: Res<State<Pace>>,
    mut exit: MessageWriter<AppExit>,
) {
    debug_assert_eq!(*pace.get(), Pace::Paused, "record steps a paused lab");
    let captured: Vec<Image> = std::mem::take(&mut *frames.0.lock().expect("frame sink"));
    let (w, h) = (rec.width, rec.height);
    let mut failure = rec.failure.take().map(|m| anyhow::anyhow!("{m}"));
    for img in captured {
        rec.waiting = false;
        if !rec.warm {
            match rgba_rows(img, w, h) {
                Ok(rgba) => {
                    rec.warmup_frames += 1;
                    let lit = rgba.chunks(4).any(|p| p[0] > 16 || p[1] > 16 || p[2] > 16);
                    let stable = rec.last_warmup.as_ref() == Some(&rgba);
                    rec.warm = lit && stable && rec.warmup_frames >= 3;
                    rec.last_warmup = Some(rgba);
                    if rec.warmup_frames > WARMUP_LIMIT && !rec.warm {
                        failure = Some(anyhow::anyhow!(
                            "the renderer gave no stable picture in {WARMUP_LIMIT} frames"
                        ));
                    }
                }
                Err(e) => failure = Some(e),
            }
            continue;
        }
        let caption = rec.caption.clone();
        let pushed = rgba_rows(img, w, h).and_then(|mut rgba| {
            let scale = (h / 240).max(1);
            draw_caption(
                &mut rgba,
                w,
                h,
                6 * scale,
                6 * scale,
                12.0 * scale as f32,
                &caption,
            );
            if let Some(run) = &rec.panel {
                draw_posterior(&mut rgba, w, h, run);
            }
            rec.writer.as_mut().context("writer closed")?.push(&rgba)
        });
        if let Err(e) = pushed {
            failure = Some(e);
        }
    }
    let done = !rec.waiting
        && rec.awaiting.is_none()
        && (rec.steps >= rec.max_steps || finished_episodes(&curves) >= rec.episodes);
    if failure.is_some() || done {
        let writer = rec.writer.take();
        let outcome = match (failure, writer) {
            (Some(e), _) => Err(e),
            (None, Some(w)) => {
                let n = w.frames();
                w.finish().map(|p| (p, n))
            }
            (None, None) => return,
        };
        *rec.result.lock().expect("recorder result") = Some(outcome);
        exit.write(AppExit::Success);
    }
}
