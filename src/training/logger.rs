//! Metrics with stable names, written to `metrics.csv` (long format: step, wall time, metric,
//! value) and, optionally, to TensorBoard event files in the same folder.
//!
//! Names (CleanRL's where they exist): `charts/episodic_return`, `charts/episodic_length`,
//! `charts/SPS`, `eval/episodic_return`, `eval/episodic_return_std`, `losses/qf_loss`,
//! `losses/qf_values`, `losses/actor_loss`, `losses/entropy`, `losses/alpha`,
//! `losses/alpha_loss`, `virel/epsilon`, `virel/temperature`.

use super::tensorboard::EventWriter;
use crate::training::checkpoint;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// Names of the metrics the training loop writes (the agents' own are in
/// [`crate::rl::metric_names`]).
pub mod names {
    /// A training episode's return.
    pub const EPISODIC_RETURN: &str = "charts/episodic_return";
    /// A training episode's length.
    pub const EPISODIC_LENGTH: &str = "charts/episodic_length";
    /// Env steps per second since the last log.
    pub const SPS: &str = "charts/SPS";
    /// Mean return of a deterministic evaluation.
    pub const EVAL_RETURN: &str = "eval/episodic_return";
    /// Standard deviation of its returns.
    pub const EVAL_RETURN_STD: &str = "eval/episodic_return_std";
}

/// The metrics log of a run folder.
pub const METRICS_FILE: &str = "metrics.csv";

/// A run folder's metric log: CSV, and TensorBoard when asked.
pub struct MetricLogger {
    csv: BufWriter<File>,
    tensorboard: Option<EventWriter>,
    start: Instant,
}

impl MetricLogger {
    /// Creates `dir/metrics.csv` (appending when it exists) and, with `tensorboard`, an event file.
    pub fn create(dir: &Path, tensorboard: bool) -> Result<Self> {
        let path = dir.join(METRICS_FILE);
        let fresh = !path.exists();
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut csv = BufWriter::new(file);
        if fresh {
            writeln!(csv, "step,wall_time,metric,value")?;
        }
        Ok(Self {
            csv,
            tensorboard: tensorboard.then(|| EventWriter::create(dir)).transpose()?,
            start: Instant::now(),
        })
    }

    /// Logs one value at `step`.
    pub fn log(&mut self, step: u64, name: &str, value: f64) -> Result<()> {
        writeln!(
            self.csv,
            "{step},{:.3},{name},{value}",
            self.start.elapsed().as_secs_f64()
        )?;
        if let Some(tb) = &mut self.tensorboard {
            tb.add_scalar(name, value as f32, step)?;
        }
        Ok(())
    }

    /// Logs several values at `step`.
    pub fn log_all(&mut self, step: u64, metrics: &[(&str, f64)]) -> Result<()> {
        metrics.iter().try_for_each(|(n, v)| self.log(step, n, *v))
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) -> Result<()> {
        self.csv.flush()?;
        if let Some(tb) = &mut self.tensorboard {
            tb.flush()?;
        }
        Ok(())
    }
}

/// Reads `metrics.csv` back as (step, metric, value) rows.
pub fn read_metrics(dir: &Path) -> Result<Vec<(u64, String, f64)>> {
    let path = dir.join(METRICS_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            let parse = || -> Option<(u64, String, f64)> {
                Some((
                    f.first()?.parse().ok()?,
                    f.get(2)?.to_string(),
                    f.get(3)?.parse().ok()?,
                ))
            };
            parse().with_context(|| format!("{}:{}: malformed row '{line}'", path.display(), i + 2))
        })
        .collect()
}

/// Drops the rows of `dir/metrics.csv` logged after env step `step` (a killed process may
/// have logged past its last checkpoint); the file is rewritten atomically.
pub fn truncate_after(dir: &Path, step: u64) -> Result<()> {
    let path = dir.join(METRICS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let mut kept = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        let row_step = line.split(',').next().and_then(|s| s.parse::<u64>().ok());
        // Keep the header, and rows up to `step`; a torn last line has no value field.
        if i == 0 || (row_step.is_some_and(|s| s <= step) && line.split(',').count() == 4) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    checkpoint::write_atomically(&path, kept.as_bytes())
}
