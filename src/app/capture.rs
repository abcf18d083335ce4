//! [`CapturePlugin`]: saves a screenshot of the window after a number of frames, then exits
//! (for the window test and for pictures of the app).

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, save_to_disk};
use std::path::PathBuf;

/// Frames to wait for the capture before giving up.
const CAPTURE_TIMEOUT_FRAMES: u32 = 600;

/// Saves a screenshot of the window after `after_frames` frames to `path`, then exits.
pub struct CapturePlugin {
    /// Where the PNG goes (a stale file there is removed first).
    pub path: PathBuf,
    /// Frames to draw before the screenshot.
    pub after_frames: u32,
}

#[derive(Resource)]
struct Capture {
    path: PathBuf,
    after_frames: u32,
    frame: u32,
}

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        // A stale file from an earlier run must not pass for this one.
        let _ = std::fs::remove_file(&self.path);
        app.insert_resource(Capture {
            path: self.path.clone(),
            after_frames: self.after_frames,
            frame: 0,
        })
        .add_systems(Last, capture_then_exit);
    }
}

fn capture_then_exit(
    recording: Option<Res<super::recording::WindowRecording>>,
    mut commands: Commands,
    mut c: ResMut<Capture>,
    mut exit: MessageWriter<AppExit>,
) {
    c.frame += 1;
    if c.frame == c.after_frames {
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_to_disk(c.path.clone()));
    } else if c.frame > c.after_frames {
        let recording = recording.is_some_and(|r| r.active);
        if !recording && std::fs::metadata(&c.path).is_ok_and(|m| m.len() > 0) {
            info!("screenshot saved to {}", c.path.display());
            exit.write(AppExit::Success);
        } else if c.frame > c.after_frames + CAPTURE_TIMEOUT_FRAMES {
            error!("no screenshot after {CAPTURE_TIMEOUT_FRAMES} frames");
            exit.write(AppExit::error());
        }
    }
}
