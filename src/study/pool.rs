//! `sweep --local -j N`: the cells run as child processes (`virel-lab sweep FILE --cell K`,
//! the command a Slurm array task runs), N at a time on a rayon pool in the sweep's order,
//! each pinned to its own cores of the pool's affinity mask when N ≥ 2 and there are enough
//! (see [`worker_cores`]); finished cells are skipped, partial ones resumed. A signal to the
//! pool reaches every running cell, which checkpoints and stops.

use super::sweep::{CellState, Sweep};
use crate::runtime;
use crate::training::config::DeviceChoice;
use crate::training::interrupt;
use anyhow::{Context, Result};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How the local pool runs.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// Cells at once.
    pub jobs: usize,
    /// Every cell on this device instead of its own.
    pub device: Option<DeviceChoice>,
    /// Torch threads per cell instead of its config's (and cores per worker when pinned).
    pub threads: Option<i32>,
    /// The binary that runs a cell (`virel-lab`).
    pub exe: std::path::PathBuf,
}

/// How the cells of one pool invocation ended.
#[derive(Debug, Default)]
pub struct PoolReport {
    /// Cells that finished in this pool.
    pub finished: Vec<String>,
    /// Cells that were done before.
    pub already_done: Vec<String>,
    /// Cells another process held.
    pub busy: Vec<String>,
    /// Cells that failed, with their errors.
    pub failed: Vec<(String, String)>,
    /// Cells a signal stopped (they resume next time).
    pub interrupted: Vec<String>,
    /// Cells a signal kept from starting.
    pub not_started: Vec<String>,
}

fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// The cores each of `jobs` workers is pinned to, `per_worker` each (a cell's torch threads),
/// from the cores the pool may use (`allowed`, its affinity mask): worker i on the i-th run
/// of `per_worker` cores of `allowed`, so runs side by side neither share nor trade cores.
/// `None` (no pinning) for a pool of one, which then shares the machine as any process does
/// (two `-j 1` pools, or one beside a `--cell`, would otherwise all sit on the first core),
/// and where there are fewer cores than the workers' threads. `taskset -c 2,3 virel-lab
/// sweep … -j 2` keeps a pool to cores 2 and 3.
pub fn worker_cores(jobs: usize, per_worker: usize, allowed: &[usize]) -> Option<Vec<Vec<usize>>> {
    let per_worker = per_worker.max(1);
    (jobs >= 2 && jobs * per_worker <= allowed.len()).then(|| {
        allowed
            .chunks(per_worker)
            .take(jobs)
            .map(<[usize]>::to_vec)
            .collect()
    })
}

/// The last non-empty line of a cell's log: what a failure said.
fn last_line(log: &Path) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(empty log)")
        .to_owned()
}

/// Waits for a cell's process, passing a signal the pool received on to it once.
fn wait_forwarding_signals(child: &mut Child) -> std::io::Result<std::process::ExitStatus> {
    let mut forwarded = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if interrupt::requested() && !forwarded {
            // SAFETY: kill(2) on the pid of a child this process has not yet reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            forwarded = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs every unfinished cell of `sweep`, `opts.jobs` at a time.
pub fn run_pool(sweep: &Sweep, opts: &PoolOptions) -> Result<PoolReport> {
    let (todo, report) = triage(sweep)?;
    let total = todo.len();
    println!(
        "{} sweep {}: {} cells, {} done, {} to run, {} at a time → {}",
        clock(),
        sweep.name,
        sweep.cells.len(),
        report.already_done.len(),
        total,
        opts.jobs,
        sweep.out.display()
    );
    let report = Mutex::new(report);
    let logs = sweep.log_dir();
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let threads = opts.threads.unwrap_or_else(|| {
        let each = sweep.cells.iter().map(|c| c.config.torch_threads);
        each.max().unwrap_or(1)
    });
    let per_worker = threads.max(1) as usize;
    let cores = worker_cores(opts.jobs, per_worker, &runtime::allowed_cores());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .thread_name(|i| format!("sweep-worker-{i}"))
        .build()
        .context("cannot start the pool's threads")?;
    let started = Mutex::new(0usize);
    pool.scope_fifo(|s| {
        for (index, state) in todo {
            let task = CellTask {
                sweep,
                opts,
                index,
                state,
                total,
                logs: &logs,
                cores: cores.as_deref(),
            };
            let (report, started) = (&report, &started);
            s.spawn_fifo(move |_| task.run(report, started));
        }
    });
    Ok(report.into_inner().unwrap())
}

/// The cells to run, and the report of those that will not run (done, held elsewhere, or
/// holding another run).
fn triage(sweep: &Sweep) -> Result<(Vec<(usize, CellState)>, PoolReport)> {
    let mut report = PoolReport::default();
    let mut todo = Vec::new();
    for (cell, state) in sweep.cells.iter().zip(sweep.states()?) {
        match state {
            s if s.is_runnable() => todo.push((cell.index, s)),
            CellState::Done { .. } | CellState::Archived { .. } => {
                report.already_done.push(cell.name())
            }
            CellState::Busy { pid } => {
                println!("{} skip  {} (process {pid} runs it)", clock(), cell.name());
                report.busy.push(cell.name());
            }
            s => {
                println!("{} FAILED {} {s}", clock(), cell.name());
                report.failed.push((cell.name(), s.to_string()));
            }
        }
    }
    Ok((todo, report))
}

/// One cell as a pool worker runs it.
struct CellTask<'a> {
    sweep: &'a Sweep,
    opts: &'a PoolOptions,
    index: usize,
    state: CellState,
    total: usize,
    logs: &'a Path,
    cores: Option<&'a [Vec<usize>]>,
}

impl CellTask<'_> {
    /// Runs the cell's process (unless a signal came first) and records how it ended.
    fn run(self, report: &Mutex<PoolReport>, started: &Mutex<usize>) {
        let cell = &self.sweep.cells[self.index];
        let name = cell.name();
        if interrupt::requested() {
            report.lock().unwrap().not_started.push(name);
            return;
        }
        let n = {
            let mut k = started.lock().unwrap();
            *k += 1;
            *k
        };
        println!(
            "{} start {n}/{} {name} ({})",
            clock(),
            self.total,
            self.state
        );
        let log = self.logs.join(format!("{name}.log"));
        let outcome = run_child(self.sweep, self.index, self.opts, &log, self.cores);
        let mut r = report.lock().unwrap();
        match outcome {
            Ok((status, took)) if status.success() => {
                let result = self
                    .sweep
                    .state(cell)
                    .map_or_else(|e| format!("{e:#}"), |s| s.to_string());
                println!(
                    "{} done  {name}: {result} in {:.1} min",
                    clock(),
                    took.as_secs_f64() / 60.0
                );
                r.finished.push(name);
            }
            // Another pool took the cell between this pool's look and its start: the
            // folder's lock turned this one away.
            Ok((status, _)) if status.code() == Some(i32::from(super::sweep::BUSY_EXIT)) => {
                println!("{} skip  {name} (another process runs it)", clock());
                r.busy.push(name);
            }
            Ok((status, _)) if interrupt::requested() => {
                println!(
                    "{} stopped {name} ({status}): it resumes next time",
                    clock()
                );
                r.interrupted.push(name);
            }
            Ok((status, _)) => {
                let why = last_line(&log);
                println!(
                    "{} FAILED {name} ({status}): {why} (log: {})",
                    clock(),
                    log.display()
                );
                r.failed.push((name, why));
            }
            Err(e) => {
                println!("{} FAILED {name}: {e:#}", clock());
                r.failed.push((name, format!("{e:#}")));
            }
        }
    }
}

fn run_child(
    sweep: &Sweep,
    index: usize,
    opts: &PoolOptions,
    log: &Path,
    cores: Option<&[Vec<usize>]>,
) -> Result<(std::process::ExitStatus, Duration)> {
    let out = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let mut cmd = Command::new(&opts.exe);
    cmd.arg("sweep")
        .args(super::sweep::sweep_args(sweep))
        .args(["--cell", &index.to_string(), "--quiet"])
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    if let Some(d) = opts.device {
        cmd.args(["--device", &d.to_string()]);
    }
    if let Some(t) = opts.threads {
        cmd.args(["--threads", &t.to_string()]);
    }
    if let Some(cores) = cores
        && let Some(mine) = rayon::current_thread_index().and_then(|i| cores.get(i))
    {
        runtime::pin_to_cores(&mut cmd, mine);
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", opts.exe.display()))?;
    let status = wait_forwarding_signals(&mut child)?;
    Ok((status, start.elapsed()))
}
