//! The "Actor and posterior" window: for the followed copy's current state, per joint, the
//! actor's density q_θ (filled) under the Boltzmann posterior π ∝ exp(Q̂/T) it is fitted to
//! (line; TD3: its Q̂ slice); KL(q_θ ‖ π) over time next to the temperature; a heat map of
//! the posterior over two joints the user picks. The posterior comes from the run's training
//! thread (`rl::posterior`), ten times a second while the panel is open.

use super::plots::run_colour;
use crate::app::lab::{Curves, LabSettings, PosteriorView, RunView};
use crate::rl::policy::ActionDistribution;
use crate::rl::posterior::{PairMap, Posterior, Slice, actor_curve};
use bevy_egui::egui;
use egui_plot::{Legend, Line, Plot, VLine};

/// Points of the actor's density curve per joint.
const ACTOR_POINTS: usize = 121;
/// Side of the heat map, in points.
const MAP_SIDE: f32 = 96.0;
/// Width of the KL plot beside it.
const KL_PLOT_WIDTH: f32 = 360.0;
/// Width of one joint's plot: six of them, with the window anchored beside the Run window,
/// end short of the right-hand column of plots in a 1280-point-wide window.
const JOINT_PLOT_WIDTH: f32 = 84.0;

/// The slice's drawn line as plot points.
fn drawn_slice(s: &Slice, actor_height: f64) -> Vec<[f64; 2]> {
    s.actions
        .iter()
        .zip(s.drawn_line(actor_height as f32))
        .map(|(&a, y)| [f64::from(a), f64::from(y)])
        .collect()
}

/// What the reader sees, in one line.
fn explanation(p: Option<&Posterior>, temperature_name: &str) -> String {
    match p.map(|p| p.temperature) {
        Some(Some(t)) => format!(
            "Filled: the actor q_θ per joint. Line: the posterior π = exp(Q̂/T)/Z, T = {temperature_name} \
             = {t:.3}, along the joint with the others at the actor's action. Wide = the model \
             is unsure which action is optimal; narrow = confident."
        ),
        Some(None) => "Filled: TD3's exploration noise around its action. Line: the critic's Q̂ \
                       along the joint (TD3 has no temperature, so no posterior), scaled to the \
                       plot."
            .into(),
        None => "Filled: the actor q_θ per joint (the posterior is off).".into(),
    }
}

pub(super) fn posterior_window(
    ctx: &egui::Context,
    run: &RunView,
    copy: usize,
    curves: &Curves,
    settings: &mut LabSettings,
) {
    egui::Window::new("Actor and posterior")
        .anchor(egui::Align2::LEFT_BOTTOM, [290.0, -8.0])
        .default_width(560.0)
        .resizable(false)
        .show(ctx, |ui| {
            let Some(d) = &run.frame.action_distribution else {
                return;
            };
            let posterior = run.frame.posterior.as_ref();
            let curves_of = curves.of(run.id);
            let algo = run.config.algo;
            ui.horizontal(|ui| {
                ui.label(format!("Copy {copy} of run {}, now.", run.id));
                ui.checkbox(&mut settings.posterior.shown, "posterior")
                    .on_hover_text(
                        "One critic pass over every joint's grid, ten times a second, on the \
                         run's training thread",
                    );
            });
            ui.label(explanation(
                posterior,
                algo.posterior_temperature_symbol().unwrap_or("T"),
            ));
            joint_plots(ui, run, d, posterior);
            let Some(p) = posterior else {
                return;
            };
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(KL_PLOT_WIDTH);
                    if let Some(kl) = p.kl() {
                        ui.label(format!("KL(q_θ || π) here: {kl:.3} nats"))
                            .on_hover_text(
                                "Summed over the joints' slices; the E-step drives it down",
                            );
                    }
                    if let Some(c) = curves_of.filter(|c| !c.kl.is_empty()) {
                        let colour = curves
                            .index_of(run.id)
                            .map_or(egui::Color32::WHITE, run_colour);
                        Plot::new("kl")
                            .width(KL_PLOT_WIDTH)
                            .height(MAP_SIDE)
                            .legend(Legend::default())
                            .x_axis_label("env steps")
                            .allow_drag(false)
                            .allow_zoom(false)
                            .allow_scroll(false)
                            .include_y(0.0)
                            .show(ui, |pl| {
                                pl.line(Line::new("KL(q_θ || π)", c.kl.clone()).color(colour));
                                pl.line(
                                    // The temperature curve: ε_ω for both VIREL variants.
                                    Line::new(algo.temperature_symbol(), c.temperature.clone())
                                        .color(egui::Color32::GRAY),
                                );
                            });
                    }
                });
                ui.vertical(|ui| heat_map(ui, run, p, &mut settings.posterior));
            });
        });
}

fn joint_plots(
    ui: &mut egui::Ui,
    run: &RunView,
    d: &ActionDistribution,
    posterior: Option<&Posterior>,
) {
    let cols = d.dims().clamp(1, 6);
    egui::Grid::new("joints").num_columns(cols).show(ui, |ui| {
        for j in 0..d.dims().min(run.action_bounds.len()) {
            let (low, high) = run.action_bounds[j];
            let name = run.joint_names.get(j).cloned().unwrap_or_default();
            let actor: Vec<[f64; 2]> = actor_curve(d, j, (low, high), ACTOR_POINTS)
                .into_iter()
                .map(|(a, y)| [f64::from(a), f64::from(y)])
                .collect();
            let top = actor.iter().map(|p| p[1]).fold(0.0, f64::max).max(1.0);
            ui.vertical(|ui| {
                ui.label(&name);
                Plot::new(("action", j))
                    .width(JOINT_PLOT_WIDTH)
                    .height(52.0)
                    .show_axes([true, false])
                    .allow_drag(false)
                    .allow_zoom(false)
                    .allow_scroll(false)
                    .include_x(f64::from(low))
                    .include_x(f64::from(high))
                    .include_y(0.0)
                    .show(ui, |p| {
                        p.line(Line::new("q_θ", actor).fill(0.0));
                        if let Some(s) = posterior.and_then(|p| p.slices.get(j)) {
                            p.line(
                                Line::new("π", drawn_slice(s, top))
                                    .color(egui::Color32::from_rgb(255, 170, 60))
                                    .width(1.5),
                            );
                        }
                        p.vline(VLine::new("mode", f64::from(d.mode(j, low, high))));
                    });
            });
            if (j + 1) % cols == 0 {
                ui.end_row();
            }
        }
    });
}

/// Viridis-like colour of `x` in [0, 1].
fn heat(x: f32) -> egui::Color32 {
    const STOPS: [[f32; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let x = x.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let w = x - i as f32;
    let c = |k: usize| (STOPS[i][k] * (1.0 - w) + STOPS[i + 1][k] * w) as u8;
    egui::Color32::from_rgb(c(0), c(1), c(2))
}

fn heat_map(ui: &mut egui::Ui, run: &RunView, p: &Posterior, view: &mut PosteriorView) {
    let dims = p.slices.len();
    if dims < 2 {
        return;
    }
    let name = |j: usize| {
        run.joint_names
            .get(j)
            .cloned()
            .unwrap_or_else(|| format!("a{j}"))
    };
    ui.horizontal(|ui| {
        for (k, which) in [("rows", &mut view.pair.0), ("cols", &mut view.pair.1)] {
            egui::ComboBox::from_id_salt(("pair", k))
                .selected_text(name(*which))
                .width(80.0)
                .show_ui(ui, |ui| {
                    for j in 0..dims {
                        ui.selectable_value(which, j, name(j));
                    }
                });
        }
    });
    let Some(map) = &p.pair else {
        ui.label("pick two different joints");
        return;
    };
    ui.horizontal_top(|ui| {
        draw_map(ui, map, p).on_hover_text(format!(
            "The posterior over {} (up) and {} (right), the other joints at the actor's \
             action; brightness √π; circle: the actor's action",
            name(map.joints.0),
            name(map.joints.1)
        ));
        ui.label("π over\nthe pair");
    });
}

fn draw_map(ui: &mut egui::Ui, map: &PairMap, p: &Posterior) -> egui::Response {
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(MAP_SIDE, MAP_SIDE), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let (nr, nc) = (map.rows.len(), map.cols.len());
    let top = map
        .weights
        .iter()
        .copied()
        .fold(0.0_f32, f32::max)
        .max(1e-12);
    let (cw, ch) = (rect.width() / nc as f32, rect.height() / nr as f32);
    for r in 0..nr {
        for c in 0..nc {
            let w = map.weights[r * nc + c] / top;
            // Row 0 (the lowest action) at the bottom.
            let min = egui::pos2(
                rect.left() + c as f32 * cw,
                rect.bottom() - (r + 1) as f32 * ch,
            );
            painter.rect_filled(
                egui::Rect::from_min_size(min, egui::vec2(cw + 0.5, ch + 0.5)),
                0.0,
                heat(w.sqrt()),
            );
        }
    }
    let frac = |v: f32, g: &[f32]| {
        let (lo, hi) = (g[0], g[g.len() - 1]);
        let half = (hi - lo) / (g.len() - 1) as f32 / 2.0;
        ((v - lo + half) / (hi - lo + 2.0 * half)).clamp(0.0, 1.0)
    };
    let (i, k) = map.joints;
    let dot = egui::pos2(
        rect.left() + frac(p.mode[k], &map.cols) * rect.width(),
        rect.bottom() - frac(p.mode[i], &map.rows) * rect.height(),
    );
    painter.circle_stroke(dot, 4.0, egui::Stroke::new(2.0, egui::Color32::WHITE));
    response
}
