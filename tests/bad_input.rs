//! Every bad input gets an error that names the file, key or flag and the problem, never a
//! panic or an abort: values out of range or of the wrong type, sizes beyond memory (also in
//! a checkpoint's header), scenes that parse but cannot be trained, a DISPLAY with no X
//! server, a huge seed, zero episodes.

mod common;
use common::{fails_with, stderr, virel};
use std::path::Path;
use std::process::Command;
use virel_lab::training::checkpoint;

/// A finished 60-step run of `algo` on the identity task with an 8-wide network.
fn tiny_run(dir: &Path, algo: &str) -> std::path::PathBuf {
    let run = dir.join(format!("{algo}-run"));
    let hidden = format!("{algo}.hidden=[8]");
    let o = virel(&[
        "train",
        "--env",
        "identity",
        "--algo",
        algo,
        "--steps",
        "60",
        "--device",
        "cpu",
        "--quiet",
        "--set",
        &hidden,
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    run
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn values_out_of_range_are_refused_naming_the_key_and_who_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let gamma = write(dir.path(), "gamma.toml", "[sac]\ngamma = 1.5\n");
    fails_with(
        &["config", "--config", &gamma],
        &[
            "config file",
            "gamma.toml",
            "sac.gamma must be between 0 and 1, not 1.5",
        ],
    );
    for (set, key) in [
        ("sac.q_lr=-0.001", "sac.q_lr"),
        ("sac.policy_lr=nan", "sac.policy_lr"),
        ("td3.tau=inf", "td3.tau"),
        ("virel.gamma=-inf", "virel.gamma"),
        ("virel.reward_scale=0", "virel.reward_scale"),
        ("sac.batch_size=0", "sac.batch_size"),
        ("sac.buffer_size=0", "sac.buffer_size"),
        ("td3.exploration_noise=-1", "td3.exploration_noise"),
        ("virel.log_std_min=3", "virel.log_std_min"),
        ("updates_per_step=nan", "updates_per_step"),
        ("keep_checkpoints=0", "keep_checkpoints"),
        ("eval_episodes=0", "eval_episodes"),
    ] {
        fails_with(
            &["train", "--set", set, "--steps", "10"],
            &[&format!("--set {set}"), &format!("{key} must be")],
        );
    }
    fails_with(
        &["train", "--eval-episodes", "0"],
        &["--eval-episodes 0", "eval_episodes must be at least 1"],
    );
    fails_with(
        &["train", "--threads", "0"],
        &["--threads 0", "torch_threads must be between 1 and 1024"],
    );
}

#[test]
fn a_wrong_type_names_the_users_file_or_flag_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let steps = write(dir.path(), "steps.toml", "steps = \"many\"\n");
    fails_with(
        &["config", "--config", &steps],
        &["config file", "steps.toml", "key 'steps'", "many"],
    );
    let gamma = write(
        dir.path(),
        "gamma.toml",
        "env = \"hopper\"\n[sac]\ngamma = \"high\"\n",
    );
    fails_with(
        &["train", "--config", &gamma],
        &["gamma.toml", "key 'sac.gamma'", "high"],
    );
    fails_with(
        &["config", "--set", "sac.learning_starts=-1"],
        &[
            "--set sac.learning_starts=-1",
            "key 'sac.learning_starts'",
            "-1",
        ],
    );
    fails_with(
        &["config", "--set", "algo=ppo"],
        &["--set algo=ppo", "key 'algo'", "ppo"],
    );
    // The reported line is never one of an internal copy.
    let o = virel(&["config", "--config", &steps]);
    assert!(
        !stderr(&o).contains("TOML parse error at line"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_huge_seed_is_refused_or_trains_without_overflow() {
    fails_with(
        &[
            "train",
            "--seed",
            "18446744073709551615",
            "--env",
            "identity",
        ],
        &["--seed 18446744073709551615", "at most 9223372036854775807"],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = virel(&[
        "train",
        "--env",
        "identity",
        "--algo",
        "td3",
        "--steps",
        "120",
        "--seed",
        "9223372036854775807",
        "--device",
        "cpu",
        "--quiet",
        "--eval-episodes",
        "2",
        "--set",
        "td3.hidden=[8]",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn sizes_beyond_memory_are_refused_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    for (args, wants) in [
        (
            vec![
                "--set",
                "sac.buffer_size=1000000000000",
                "--steps",
                "2000000000000",
            ],
            vec!["sac.buffer_size = 1000000000000", "memory"],
        ),
        (
            vec!["--set", "sac.hidden=[100000000,100000000]"],
            vec!["sac.hidden = [100000000, 100000000]", "memory"],
        ),
        (
            vec!["--set", "sac.batch_size=1000000000000"],
            vec!["sac.batch_size = 1000000000000", "memory"],
        ),
        (
            vec!["--num-envs", "1000000000", "--env", "hopper"],
            vec!["num_envs = 1000000000", "memory"],
        ),
    ] {
        let mut all = vec!["train", "--algo", "sac", "--device", "cpu", "--out", out];
        all.extend(args);
        fails_with(&all, &wants);
        assert!(!Path::new(out).exists(), "nothing written");
    }

    // The same sizes read back from a checkpoint's header.
    let run = tiny_run(dir.path(), "sac");
    let ckpt = checkpoint::load(&run.join(checkpoint::file_name(60))).unwrap();
    let mut header = ckpt.header.clone();
    header.config.agents.sac.hidden = vec![100_000_000, 100_000_000];
    let named: Vec<(String, tch::Tensor)> = ckpt
        .tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    let huge = dir.path().join("huge.ckpt");
    std::fs::write(&huge, checkpoint::encode(&header, &named).unwrap()).unwrap();
    fails_with(
        &[
            "eval",
            "--checkpoint",
            huge.to_str().unwrap(),
            "--device",
            "cpu",
        ],
        &["huge.ckpt", "sac.hidden", "memory"],
    );
    let dest = dir.path().join("huge-run");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(
        dest.join("config.toml"),
        toml::to_string(&header.config).unwrap(),
    )
    .unwrap();
    std::fs::copy(&huge, dest.join(checkpoint::file_name(60))).unwrap();
    fails_with(
        &[
            "train",
            "--resume",
            dest.to_str().unwrap(),
            "--steps",
            "100",
        ],
        &["sac.hidden", "memory"],
    );
}

#[test]
fn scenes_that_parse_but_cannot_train_are_refused_by_scene_and_by_train_alike() {
    let dir = tempfile::tempdir().unwrap();
    let hopper = virel_lab::scene::builtin("hopper").unwrap();
    assert!(
        hopper.contains("velocity_clip: Some(10.0)"),
        "the hopper clips velocities"
    );
    assert!(hopper.contains("reset_noise_scale: 0.005"));
    assert!(hopper.contains("z_range: Some((0.7, inf))"));
    let no_actuators = {
        let start = hopper.find("actuators: [").unwrap();
        let end = start + hopper[start..].find("],").unwrap() + 2;
        format!("{}actuators: [],{}", &hopper[..start], &hopper[end..])
            .replace("action_dim: 3", "action_dim: 0")
    };
    for (name, text, want) in [
        (
            "clip.ron",
            hopper.replace("velocity_clip: Some(10.0)", "velocity_clip: Some(-10.0)"),
            "velocity_clip must be a finite number > 0",
        ),
        (
            "nanclip.ron",
            hopper.replace("velocity_clip: Some(10.0)", "velocity_clip: Some(NaN)"),
            "velocity_clip must be a finite number > 0",
        ),
        (
            "noise.ron",
            hopper.replace("reset_noise_scale: 0.005", "reset_noise_scale: 1e30"),
            "reset_noise_scale must be between 0 and 1",
        ),
        (
            "health.ron",
            hopper.replace("z_range: Some((0.7, inf))", "z_range: Some((NaN, inf))"),
            "healthy z_range (NaN, inf)",
        ),
        (
            "motorless.ron",
            no_actuators,
            "a robot needs at least one actuator",
        ),
    ] {
        let path = write(dir.path(), name, &text);
        fails_with(&["scene", &path], &[&format!("{name}:"), want]);
        let out = dir.path().join(format!("{name}-run"));
        fails_with(
            &[
                "train",
                "--env",
                &path,
                "--steps",
                "50",
                "--out",
                out.to_str().unwrap(),
            ],
            &[&format!("{name}:"), want],
        );
        assert!(!out.exists());
    }
    // A scene whose physics blows up at once is caught by `scene` too.
    let heavy = write(
        dir.path(),
        "gears.ron",
        &hopper.replace("gear: 200.0", "gear: 1e30"),
    );
    let o = virel(&["scene", &heavy]);
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    if !o.status.success() {
        assert!(stderr(&o).contains("gears.ron"), "{}", stderr(&o));
    }
}

#[test]
fn zero_episodes_or_copies_are_refused_by_their_flag() {
    let dir = tempfile::tempdir().unwrap();
    let run = tiny_run(dir.path(), "td3");
    let r = run.to_str().unwrap();
    fails_with(
        &["eval", "--checkpoint", r, "--episodes", "0"],
        &["--episodes 0: expected at least 1 episode"],
    );
    fails_with(
        &["record", "--checkpoint", r, "--episodes", "0"],
        &["--episodes 0: expected at least 1 episode"],
    );
    fails_with(
        &["play", "--checkpoint", r, "--num-envs", "0"],
        &["--num-envs 0: expected at least 1 copy"],
    );
    let here = dir.path().to_str().unwrap();
    fails_with(
        &["record", "--checkpoint", r, "--out", here, "--overwrite"],
        &["expected a video file name"],
    );
    let ckpt = run.join(checkpoint::file_name(60));
    let c = ckpt.to_str().unwrap();
    fails_with(&["train", "--resume", c], &["is a file, not a run folder"]);
    fails_with(&["train", "--out", c], &["is a file, not a run folder"]);
}

#[test]
fn the_app_refuses_a_display_with_no_x_server_and_other_start_up_errors_without_a_panic() {
    let cases: [(&[&str], &str); 4] = [
        (&["app"], "DISPLAY=:77: no X server answers there"),
        (&["app", "--num-envs", "0"], "num_envs must be at least 1"),
        (
            &["app", "--set", "virel.gamma=2"],
            "virel.gamma must be between 0 and 1",
        ),
        (
            &["play", "--checkpoint", "/nonexistent/run"],
            "/nonexistent/run",
        ),
    ];
    for (args, want) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_virel-lab"))
            .args(args)
            .env("DISPLAY", ":77")
            .output()
            .unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert!(e.contains(want) && !e.contains("panicked"), "{args:?}: {e}");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_virel-lab"))
        .arg("app")
        .env("DISPLAY", "127.0.0.1:77")
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("DISPLAY=127.0.0.1:77: no X server answers there"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn benchmark_and_window_flags_out_of_range_are_refused_naming_the_flag() {
    for (args, want) in [
        (
            &["bench", "envs", "--num-envs", "0"][..],
            "--num-envs 0: expected 1 to 65536",
        ),
        (
            &["bench", "envs", "--seconds", "nan"],
            "--seconds NaN: expected a number of seconds",
        ),
        (
            &["bench", "updates", "--seconds=-1"],
            "--seconds -1: expected a number of seconds",
        ),
        (
            &["bench", "updates", "--threads", "0"],
            "--threads 0: expected 1 to 1024",
        ),
        (
            &["bench", "gait", "--steps", "0"],
            "--steps 0: expected at least 1",
        ),
        (
            &["bench", "learning", "--seeds", "0"],
            "--seeds 0: expected at least 1",
        ),
        (
            &["bench", "learning", "--jobs", "0"],
            "--jobs 0: expected at least 1",
        ),
        (
            &["bench", "updates", "--batch-size", "256", "0"],
            "--batch-size 0: expected 1 to 1048576",
        ),
        (
            &["bench", "training", "--steps", "500"],
            "--learning-starts 1000: expected fewer than --steps 500",
        ),
        (
            &["bench", "training", "--env", "identity"],
            "--env identity: expected an env with a Gymnasium peer",
        ),
        (
            &["bench", "training", "--hidden", "256", "0"],
            "--hidden 0: expected layer widths of at least 1",
        ),
        (
            &["bench", "training", "--jobs", "0"],
            "--jobs 0: expected at least 1",
        ),
        (
            &["bench", "training", "--algos", "sac", "td3", "sac"],
            "--algos sac: given twice",
        ),
        (
            &[
                "bench",
                "training",
                "--hidden-matmul",
                "bfloat16",
                "bfloat16",
            ],
            "--hidden-matmul bfloat16: given twice",
        ),
        (
            &["app", "--width", "0"],
            "--width 0: expected 64 to 16384 pixels",
        ),
        (
            &["app", "--training-share", "0"],
            "--training-share 0: expected a share of a core from 0.05 to 1",
        ),
        (&["app", "--training-share", "nan"], "--training-share NaN"),
        (
            &["app", "--resolution", "0.1"],
            "--resolution 0.1: expected a share of the window's width and height from 0.25 to 1",
        ),
        (&["app", "--resolution", "nan"], "--resolution NaN"),
    ] {
        fails_with(args, &[want]);
    }
}

#[test]
fn bad_sweep_and_report_input_is_refused_naming_the_file_or_flag_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = write(
        d,
        "ok.toml",
        "name = \"s\"\nout = \"r\"\nsteps = 10\nenvs = [\"pendulum\"]\nalgos = [\"sac\"]\nseeds = [1]\n",
    );
    let binary = write(d, "bin.toml", "\u{1}\u{2}name = [");
    let missing = d.join("nope.toml");
    let run = d.join("runs/x");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("config.toml"), "env = \"pendulum\"\n").unwrap();
    std::fs::write(run.join("summary.toml"), "env_steps = \"many\"\n").unwrap();
    let runs = d.join("runs");
    let readme = write(d, "R.md", "no markers here\n");
    let report_out = d.join("o");
    let o = report_out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["sweep", missing.to_str().unwrap(), "--status"],
            vec!["nope.toml"],
        ),
        (
            vec!["sweep", &binary, "--status"],
            vec!["sweep file", "bin.toml"],
        ),
        (
            vec!["sweep", &ok, "--cell", "3"],
            vec!["--cell 3", "cells 0 to 0"],
        ),
        (vec!["sweep", &ok, "--local", "-j", "0"], vec!["-j 0"]),
        (
            vec!["sweep", &ok, "--steps", "0", "--status"],
            vec!["--steps 0"],
        ),
        (vec!["report", &ok], vec!["ok.toml is a file"]),
        (
            vec!["report", missing.to_str().unwrap()],
            vec!["nope.toml", "no such folder"],
        ),
        (
            vec!["report", runs.to_str().unwrap(), "--out", o],
            vec!["summary.toml: not a run summary"],
        ),
        (
            vec!["report", runs.to_str().unwrap(), "--out", &ok],
            vec!["--out", "is a file"],
        ),
        (
            vec![
                "report",
                runs.to_str().unwrap(),
                "--out",
                o,
                "--readme",
                &readme,
            ],
            vec!["R.md", "markers"],
        ),
    ];
    for (args, wants) in &cases {
        fails_with(args, wants);
    }
    assert!(!d.join("o").exists(), "a refused report writes nothing");
}
