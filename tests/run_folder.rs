//! A run folder defends itself: one process at a time, only its own run resumed, nothing of
//! another run deleted, no non-finite checkpoint written or resumed, no dead run's logs
//! appended to, signals that stop a run within a second with a non-zero status.

mod common;
use common::{contents, stderr};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use virel_lab::training::checkpoint;

fn virel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_virel-lab"))
}

/// `train --resume run` with `extra` flags, to completion.
fn resume(run: &Path, extra: &[&str]) -> Output {
    virel()
        .args(["train", "--resume"])
        .arg(run)
        .args(extra)
        .output()
        .unwrap()
}

/// A tiny training command on the identity task.
fn tiny(out: &Path, algo: &str, steps: &str) -> Command {
    let mut c = virel();
    c.args([
        "train", "--env", "identity", "--algo", algo, "--steps", steps, "--device", "cpu",
        "--quiet", "--out",
    ])
    .arg(out)
    .args(["--set", &format!("{algo}.hidden=[8]")]);
    c
}

/// A long pendulum run that is still training when the test acts on it.
fn long_run(out: &Path, extra: &[&str]) -> std::process::Child {
    virel()
        .args([
            "train", "--env", "pendulum", "--algo", "td3", "--steps", "1000000", "--device", "cpu",
            "--quiet", "--out",
        ])
        .arg(out)
        .args([
            "--set",
            "td3.learning_starts=100",
            "--set",
            "td3.hidden=[16]",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn kill(signal: &str, pid: u32) {
    assert!(
        Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn a_checkpoint_of_another_run_in_the_folder_is_skipped_on_resume_and_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (own, other) = (dir.path().join("own"), dir.path().join("other"));
    let o = tiny(&own, "td3", "120")
        .args(["--checkpoint-every", "40", "--set", "keep_checkpoints=2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = tiny(&other, "sac", "300").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // A newer checkpoint of another env/algorithm, copied in by hand.
    let foreign = own.join(checkpoint::file_name(300));
    std::fs::copy(other.join(checkpoint::file_name(300)), &foreign).unwrap();
    let foreign_bytes = std::fs::read(&foreign).unwrap();
    let metrics_before = std::fs::read_to_string(own.join("metrics.csv")).unwrap();

    let o = resume(
        &own,
        &["--steps", "200", "--checkpoint-every", "40", "--quiet"],
    );
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(
        e.contains("warning: skipped checkpoint")
            && e.contains("belongs to another run (sac on identity")
            && e.contains("algo"),
        "{e}"
    );
    assert!(e.contains("resuming td3 from"), "{e}");
    let summary: toml::Table =
        toml::from_str(&std::fs::read_to_string(own.join("summary.toml")).unwrap()).unwrap();
    assert_eq!(summary["algo"].as_str(), Some("td3"));
    assert_eq!(summary["env_steps"].as_integer(), Some(200));
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        foreign_bytes,
        "the other run's checkpoint is kept as it was"
    );
    // Its own checkpoints were pruned to keep_checkpoints; the foreign one does not count.
    let own_ckpts: Vec<_> = checkpoint::list(&own)
        .unwrap()
        .into_iter()
        .filter(|p| *p != foreign)
        .collect();
    assert_eq!(own_ckpts.len(), 2, "{own_ckpts:?}");
    let metrics = std::fs::read_to_string(own.join("metrics.csv")).unwrap();
    assert!(metrics.starts_with(metrics_before.lines().next().unwrap()));
}

#[test]
fn a_folder_without_its_config_or_with_only_foreign_checkpoints_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let (own, other) = (dir.path().join("own"), dir.path().join("other"));
    assert!(tiny(&own, "td3", "60").output().unwrap().status.success());
    assert!(tiny(&other, "sac", "60").output().unwrap().status.success());
    // Only the other run's checkpoint under this folder's config.
    for p in checkpoint::list(&own).unwrap() {
        std::fs::remove_file(p).unwrap();
    }
    std::fs::copy(
        other.join(checkpoint::file_name(60)),
        own.join(checkpoint::file_name(60)),
    )
    .unwrap();
    let before = contents(&own);
    let o = resume(&own, &["--steps", "100"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("belongs to another run"),
        "{}",
        stderr(&o)
    );
    let after = contents(&own);
    assert_eq!(before, after, "nothing in the folder changed");

    std::fs::remove_file(own.join("config.toml")).unwrap();
    let o = resume(&own, &["--steps", "100"]);
    assert!(
        !o.status.success() && stderr(&o).contains("no config.toml"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_second_process_on_a_run_folder_is_refused_naming_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let child = long_run(&run, &["--checkpoint-every", "100"]);
    common::wait_until(Duration::from_millis(50), || {
        !checkpoint::list(&run).unwrap_or_default().is_empty()
    });
    let pid = child.id();
    let fresh = tiny(&run, "td3", "60").output().unwrap();
    let resumed = resume(&run, &["--steps", "2000000"]);
    for o in [&fresh, &resumed] {
        assert!(!o.status.success());
        assert!(
            stderr(o).contains(&format!("in use by another virel-lab process (pid {pid})")),
            "{}",
            stderr(o)
        );
    }
    kill("-TERM", pid);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    // The lock went with the process: the run resumes.
    let summary: toml::Table =
        toml::from_str(&std::fs::read_to_string(run.join("summary.toml")).unwrap()).unwrap();
    let at = summary["env_steps"].as_integer().unwrap();
    let o = resume(&run, &["--steps", &(at + 10).to_string(), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_run_killed_before_its_first_checkpoint_is_not_appended_to_nor_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut child = long_run(&run, &["--checkpoint-every", "0"]);
    common::wait_until(Duration::from_millis(50), || {
        run.join("metrics.csv").exists()
    });
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = contents(&run);
    assert!(before.contains_key("metrics.csv") && before.contains_key("config.toml"));

    let again = long_run(&run, &[]).wait_with_output().unwrap();
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("stopped before its first checkpoint")
            && stderr(&again).contains("nothing was changed"),
        "{}",
        stderr(&again)
    );
    let resumed = resume(&run, &[]);
    assert!(
        !resumed.status.success() && stderr(&resumed).contains("nothing to resume"),
        "{}",
        stderr(&resumed)
    );
    let after = contents(&run);
    assert_eq!(before, after, "the dead run's files are untouched");
}

#[test]
fn sigterm_during_a_long_evaluation_stops_the_run_within_a_second_or_two() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    // The first evaluation, at step 200, would take minutes.
    let child = long_run(&run, &["--eval-every", "200", "--eval-episodes", "100000"]);
    common::wait_until(Duration::from_millis(50), || {
        run.join("metrics.csv").exists()
    });
    std::thread::sleep(Duration::from_millis(2500));
    let sent = Instant::now();
    kill("-TERM", child.id());
    let o = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(
        took < Duration::from_secs(3),
        "stopped {took:?} after SIGTERM"
    );
    assert!(
        stderr(&o).contains("interrupted by SIGTERM"),
        "{}",
        stderr(&o)
    );
    let summary: toml::Table =
        toml::from_str(&std::fs::read_to_string(run.join("summary.toml")).unwrap()).unwrap();
    assert_eq!(summary["interrupted"].as_bool(), Some(true));
}

#[test]
fn a_non_finite_state_is_never_written_and_a_non_finite_checkpoint_is_never_resumed() {
    let _torch = common::torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    assert!(tiny(&run, "sac", "60").output().unwrap().status.success());
    let good = run.join(checkpoint::file_name(60));

    // A trainer whose weights went NaN refuses to write a checkpoint.
    let (_, ckpt) = checkpoint::load_file_or_latest(&good).unwrap();
    let mut t = common::trainer(ckpt.header.config.clone()).unwrap();
    t.restore(&ckpt).unwrap();
    let (_, vs) = t.agent.networks_mut().remove(0);
    let (name, mut w) = vs.variables().into_iter().next().unwrap();
    let _ = tch::no_grad(|| w.fill_(f64::NAN));
    let bad = run.join(checkpoint::file_name(80));
    let e = t.save(&bad).unwrap_err().to_string();
    assert!(
        e.contains("refusing to write checkpoint") && e.contains(&name) && e.contains("non-finite"),
        "{e}"
    );
    assert!(!bad.exists());

    // One written by other means is skipped on resume, and named.
    let mut named: Vec<(String, tch::Tensor)> = ckpt
        .tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let poisoned = named
        .iter_mut()
        .find(|(k, _)| !k.starts_with("buffer/"))
        .unwrap();
    poisoned.1 = poisoned.1.full_like(f64::INFINITY);
    let poisoned_name = poisoned.0.clone();
    let mut header = ckpt.header.clone();
    header.counters.env_steps = 80;
    std::fs::write(&bad, checkpoint::encode(&header, &named).unwrap()).unwrap();
    let o = resume(&run, &["--steps", "100", "--quiet"]);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(
        e.contains("warning: skipped checkpoint")
            && e.contains(&poisoned_name)
            && e.contains("resuming sac from")
            && e.contains("checkpoint-000000000060"),
        "{e}"
    );
    let o = virel()
        .args(["eval", "--checkpoint"])
        .arg(&bad)
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    assert!(
        !o.status.success() && stderr(&o).contains("non-finite"),
        "{}",
        stderr(&o)
    );
}
