//! `bench updates`: gradient steps per second of the tch agents next to the same update in
//! Python PyTorch, timed in the same run, as a ratio.

use super::peers::*;
use super::*;
use crate::rl::registry::{BASELINE, SUBJECT};
use crate::runtime;
use crate::training;

const BENCH_OBS: usize = 17;
const BENCH_ACT: usize = 6;

/// Updates/s of `algo` on a buffer of random transitions, minibatches of `batch`, VIREL's ε_ω
/// by `estimator`, the multiplies between hidden layers in `matmul`'s precision.
pub fn tch_updates_per_second(
    algo: Algo,
    seconds: f64,
    device: Device,
    batch: i64,
    estimator: EpsilonEstimator,
    matmul: HiddenMatmul,
) -> Result<f64> {
    training::seed_torch(0);
    let spec = AgentSpec {
        env: "bench".into(),
        obs_dim: BENCH_OBS,
        act_dim: BENCH_ACT,
        act_low: vec![-1.0; BENCH_ACT],
        act_high: vec![1.0; BENCH_ACT],
    };
    let mut cfg = TrainConfig::default();
    cfg.agents.sac.batch_size = batch;
    cfg.agents.virel.batch_size = batch;
    cfg.agents.td3.batch_size = batch;
    cfg.agents.virel.epsilon_estimator = estimator;
    cfg.agents.hidden_matmul = matmul;
    let mut agent = cfg.agents.build(algo, &spec, device)?;
    let n = 100_000;
    let mut buffer = ReplayBuffer::new(n, BENCH_OBS, BENCH_ACT, device)?;
    let rnd = |cols: usize| {
        training::tensor_to_vec(&Tensor::randn(
            [n as i64, cols as i64],
            (Kind::Float, Device::Cpu),
        ))
    };
    buffer.push(
        &rnd(BENCH_OBS),
        &rnd(BENCH_ACT)
            .iter()
            .map(|a| a.clamp(-1.0, 1.0))
            .collect::<Vec<_>>(),
        &rnd(1),
        &rnd(BENCH_OBS),
        &vec![false; n],
    );
    for _ in 0..50 {
        agent.update(&buffer);
    }
    let (start, mut count) = (Instant::now(), 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        agent.update(&buffer);
        count += 1;
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

fn python_updates_per_second(
    python: &Path,
    algo: Algo,
    seconds: f64,
    threads: i32,
    device: Device,
    batch: i64,
) -> Result<f64> {
    let out = Command::new(python)
        .arg(script_path("bench_update.py"))
        .args(["--algo", algo.name()])
        .args([
            "--seconds",
            &seconds.to_string(),
            "--threads",
            &threads.to_string(),
        ])
        .args([
            "--obs",
            &BENCH_OBS.to_string(),
            "--act",
            &BENCH_ACT.to_string(),
        ])
        .args(["--device", if device.is_cuda() { "cuda" } else { "cpu" }])
        .args(["--batch", &batch.to_string()])
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("updates_per_second ")?.trim().parse().ok())
        .with_context(|| {
            format!(
                "the Python benchmark failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

pub(super) fn bench_updates(
    seconds: f64,
    threads: i32,
    device: DeviceChoice,
    python: Option<PathBuf>,
    no_python: bool,
    batches: &[i64],
    matmul: HiddenMatmul,
) -> Result<()> {
    runtime::init_torch(threads);
    let device = device.resolve()?;
    let python = python.unwrap_or_else(default_python);
    println!(
        "gradient updates/s — 2×256 MLPs, obs {BENCH_OBS}, act {BENCH_ACT}, {threads} torch thread(s), device {device:?}, hidden multiplies in {} (PyTorch's in float32)",
        matmul.name()
    );
    println!(
        "{:<30} {:>6} {:>10} {:>14} {:>8}",
        "algorithm", "batch", "tch", "PyTorch 2.11", "ratio"
    );
    // PyTorch's VIREL is the authors' (a 4096-transition ε_ω pass each step): compared with
    // ours on the same estimator; our default, the running one, is timed against our SAC.
    let rows = [
        (BASELINE, EpsilonEstimator::Running, "sac", true),
        (
            SUBJECT,
            EpsilonEstimator::Batch,
            "virel (authors' ε_ω pass)",
            true,
        ),
        (
            SUBJECT,
            EpsilonEstimator::Running,
            "virel (running ε_ω) vs our sac",
            false,
        ),
    ];
    for &batch in batches {
        let mut sac = f64::NAN;
        for (algo, estimator, label, with_python) in rows {
            let rust = tch_updates_per_second(algo, seconds, device, batch, estimator, matmul)?;
            if algo == BASELINE {
                sac = rust;
            }
            if !with_python {
                println!(
                    "{label:<30} {batch:>6} {rust:>10.1} {:>14} {:>7.2}×",
                    "",
                    rust / sac
                );
                continue;
            }
            if no_python {
                println!("{label:<30} {batch:>6} {rust:>10.1}");
                continue;
            }
            let py = python_updates_per_second(&python, algo, seconds, threads, device, batch)?;
            println!(
                "{label:<30} {batch:>6} {rust:>10.1} {py:>14.1} {:>7.2}×",
                rust / py
            );
        }
    }
    Ok(())
}
