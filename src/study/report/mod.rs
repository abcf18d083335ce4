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
//!
//! The parts: [`load`] reads runs, [`curves`] aligns and aggregates them, [`figures`] draws,
//! [`tables`] writes the tables, [`settings`] every arm's settings and each algorithm's
//! sensitivity to its knobs, [`readme`] splices a report into a Markdown file; the
//! statistics are [`crate::study::stats`]'s.

pub mod curves;
pub mod figures;
pub mod load;
pub mod readme;
pub mod settings;
pub mod tables;

pub use curves::{
    CurvePoint, LabelledCurve, METRIC_BINS, aggregate, aggregate_curve, binned, metric_grid,
    on_grid, step_grid,
};
pub use load::{
    EVAL_METRIC, Groups, RunRecord, Series, find_runs, group, read_curves, read_run, read_runs,
};
pub use readme::{README_BEGIN, README_END, readme_slot, splice_readme};
pub use tables::{Improvement, RANDOM_POLICY_STEPS, ResultRow, improvements, result_row};

use crate::envs::random_policy::GaitStats;
use crate::study::stats;
use crate::training::checkpoint::write_atomically;
use anyhow::{Context, Result, bail};
use figures::Chart;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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

/// A bar of `len` steps headed `what` (hidden unless `shown`), the item's name as its message.
pub(crate) fn progress_bar(what: &str, len: usize, shown: bool) -> indicatif::ProgressBar {
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
    let (runs, logged) = read_runs(paths, metrics, progress)?;
    let baseline = load::baseline_label(&runs, baseline)?;
    load::check_metrics(metrics, &runs, &logged)?;
    let random = tables::random_baselines(runs.iter().map(|r| r.env.as_str()), progress);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    figures::register_font()?;
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
        let section = EnvSection {
            out,
            env,
            labels,
            random: random.get(env.as_str()),
            metrics,
        };
        files.extend(section.write(&mut md, &mut rows)?);
    }
    let improvements = improvements(&groups, &baseline);
    tables::improvements_section(&mut md, &improvements, &baseline)?;
    settings_section(&mut md, &runs)?;
    let md_path = out.join("results.md");
    write_atomically(&md_path, md.as_bytes())?;
    let csv_path = out.join("results.csv");
    let csv = tables::results_csv(&rows, &random, &improvements)?;
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

/// Every arm's settings, and each algorithm's sensitivity where its runs differ in a knob.
fn settings_section(md: &mut String, runs: &[RunRecord]) -> Result<()> {
    let mut labels: BTreeMap<String, Vec<&RunRecord>> = BTreeMap::new();
    for r in runs {
        labels.entry(r.label()).or_default().push(r);
    }
    writeln!(md, "\n### Settings of every arm\n")?;
    md.push_str(&settings::settings_table(&labels));
    let sensitivity = settings::sensitivity_table(runs);
    if !sensitivity.is_empty() {
        writeln!(md, "\n### Sensitivity to each knob")?;
        md.push_str(&sensitivity);
    }
    Ok(())
}

/// One env's part of a report: its curves, its table, the random policy and the metrics.
struct EnvSection<'a> {
    out: &'a Path,
    env: &'a str,
    labels: &'a BTreeMap<String, Vec<&'a RunRecord>>,
    random: Option<&'a GaitStats>,
    metrics: &'a [String],
}

impl EnvSection<'_> {
    /// Writes the section's Markdown to `md` and its rows to `rows`; returns the pictures.
    fn write(&self, md: &mut String, rows: &mut Vec<ResultRow>) -> Result<Vec<PathBuf>> {
        let env = self.env;
        let mut files = self.return_curves()?.to_vec();
        writeln!(md, "### {env}\n")?;
        writeln!(md, "![{env}: learning curves](curves-{env}.png)\n")?;
        let first_row = rows.len();
        tables::env_table(md, env, self.labels, rows)?;
        if let Some(r) = self.random {
            tables::random_row(md, r, &rows[first_row..])?;
        }
        for metric in self.metrics {
            if let Some((stem, pictures)) = self.metric_curves(metric)? {
                files.extend(pictures);
                writeln!(md, "\n![{env}: {metric}]({stem}.png)")?;
            }
        }
        writeln!(md)?;
        Ok(files)
    }

    /// The curves of the deterministic evaluations.
    fn return_curves(&self) -> Result<[PathBuf; 2]> {
        let all: Vec<&[(u64, f64)]> = self
            .labels
            .values()
            .flat_map(|rs| rs.iter().map(|r| r.curve.as_slice()))
            .collect();
        let grid = step_grid(&all);
        let curves: Vec<LabelledCurve> = self
            .labels
            .iter()
            .map(|(l, rs)| (l.clone(), rs.len(), aggregate_curve(rs, &grid)))
            .collect();
        let chart = Chart {
            caption: format!(
                "{}: deterministic evaluation return (IQM, 95% CI)",
                self.env
            ),
            y_desc: "return",
        };
        let stem = format!("curves-{}", self.env);
        figures::draw_picture(self.out, &stem, self.env, &chart, &curves)
    }

    /// The curves of a training metric, with the pictures' stem; none where no run logs it.
    fn metric_curves(&self, metric: &str) -> Result<Option<(String, [PathBuf; 2])>> {
        let Some((width, curves)) = curves::metric_curves(self.labels, metric) else {
            return Ok(None);
        };
        let slug: String = metric
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let stem = format!("curves-{}-{slug}", self.env);
        let chart = Chart {
            caption: format!(
                "{}: {metric} (IQM, 95% CI; each run's mean per {width} steps)",
                self.env
            ),
            y_desc: metric,
        };
        let pictures = figures::draw_picture(self.out, &stem, self.env, &chart, &curves)?;
        Ok(Some((stem, pictures)))
    }
}
