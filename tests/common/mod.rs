//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses its own subset

use std::time::{Duration, Instant};

/// Torch's generator is process-wide: tests that seed it must not interleave.
pub fn torch_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls `ready` every `every` until it holds or a minute has passed.
pub fn wait_until(every: Duration, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(every);
    }
}

/// Runs the `virel-lab` binary with `args` to completion.
pub fn virel(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_virel-lab"))
        .args(args)
        .output()
        .expect("binary runs")
}

/// A process's standard error as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts `args` fail with every one of `wants` in the error, and without a panic.
pub fn fails_with(args: &[&str], wants: &[&str]) {
    let o = virel(args);
    let e = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{args:?} should fail cleanly: {e}"
    );
    assert!(!e.contains("panicked"), "{args:?} panicked: {e}");
    for want in wants {
        assert!(e.contains(want), "{args:?}: expected '{want}' in: {e}");
    }
}

/// Every file of a folder with its bytes, but the lock file (which holds the pid of the last
/// process that held the folder).
pub fn contents(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file() && e.file_name() != ".virel-lab.lock")
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A sweep file of 4 tiny Pendulum runs (SAC and TD3, seeds 1 and 2), learning from step
/// 100, a checkpoint every 100 steps; `extra` is appended (a `[slurm]` table).
pub fn tiny_sweep(dir: &std::path::Path, steps: u64, extra: &str) -> std::path::PathBuf {
    let file = dir.join("sweep.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "tiny"
out = "runs"
archive = "kept"
steps = {steps}
envs = ["pendulum"]
algos = ["sac", "td3"]
seeds = [1, 2]
[set]
eval_every = 0
eval_episodes = 1
checkpoint_every = 100
device = "cpu"
tensorboard = false
"sac.learning_starts" = 100
"td3.learning_starts" = 100
{extra}
"#
        ),
    )
    .unwrap();
    file
}

/// A trainer for `cfg`, its env resolved here as a boundary resolves it.
pub fn trainer(
    cfg: virel_lab::training::config::TrainConfig,
) -> anyhow::Result<virel_lab::training::Trainer> {
    let env = virel_lab::envs::ResolvedEnv::resolve(&cfg.env)?;
    virel_lab::training::Trainer::new(cfg, &env)
}

/// Trains `cfg` in `out` as `train` does, its env resolved here.
pub fn run(
    cfg: virel_lab::training::config::TrainConfig,
    out: &std::path::Path,
) -> anyhow::Result<virel_lab::training::RunSummary> {
    let env = virel_lab::envs::ResolvedEnv::resolve(&cfg.env)?;
    virel_lab::training::run(cfg, &env, out, virel_lab::training::Feedback::Silent)
}
