//! The "Run" window: the next run's config, the runs training now, time controls,
//! checkpoints, quality, recording and speed figures.

use super::{LabControls, WindowControls};
use crate::app::lab::{Activity, Followed, LabRequest, Pace, TimeScale, desktop_config, run_rgb};
use crate::app::resolution::MIN_RESOLUTION;
use crate::app::worker::MIN_SHARE;
use crate::rl::Algo;
use crate::rl::registry::{Knob, KnobKind};
use crate::scene;
use crate::training::config::TrainConfig;
use bevy_egui::egui;

/// The algorithm menu of the next run: every algorithm of the registry with its label.
pub fn algorithm_menu() -> Vec<(Algo, String)> {
    Algo::ALL.into_iter().map(|a| (a, algo_label(a))).collect()
}

/// The algorithm's name and the temperature T of the posterior its actor is fitted to.
fn algo_label(a: Algo) -> String {
    match a.posterior_temperature_symbol() {
        Some(t) => format!("{} (T = {t})", a.display_name()),
        None => a.display_name().to_owned(),
    }
}

/// The knobs of the next run's algorithm (its registry entry's), read and written through
/// its config table.
fn algo_knobs(ui: &mut egui::Ui, cfg: &mut TrainConfig) {
    let info = cfg.algo.info();
    let Ok(toml::Value::Table(mut agents)) = toml::Value::try_from(&cfg.agents) else {
        return;
    };
    let Some(toml::Value::Table(table)) = agents.get_mut(info.config_table) else {
        return;
    };
    let before = table.clone();
    for knob in info.knobs {
        if let Some((key, value)) = knob.shown_if
            && table.get(key).and_then(toml::Value::as_str) != Some(value)
        {
            continue;
        }
        if let Some(v) = table.get_mut(knob.key) {
            knob_ui(ui, knob, v);
        }
    }
    if *table != before
        && let Ok(a) = toml::Value::Table(agents).try_into()
    {
        cfg.agents = a;
    }
}

/// One knob's widget over its value (the registry test checks each value's type).
fn knob_ui(ui: &mut egui::Ui, knob: &Knob, v: &mut toml::Value) {
    match (knob.kind, v) {
        (KnobKind::Log { lo, hi }, toml::Value::Float(x)) => {
            ui.add(
                egui::Slider::new(x, lo..=hi)
                    .logarithmic(true)
                    .text(knob.label),
            );
        }
        (KnobKind::Linear { lo, hi }, toml::Value::Float(x)) => {
            ui.add(egui::Slider::new(x, lo..=hi).text(knob.label));
        }
        (KnobKind::Whole { lo, hi }, toml::Value::Integer(x)) => {
            ui.add(egui::Slider::new(x, lo..=hi).text(knob.label));
        }
        (KnobKind::Toggle, toml::Value::Boolean(b)) => {
            ui.checkbox(b, knob.label);
        }
        (KnobKind::Choice(options), toml::Value::String(s)) => {
            let shown = options
                .iter()
                .find(|o| o.0 == s.as_str())
                .map_or("?", |o| o.1);
            egui::ComboBox::from_label(knob.label)
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    for (value, text) in options {
                        ui.selectable_value(s, (*value).to_owned(), *text);
                    }
                });
        }
        _ => {}
    }
}

pub(super) fn run_window(
    ctx: &egui::Context,
    lab: &mut LabControls,
    window: &mut WindowControls,
    follow: &mut bool,
) {
    let WindowControls {
        quality,
        recording,
        fps,
        hand,
        counterexample,
    } = window;
    let (hand, fps) = (hand.0.as_ref(), fps.0);
    egui::Window::new("Run")
        .default_pos([8.0, 8.0])
        .default_width(260.0)
        .show(ctx, |ui| {
            egui::CollapsingHeader::new("New run: algorithm, robot, hyper-parameters")
                .default_open(false)
                .show(ui, |ui| next_run_controls(ui, lab));
            ui.separator();
            runs_list(ui, lab);
            ui.separator();
            ui.horizontal(|ui| {
                let paused = *lab.pace.get() == Pace::Paused;
                let label = if paused { "▶ Resume" } else { "⏸ Pause" };
                if ui.button(label).clicked() {
                    lab.set_pace
                        .set(if paused { Pace::Running } else { Pace::Paused });
                }
                if ui.add_enabled(paused, egui::Button::new("Step")).clicked() {
                    lab.requests.write(LabRequest::Step);
                }
                if ui.button("Reset episodes").clicked() {
                    lab.requests.write(LabRequest::ResetEpisodes);
                }
            });
            ui.horizontal(|ui| {
                ui.label("Speed");
                let mut scale = lab.settings.time_scale;
                for (name, s) in [
                    ("1×", TimeScale::Times(1.0)),
                    ("4×", TimeScale::Times(4.0)),
                    ("16×", TimeScale::Times(16.0)),
                    ("max", TimeScale::Max),
                ] {
                    ui.selectable_value(&mut scale, s, name);
                }
                if scale != lab.settings.time_scale {
                    lab.settings.time_scale = scale;
                }
            });
            let mut share = lab.settings.training_share;
            ui.add(
                egui::Slider::new(&mut share, MIN_SHARE..=1.0)
                    .text("of a core for training")
                    .custom_formatter(|v, _| format!("{:.0}%", v * 100.0)),
            )
            .on_hover_text("less leaves more to rendering on a small machine");
            if share != lab.settings.training_share {
                lab.settings.training_share = share;
            }
            let mut watching = *lab.activity.get() == Activity::Watching;
            if ui
                .checkbox(
                    &mut watching,
                    "Watch only (deterministic policy, no learning)",
                )
                .changed()
            {
                lab.set_activity.set(if watching {
                    Activity::Watching
                } else {
                    Activity::Learning
                });
            }
            let copies = lab
                .runs
                .followed(lab.settings.followed)
                .map_or(1, |r| r.copies.max(1));
            ui.horizontal(|ui| {
                ui.label("Follow copy");
                let mut copy = lab.settings.followed.copy.min(copies - 1);
                ui.add(egui::DragValue::new(&mut copy).range(0..=copies - 1));
                if copy != lab.settings.followed.copy {
                    lab.settings.followed.copy = copy;
                }
                ui.checkbox(follow, "camera follows");
            });
            ui.horizontal(|ui| {
                ui.label("Quality");
                ui.checkbox(&mut quality.shadows, "shadows");
                ui.checkbox(&mut quality.msaa, "MSAA");
            });
            if let Some(share) = quality.resolution.as_mut() {
                ui.add(
                    egui::Slider::new(share, MIN_RESOLUTION..=1.0)
                        .text("of the window's resolution in 3D")
                        .custom_formatter(|v, _| format!("{:.0}%", v * 100.0)),
                )
                .on_hover_text(
                    "the 3D view is drawn at this share of the window's width and height, then \
                     stretched: a software renderer's frame costs its pixels",
                );
            }
            ui.separator();
            ui.horizontal(|ui| {
                ui.label("Checkpoint");
                ui.text_edit_singleline(&mut lab.settings.checkpoint_path);
            });
            ui.horizontal(|ui| {
                let path = std::path::PathBuf::from(lab.settings.checkpoint_path.trim());
                if ui.button("Save").clicked() {
                    lab.requests.write(LabRequest::Save(path.clone()));
                }
                if ui.button("Load & watch").clicked() {
                    lab.set_activity.set(Activity::Watching);
                    lab.requests.write(LabRequest::Load {
                        path: path.clone(),
                        alongside: false,
                    });
                }
                if ui.button("Load & train").clicked() {
                    lab.set_activity.set(Activity::Learning);
                    lab.requests.write(LabRequest::Load {
                        path,
                        alongside: false,
                    });
                }
            });
            ui.horizontal(|ui| {
                if recording.active {
                    if ui.button("■ Stop recording (F9)").clicked() {
                        recording.stop();
                    }
                } else if ui.button("● Record (F9)").clicked() {
                    recording.start();
                }
                ui.add_enabled(
                    !recording.active,
                    egui::Checkbox::new(&mut recording.include_overlay, "with overlay"),
                );
            });
            if let Some(last) = &recording.last {
                ui.label(egui::RichText::new(last).small());
            }
            ui.horizontal(|ui| {
                ui.label("Panels");
                ui.checkbox(&mut lab.settings.posterior.shown, "posterior");
                ui.checkbox(&mut counterexample.open, "counterexample");
            });
            ui.horizontal(|ui| {
                ui.checkbox(&mut lab.settings.contacts, "contact forces");
                ui.label(egui::RichText::new("Ctrl + drag a body: push it").small());
            });
            if let Some(g) = hand {
                ui.label(
                    egui::RichText::new(format!(
                        "Pushing copy {} of run {}: its transitions go into the replay buffer \
                         like any other.",
                        g.copy, g.run
                    ))
                    .color(egui::Color32::from_rgb(255, 215, 50)),
                );
            }
            ui.separator();
            stats(ui, lab, fps);
            if let Some(msg) = &lab.status.0 {
                ui.separator();
                ui.label(egui::RichText::new(msg).italics());
            }
        });
}

/// The runs training now: pick the one the buttons and the camera act on, close the others.
fn runs_list(ui: &mut egui::Ui, lab: &mut LabControls) {
    let mut select = None;
    let mut close = None;
    for run in &lab.runs.live {
        ui.horizontal(|ui| {
            let [r, g, b] = run_rgb(lab.curves.index_of(run.id).unwrap_or(0));
            ui.colored_label(egui::Color32::from_rgb(r, g, b), "■");
            let selected = lab.runs.selected == Some(run.id);
            if ui.selectable_label(selected, &run.label).clicked() {
                select = Some(run.id);
            }
            if lab.runs.live.len() > 1 && ui.small_button("close").clicked() {
                close = Some(run.id);
            }
        });
        if let Some(e) = &run.stopped {
            ui.label(egui::RichText::new(format!("stopped: {e}")).small());
        }
    }
    if let Some(id) = select {
        lab.settings.followed = Followed {
            run: Some(id),
            copy: 0,
        };
        lab.requests.write(LabRequest::Select(id));
    }
    if let Some(id) = close {
        lab.requests.write(LabRequest::CloseRun(id));
    }
}

fn next_run_controls(ui: &mut egui::Ui, lab: &mut LabControls) {
    let cfg = &mut lab.next.0;
    egui::ComboBox::from_label("algorithm")
        .selected_text(algo_label(cfg.algo))
        .show_ui(ui, |ui| {
            for (a, label) in algorithm_menu() {
                ui.selectable_value(&mut cfg.algo, a, label);
            }
        });
    let mut env = cfg.env.clone();
    egui::ComboBox::from_label("robot")
        .selected_text(env.clone())
        .show_ui(ui, |ui| {
            for e in scene::robots() {
                ui.selectable_value(&mut env, e.to_owned(), e);
            }
        });
    if env != cfg.env {
        *cfg = desktop_config(&env, cfg.algo, cfg.num_envs, cfg.seed);
    }
    ui.add(egui::Slider::new(&mut cfg.num_envs, 1..=32).text("copies"));
    ui.add(egui::DragValue::new(&mut cfg.seed).prefix("seed "));
    ui.add(
        egui::Slider::new(&mut cfg.updates_per_step, 0.05..=2.0)
            .text("updates per env step")
            .logarithmic(true),
    );
    algo_knobs(ui, cfg);
    let a = &mut cfg.agents;
    let mut hidden = a.virel.hidden.first().copied().unwrap_or(256);
    let before = hidden;
    egui::ComboBox::from_label("hidden units (2 layers)")
        .selected_text(hidden.to_string())
        .show_ui(ui, |ui| {
            for h in [32, 64, 128, 256] {
                ui.selectable_value(&mut hidden, h, h.to_string());
            }
        });
    if hidden != before {
        a.set_hidden(&[hidden, hidden]);
    }
    let mut starts = a.replay(cfg.algo).learning_starts;
    ui.add(
        egui::DragValue::new(&mut starts)
            .range(0..=100_000)
            .prefix("learning starts after ")
            .suffix(" steps"),
    );
    a.set_learning_starts(starts);
    ui.horizontal(|ui| {
        if ui
            .button("Start new run")
            .on_hover_text("in place of the selected run; its curves stay")
            .clicked()
        {
            lab.requests.write(LabRequest::NewRun { alongside: false });
            lab.set_pace.set(Pace::Running);
        }
        if ui
            .button("Add beside")
            .on_hover_text("a run beside the others, on its own lanes: a race")
            .clicked()
        {
            lab.requests.write(LabRequest::NewRun { alongside: true });
            lab.set_pace.set(Pace::Running);
        }
    });
}

fn stats(ui: &mut egui::Ui, lab: &LabControls, fps: f64) {
    let Some(run) = lab.runs.selected() else {
        ui.label("no run");
        return;
    };
    let l = &run.frame.live;
    ui.label(&run.label);
    egui::Grid::new("stats").num_columns(2).show(ui, |ui| {
        let mut row = |k: &str, v: String| {
            ui.label(k);
            ui.label(v);
            ui.end_row();
        };
        row("env steps", l.env_steps.to_string());
        if l.watched_steps > 0 {
            row("steps watched", l.watched_steps.to_string());
        }
        row("gradient updates", l.updates.to_string());
        row("episodes", l.episodes.to_string());
        row("steps/s", format!("{:.0}", l.steps_per_second));
        row("updates/s", format!("{:.1}", l.updates_per_second));
        row("FPS", format!("{fps:.1}"));
        row(
            "recent return",
            l.recent_return.map_or("–".into(), |r| format!("{r:.1}")),
        );
        if let Some(v) = l.forward_velocity {
            row("forward velocity", format!("{v:.2} m/s"));
        }
        let followed = lab.settings.followed;
        if followed.run.is_none_or(|r| r == run.id)
            && let Some(r) = l.episode_returns.get(followed.copy)
        {
            row("followed copy's episode", format!("{r:.1}"));
        }
        row("device", format!("{:?}", run.config.device));
    });
}
