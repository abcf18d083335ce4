//! Long runs that survive: exact resumes, `kill -9` at any moment, and resume's bad input.

mod common;
use common::torch_lock;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use virel_lab::rl::Algo;
use virel_lab::rl::virel::EpsilonEstimator;
use virel_lab::training::checkpoint;
use virel_lab::training::config::{DeviceChoice, TrainConfig};
use virel_lab::training::{Trainer, obs_tensor, tensor_to_vec};

fn small(algo: Algo) -> TrainConfig {
    let mut cfg = TrainConfig::for_env("pendulum");
    cfg.algo = algo;
    cfg.device = DeviceChoice::Cpu;
    cfg.seed = 5;
    cfg.agents.set_learning_starts(100);
    cfg.agents.set_hidden(&[32, 32]);
    cfg.agents.virel.epsilon_batch_size = 128;
    cfg
}

/// Steps `t` to `until`, returning every loss it logged.
fn advance(t: &mut Trainer, until: u64) -> Vec<f64> {
    let mut losses = Vec::new();
    while t.counters.env_steps < until {
        losses.extend(t.step().unwrap().update.into_iter().flatten().map(|m| m.1));
    }
    losses
}

/// Runs `cfg` uninterrupted to `until` (checkpointing at `at`), and again stopped at `at`
/// and resumed from its checkpoint in a fresh trainer: both must log the same losses and end
/// with the same policy.
fn assert_resume_is_exact(cfg: &TrainConfig, at: u64, until: u64, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut a = common::trainer(cfg.clone()).unwrap();
    advance(&mut a, at);
    a.save(&dir.path().join("a.ckpt")).unwrap();
    let a_losses = advance(&mut a, until);

    let mut b = common::trainer(cfg.clone()).unwrap();
    advance(&mut b, at);
    b.save(&dir.path().join("b.ckpt")).unwrap();
    drop(b);
    let mut c = common::trainer(cfg.clone()).unwrap();
    c.restore(&checkpoint::load(&dir.path().join("b.ckpt")).unwrap())
        .unwrap();
    assert_eq!(c.counters.env_steps, at);
    let c_losses = advance(&mut c, until);

    assert!(!a_losses.is_empty());
    assert_eq!(
        a_losses, c_losses,
        "{what}: the resumed run logs the same losses"
    );
    let probe: Vec<f32> = (0..10 * a.spec.obs_dim)
        .map(|i| (i as f32 * 0.41).cos())
        .collect();
    let act = |t: &Trainer| {
        tensor_to_vec(
            &t.agent
                .act(&obs_tensor(&probe, t.spec.obs_dim, tch::Device::Cpu), false),
        )
    };
    assert_eq!(act(&a), act(&c), "{what}: and ends with the same policy");
    assert_eq!(a.counters, c.counters);
}

#[test]
fn a_resumed_run_continues_the_same_learning_curve() {
    let _torch = torch_lock();
    for algo in Algo::ALL {
        assert_resume_is_exact(&small(algo), 250, 450, algo.name());
    }
    // VIREL's default ε_ω is the running one, whose average the checkpoint carries; the
    // authors' pass keeps only its last value.
    let mut batch = small(Algo::Virel);
    batch.agents.virel.epsilon_estimator = EpsilonEstimator::Batch;
    assert_resume_is_exact(&batch, 250, 450, "virel with the batch ε_ω");
}

#[test]
fn a_resumed_locomotion_run_continues_exactly_mid_episode() {
    let _torch = torch_lock();
    let mut cfg = small(Algo::Sac);
    cfg.env = "hopper".into();
    cfg.agents.sac.hidden = vec![16, 16];
    // 170 is mid-episode: the physics state (poses, velocities, contacts) travels in the file.
    assert_resume_is_exact(&cfg, 170, 260, "hopper");
}

#[test]
fn without_the_saved_buffer_a_resumed_run_refills_it_then_learns() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(Algo::Sac);
    cfg.checkpoint_buffer = false;
    let mut a = common::trainer(cfg.clone()).unwrap();
    advance(&mut a, 300);
    let path = dir.path().join("nobuf.ckpt");
    a.save(&path).unwrap();
    let small_file = std::fs::metadata(&path).unwrap().len();

    let mut b = common::trainer(cfg.clone()).unwrap();
    b.restore(&checkpoint::load(&path).unwrap()).unwrap();
    assert_eq!((b.counters, b.buffer.len()), (a.counters, 0));
    let mut first_update = None;
    while b.counters.env_steps < 500 {
        if b.step().unwrap().update.is_some() && first_update.is_none() {
            first_update = Some(b.counters.env_steps);
        }
    }
    assert_eq!(
        first_update,
        Some(400),
        "learning_starts (100) fresh transitions first"
    );

    cfg.checkpoint_buffer = true;
    let mut c = common::trainer(cfg).unwrap();
    advance(&mut c, 300);
    c.save(&path).unwrap();
    let full_file = std::fs::metadata(&path).unwrap().len();
    // 300 transitions × (3 + 1 + 1 + 3 + 1) floats, and nothing for the unfilled capacity.
    assert!(
        full_file > small_file + 300 * 9 * 4 && full_file < small_file + 300 * 9 * 4 + 4096,
        "{small_file} → {full_file}"
    );
}

fn virel_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_virel-lab"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn latest_steps(dir: &Path) -> Option<u64> {
    let latest: PathBuf = checkpoint::list(dir).ok()?.into_iter().next()?;
    latest
        .file_name()?
        .to_str()?
        .strip_prefix("checkpoint-")?
        .strip_suffix(".ckpt")?
        .parse()
        .ok()
}

#[test]
fn kill_9_at_random_moments_always_leaves_a_run_that_resumes() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let dir = tempfile::tempdir().unwrap();
    for trial in 0..10 {
        let run = dir.path().join(format!("run{trial}"));
        let mut child = virel_bin()
            .args([
                "train", "--env", "pendulum", "--algo", "sac", "--steps", "1000000", "--device",
                "cpu", "--quiet",
            ])
            .args([
                "--checkpoint-every",
                "25",
                "--eval-every",
                "0",
                "--out",
                run.to_str().unwrap(),
            ])
            .args([
                "--set",
                "sac.learning_starts=50",
                "--set",
                "sac.hidden=[16]",
                "--set",
                "keep_checkpoints=2",
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        common::wait_until(std::time::Duration::from_millis(20), || {
            latest_steps(&run).is_some()
        });
        std::thread::sleep(std::time::Duration::from_millis(rng.random_range(0..700)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let at = latest_steps(&run).expect("a checkpoint survives");
        let target = (at + 30).to_string();
        let o = virel_bin()
            .args([
                "train",
                "--resume",
                run.to_str().unwrap(),
                "--steps",
                &target,
                "--quiet",
            ])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "trial {trial} (killed after checkpoint {at}): {}",
            stderr(&o)
        );
        let summary: toml::Table =
            toml::from_str(&std::fs::read_to_string(run.join("summary.toml")).unwrap()).unwrap();
        assert_eq!(
            summary["env_steps"].as_integer(),
            Some(at as i64 + 30),
            "trial {trial}"
        );
        assert!(summary["updates"].as_integer().unwrap() > 0);
        assert!(
            checkpoint::list(&run).unwrap().len() <= 2,
            "only the last keep_checkpoints stay"
        );
    }
}

#[test]
fn resume_refuses_what_it_cannot_continue() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = virel_bin()
        .args([
            "train", "--env", "identity", "--algo", "td3", "--steps", "120", "--device", "cpu",
            "--quiet",
        ])
        .args(["--out", run.to_str().unwrap(), "--set", "td3.hidden=[8]"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let r = run.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--resume", r, "--algo", "sac"],
            "--algo cannot change a resumed run (it trains td3 on identity, seed 1)",
        ),
        (
            vec!["--resume", r, "--set", "td3.tau=0.1"],
            "--set cannot change a resumed run",
        ),
        (
            vec!["--resume", r],
            "already has 120 of its 120 steps: pass --steps N with N > 120",
        ),
        (
            vec!["--resume", empty.to_str().unwrap()],
            "holds no checkpoint",
        ),
        (
            vec!["--resume", "/nonexistent/run"],
            "cannot read run folder /nonexistent/run",
        ),
    ] {
        let o = virel_bin().arg("train").args(&args).output().unwrap();
        assert!(
            !o.status.success() && stderr(&o).contains(want),
            "{args:?}: expected '{want}' in: {}",
            stderr(&o)
        );
    }

    // A newer checkpoint that is torn is skipped, with a warning, for the one before it.
    let good = checkpoint::list(&run).unwrap()[0].clone();
    std::fs::write(run.join(checkpoint::file_name(999)), b"VIRELCKP\x02\x00").unwrap();
    let o = virel_bin()
        .args(["train", "--resume", r, "--steps", "150", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: skipped checkpoint") && stderr(&o).contains("truncated"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains(good.file_name().unwrap().to_str().unwrap()));

    // A checkpoint of another format version names the version.
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[8] = 1;
    let body = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    let old = dir.path().join("old.ckpt");
    std::fs::write(&old, &bytes).unwrap();
    let o = virel_bin()
        .args([
            "eval",
            "--checkpoint",
            old.to_str().unwrap(),
            "--device",
            "cpu",
        ])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("old.ckpt")
            && stderr(&o).contains("written in checkpoint format 1; this virel-lab reads format 2"),
        "{}",
        stderr(&o)
    );
}
