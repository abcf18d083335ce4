//! `sweep --slurm`: one `sbatch` job array whose task K runs cell K
//! (`virel-lab sweep FILE --cell K`, the command the local pool's workers run). Only
//! unfinished cells are in the array, under their own indices. `--requeue`: a preempted or
//! requeued task gets SIGTERM, checkpoints, and resumes from that checkpoint when it runs again.

use super::sweep::Sweep;
use crate::training::checkpoint;
use anyhow::{Context, Result, bail};
use std::path::Path;

/// `0-3,5,7-9`: the indices as Slurm's `--array` takes them (sorted, runs as ranges).
pub fn array_spec(indices: &[usize]) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            sorted[i].to_string()
        } else {
            format!("{}-{}", sorted[i], sorted[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// A shell word, single-quoted.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The job-array script for `cells` (indices into the sweep), run by `exe`.
pub fn script(sweep: &Sweep, cells: &[usize], exe: &Path) -> String {
    let s = &sweep.slurm;
    let mut lines = vec![
        "#!/bin/bash".to_owned(),
        format!("#SBATCH --job-name={}", sweep.name),
        format!(
            "#SBATCH --array={}{}",
            array_spec(cells),
            s.max_parallel.map_or(String::new(), |m| format!("%{m}"))
        ),
        "#SBATCH --ntasks=1".to_owned(),
        format!("#SBATCH --cpus-per-task={}", s.cpus_per_task),
        format!("#SBATCH --time={}", s.time),
        "#SBATCH --requeue".to_owned(),
        "#SBATCH --open-mode=append".to_owned(),
        format!(
            "#SBATCH --output={}",
            sweep.log_dir().join("slurm-%A_%a.log").display()
        ),
    ];
    if s.gpus > 0 {
        lines.push(format!("#SBATCH --gres=gpu:{}", s.gpus));
    }
    for (key, value) in [
        ("partition", &s.partition),
        ("account", &s.account),
        ("mem", &s.mem),
    ] {
        if let Some(v) = value {
            lines.push(format!("#SBATCH --{key}={v}"));
        }
    }
    lines.push(String::new());
    lines.push(format!(
        "# {} cells of {}; array index = cell:",
        cells.len(),
        sweep.file.display()
    ));
    for &k in cells {
        lines.push(format!("#   {k:>4}  {}", sweep.cells[k].name()));
    }
    lines.push(String::new());
    lines.push(format!("export OMP_NUM_THREADS={}", s.cpus_per_task));
    let device = if s.gpus > 0 { " --device cuda" } else { "" };
    let args: Vec<String> = super::sweep::sweep_args(sweep)
        .iter()
        .map(|a| quote(a))
        .collect();
    lines.push(format!(
        "exec {} sweep {} --cell \"$SLURM_ARRAY_TASK_ID\" --threads {} --quiet{device}",
        quote(&exe.display().to_string()),
        args.join(" "),
        s.cpus_per_task.max(1)
    ));
    lines.join("\n") + "\n"
}

/// The cells an array submitted now would hold: every one not finished, not running, and
/// not a folder of another run (which `--status` lists, and which must be moved away first).
pub fn pending_cells(sweep: &Sweep) -> Result<Vec<usize>> {
    Ok(sweep
        .states()?
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_runnable())
        .map(|(k, _)| k)
        .collect())
}

/// Writes the script to `OUT/sweep.sbatch` and submits it; returns the job id.
pub fn submit(sweep: &Sweep, cells: &[usize], exe: &Path) -> Result<String> {
    if cells.is_empty() {
        bail!(
            "every cell of {} is finished or running: nothing to submit",
            sweep.file.display()
        );
    }
    std::fs::create_dir_all(sweep.log_dir())
        .with_context(|| format!("cannot create {}", sweep.log_dir().display()))?;
    let path = sweep.out.join("sweep.sbatch");
    checkpoint::write_atomically(&path, script(sweep, cells, exe).as_bytes())?;
    let out = std::process::Command::new("sbatch")
        .arg("--parsable")
        .arg(&path)
        .output()
        .context("cannot run sbatch (is Slurm installed and on PATH?)")?;
    if !out.status.success() {
        bail!(
            "sbatch {} failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // `--parsable` prints `id` or `id;cluster`.
    Ok(id.split(';').next().unwrap_or_default().to_owned())
}
