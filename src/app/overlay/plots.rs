//! The plot windows: learning curves of every run, the temperature (ε_ω, α, TD3's noise) and
//! the critic of the selected run.

use crate::app::lab::{Curves, RunView, run_rgb};
use bevy_egui::egui;
use egui_plot::{Legend, Line, Plot, Points};

/// One colour per run, the same in every plot's legend and in the 3D view.
pub(super) fn run_colour(i: usize) -> egui::Color32 {
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

pub(super) fn curves_window(ctx: &egui::Context, curves: &Curves) {
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

pub(super) fn temperature_window(ctx: &egui::Context, curves: &Curves, selected: Option<&RunView>) {
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

pub(super) fn critic_window(ctx: &egui::Context, curves: &Curves, selected: Option<&RunView>) {
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
