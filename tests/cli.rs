//! The `virel-lab` binary end to end: a tiny training run and its files, eval of its
//! checkpoint, config resolution, Ctrl-C, and the errors bad input gets.

mod common;
use common::{stderr, virel};
use std::path::Path;
use std::process::{Command, Output};

fn tiny_train(out: &Path, env: &str, steps: &str, extra: &[&str]) -> Output {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "train", "--env", env, "--algo", "sac", "--steps", steps, "--seed", "2", "--device", "cpu",
        "--out", out,
    ];
    args.extend_from_slice(&[
        "--eval-every",
        "150",
        "--eval-episodes",
        "2",
        "--set",
        "sac.learning_starts=100",
        "--set",
        "sac.hidden=[32,32]",
    ]);
    args.extend_from_slice(extra);
    virel(&args)
}

#[test]
fn train_smoke_run_writes_logs_checkpoint_and_summary_and_eval_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = tiny_train(&run, "pendulum", "300", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("pendulum sac seed 2: 300 steps, 201 updates"),
        "{stdout}"
    );
    for f in [
        "checkpoint-000000000300.ckpt",
        "config.toml",
        "metrics.csv",
        "summary.toml",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    assert!(
        std::fs::read_dir(&run).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("events.out.tfevents")),
        "TensorBoard event file"
    );
    let rows = virel_lab::training::logger::read_metrics(&run).unwrap();
    for name in [
        "charts/episodic_return",
        "losses/qf_loss",
        "losses/alpha",
        "eval/episodic_return",
        "charts/SPS",
    ] {
        assert!(rows.iter().any(|r| r.1 == name), "metric {name} missing");
    }
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        cfg.contains("hidden = [32, 32]") && cfg.contains("learning_starts = 100"),
        "--set reached the saved config"
    );

    let o = virel(&[
        "eval",
        "--checkpoint",
        run.to_str().unwrap(),
        "--episodes",
        "3",
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("sac on pendulum (300 env steps): mean return")
    );

    // A second run into the same folder is refused and leaves the first one alone.
    let before = std::fs::read(run.join("checkpoint-000000000300.ckpt")).unwrap();
    let o = tiny_train(&run, "pendulum", "300", &[]);
    assert!(
        !o.status.success() && stderr(&o).contains("already holds a run"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        before,
        std::fs::read(run.join("checkpoint-000000000300.ckpt")).unwrap()
    );
}

#[test]
fn config_file_is_overridden_by_set_and_by_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "algo = \"td3\"\nsteps = 1234\n[td3]\nexploration_noise = 0.3\npolicy_noise = 0.25\n",
    )
    .unwrap();
    let o = virel(&[
        "config",
        "--config",
        file.to_str().unwrap(),
        "--set",
        "td3.policy_noise=0.15",
        "--steps",
        "99",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t: toml::Table = toml::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    assert_eq!(t["algo"].as_str(), Some("td3"));
    assert_eq!(t["steps"].as_integer(), Some(99), "flag beats file");
    assert_eq!(
        t["td3"]["exploration_noise"].as_float(),
        Some(0.3),
        "file beats default"
    );
    assert_eq!(
        t["td3"]["policy_noise"].as_float(),
        Some(0.15),
        "--set beats file"
    );
    assert_eq!(
        t["td3"]["learning_starts"].as_integer(),
        Some(1000),
        "pendulum preset"
    );
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["train".into(), "--env".into(), "cartpole".into()],
            "unknown env 'cartpole'",
        ),
        (
            vec!["train".into(), "--algo".into(), "ppo".into()],
            "invalid value 'ppo'",
        ),
        (
            vec!["config".into(), "--set".into(), "sac.gama=0.9".into()],
            "unknown key 'sac.gama'",
        ),
        (
            vec!["config".into(), "--set".into(), "steps=many".into()],
            "steps",
        ),
        (
            vec!["train".into(), "--steps".into(), "0".into()],
            "steps must be at least 1",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = virel(&args);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(
            stderr(&o).contains(want),
            "{args:?}: expected '{want}' in: {}",
            stderr(&o)
        );
    }

    let bad_cfg = d("bad.toml");
    std::fs::write(&bad_cfg, "[sac]\nlearning_rate = 3\n").unwrap();
    let o = virel(&["config", "--config", bad_cfg.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("bad.toml") && stderr(&o).contains("unknown key 'sac.learning_rate'"),
        "{}",
        stderr(&o)
    );

    // A robot file with an error: file, line, column and the problem; no run folder appears.
    let robot = d("robot.ron");
    let hopper = virel_lab::scene::builtin("hopper").unwrap();
    std::fs::write(
        &robot,
        hopper.replace("parent: Some(\"thigh\")", "parent: Some(\"hip\")"),
    )
    .unwrap();
    let line = hopper
        .lines()
        .position(|l| l.contains("parent: Some(\"thigh\")"))
        .unwrap()
        + 1;
    let out = d("robot-run");
    let o = virel(&[
        "train",
        "--env",
        robot.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let e = stderr(&o);
    assert!(
        e.contains(&format!("robot.ron:{line}:")) && e.contains("unknown parent 'hip'"),
        "{e}"
    );
    assert!(
        !out.exists(),
        "nothing written for a run that could not start"
    );

    // Checkpoints: not one, truncated, of another env.
    let run = d("run");
    assert!(tiny_train(&run, "identity", "300", &[]).status.success());
    let ckpt = run.join("checkpoint-000000000300.ckpt");
    let bytes = std::fs::read(&ckpt).unwrap();
    std::fs::write(d("trunc.ckpt"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(d("random.ckpt"), b"hello, not a checkpoint").unwrap();
    std::fs::write(d("empty.ckpt"), b"").unwrap();
    let mut flipped = bytes.clone();
    let mid = flipped.len() - 100;
    flipped[mid] ^= 0xff;
    std::fs::write(d("flipped.ckpt"), &flipped).unwrap();
    for (file, env, want) in [
        (d("trunc.ckpt"), None, "truncated"),
        (d("random.ckpt"), None, "not a virel-lab checkpoint"),
        (d("empty.ckpt"), None, "not a virel-lab checkpoint"),
        (d("flipped.ckpt"), None, "checksum mismatch"),
        (ckpt.clone(), Some("pendulum"), "trained on env 'identity'"),
        (d("missing.ckpt"), None, "cannot read checkpoint"),
    ] {
        let mut args = vec![
            "eval",
            "--checkpoint",
            file.to_str().unwrap(),
            "--device",
            "cpu",
        ];
        if let Some(e) = env {
            args.extend(["--env", e]);
        }
        let o = virel(&args);
        assert!(!o.status.success());
        let e = stderr(&o);
        assert!(
            e.contains(want) && e.contains(file.file_name().unwrap().to_str().unwrap()),
            "{file:?}: expected '{want}' and the file name in: {e}"
        );
    }
}

#[test]
fn a_diverging_run_stops_with_the_quantity_and_step_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = tiny_train(
        &run,
        "pendulum",
        "2000",
        &[
            "--checkpoint-every",
            "100",
            // In range, each of them, but α·log π overflows a float: the losses blow up.
            "--set",
            "sac.autotune=false",
            "--set",
            "sac.alpha=1e38",
            "--set",
            "sac.learning_starts=150",
        ],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("non-finite losses/") && e.contains("at env step"),
        "{e}"
    );
    let o = virel(&[
        "eval",
        "--checkpoint",
        run.to_str().unwrap(),
        "--episodes",
        "1",
        "--device",
        "cpu",
    ]);
    assert!(
        o.status.success(),
        "the last good checkpoint still loads: {}",
        stderr(&o)
    );
    for ckpt in virel_lab::training::checkpoint::list(&run).unwrap() {
        let c = virel_lab::training::checkpoint::load(&ckpt).unwrap();
        assert!(
            c.check_finite().is_ok(),
            "{ckpt:?} holds only finite numbers"
        );
    }
}

#[test]
fn ctrl_c_or_sigterm_saves_a_checkpoint_that_resumes_and_exits_128_plus_the_signal() {
    for signal in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let child = Command::new(env!("CARGO_BIN_EXE_virel-lab"))
            .args([
                "train", "--env", "pendulum", "--algo", "td3", "--steps", "1000000", "--device",
                "cpu",
            ])
            .args(["--checkpoint-every", "0", "--out", run.to_str().unwrap()])
            .args([
                "--set",
                "td3.learning_starts=100",
                "--set",
                "td3.hidden=[16]",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until it is really training (metrics.csv is opened just before the loop).
        common::wait_until(std::time::Duration::from_millis(100), || {
            run.join("metrics.csv").exists()
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert!(
            Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let o = child.wait_with_output().unwrap();
        let code = if signal == "-INT" { 130 } else { 143 };
        assert_eq!(o.status.code(), Some(code), "{signal}: {}", stderr(&o));
        let summary: toml::Table =
            toml::from_str(&std::fs::read_to_string(run.join("summary.toml")).unwrap()).unwrap();
        assert_eq!(summary["interrupted"].as_bool(), Some(true), "{signal}");
        let stopped_at = summary["env_steps"].as_integer().unwrap();
        assert!(stopped_at > 100, "{signal}: it trained before the signal");
        let target = (stopped_at + 20).to_string();
        let o = virel(&[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--steps",
            &target,
            "--quiet",
        ]);
        assert!(o.status.success(), "{signal}: {}", stderr(&o));
    }
}

/// `bench gait` and `bench envs` take a user's scene file next to the shipped robots and
/// compare it with the peer of its scene's name; a scene they cannot load is an error naming
/// the file.
#[test]
fn bench_gait_and_envs_measure_a_scene_file_next_to_its_shipped_robot() {
    let dir = tempfile::tempdir().unwrap();
    let hopper = virel_lab::scene::builtin("hopper").unwrap();
    let variant = dir.path().join("hopper-4-substeps.ron");
    assert!(hopper.contains("substeps: 2,"));
    std::fs::write(&variant, hopper.replace("substeps: 2,", "substeps: 4,")).unwrap();
    let file = variant.to_str().unwrap();

    let o = virel(&[
        "bench",
        "gait",
        "--steps",
        "400",
        "--python",
        "/bin/false",
        "--env",
        "hopper",
        file,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for env in ["hopper", file] {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(env))
            .unwrap_or_else(|| panic!("no row for {env} in:\n{out}"));
        let figures: Vec<f64> = row
            .split_whitespace()
            .skip(1)
            .take(4)
            .map(|x| x.parse().unwrap())
            .collect();
        let (episodes, length, velocity) = (figures[0], figures[1], figures[3]);
        // A random hopper falls within ~20 steps, over and over, drifting backwards (MuJoCo's:
        // 23 steps, −0.17 m/s).
        assert!(
            episodes >= 8.0 && (10.0..40.0).contains(&length) && velocity < 0.0,
            "{row}"
        );
        assert!(row.ends_with('—'), "no peer without Gymnasium: {row}");
    }

    let o = virel(&[
        "bench",
        "envs",
        "--seconds",
        "0.2",
        "--num-envs",
        "2",
        "--python",
        "/bin/false",
        "--env",
        file,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let row = out.lines().find(|l| l.starts_with(file)).unwrap();
    // Compared with the hopper's anchors: Gymnasium 6800 and EnvPool 20000 steps/s.
    assert!(row.contains(" 6800 ") && row.contains(" 20000 "), "{row}");

    let missing = dir.path().join("missing.ron");
    let o = virel(&[
        "bench",
        "gait",
        "--python",
        "/bin/false",
        "--env",
        missing.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("missing.ron"), "{}", stderr(&o));
}

/// `bench training` trains each algorithm end to end in its own run folder and prints its
/// steps/s and final return, with VIREL's speed as a ratio to our SAC, in each precision of
/// `--hidden-matmul`; a peer that cannot run (no Python with SB3/SBX here) is reported and left
/// out of the table, not fatal.
#[test]
fn bench_training_runs_each_algorithm_and_prints_its_speed_and_return() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    let o = virel(&[
        "bench",
        "training",
        "--env",
        "pendulum",
        "--algos",
        "sac",
        "virel",
        "--steps",
        "300",
        "--learning-starts",
        "100",
        "--hidden",
        "16",
        "16",
        "--batch-size",
        "32",
        "--hidden-matmul",
        "float32",
        "bfloat16",
        "--python",
        "/bin/false",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    let row = |name: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with("pendulum") && l.contains(name))
            .unwrap_or_else(|| panic!("no row for {name} in:\n{table}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let (sac, virel_row) = (row("virel-lab sac"), row("virel-lab virel"));
    let steps_per_second: f64 = sac[3].parse().unwrap();
    let ret: f64 = sac[4].parse().unwrap();
    assert!(
        steps_per_second > 0.0 && (-2000.0..0.0).contains(&ret),
        "{sac:?}"
    );
    assert!(virel_row.last().unwrap().ends_with('×'), "{virel_row:?}");
    assert!(
        stderr(&o).contains("SBX sac on pendulum (seed 1) failed"),
        "{}",
        stderr(&o)
    );
    for algo in ["sac", "virel"] {
        for (side, matmul) in [("virel-lab", "float32"), ("virel-lab-bfloat16", "bfloat16")] {
            let run = out.join(format!("pendulum__{algo}__{side}__seed1"));
            assert!(run.join("summary.toml").exists(), "{}", run.display());
            let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
            assert!(
                config.contains(&format!("hidden_matmul = \"{matmul}\"")),
                "{}: {config}",
                run.display()
            );
        }
    }
    let (sac16, virel16) = (row("virel-lab bf16 sac"), row("virel-lab bf16 virel"));
    // "pendulum virel-lab bf16 sac STEPS/S RETURN …"
    let steps_per_second16: f64 = sac16[4].parse().unwrap();
    assert!(steps_per_second16 > 0.0, "{sac16:?}");
    assert!(virel16.last().unwrap().ends_with('×'), "{virel16:?}");
}

#[test]
fn output_into_a_closed_pipe_ends_the_program_without_a_panic() {
    // The reading end is closed before the program prints: its first line meets a closed pipe.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_virel-lab"))
        .args(["config", "--env", "hopper"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!e.contains("panicked"), "{e}");
}

/// The mean return `eval` printed.
fn printed_mean(o: &Output) -> f64 {
    let text = String::from_utf8_lossy(&o.stdout);
    let after = text
        .split("mean return ")
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn eval_on_a_variant_of_the_robot_runs_the_policy_there_and_refuses_other_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = tiny_train(&run, "hopper", "200", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = run.to_str().unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--checkpoint",
            r,
            "--episodes",
            "2",
            "--device",
            "cpu",
        ];
        args.extend_from_slice(extra);
        virel(&args)
    };
    // The hopper with its physics step cut in half, control step kept: a variant scene file.
    let shipped = virel_lab::scene::BUILTIN
        .iter()
        .find(|b| b.0 == "hopper")
        .unwrap()
        .1;
    assert!(shipped.contains("timestep: 0.002,") && shipped.contains("frame_skip: 4,"));
    let variant = dir.path().join("fine_hopper.ron");
    let fine = shipped
        .replace("timestep: 0.002,", "timestep: 0.001,")
        .replace("frame_skip: 4,", "frame_skip: 8,");
    std::fs::write(&variant, fine).unwrap();
    let v = variant.to_str().unwrap();

    let own = eval(&[]);
    assert!(own.status.success(), "{}", stderr(&own));
    let same = eval(&["--on", "hopper"]);
    assert!(same.status.success(), "{}", stderr(&same));
    assert_eq!(
        printed_mean(&same),
        printed_mean(&own),
        "--on its own env is plain eval"
    );
    let there = eval(&["--on", v]);
    assert!(there.status.success(), "{}", stderr(&there));
    let said = String::from_utf8_lossy(&there.stdout);
    assert!(said.contains(&format!("of hopper, on {v}")), "{said}");
    assert_ne!(
        printed_mean(&there),
        printed_mean(&own),
        "the policy ran in the variant's physics"
    );

    // Another robot's sizes are refused, naming both envs and the sizes.
    let other = eval(&["--on", "half_cheetah"]);
    assert_eq!(other.status.code(), Some(1));
    let e = stderr(&other);
    let want = "trained on env 'hopper' (obs 11, act 3), not on 'half_cheetah' (obs 17, act 6)";
    assert!(e.contains(want), "expected '{want}' in: {e}");
    // --env (refuse unless trained there) and --on (run elsewhere) contradict each other.
    let both = eval(&["--env", "hopper", "--on", v]);
    assert!(!both.status.success());
    assert!(stderr(&both).contains("--on"), "{}", stderr(&both));
}

#[test]
fn a_run_whose_robot_changed_refuses_to_resume_and_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("my_hopper.ron");
    let shipped = virel_lab::scene::BUILTIN
        .iter()
        .find(|b| b.0 == "hopper")
        .unwrap()
        .1;
    std::fs::write(&scene, shipped).unwrap();
    let run = dir.path().join("run");
    let o = tiny_train(&run, scene.to_str().unwrap(), "200", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = common::contents(&run);
    let resume = || {
        virel(&[
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--steps",
            "300",
            "--device",
            "cpu",
        ])
    };
    // A heavier torso is another robot.
    let heavier = shipped.replacen("mass: ", "mass: 1", 1);
    assert_ne!(heavier, shipped);
    std::fs::write(&scene, &heavier).unwrap();
    let o = resume();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("scene fingerprint") && e.contains("run"), "{e}");
    assert_eq!(
        common::contents(&run),
        before,
        "nothing in the run folder changed"
    );
    // The robot as it was, a comment added: the run goes on.
    std::fs::write(&scene, format!("// mine\n{shipped}")).unwrap();
    let o = resume();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn the_cli_takes_gymnasium_ids_any_case_algorithms_and_counts_as_people_write_them() {
    // `config` prints the resolved config: what a run would train.
    let resolved = |args: &[&str]| -> String {
        let mut all = vec!["config"];
        all.extend_from_slice(args);
        let o = virel(&all);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    for (typed, env) in [
        ("Hopper-v5", "hopper"),
        ("Hopper-v4", "hopper"),
        ("HalfCheetah-v5", "half_cheetah"),
        ("half-cheetah", "half_cheetah"),
        ("Walker2d-v5", "walker2d"),
        ("Ant-v4", "ant"),
        ("Humanoid-v5", "humanoid"),
        ("Pendulum-v1", "pendulum"),
    ] {
        let text = resolved(&["--env", typed]);
        assert!(
            text.contains(&format!("env = \"{env}\"")),
            "{typed}: {text}"
        );
    }
    let o = virel(&["config", "--env", "Hopper-v5"]);
    assert!(
        stderr(&o).contains("Hopper-v5: virel-lab's 'hopper'") && stderr(&o).contains("rapier"),
        "a Gymnasium id says once what it selects: {}",
        stderr(&o)
    );
    let o = virel(&["config", "--env", "hopper"]);
    assert!(!stderr(&o).contains("note:"), "{}", stderr(&o));

    assert!(resolved(&["--algo", "SAC"]).contains("algo = \"sac\""));
    assert!(resolved(&["--algo", "Beta-VIREL"]).contains("algo = \"beta-virel\""));
    assert!(resolved(&["--steps", "1e4"]).contains("steps = 10000"));
    assert!(resolved(&["--steps", "3_000"]).contains("steps = 3000"));
    assert!(resolved(&["--total-timesteps", "2.5e4"]).contains("steps = 25000"));

    for (args, want) in [
        (&["--env", "cartpole"][..], ".xml"),
        (&["--env", "cartpole"][..], "Hopper-v5"),
        (&["--steps", "1.5"][..], "'1.5' is not a whole number"),
        (&["--steps", "lots"][..], "write 100000, 100_000 or 1e5"),
        (
            &["--set", "learning_starts=100"][..],
            "did you mean 'sac.learning_starts' or 'td3.learning_starts' or 'virel.learning_starts'?",
        ),
        (
            &["--set", "sac.batch_sise=3"][..],
            "did you mean 'sac.batch_size'?",
        ),
    ] {
        let mut all = vec!["config"];
        all.extend_from_slice(args);
        let o = virel(&all);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(
            stderr(&o).contains(want),
            "{args:?}: '{want}' not in {}",
            stderr(&o)
        );
    }
}

#[test]
fn a_run_that_ends_before_learning_starts_says_so_at_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "train",
            "--env",
            "pendulum",
            "--algo",
            "sac",
            "--steps",
            "300",
            "--device",
            "cpu",
            "--eval-episodes",
            "1",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = virel(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    let err = run("r", &[]);
    assert!(
        err.contains(
            "learning starts after 1000 env steps (sac.learning_starts) and this run has 300"
        ),
        "{err}"
    );
    let err = run("s", &["--set", "sac.learning_starts=100"]);
    assert!(!err.contains("learning starts"), "{err}");
}

#[test]
fn a_config_file_written_for_another_env_says_which_presets_it_freezes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("my.toml");
    let o = virel(&["config", "--env", "pendulum"]);
    std::fs::write(&file, &o.stdout).unwrap();
    let f = file.to_str().unwrap();
    let o = virel(&["config", "--config", f, "--env", "hopper"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("my.toml: sets sac.hidden = [64,64], pendulum's preset, but the run trains hopper, whose preset is [256,256]"),
        "{err}"
    );
    assert!(err.contains("sac.learning_starts = 1000"), "{err}");
    // The same file for the env it was written for says nothing.
    let o = virel(&["config", "--config", f, "--env", "pendulum"]);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}
