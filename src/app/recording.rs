//! [`WindowRecorderPlugin`]: the overlay's Record button (and F9, and `--record-frames`):
//! every rendered frame of the window (3D view, optionally with the overlay) into a video until
//! stopped. Frames come back from the GPU as screenshots ([`CapturedFrames`]) and go to
//! [`VideoWriter`]: ffmpeg (H.264 MP4) or, without ffmpeg, a GIF.

use super::video::VideoWriter;
use anyhow::{Context, Result, bail};
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Frames captured by the GPU, waiting to be encoded (filled by screenshot observers).
#[derive(Resource, Clone, Default)]
pub struct CapturedFrames(pub Arc<Mutex<Vec<Image>>>);

impl CapturedFrames {
    /// Spawns `screenshot`; its image joins these frames when the GPU hands it back.
    pub fn capture(&self, commands: &mut Commands, screenshot: Screenshot) {
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

/// RGBA8 rows of a captured image, cropped to `width × height`.
pub fn rgba_rows(img: Image, width: u32, height: u32) -> Result<Vec<u8>> {
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

/// The overlay's Record button: every rendered frame of the window into a video until
/// stopped. `include_overlay` off hides the egui windows while recording (F9 stops then).
#[derive(Resource, Default)]
pub struct WindowRecording {
    /// Frames are being captured.
    pub active: bool,
    /// Capture the overlay too (off: the 3D view alone).
    pub include_overlay: bool,
    /// Frame rate of the video.
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
    /// Starts a video with the next frame.
    pub fn start(&mut self) {
        self.active = true;
        self.requested = 0;
        self.stop_requested = false;
        self.last = None;
    }
    /// Ends the video once the frames in flight are encoded.
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }
}

/// The Record button, F9 and `--record-frames`: the window into `videos/`.
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
