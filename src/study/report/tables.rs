//! The report's tables: per env and label the final returns (IQM, mean, 95% CI), velocity
//! and episode length, next to a random policy; the probability of improvement over a
//! baseline; as Markdown and CSV.

use super::load::{Groups, RunRecord};
use super::progress_bar;
use crate::envs::random_policy::{GaitStats, random_gait};
use crate::scene;
use crate::study::stats::{self, Interval};
use crate::training;
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

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

fn fmt_ci(ci: &Interval) -> String {
    format!("[{:.0}, {:.0}]", ci.lo, ci.hi)
}

/// Control steps of uniform random actions behind each robot's random-policy row.
pub const RANDOM_POLICY_STEPS: usize = 20_000;

/// What a random policy does on each robot among `envs` ([`RANDOM_POLICY_STEPS`] steps from
/// reset seed 0): the baseline every algorithm must beat. Envs that are not robots (Pendulum)
/// have none.
pub fn random_baselines<'a>(
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

/// The Markdown table of one env's labels; pushes each label's row to `rows`.
pub fn env_table(
    md: &mut String,
    env: &str,
    labels: &BTreeMap<String, Vec<&RunRecord>>,
    rows: &mut Vec<ResultRow>,
) -> Result<()> {
    writeln!(
        md,
        "| algorithm | seeds (finished/all) | env steps | IQM | mean | 95% CI (IQM) | forward velocity | episode length | ran on |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---|")?;
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
    Ok(())
}

/// The random policy's row under an env's table, and which of the env's `rows` are not
/// above it.
pub fn random_row(md: &mut String, r: &GaitStats, rows: &[ResultRow]) -> Result<()> {
    writeln!(
        md,
        "| random policy | | {RANDOM_POLICY_STEPS} | | {:.0} | | {:.2} m/s | {:.0} | uniform actions, seed 0 |",
        r.mean_return, r.mean_velocity, r.mean_length
    )?;
    let below: Vec<&str> = rows
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
    Ok(())
}

/// The section of the probabilities of improvement over `baseline`; nothing without any.
pub fn improvements_section(
    md: &mut String,
    improvements: &[Improvement],
    baseline: &str,
) -> Result<()> {
    if improvements.is_empty() {
        return Ok(());
    }
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
    for i in improvements {
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
    Ok(())
}

/// `results.csv`: the rows, the random policies and the probabilities of improvement.
pub fn results_csv(
    rows: &[ResultRow],
    random: &BTreeMap<String, GaitStats>,
    improvements: &[Improvement],
) -> Result<String> {
    let mut csv = String::from(
        "env,algorithm,finished,runs,min_steps,max_steps,iqm,mean,ci_low,ci_high,forward_velocity,episode_length,ran_on\n",
    );
    for r in rows {
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
    for (env, r) in random {
        writeln!(
            csv,
            "{env},random policy,,,{RANDOM_POLICY_STEPS},{RANDOM_POLICY_STEPS},,{},,,{},{},",
            r.mean_return, r.mean_velocity, r.mean_length
        )?;
    }
    for i in improvements {
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
    Ok(csv)
}
