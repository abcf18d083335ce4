//! Every setting of every arm, generated from the run folders' configs (never typed): one row
//! per key, one column per label, the keys of an algorithm's own table (`sac.q_lr`,
//! `virel.q_lr`) on one row (`q_lr`) so that arms of different algorithms line up. A row
//! where two arms that both have the key differ is marked. Beside it, each algorithm's
//! sensitivity: the final return against each knob its arms differ in.

use super::load::RunRecord;
use crate::rl::Algo;
use crate::training::config::{TrainConfig, flat};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Keys that say which run a folder is, not how it learns.
const IDENTITY_KEYS: [&str; 3] = ["algo", "env", "seed"];

/// A label's settings: key (its algorithm table's prefix dropped) → each distinct value.
type Settings = BTreeMap<String, BTreeSet<String>>;

/// The row name of a dotted key: without the table of `algo`, which holds its own knobs.
fn row_key(key: &str, algo: Algo) -> Option<String> {
    match key.split_once('.') {
        Some((table, rest)) if table == algo.config_table() => Some(rest.to_owned()),
        Some((table, _)) if Algo::ALL.iter().any(|a| a.config_table() == table) => None,
        _ if IDENTITY_KEYS.contains(&key) => None,
        _ => Some(key.to_owned()),
    }
}

/// The settings of a config, as rows.
fn settings_of(cfg: &TrainConfig) -> Vec<(String, String)> {
    flat(cfg)
        .into_iter()
        .filter_map(|(k, v)| Some((row_key(&k, cfg.algo)?, v.to_string())))
        .collect()
}

/// Every label's settings, over its runs' configs.
fn label_settings(labels: &BTreeMap<String, Vec<&RunRecord>>) -> BTreeMap<String, Settings> {
    let mut out: BTreeMap<String, Settings> = BTreeMap::new();
    for (label, runs) in labels {
        let s = out.entry(label.clone()).or_default();
        for cfg in runs.iter().filter_map(|r| r.config.as_ref()) {
            for (k, v) in settings_of(cfg) {
                s.entry(k).or_default().insert(v);
            }
        }
    }
    out
}

/// One cell: a value, or every value its runs had.
fn cell(values: Option<&BTreeSet<String>>) -> String {
    values.map_or("–".to_owned(), |v| {
        v.iter().cloned().collect::<Vec<_>>().join(" / ")
    })
}

/// The settings table (Markdown) of runs grouped by label, across envs.
pub fn settings_table(labels: &BTreeMap<String, Vec<&RunRecord>>) -> String {
    let settings = label_settings(labels);
    let keys: BTreeSet<&String> = settings.values().flat_map(|s| s.keys()).collect();
    let mut md = String::from(
        "Every setting of every arm, from the runs' `config.toml` (an algorithm's own table \
         without its prefix: `q_lr` is `sac.q_lr` for SAC and `virel.q_lr` for VIREL). \
         **Bold** keys differ between arms that both have them; `a / b`: the arm's runs differ \
         (a tuning grid, or presets per env).\n\n| key |",
    );
    for label in settings.keys() {
        write!(md, " {label} |").expect("a String");
    }
    md.push_str("\n|---|");
    md.push_str(&"---|".repeat(settings.len()));
    md.push('\n');
    for key in keys {
        let cells: Vec<Option<&BTreeSet<String>>> = settings.values().map(|s| s.get(key)).collect();
        let present: BTreeSet<&BTreeSet<String>> = cells.iter().flatten().copied().collect();
        let shown = if present.len() > 1 {
            format!("**{key}**")
        } else {
            key.clone()
        };
        write!(md, "| {shown} |").expect("a String");
        for c in cells {
            write!(md, " {} |", cell(c)).expect("a String");
        }
        md.push('\n');
    }
    md
}

/// Each algorithm's sensitivity (Markdown): for every key whose value differs between its
/// runs (the knobs a tuning grid moves), the mean final return of the runs at each value, per
/// env. Empty where no algorithm's runs differ.
pub fn sensitivity_table(runs: &[RunRecord]) -> String {
    let envs: BTreeSet<&str> = runs.iter().map(|r| r.env.as_str()).collect();
    let mut md = String::new();
    for algo in Algo::ALL {
        let own: Vec<(&RunRecord, BTreeMap<String, String>)> = runs
            .iter()
            .filter(|r| r.algo == algo && r.final_eval().is_some())
            .filter_map(|r| Some((r, settings_of(r.config.as_ref()?).into_iter().collect())))
            .collect();
        let knobs = knobs(own.iter().map(|(r, s)| (r.env.as_str(), s)));
        if knobs.is_empty() {
            continue;
        }
        writeln!(
            md,
            "\n{}: mean final return by knob value (runs)\n",
            algo.display_name()
        )
        .expect("a String");
        write!(md, "| knob | value |").expect("a String");
        for env in &envs {
            write!(md, " {env} |").expect("a String");
        }
        writeln!(md, "\n|---|---|{}", "---:|".repeat(envs.len())).expect("a String");
        for knob in knobs {
            let values: BTreeSet<&String> = own.iter().filter_map(|(_, s)| s.get(&knob)).collect();
            for v in values {
                write!(md, "| {knob} | {v} |").expect("a String");
                for env in &envs {
                    let r: Vec<f64> = own
                        .iter()
                        .filter(|(r, s)| r.env == *env && s.get(&knob) == Some(v))
                        .filter_map(|(r, _)| r.final_eval().map(|e| e.mean))
                        .collect();
                    match r.len() {
                        0 => write!(md, " |"),
                        n => write!(md, " {:.0} ({n}) |", crate::study::stats::mean(&r)),
                    }
                    .expect("a String");
                }
                md.push('\n');
            }
        }
    }
    md
}

/// The keys whose value differs between runs of one env (presets that differ between envs
/// are not knobs).
fn knobs<'a>(
    runs: impl Iterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
) -> BTreeSet<String> {
    let mut seen: BTreeMap<(&str, &String), BTreeSet<&String>> = BTreeMap::new();
    for (env, s) in runs {
        for (k, v) in s {
            seen.entry((env, k)).or_default().insert(v);
        }
    }
    seen.into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|((_, k), _)| k.clone())
        .collect()
}
