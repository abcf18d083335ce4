//! Demo videos. Two ways in:
//! - [`record`] (`virel-lab record`): renders a checkpoint's policy off-screen (no window, no
//!   display needed), exactly one video frame per control step: the lab stays paused and
//!   advances one step only after the previous step's frame came back from the GPU, so the
//!   machine's rendering speed changes the wall time, never the video. Camera follows the
//!   robot; a caption names algorithm, env, episode and return so far.
//! - [`WindowRecorderPlugin`]: the overlay's Record button, every rendered frame of the
//!   window (3D view, optionally with the overlay) until stopped.
//!
//! Frames go to [`encoder::VideoWriter`]: ffmpeg (H.264 MP4) or, without ffmpeg, a GIF.

pub mod encoder;

use crate::app::camera::CameraPlugin;
use crate::app::lab::LabState;
use crate::app::training::{TrainingPlugin, TrainingSet};
use crate::app::view::{RenderQuality, ViewPlugin};
use anyhow::{Context, Result, bail};
use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::ExitCondition;
use encoder::{VideoWriter, draw_caption};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `virel-lab record` options.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    pub checkpoint: PathBuf,
    /// Refuse the checkpoint unless it was trained on this env.
    pub env: Option<String>,
    pub episodes: usize,
    /// Stop after this many control steps even if the episodes have not ended.
    pub max_steps: Option<u64>,
    pub out: PathBuf,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub quality: RenderQuality,
    /// Replace an existing file at `out` (or at its GIF fallback).
    pub overwrite: bool,
}

/// Frames captured by the GPU, waiting to be encoded (filled by screenshot observers).
#[derive(Resource, Clone, Default)]
struct CapturedFrames(Arc<Mutex<Vec<Image>>>);

impl CapturedFrames {
    /// Spawns `screenshot`; its image joins these frames when the GPU hands it back.
    fn capture(&self, commands: &mut Commands, screenshot: Screenshot) {
        let sink = self.0.clone();
        commands
            .spawn(screenshot)
            .observe(move |captured: On<ScreenshotCaptured>| {
                sink.lock()
                    .expect("frame sink")
                    .push(captured.image.clone());
            });
    }
}

/// What [`record`] hands back from inside the app: the video's path and frame count.
type RecordOutcome = Arc<Mutex<Option<Result<(PathBuf, u64)>>>>;

/// RGBA8 rows of a captured image, cropped to `width × height`.
fn rgba_rows(img: Image, width: u32, height: u32) -> Result<Vec<u8>> {
    let dynamic = img
        .try_into_dynamic()
        .map_err(|e| anyhow::anyhow!("captured frame in an unexpected format: {e:?}"))?;
    let rgba = dynamic.to_rgba8();
    if rgba.width() < width || rgba.height() < height {
        bail!(
            "captured {}×{}, expected {width}×{height}",
            rgba.width(),
            rgba.height()
        );
    }
    let row = (rgba.width() * 4) as usize;
    Ok(rgba
        .as_raw()
        .chunks(row)
        .take(height as usize)
        .flat_map(|r| &r[..(width * 4) as usize])
        .copied()
        .collect())
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
}

/// Renders a checkpoint's policy to a video file; returns its path and frame count.
pub fn record(opts: RecordOptions) -> Result<(PathBuf, u64)> {
    let (ckpt_path, ckpt) = crate::training::checkpoint::load_file_or_latest(&opts.checkpoint)?;
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
    cfg.device = crate::training::config::DeviceChoice::Auto;
    crate::runtime::init_torch(cfg.torch_threads);
    let writer = VideoWriter::create(&opts.out, opts.width, opts.height, opts.fps)?;
    let result: RecordOutcome = Arc::new(Mutex::new(None));
    let algo = cfg.algo;
    let env = cfg.env.clone();

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
    .add_plugins(TrainingPlugin {
        config: cfg,
        checkpoint: Some(ckpt_path),
    })
    .add_plugins(ViewPlugin {
        quality: opts.quality,
    })
    .add_plugins(CameraPlugin {
        offscreen: Some((opts.width, opts.height)),
        smooth_follow: false,
    })
    .init_resource::<CapturedFrames>()
    .add_systems(Update, step_when_frame_done.before(TrainingSet))
    .add_systems(PostUpdate, capture_stepped_frame)
    .add_systems(First, encode_captured_frames);
    app.world_mut().resource_mut::<LabState>().paused = true;
    let target = app
        .world()
        .resource::<crate::app::camera::OffscreenTarget>()
        .0
        .clone();
    app.insert_resource(OffscreenRecorder {
        writer: Some(writer),
        target,
        width: opts.width,
        height: opts.height,
        episodes: opts.episodes.max(1),
        max_steps: opts.max_steps.unwrap_or(u64::MAX),
        steps: 0,
        waiting: false,
        stepped: false,
        warm: false,
        warmup_capture: false,
        warmup_frames: 0,
        last_warmup: None,
        caption: format!("{} | {env}", algo_name(algo)),
        result: result.clone(),
    });
    app.run();
    let outcome = result.lock().expect("recorder result").take();
    outcome.unwrap_or_else(|| Err(anyhow::anyhow!("the recorder stopped without a result")))
}

fn algo_name(a: crate::rl::Algo) -> &'static str {
    match a {
        crate::rl::Algo::Virel => "VIREL",
        crate::rl::Algo::BetaVirel => "beta-VIREL",
        crate::rl::Algo::Sac => "SAC",
        crate::rl::Algo::Td3 => "TD3",
    }
}

fn finished_episodes(state: &LabState) -> usize {
    state.runs.last().map_or(0, |r| r.returns.len())
}

/// Frames the renderer may take to produce a stable first picture.
const WARMUP_LIMIT: u32 = 600;

/// Requests the next control step once the previous frame is encoded.
fn step_when_frame_done(mut rec: ResMut<OffscreenRecorder>, mut state: ResMut<LabState>) {
    rec.stepped = false;
    rec.warmup_capture = false;
    if rec.waiting || rec.writer.is_none() || state.current.is_none() {
        return;
    }
    if !rec.warm {
        rec.warmup_capture = !state.poses.is_empty();
        return;
    }
    if rec.steps >= rec.max_steps || finished_episodes(&state) >= rec.episodes {
        return;
    }
    state.single_step = true;
    rec.stepped = true;
    rec.steps += 1;
}

/// After the step's poses reached the meshes: one screenshot of the render target.
fn capture_stepped_frame(
    mut commands: Commands,
    mut rec: ResMut<OffscreenRecorder>,
    state: Res<LabState>,
    frames: Res<CapturedFrames>,
) {
    if !rec.stepped && !rec.warmup_capture {
        return;
    }
    rec.waiting = true;
    let episode = finished_episodes(&state);
    let ret = if state
        .live
        .episode_returns
        .first()
        .is_some_and(|&r| r == 0.0)
        && episode > 0
    {
        state
            .runs
            .last()
            .and_then(|r| r.returns.last())
            .map_or(0.0, |p| p[1])
    } else {
        state.live.episode_returns.first().copied().unwrap_or(0.0)
    };
    let shown = (episode + 1).min(rec.episodes);
    let title: Vec<&str> = rec.caption.split(" | ").take(2).collect();
    rec.caption = format!(
        "{} | episode {shown}/{} | step {} | return {ret:.1}",
        title.join(" | "),
        rec.episodes,
        rec.steps
    );
    frames.capture(&mut commands, Screenshot::image(rec.target.clone()));
}

fn encode_captured_frames(
    mut rec: ResMut<OffscreenRecorder>,
    frames: Res<CapturedFrames>,
    state: Res<LabState>,
    mut exit: MessageWriter<AppExit>,
) {
    let captured: Vec<Image> = std::mem::take(&mut *frames.0.lock().expect("frame sink"));
    let (w, h) = (rec.width, rec.height);
    let mut failure = None;
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
            draw_caption(&mut rgba, w, h, 6 * scale, 6 * scale, scale, &caption);
            rec.writer.as_mut().context("writer closed")?.push(&rgba)
        });
        if let Err(e) = pushed {
            failure = Some(e);
        }
    }
    if let Some(msg) = state.message.as_ref().filter(|m| !m.starts_with("loaded")) {
        failure.get_or_insert_with(|| anyhow::anyhow!("{msg}"));
    }
    let done =
        !rec.waiting && (rec.steps >= rec.max_steps || finished_episodes(&state) >= rec.episodes);
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

/// The overlay's Record button: every rendered frame of the window into a video until
/// stopped. `include_overlay` off hides the egui windows while recording (F9 stops then).
#[derive(Resource, Default)]
pub struct WindowRecording {
    pub active: bool,
    pub include_overlay: bool,
    pub fps: u32,
    /// Folder of the videos (`videos/` in the working directory).
    pub dir: PathBuf,
    /// Stop by itself after this many frames (`--record-frames`).
    pub limit: Option<u64>,
    writer: Option<VideoWriter>,
    size: Option<(u32, u32)>,
    pending: usize,
    requested: u64,
    /// Where the last video went, or why it failed.
    pub last: Option<String>,
    stop_requested: bool,
}

impl WindowRecording {
    pub fn start(&mut self) {
        self.active = true;
        self.requested = 0;
        self.stop_requested = false;
        self.last = None;
    }
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }
}

pub struct WindowRecorderPlugin {
    /// Record the first N frames from the start.
    pub record_frames: Option<u64>,
}

impl Plugin for WindowRecorderPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(WindowRecording {
            active: self.record_frames.is_some(),
            limit: self.record_frames,
            include_overlay: true,
            fps: 30,
            dir: PathBuf::from("videos"),
            ..default()
        })
        .init_resource::<CapturedFrames>()
        .add_systems(Update, stop_on_f9)
        .add_systems(Last, capture_window_frame)
        .add_systems(First, encode_window_frames);
    }
}

fn stop_on_f9(keys: Res<ButtonInput<KeyCode>>, mut rec: ResMut<WindowRecording>) {
    if keys.just_pressed(KeyCode::F9) {
        if rec.active {
            rec.stop();
        } else {
            rec.start();
        }
    }
}

fn capture_window_frame(
    mut commands: Commands,
    mut rec: ResMut<WindowRecording>,
    frames: Res<CapturedFrames>,
) {
    if !rec.active || rec.stop_requested {
        return;
    }
    rec.requested += 1;
    if rec.limit.is_some_and(|n| rec.requested >= n) {
        rec.stop_requested = true;
    }
    rec.pending += 1;
    frames.capture(&mut commands, Screenshot::primary_window());
}

fn video_path(dir: &std::path::Path) -> PathBuf {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    dir.join(format!("virel-lab-{t}.mp4"))
}

fn encode_window_frames(mut rec: ResMut<WindowRecording>, frames: Res<CapturedFrames>) {
    let captured: Vec<Image> = std::mem::take(&mut *frames.0.lock().expect("frame sink"));
    for img in captured {
        rec.pending = rec.pending.saturating_sub(1);
        if rec.writer.is_none() && rec.last.is_none() {
            // H.264 needs even sizes: the last odd row or column is cropped.
            let (w, h) = (img.width() & !1, img.height() & !1);
            match VideoWriter::create(&video_path(&rec.dir), w, h, rec.fps) {
                Ok(writer) => {
                    rec.writer = Some(writer);
                    rec.size = Some((w, h));
                }
                Err(e) => rec.last = Some(format!("recording failed: {e:#}")),
            }
        }
        let (Some((w, h)), Some(_)) = (rec.size, rec.writer.as_ref()) else {
            continue;
        };
        let pushed = rgba_rows(img, w, h)
            .and_then(|rgba| rec.writer.as_mut().context("writer closed")?.push(&rgba));
        if let Err(e) = pushed {
            rec.last = Some(format!("recording failed: {e:#}"));
            rec.writer = None;
            rec.stop_requested = true;
        }
    }
    if rec.stop_requested && rec.pending == 0 {
        rec.active = false;
        rec.stop_requested = false;
        rec.size = None;
        if let Some(w) = rec.writer.take() {
            let n = w.frames();
            rec.last = Some(match w.finish() {
                Ok(p) => format!(
                    "saved {n} frames to {}",
                    std::fs::canonicalize(&p).unwrap_or(p).display()
                ),
                Err(e) => format!("recording failed: {e:#}"),
            });
            info!("{}", rec.last.as_deref().unwrap_or_default());
        }
    }
}
