//! The "Action distribution" window: for the followed copy's current observation, the
//! policy's density on each joint and the deterministic action.

use crate::app::lab::RunView;
use crate::rl::policy::ActionDistribution;
use bevy_egui::egui;
use egui_plot::{Line, Plot, VLine};

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

pub(super) fn actions_window(ctx: &egui::Context, run: &RunView, copy: usize) {
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
