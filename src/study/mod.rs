//! Studies: grids of runs and what they found.
//!
//! - [`sweep`] — a sweep file and its cells (`env__algo__variant__seed` run folders), and
//!   [`sweep::run_cell`], which starts, resumes or skips one cell;
//! - [`pool`] — `sweep --local -j N`: the cells as child processes on this machine;
//! - [`slurm`] — `sweep --slurm`: the cells as one Slurm job array;
//! - [`select`] — `sweep --select`: a tuning sweep's selection rule applied to its runs;
//! - [`stats`] — interquartile means, stratified bootstrap intervals, probability of
//!   improvement (as rliable computes them);
//! - [`report`] — `report DIR...`: curves, tables and comparisons from run folders.

pub mod pool;
pub mod report;
pub mod select;
pub mod slurm;
pub mod stats;
pub mod sweep;
