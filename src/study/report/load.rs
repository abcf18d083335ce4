//! Reading runs: a run folder's config, summary and `metrics.csv` as a [`RunRecord`], the
//! run folders under the paths a report is given, and runs grouped by env and label.

use super::progress_bar;
use crate::rl::Algo;
use crate::study::sweep::{self, NAME_SEPARATOR};
use crate::training;
use crate::training::RunSummary;
use crate::training::config::TrainConfig;
use crate::training::logger::METRICS_FILE;
use crate::training::logger::names;
use crate::training::run_dir::{CONFIG_FILE, SUMMARY_FILE, read_toml};
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The metric the curves and the final return come from.
pub const EVAL_METRIC: &str = names::EVAL_RETURN;

/// One logged quantity of a run: (env step, value), by step.
pub type Series = Vec<(u64, f64)>;

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
    /// Its `config.toml` (none for runs made up in tests).
    pub config: Option<TrainConfig>,
}

impl RunRecord {
    /// The group a run is aggregated in: the algorithm, and its variant unless `default`.
    pub fn label(&self) -> String {
        match &self.variant {
            Some(v) if v != sweep::DEFAULT_VARIANT => {
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
        env: sweep::env_label(&cfg.env),
        algo: cfg.algo,
        variant,
        seed: cfg.seed,
        curve,
        metrics: curves,
        summary,
        config: Some(cfg),
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

/// Every run under `paths`, and every metric name their `metrics.csv` files log.
pub fn read_runs(
    paths: &[PathBuf],
    metrics: &[String],
    progress: bool,
) -> Result<(Vec<RunRecord>, BTreeSet<String>)> {
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
    Ok((runs, logged))
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

/// The label improvements are taken against: `chosen`, which some run must carry, or SAC.
pub fn baseline_label(runs: &[RunRecord], chosen: Option<&str>) -> Result<String> {
    let Some(chosen) = chosen else {
        return Ok(crate::rl::registry::BASELINE.display_name().to_owned());
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

/// `--metric NAME`s that no run logs, refused with the names the runs do log.
pub fn check_metrics(
    metrics: &[String],
    runs: &[RunRecord],
    logged: &BTreeSet<String>,
) -> Result<()> {
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
