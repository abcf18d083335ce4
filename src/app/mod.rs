//! The desktop app: robots learning in 3D with the VIREL overlay, as one plugin group,
//! [`LabPlugins`], whose systems run in the public, ordered sets of [`LabSystems`]. One plugin
//! per capability:
//!
//! - [`training::TrainingPlugin`] — the runs, each on its own training thread
//!   ([`worker::RunWorker`]); requests in, frames and curves out (works under
//!   `MinimalPlugins`).
//! - [`view::ViewPlugin`] — ground, grid, lanes, robot meshes, light, render quality.
//! - [`camera::CameraPlugin`] — orbit camera and follow mode (on the window or an image).
//! - [`resolution::ResolutionPlugin`] — the window's 3D view at a share of its resolution,
//!   under the overlay (a software renderer's frame costs its pixels).
//! - [`hands::HandsPlugin`] — Ctrl + drag pushes a body with a spring; contact force arrows.
//! - [`overlay::OverlayPlugin`] — the egui windows.
//! - [`recording::WindowRecorderPlugin`] — the Record button: the window into a video
//!   ([`video`]: the encoders).
//! - [`burnin`] — captions and the posterior panel drawn into video frames.
//! - [`capture::CapturePlugin`] — a screenshot after N frames, then exit (tests, docs).
//!
//! [`lab`] holds the data they share; `record` builds the same group without the overlay.

pub mod burnin;
pub mod camera;
pub mod capture;
pub mod hands;
pub mod lab;
pub mod overlay;
pub mod recording;
pub mod resolution;
pub mod training;
pub mod video;
pub mod view;
pub mod worker;

pub use lab::{LabSystems, default_copies, desktop_config};

use crate::envs;
use crate::rl::AgentSpec;
use crate::runtime;
use crate::training::config::TrainConfig;
use crate::training::memory;
use anyhow::Result;
use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use std::path::PathBuf;

/// The lab: training threads, 3D view, camera, overlay and the Record button. `record` builds
/// it with the overlay and the Record button disabled and the camera on an image.
pub struct LabPlugins {
    /// The first run.
    pub config: TrainConfig,
    /// Watch this checkpoint instead of training from scratch.
    pub checkpoint: Option<PathBuf>,
    /// Start paused.
    pub paused: bool,
    /// Shadows and MSAA at start.
    pub quality: view::RenderQuality,
    /// The camera: on the window (the app) or on an image (`record`).
    pub camera: camera::CameraPlugin,
    /// Record the window's first N frames to `videos/` (as the Record button does).
    pub record_frames: Option<u64>,
    /// More runs started beside the first: a race on one robot.
    pub race: Vec<TrainConfig>,
}

impl PluginGroup for LabPlugins {
    fn build(self) -> PluginGroupBuilder {
        PluginGroupBuilder::start::<Self>()
            .add(training::TrainingPlugin {
                config: self.config,
                checkpoint: self.checkpoint,
                paused: self.paused,
                race: self.race,
            })
            .add(view::ViewPlugin {
                quality: self.quality,
            })
            .add(self.camera)
            .add(resolution::ResolutionPlugin)
            .add(hands::HandsPlugin)
            .add(overlay::OverlayPlugin)
            .add(recording::WindowRecorderPlugin {
                record_frames: self.record_frames,
            })
    }
}

/// The robot the app opens with.
pub const DEFAULT_ENV: &str = "half_cheetah";

/// How the desktop app starts.
#[derive(Clone, Debug)]
pub struct AppOptions {
    /// The first run.
    pub config: TrainConfig,
    /// Watch this checkpoint (no training) instead of a new run.
    pub checkpoint: Option<PathBuf>,
    /// Shadows and MSAA at start.
    pub quality: view::RenderQuality,
    /// Window width, pixels.
    pub width: u32,
    /// Window height, pixels.
    pub height: u32,
    /// Record the window's first N frames to `videos/` (as the Record button does).
    pub record_frames: Option<u64>,
    /// Share of a core each training thread may take (see [`lab::LabSettings`]).
    pub training_share: f32,
    /// More runs started beside the first (`--race`).
    pub race: Vec<TrainConfig>,
    /// Save a screenshot after this many frames, then exit.
    pub screenshot: Option<(PathBuf, u32)>,
    /// Open the counterexample panel at start.
    pub counterexample: bool,
}

/// The smallest and largest window sides, pixels.
const MIN_WINDOW: u32 = 64;
const MAX_WINDOW: u32 = 16_384;

/// How long a TCP display may take to answer.
const X_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Refuses a `DISPLAY` that points at no X server (the windowing library would panic):
/// `:N` and `unix:N` are the local socket `/tmp/.X11-unix/XN` (or its abstract twin),
/// `host:N` is TCP port 6000 + N. Forms it does not know are left to the windowing library.
fn check_x_server() -> Result<()> {
    let display = std::env::var("DISPLAY").unwrap_or_default();
    let Some((host, rest)) = display.rsplit_once(':') else {
        anyhow::bail!("DISPLAY={display}: not an X display (expected e.g. :0 or host:0)");
    };
    let Ok(number) = rest.split('.').next().unwrap_or("").parse::<u16>() else {
        anyhow::bail!("DISPLAY={display}: not an X display (expected e.g. :0 or host:0)");
    };
    let reachable = if host.is_empty() || host == "unix" {
        let path = format!("/tmp/.X11-unix/X{number}");
        std::os::unix::net::UnixStream::connect(&path).is_ok() || abstract_socket_answers(&path)
    } else if host.starts_with('/') {
        return Ok(());
    } else {
        use std::net::ToSocketAddrs;
        let port = 6000 + u32::from(number);
        format!("{host}:{port}")
            .to_socket_addrs()
            .ok()
            .into_iter()
            .flatten()
            .any(|a| std::net::TcpStream::connect_timeout(&a, X_CONNECT_TIMEOUT).is_ok())
    };
    if !reachable {
        anyhow::bail!(
            "DISPLAY={display}: no X server answers there; start one (e.g. `Xvfb :{number} &`) \
             or point DISPLAY at a running one, or train headless with `virel-lab train`"
        );
    }
    Ok(())
}

/// Whether Linux's abstract socket of that name (where X servers listen too) answers.
#[cfg(target_os = "linux")]
fn abstract_socket_answers(name: &str) -> bool {
    use std::os::linux::net::SocketAddrExt;
    std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .and_then(|a| std::os::unix::net::UnixStream::connect_addr(&a))
        .is_ok()
}

#[cfg(not(target_os = "linux"))]
fn abstract_socket_answers(_name: &str) -> bool {
    false
}

/// Opens the window and runs until it is closed.
pub fn run(opts: AppOptions) -> Result<()> {
    // Each run trains on a thread of its own with this many torch threads.
    let training_threads = (1 + opts.race.len()) * opts.config.torch_threads.max(1) as usize;
    runtime::leave_cores_to_training(training_threads);
    if !(worker::MIN_SHARE..=1.0).contains(&opts.training_share) {
        anyhow::bail!(
            "--training-share {}: expected a share of a core from {} to 1",
            opts.training_share,
            worker::MIN_SHARE
        );
    }
    if let Some(share) = opts.quality.resolution
        && !(resolution::MIN_RESOLUTION..=1.0).contains(&share)
    {
        anyhow::bail!(
            "--resolution {share}: expected a share of the window's width and height from {} to 1",
            resolution::MIN_RESOLUTION
        );
    }
    for (flag, v) in [("--width", opts.width), ("--height", opts.height)] {
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&v) {
            anyhow::bail!("{flag} {v}: expected {MIN_WINDOW} to {MAX_WINDOW} pixels");
        }
    }
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        let headless = match &opts.checkpoint {
            Some(c) => format!(
                "to watch this policy without a window, record it: `virel-lab record --checkpoint {}`",
                c.display()
            ),
            None => "or train headless with `virel-lab train`".to_owned(),
        };
        anyhow::bail!(
            "no display (DISPLAY is not set): the desktop app needs an X server; on a server \
             start one with `Xvfb :99 & export DISPLAY=:99`; {headless}"
        );
    }
    check_x_server()?;
    // The first run's sizes, before a window and lanes are made for them.
    let spec = AgentSpec::of_resolved(&envs::ResolvedEnv::resolve(&opts.config.env)?);
    memory::check_run(&opts.config, &spec)?;
    runtime::init_torch(opts.config.torch_threads);
    let mut app = App::new();
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title: "virel-lab".into(),
            resolution: WindowResolution::new(opts.width, opts.height),
            ..default()
        }),
        ..default()
    }))
    .add_plugins(bevy_egui::EguiPlugin::default())
    .add_plugins(LabPlugins {
        config: opts.config.clone(),
        checkpoint: opts.checkpoint.clone(),
        paused: false,
        quality: opts.quality,
        camera: camera::CameraPlugin::default(),
        record_frames: opts.record_frames,
        race: opts.race.clone(),
    });
    app.world_mut()
        .resource_mut::<lab::LabSettings>()
        .training_share = opts.training_share;
    app.world_mut()
        .resource_mut::<overlay::CounterexamplePanel>()
        .open = opts.counterexample;
    if let Some((path, frames)) = &opts.screenshot {
        app.add_plugins(capture::CapturePlugin {
            path: path.clone(),
            after_frames: *frames,
        });
    }
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => anyhow::bail!("the app exited with code {code}"),
    }
}
