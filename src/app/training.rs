//! [`TrainingPlugin`]: each frame, carries out the UI's requests, then steps the environments
//! and pays the gradient steps they owe, one at a time, until the frame's training budget is
//! spent; then publishes what the view and the overlay show. Works under `MinimalPlugins`.

use super::lab::{Lab, LabRequest, LabState, RunCurves, TimeScale, push_point};
use crate::rl::Metrics;
use crate::training::Trainer;
use crate::training::checkpoint;
use crate::training::config::TrainConfig;
use anyhow::{Context, Result};
use bevy::prelude::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Set of the training systems, for ordering the view after them.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrainingSet;

pub struct TrainingPlugin {
    /// The first run.
    pub config: TrainConfig,
    /// Watch this checkpoint instead of training from scratch.
    pub checkpoint: Option<std::path::PathBuf>,
}

impl Plugin for TrainingPlugin {
    fn build(&self, app: &mut App) {
        let mut state = LabState::new(self.config.clone());
        if let Some(path) = &self.checkpoint {
            state.requests = vec![LabRequest::Load(path.clone())];
            state.watch_only = true;
            state.checkpoint_path = path.display().to_string();
        }
        app.insert_non_send(Lab::default())
            .insert_resource(state)
            .init_resource::<SpeedMeter>()
            .add_systems(
                Update,
                (apply_requests, train_within_budget, publish_state)
                    .chain()
                    .in_set(TrainingSet),
            );
    }
}

/// Steps/s and updates/s, measured over half-second windows.
#[derive(Resource, Default)]
struct SpeedMeter {
    since: Option<(Instant, u64, u64)>,
    /// Fractional vector steps owed to the time scale.
    step_debt: f64,
}

fn label(n: usize, cfg: &TrainConfig, loaded: Option<&Path>) -> String {
    let algo = cfg.algo.display_name();
    let from = loaded.map_or(String::new(), |p| {
        format!(
            " from {}",
            p.file_name().unwrap_or_default().to_string_lossy()
        )
    });
    format!("#{n} {algo} · {} ×{}{from}", cfg.env, cfg.num_envs)
}

/// Builds a trainer and the curves entry of a new run.
fn start_run(state: &mut LabState, cfg: TrainConfig, loaded: Option<&Path>) -> Result<Trainer> {
    let mut trainer = Trainer::new(cfg.clone())?;
    if let Some(path) = loaded {
        trainer.load(path)?;
    }
    state.runs.push(RunCurves {
        label: label(state.runs.len() + 1, &cfg, loaded),
        temperature_name: trainer.agent.temperature().0.to_owned(),
        ..default()
    });
    state.current = Some(cfg);
    state.generation += 1;
    state.followed = state.followed.min(trainer.env.num_envs() - 1);
    state.live = default();
    let space = trainer.env.action_space();
    state.action_bounds = space
        .low
        .iter()
        .copied()
        .zip(space.high.iter().copied())
        .collect();
    state.joint_names = match trainer.env.robots() {
        Some(r) => r
            .scene()
            .actuators
            .iter()
            .map(|a| a.joint.clone())
            .collect(),
        None => (0..space.dim()).map(|j| format!("action {j}")).collect(),
    };
    Ok(trainer)
}

/// The config of a checkpoint, with the lab's copy count.
fn checkpoint_config(path: &Path, num_envs: usize) -> Result<TrainConfig> {
    let ckpt = checkpoint::load(path)?;
    let mut cfg = ckpt.header.config;
    cfg.num_envs = num_envs;
    Ok(cfg)
}

fn apply_requests(mut lab: NonSendMut<Lab>, mut state: ResMut<LabState>) {
    for request in std::mem::take(&mut state.requests) {
        let outcome: Result<Option<String>> = match &request {
            LabRequest::NewRun => {
                let cfg = state.next_run.clone();
                start_run(&mut state, cfg, None).map(|t| {
                    lab.trainer = Some(t);
                    None
                })
            }
            LabRequest::ResetEpisodes => {
                if let Some(t) = lab.trainer.as_mut() {
                    let seed = t
                        .cfg
                        .seed
                        .wrapping_add(t.counters.episodes.wrapping_mul(7919));
                    t.env.reset(seed);
                }
                Ok(None)
            }
            LabRequest::Save(path) => match lab.trainer.as_ref() {
                Some(t) => t
                    .save(path)
                    .map(|()| Some(format!("saved {}", path.display()))),
                None => Ok(Some("nothing to save: no run".into())),
            },
            LabRequest::Load(path) => {
                let n = state.next_run.num_envs;
                checkpoint_config(path, n)
                    .and_then(|cfg| start_run(&mut state, cfg, Some(path)))
                    .map(|t| {
                        let msg = format!(
                            "loaded {} ({} steps of {})",
                            path.display(),
                            t.counters.env_steps,
                            t.cfg.algo
                        );
                        lab.trainer = Some(t);
                        Some(msg)
                    })
                    .with_context(|| format!("cannot load {}", path.display()))
            }
        };
        match outcome {
            Ok(Some(msg)) => state.message = Some(msg),
            Ok(None) => {}
            Err(e) => {
                error!("{e:#}");
                state.message = Some(format!("{e:#}"));
            }
        }
    }
}

/// Seconds of robot time per vector step.
fn control_dt(t: &Trainer) -> f64 {
    t.env.robots().map_or(0.05, |r| {
        let task = &r.scene().task;
        f64::from(task.timestep) * f64::from(task.frame_skip)
    })
}

fn record_update(state: &mut LabState, t: &Trainer, m: &Metrics) {
    let x = t.counters.env_steps as f64;
    let get = |name: &str| m.iter().find(|(k, _)| *k == name).map(|&(_, v)| v);
    let temperature = t.agent.temperature().1;
    state.live.temperature = Some(temperature);
    state.live.q_value = get("losses/qf_values");
    state.live.bellman_residual = get("losses/qf_loss");
    let (q, r) = (state.live.q_value, state.live.bellman_residual);
    if let Some(c) = state.runs.last_mut() {
        push_point(&mut c.temperature, [x, temperature]);
        if let Some(q) = q {
            push_point(&mut c.q_values, [x, q]);
        }
        if let Some(r) = r {
            push_point(&mut c.bellman_residual, [x, r]);
        }
    }
}

fn train_within_budget(
    mut lab: NonSendMut<Lab>,
    mut state: ResMut<LabState>,
    mut meter: ResMut<SpeedMeter>,
    time: Res<Time<Real>>,
) {
    let Some(t) = lab.trainer.as_mut() else {
        return;
    };
    let start = Instant::now();
    let budget = Duration::from_secs_f32(state.budget_ms.max(0.0) / 1000.0);
    let wanted = if state.paused {
        meter.step_debt = 0.0;
        u64::from(std::mem::take(&mut state.single_step))
    } else {
        match state.time_scale {
            TimeScale::Max => u64::MAX,
            TimeScale::Times(x) => {
                let rate = f64::from(x) / control_dt(t);
                // At most a quarter second of lag is carried over; slower machines run slower.
                meter.step_debt =
                    (meter.step_debt + time.delta_secs_f64() * rate).min(rate / 4.0 + 1.0);
                meter.step_debt as u64
            }
        }
    };
    if state.paused && wanted == 0 {
        return;
    }
    let mut stepped = 0u64;
    let result: Result<()> = (|| {
        while start.elapsed() < budget || (wanted > stepped && state.paused) {
            if !state.watch_only && t.updates_due() {
                if let Some(m) = t.update_once()? {
                    record_update(&mut state, t, &m);
                }
                continue;
            }
            if stepped >= wanted {
                break;
            }
            let episodes = if state.watch_only {
                t.watch_step()?
            } else {
                t.collect()?
            };
            stepped += 1;
            if state.watch_only {
                state.live.watched_steps += t.env.num_envs() as u64;
            }
            let x = (t.counters.env_steps + state.live.watched_steps) as f64;
            if let Some(c) = state.runs.last_mut() {
                for e in &episodes {
                    push_point(&mut c.returns, [x, e.episode_return]);
                }
            }
        }
        Ok(())
    })();
    state.live.frame_training_ms = start.elapsed().as_secs_f64() * 1e3;
    if let TimeScale::Times(_) = state.time_scale {
        meter.step_debt -= stepped as f64;
    }
    if let Err(e) = result {
        error!("training stopped: {e:#}");
        state.message = Some(format!("training paused: {e:#}"));
        state.paused = true;
    }
}

fn publish_state(lab: NonSend<Lab>, mut state: ResMut<LabState>, mut meter: ResMut<SpeedMeter>) {
    let Some(t) = lab.trainer.as_ref() else {
        return;
    };
    let now = Instant::now();
    let (steps, updates) = (
        t.counters.env_steps + state.live.watched_steps,
        t.counters.updates,
    );
    match meter.since {
        Some((then, s0, u0)) if now - then >= Duration::from_millis(500) => {
            let dt = (now - then).as_secs_f64();
            state.live.steps_per_second = (steps - s0) as f64 / dt;
            state.live.updates_per_second = (updates - u0) as f64 / dt;
            meter.since = Some((now, steps, updates));
        }
        Some(_) => {}
        None => meter.since = Some((now, steps, updates)),
    }
    state.live.env_steps = t.counters.env_steps;
    state.live.updates = updates;
    state.live.episodes = t.counters.episodes;
    state.live.recent_return = t.recent_return();
    state.live.episode_returns = t.env.episode_returns().to_vec();
    let n = t.env.num_envs();
    state.followed = state.followed.min(n - 1);
    let dim = t.spec.obs_dim;
    let i = state.followed;
    let obs = crate::training::obs_tensor(&t.env.obs()[i * dim..(i + 1) * dim], dim, t.device);
    state.action_distribution = Some(t.agent.action_distribution(&obs));
    state.poses = (0..n)
        .map(|i| {
            t.env.robots().map_or_else(Vec::new, |r| {
                r.body_poses(i)
                    .iter()
                    .map(|p| (p.translation, p.rotation))
                    .collect()
            })
        })
        .collect();
}
