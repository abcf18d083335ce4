//! "VIREL's counterexample": the seed's tabular MDP live (`envs::counterexample`). Sliders for
//! MERL's temperature c, γ and k1; MERL's π(a1|s0) from soft value iteration next to its
//! closed form, and VIREL's π_ω with ε_ω from its own Q; a button that runs both iterations
//! backup by backup and plots each policy's probability of the optimal action a2. The same
//! numbers as `virel-lab counterexample`.

use crate::envs::counterexample::{Iteration, Solution};
use bevy::prelude::Resource;
use bevy_egui::egui;
use egui_plot::{Legend, Line, Plot, Points};

/// Backups run at most (the MDP is two steps deep: both methods settle within two).
const MAX_BACKUPS: usize = 100;
/// Seconds between two backups while the iterations play.
const BACKUP_SECONDS: f64 = 0.8;
/// The residual's norm, as the authors' p = 2.
const P: f64 = 2.0;

/// The sliders, the solved model, and how far the step-by-step run has got.
#[derive(Resource)]
pub struct CounterexamplePanel {
    /// The window is open.
    pub open: bool,
    c: f64,
    gamma: f64,
    k1: usize,
    model: Option<Solution>,
    /// Rows of the iterations shown; `None`: all of them.
    shown: Option<usize>,
    /// Time of the last backup shown while playing.
    played_at: Option<f64>,
}

impl Default for CounterexamplePanel {
    fn default() -> Self {
        Self {
            open: false,
            c: 1.0,
            gamma: 0.99,
            k1: 100,
            model: None,
            shown: None,
            played_at: None,
        }
    }
}

pub(super) fn counterexample_window(ctx: &egui::Context, panel: &mut CounterexamplePanel) {
    let mut open = panel.open;
    egui::Window::new("VIREL's counterexample (tabular)")
        .open(&mut open)
        .anchor(egui::Align2::CENTER_TOP, [0.0, 8.0])
        .default_width(400.0)
        .show(ctx, |ui| {
            ui.label(
                "s0: a2 pays 1 and ends; a1 leads to k1 actions that pay 0. a2 is optimal. MERL's \
                 policy at temperature c picks a1 with a probability that grows with k1; VIREL's \
                 temperature ε_ω, the residual error of its own Q, vanishes at Q*.",
            );
            ui.add(
                egui::Slider::new(&mut panel.c, 0.01..=10.0)
                    .logarithmic(true)
                    .text("c (MERL's temperature)"),
            );
            ui.add(egui::Slider::new(&mut panel.gamma, 0.0..=0.999).text("γ"));
            ui.add(
                egui::Slider::new(&mut panel.k1, 1..=10_000)
                    .logarithmic(true)
                    .text("k1"),
            );
            let stale = panel
                .model
                .as_ref()
                .is_none_or(|m| (m.c, m.gamma, m.k1) != (panel.c, panel.gamma, panel.k1));
            if stale {
                panel.model = Some(Solution::new(
                    panel.c,
                    panel.gamma,
                    panel.k1,
                    P,
                    MAX_BACKUPS,
                ));
                panel.shown = None;
                panel.played_at = None;
            }
            let Some(m) = &panel.model else {
                return;
            };
            egui::Grid::new("counterexample")
                .num_columns(2)
                .show(ui, |ui| {
                    ui.label("MERL π(a1|s0), soft value iteration");
                    ui.monospace(format!("{:.4}", m.merl_a1));
                    ui.end_row();
                    ui.label("… closed form 1/(k1^(−γ)·exp(1/c) + 1)");
                    ui.monospace(format!("{:.4}", m.merl_a1_closed_form));
                    ui.end_row();
                    ui.label("VIREL ε_ω at Q*");
                    ui.monospace(format!("{:.3e}", m.epsilon));
                    ui.end_row();
                    ui.label("VIREL π_ω(a1|s0) = exp(Q*/ε_ω)/Z");
                    ui.monospace(format!("{:.4}", m.virel_a1));
                    ui.end_row();
                });
            let total = m.rows.len();
            ui.horizontal(|ui| {
                if ui.button("▶ Run step by step").clicked() {
                    panel.shown = Some(1);
                    panel.played_at = Some(ui.input(|i| i.time));
                }
                if ui.button("All").clicked() {
                    panel.shown = None;
                    panel.played_at = None;
                }
                let k = panel.shown.unwrap_or(total);
                ui.label(format!("{} of {} backups", k.saturating_sub(1), total - 1));
            });
            // Playing: one more backup every BACKUP_SECONDS.
            if let (Some(k), Some(at)) = (panel.shown, panel.played_at) {
                let now = ui.input(|i| i.time);
                let steps = ((now - at) / BACKUP_SECONDS) as usize;
                if steps > 0 {
                    panel.shown = Some((k + steps).min(total));
                    panel.played_at = Some(at + steps as f64 * BACKUP_SECONDS);
                }
                if panel.shown == Some(total) {
                    panel.played_at = None;
                } else {
                    ui.ctx().request_repaint();
                }
            }
            let rows = &m.rows[..panel.shown.unwrap_or(total).min(total)];
            let curve = |f: fn(&Iteration) -> f64| -> Vec<[f64; 2]> {
                rows.iter().map(|r| [r.k as f64, 1.0 - f(r)]).collect()
            };
            Plot::new("counterexample-iterations")
                .height(140.0)
                .legend(Legend::default())
                .x_axis_label("Bellman backups from Q = 0")
                .y_axis_label("π(a2|s0), a2 optimal")
                .include_x(0.0)
                .include_x((total - 1) as f64)
                .include_y(0.0)
                .include_y(1.0)
                .show(ui, |p| {
                    p.line(Line::new("MERL (temperature c)", curve(|r| r.merl_a1)));
                    p.points(Points::new("", curve(|r| r.merl_a1)).radius(3.0));
                    p.line(Line::new("VIREL (temperature ε_ω)", curve(|r| r.virel_a1)));
                    p.points(Points::new("", curve(|r| r.virel_a1)).radius(3.0));
                });
        });
    panel.open = open;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panel_solves_the_seeds_setting_as_the_closed_form_and_virel_picks_a2() {
        let m = Solution::new(1.0, 0.99, 100, P, MAX_BACKUPS);
        assert!((m.merl_a1 - m.merl_a1_closed_form).abs() < 1e-6, "{m:?}");
        // MERL prefers the sub-optimal a1 here; VIREL's ε_ω vanishes at Q*, so it takes a2.
        assert!(m.merl_a1 > 0.5);
        assert!(m.epsilon < 1e-9 && m.virel_a1 < 1e-6, "{m:?}");
        let last = m.rows.last().unwrap();
        assert!(last.virel_a1 < 1e-6 && (last.merl_a1 - m.merl_a1).abs() < 1e-3);
    }
}
