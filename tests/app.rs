//! The desktop app's training plugin, headless (MinimalPlugins, no window, no GPU): it steps
//! the envs and the agent, publishes metrics, poses and action distributions, switches runs
//! without losing the old curves, pauses and single-steps, saves and loads checkpoints.

mod common;

use bevy::prelude::*;
use virel_lab::app::lab::{LabRequest, LabState};
use virel_lab::app::training::TrainingPlugin;
use virel_lab::rl::Algo;
use virel_lab::training::config::TrainConfig;

/// A small, quick run: hopper (episodes end fast under random actions), 2 copies.
fn small_config(algo: Algo) -> TrainConfig {
    let mut cfg = virel_lab::app::desktop_config("hopper", algo, 2, 3);
    cfg.agents.set_learning_starts(100);
    cfg.agents.set_hidden(&[32, 32]);
    cfg.agents.virel.batch_size = 64;
    cfg.agents.virel.epsilon_batch_size = 128;
    cfg.agents.sac.batch_size = 64;
    cfg.agents.td3.batch_size = 64;
    cfg.device = virel_lab::training::config::DeviceChoice::Cpu;
    cfg
}

fn headless_app(cfg: TrainConfig) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).add_plugins(TrainingPlugin {
        config: cfg,
        checkpoint: None,
    });
    app
}

/// Updates the app until `done` holds (at most `frames` frames); true if it did.
fn run_until(app: &mut App, frames: usize, done: impl Fn(&LabState) -> bool) -> bool {
    for _ in 0..frames {
        app.update();
        if done(app.world().resource::<LabState>()) {
            return true;
        }
    }
    false
}

#[test]
fn training_plugin_steps_envs_and_agent_and_publishes_metrics() {
    let _g = common::torch_lock();
    let mut app = headless_app(small_config(Algo::Virel));
    let ok = run_until(&mut app, 2_000, |s| {
        s.live.updates >= 50 && s.runs.last().is_some_and(|r| r.returns.len() >= 3)
    });
    let s = app.world().resource::<LabState>();
    assert!(
        ok,
        "after 2000 frames: {} steps, {} updates",
        s.live.env_steps, s.live.updates
    );
    let run = &s.runs[0];
    assert_eq!(run.temperature_name, "virel/epsilon");
    assert!(!run.temperature.is_empty() && run.temperature.iter().all(|p| p[1].is_finite()));
    assert!(!run.q_values.is_empty() && !run.bellman_residual.is_empty());
    assert!(s.live.temperature.is_some_and(|e| e >= 0.0));
    // Poses: 2 copies × the hopper's 4 bodies, finite.
    assert_eq!(s.poses.len(), 2);
    assert!(s.poses.iter().all(|c| c.len() == 4));
    assert!(
        s.poses
            .iter()
            .flatten()
            .all(|(p, q)| p.is_finite() && q.is_finite())
    );
    let d = s.action_distribution.as_ref().expect("action distribution");
    assert_eq!(d.dims(), 3);
    assert_eq!(s.joint_names, ["thigh_joint", "leg_joint", "foot_joint"]);
}

#[test]
fn switching_algorithm_starts_a_new_run_and_keeps_the_old_curves() {
    let _g = common::torch_lock();
    let mut app = headless_app(small_config(Algo::Virel));
    assert!(run_until(&mut app, 2_000, |s| s
        .runs
        .first()
        .is_some_and(|r| r.returns.len() >= 2)));
    let old = app.world().resource::<LabState>().runs[0].returns.clone();
    {
        let mut s = app.world_mut().resource_mut::<LabState>();
        s.next_run = small_config(Algo::Sac);
        s.requests.push(LabRequest::NewRun);
    }
    assert!(run_until(&mut app, 2_000, |s| s.live.updates >= 5));
    let s = app.world().resource::<LabState>();
    assert_eq!(s.runs.len(), 2);
    assert!(
        s.runs[0].returns.starts_with(&old),
        "the first run's curve changed"
    );
    assert_eq!(s.current.as_ref().unwrap().algo, Algo::Sac);
    assert_eq!(s.runs[1].temperature_name, "losses/alpha");
}

#[test]
fn paused_lab_stands_still_and_single_step_advances_one_vector_step() {
    let _g = common::torch_lock();
    let mut app = headless_app(small_config(Algo::Td3));
    app.update();
    app.world_mut().resource_mut::<LabState>().paused = true;
    app.update();
    let before = app.world().resource::<LabState>().live.env_steps;
    for _ in 0..5 {
        app.update();
    }
    assert_eq!(app.world().resource::<LabState>().live.env_steps, before);
    app.world_mut().resource_mut::<LabState>().single_step = true;
    app.update();
    assert_eq!(
        app.world().resource::<LabState>().live.env_steps,
        before + 2
    );
}

#[test]
fn save_then_load_watches_the_checkpoint_and_a_bad_file_is_reported() {
    let _g = common::torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("lab.ckpt");
    let mut app = headless_app(small_config(Algo::Sac));
    assert!(run_until(&mut app, 2_000, |s| s.live.updates >= 5));
    app.world_mut()
        .resource_mut::<LabState>()
        .requests
        .push(LabRequest::Save(ckpt.clone()));
    app.update();
    assert!(
        ckpt.exists(),
        "{:?}",
        app.world().resource::<LabState>().message
    );

    let bad = dir.path().join("bad.ckpt");
    std::fs::write(&bad, b"not a checkpoint").unwrap();
    app.world_mut()
        .resource_mut::<LabState>()
        .requests
        .push(LabRequest::Load(bad.clone()));
    app.update();
    let s = app.world().resource::<LabState>();
    let msg = s.message.clone().unwrap_or_default();
    assert!(msg.contains("bad.ckpt"), "message: {msg}");
    assert_eq!(s.runs.len(), 1, "a failed load must not start a run");

    {
        let mut s = app.world_mut().resource_mut::<LabState>();
        s.watch_only = true;
        s.requests.push(LabRequest::Load(ckpt.clone()));
    }
    app.update();
    let steps = app.world().resource::<LabState>().live.env_steps;
    let updates = app.world().resource::<LabState>().live.updates;
    for _ in 0..20 {
        app.update();
    }
    let s = app.world().resource::<LabState>();
    assert_eq!(s.runs.len(), 2, "{:?}", s.message);
    assert!(s.message.as_deref().unwrap_or("").starts_with("loaded"));
    assert_eq!(s.live.updates, updates, "watching must not learn");
    assert_eq!(
        s.live.env_steps, steps,
        "watching does not count training steps"
    );
    assert!(s.live.watched_steps >= 2, "watching steps the robots");
    assert!(s.poses.iter().all(|c| c.len() == 4));
}
