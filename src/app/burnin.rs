//! What is burnt into video frames: captions in egui's bundled font ([`draw_caption`]) and
//! the posterior panel ([`draw_posterior`], `record --overlay posterior`), drawn on the RGBA
//! frames themselves (an off-screen recording has no egui).

use super::lab::RunView;
use crate::rl::posterior::{actor_curve, bracket};
use ab_glyph::{Font, FontRef, PxScale, ScaleFont};

/// The font burnt into videos: egui's bundled Ubuntu Light (no system fonts needed).
fn caption_font() -> &'static FontRef<'static> {
    static FONT: std::sync::OnceLock<FontRef<'static>> = std::sync::OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT)
            .expect("egui's bundled font parses")
    })
}

/// An RGBA frame to draw on.
pub struct Canvas<'a> {
    /// Pixels, row-major, 4 bytes each.
    pub rgba: &'a mut [u8],
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
}

impl Canvas<'_> {
    /// Blends `rgb` over pixel (x, y) with opacity `alpha`; outside the frame, nothing.
    pub fn blend(&mut self, x: i64, y: i64, rgb: [u8; 3], alpha: f32) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let i = ((y as usize) * self.width as usize + x as usize) * 4;
        for (channel, &new) in self.rgba[i..i + 3].iter_mut().zip(&rgb) {
            let old = f32::from(*channel);
            *channel = (old * (1.0 - alpha) + f32::from(new) * alpha).round() as u8;
        }
    }

    /// A translucent dark box.
    pub fn shade(&mut self, x: i64, y: i64, w: i64, h: i64, alpha: f32) {
        for py in y..y + h {
            for px in x..x + w {
                self.blend(px, py, [0, 0, 0], alpha);
            }
        }
    }

    /// Width of `text` at pixel height `size`.
    pub fn text_width(size: f32, text: &str) -> f32 {
        let font = caption_font().as_scaled(PxScale::from(size));
        let mut last = None;
        let mut w = 0.0;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(prev) = last {
                w += font.kern(prev, id);
            }
            w += font.h_advance(id);
            last = Some(id);
        }
        w
    }

    /// Draws `text` with its top-left corner at (x, y), anti-aliased, at pixel height `size`.
    /// Characters the font lacks are drawn as its empty-box glyph.
    pub fn text(&mut self, x: f32, y: f32, size: f32, text: &str, rgb: [u8; 3]) {
        let font = caption_font().as_scaled(PxScale::from(size));
        let baseline = y + font.ascent();
        let mut pen = x;
        let mut last = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(prev) = last {
                pen += font.kern(prev, id);
            }
            let glyph = id.with_scale_and_position(size, ab_glyph::point(pen, baseline));
            pen += font.h_advance(id);
            last = Some(id);
            if let Some(outline) = caption_font().outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    self.blend(
                        b.min.x as i64 + i64::from(gx),
                        b.min.y as i64 + i64::from(gy),
                        rgb,
                        coverage.min(1.0),
                    );
                });
            }
        }
    }
}

/// Writes `text` at (x, y) into an RGBA frame in egui's Ubuntu font, `size` pixels high, white
/// on a translucent dark box.
pub fn draw_caption(
    rgba: &mut [u8],
    width: u32,
    height: u32,
    x: u32,
    y: u32,
    size: f32,
    text: &str,
) {
    let mut c = Canvas {
        rgba,
        width,
        height,
    };
    let pad = (size * 0.3).round();
    let w = Canvas::text_width(size, text) + 2.0 * pad;
    c.shade(
        i64::from(x),
        i64::from(y),
        w.ceil() as i64,
        (size * 1.25 + 2.0 * pad) as i64,
        0.55,
    );
    c.text(x as f32 + pad, y as f32 + pad, size, text, [255, 255, 255]);
}

/// Colour of the actor's density (filled).
const ACTOR: [u8; 3] = [230, 110, 90];
/// Colour of the posterior's line.
const POSTERIOR: [u8; 3] = [255, 170, 60];
/// Colour of the deterministic action.
const MODE: [u8; 3] = [110, 160, 255];

/// The app's posterior panel, drawn along the bottom of a frame: per joint the actor's density
/// q_θ (filled), the posterior π = exp(Q̂/T)/Z along the joint (line; TD3: its Q̂ slice,
/// scaled), the deterministic action (blue), the joint's name; above them the temperature and
/// KL(q_θ ‖ π). Nothing is drawn when the frame carries no posterior.
pub fn draw_posterior(rgba: &mut [u8], width: u32, height: u32, run: &RunView) {
    let (Some(p), Some(d)) = (&run.frame.posterior, &run.frame.action_distribution) else {
        return;
    };
    let mut c = Canvas {
        rgba,
        width,
        height,
    };
    let dims = p.slices.len().min(run.action_bounds.len());
    if dims == 0 {
        return;
    }
    let cols = dims.min(6);
    let rows = dims.div_ceil(cols);
    let margin = (width as f32 * 0.01).max(2.0);
    // Boxes as wide as for at least four joints, all rows of them at most a fifth of the height.
    let slots = cols.max(4) as f32;
    let box_w = (width as f32 - margin * (slots + 1.0)) / slots;
    let box_h = (box_w * 0.45).min(height as f32 * 0.2 / rows as f32);
    let label = (box_h * 0.2).max(7.0);
    let title = match (p.temperature, p.kl()) {
        (Some(t), Some(kl)) => format!(
            "actor q_θ (filled) and posterior π = exp(Q/T)/Z (line), T = {t:.3}, KL(q_θ || π) = {kl:.2} nats"
        ),
        _ => "TD3: exploration noise (filled) and the critic's Q along each joint (line)".into(),
    };
    let panel_h = rows as f32 * (box_h + label * 1.3 + margin) + label * 1.6 + margin;
    let top = height as f32 - panel_h;
    c.shade(0, top as i64, i64::from(width), panel_h.ceil() as i64, 0.6);
    c.text(
        margin,
        top + margin * 0.5,
        label * 1.1,
        &title,
        [255, 255, 255],
    );
    for j in 0..dims {
        let (low, high) = run.action_bounds[j];
        let (col, row) = (j % cols, j / cols);
        let x0 = margin + col as f32 * (box_w + margin);
        let y0 = top + label * 1.6 + margin + row as f32 * (box_h + label * 1.3 + margin);
        let name = run.joint_names.get(j).map_or("", String::as_str);
        c.text(x0, y0, label, name, [230, 230, 230]);
        let y0 = y0 + label * 1.3;
        let w = box_w.max(1.0) as usize;
        let actor = actor_curve(d, j, (low, high), w);
        let s = &p.slices[j];
        let top_actor = actor.iter().map(|&(_, y)| y).fold(1e-6, f32::max);
        let grid_line = s.drawn_line(top_actor);
        let line: Vec<f32> = actor
            .iter()
            .map(|&(a, _)| {
                let (i, i1, w) = bracket(&s.actions, f64::from(a));
                let w = w as f32;
                grid_line[i] * (1.0 - w) + grid_line[i1] * w
            })
            .collect();
        let scale = line.iter().copied().fold(top_actor, f32::max);
        let bottom = y0 + box_h;
        let y_of = |v: f32| bottom - v / scale * box_h * 0.95;
        let mut prev = None;
        for px in 0..w {
            let x = (x0 + px as f32) as i64;
            for y in y_of(actor[px].1) as i64..bottom as i64 {
                c.blend(x, y, ACTOR, 0.7);
            }
            let y = y_of(line[px]) as i64;
            let from = prev.unwrap_or(y);
            for yy in from.min(y)..=from.max(y) {
                c.blend(x, yy, POSTERIOR, 1.0);
            }
            prev = Some(y);
        }
        let mode = d.mode(j, low, high);
        let mx = (x0 + (mode - low) / (high - low) * box_w) as i64;
        for y in y0 as i64..bottom as i64 {
            c.blend(mx, y, MODE, 0.9);
        }
        for x in x0 as i64..(x0 + box_w) as i64 {
            c.blend(x, bottom as i64, [200, 200, 200], 0.8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::lab::{Frame, RunId};
    use crate::rl::policy::ActionDistribution;
    use crate::rl::posterior::{Posterior, Slice, grid, log_boltzmann};

    fn blank(w: u32, h: u32) -> Vec<u8> {
        vec![128; (w * h * 4) as usize]
    }

    fn changed_rows(a: &[u8], b: &[u8], w: u32) -> Vec<u32> {
        let row = (w * 4) as usize;
        (0..a.len() / row)
            .filter(|&r| a[r * row..(r + 1) * row] != b[r * row..(r + 1) * row])
            .map(|r| r as u32)
            .collect()
    }

    #[test]
    fn a_caption_is_drawn_in_its_box_only() {
        let (w, h) = (320, 120);
        let before = blank(w, h);
        let mut after = before.clone();
        draw_caption(&mut after, w, h, 10, 10, 16.0, "VIREL | ε_ω = 0.05");
        let rows = changed_rows(&before, &after, w);
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|&r| (10..40).contains(&r)), "{rows:?}");
        // White glyph pixels, not just the shaded box.
        assert!(after.chunks(4).any(|p| p[0] > 200));
    }

    #[test]
    fn the_posterior_panel_is_drawn_along_the_bottom_when_the_frame_has_one() {
        let (w, h) = (480, 270);
        let g = grid(-1.0, 1.0, 40);
        let q: Vec<f32> = g.iter().map(|a| -4.0 * (a - 0.3) * (a - 0.3)).collect();
        let probs = log_boltzmann(&q, 0.5)
            .iter()
            .map(|l| l.exp() as f32)
            .collect();
        let slice = Slice {
            actions: g,
            q,
            probs: Some(probs),
            kl: Some(0.2),
        };
        let mut run = RunView {
            id: RunId(1),
            label: "#1".into(),
            config: Default::default(),
            scene: None,
            action_bounds: vec![(-1.0, 1.0); 2],
            joint_names: vec!["thigh".into(), "foot".into()],
            copies: 1,
            frame: Frame::default(),
            stopped: None,
        };
        let before = blank(w, h);
        let mut after = before.clone();
        draw_posterior(&mut after, w, h, &run);
        assert_eq!(after, before, "no posterior in the frame: nothing drawn");
        run.frame.action_distribution = Some(ActionDistribution::TanhGaussian {
            mean: vec![0.2, -0.5],
            std: vec![0.4, 0.3],
        });
        run.frame.posterior = Some(Posterior {
            temperature: Some(0.5),
            mode: vec![0.2, -0.46],
            slices: vec![slice.clone(), slice],
            pair: None,
        });
        draw_posterior(&mut after, w, h, &run);
        let rows = changed_rows(&before, &after, w);
        assert!(!rows.is_empty());
        assert!(
            rows.iter().all(|&r| r >= h * 3 / 5),
            "the panel stays in the lowest 40%: {rows:?}"
        );
        // The actor's fill and the posterior's line are both there.
        let has = |rgb: [u8; 3]| after.chunks(4).any(|p| p[..3] == rgb);
        assert!(has(POSTERIOR));
        assert!(
            after
                .chunks(4)
                .any(|p| u16::from(p[0]) > u16::from(p[2]) + 40)
        );
    }
}
