//! Curves across seeds: each run on one step grid, then the IQM and its 95% bootstrap band at
//! every grid step; training metrics averaged within bins first.

use super::load::{RunRecord, Series};
use crate::study::stats::{self, Interval};
use std::collections::BTreeMap;

/// One group's curve in a picture: its label, seed count and aggregated points.
pub type LabelledCurve = (String, usize, Vec<CurvePoint>);

/// One run's curve on `grid`: linear between its evaluations, none before its first or
/// after its last.
pub fn on_grid(curve: &[(u64, f64)], grid: &[u64]) -> Vec<Option<f64>> {
    grid.iter()
        .map(|&g| {
            let after = curve.iter().position(|&(s, _)| s >= g)?;
            let (s1, v1) = curve[after];
            if s1 == g {
                return Some(v1);
            }
            let (s0, v0) = *curve.get(after.checked_sub(1)?)?;
            Some(v0 + (v1 - v0) * (g - s0) as f64 / (s1 - s0) as f64)
        })
        .collect()
}

/// The smallest step between two successive points of one curve; none where no curve has two.
fn smallest_gap(curves: &[&[(u64, f64)]]) -> Option<u64> {
    curves
        .iter()
        .flat_map(|c| c.windows(2).map(|w| w[1].0 - w[0].0))
        .filter(|&g| g > 0)
        .min()
}

/// The last step of the longest curve; none where all are empty.
fn last_step(curves: &[&[(u64, f64)]]) -> Option<u64> {
    curves.iter().filter_map(|c| c.last()).map(|p| p.0).max()
}

/// The step grid of an env's runs: multiples of the smallest gap between evaluations, up to
/// the longest run.
pub fn step_grid(curves: &[&[(u64, f64)]]) -> Vec<u64> {
    match (smallest_gap(curves), last_step(curves)) {
        (Some(gap), Some(last)) => (1..=last / gap).map(|k| k * gap).collect(),
        (None, Some(last)) => vec![last],
        _ => Vec::new(),
    }
}

/// An aggregated curve: at each grid step that at least one run reached, the IQM and its
/// 95% interval over the runs there.
#[derive(Clone, Debug)]
pub struct CurvePoint {
    /// The env step.
    pub step: u64,
    /// Runs that reached it.
    pub runs: usize,
    /// Interquartile mean of their returns there.
    pub iqm: f64,
    /// 95% stratified-bootstrap interval of the IQM.
    pub ci: Interval,
}

/// The IQM curve of `runs` on `grid`: each run interpolated between its evaluations, counted only up to its last.
pub fn aggregate_curve(runs: &[&RunRecord], grid: &[u64]) -> Vec<CurvePoint> {
    let on: Vec<Vec<Option<f64>>> = runs.iter().map(|r| on_grid(&r.curve, grid)).collect();
    aggregate(&on, grid)
}

/// How many bins the longest run of a `--metric` curve is cut into (fewer where its points
/// lie further apart); each run is averaged within each bin.
pub const METRIC_BINS: u64 = 100;

/// The grid of `--metric` curves: bin ends at multiples of one width, up to the longest run's
/// last step. The width is that step over [`METRIC_BINS`], rounded up to a multiple of the
/// smallest gap between one run's logged points.
pub fn metric_grid(curves: &[&[(u64, f64)]]) -> Vec<u64> {
    let gap = smallest_gap(curves).unwrap_or(1);
    let Some(last) = last_step(curves) else {
        return Vec::new();
    };
    let width = last.div_ceil(METRIC_BINS).div_ceil(gap).max(1) * gap;
    (1..=last.div_ceil(width).max(1))
        .map(|k| k * width)
        .collect()
}

/// One run's mean in each bin of `grid` (bin k holds the steps after `grid[k − 1]` up to
/// `grid[k]`; the first from 0); none where it logged nothing.
pub fn binned(curve: &[(u64, f64)], grid: &[u64]) -> Vec<Option<f64>> {
    let mut rest = curve;
    grid.iter()
        .map(|&end| {
            let n = rest.iter().take_while(|p| p.0 <= end).count();
            let (bin, after) = rest.split_at(n);
            rest = after;
            (n > 0).then(|| bin.iter().map(|p| p.1).sum::<f64>() / n as f64)
        })
        .collect()
}

/// The IQM curve of runs' values on `grid` (one row of options per run).
pub fn aggregate(on: &[Vec<Option<f64>>], grid: &[u64]) -> Vec<CurvePoint> {
    grid.iter()
        .enumerate()
        .filter_map(|(k, &step)| {
            let values: Vec<f64> = on.iter().filter_map(|c| c[k]).collect();
            if values.is_empty() {
                return None;
            }
            let (iqm, ci) = stats::iqm_with_interval(&values);
            Some(CurvePoint {
                step,
                runs: values.len(),
                iqm,
                ci,
            })
        })
        .collect()
}

/// One env's curves of the training metric `metric` (`--metric`), for the runs that log it:
/// each run averaged within the bins of [`metric_grid`], then the IQM across seeds. Returns
/// the grid's bin width and the curves; none where no run of the env logs it.
pub fn metric_curves(
    labels: &BTreeMap<String, Vec<&RunRecord>>,
    metric: &str,
) -> Option<(u64, Vec<LabelledCurve>)> {
    let logging: Vec<(&String, Vec<&Series>)> = labels
        .iter()
        .map(|(label, rs)| {
            let series = rs.iter().filter_map(|r| r.metrics.get(metric));
            (label, series.collect::<Vec<_>>())
        })
        .filter(|(_, series)| !series.is_empty())
        .collect();
    let all: Vec<&[(u64, f64)]> = logging
        .iter()
        .flat_map(|(_, s)| s.iter().map(|c| c.as_slice()))
        .collect();
    let grid = metric_grid(&all);
    let width = *grid.first()?;
    let curves = logging
        .iter()
        .map(|(label, series)| {
            let on: Vec<Vec<Option<f64>>> = series.iter().map(|c| binned(c, &grid)).collect();
            ((*label).clone(), series.len(), aggregate(&on, &grid))
        })
        .collect();
    Some((width, curves))
}
