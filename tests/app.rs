//! The desktop app's training plugin, headless (MinimalPlugins, no window, no GPU): each run
//! trains on its own thread and hands frames to the app; the lab steps envs and agents,
//! publishes metrics, poses and action distributions, switches runs without losing the old
//! curves, holds several runs at once, pauses and single-steps, saves and loads checkpoints —
//! all through messages — and a frame never waits for a gradient step.

mod common;

use bevy::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use virel_lab::app::lab::{Curves, LabOutcome, LabRequest, NextRun, Pace, Runs};
use virel_lab::app::training::{SpawnCallbacks, TrainingPlugin};
use virel_lab::rl::Algo;
use virel_lab::training::config::TrainConfig;
use virel_lab::training::driver::{Callback, Flow, Session};
use virel_lab::training::{StepReport, Trainer};

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
        paused: false,
        race: Vec::new(),
    });
    app
}

/// The outcomes written since the last call.
#[derive(Resource, Default)]
struct Heard(Vec<LabOutcome>);

fn hear(mut outcomes: MessageReader<LabOutcome>, mut heard: ResMut<Heard>) {
    heard.0.extend(outcomes.read().cloned());
}

fn listening(mut app: App) -> App {
    app.init_resource::<Heard>().add_systems(Last, hear);
    app
}

/// Updates the app until `done` holds (at most `secs` seconds); true if it did.
fn run_until(app: &mut App, secs: u64, done: impl Fn(&World) -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        app.update();
        if done(app.world()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

fn runs(w: &World) -> &Runs {
    w.resource::<Runs>()
}

fn curves(w: &World) -> &Curves {
    w.resource::<Curves>()
}

fn request(app: &mut App, r: LabRequest) {
    app.world_mut().write_message(r);
}

#[test]
fn training_plugin_steps_envs_and_agent_and_publishes_metrics() {
    let _g = common::torch_lock();
    let mut app = headless_app(small_config(Algo::Virel));
    let ok = run_until(&mut app, 120, |w| {
        runs(w)
            .live
            .first()
            .is_some_and(|r| r.frame.live.updates >= 50)
            && curves(w).0.first().is_some_and(|c| c.returns.len() >= 3)
    });
    let w = app.world();
    let run = &runs(w).live[0];
    assert!(
        ok,
        "after 120 s: {} steps, {} updates",
        run.frame.live.env_steps, run.frame.live.updates
    );
    let c = &curves(w).0[0];
    assert_eq!(c.temperature_name, "virel/epsilon");
    assert!(!c.temperature.is_empty() && c.temperature.iter().all(|p| p[1].is_finite()));
    assert!(!c.q_values.is_empty() && !c.bellman_residual.is_empty());
    assert!(run.frame.live.temperature.is_some_and(|e| e >= 0.0));
    // Poses: 2 copies × the hopper's 4 bodies, finite.
    let poses = &run.frame.poses;
    assert_eq!(poses.len(), 2);
    assert!(poses.iter().all(|c| c.len() == 4));
    assert!(
        poses
            .iter()
            .flatten()
            .all(|(p, q)| p.is_finite() && q.is_finite())
    );
    let d = run
        .frame
        .action_distribution
        .as_ref()
        .expect("action distribution");
    assert_eq!(d.dims(), 3);
    assert_eq!(run.joint_names, ["thigh_joint", "leg_joint", "foot_joint"]);
}

#[test]
fn switching_algorithm_starts_a_new_run_and_keeps_the_old_curves() {
    let _g = common::torch_lock();
    let mut app = headless_app(small_config(Algo::Virel));
    assert!(run_until(&mut app, 120, |w| curves(w)
        .0
        .first()
        .is_some_and(|r| r.returns.len() >= 2)));
    app.world_mut().resource_mut::<NextRun>().0 = small_config(Algo::Sac);
    request(&mut app, LabRequest::NewRun { alongside: false });
    app.update();
    let old = curves(app.world()).0[0].returns.clone();
    assert!(run_until(&mut app, 120, |w| runs(w)
        .live
        .first()
        .is_some_and(|r| r.frame.live.updates >= 5)));
    let w = app.world();
    assert_eq!(curves(w).0.len(), 2);
    assert_eq!(
        curves(w).0[0].returns,
        old,
        "the first run's curve changed after it was replaced"
    );
    assert_eq!(runs(w).live.len(), 1, "the new run replaced the old one");
    assert_eq!(runs(w).live[0].config.algo, Algo::Sac);
    assert_eq!(curves(w).0[1].temperature_name, "losses/alpha");
}

#[test]
fn two_runs_in_one_lab_each_advance_and_keep_their_own_curves() {
    let _g = common::torch_lock();
    let mut app = headless_app(small_config(Algo::Sac));
    app.update();
    let mut td3 = small_config(Algo::Td3);
    td3.seed += 1;
    app.world_mut().resource_mut::<NextRun>().0 = td3;
    request(&mut app, LabRequest::NewRun { alongside: true });
    let ok = run_until(&mut app, 120, |w| {
        runs(w).live.len() == 2
            && runs(w).live.iter().all(|r| r.frame.live.updates >= 5)
            && curves(w).0.iter().all(|c| c.returns.len() >= 2)
    });
    let w = app.world();
    assert!(
        ok,
        "both runs learn: {:?}",
        runs(w)
            .live
            .iter()
            .map(|r| r.frame.live.updates)
            .collect::<Vec<_>>()
    );
    let (a, b) = (&curves(w).0[0], &curves(w).0[1]);
    assert_eq!(a.temperature_name, "losses/alpha");
    assert_eq!(b.temperature_name, "td3/exploration_noise");
    assert_ne!(a.returns, b.returns, "each run has its own curve");
    // Lanes: run 2's copies come after run 1's.
    let (r1, r2) = (runs(w).live[0].id, runs(w).live[1].id);
    assert_eq!(runs(w).lane(r1, 1), 1);
    assert_eq!(runs(w).lane(r2, 0), 2);
    assert_eq!(runs(w).lanes(), 4);
    // Closing one leaves the other training and both curves in place.
    request(&mut app, LabRequest::CloseRun(r1));
    app.update();
    let before = runs(app.world()).get(r2).unwrap().frame.live.env_steps;
    assert!(run_until(&mut app, 60, |w| runs(w)
        .get(r2)
        .is_some_and(|r| r.frame.live.env_steps > before)));
    assert_eq!(runs(app.world()).live.len(), 1);
    assert_eq!(curves(app.world()).0.len(), 2);
}

#[test]
fn paused_lab_stands_still_and_single_step_advances_one_vector_step() {
    let _g = common::torch_lock();
    let mut app = headless_app(small_config(Algo::Td3));
    assert!(run_until(&mut app, 60, |w| runs(w)
        .live
        .first()
        .is_some_and(|r| r.frame.live.env_steps > 0)));
    app.world_mut()
        .resource_mut::<NextState<Pace>>()
        .set(Pace::Paused);
    app.update();
    // The pause reaches the thread within a step; let it land, then read.
    std::thread::sleep(Duration::from_millis(300));
    app.update();
    let before = runs(app.world()).live[0].frame.live.env_steps;
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(20));
        app.update();
    }
    assert_eq!(runs(app.world()).live[0].frame.live.env_steps, before);
    request(&mut app, LabRequest::Step);
    assert!(run_until(&mut app, 30, |w| runs(w).live[0]
        .frame
        .live
        .env_steps
        != before));
    std::thread::sleep(Duration::from_millis(100));
    app.update();
    assert_eq!(runs(app.world()).live[0].frame.live.env_steps, before + 2);
}

#[test]
fn save_then_load_watches_the_checkpoint_and_a_bad_file_is_reported() {
    let _g = common::torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("lab.ckpt");
    let mut app = listening(headless_app(small_config(Algo::Sac)));
    assert!(run_until(&mut app, 120, |w| runs(w)
        .live
        .first()
        .is_some_and(|r| r.frame.live.updates >= 5)));
    request(&mut app, LabRequest::Save(ckpt.clone()));
    let saved = run_until(&mut app, 30, |w| {
        w.resource::<Heard>()
            .0
            .iter()
            .any(|o| matches!(o, LabOutcome::Saved { .. }))
    });
    assert!(
        saved && ckpt.exists(),
        "{:?}",
        app.world().resource::<Heard>().0
    );

    let bad = dir.path().join("bad.ckpt");
    std::fs::write(&bad, b"not a checkpoint").unwrap();
    app.world_mut().resource_mut::<Heard>().0.clear();
    request(
        &mut app,
        LabRequest::Load {
            path: bad.clone(),
            alongside: false,
        },
    );
    app.update();
    let msg = app
        .world()
        .resource::<Heard>()
        .0
        .last()
        .map(|o| o.to_string())
        .unwrap_or_default();
    assert!(msg.contains("bad.ckpt"), "message: {msg}");
    assert_eq!(
        curves(app.world()).0.len(),
        1,
        "a failed load must not start a run"
    );

    app.world_mut()
        .resource_mut::<NextState<virel_lab::app::lab::Activity>>()
        .set(virel_lab::app::lab::Activity::Watching);
    request(
        &mut app,
        LabRequest::Load {
            path: ckpt.clone(),
            alongside: false,
        },
    );
    app.update();
    let loaded = app.world().resource::<Heard>().0.last().cloned();
    assert!(
        matches!(loaded, Some(LabOutcome::Loaded { .. })),
        "{loaded:?}"
    );
    assert!(loaded.unwrap().to_string().starts_with("loaded"));
    assert!(run_until(&mut app, 30, |w| runs(w).live[0]
        .frame
        .live
        .watched_steps
        >= 2));
    let w = app.world();
    let steps = runs(w).live[0].frame.live.env_steps;
    let updates = runs(w).live[0].frame.live.updates;
    assert!(run_until(&mut app, 30, |w| runs(w).live[0]
        .frame
        .live
        .watched_steps
        >= 20));
    let w = app.world();
    assert_eq!(curves(w).0.len(), 2);
    let run = &runs(w).live[0];
    assert_eq!(run.frame.live.updates, updates, "watching must not learn");
    assert_eq!(
        run.frame.live.env_steps, steps,
        "watching does not count training steps"
    );
    assert!(
        run.frame.live.watched_steps >= 2,
        "watching steps the robots"
    );
    assert!(run.frame.poses.iter().all(|c| c.len() == 4));
}

/// Sleeps through every step after the first gradient step (a gradient step as slow as a
/// large network's on a small CPU), counting the steps it saw.
struct SlowSteps {
    slow: Duration,
    steps: Arc<AtomicU64>,
    in_step: Arc<AtomicBool>,
}

impl Callback for SlowSteps {
    fn on_step(&mut self, t: &Trainer, _: &StepReport, _: &mut Session) -> anyhow::Result<Flow> {
        self.steps.fetch_add(1, Ordering::SeqCst);
        if t.counters.updates > 0 {
            self.in_step.store(true, Ordering::SeqCst);
            std::thread::sleep(self.slow);
            self.in_step.store(false, Ordering::SeqCst);
        }
        Ok(Flow::Continue)
    }
}

#[test]
fn frames_keep_coming_while_a_slow_gradient_step_runs() {
    let _g = common::torch_lock();
    let mut cfg = small_config(Algo::Sac);
    cfg.agents.set_learning_starts(20);
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    let steps = Arc::new(AtomicU64::new(0));
    let in_step = Arc::new(AtomicBool::new(false));
    app.insert_resource(SpawnCallbacks(std::sync::Mutex::new(vec![Box::new(
        SlowSteps {
            slow: Duration::from_millis(1500),
            steps: steps.clone(),
            in_step: in_step.clone(),
        },
    )])));
    app.add_plugins(TrainingPlugin {
        config: cfg,
        checkpoint: None,
        paused: false,
        race: Vec::new(),
    });
    // Wait until the thread is inside a slow step.
    let start = Instant::now();
    while !in_step.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no slow step began"
        );
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    // Frames during it: each one returns at once.
    let mut frames = 0;
    let mut slowest = Duration::ZERO;
    while in_step.load(Ordering::SeqCst) {
        let t = Instant::now();
        app.update();
        slowest = slowest.max(t.elapsed());
        frames += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        frames >= 20,
        "{frames} frames during a 1.5 s gradient step: frames wait for training"
    );
    assert!(
        slowest < Duration::from_millis(500),
        "a frame took {slowest:?} while the gradient step ran"
    );
}

#[test]
fn env_steps_advance_while_no_frame_is_drawn() {
    let _g = common::torch_lock();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    let steps = Arc::new(AtomicU64::new(0));
    app.insert_resource(SpawnCallbacks(std::sync::Mutex::new(vec![Box::new(
        SlowSteps {
            slow: Duration::ZERO,
            steps: steps.clone(),
            in_step: Arc::new(AtomicBool::new(false)),
        },
    )])));
    app.add_plugins(TrainingPlugin {
        config: small_config(Algo::Td3),
        checkpoint: None,
        paused: false,
        race: Vec::new(),
    });
    app.update(); // starts the run's thread
    let before = steps.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    let during = steps.load(Ordering::SeqCst) - before;
    assert!(
        during >= 20,
        "{during} vector steps in 1.5 s without a frame: training waits for frames"
    );
    // The next frames show them (the hand-over may trail the thread by a few ms of steps).
    let want = 2 * (before + during);
    let shown = run_until(&mut app, 5, |w| {
        runs(w).live[0].frame.live.env_steps >= want
    });
    assert!(
        shown,
        "the frames show {} env steps, {want} were taken",
        runs(app.world()).live[0].frame.live.env_steps
    );
}

#[test]
fn a_race_starts_every_algorithm_beside_the_first_on_the_same_env_seeds() {
    let _g = common::torch_lock();
    let sac = small_config(Algo::Sac);
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).add_plugins(TrainingPlugin {
        config: small_config(Algo::Virel),
        checkpoint: None,
        paused: false,
        race: vec![sac],
    });
    let ok = run_until(&mut app, 120, |w| {
        runs(w).live.len() == 2 && runs(w).live.iter().all(|r| r.frame.live.updates >= 5)
    });
    let w = app.world();
    assert!(ok, "both racers learn");
    let algos: Vec<Algo> = runs(w).live.iter().map(|r| r.config.algo).collect();
    assert_eq!(algos, [Algo::Virel, Algo::Sac]);
    let seeds: Vec<u64> = runs(w).live.iter().map(|r| r.config.seed).collect();
    assert_eq!(seeds[0], seeds[1], "paired env seeds");
    // Before learning starts both act at random from the same seed: the same first returns.
    let (a, b) = (&curves(w).0[0].returns, &curves(w).0[1].returns);
    assert!(!a.is_empty() && !b.is_empty());
    assert_eq!(
        a[0], b[0],
        "the racers' first episodes start from the same states"
    );
}

#[test]
fn a_push_request_pulls_the_body_on_the_training_thread_and_frames_show_it() {
    let _torch = common::torch_lock();
    let mut app = listening(headless_app(small_config(Algo::Sac)));
    assert!(run_until(&mut app, 60, |w| {
        runs(w)
            .live
            .first()
            .is_some_and(|r| r.frame.vector_steps > 2)
    }));
    let run = runs(app.world()).live[0].id;
    let torso = |w: &World| runs(w).live[0].frame.poses[0][0].0;
    let start = torso(app.world());
    let target = start + Vec3::new(0.0, 0.0, 1.0);
    request(
        &mut app,
        LabRequest::Push {
            run,
            copy: 0,
            push: Some(virel_lab::sim::Push { body: 0, target }),
        },
    );
    assert!(
        run_until(&mut app, 60, |w| {
            runs(w).live[0]
                .frame
                .push
                .is_some_and(|(copy, _, to)| copy == 0 && to == target)
                && torso(w).z > start.z + 0.3
        }),
        "the torso rises toward a target 1 m above it: {:?} from {start:?}",
        torso(app.world())
    );
    request(
        &mut app,
        LabRequest::Push {
            run,
            copy: 0,
            push: None,
        },
    );
    assert!(run_until(&mut app, 60, |w| runs(w).live[0]
        .frame
        .push
        .is_none()));
}
