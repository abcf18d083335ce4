//! Aggregates of few runs, as rliable (Agarwal et al., "Deep RL at the Edge of the Statistical
//! Precipice", NeurIPS 2021) computes them: the interquartile mean (IQM), 95% percentile
//! bootstrap confidence intervals stratified by task (runs are resampled within each task),
//! and the probability of improvement of one algorithm over another.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bootstrap resamples behind every interval of a report.
pub const BOOTSTRAP_REPS: usize = 2_000;
/// Seed of the bootstrap's generator: a report is the same every time it is drawn.
pub const BOOTSTRAP_SEED: u64 = 0x0b00_7575;

/// The arithmetic mean (NaN for no values).
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

/// The mean of the middle 50%: `scipy.stats.trim_mean(x, 0.25)`, which cuts ⌊n/4⌋ values
/// from each end (so with fewer than 4 runs it is the mean).
pub fn iqm(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    let cut = s.len() / 4;
    mean(&s[cut..s.len() - cut])
}

/// The q-th percentile (0–100) of sorted values, interpolated linearly as numpy's default.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// A 95% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

impl Interval {
    /// lo ≤ x ≤ hi.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// 95% percentile interval of `stat` over `reps` stratified bootstrap resamples: each
/// resample draws, within every task, as many runs as the task has, with replacement.
pub fn stratified_bootstrap<F>(tasks: &[Vec<f64>], stat: F, reps: usize, seed: u64) -> Interval
where
    F: Fn(&[Vec<f64>]) -> f64,
{
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values: Vec<f64> = (0..reps)
        .map(|_| {
            let resample: Vec<Vec<f64>> = tasks
                .iter()
                .map(|runs| {
                    (0..runs.len())
                        .map(|_| runs[rng.random_range(0..runs.len())])
                        .collect()
                })
                .collect();
            stat(&resample)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    Interval {
        lo: percentile(&values, 2.5),
        hi: percentile(&values, 97.5),
    }
}

/// IQM of one task's runs and its 95% bootstrap interval.
pub fn iqm_with_interval(runs: &[f64]) -> (f64, Interval) {
    let ci = stratified_bootstrap(
        &[runs.to_vec()],
        |t| iqm(&t[0]),
        BOOTSTRAP_REPS,
        BOOTSTRAP_SEED,
    );
    (iqm(runs), ci)
}

/// P(X > Y) on one task: the Mann–Whitney statistic over every pair of runs, ties counting ½.
pub fn pairwise_improvement(x: &[f64], y: &[f64]) -> f64 {
    let pairs: f64 = x
        .iter()
        .flat_map(|a| {
            y.iter().map(move |b| match a.total_cmp(b) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            })
        })
        .sum();
    pairs / (x.len() * y.len()).max(1) as f64
}

/// rliable's probability of improvement of X over Y: the mean over tasks of
/// [`pairwise_improvement`]. `x[m]` and `y[m]` are the runs of task m.
pub fn probability_of_improvement(x: &[Vec<f64>], y: &[Vec<f64>]) -> f64 {
    let per_task: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(a, b)| pairwise_improvement(a, b))
        .collect();
    mean(&per_task)
}

/// [`probability_of_improvement`] and its 95% interval, X's and Y's runs resampled
/// independently within each task.
pub fn probability_of_improvement_with_interval(x: &[Vec<f64>], y: &[Vec<f64>]) -> (f64, Interval) {
    let m = x.len();
    let tasks: Vec<Vec<f64>> = x.iter().chain(y).cloned().collect();
    let ci = stratified_bootstrap(
        &tasks,
        |t| probability_of_improvement(&t[..m], &t[m..]),
        BOOTSTRAP_REPS,
        BOOTSTRAP_SEED,
    );
    (probability_of_improvement(x, y), ci)
}
