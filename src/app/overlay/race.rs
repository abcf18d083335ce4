//! The "Race" window, while several runs train: a leaderboard of the runs, best recent return
//! first, with how far their robots got this episode and their temperature.

use crate::app::lab::{Curves, RunView, Runs, run_rgb};
use bevy_egui::egui;

/// Mean over a run's copies of the root's x (m): how far the robots got this episode (each
/// copy starts its episode at x ≈ 0).
pub(super) fn distance_this_episode(run: &RunView) -> Option<f64> {
    let xs: Vec<f64> = run
        .frame
        .poses
        .iter()
        .filter_map(|c| c.first().map(|(p, _)| f64::from(p.x)))
        .collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

pub(super) fn race_window(ctx: &egui::Context, runs: &Runs, curves: &Curves) {
    if runs.live.len() < 2 {
        return;
    }
    let mut order: Vec<&RunView> = runs.live.iter().collect();
    order.sort_by(|a, b| {
        let r = |v: &RunView| v.frame.live.recent_return.unwrap_or(f64::NEG_INFINITY);
        r(b).total_cmp(&r(a))
    });
    egui::Window::new("Race")
        .anchor(egui::Align2::CENTER_TOP, [0.0, 8.0])
        .default_width(270.0)
        .show(ctx, |ui| {
            egui::Grid::new("race")
                .num_columns(5)
                .striped(true)
                .show(ui, |ui| {
                    for h in ["", "run", "distance", "return (10)", "temperature"] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for run in order {
                        let c = curves.index_of(run.id);
                        let [r, g, b] = run_rgb(c.unwrap_or(0));
                        ui.colored_label(egui::Color32::from_rgb(r, g, b), "■");
                        ui.label(&run.label);
                        let fmt = |v: Option<f64>, unit: &str| {
                            v.map_or("–".to_owned(), |v| format!("{v:.1}{unit}"))
                        };
                        ui.label(fmt(distance_this_episode(run), " m"));
                        ui.label(fmt(run.frame.live.recent_return, ""));
                        let name = curves
                            .of(run.id)
                            .map(|c| {
                                c.temperature_name
                                    .rsplit('/')
                                    .next()
                                    .unwrap_or("")
                                    .to_owned()
                            })
                            .unwrap_or_default();
                        let t = run.frame.live.temperature;
                        ui.label(t.map_or("–".to_owned(), |t| format!("{name} {t:.4}")));
                        ui.end_row();
                    }
                });
        });
}
