//! `sweep FILE --select`: applies the selection rule a tuning sweep states in its `[select]`
//! table to its finished cells, and writes the picks as variants another sweep takes
//! (`[variants_from]`), so that no configuration is picked by hand.
//!
//! ```toml
//! [select]
//! last_evals = 3          # a run's score: the mean of its last 3 deterministic evaluations
//! normalise = "min-max"   # per env, scores scaled to [0, 1] between the lowest and highest
//!                         # score of any run of the sweep on that env ("none": as they are)
//! aggregate = "iqm"       # a variant's value: the IQM of its runs' scores over every env
//!                         # and seed ("mean", "median")
//! out = "selection.toml"  # relative to the sweep file
//! ```
//!
//! Each algorithm's pick is its variant of highest value (the first in the file's order on a
//! tie), written as `[variants.tuned-ALGO]` with the picked variant's overrides. The pick of an
//! algorithm whose temperature can be frozen (VIREL's `virel.fixed_temperature`) also gives
//! `[variants.frozen-ALGO]`: the same overrides with the temperature fixed at the median of the
//! pick's runs (each run's median after learning starts, then the median over runs), the
//! control that asks whether the temperature's movement matters or only its level.

use super::report::{self, RunRecord};
use super::stats;
use super::sweep::{CellState, Sweep, VARIANT_ALGOS_KEY};
use crate::rl::Algo;
use crate::training::checkpoint::write_atomically;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// How scores are made comparable across envs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalise {
    /// Per env, (score − lowest) / (highest − lowest) over every run of the sweep on it.
    MinMax,
    /// Scores as they are.
    None,
}

/// How a variant's runs are summarised into its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregate {
    /// The interquartile mean (rliable's).
    Iqm,
    /// The mean.
    Mean,
    /// The median.
    Median,
}

impl Aggregate {
    fn of(self, x: &[f64]) -> f64 {
        match self {
            Aggregate::Iqm => stats::iqm(x),
            Aggregate::Mean => stats::mean(x),
            Aggregate::Median => median(x),
        }
    }
}

/// The median (NaN for no values).
pub fn median(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    stats::percentile(&s, 50.0)
}

/// A sweep's `[select]` table: the rule that picks each algorithm's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectRule {
    /// A run's score is the mean of its last `last_evals` deterministic evaluations.
    pub last_evals: usize,
    /// How scores are made comparable across envs.
    pub normalise: Normalise,
    /// How a variant's runs are summarised into its value.
    pub aggregate: Aggregate,
    /// The file the picks are written to, relative to the sweep file.
    pub out: PathBuf,
}

/// One variant's standing under the rule.
#[derive(Clone, Debug)]
pub struct Standing {
    /// The algorithm.
    pub algo: Algo,
    /// The variant.
    pub variant: String,
    /// Its runs' scores (normalised), by (env, seed).
    pub scores: Vec<(String, u64, f64)>,
    /// The aggregate of the scores.
    pub value: f64,
}

/// A run's score: the mean of its last `k` evaluations; an error names a run with fewer.
pub fn run_score(run: &RunRecord, k: usize) -> Result<f64> {
    if k == 0 || run.curve.len() < k {
        bail!(
            "{}: {} evaluations, the selection rule scores the last {k}",
            run.dir.display(),
            run.curve.len()
        );
    }
    let last: Vec<f64> = run.curve[run.curve.len() - k..]
        .iter()
        .map(|p| p.1)
        .collect();
    Ok(stats::mean(&last))
}

/// Scales each run's score per env by `normalise`; `scores` are (env, raw score).
pub fn normalised(scores: &[(String, f64)], normalise: Normalise) -> Vec<f64> {
    let mut range: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (env, s) in scores {
        let r = range
            .entry(env)
            .or_insert((f64::INFINITY, f64::NEG_INFINITY));
        *r = (r.0.min(*s), r.1.max(*s));
    }
    scores
        .iter()
        .map(|(env, s)| match normalise {
            Normalise::None => *s,
            Normalise::MinMax => {
                let (lo, hi) = range[env.as_str()];
                if hi > lo { (s - lo) / (hi - lo) } else { 0.0 }
            }
        })
        .collect()
}

/// Every finished cell's run, read from its folder or the sweep's archive; an error lists
/// the cells that have not finished.
fn finished_runs(sweep: &Sweep, metrics: &[String]) -> Result<Vec<RunRecord>> {
    let mut runs = Vec::new();
    let mut open = Vec::new();
    for cell in &sweep.cells {
        let dir = match sweep.state(cell)? {
            CellState::Done { .. } => sweep.dir(cell),
            CellState::Archived { .. } => sweep
                .archive
                .as_ref()
                .expect("an archived cell has an archive")
                .join(cell.name()),
            state => {
                open.push(format!("{} ({state})", cell.name()));
                continue;
            }
        };
        runs.push(report::read_run(&dir, metrics)?.0);
    }
    if !open.is_empty() {
        bail!(
            "{}: the rule applies to finished sweeps; {} of {} cells have not finished: {}",
            sweep.file.display(),
            open.len(),
            sweep.cells.len(),
            open.join(", ")
        );
    }
    Ok(runs)
}

/// Every (algorithm, variant) of the sweep with its value under `rule`, in the sweep's order.
pub fn standings(runs: &[RunRecord], rule: &SelectRule) -> Result<Vec<Standing>> {
    let raw: Vec<(String, f64)> = runs
        .iter()
        .map(|r| Ok((r.env.clone(), run_score(r, rule.last_evals)?)))
        .collect::<Result<_>>()?;
    let scores = normalised(&raw, rule.normalise);
    let mut out: Vec<Standing> = Vec::new();
    for (run, score) in runs.iter().zip(scores) {
        let variant = run.variant.clone().unwrap_or_default();
        let entry = (run.env.clone(), run.seed, score);
        match out
            .iter_mut()
            .find(|s| s.algo == run.algo && s.variant == variant)
        {
            Some(s) => s.scores.push(entry),
            None => out.push(Standing {
                algo: run.algo,
                variant,
                scores: vec![entry],
                value: f64::NAN,
            }),
        }
    }
    for s in &mut out {
        let x: Vec<f64> = s.scores.iter().map(|e| e.2).collect();
        s.value = rule.aggregate.of(&x);
    }
    Ok(out)
}

/// Each algorithm's pick: its standing of highest value, the first on a tie.
pub fn picks(standings: &[Standing]) -> Vec<&Standing> {
    let mut best: Vec<&Standing> = Vec::new();
    for s in standings {
        match best.iter_mut().find(|b| b.algo == s.algo) {
            Some(b) if s.value > b.value => *b = s,
            Some(_) => {}
            None => best.push(s),
        }
    }
    best
}

/// The median over runs of each run's median `metric` after learning starts.
fn median_after_learning_starts(runs: &[&RunRecord], metric: &str) -> Option<f64> {
    let per_run: Vec<f64> = runs
        .iter()
        .filter_map(|r| {
            let starts = learning_starts(r);
            let x: Vec<f64> = r
                .metrics
                .get(metric)?
                .iter()
                .filter(|p| p.0 > starts)
                .map(|p| p.1)
                .collect();
            (!x.is_empty()).then(|| median(&x))
        })
        .collect();
    (!per_run.is_empty()).then(|| median(&per_run))
}

/// The env step at which a run's learning started.
fn learning_starts(run: &RunRecord) -> u64 {
    run.config
        .as_ref()
        .map_or(0, |c| c.replay().learning_starts)
}

/// A TOML value as a config key's value in a file.
fn toml_value(v: &toml::Value) -> String {
    match v {
        toml::Value::Float(f) => format!("{f:e}"),
        v => v.to_string(),
    }
}

/// Every variant's value under the rule, the picks marked (Markdown).
fn standings_table(standings: &[Standing], picked: &[&Standing]) -> Result<String> {
    let mut table =
        String::from("| algorithm | variant | runs | value | picked |\n|---|---|---:|---:|---|\n");
    for s in standings {
        let mark = if picked.iter().any(|p| std::ptr::eq(*p, s)) {
            "yes"
        } else {
            ""
        };
        writeln!(
            table,
            "| {} | {} | {} | {:.3} | {mark} |",
            s.algo.display_name(),
            s.variant,
            s.scores.len(),
            s.value
        )?;
    }
    Ok(table)
}

/// Applies the sweep's `[select]` rule and writes the picks to its `out` file; returns the
/// table printed for people.
pub fn select(sweep: &Sweep) -> Result<String> {
    let Some(rule) = &sweep.select else {
        bail!(
            "{}: has no [select] table: the rule must be written in the sweep file before its runs start",
            sweep.file.display()
        );
    };
    let temperatures: Vec<String> = Algo::ALL
        .iter()
        .map(|a| a.info().temperature_metric.to_owned())
        .collect();
    let runs = finished_runs(sweep, &temperatures)?;
    let standings = standings(&runs, rule)?;
    let picked = picks(&standings);
    let mut table = standings_table(&standings, &picked)?;
    let base = sweep.file.parent().unwrap_or(std::path::Path::new("/"));
    let out = base.join(&rule.out);
    let mut text = format!(
        "# Written by `virel-lab sweep {} --select` from {} finished runs: each algorithm's\n\
         # variant of highest {:?} of its runs' scores (mean of the last {} evaluations,\n\
         # normalised {:?} per env). Sweeps take these with [variants_from].\n",
        sweep
            .file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        runs.len(),
        rule.aggregate,
        rule.last_evals,
        rule.normalise,
    );
    for p in &picked {
        let overrides = sweep
            .variant(&p.variant)
            .with_context(|| format!("variant {} is not in the sweep", p.variant))?
            .overrides
            .clone();
        let mut write_variant = |name: &str, extra: Option<(&str, f64)>| -> Result<()> {
            writeln!(
                text,
                "\n[variants.{name}]\n# picked: {} (value {:.4})\n{VARIANT_ALGOS_KEY} = [\"{}\"]",
                p.variant,
                p.value,
                p.algo.name()
            )?;
            for (k, v) in &overrides {
                writeln!(text, "\"{k}\" = {}", toml_value(v))?;
            }
            if let Some((k, v)) = extra {
                writeln!(text, "\"{k}\" = {v:e}")?;
            }
            Ok(())
        };
        let info = p.algo.info();
        write_variant(&format!("tuned-{}", info.name), None)?;
        if let Some(key) = info.fixed_temperature_key {
            let own: Vec<&RunRecord> = runs
                .iter()
                .filter(|r| r.algo == p.algo && r.variant.as_deref() == Some(&p.variant))
                .collect();
            let metric = info.temperature_metric;
            let t = median_after_learning_starts(&own, metric)
                .with_context(|| format!("the runs of {} log no {metric}", p.variant))?;
            write_variant(&format!("frozen-{}", info.name), Some((key, t)))?;
        }
    }
    write_atomically(&out, text.as_bytes())?;
    writeln!(table, "\nwritten to {}", out.display())?;
    Ok(table)
}
