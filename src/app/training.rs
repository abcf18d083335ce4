//! [`TrainingPlugin`]: the lab's runs, each on its own training thread ([`RunWorker`]). Each
//! frame it carries out the UI's [`LabRequest`]s and the [`Pace`] / [`Activity`] /
//! [`LabSettings`] changes ([`LabSystems::Requests`]), then takes what every thread handed
//! over — latest frame, new curve points, saves and failures — into [`Runs`], [`Curves`] and
//! [`LabOutcome`]s ([`LabSystems::Publish`]). It never waits for a gradient step. Works under
//! `MinimalPlugins`.

use super::lab::{
    Activity, Curves, Followed, LabOutcome, LabRequest, LabSettings, LabSystems, NextRun, Pace,
    RunCurves, RunId, RunView, Runs,
};
use super::worker::{Command, Event, RunWorker, WorkerOptions};
use crate::envs::ResolvedEnv;
use crate::training::Trainer;
use crate::training::checkpoint;
use crate::training::config::TrainConfig;
use crate::training::driver;
use anyhow::{Context, Result};
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use std::collections::BTreeMap;
use std::path::Path;

/// The lab's runs on their training threads: requests in, frames, curves and outcomes out.
pub struct TrainingPlugin {
    /// The first run.
    pub config: TrainConfig,
    /// Watch this checkpoint instead of training from scratch.
    pub checkpoint: Option<std::path::PathBuf>,
    /// Start paused (`record` steps the lab one frame at a time).
    pub paused: bool,
    /// More runs started beside the first (a race).
    pub race: Vec<TrainConfig>,
}

/// The training threads, by run.
#[derive(Resource, Default)]
pub struct Workers(BTreeMap<RunId, RunWorker>);

impl Workers {
    /// Starts a run's thread as the lab now stands.
    fn spawn(
        &mut self,
        id: RunId,
        trainer: Trainer,
        lab: &LabNow,
        extra: Vec<Box<dyn driver::Callback>>,
    ) -> Result<()> {
        let opts = WorkerOptions {
            paused: lab.paused,
            watching: lab.watching,
            time_scale: lab.settings.time_scale,
            followed: None,
            torch_threads: trainer.cfg.torch_threads,
            share: lab.settings.training_share,
            posterior: lab.settings.posterior,
            contacts: lab.settings.contacts,
        };
        self.0.insert(id, RunWorker::spawn(trainer, opts, extra)?);
        Ok(())
    }

    /// Sends a command to every run.
    fn broadcast(&self, command: impl Fn() -> Command) {
        for w in self.0.values() {
            w.send(command());
        }
    }

    /// The worker of a run.
    pub fn get(&self, id: RunId) -> Option<&RunWorker> {
        self.0.get(&id)
    }
}

/// Extra callbacks for the next run's training thread (tests: a slow gradient step).
#[derive(Resource, Default)]
pub struct SpawnCallbacks(pub std::sync::Mutex<Vec<Box<dyn driver::Callback>>>);

/// The lab's state at a moment, as a new thread must start.
struct LabNow<'a> {
    paused: bool,
    watching: bool,
    settings: &'a LabSettings,
}

impl Plugin for TrainingPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<StatesPlugin>() {
            app.add_plugins(StatesPlugin);
        }
        let first = match &self.checkpoint {
            Some(path) => LabRequest::Load {
                path: path.clone(),
                alongside: false,
            },
            None => LabRequest::NewRun { alongside: false },
        };
        let mut settings = LabSettings::default();
        if let Some(path) = &self.checkpoint {
            settings.checkpoint_path = path.display().to_string();
        }
        app.insert_state(if self.paused {
            Pace::Paused
        } else {
            Pace::Running
        })
        .insert_state(if self.checkpoint.is_some() {
            Activity::Watching
        } else {
            Activity::Learning
        })
        .insert_resource(NextRun(self.config.clone()))
        .insert_resource(settings)
        .init_resource::<Runs>()
        .init_resource::<Curves>()
        .init_resource::<Workers>()
        .init_resource::<SpawnCallbacks>()
        .add_message::<LabRequest>()
        .add_message::<LabOutcome>()
        .configure_sets(
            Update,
            (
                LabSystems::Requests,
                LabSystems::Publish,
                LabSystems::View,
                LabSystems::Camera,
            )
                .chain(),
        )
        .add_systems(
            Update,
            (forward_pace_and_activity, forward_settings, apply_requests)
                .chain()
                .in_set(LabSystems::Requests),
        )
        .add_systems(Update, take_handovers.in_set(LabSystems::Publish));
        app.world_mut().write_message(first);
        for config in &self.race {
            app.world_mut().write_message(LabRequest::StartRun {
                config: Box::new(config.clone()),
                alongside: true,
            });
        }
    }
}

fn label(id: RunId, cfg: &TrainConfig, loaded: Option<&Path>) -> String {
    let algo = cfg.algo.display_name();
    let from = loaded.map_or(String::new(), |p| {
        format!(
            " from {}",
            p.file_name().unwrap_or_default().to_string_lossy()
        )
    });
    format!("{id} {algo} · {} ×{}{from}", cfg.env, cfg.num_envs)
}

/// The config of a checkpoint, with the lab's copy count.
fn checkpoint_config(path: &Path, num_envs: usize) -> Result<TrainConfig> {
    let ckpt = checkpoint::load(path)?;
    let mut cfg = ckpt.header.config;
    cfg.num_envs = num_envs;
    Ok(cfg)
}

/// What the view shows of a new run's trainer.
fn run_view(id: RunId, t: &Trainer, loaded: Option<&Path>) -> RunView {
    let scene = t.env.robots().map(|r| r.scene().clone());
    let joint_names = match &scene {
        Some(s) => s.actuators.iter().map(|a| a.joint.clone()).collect(),
        None => (0..t.spec.act_dim).map(|j| format!("action {j}")).collect(),
    };
    RunView {
        id,
        label: label(id, &t.cfg, loaded),
        config: t.cfg.clone(),
        scene,
        action_bounds: t.spec.action_bounds(),
        joint_names,
        copies: t.env.num_envs(),
        frame: default(),
        stopped: None,
    }
}

/// The resources a request changes.
#[derive(SystemParam)]
struct Lab<'w> {
    runs: ResMut<'w, Runs>,
    curves: ResMut<'w, Curves>,
    workers: ResMut<'w, Workers>,
    settings: ResMut<'w, LabSettings>,
    extra: ResMut<'w, SpawnCallbacks>,
    pace: Res<'w, State<Pace>>,
    activity: Res<'w, State<Activity>>,
}

impl Lab<'_> {
    /// Starts a run with `trainer`, in place of the selected run unless `alongside`.
    fn start(&mut self, trainer: Trainer, loaded: Option<&Path>, alongside: bool) -> Result<RunId> {
        let id = RunId(self.curves.0.len() as u32 + 1);
        let view = run_view(id, &trainer, loaded);
        let temperature_name = trainer.agent.temperature().0.to_owned();
        let now = LabNow {
            paused: *self.pace.get() == Pace::Paused,
            watching: *self.activity.get() == Activity::Watching,
            settings: &self.settings,
        };
        let extra = std::mem::take(self.extra.0.get_mut().unwrap_or_else(|e| e.into_inner()));
        self.workers.spawn(id, trainer, &now, extra)?;
        if !alongside && let Some(old) = self.runs.selected {
            self.close(old);
        }
        self.curves.0.push(RunCurves {
            run: Some(id),
            label: view.label.clone(),
            temperature_name,
            ..default()
        });
        self.runs.live.push(view);
        self.runs.selected = Some(id);
        self.runs.generation += 1;
        if self
            .settings
            .followed
            .run
            .is_none_or(|r| self.runs.get(r).is_none())
        {
            self.settings.followed = Followed {
                run: Some(id),
                copy: 0,
            };
        }
        self.settings.set_changed();
        Ok(id)
    }

    /// Stops a run's thread and takes its robots away; its curves stay.
    fn close(&mut self, id: RunId) {
        self.workers.0.remove(&id);
        self.runs.live.retain(|r| r.id != id);
        self.runs.generation += 1;
        if self.runs.selected == Some(id) {
            self.runs.selected = self.runs.live.last().map(|r| r.id);
        }
        if self.settings.followed.run == Some(id) {
            self.settings.followed = Followed {
                run: self.runs.selected,
                copy: 0,
            };
        }
    }

    /// Starts a fresh run of `config`.
    fn start_new(&mut self, config: TrainConfig, alongside: bool) -> Result<LabOutcome> {
        // The app is where a new run meets its robot's name: resolved here, once.
        let env = ResolvedEnv::resolve(&config.env)?;
        let id = self.start(Trainer::new(config, &env)?, None, alongside)?;
        let label = self
            .runs
            .get(id)
            .map(|r| r.label.clone())
            .unwrap_or_default();
        Ok(LabOutcome::Started { run: id, label })
    }

    fn carry_out(
        &mut self,
        request: &LabRequest,
        next: &TrainConfig,
    ) -> Result<Option<LabOutcome>> {
        Ok(match request {
            LabRequest::NewRun { alongside } => Some(self.start_new(next.clone(), *alongside)?),
            LabRequest::StartRun { config, alongside } => {
                Some(self.start_new((**config).clone(), *alongside)?)
            }
            LabRequest::CloseRun(id) => {
                self.close(*id);
                None
            }
            LabRequest::Select(id) => {
                if self.runs.get(*id).is_none() {
                    anyhow::bail!("no run {id}");
                }
                self.runs.selected = Some(*id);
                None
            }
            LabRequest::ResetEpisodes => {
                self.workers.broadcast(|| Command::ResetEpisodes);
                None
            }
            LabRequest::Step => {
                self.workers.broadcast(|| Command::Step);
                None
            }
            LabRequest::Save(path) => {
                let id = self.runs.selected.context("nothing to save: no run")?;
                let w = self.workers.get(id).context("nothing to save: no run")?;
                w.send(Command::Save(path.clone()));
                None
            }
            LabRequest::Push { run, copy, push } => {
                let w = self
                    .workers
                    .get(*run)
                    .with_context(|| format!("no run {run}"))?;
                w.send(Command::Push(push.map(|p| (*copy, p))));
                None
            }
            LabRequest::Load { path, alongside } => {
                let cfg = checkpoint_config(path, next.num_envs)?;
                let env = ResolvedEnv::resolve(&cfg.env)?;
                let mut trainer = Trainer::new(cfg, &env)?;
                trainer.load(path)?;
                let (env_steps, algo) = (trainer.counters.env_steps, trainer.cfg.algo);
                let id = self.start(trainer, Some(path), *alongside)?;
                Some(LabOutcome::Loaded {
                    run: id,
                    path: path.clone(),
                    env_steps,
                    algo,
                })
            }
        })
    }
}

/// What a request is called in an error message.
fn describe(request: &LabRequest) -> String {
    match request {
        LabRequest::NewRun { .. } | LabRequest::StartRun { .. } => "cannot start a run".into(),
        LabRequest::CloseRun(id) => format!("cannot close run {id}"),
        LabRequest::Select(id) => format!("cannot select run {id}"),
        LabRequest::ResetEpisodes => "cannot reset the episodes".into(),
        LabRequest::Step => "cannot step".into(),
        LabRequest::Save(p) => format!("cannot save {}", p.display()),
        LabRequest::Load { path, .. } => format!("cannot load {}", path.display()),
        LabRequest::Push { run, copy, .. } => format!("cannot push copy {copy} of run {run}"),
    }
}

fn apply_requests(
    mut requests: MessageReader<LabRequest>,
    mut outcomes: MessageWriter<LabOutcome>,
    next: Res<NextRun>,
    mut lab: Lab,
) {
    for request in requests.read() {
        match lab.carry_out(request, &next.0) {
            Ok(Some(outcome)) => {
                info!("{outcome}");
                outcomes.write(outcome);
            }
            Ok(None) => {}
            Err(e) => {
                let outcome = LabOutcome::Refused {
                    request: describe(request),
                    error: format!("{e:#}"),
                };
                error!("{outcome}");
                outcomes.write(outcome);
            }
        }
    }
}

/// Pause and watch reach every training thread.
fn forward_pace_and_activity(
    pace: Res<State<Pace>>,
    activity: Res<State<Activity>>,
    workers: Res<Workers>,
) {
    if pace.is_changed() {
        let paused = *pace.get() == Pace::Paused;
        workers.broadcast(|| Command::Pause(paused));
    }
    if activity.is_changed() {
        let watching = *activity.get() == Activity::Watching;
        workers.broadcast(|| Command::Watch(watching));
    }
}

/// Speed and the followed copy reach the training threads.
fn forward_settings(settings: Res<LabSettings>, workers: Res<Workers>, runs: Res<Runs>) {
    if !settings.is_changed() {
        return;
    }
    let (scale, share, posterior) = (
        settings.time_scale,
        settings.training_share,
        settings.posterior,
    );
    workers.broadcast(|| Command::TimeScale(scale));
    workers.broadcast(|| Command::Share(share));
    workers.broadcast(|| Command::Posterior(posterior));
    let contacts = settings.contacts;
    workers.broadcast(|| Command::Contacts(contacts));
    let followed = runs.followed(settings.followed).map(|r| r.id);
    for (id, w) in &workers.0 {
        let copy = (Some(*id) == followed).then_some(settings.followed.copy);
        w.send(Command::Follow(copy));
    }
}

/// Takes every thread's hand-over: latest frame, curve points, saves and failures.
fn take_handovers(
    workers: Res<Workers>,
    mut runs: ResMut<Runs>,
    mut curves: ResMut<Curves>,
    mut outcomes: MessageWriter<LabOutcome>,
) {
    for (id, w) in &workers.0 {
        let h = w.take();
        if let Some(c) = curves.of_mut(*id) {
            c.extend(&h.points);
        }
        let Some(view) = runs.live.iter_mut().find(|r| r.id == *id) else {
            continue;
        };
        if let Some(frame) = h.frame {
            view.frame = frame;
        }
        for event in h.events {
            let outcome = match event {
                Event::Saved(path) => LabOutcome::Saved { run: *id, path },
                Event::SaveFailed(path, error) => LabOutcome::Refused {
                    request: format!("cannot save {}", path.display()),
                    error,
                },
                Event::Stopped(error) => {
                    view.stopped = Some(error.clone());
                    LabOutcome::Stopped { run: *id, error }
                }
            };
            if outcome.is_failure() {
                error!("{outcome}");
            } else {
                info!("{outcome}");
            }
            outcomes.write(outcome);
        }
    }
}
