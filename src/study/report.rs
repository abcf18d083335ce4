//! `virel-lab report DIR... --out report/`: reads run folders (a run folder, or a folder of
//! them), groups them by env and algorithm (with the sweep variant, when the folder is named
//! `env__algo__variant__seed`), and writes
//! - per env, learning curves of the deterministic evaluations: IQM across seeds with a 95%
//!   bootstrap band, on one step grid, as `curves-ENV.png` and `.svg`;
//! - per env × algorithm, the final deterministic return (IQM, mean, 95% CI of the IQM),
//!   forward velocity and episode length: `results.md` and `results.csv`; beside them a random
//!   policy's mean return on each robot, and which algorithms do not beat it;
//! - across envs, the probability of improvement of each algorithm over SAC (or the label
//!   `--baseline` names) with its 95% CI (rliable's), in the same files.

use super::stats::{self, Interval};
use super::sweep::NAME_SEPARATOR;
use crate::envs::random_policy::{GaitStats, random_gait};
use crate::rl::Algo;
use crate::scene;
use crate::training;
use crate::training::RunSummary;
use crate::training::checkpoint::write_atomically;
use crate::training::config::TrainConfig;
use crate::training::logger::METRICS_FILE;
use crate::training::logger::names;
use crate::training::run_dir::{CONFIG_FILE, SUMMARY_FILE, read_toml};
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The metric the curves and the final return come from.
pub const EVAL_METRIC: &str = names::EVAL_RETURN;

/// One logged quantity of a run: (env step, value), by step.
pub type Series = Vec<(u64, f64)>;

/// One group's curve in a picture: its label, seed count and aggregated points.
type LabelledCurve = (String, usize, Vec<CurvePoint>);

/// One run as the report reads it.
#[derive(Clone, Debug)]
pub struct RunRecord {
    /// Its run folder.
    pub dir: PathBuf,
    /// The env.
    pub env: String,
    /// The algorithm.
    pub algo: Algo,
    /// Sweep variant (`default` or none: the algorithm alone).
    pub variant: Option<String>,
    /// The seed.
    pub seed: u64,
    /// Deterministic evaluations: (env step, mean return), by step.
    pub curve: Series,
    /// The training metrics the report was asked to draw (`--metric`), each (env step,
    /// value) by step; a metric the run does not log is absent.
    pub metrics: BTreeMap<String, Series>,
    /// How it ended, when it did.
    pub summary: Option<RunSummary>,
}

impl RunRecord {
    /// The group a run is aggregated in: the algorithm, and its variant unless `default`.
    pub fn label(&self) -> String {
        match &self.variant {
            Some(v) if v != super::sweep::DEFAULT_VARIANT => {
                format!("{} ({v})", self.algo.display_name())
            }
            _ => self.algo.display_name().to_owned(),
        }
    }

    /// The final evaluation of a run that finished (not interrupted).
    pub fn final_eval(&self) -> Option<&training::EvalResult> {
        self.summary
            .as_ref()
            .filter(|s| !s.interrupted)
            .and_then(|s| s.final_eval.as_ref())
    }
}

/// Reads the series of `names` out of a `metrics.csv`: each (env step, value) by step; a
/// name the file does not log is absent. Also every metric name the file logs.
pub fn read_curves(
    path: &Path,
    names: &BTreeSet<&str>,
) -> Result<(BTreeMap<String, Series>, BTreeSet<String>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut curves: BTreeMap<String, BTreeMap<u64, f64>> = BTreeMap::new();
    let mut logged = BTreeSet::new();
    // A line without its newline is being written by a running run: left for next time.
    let complete = text.split_inclusive('\n').filter(|l| l.ends_with('\n'));
    for (i, line) in complete.map(str::trim_end).enumerate().skip(1) {
        let f: Vec<&str> = line.splitn(4, ',').collect();
        if f.len() != 4 {
            bail!(
                "{} line {}: expected step,wall_time,metric,value",
                path.display(),
                i + 1
            );
        }
        if !logged.contains(f[2]) {
            logged.insert(f[2].to_owned());
        }
        if !names.contains(f[2]) {
            continue;
        }
        let bad = || {
            format!(
                "{} line {}: '{line}' is not a number",
                path.display(),
                i + 1
            )
        };
        let step: u64 = f[0].parse().with_context(bad)?;
        let value: f64 = f[3].trim().parse().with_context(bad)?;
        // A resumed run logs again what its interrupted process logged after the checkpoint:
        // the later row wins.
        curves
            .entry(f[2].to_owned())
            .or_default()
            .insert(step, value);
    }
    let curves = curves
        .into_iter()
        .map(|(name, c)| (name, c.into_iter().collect()))
        .collect();
    Ok((curves, logged))
}

/// Reads one run folder: its evaluations and the training `metrics` asked for. Also every
/// metric name its `metrics.csv` logs.
pub fn read_run(dir: &Path, metrics: &[String]) -> Result<(RunRecord, BTreeSet<String>)> {
    let cfg: TrainConfig = read_toml(&dir.join(CONFIG_FILE), "a run config")?;
    let summary_path = dir.join(SUMMARY_FILE);
    let summary = if summary_path.exists() {
        Some(read_toml::<RunSummary>(&summary_path, "a run summary")?)
    } else {
        None
    };
    let csv = dir.join(METRICS_FILE);
    let names: BTreeSet<&str> = std::iter::once(EVAL_METRIC)
        .chain(metrics.iter().map(String::as_str))
        .collect();
    let (mut curves, logged) = if csv.exists() {
        read_curves(&csv, &names)?
    } else {
        Default::default()
    };
    let curve = curves.get(EVAL_METRIC).cloned().unwrap_or_default();
    curves.retain(|name, _| metrics.contains(name));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parts: Vec<&str> = name.split(NAME_SEPARATOR).collect();
    let variant = (parts.len() == 4 && parts[1] == cfg.algo.name()).then(|| parts[2].to_owned());
    let run = RunRecord {
        dir: dir.to_owned(),
        env: super::sweep::env_label(&cfg.env),
        algo: cfg.algo,
        variant,
        seed: cfg.seed,
        curve,
        metrics: curves,
        summary,
    };
    Ok((run, logged))
}

/// The run folders in `paths`: each is a run folder (it holds `config.toml`) or a folder
/// whose sub-folders are.
pub fn find_runs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut runs = Vec::new();
    for p in paths {
        if p.join(CONFIG_FILE).is_file() {
            runs.push(p.clone());
            continue;
        }
        if p.is_file() {
            bail!(
                "{} is a file: expected a run folder or a folder of them",
                p.display()
            );
        }
        if !p.is_dir() {
            bail!(
                "{}: not a run folder nor a folder of them (no such folder)",
                p.display()
            );
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|d| d.join(CONFIG_FILE).is_file())
            .collect();
        if found.is_empty() {
            bail!(
                "{}: holds no run folder (a folder with {CONFIG_FILE})",
                p.display()
            );
        }
        found.sort();
        runs.extend(found);
    }
    Ok(runs)
}

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

/// One row of the results table.
#[derive(Clone, Debug)]
pub struct ResultRow {
    /// The env.
    pub env: String,
    /// Algorithm (and variant).
    pub label: String,
    /// Runs that finished.
    pub finished: usize,
    /// Runs read.
    pub runs: usize,
    /// Fewest and most env steps of the runs.
    pub steps: (u64, u64),
    /// IQM of the final returns.
    pub iqm: f64,
    /// Mean of the final returns.
    pub mean: f64,
    /// 95% interval of the IQM.
    pub ci: Interval,
    /// Mean over finished runs of the final evaluation's forward velocity (m/s).
    pub velocity: Option<f64>,
    /// Mean episode length of the final evaluations.
    pub episode_length: f64,
    /// Where the runs ran: `host/device`, each once.
    pub ran_on: Vec<String>,
}

/// Forward velocity of an evaluation: its `forward` term over the scene's weight.
fn velocity(forward_weight: Option<f32>, eval: &training::EvalResult) -> Option<f64> {
    let forward = eval.term_means.get("forward")?;
    let w = forward_weight.filter(|&w| w != 0.0)?;
    Some(forward / f64::from(w))
}

/// The env's weight of the forward velocity in its reward (a scene's), read once per row.
fn forward_weight(env: &str) -> Option<f32> {
    Some(scene::load(env).ok()?.task.forward_reward_weight)
}

/// Envs → labels → runs, in a stable order (labels as SAC, TD3, VIREL, β-VIREL sort by name).
pub type Groups<'a> = BTreeMap<String, BTreeMap<String, Vec<&'a RunRecord>>>;

/// Runs grouped by env, then by label (algorithm and variant).
pub fn group(runs: &[RunRecord]) -> Groups<'_> {
    let mut g: Groups = BTreeMap::new();
    for r in runs {
        g.entry(r.env.clone())
            .or_default()
            .entry(r.label())
            .or_default()
            .push(r);
    }
    g
}

/// The table row of one env and label, if any run has an evaluation.
pub fn result_row(env: &str, label: &str, runs: &[&RunRecord]) -> Option<ResultRow> {
    let finished: Vec<&RunRecord> = runs
        .iter()
        .copied()
        .filter(|r| r.final_eval().is_some())
        .collect();
    if finished.is_empty() {
        return None;
    }
    let returns: Vec<f64> = finished
        .iter()
        .map(|r| r.final_eval().expect("finished").mean)
        .collect();
    let (iqm, ci) = stats::iqm_with_interval(&returns);
    let weight = forward_weight(env);
    let velocities: Vec<f64> = finished
        .iter()
        .filter_map(|r| velocity(weight, r.final_eval()?))
        .collect();
    let steps: Vec<u64> = finished
        .iter()
        .map(|r| r.summary.as_ref().map_or(0, |s| s.env_steps))
        .collect();
    let mut ran_on: Vec<String> = finished
        .iter()
        .map(|r| {
            let s = r.summary.as_ref().expect("finished");
            if s.host.is_empty() {
                "unrecorded".to_owned()
            } else {
                format!("{}/{}", s.host, s.device)
            }
        })
        .collect();
    ran_on.sort();
    ran_on.dedup();
    Some(ResultRow {
        env: env.to_owned(),
        label: label.to_owned(),
        finished: finished.len(),
        runs: runs.len(),
        steps: (
            steps.iter().copied().min().unwrap_or(0),
            steps.iter().copied().max().unwrap_or(0),
        ),
        iqm,
        mean: stats::mean(&returns),
        ci,
        velocity: (!velocities.is_empty()).then(|| stats::mean(&velocities)),
        episode_length: stats::mean(
            &finished
                .iter()
                .map(|r| r.final_eval().expect("finished").mean_length)
                .collect::<Vec<_>>(),
        ),
        ran_on,
    })
}

/// The probability that `label` beats `baseline` on a random env of those where both have
/// finished runs, with its 95% interval and the envs it covers.
#[derive(Clone, Debug)]
pub struct Improvement {
    /// Algorithm (and variant).
    pub label: String,
    /// What it is compared with (SAC).
    pub baseline: String,
    /// The envs where both have finished runs.
    pub envs: Vec<String>,
    /// P(label > baseline).
    pub probability: f64,
    /// Its 95% interval.
    pub ci: Interval,
}

/// P(X > baseline) of every other label, over the envs both finished.
pub fn improvements(groups: &Groups, baseline: &str) -> Vec<Improvement> {
    let finals = |runs: &Vec<&RunRecord>| -> Vec<f64> {
        runs.iter()
            .filter_map(|r| r.final_eval().map(|e| e.mean))
            .collect()
    };
    let labels: std::collections::BTreeSet<&String> =
        groups.values().flat_map(|g| g.keys()).collect();
    labels
        .into_iter()
        .filter(|l| l.as_str() != baseline)
        .filter_map(|label| {
            let mut envs = Vec::new();
            let (mut x, mut y) = (Vec::new(), Vec::new());
            for (env, g) in groups {
                let (Some(a), Some(b)) = (g.get(label), g.get(baseline)) else {
                    continue;
                };
                let (a, b) = (finals(a), finals(b));
                if a.is_empty() || b.is_empty() {
                    continue;
                }
                envs.push(env.clone());
                x.push(a);
                y.push(b);
            }
            if envs.is_empty() {
                return None;
            }
            let (probability, ci) = stats::probability_of_improvement_with_interval(&x, &y);
            Some(Improvement {
                label: label.clone(),
                baseline: baseline.to_owned(),
                envs,
                probability,
                ci,
            })
        })
        .collect()
}

/// Colours of the curves: one per algorithm (`algo`, as labels spell it), the same in every
/// picture; its `variant`-th variant in a picture (`Some(k)`) darker, then lighter, then
/// darker still, so two variants of one algorithm never share a colour.
fn colour(algo: &str, variant: Option<usize>) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    let base = match algo {
        "VIREL" => RGBColor(31, 119, 180),
        "β-VIREL" => RGBColor(148, 103, 189),
        "SAC" => RGBColor(255, 127, 14),
        "TD3" => RGBColor(44, 160, 44),
        _ => RGBColor(127, 127, 127),
    };
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
fn register_font() -> Result<()> {
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
struct Chart<'a> {
    caption: String,
    y_desc: &'a str,
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
    let decimals = tick_decimals(span + 2.0 * pad);
    let (caption, y_desc) = (&chart.caption, chart.y_desc);
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max / 1000.0, (y_min - pad)..(y_max + pad))
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
        let band: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.step as f64 / 1000.0, p.ci.hi))
            .chain(
                points
                    .iter()
                    .rev()
                    .map(|p| (p.step as f64 / 1000.0, p.ci.lo)),
            )
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.step as f64 / 1000.0, p.iqm)),
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

/// What a report wrote.
#[derive(Debug)]
pub struct Written {
    /// Runs read.
    pub runs: usize,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// The results table.
    pub rows: Vec<ResultRow>,
    /// Probabilities of improvement.
    pub improvements: Vec<Improvement>,
    /// The Markdown of the report (what `--readme` splices in).
    pub markdown: String,
}

fn fmt_ci(ci: &Interval) -> String {
    format!("[{:.0}, {:.0}]", ci.lo, ci.hi)
}

/// A bar of `len` steps headed `what` (hidden unless `shown`), the item's name as its message.
fn progress_bar(what: &str, len: usize, shown: bool) -> indicatif::ProgressBar {
    let bar = if shown {
        indicatif::ProgressBar::new(len as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what} [{{wide_bar}}] {{pos}}/{{len}} {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// Control steps of uniform random actions behind each robot's random-policy row.
pub const RANDOM_POLICY_STEPS: usize = 20_000;

/// What a random policy does on each robot among `envs` ([`RANDOM_POLICY_STEPS`] steps from
/// reset seed 0): the baseline every algorithm must beat. Envs that are not robots (Pendulum)
/// have none.
fn random_baselines<'a>(
    envs: impl Iterator<Item = &'a str>,
    progress: bool,
) -> BTreeMap<String, GaitStats> {
    let envs: BTreeSet<&str> = envs.collect();
    let bar = progress_bar("random policy", envs.len(), progress);
    let mut out = BTreeMap::new();
    for env in envs {
        bar.set_message(env.to_owned());
        if let Ok(stats) = random_gait(env, RANDOM_POLICY_STEPS, 0) {
            out.insert(env.to_owned(), stats);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out
}

/// The label improvements are taken against: `chosen`, which some run must carry, or SAC.
fn baseline_label(runs: &[RunRecord], chosen: Option<&str>) -> Result<String> {
    let Some(chosen) = chosen else {
        return Ok(Algo::Sac.display_name().to_owned());
    };
    let labels: BTreeSet<String> = runs.iter().map(RunRecord::label).collect();
    if !labels.contains(chosen) {
        bail!(
            "--baseline {chosen:?}: no run is labelled so; the runs' labels: {}",
            labels.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(chosen.to_owned())
}

/// Draws `curves` as `STEM.png` and `STEM.svg` in `out`; returns the two paths.
fn draw_picture(
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

/// One env's curves of the training metric `metric` (`--metric`), for the runs that log it:
/// each run averaged within the bins of [`metric_grid`], then the IQM across seeds. Returns
/// the grid's bin width and the curves; none where no run of the env logs it.
fn metric_curves(
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

/// `--metric NAME`s that no run logs, refused with the names the runs do log.
fn check_metrics(metrics: &[String], runs: &[RunRecord], logged: &BTreeSet<String>) -> Result<()> {
    for m in metrics {
        if !runs.iter().any(|r| r.metrics.contains_key(m)) {
            bail!(
                "--metric {m:?}: no run logs it; the runs' metrics: {}",
                logged.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(())
}

/// Reads `paths` and writes the report into `out`, with the probability of improvement over
/// `baseline` (a label, as the table spells it; `None`: SAC where some run is SAC) and curves
/// of the training `metrics` (`--metric`) beside the returns'.
pub fn write_report(
    paths: &[PathBuf],
    out: &Path,
    baseline: Option<&str>,
    metrics: &[String],
    progress: bool,
) -> Result<Written> {
    if out.is_file() {
        bail!(
            "--out {} is a file: expected a folder for the report",
            out.display()
        );
    }
    let dirs = find_runs(paths)?;
    let bar = progress_bar("reading runs", dirs.len(), progress);
    let mut runs = Vec::new();
    let mut logged = BTreeSet::new();
    for d in &dirs {
        bar.set_message(
            d.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let (run, names) = read_run(d, metrics)?;
        runs.push(run);
        logged.extend(names);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let baseline = baseline_label(&runs, baseline)?;
    check_metrics(metrics, &runs, &logged)?;
    let random = random_baselines(runs.iter().map(|r| r.env.as_str()), progress);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    register_font()?;
    let groups = group(&runs);
    let mut files = Vec::new();
    let mut rows = Vec::new();
    let mut md = String::new();
    writeln!(
        md,
        "Deterministic evaluations (10 episodes unless a run's config says otherwise). Curves: \
         interquartile mean (IQM) across seeds with a 95% stratified-bootstrap band ({} \
         resamples). Final return: each finished run's last evaluation; IQM, mean and the 95% \
         bootstrap CI of the IQM across seeds (with fewer than 4 seeds the IQM is the mean).\n",
        stats::BOOTSTRAP_REPS
    )?;
    for (env, labels) in &groups {
        let all: Vec<&[(u64, f64)]> = labels
            .values()
            .flat_map(|rs| rs.iter().map(|r| r.curve.as_slice()))
            .collect();
        let grid = step_grid(&all);
        let curves: Vec<LabelledCurve> = labels
            .iter()
            .map(|(l, rs)| (l.clone(), rs.len(), aggregate_curve(rs, &grid)))
            .collect();
        let returns = Chart {
            caption: format!("{env}: deterministic evaluation return (IQM, 95% CI)"),
            y_desc: "return",
        };
        files.extend(draw_picture(
            out,
            &format!("curves-{env}"),
            env,
            &returns,
            &curves,
        )?);
        writeln!(md, "### {env}\n")?;
        writeln!(md, "![{env}: learning curves](curves-{env}.png)\n")?;
        writeln!(
            md,
            "| algorithm | seeds (finished/all) | env steps | IQM | mean | 95% CI (IQM) | forward velocity | episode length | ran on |"
        )?;
        writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---|")?;
        let first_row = rows.len();
        for (label, rs) in labels {
            let Some(row) = result_row(env, label, rs) else {
                writeln!(
                    md,
                    "| {label} | 0/{} | | | | | | | (none finished) |",
                    rs.len()
                )?;
                continue;
            };
            let steps = if row.steps.0 == row.steps.1 {
                row.steps.0.to_string()
            } else {
                format!("{}–{}", row.steps.0, row.steps.1)
            };
            writeln!(
                md,
                "| {label} | {}/{} | {steps} | {:.0} | {:.0} | {} | {} | {:.0} | {} |",
                row.finished,
                row.runs,
                row.iqm,
                row.mean,
                fmt_ci(&row.ci),
                row.velocity
                    .map_or("–".to_owned(), |v| format!("{v:.2} m/s")),
                row.episode_length,
                row.ran_on.join(", ")
            )?;
            rows.push(row);
        }
        if let Some(r) = random.get(env.as_str()) {
            writeln!(
                md,
                "| random policy | | {RANDOM_POLICY_STEPS} | | {:.0} | | {:.2} m/s | {:.0} | uniform actions, seed 0 |",
                r.mean_return, r.mean_velocity, r.mean_length
            )?;
            let below: Vec<&str> = rows[first_row..]
                .iter()
                .filter(|row| row.iqm <= r.mean_return)
                .map(|row| row.label.as_str())
                .collect();
            writeln!(
                md,
                "\n{}",
                if below.is_empty() {
                    format!(
                        "Every algorithm's IQM is above the random policy's mean return ({:.0}).",
                        r.mean_return
                    )
                } else {
                    format!(
                        "**Not above the random policy's mean return ({:.0}): {}.**",
                        r.mean_return,
                        below.join(", ")
                    )
                }
            )?;
        }
        for metric in metrics {
            let Some((width, curves)) = metric_curves(labels, metric) else {
                continue;
            };
            let slug: String = metric
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let stem = format!("curves-{env}-{slug}");
            let chart = Chart {
                caption: format!(
                    "{env}: {metric} (IQM, 95% CI; each run's mean per {width} steps)"
                ),
                y_desc: metric,
            };
            files.extend(draw_picture(out, &stem, env, &chart, &curves)?);
            writeln!(md, "\n![{env}: {metric}]({stem}.png)")?;
        }
        writeln!(md)?;
    }
    let improvements = improvements(&groups, &baseline);
    if !improvements.is_empty() {
        writeln!(md, "### Probability of improvement over {baseline}\n")?;
        writeln!(
            md,
            "P(X > {baseline}): the chance that a run of X ends above a run of {baseline} on an \
             env drawn at random from those where both finished (rliable's probability of \
             improvement; ties count ½), with its 95% stratified-bootstrap CI. Above 0.5 \
             favours X.\n"
        )?;
        writeln!(md, "| algorithm | P(X > {baseline}) | 95% CI | envs |")?;
        writeln!(md, "|---|---:|---:|---|")?;
        for i in &improvements {
            writeln!(
                md,
                "| {} | {:.2} | [{:.2}, {:.2}] | {} |",
                i.label,
                i.probability,
                i.ci.lo,
                i.ci.hi,
                i.envs.join(", ")
            )?;
        }
    }
    let md_path = out.join("results.md");
    write_atomically(&md_path, md.as_bytes())?;
    let mut csv = String::from(
        "env,algorithm,finished,runs,min_steps,max_steps,iqm,mean,ci_low,ci_high,forward_velocity,episode_length,ran_on\n",
    );
    for r in &rows {
        writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.env,
            r.label,
            r.finished,
            r.runs,
            r.steps.0,
            r.steps.1,
            r.iqm,
            r.mean,
            r.ci.lo,
            r.ci.hi,
            r.velocity.map_or(String::new(), |v| v.to_string()),
            r.episode_length,
            r.ran_on.join(" ")
        )?;
    }
    for (env, r) in &random {
        writeln!(
            csv,
            "{env},random policy,,,{RANDOM_POLICY_STEPS},{RANDOM_POLICY_STEPS},,{},,,{},{},",
            r.mean_return, r.mean_velocity, r.mean_length
        )?;
    }
    for i in &improvements {
        writeln!(
            csv,
            "(all: {}),P({} > {}),,,,,{},,{},{},,,",
            i.envs.join(" "),
            i.label,
            i.baseline,
            i.probability,
            i.ci.lo,
            i.ci.hi
        )?;
    }
    let csv_path = out.join("results.csv");
    write_atomically(&csv_path, csv.as_bytes())?;
    files.extend([md_path, csv_path]);
    Ok(Written {
        runs: runs.len(),
        files,
        rows,
        improvements,
        markdown: md,
    })
}

/// Markers around the part of a Markdown file that `report --readme` replaces.
pub const README_BEGIN: &str = "<!-- report:begin -->";
/// See [`README_BEGIN`].
pub const README_END: &str = "<!-- report:end -->";

/// Replaces the text between [`README_BEGIN`] and [`README_END`] in `readme` with `body`, a
/// report written to `out` (its pictures are linked from the readme's folder); the rest of
/// the file is untouched. Refused when the markers are missing.
pub fn splice_readme(readme: &Path, body: &str, out: &Path) -> Result<()> {
    let (text, prefix) = readme_slot(readme, out)?;
    let body = body.replace("](curves-", &format!("]({}/curves-", prefix.display()));
    let (b, e) = (
        text.find(README_BEGIN).expect("checked"),
        text.find(README_END).expect("checked"),
    );
    let spliced = format!("{}{README_BEGIN}\n{body}{}", &text[..b], &text[e..]);
    write_atomically(readme, spliced.as_bytes())
}

/// The readme's text, checked to hold the markers in order, and the report folder as seen
/// from the readme's folder: what [`splice_readme`] needs, checked before a report is drawn.
pub fn readme_slot(readme: &Path, out: &Path) -> Result<(String, PathBuf)> {
    let abs = |p: &Path| {
        std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))
    };
    let base = abs(readme)?
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    let prefix = abs(out)?
        .strip_prefix(&base)
        .map_err(|_| {
            anyhow::anyhow!(
                "--readme {}: the report folder {} must lie under the readme's folder, for its pictures to be linked",
                readme.display(),
                out.display()
            )
        })?
        .to_owned();
    let text = std::fs::read_to_string(readme)
        .with_context(|| format!("cannot read {}", readme.display()))?;
    let (Some(b), Some(e)) = (text.find(README_BEGIN), text.find(README_END)) else {
        bail!(
            "{}: no '{README_BEGIN}' … '{README_END}' markers to put the report between",
            readme.display()
        );
    };
    if e < b {
        bail!(
            "{}: '{README_END}' comes before '{README_BEGIN}'",
            readme.display()
        );
    }
    Ok((text, prefix))
}
