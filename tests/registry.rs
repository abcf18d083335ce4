//! The algorithm registry: every entry trains (to the returns it gave before the registry),
//! checkpoints, resumes, reports, offers knobs that exist in its config, and is in the app's
//! menu and `train --help`.

mod common;
use common::{stderr, virel};
use virel_lab::rl::{Algo, AlgoConfigs};
use virel_lab::training::config::TrainConfig;

/// The deterministic return of a 1200-step Pendulum run per algorithm (seed 3, 32-32
/// networks, learning from step 400, β-VIREL's β at its former default 4e-4), as the code
/// before the registry gave it, bit for bit.
const PINNED: [(Algo, f64); 4] = [
    (Algo::Virel, -1412.0977986454964),
    (Algo::BetaVirel, -1730.6789125800133),
    (Algo::Sac, -1640.5289188027382),
    (Algo::Td3, -1593.681701183319),
];

fn tiny_run(
    algo: Algo,
    out: &std::path::Path,
    steps: &str,
    checkpoint_every: &str,
) -> std::process::Output {
    let table = algo.config_table();
    virel(&[
        "train",
        "--env",
        "pendulum",
        "--algo",
        algo.name(),
        "--steps",
        steps,
        "--seed",
        "3",
        "--device",
        "cpu",
        "--eval-every",
        "0",
        "--eval-episodes",
        "2",
        "--checkpoint-every",
        checkpoint_every,
        "--quiet",
        "--set",
        "virel.beta_scale=0.0004",
        "--set",
        &format!("{table}.learning_starts=400"),
        "--set",
        &format!("{table}.hidden=[32,32]"),
        "--out",
        out.to_str().unwrap(),
    ])
}

fn final_mean(dir: &std::path::Path) -> (u64, f64) {
    let s: virel_lab::training::RunSummary =
        toml::from_str(&std::fs::read_to_string(dir.join("summary.toml")).unwrap()).unwrap();
    (s.env_steps, s.final_eval.unwrap().mean)
}

#[test]
fn every_registered_algorithm_trains_to_its_pinned_return_checkpoints_resumes_and_reports() {
    assert_eq!(
        PINNED.map(|p| p.0),
        Algo::ALL,
        "a new algorithm gets a pinned run here"
    );
    let dir = tempfile::tempdir().unwrap();
    for (algo, pinned) in PINNED {
        let straight = dir
            .path()
            .join(format!("pendulum__{}__default__3", algo.name()));
        let o = tiny_run(algo, &straight, "1200", "10000");
        assert!(o.status.success(), "{algo}: {}", stderr(&o));
        assert_eq!(
            final_mean(&straight),
            (1200, pinned),
            "{algo}: the same seed, the same return"
        );

        // A checkpoint reseeds torch: a run cut at its checkpoint at 600 steps and resumed
        // ends as the same run with that checkpoint uncut.
        let whole = dir.path().join(format!("whole-{}", algo.name()));
        let o = tiny_run(algo, &whole, "1200", "600");
        assert!(o.status.success(), "{algo}: {}", stderr(&o));
        let cut = dir.path().join(format!("cut-{}", algo.name()));
        let o = tiny_run(algo, &cut, "600", "600");
        assert!(o.status.success(), "{algo}: {}", stderr(&o));
        let checkpoints = virel_lab::training::checkpoint::list(&cut).unwrap();
        assert_eq!(checkpoints.len(), 1, "{algo}: a checkpoint at 600 steps");
        let o = virel(&[
            "train",
            "--resume",
            cut.to_str().unwrap(),
            "--steps",
            "1200",
            "--quiet",
        ]);
        assert!(o.status.success(), "{algo}: {}", stderr(&o));
        assert_eq!(
            final_mean(&cut),
            final_mean(&whole),
            "{algo}: resumed, the same run"
        );
        std::fs::remove_dir_all(&cut).unwrap();
        std::fs::remove_dir_all(&whole).unwrap();
    }
    let out = dir.path().join("report");
    let o = virel(&[
        "report",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    for algo in Algo::ALL {
        assert!(
            md.contains(&format!("| {} | 1/1 | 1200 |", algo.display_name())),
            "{algo} in the report: {md}"
        );
    }
}

#[test]
fn every_registered_algorithm_is_in_the_apps_menu_and_train_help_and_its_knobs_exist() {
    let menu = virel_lab::app::overlay::algorithm_menu();
    assert_eq!(menu.iter().map(|m| m.0).collect::<Vec<_>>(), Algo::ALL);
    let help = String::from_utf8(virel(&["train", "--help"]).stdout).unwrap();
    let agents = toml::Value::try_from(AlgoConfigs::default()).unwrap();
    for algo in Algo::ALL {
        let info = algo.info();
        assert!(help.contains(info.name), "{algo} in train --help: {help}");
        assert!(menu.iter().any(|m| m.1.starts_with(info.display_name)));
        let table = agents
            .get(info.config_table)
            .unwrap_or_else(|| panic!("{algo}: no [{}] table in the config", info.config_table));
        for knob in info.knobs {
            let v = table
                .get(knob.key)
                .unwrap_or_else(|| panic!("{algo}: knob '{}' is no config key", knob.key));
            assert!(knob.kind.fits(v), "{algo}: knob '{}' is a {v:?}", knob.key);
            if let Some((key, _)) = knob.shown_if {
                assert!(table.get(key).is_some(), "{algo}: '{key}' is no config key");
            }
        }
        if let Some(key) = info.fixed_temperature_key {
            let mut b =
                virel_lab::training::config::ConfigBuilder::new(None, Some("pendulum")).unwrap();
            b.set(&format!("{key}=0.5")).unwrap();
            b.build().unwrap();
        }
        let cfg = TrainConfig::for_env("pendulum");
        let shape = (info.shape)(&cfg.agents);
        assert_eq!(
            shape.replay.learning_starts, 1000,
            "{algo}: Pendulum's preset"
        );
    }
}
