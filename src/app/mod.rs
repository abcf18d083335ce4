//! The desktop app: robots learning in 3D with the VIREL overlay. One plugin per capability:
//!
//! - [`training::TrainingPlugin`] — the run: steps envs and agent within a frame budget
//!   (headless-capable: works under `MinimalPlugins`).
//! - [`view::ViewPlugin`] — ground, lanes, robot meshes, light, render quality.
//! - [`camera::CameraPlugin`] — orbit camera and follow mode.
//! - [`overlay::OverlayPlugin`] — the egui windows.
//! - [`capture::CapturePlugin`] — a screenshot after N frames, then exit (tests, docs).
//!
//! [`lab`] holds the state they share.

pub mod camera;
pub mod capture;
pub mod lab;
pub mod overlay;
pub mod training;
pub mod view;

use crate::rl::Algo;
use crate::training::config::TrainConfig;
use anyhow::Result;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use std::path::PathBuf;

/// The robot the app opens with.
pub const DEFAULT_ENV: &str = "half_cheetah";
/// Copies of it, side by side.
pub const DEFAULT_COPIES: usize = 8;

/// A run config for watching: the env's training preset, without log files, with
/// settings that keep a CPU-only machine lively:
/// - learning starts after 2 000 steps instead of 5 000–25 000, so the agent soon acts by itself;
/// - one gradient step per vector step of all copies (`updates_per_step = 1/copies`) on the
///   CPU, the published one per env step on CUDA: a 256-256 update takes ~12 ms on a 2-core
///   CPU, which at 8 updates per vector step would show robots moving at ~10 frames/s.
pub fn desktop_config(env: &str, algo: Algo, num_envs: usize, seed: u64) -> TrainConfig {
    let mut cfg = TrainConfig::for_env(env);
    cfg.algo = algo;
    cfg.num_envs = num_envs.max(1);
    cfg.seed = seed;
    cfg.tensorboard = false;
    if env != "pendulum" && env != "identity" {
        cfg.agents.set_learning_starts(2_000);
    }
    let cuda = cfg.device.resolve().is_ok_and(|d| d.is_cuda());
    if !cuda {
        cfg.updates_per_step = 1.0 / cfg.num_envs as f64;
    }
    cfg
}

/// How the desktop app starts.
#[derive(Clone, Debug)]
pub struct AppOptions {
    pub config: TrainConfig,
    /// Watch this checkpoint (no training) instead of a new run.
    pub checkpoint: Option<PathBuf>,
    pub quality: view::RenderQuality,
    pub width: u32,
    pub height: u32,
    /// Record the window's first N frames to `videos/` (as the Record button does).
    pub record_frames: Option<u64>,
    /// Initial training budget per frame, milliseconds.
    pub train_ms: f32,
    /// Save a screenshot after this many frames, then exit.
    pub screenshot: Option<(PathBuf, u32)>,
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
    if !opts.train_ms.is_finite() || opts.train_ms < 0.0 {
        anyhow::bail!(
            "--train-ms {}: expected a number of milliseconds ≥ 0",
            opts.train_ms
        );
    }
    for (flag, v) in [("--width", opts.width), ("--height", opts.height)] {
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&v) {
            anyhow::bail!("{flag} {v}: expected {MIN_WINDOW} to {MAX_WINDOW} pixels");
        }
    }
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        anyhow::bail!(
            "no display (DISPLAY is not set): the desktop app needs an X server; on a server \
             start one with `Xvfb :99 & export DISPLAY=:99`, or train headless with `virel-lab train`"
        );
    }
    check_x_server()?;
    // The first run's sizes, before a window and lanes are made for them.
    let spec = crate::rl::AgentSpec::of(crate::envs::make(&opts.config.env)?.as_ref());
    crate::training::memory::check_run(&opts.config, &spec)?;
    crate::runtime::init_torch(opts.config.torch_threads);
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
    .add_plugins(training::TrainingPlugin {
        config: opts.config.clone(),
        checkpoint: opts.checkpoint.clone(),
    });
    app.world_mut().resource_mut::<lab::LabState>().budget_ms = opts.train_ms;
    app.add_plugins((
        view::ViewPlugin {
            quality: opts.quality,
        },
        camera::CameraPlugin::default(),
        overlay::OverlayPlugin,
        crate::record::WindowRecorderPlugin {
            record_frames: opts.record_frames,
        },
    ));
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
