//! Pictures of curves: one PNG and one SVG per chart, in egui's bundled font, one colour per
//! algorithm in every picture.

use super::curves::{CurvePoint, LabelledCurve};
use crate::rl::Algo;
use anyhow::{Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Colours of the curves: one per algorithm (`algo`, as labels spell it), the same in every
/// picture; its `variant`-th variant in a picture (`Some(k)`) darker, then lighter, then
/// darker still, so two variants of one algorithm never share a colour.
fn colour(algo: &str, variant: Option<usize>) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    let [r, g, b] = Algo::by_display_name(algo).map_or([127, 127, 127], |a| a.info().colour);
    let base = RGBColor(r, g, b);
    let scaled = |k: f64| {
        let f = |c: u8| (f64::from(c) * k) as u8;
        RGBColor(f(base.0), f(base.1), f(base.2))
    };
    let lighter = |c: u8| c + (255 - c) / 2;
    match variant.map(|k| k % 3) {
        None => base,
        Some(0) => scaled(0.5),
        Some(1) => RGBColor(lighter(base.0), lighter(base.1), lighter(base.2)),
        Some(_) => scaled(0.25),
    }
}

/// Makes egui's bundled Ubuntu font plotters' sans-serif (no system fonts needed).
pub fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        )
        .is_ok()
    });
    if !ok {
        bail!("the bundled font could not be loaded");
    }
    Ok(())
}

/// What a picture of curves shows: its caption and the y axis' name.
pub struct Chart<'a> {
    /// The caption above the picture.
    pub caption: String,
    /// The y axis' name.
    pub y_desc: &'a str,
}

/// Decimals for ticks over a y range of `span`: two significant digits of it, none for
/// spans of 10 and more.
fn tick_decimals(span: f64) -> usize {
    if span > 0.0 && span.is_finite() {
        (1.0 - span.log10().floor()).clamp(0.0, 9.0) as usize
    } else {
        0
    }
}

/// The y range of `points` (IQMs and bands) with a 5% margin, and the tick decimals for it.
fn y_range<'a>(points: impl Iterator<Item = &'a CurvePoint>) -> (f64, f64, usize) {
    let (mut y_min, mut y_max) = points.fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.ci.lo).min(p.iqm), hi.max(p.ci.hi).max(p.iqm))
    });
    if y_min > y_max {
        (y_min, y_max) = (0.0, 1.0);
    }
    let span = y_max - y_min;
    let pad = if span > 0.0 {
        span * 0.05
    } else {
        y_max.abs().max(1.0) * 0.05
    };
    (y_min - pad, y_max + pad, tick_decimals(span + 2.0 * pad))
}

/// Draws one env's curves on any plotters backend.
fn draw_curves<DB: plotters::prelude::DrawingBackend>(
    root: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    env: &str,
    chart: &Chart,
    curves: &[LabelledCurve],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::*;
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("drawing {env}: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let points = curves.iter().flat_map(|c| c.2.iter());
    let x_max = points.clone().map(|p| p.step).max().unwrap_or(1) as f64;
    let (y_lo, y_hi, decimals) = y_range(points);
    let (caption, y_desc) = (&chart.caption, chart.y_desc);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max / 1000.0, y_lo..y_hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("env steps (thousands)")
        .y_desc(y_desc)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.decimals$}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let mut variants_seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (label, seeds, points) in curves {
        // Labels read "ALGO" or "ALGO (variant)" (RunRecord::label).
        let algo = label.split(' ').next().unwrap_or(label);
        let variant = label.contains('(').then(|| {
            let k = variants_seen.entry(algo).or_default();
            *k += 1;
            *k - 1
        });
        let c = colour(algo, variant);
        let x = |p: &CurvePoint| p.step as f64 / 1000.0;
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (x(p), p.ci.hi))
            .chain(points.iter().rev().map(|p| (x(p), p.ci.lo)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (x(p), p.iqm)),
                c.stroke_width(3),
            ))
            .map_err(err)?
            .label(format!(
                "{label} ({seeds} seed{})",
                if *seeds == 1 { "" } else { "s" }
            ))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Draws `curves` as `STEM.png` and `STEM.svg` in `out`; returns the two paths.
pub fn draw_picture(
    out: &Path,
    stem: &str,
    env: &str,
    chart: &Chart,
    curves: &[LabelledCurve],
) -> Result<[PathBuf; 2]> {
    use plotters::prelude::*;
    let png = out.join(format!("{stem}.png"));
    let svg = out.join(format!("{stem}.svg"));
    draw_curves(
        BitMapBackend::new(&png, (960, 600)).into_drawing_area(),
        env,
        chart,
        curves,
    )?;
    draw_curves(
        SVGBackend::new(&svg, (960, 600)).into_drawing_area(),
        env,
        chart,
        curves,
    )?;
    Ok([png, svg])
}
