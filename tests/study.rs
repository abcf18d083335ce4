//! Studies: sweep files expand to the right cells, a cut sweep resumes, the job-array script
//! runs the right cell, and the report's statistics equal hand computations.

mod common;

use common::{fails_with, stderr, tiny_sweep, virel, wait_until};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use virel_lab::rl::Algo;
use virel_lab::study::report::{self, RunRecord};
use virel_lab::study::select;
use virel_lab::study::slurm;
use virel_lab::study::stats::{self, Interval};
use virel_lab::study::sweep::{self, CellState, Sweep};
use virel_lab::training::EvalResult;
use virel_lab::training::RunSummary;

#[test]
fn a_sweep_file_expands_to_its_cells_in_group_order_with_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        r#"name = "grid"
out = "runs"
steps = 5000
envs = ["hopper", "half_cheetah"]
algos = [["virel", "sac"], ["td3"]]
seeds = [3, 7]
[set]
eval_episodes = 2
[variants.default]
[variants.wide]
"sac.hidden" = [400, 300]
"#,
    )
    .unwrap();
    let s = Sweep::load(&file).unwrap();
    let names: Vec<String> = s.cells.iter().map(|c| c.name()).collect();
    let mut expected = Vec::new();
    for group in [&["virel", "sac"][..], &["td3"]] {
        for seed in [3, 7] {
            for env in ["hopper", "half_cheetah"] {
                for variant in ["default", "wide"] {
                    for algo in group {
                        expected.push(format!("{env}__{algo}__{variant}__{seed}"));
                    }
                }
            }
        }
    }
    assert_eq!(names, expected);
    assert_eq!(s.out, dir.path().join("runs"));
    for (k, c) in s.cells.iter().enumerate() {
        assert_eq!(c.index, k);
        assert_eq!(c.config.env, c.env);
        assert_eq!(c.config.algo, c.algo);
        assert_eq!(c.config.seed, c.seed);
        assert_eq!(c.config.steps, 5000);
        assert_eq!(c.config.eval_episodes, 2);
        let wide = c.variant == "wide";
        assert_eq!(
            c.config.agents.sac.hidden == vec![400, 300],
            wide,
            "{}",
            c.name()
        );
    }
    // The env preset still applies under the sweep's keys.
    let cheetah = s.cells.iter().find(|c| c.env == "half_cheetah").unwrap();
    assert_eq!(cheetah.config.agents.virel.reward_scale, 0.1);
}

#[test]
fn bad_sweep_files_name_the_file_the_table_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = "name = \"s\"\nout = \"r\"\nsteps = 100\nenvs = [\"pendulum\"]\nalgos = [\"sac\"]\nseeds = [1]\n";
    let cases = [
        (
            format!("{base}colour = 3\n"),
            vec!["unknown field `colour`", "line"],
        ),
        (
            format!("{base}[set]\n\"sac.batch_sise\" = 3\n"),
            vec!["[set]", "batch_sise"],
        ),
        (
            format!("{base}[variants.big]\n\"sac.batch_size\" = 0\n"),
            vec!["[variants.big]", "sac.batch_size"],
        ),
        (format!("{base}[set]\nseed = 4\n"), vec!["[set]", "'seed'"]),
        (
            base.replace("seeds = [1]", "seeds = [1, 1]"),
            vec!["pendulum__sac__default__1", "twice"],
        ),
        (
            base.replace("seeds = [1]", "seeds = []"),
            vec!["seeds is empty"],
        ),
        (
            format!("{base}[variants.\"a__b\"]\n"),
            vec!["variant 'a__b'"],
        ),
        (base.replace("\"sac\"", "\"ppo\""), vec!["ppo"]),
        (base.replace("\"pendulum\"", "\"mars\""), vec!["mars"]),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let err = format!("{:#}", Sweep::load(&file).unwrap_err());
        for n in needles {
            assert!(err.contains(n), "case {i}: '{err}' lacks '{n}'");
        }
        assert!(
            err.contains(&format!("bad{i}.toml")) || err.contains("mars"),
            "case {i}: '{err}' does not name the file"
        );
    }
}

#[test]
fn array_specs_compress_runs_of_indices() {
    assert_eq!(slurm::array_spec(&[0, 1, 2, 3]), "0-3");
    assert_eq!(slurm::array_spec(&[7, 0, 2, 3, 5, 8, 9]), "0,2-3,5,7-9");
    assert_eq!(slurm::array_spec(&[4]), "4");
}

#[test]
fn pool_workers_pin_to_the_pools_own_cores_and_a_pool_of_one_does_not_pin() {
    use virel_lab::study::pool::worker_cores;
    assert_eq!(worker_cores(2, 1, &[0, 1]), Some(vec![vec![0], vec![1]]));
    // `taskset -c 2,5`: the workers stay on the cores the pool was given.
    assert_eq!(worker_cores(2, 1, &[2, 5, 7]), Some(vec![vec![2], vec![5]]));
    // `--threads 2`: each worker gets two cores of its own.
    assert_eq!(
        worker_cores(2, 2, &[0, 1, 2, 3, 4]),
        Some(vec![vec![0, 1], vec![2, 3]])
    );
    // One worker is left to the scheduler, so two `-j 1` pools do not share core 0.
    assert_eq!(worker_cores(1, 1, &[0, 1]), None);
    // More workers' threads than cores: none pinned.
    assert_eq!(worker_cores(3, 1, &[0, 1]), None);
    assert_eq!(worker_cores(2, 2, &[0, 1, 2]), None);
}

#[test]
fn the_job_array_script_runs_cell_k_as_array_task_k() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_sweep(
        dir.path(),
        200,
        "[slurm]\ntime = \"0:10:00\"\npartition = \"debug\"\nmax_parallel = 2\ncpus_per_task = 2\n",
    );
    let s = Sweep::load(&file).unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_virel-lab"));
    let script = slurm::script(&s, &[1, 2, 3], exe);
    assert!(script.contains("#SBATCH --array=1-3%2\n"), "{script}");
    assert!(script.contains("#SBATCH --cpus-per-task=2\n"), "{script}");
    assert!(script.contains("#SBATCH --partition=debug\n"));
    assert!(script.contains("#SBATCH --requeue\n"));
    for k in 1..=3 {
        assert!(script.contains(&format!("#   {k:>4}  {}\n", s.cells[k].name())));
    }
    // The script itself, as Slurm would run array task 2 (its #SBATCH lines are comments).
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env("SLURM_ARRAY_TASK_ID", "2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let states = s.states().unwrap();
    for (k, state) in states.iter().enumerate() {
        assert_eq!(
            matches!(state, CellState::Done { .. }),
            k == 2,
            "cell {k} ({}): {state}",
            s.cells[k].name()
        );
    }
    // The task trained with as many torch threads as it has cores (the cells' config says 1).
    assert_eq!(s.cells[2].config.torch_threads, 1);
    let ran = std::fs::read_to_string(s.dir(&s.cells[2]).join("config.toml")).unwrap();
    assert!(ran.contains("torch_threads = 2\n"), "{ran}");
    // The finished cell was copied to the archive: config, summary and metrics.
    let kept = dir.path().join("kept").join(s.cells[2].name());
    for f in ["config.toml", "summary.toml", "metrics.csv"] {
        assert!(kept.join(f).is_file(), "{f} not archived");
    }
    // And the Slurm dry run lists only the cells still to run.
    let out = virel(&["sweep", file.to_str().unwrap(), "--slurm", "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("#SBATCH --array=0-1,3%2"), "{text}");
}

#[test]
fn a_sweep_refuses_zero_threads_naming_the_flag_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_sweep(dir.path(), 200, "");
    let out = virel(&[
        "sweep",
        file.to_str().unwrap(),
        "--cell",
        "0",
        "--threads",
        "0",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--threads"), "{err}");
    assert!(
        !dir.path().join("runs").exists(),
        "a refused sweep wrote its out folder"
    );
}

#[test]
fn a_cut_sweep_resumes_its_partial_cells_and_skips_finished_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_sweep(dir.path(), 1500, "");
    let f = file.to_str().unwrap();
    let s = Sweep::load(&file).unwrap();
    // Cell 0 runs to its end; cell 1 is stopped by SIGTERM after its first checkpoint.
    let out = virel(&["sweep", f, "--cell", "0", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut child = Command::new(env!("CARGO_BIN_EXE_virel-lab"))
        .args(["sweep", f, "--cell", "1", "--quiet"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let cell1 = s.dir(&s.cells[1]);
    wait_until(Duration::from_millis(20), || {
        virel_lab::training::checkpoint::list(&cell1).is_ok_and(|c| !c.is_empty())
    });
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(143),
        "a cell stopped by SIGTERM says so"
    );
    let partial = s.state(&s.cells[1]).unwrap();
    let CellState::Partial { env_steps } = partial else {
        panic!("cell 1 after SIGTERM: {partial}");
    };
    assert!(env_steps < 1500);
    let metrics0 = std::fs::read(s.dir(&s.cells[0]).join("metrics.csv")).unwrap();

    let out = virel(&["sweep", f, "--local", "-j", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("1 done, 3 to run"), "{text}");
    assert!(!text.contains(&format!("start 1/3 {}", s.cells[0].name())));
    assert!(
        text.contains(&format!(
            "{} (partial ({env_steps} steps))",
            s.cells[1].name()
        )),
        "{text}"
    );
    assert!(text.contains("3 finished now, 1 finished before"), "{text}");
    for c in &s.cells {
        let st = s.state(c).unwrap();
        let CellState::Done { summary } = st else {
            panic!("{}: {st}", c.name())
        };
        assert_eq!(summary.env_steps, 1500);
    }
    let log =
        std::fs::read_to_string(s.log_dir().join(format!("{}.log", s.cells[1].name()))).unwrap();
    assert!(log.contains(&format!("({env_steps} env steps)")), "{log}");
    assert_eq!(
        std::fs::read(s.dir(&s.cells[0]).join("metrics.csv")).unwrap(),
        metrics0,
        "a finished cell is left alone"
    );
    // A second pool has nothing to do.
    let out = virel(&["sweep", f, "--local", "-j", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("4 done, 0 to run"), "{text}");
}

#[test]
fn a_fresh_clone_counts_archived_cells_as_done_and_runs_only_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_sweep(dir.path(), 300, "");
    let f = file.to_str().unwrap();
    let s = Sweep::load(&file).unwrap();
    let out = virel(&["sweep", f, "--cell", "0", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A fresh clone: the committed archive, no run folders.
    std::fs::remove_dir_all(dir.path().join("runs")).unwrap();
    let kept = dir.path().join("kept").join(s.cells[0].name());
    let before = common::contents(&kept);
    let state = s.state(&s.cells[0]).unwrap();
    assert!(
        matches!(&state, CellState::Archived { summary } if summary.env_steps == 300),
        "{state}"
    );
    assert_eq!(s.state(&s.cells[1]).unwrap(), CellState::New);
    let out = virel(&["sweep", f, "--cell", "0"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already finished"));
    assert!(
        !s.dir(&s.cells[0]).exists(),
        "an archived cell is not run again"
    );

    // The same sweep at a longer budget, or with another setting, runs the cell again.
    let longer = Sweep::load_with_steps(&file, Some(400)).unwrap();
    assert_eq!(longer.state(&longer.cells[0]).unwrap(), CellState::New);
    let other = tiny_sweep(dir.path(), 300, "\"sac.batch_size\" = 32");
    let other = Sweep::load(&other).unwrap();
    assert_eq!(other.state(&other.cells[0]).unwrap(), CellState::New);
    tiny_sweep(dir.path(), 300, "");

    let out = virel(&["sweep", f, "--local", "-j", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("1 done, 3 to run"), "{text}");
    assert!(!s.dir(&s.cells[0]).exists());
    assert_eq!(
        common::contents(&kept),
        before,
        "the archived cell is left alone"
    );
}

#[test]
fn a_cell_folder_of_another_run_is_refused_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_sweep(dir.path(), 300, "");
    let s = Sweep::load(&file).unwrap();
    // A run of the same name with another batch size, stopped part of the way.
    let cell = &s.cells[0];
    let mut cfg = cell.config.clone();
    cfg.agents.sac.batch_size = 32;
    cfg.steps = 200;
    common::run(cfg, &s.dir(cell)).unwrap();
    let before = common::contents(&s.dir(cell));
    let out = virel(&["sweep", file.to_str().unwrap(), "--cell", "0"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("sac.batch_size") && err.contains(&cell.name()),
        "{err}"
    );
    assert_eq!(common::contents(&s.dir(cell)), before, "nothing changed");
}

#[test]
fn archived_metrics_keep_every_evaluation_and_one_row_per_metric_per_window() {
    let csv = "step,wall_time,metric,value\n\
               10,0.1,charts/episodic_return,1\n\
               20,0.2,charts/episodic_return,2\n\
               20,0.2,losses/qf_loss,5\n\
               1000,1.0,eval/episodic_return,7\n\
               1000,1.0,eval/episodic_return,8\n\
               1500,1.5,charts/episodic_return,3\n\
               2100,2.1,charts/episodic_return,4\n";
    let thin = sweep::thin_metrics(csv, 1000);
    assert_eq!(
        thin,
        "step,wall_time,metric,value\n\
         10,0.1,charts/episodic_return,1\n\
         20,0.2,losses/qf_loss,5\n\
         1000,1.0,eval/episodic_return,7\n\
         1000,1.0,eval/episodic_return,8\n\
         1500,1.5,charts/episodic_return,3\n\
         2100,2.1,charts/episodic_return,4\n"
    );
}

#[test]
fn iqm_and_its_bootstrap_interval_equal_a_hand_computation() {
    // Sorted: 1 2 3 4 5 6 7 100; ⌊8/4⌋ = 2 cut from each end: (3+4+5+6)/4.
    assert_eq!(stats::iqm(&[7.0, 1.0, 100.0, 3.0, 2.0, 5.0, 4.0, 6.0]), 4.5);
    assert_eq!(
        stats::iqm(&[1.0, 2.0, 10.0]),
        13.0 / 3.0,
        "below 4 runs: the mean"
    );
    assert_eq!(stats::percentile(&[1.0, 2.0, 4.0], 75.0), 3.0);

    // Every one of the 4^4 resamples of 4 runs, equally likely: the exact bootstrap
    // distribution of the IQM, and its 2.5 and 97.5 percentiles.
    let runs = [10.0, 20.0, 40.0, 80.0];
    let mut exact = Vec::new();
    for a in 0..4 {
        for b in 0..4 {
            for c in 0..4 {
                for d in 0..4 {
                    let mut r = [runs[a], runs[b], runs[c], runs[d]];
                    r.sort_by(f64::total_cmp);
                    exact.push((r[1] + r[2]) / 2.0);
                }
            }
        }
    }
    exact.sort_by(f64::total_cmp);
    let (lo, hi) = (
        stats::percentile(&exact, 2.5),
        stats::percentile(&exact, 97.5),
    );
    let (iqm, ci) = stats::iqm_with_interval(&runs);
    assert_eq!(iqm, 30.0);
    assert!(ci.contains(iqm), "{ci:?} holds the IQM");
    assert!(
        (ci.lo - lo).abs() <= 2.5 && (ci.hi - hi).abs() <= 2.5,
        "bootstrap {ci:?}, exact [{lo}, {hi}]"
    );
    // The same seed gives the same interval.
    assert_eq!(stats::iqm_with_interval(&runs).1, ci);
}

#[test]
fn probability_of_improvement_counts_pairs_ties_as_half_and_averages_tasks() {
    // Task 1: 3>1, 3<5, 4>1, 4<5 → 2/4. Task 2: 2=2 (½), 2<3, 9>2, 9>3 → 2.5/4.
    let x = vec![vec![3.0, 4.0], vec![2.0, 9.0]];
    let y = vec![vec![1.0, 5.0], vec![2.0, 3.0]];
    assert_eq!(
        stats::probability_of_improvement(&x, &y),
        (0.5 + 0.625) / 2.0
    );
    let (p, ci) = stats::probability_of_improvement_with_interval(&x, &y);
    assert!(ci.contains(p) && ci.lo >= 0.0 && ci.hi <= 1.0, "{p} {ci:?}");
    // Always better on every task: 1, with nothing to resample away.
    let (p, ci) =
        stats::probability_of_improvement_with_interval(&[vec![5.0, 6.0]], &[vec![1.0, 2.0]]);
    assert_eq!((p, ci), (1.0, Interval { lo: 1.0, hi: 1.0 }));
}

fn record(algo: Algo, seed: u64, curve: &[(u64, f64)], final_return: Option<f64>) -> RunRecord {
    RunRecord {
        dir: format!("/runs/{seed}").into(),
        env: "hopper".into(),
        algo,
        variant: None,
        seed,
        curve: curve.to_vec(),
        metrics: Default::default(),
        summary: final_return.map(|r| RunSummary {
            env: "hopper".into(),
            algo: algo.name().into(),
            seed,
            env_steps: curve.last().map_or(0, |p| p.0),
            updates: 0,
            episodes: 0,
            wall_seconds: 1.0,
            steps_per_second: 1.0,
            interrupted: false,
            final_eval: Some(EvalResult {
                mean: r,
                std: 0.0,
                returns: vec![r],
                mean_length: 100.0,
                term_means: [("forward".to_owned(), 1.5)].into(),
            }),
            host: "h".into(),
            device: "cpu".into(),
            scene: None,
        }),
        config: None,
    }
}

#[test]
fn curves_of_runs_with_different_lengths_align_on_one_grid() {
    let long = record(
        Algo::Sac,
        1,
        &[(10, 0.0), (20, 10.0), (30, 20.0), (40, 30.0)],
        None,
    );
    let short = record(Algo::Sac, 2, &[(10, 100.0), (20, 110.0)], None);
    // Evaluated at other steps: interpolated on the grid, nothing outside its span.
    let odd = record(Algo::Sac, 3, &[(15, 0.0), (35, 40.0)], None);
    let curves = [
        long.curve.as_slice(),
        short.curve.as_slice(),
        odd.curve.as_slice(),
    ];
    let grid = report::step_grid(&curves);
    assert_eq!(grid, vec![10, 20, 30, 40]);
    assert_eq!(
        report::on_grid(&odd.curve, &grid),
        vec![None, Some(10.0), Some(30.0), None]
    );
    let points = report::aggregate_curve(&[&long, &short, &odd], &grid);
    let runs: Vec<usize> = points.iter().map(|p| p.runs).collect();
    assert_eq!(runs, vec![2, 3, 2, 1]);
    assert_eq!(points[0].iqm, 50.0);
    assert_eq!(points[1].iqm, (10.0 + 110.0 + 10.0) / 3.0);
    assert_eq!(points[3].iqm, 30.0);
}

#[test]
fn metric_curves_average_each_run_within_bins_of_one_hundredth_of_the_longest_run() {
    // Logged every 100 steps up to 20 000: bins of 200 steps, two points each.
    let dense: Vec<(u64, f64)> = (1..=200).map(|k| (k * 100, k as f64)).collect();
    // Logged every 1000 steps (a thinned archive), to 10 000.
    let sparse: Vec<(u64, f64)> = (1..=10).map(|k| (k * 1000, -(k as f64))).collect();
    let grid = report::metric_grid(&[&dense, &sparse]);
    assert_eq!(grid.len(), 100);
    assert_eq!((grid[0], grid[99]), (200, 20_000));
    let d = report::binned(&dense, &grid);
    assert_eq!((d[0], d[1], d[99]), (Some(1.5), Some(3.5), Some(199.5)));
    // The sparse run: one point in every fifth bin, nothing after its last.
    let s = report::binned(&sparse, &grid);
    assert_eq!(
        (s[3], s[4], s[9], s[49], s[50]),
        (None, Some(-1.0), Some(-2.0), Some(-10.0), None)
    );
    // A bin boundary belongs to the bin it ends; step 0 to the first.
    assert_eq!(
        report::binned(&[(0, 1.0), (200, 3.0), (201, 10.0)], &grid)[..2],
        [Some(2.0), Some(10.0)]
    );
    // Points wider apart than 1% of the longest run set the width.
    let grid = report::metric_grid(&[&[(5000, 1.0), (10_000, 2.0)]]);
    assert_eq!(grid, vec![5000, 10_000]);
    assert!(report::metric_grid(&[]).is_empty());
}

#[test]
fn a_report_draws_curves_and_tables_from_run_folders() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    // Folders as `train` and `sweep` write them: config.toml, metrics.csv, summary.toml.
    let finals = [
        (Algo::Virel, [300.0, 500.0, 400.0]),
        (Algo::Sac, [100.0, 200.0, 600.0]),
        // Below what random actions get on the hopper.
        (Algo::Td3, [1.0, 2.0, 3.0]),
    ];
    for (algo, returns) in finals {
        for (i, r) in returns.iter().enumerate() {
            let seed = i as u64 + 1;
            let d = runs.join(format!("hopper__{algo}__default__{seed}"));
            std::fs::create_dir_all(&d).unwrap();
            let mut cfg = virel_lab::training::config::TrainConfig::for_env("hopper");
            cfg.algo = algo;
            cfg.seed = seed;
            std::fs::write(d.join("config.toml"), cfg.to_toml()).unwrap();
            let rec = record(algo, seed, &[(1000, r / 2.0), (2000, *r)], Some(*r));
            std::fs::write(
                d.join("summary.toml"),
                toml::to_string(rec.summary.as_ref().unwrap()).unwrap(),
            )
            .unwrap();
            std::fs::write(
                d.join("metrics.csv"),
                format!(
                    "step,wall_time,metric,value\n500,0.1,charts/episodic_return,3\n\
                     1000,0.2,eval/episodic_return,{}\n2000,0.3,eval/episodic_return,{r}\n{}",
                    r / 2.0,
                    if algo == Algo::Virel {
                        (1..=20)
                            .map(|k| format!("{},0.4,virel/epsilon,{}\n", k * 100, seed * k))
                            .collect::<String>()
                    } else {
                        String::new()
                    }
                ),
            )
            .unwrap();
        }
    }
    let out = dir.path().join("report");
    let o = virel(&[
        "report",
        runs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    // VIREL: mean 400 (IQM = mean with 3 seeds); SAC: 300. P(VIREL > SAC) = 6/9.
    assert!(md.contains("| VIREL | 3/3 | 2000 | 400 | 400 |"), "{md}");
    assert!(md.contains("| SAC | 3/3 | 2000 | 300 | 300 |"), "{md}");
    assert!(md.contains("| VIREL | 0.67 |"), "{md}");
    // Forward velocity: the `forward` term (1.5) over the hopper's weight (1).
    assert!(md.contains("1.50 m/s"), "{md}");
    // The random policy's row, and who does not beat it.
    let random = virel_lab::envs::random_policy::random_gait(
        "hopper",
        virel_lab::study::report::RANDOM_POLICY_STEPS,
        0,
    )
    .unwrap();
    assert!(random.mean_return > 3.0, "{random:?}");
    assert!(
        md.contains(&format!(
            "| random policy | | 20000 | | {:.0} | | {:.2} m/s | {:.0} |",
            random.mean_return, random.mean_velocity, random.mean_length
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "**Not above the random policy's mean return ({:.0}): TD3.**",
            random.mean_return
        )),
        "{md}"
    );
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("hopper,VIREL,3,3,2000,2000,400,")),
        "{csv}"
    );
    let png = std::fs::read(out.join("curves-hopper.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    let svg = std::fs::read_to_string(out.join("curves-hopper.svg")).unwrap();
    assert!(svg.contains("VIREL (3 seeds)") && svg.contains("SAC (3 seeds)"));

    // Into a readme, between its markers, with the pictures linked from the readme's folder.
    let readme = dir.path().join("README.md");
    std::fs::write(
        &readme,
        "# Title\n<!-- report:begin -->\nthe former report\n<!-- report:end -->\ntail\n",
    )
    .unwrap();
    let o = virel(&[
        "report",
        runs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--readme",
        readme.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(text.starts_with("# Title\n<!-- report:begin -->\n"));
    assert!(text.ends_with("<!-- report:end -->\ntail\n"));
    assert!(text.contains("](report/curves-hopper.png)") && !text.contains("the former report"));

    // Against another baseline: P(SAC > VIREL) = 3/9 (only SAC's 600 beats VIREL's runs).
    // The same runs and folder, with one more flag.
    let with = |flag: &'static str, value: &'static str| {
        let (runs, out) = (runs.to_str().unwrap(), out.to_str().unwrap());
        ["report", runs, "--out", out, flag, value]
    };
    let report_with = |flag, value| virel(&with(flag, value));
    let o = report_with("--baseline", "VIREL");
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(
        md.contains("### Probability of improvement over VIREL"),
        "{md}"
    );
    assert!(
        md.contains("| SAC | 0.33 |") && md.contains("| TD3 | 0.00 |"),
        "{md}"
    );
    assert!(!md.contains("| VIREL | 0.67 |"), "{md}");
    // A training metric's curves, for the runs that log it (VIREL's ε_ω, not SAC's).
    let o = report_with("--metric", "virel/epsilon");
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(
        md.contains("![hopper: virel/epsilon](curves-hopper-virel-epsilon.png)"),
        "{md}"
    );
    let svg = std::fs::read_to_string(out.join("curves-hopper-virel-epsilon.svg")).unwrap();
    assert!(
        svg.contains("VIREL (3 seeds)") && !svg.contains("SAC (") && svg.contains("virel/epsilon"),
        "{svg}"
    );
    let png = std::fs::read(out.join("curves-hopper-virel-epsilon.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    let refused = |flag, value, wants: &[&str]| fails_with(&with(flag, value), wants);
    refused(
        "--metric",
        "virel/epsilom",
        &[
            "--metric \"virel/epsilom\": no run logs it",
            "charts/episodic_return, eval/episodic_return, virel/epsilon",
        ],
    );
    refused(
        "--baseline",
        "PPO",
        &[
            "--baseline \"PPO\": no run is labelled so",
            "SAC, TD3, VIREL",
        ],
    );
}

#[test]
fn report_refuses_what_is_not_a_run_folder_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = virel(&["report", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("holds no run folder"), "{}", stderr(&o));
    let run = dir.path().join("r");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("config.toml"), "algo = \"ppo\"\n").unwrap();
    let o = virel(&[
        "report",
        run.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert!(
        stderr(&o).contains("config.toml: not a run config"),
        "{}",
        stderr(&o)
    );
    std::fs::write(run.join("config.toml"), "algo = \"sac\"\n").unwrap();
    std::fs::write(
        run.join("metrics.csv"),
        "step,wall_time,metric,value\nx,1,eval/episodic_return,3\n",
    )
    .unwrap();
    let o = virel(&[
        "report",
        run.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert!(stderr(&o).contains("metrics.csv line 2"), "{}", stderr(&o));
}

#[test]
fn two_pools_on_one_sweep_share_its_cells_without_failing() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_sweep(dir.path(), 1000, "");
    let f = file.to_str().unwrap();
    let pool = || {
        Command::new(env!("CARGO_BIN_EXE_virel-lab"))
            .args(["sweep", f, "--local", "-j", "1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (pool(), pool());
    for p in [a, b] {
        let o = p.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{text}{}", stderr(&o));
        assert!(!text.contains("FAILED"), "{text}");
    }
    let s = Sweep::load(&file).unwrap();
    for c in &s.cells {
        let st = s.state(c).unwrap();
        assert!(matches!(st, CellState::Done { .. }), "{}: {st}", c.name());
    }
}

#[test]
fn a_run_differs_from_another_only_in_what_its_own_algorithm_reads() {
    use virel_lab::training::config::TrainConfig;
    let mut sac = TrainConfig::for_env("hopper");
    sac.algo = Algo::Sac;
    let mut changed = sac.clone();
    changed.agents.virel.reward_scale = 0.5;
    changed.agents.td3.policy_noise = 0.3;
    assert!(
        sac.differences(&changed).is_empty(),
        "VIREL's and TD3's tables do not make a SAC run another"
    );
    changed.agents.sac.batch_size = 64;
    assert_eq!(sac.differences(&changed), vec!["sac.batch_size".to_owned()]);
    let mut virel = sac.clone();
    virel.algo = Algo::Virel;
    let mut scaled = virel.clone();
    scaled.agents.virel.reward_scale = 0.5;
    assert_eq!(
        virel.differences(&scaled),
        vec!["virel.reward_scale".to_owned()]
    );
    // β is read by β-VIREL only: VIREL runs that differ there are the same run.
    let mut beta = virel.clone();
    beta.agents.virel.beta_scale = 4e-4;
    assert!(virel.differences(&beta).is_empty());
    let (mut b1, mut b2) = (virel.clone(), beta.clone());
    b1.algo = Algo::BetaVirel;
    b2.algo = Algo::BetaVirel;
    assert_eq!(b1.differences(&b2), vec!["virel.beta_scale".to_owned()]);
}

#[test]
fn a_cell_whose_folder_holds_another_run_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_sweep(dir.path(), 200, "");
    let f = file.to_str().unwrap();
    let out = virel(&["sweep", f, "--cell", "0", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The sweep file changes what cell 0 (SAC) reads, and what it does not.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("[set]\n", "[set]\n\"sac.tau\" = 0.01\n\"td3.tau\" = 0.01\n"),
    )
    .unwrap();
    let s = Sweep::load(&file).unwrap();
    let st = s.state(&s.cells[0]).unwrap();
    assert_eq!(
        st,
        CellState::Foreign {
            keys: vec!["sac.tau".to_owned()]
        }
    );
    let before = common::contents(&s.dir(&s.cells[0]));
    let dry = virel(&["sweep", f, "--slurm", "--dry-run"]);
    assert!(String::from_utf8_lossy(&dry.stdout).contains("#SBATCH --array=1-3\n"));
    let out = virel(&["sweep", f, "--local", "-j", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAILED pendulum__sac__default__1 holds another run (differs in sac.tau)"),
        "{text}"
    );
    assert_eq!(
        common::contents(&s.dir(&s.cells[0])),
        before,
        "left as it was"
    );
}

#[test]
fn a_cell_that_died_before_its_first_checkpoint_is_moved_aside_and_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let file = tiny_sweep(dir.path(), 200, "");
    let s = Sweep::load(&file).unwrap();
    let cell = s.dir(&s.cells[0]);
    std::fs::create_dir_all(&cell).unwrap();
    std::fs::write(cell.join("config.toml"), s.cells[0].config.to_toml()).unwrap();
    std::fs::write(cell.join("metrics.csv"), "step,wall_time,metric,value\n").unwrap();
    assert_eq!(s.state(&s.cells[0]).unwrap(), CellState::Stale);
    let out = virel(&["sweep", file.to_str().unwrap(), "--cell", "0", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(matches!(
        s.state(&s.cells[0]).unwrap(),
        CellState::Done { .. }
    ));
    let aside: Vec<_> = std::fs::read_dir(&s.out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{}.stale-", s.cells[0].name())))
        .collect();
    assert_eq!(aside.len(), 1, "the dead run is kept beside: {aside:?}");
    let kept = s.out.join(&aside[0]);
    assert!(kept.join("config.toml").is_file() && kept.join("metrics.csv").is_file());
}

#[test]
fn a_cell_whose_robot_changed_is_neither_done_nor_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sweep.toml");
    std::fs::write(
        &file,
        "name = \"robot\"\nout = \"runs\"\narchive = \"kept\"\nsteps = 200\nenvs = [\"hopper\"]\n\
         algos = [\"sac\"]\nseeds = [1]\n[set]\neval_every = 0\neval_episodes = 1\n\
         checkpoint_every = 100\ndevice = \"cpu\"\ntensorboard = false\n\
         \"sac.learning_starts\" = 100\n\"sac.hidden\" = [16, 16]\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let s = Sweep::load(&file).unwrap();
    let out = virel(&["sweep", f, "--cell", "0", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hopper = virel_lab::envs::ResolvedEnv::resolve("hopper").unwrap();
    let now = hopper.fingerprint().unwrap();
    let CellState::Done { summary } = s.state(&s.cells[0]).unwrap() else {
        panic!("cell 0 did not finish")
    };
    assert_eq!(
        summary.scene.as_deref(),
        Some(now),
        "the run records its robot"
    );

    // The same summary, as if the hopper's scene had changed since the run.
    let other = |summary: &Path| {
        let text = std::fs::read_to_string(summary).unwrap();
        let edited = text.replace(&format!("scene = \"{now}\""), "scene = \"00000000\"");
        assert_ne!(edited, text, "{text}");
        std::fs::write(summary, edited).unwrap();
    };
    let run = s.dir(&s.cells[0]);
    other(&run.join("summary.toml"));
    let state = s.state(&s.cells[0]).unwrap();
    assert!(
        matches!(&state, CellState::Foreign { keys } if keys[0].starts_with("scene")),
        "{state}"
    );
    let before = common::contents(&run);
    let out = virel(&["sweep", f, "--cell", "0", "--quiet"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("scene (the robot"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        common::contents(&run),
        before,
        "the folder is left as it was"
    );

    // A fresh clone: the archived run counts as done while its robot is the same, not after.
    std::fs::remove_dir_all(&run).unwrap();
    assert!(matches!(
        s.state(&s.cells[0]).unwrap(),
        CellState::Archived { .. }
    ));
    other(
        &dir.path()
            .join("kept")
            .join(s.cells[0].name())
            .join("summary.toml"),
    );
    assert_eq!(s.state(&s.cells[0]).unwrap(), CellState::New);
}

/// A tuning sweep on Pendulum: SAC with two variants of its own, VIREL with one.
fn tuning_sweep(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("tune.toml");
    std::fs::write(
        &file,
        r#"name = "tune"
out = "runs"
archive = "kept"
steps = 300
envs = ["pendulum"]
algos = ["sac", "virel"]
seeds = [1, 2]
[set]
"sac.learning_starts" = 100
"virel.learning_starts" = 100
[select]
last_evals = 2
normalise = "min-max"
aggregate = "mean"
out = "picks.toml"
[variants.sac-slow]
algos = ["sac"]
"sac.q_lr" = 1e-4
[variants.sac-fast]
algos = ["sac"]
"sac.q_lr" = 1e-3
[variants.virel-rs]
algos = ["virel"]
"virel.reward_scale" = 0.3
"#,
    )
    .unwrap();
    file
}

/// Writes a finished cell into the sweep's archive as a run would: its config, a summary,
/// and evaluations (and ε_ω for VIREL) in `metrics.csv`.
fn archive_finished(s: &Sweep, cell: &sweep::Cell, evals: &[f64], epsilon: &[f64]) {
    let dir = s.archive.as_ref().unwrap().join(cell.name());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), cell.config.to_toml()).unwrap();
    let mut summary = record(cell.algo, cell.seed, &[(300, 0.0)], Some(0.0))
        .summary
        .unwrap();
    summary.env = "pendulum".into();
    std::fs::write(dir.join("summary.toml"), toml::to_string(&summary).unwrap()).unwrap();
    let mut csv = String::from("step,wall_time,metric,value\n");
    for (k, e) in evals.iter().enumerate() {
        csv += &format!("{},0,eval/episodic_return,{e}\n", 100 * (k + 1));
    }
    for (k, e) in epsilon.iter().enumerate() {
        csv += &format!("{},0,virel/epsilon,{e}\n", 10 + 100 * k);
    }
    std::fs::write(dir.join("metrics.csv"), csv).unwrap();
}

#[test]
fn variants_limited_to_some_algorithms_make_cells_of_those_algorithms_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = Sweep::load(&tuning_sweep(dir.path())).unwrap();
    let names: Vec<String> = s.cells.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "pendulum__sac__sac-fast__1",
            "pendulum__virel__virel-rs__1",
            "pendulum__sac__sac-slow__1",
            "pendulum__sac__sac-fast__2",
            "pendulum__virel__virel-rs__2",
            "pendulum__sac__sac-slow__2",
        ]
    );
    let fast = &s.cells[0];
    assert_eq!(fast.config.agents.sac.q_lr, 1e-3);
    assert_eq!(s.cells[1].config.agents.virel.reward_scale, 0.3);

    let base = "name = \"s\"\nout = \"r\"\nsteps = 100\nenvs = [\"pendulum\"]\nalgos = [\"sac\", \"td3\"]\nseeds = [1]\n";
    for (i, (extra, needles)) in [
        (
            "[variants.a]\nalgos = [\"virel\"]\n",
            &[
                "[variants.a] algos",
                "'virel' is not one of the sweep's algos",
            ][..],
        ),
        (
            "[variants.a]\nalgos = [\"sac\"]\n",
            &["no variant applies to 'td3'"][..],
        ),
        ("[variants.a]\nalgos = []\n", &["non-empty list"][..]),
        (
            "[variants.a]\nalgos = [\"ppo\"]\n",
            &["\"ppo\" is not an algorithm"][..],
        ),
        (
            "[variants_from]\nfile = \"missing.toml\"\ntake = [\"x\"]\n",
            &["[variants_from] file", "missing.toml"][..],
        ),
        ("[select]\nlast_evals = 3\n", &["missing field"][..]),
    ]
    .iter()
    .enumerate()
    {
        let file = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&file, format!("{base}{extra}")).unwrap();
        let err = format!("{:#}", Sweep::load(&file).unwrap_err());
        for n in *needles {
            assert!(err.contains(n), "case {i}: '{err}' lacks '{n}'");
        }
        assert!(err.contains(&format!("bad{i}.toml")), "case {i}: {err}");
    }
}

#[test]
fn the_selection_rule_picks_each_algorithms_best_variant_and_another_sweep_takes_the_picks() {
    let dir = tempfile::tempdir().unwrap();
    let file = tuning_sweep(dir.path());
    let s = Sweep::load(&file).unwrap();
    // Unfinished: the rule refuses, naming the cells, and writes nothing.
    let err = format!("{:#}", select::select(&s).unwrap_err());
    assert!(err.contains("6 of 6 cells have not finished"), "{err}");
    assert!(!dir.path().join("picks.toml").exists());

    // sac-fast is better on both seeds by its last two evaluations, though its first one is
    // the worst of all (only the last two count).
    let evals = |name: &str, seed: u64| -> Vec<f64> {
        match (name, seed) {
            ("sac-fast", 1) => vec![-2000.0, -300.0, -200.0],
            ("sac-fast", _) => vec![-1500.0, -390.0, -350.0],
            ("sac-slow", 1) => vec![-300.0, -900.0, -800.0],
            ("sac-slow", _) => vec![-300.0, -1000.0, -700.0],
            _ => vec![-600.0, -500.0, -400.0],
        }
    };
    for c in &s.cells {
        let eps: &[f64] = if c.seed == 1 {
            &[1.0, 0.2, 0.3, 0.25]
        } else {
            &[1.0, 0.7, 0.8, 0.75]
        };
        archive_finished(&s, c, &evals(&c.variant, c.seed), eps);
    }
    let table = select::select(&s).unwrap();
    assert!(table.contains("| SAC | sac-fast | 2 |"), "{table}");
    let picks = std::fs::read_to_string(dir.path().join("picks.toml")).unwrap();
    // Scores: the mean of the last two; min-max over the robot's six runs (-250 the highest,
    // -850 the lowest): sac-fast 1 and 0.8, mean 0.9; sac-slow 0 and 0.
    let standings = select::standings(
        &s.cells
            .iter()
            .map(|c| {
                report::read_run(&s.archive.as_ref().unwrap().join(c.name()), &[])
                    .unwrap()
                    .0
            })
            .collect::<Vec<_>>(),
        s.select.as_ref().unwrap(),
    )
    .unwrap();
    let value = |v: &str| standings.iter().find(|s| s.variant == v).unwrap().value;
    assert!((value("sac-fast") - 0.9).abs() < 1e-12, "{standings:?}");
    assert_eq!(value("sac-slow"), 0.0);
    assert!(
        picks.contains("[variants.tuned-sac]\n# picked: sac-fast"),
        "{picks}"
    );
    assert!(picks.contains("\"sac.q_lr\" = 1e-3"), "{picks}");
    assert!(
        picks.contains("[variants.tuned-virel]\n# picked: virel-rs"),
        "{picks}"
    );
    // ε_ω after learning starts (step 100): each run's median (0.25, 0.75), then the median
    // over runs.
    assert!(picks.contains("[variants.frozen-virel]"), "{picks}");
    assert!(
        picks.contains("\"virel.fixed_temperature\" = 5e-1"),
        "{picks}"
    );

    // Another sweep takes the picks by name.
    let test = dir.path().join("test.toml");
    std::fs::write(
        &test,
        "name = \"t\"\nout = \"t\"\nsteps = 100\nenvs = [\"pendulum\"]\nalgos = [\"sac\", \"virel\"]\nseeds = [1]\n[variants_from]\nfile = \"picks.toml\"\ntake = [\"tuned-sac\", \"frozen-virel\"]\n",
    )
    .unwrap();
    let t = Sweep::load(&test).unwrap();
    let names: Vec<String> = t.cells.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "pendulum__sac__tuned-sac__1",
            "pendulum__virel__frozen-virel__1"
        ]
    );
    assert_eq!(t.cells[0].config.agents.sac.q_lr, 1e-3);
    assert_eq!(t.cells[1].config.agents.virel.fixed_temperature, 0.5);
    assert_eq!(t.cells[1].config.agents.virel.reward_scale, 0.3);
    std::fs::write(
        &test,
        "name = \"t\"\nout = \"t\"\nsteps = 100\nenvs = [\"pendulum\"]\nalgos = [\"sac\"]\nseeds = [1]\n[variants_from]\nfile = \"picks.toml\"\ntake = [\"tuned-td3\"]\n",
    )
    .unwrap();
    let err = format!("{:#}", Sweep::load(&test).unwrap_err());
    assert!(err.contains("has no [variants.tuned-td3]"), "{err}");
}

#[test]
fn the_fair_tests_sweep_files_share_their_matched_settings() {
    let study = Path::new(env!("CARGO_MANIFEST_DIR")).join("studies/fair-test");
    let set = |name: &str| -> toml::Value {
        let text = std::fs::read_to_string(study.join(name)).unwrap();
        let t: toml::Table = toml::from_str(&text).unwrap();
        t["set"].clone()
    };
    let tuning = set("tuning.toml");
    for other in ["test.toml", "controls.toml"] {
        assert_eq!(
            set(other),
            tuning,
            "{other}'s [set] differs from tuning.toml's"
        );
    }
    let s = Sweep::load(&study.join("tuning.toml")).unwrap();
    assert_eq!(s.cells.len(), 96);
    for algo in [Algo::Virel, Algo::BetaVirel, Algo::Sac] {
        let variants: std::collections::BTreeSet<&str> = s
            .cells
            .iter()
            .filter(|c| c.algo == algo)
            .map(|c| c.variant.as_str())
            .collect();
        assert_eq!(variants.len(), 8, "{algo}: an equal tuning budget");
    }
    // Every arm's shared settings are equal, whatever its tuned knobs.
    for c in &s.cells {
        let a = &c.config.agents;
        let (hidden, batch, tau, lr, starts) = match c.algo {
            Algo::Sac => (
                &a.sac.hidden,
                a.sac.batch_size,
                a.sac.tau,
                a.sac.policy_lr,
                a.sac.learning_starts,
            ),
            _ => (
                &a.virel.hidden,
                a.virel.batch_size,
                a.virel.tau,
                a.virel.policy_lr,
                a.virel.learning_starts,
            ),
        };
        assert_eq!(
            (hidden.as_slice(), batch, tau, lr, starts),
            (&[256, 256][..], 256, 0.005, 3e-4, 5000),
            "{}",
            c.name()
        );
        assert_eq!(a.sac.policy_frequency, 1);
    }
}

#[test]
fn the_statistics_equal_scipys_and_numpys_on_fixed_inputs() {
    // scipy 1.x: stats.trim_mean(x, 0.25); stats.mannwhitneyu(a, b).statistic / (n·m);
    // numpy.percentile (linear).
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    let x = [3.1, -2.0, 7.5, 0.25, 9.0, 4.4, -1.5, 6.0, 2.2];
    assert!(
        close(stats::iqm(&x), 3.1900000000000004),
        "{}",
        stats::iqm(&x)
    );
    assert!(close(
        stats::iqm(&[10.0, 12.5, 9.0, 30.0, 11.0, 13.0, 8.0]),
        11.1
    ));
    let (a, b) = (vec![5.0, 7.0, 7.0, 9.0, 12.0], vec![6.0, 7.0, 8.0, 10.0]);
    assert!(close(stats::pairwise_improvement(&a, &b), 0.5));
    let (a2, b2) = (vec![1.0, 2.0, 3.0], vec![2.5, 0.5, 3.0, 1.0]);
    assert!(close(
        stats::pairwise_improvement(&a2, &b2),
        0.5833333333333334
    ));
    // Over tasks: the mean of the tasks' values.
    let p = stats::probability_of_improvement(&[a, a2], &[b, b2]);
    assert!(close(p, (0.5 + 0.5833333333333334) / 2.0), "{p}");
    let sorted = [1.0, 2.5, 4.0, 7.0, 10.0];
    assert!(close(stats::percentile(&sorted, 2.5), 1.15));
    assert!(close(stats::percentile(&sorted, 97.5), 9.7));
}
