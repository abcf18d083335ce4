//! [`OverlayPlugin`]: the egui overlay. Windows: "Run" (algorithm, env, hyper-parameters, the
//! runs training now — start one in place of the selected run or beside it, select, close —
//! time controls, checkpoints, quality, speed figures), "Learning curves" (every run since
//! the app started), "ε_ω — uncertainty about the optimal action" (VIREL's temperature, SAC's
//! α for comparison), "Critic" (Q estimate and Bellman residual of the latest batch) and
//! "Action distribution" (per joint of the followed copy).

use super::camera::OrbitCamera;
use super::lab::{
    Activity, Curves, Followed, LabOutcome, LabRequest, LabSettings, NextRun, Pace, RunView, Runs,
    TimeScale, desktop_config, run_rgb,
};
use super::recording::WindowRecording;
use super::view::RenderQuality;
use crate::rl::Algo;
use crate::rl::policy::ActionDistribution;
use crate::rl::virel::EpsilonEstimator;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use egui_plot::{Legend, Line, Plot, Points, VLine};

pub struct OverlayPlugin;

impl Plugin for OverlayPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<FrameRate>()
            .init_resource::<StatusLine>()
            .add_systems(Update, (measure_frame_rate, keep_last_outcome))
            .add_systems(EguiPrimaryContextPass, draw_overlay);
    }
}

/// Frames per second, smoothed.
#[derive(Resource, Default)]
pub struct FrameRate(pub f64);

/// The last outcome worth telling the user (started, saved, a load error …).
#[derive(Resource, Default)]
pub struct StatusLine(pub Option<String>);

/// Real time: `Time` (virtual) clamps a frame to 250 ms, which would cap slow frames at 4 FPS.
fn measure_frame_rate(time: Res<Time<Real>>, mut fps: ResMut<FrameRate>) {
    let dt = time.delta_secs_f64();
    if dt > 0.0 {
        fps.0 = if fps.0 == 0.0 {
            1.0 / dt
        } else {
            0.9 * fps.0 + 0.1 / dt
        };
    }
}

fn keep_last_outcome(mut outcomes: MessageReader<LabOutcome>, mut line: ResMut<StatusLine>) {
    if let Some(o) = outcomes.read().last() {
        line.0 = Some(o.to_string());
    }
}

fn estimator_label(e: EpsilonEstimator) -> &'static str {
    match e {
        EpsilonEstimator::Running => "running (each step's minibatch)",
        EpsilonEstimator::Batch => "batch (authors': 4096 fresh)",
    }
}

/// The algorithm's name and, for VIREL's two, its temperature.
fn algo_label(a: Algo) -> String {
    match a {
        Algo::Virel => format!("{} (T = ε_ω)", a.display_name()),
        Algo::BetaVirel => format!("{} (T = β·ε_ω)", a.display_name()),
        Algo::Sac | Algo::Td3 => a.display_name().to_owned(),
    }
}

/// What the overlay reads and changes of the lab.
#[derive(SystemParam)]
struct LabControls<'w> {
    runs: Res<'w, Runs>,
    curves: Res<'w, Curves>,
    next: ResMut<'w, NextRun>,
    settings: ResMut<'w, LabSettings>,
    pace: Res<'w, State<Pace>>,
    set_pace: ResMut<'w, NextState<Pace>>,
    activity: Res<'w, State<Activity>>,
    set_activity: ResMut<'w, NextState<Activity>>,
    requests: MessageWriter<'w, LabRequest>,
    status: Res<'w, StatusLine>,
}

fn draw_overlay(
    mut contexts: EguiContexts,
    mut lab: LabControls,
    mut quality: ResMut<RenderQuality>,
    mut cams: Query<&mut OrbitCamera>,
    mut recording: ResMut<WindowRecording>,
    fps: Res<FrameRate>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    if recording.active && !recording.include_overlay {
        return Ok(()); // recording the 3D view alone; F9 stops
    }
    let mut follow = cams.single().map(|c| c.follow).unwrap_or(false);
    run_window(
        ctx,
        &mut lab,
        &mut quality,
        &mut follow,
        &mut recording,
        fps.0,
    );
    if let Ok(mut c) = cams.single_mut()
        && c.follow != follow
    {
        c.follow = follow;
    }
    curves_window(ctx, &lab.curves);
    let selected = lab.runs.selected();
    temperature_window(ctx, &lab.curves, selected);
    critic_window(ctx, &lab.curves, selected);
    if let Some(run) = lab.runs.followed(lab.settings.followed) {
        actions_window(ctx, run, lab.settings.followed.copy);
    }
    Ok(())
}

fn run_window(
    ctx: &egui::Context,
    lab: &mut LabControls,
    quality: &mut RenderQuality,
    follow: &mut bool,
    recording: &mut WindowRecording,
    fps: f64,
) {
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
            if lab.runs.live.len() > 1 && ui.small_button("✕").on_hover_text("close").clicked() {
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
            for a in Algo::ALL {
                ui.selectable_value(&mut cfg.algo, a, algo_label(a));
            }
        });
    let mut env = cfg.env.clone();
    egui::ComboBox::from_label("robot")
        .selected_text(env.clone())
        .show_ui(ui, |ui| {
            for e in crate::scene::robots() {
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
    let a = &mut cfg.agents;
    match cfg.algo {
        Algo::Virel | Algo::BetaVirel => {
            let v = &mut a.virel;
            lr(ui, &mut v.policy_lr, "actor lr");
            lr(ui, &mut v.q_lr, "critic lr");
            ui.add(
                egui::Slider::new(&mut v.reward_scale, 0.01..=10.0)
                    .logarithmic(true)
                    .text("reward scale"),
            );
            if cfg.algo == Algo::BetaVirel {
                ui.add(
                    egui::Slider::new(&mut v.beta_scale, 1e-4..=1.0)
                        .logarithmic(true)
                        .text("β"),
                );
            }
            egui::ComboBox::from_label("ε_ω estimator")
                .selected_text(estimator_label(v.epsilon_estimator))
                .show_ui(ui, |ui| {
                    for e in [EpsilonEstimator::Running, EpsilonEstimator::Batch] {
                        ui.selectable_value(&mut v.epsilon_estimator, e, estimator_label(e));
                    }
                });
            if v.epsilon_estimator == EpsilonEstimator::Batch {
                ui.add(egui::Slider::new(&mut v.epsilon_every, 1..=50).text("ε_ω every k updates"));
            }
        }
        Algo::Sac => {
            lr(ui, &mut a.sac.policy_lr, "actor lr");
            lr(ui, &mut a.sac.q_lr, "critic lr");
            ui.checkbox(&mut a.sac.autotune, "tune α automatically");
        }
        Algo::Td3 => {
            lr(ui, &mut a.td3.learning_rate, "learning rate");
            ui.add(
                egui::Slider::new(&mut a.td3.exploration_noise, 0.0..=1.0)
                    .text("exploration noise"),
            );
        }
    }
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

fn lr(ui: &mut egui::Ui, v: &mut f64, name: &str) {
    ui.add(
        egui::Slider::new(v, 1e-5..=1e-2)
            .logarithmic(true)
            .text(name),
    );
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
        let followed = lab.settings.followed;
        if followed.run.is_none_or(|r| r == run.id)
            && let Some(r) = l.episode_returns.get(followed.copy)
        {
            row("followed copy's episode", format!("{r:.1}"));
        }
        row("device", format!("{:?}", run.config.device));
    });
}

/// One colour per run, the same in every plot's legend and in the 3D view.
fn run_colour(i: usize) -> egui::Color32 {
    let [r, g, b] = run_rgb(i);
    egui::Color32::from_rgb(r, g, b)
}

/// Mean of each point's last `window` episodes (the curve drawn through the scatter).
fn moving_average(points: &[[f64; 2]], window: usize) -> Vec<[f64; 2]> {
    let mut sum = 0.0;
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            sum += p[1];
            if i >= window {
                sum -= points[i - window][1];
            }
            [p[0], sum / (i + 1).min(window) as f64]
        })
        .collect()
}

fn curves_window(ctx: &egui::Context, curves: &Curves) {
    egui::Window::new("Learning curves")
        .anchor(egui::Align2::RIGHT_TOP, [-8.0, 8.0])
        .default_size([400.0, 170.0])
        .show(ctx, |ui| {
            Plot::new("returns")
                .height(150.0)
                .legend(Legend::default())
                .x_axis_label("env steps")
                .y_axis_label("episode return")
                .show(ui, |p| {
                    for (i, run) in curves.0.iter().enumerate() {
                        if run.returns.is_empty() {
                            continue;
                        }
                        let colour = run_colour(i);
                        p.points(
                            Points::new(run.label.clone(), run.returns.clone())
                                .radius(1.5)
                                .color(colour.gamma_multiply(0.6)),
                        );
                        p.line(
                            Line::new(run.label.clone(), moving_average(&run.returns, 10))
                                .color(colour)
                                .width(2.0),
                        );
                    }
                });
        });
}

fn temperature_window(ctx: &egui::Context, curves: &Curves, selected: Option<&RunView>) {
    egui::Window::new("ε_ω — the model's uncertainty about the optimal action")
        .anchor(egui::Align2::RIGHT_TOP, [-8.0, 222.0])
        .default_size([400.0, 150.0])
        .show(ctx, |ui| {
            ui.label(
                "VIREL: the residual Bellman error ε_ω is the policy's temperature: high while \
                 the critic is unsure which action is best, towards 0 as it converges. SAC: the \
                 learned α, for comparison; TD3: its fixed exploration noise.",
            );
            if let Some(run) = selected
                && let (Some(c), Some(v)) = (curves.of(run.id), run.frame.live.temperature)
            {
                ui.strong(format!("{} = {v:.4}", c.temperature_name));
            }
            Plot::new("temperature")
                .height(120.0)
                .legend(Legend::default())
                .x_axis_label("env steps")
                .show(ui, |p| {
                    for (i, run) in curves.0.iter().enumerate() {
                        if !run.temperature.is_empty() {
                            let name = format!("{} {}", run.label, run.temperature_name);
                            p.line(Line::new(name, run.temperature.clone()).color(run_colour(i)));
                        }
                    }
                });
        });
}

fn critic_window(ctx: &egui::Context, curves: &Curves, selected: Option<&RunView>) {
    egui::Window::new("Critic")
        .anchor(egui::Align2::RIGHT_TOP, [-8.0, 480.0])
        .default_size([400.0, 130.0])
        .show(ctx, |ui| {
            let Some(run) = selected else {
                return;
            };
            let l = &run.frame.live;
            ui.label(format!(
                "Q estimate {}   ·   Bellman residual (critic loss) {}   — latest batch",
                l.q_value.map_or("–".into(), |v| format!("{v:.3}")),
                l.bellman_residual.map_or("–".into(), |v| format!("{v:.4}")),
            ));
            let Some(c) = curves.of(run.id) else {
                return;
            };
            Plot::new("critic")
                .height(110.0)
                .legend(Legend::default())
                .x_axis_label("env steps")
                .show(ui, |p| {
                    p.line(Line::new("mean Q", c.q_values.clone()));
                    p.line(Line::new("Bellman residual", c.bellman_residual.clone()));
                });
        });
}

/// Density samples of one action dimension over its bounds.
fn density_curve(d: &ActionDistribution, j: usize, low: f32, high: f32) -> Vec<[f64; 2]> {
    const N: usize = 121;
    (0..N)
        .map(|k| {
            let a = low + (high - low) * (k as f32 + 0.5) / N as f32;
            [
                f64::from(a),
                f64::from(d.density(j, a, low, high).min(50.0)),
            ]
        })
        .collect()
}

fn actions_window(ctx: &egui::Context, run: &RunView, copy: usize) {
    egui::Window::new("Action distribution")
        .anchor(egui::Align2::LEFT_BOTTOM, [290.0, -8.0])
        .default_size([560.0, 120.0])
        .show(ctx, |ui| {
            let Some(d) = &run.frame.action_distribution else {
                return;
            };
            ui.label(format!(
                "Policy density per joint for copy {copy} of run {}'s current observation; the \
                 line is the deterministic action.",
                run.id
            ));
            let cols = d.dims().clamp(1, 6);
            egui::Grid::new("joints").num_columns(cols).show(ui, |ui| {
                for j in 0..d.dims().min(run.action_bounds.len()) {
                    let (low, high) = run.action_bounds[j];
                    let name = run.joint_names.get(j).cloned().unwrap_or_default();
                    ui.vertical(|ui| {
                        ui.label(&name);
                        Plot::new(("action", j))
                            .width(92.0)
                            .height(52.0)
                            .show_axes([true, false])
                            .allow_drag(false)
                            .allow_zoom(false)
                            .allow_scroll(false)
                            .include_x(f64::from(low))
                            .include_x(f64::from(high))
                            .include_y(0.0)
                            .show(ui, |p| {
                                p.line(
                                    Line::new(name.clone(), density_curve(d, j, low, high))
                                        .fill(0.0),
                                );
                                p.vline(VLine::new("mode", f64::from(d.mode(j, low, high))));
                            });
                    });
                    if (j + 1) % cols == 0 {
                        ui.end_row();
                    }
                }
            });
        });
}

#[cfg(test)]
mod tests {
    /// The learning curve's line is the mean of the last `window` episodes, fewer at the start.
    #[test]
    fn moving_average_over_the_last_episodes() {
        let pts = [[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]];
        let avg = super::moving_average(&pts, 2);
        assert_eq!(avg, vec![[1.0, 2.0], [2.0, 3.0], [3.0, 5.0], [4.0, 7.0]]);
    }
}
