//! `bench learning`: every algorithm on Pendulum, several seeds, in parallel child processes;
//! the median final deterministic evaluation return.

use super::*;

pub(super) fn bench_learning(
    seeds: u64,
    steps: u64,
    jobs: usize,
    algos: &[Algo],
    out: &Path,
    set: &[String],
) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut queue: Vec<(Algo, u64, PathBuf)> = Vec::new();
    for &algo in algos {
        for seed in 1..=seeds {
            queue.push((algo, seed, out.join(format!("{algo}__seed{seed}"))));
        }
    }
    for (_, _, dir) in &queue {
        if dir.exists() {
            bail!("{} already holds a run: pass another --out", dir.display());
        }
    }
    let start = Instant::now();
    let mut running: Vec<(std::process::Child, String)> = Vec::new();
    let mut pending = queue.clone().into_iter();
    loop {
        while running.len() < jobs.max(1) {
            let Some((algo, seed, dir)) = pending.next() else {
                break;
            };
            let child = Command::new(&exe)
                .args([
                    "train",
                    "--env",
                    "pendulum",
                    "--algo",
                    algo.name(),
                    "--seed",
                    &seed.to_string(),
                    "--steps",
                    &steps.to_string(),
                ])
                .args([
                    "--threads",
                    "1",
                    "--eval-every",
                    "0",
                    "--checkpoint-every",
                    "0",
                    "--quiet",
                    "--device",
                    "cpu",
                    "--out",
                ])
                .arg(&dir)
                .args(set.iter().flat_map(|s| ["--set", s.as_str()]))
                .stdout(std::process::Stdio::null())
                .spawn()?;
            running.push((child, format!("{algo} seed {seed}")));
        }
        if running.is_empty() {
            break;
        }
        let (mut child, name) = running.remove(0);
        let status = child.wait()?;
        if !status.success() {
            bail!("{name} failed ({status})");
        }
        eprintln!(
            "done: {name} ({:.0} s elapsed)",
            start.elapsed().as_secs_f64()
        );
    }
    println!(
        "Pendulum, {steps} env steps, {seeds} seeds: final deterministic eval return (10 episodes)"
    );
    println!(
        "{:<12} {:>9} {:>24} {:>10}",
        "algorithm", "median", "per seed", "steps/s"
    );
    for &algo in algos {
        let mut finals = Vec::new();
        let mut sps = Vec::new();
        for (a, _, dir) in &queue {
            if *a != algo {
                continue;
            }
            let text = std::fs::read_to_string(dir.join("summary.toml"))?;
            let s: RunSummary = toml::from_str(&text)?;
            finals.push(s.final_eval.map_or(f64::NAN, |e| e.mean));
            sps.push(s.steps_per_second);
        }
        let per_seed = finals
            .iter()
            .map(|f| format!("{f:.0}"))
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "{:<12} {:>9.1} {:>24} {:>10.0}",
            algo.name(),
            median(&finals),
            per_seed,
            median(&sps)
        );
    }
    Ok(())
}
