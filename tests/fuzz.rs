//! Property-based fuzzing, bounded in time: the config and checkpoint parsers answer any
//! input with a value or an error, never a panic or a crash; config keys and scene numbers
//! set to values out of range or non-finite get a named error or a run that works, and never
//! change a run folder that exists.

mod common;
use common::contents;

use proptest::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::OnceLock;
use virel_lab::rl::Algo;
use virel_lab::training::checkpoint;
use virel_lab::training::config::{ConfigBuilder, DeviceChoice, TrainConfig};

fn parse_config(text: &str, sets: &[String]) -> anyhow::Result<TrainConfig> {
    let mut b = ConfigBuilder::from_text(text, "fuzz.toml", None)?;
    for s in sets {
        b.set(s)?;
    }
    b.build()
}

/// A real config file, to mutate.
fn valid_config() -> String {
    let mut cfg = TrainConfig::for_env("identity");
    cfg.algo = Algo::Td3;
    cfg.to_toml()
}

/// A real checkpoint, to mutate.
fn valid_checkpoint() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let mut cfg = TrainConfig::for_env("identity");
        cfg.algo = Algo::Sac;
        cfg.device = DeviceChoice::Cpu;
        cfg.agents.sac.hidden = vec![4];
        cfg.agents.sac.buffer_size = 64;
        let mut t = common::trainer(cfg).unwrap();
        for _ in 0..20 {
            t.step().unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        t.save(&path).unwrap();
        std::fs::read(path).unwrap()
    })
}

fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() >= 4 {
        let body = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn config_parser_takes_arbitrary_text(text in "\\PC{0,300}") {
        let _ = parse_config(&text, &[]);
    }

    #[test]
    fn config_parser_takes_mutated_configs(line in 0usize..60, replacement in "[a-z_\\[\\]=.\"0-9 -]{0,30}") {
        let mut lines: Vec<String> = valid_config().lines().map(str::to_owned).collect();
        let i = line % lines.len();
        lines[i] = replacement;
        let _ = parse_config(&lines.join("\n"), &[]);
    }

    #[test]
    fn set_flag_takes_arbitrary_assignments(key in "[a-z_.]{0,24}", value in "\\PC{0,24}") {
        let _ = parse_config("", &[format!("{key}={value}")]);
    }

    #[test]
    fn checkpoint_parser_takes_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut with_magic = b"VIRELCKP\x02\x00\x00\x00".to_vec();
        with_magic.extend_from_slice(&bytes);
        prop_assert!(checkpoint::parse(&bytes).is_err());
        let _ = checkpoint::parse(&with_crc(with_magic));
    }

    #[test]
    fn checkpoint_parser_takes_damaged_checkpoints(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>(), fix_crc in any::<bool>()) {
        let mut bytes = valid_checkpoint().to_vec();
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x | 1;
        }
        if fix_crc {
            // Past the checksum, into the header and the tensor archive.
            let _ = checkpoint::parse(&with_crc(bytes.clone()));
        } else {
            prop_assert!(checkpoint::parse(&bytes).is_err());
        }
        let keep = cut.index(bytes.len());
        prop_assert!(checkpoint::parse(&valid_checkpoint()[..keep]).is_err());
    }
}

/// Values that break assumptions: non-finite, negative, zero, huge, just out of range.
const HOSTILE: &[&str] = &[
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e30",
    "-1e30",
    "1.5",
    "2",
    "9223372036854775807",
    "-9223372036854775808",
    "0.5",
    "[]",
    "[0]",
    "[-1, 8]",
    "\"x\"",
    "true",
];

/// Every key of the identity preset's config but `torch_threads` (a test process keeps one
/// thread count), with dotted names.
fn config_keys() -> &'static [String] {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let table = toml::Table::try_from(TrainConfig::for_env("identity")).unwrap();
        let mut keys = Vec::new();
        for (k, v) in table {
            match v {
                toml::Value::Table(t) => keys.extend(t.keys().map(|s| format!("{k}.{s}"))),
                _ if k == "torch_threads" || k == "env" => {}
                _ => keys.push(k),
            }
        }
        keys
    })
}

/// A finished tiny run that the hostile configs must leave as it is.
fn existing_run() -> &'static (tempfile::TempDir, PathBuf) {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let _torch = common::torch_lock();
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut cfg = TrainConfig::for_env("identity");
        cfg.algo = Algo::Td3;
        cfg.device = DeviceChoice::Cpu;
        cfg.steps = 150;
        cfg.eval_episodes = 1;
        cfg.tensorboard = false;
        cfg.agents.set_hidden(&[4]);
        common::run(cfg, &run).unwrap();
        (dir, run)
    })
}

/// Numbers in a scene's text: (start, end) byte ranges.
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if starts {
            let from = if i > 0 && bytes[i - 1] == b'-' {
                i - 1
            } else {
                i
            };
            let mut j = i;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || b".eE-".contains(&bytes[j])) {
                j += 1;
            }
            found.push((from, j));
            i = j;
        } else {
            i += 1;
        }
    }
    found
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_config_values_get_a_named_error_or_a_working_run_and_spare_existing_runs(
        key in any::<prop::sample::Index>(),
        value in prop::sample::select(HOSTILE),
        algo in prop::sample::select(&Algo::ALL[..]),
    ) {
        let key = &config_keys()[key.index(config_keys().len())];
        let (_dir, existing) = existing_run();
        let before = contents(existing);
        let built = parse_config(
            &format!("env = \"identity\"\nalgo = \"{algo}\"\ndevice = \"cpu\"\n"),
            &[format!("{key}={value}")],
        );
        let mut cfg = match built {
            Err(e) => {
                let e = format!("{e:#}");
                prop_assert!(
                    e.contains(&format!("key '{key}'")) || e.contains(&format!("{key} must be"))
                        || e.contains(&format!("{key} = ")) || e.contains(&format!("'{key}' must be")),
                    "{key}={value}: the error names the key: {e}"
                );
                return Ok(());
            }
            Ok(cfg) => cfg,
        };
        // A short run of what was accepted: it works or fails with an error, never a panic.
        // Short: a high update ratio only repeats the same code.
        cfg.steps = cfg.steps.min(40);
        cfg.updates_per_step = cfg.updates_per_step.min(2.0);
        if !key.ends_with("learning_starts") {
            cfg.agents.set_learning_starts(20);
        }
        cfg.eval_episodes = cfg.eval_episodes.min(2);
        cfg.tensorboard = false;
        let _torch = common::torch_lock();
        let fresh = tempfile::tempdir().unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let _ = common::run(cfg.clone(), &fresh.path().join("run"));
            common::run(cfg.clone(), existing)
        }));
        prop_assert!(outcome.is_ok(), "{key}={value} panicked");
        prop_assert!(outcome.unwrap().is_err(), "a run folder that holds a run is refused");
        prop_assert_eq!(before, contents(existing), "{}={} changed the existing run", key, value);
    }

    #[test]
    fn hostile_scene_numbers_get_a_named_error_or_physics_that_steps(
        which in 0usize..3,
        at in any::<prop::sample::Index>(),
        value in prop::sample::select(&["NaN", "inf", "-inf", "-1.0", "0.0", "1e30", "-1e30", "1e-30", "1e6", "4294967296"][..]),
    ) {
        let name = ["hopper", "half_cheetah", "ant"][which];
        let text = virel_lab::scene::builtin(name).unwrap();
        let spots = numbers(text);
        let (from, to) = spots[at.index(spots.len())];
        let mutated = format!("{}{value}{}", &text[..from], &text[to..]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mutant.ron");
        std::fs::write(&path, &mutated).unwrap();
        let path = path.to_str().unwrap().to_owned();
        let outcome = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<()> {
            let mut one = virel_lab::envs::make(&path)?;
            virel_lab::envs::check_steps(one.as_mut())?;
            let mut fleet = virel_lab::envs::ResolvedEnv::resolve(&path)?.make_vec(2)?;
            fleet.reset(3);
            let space = fleet.action_space().clone();
            let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3);
            for _ in 0..30 {
                let a = space.sample_uniform(&mut rng, 2);
                fleet.step(&a);
            }
            Ok(())
        }));
        let line = mutated[..from].matches('\n').count() + 1;
        match outcome {
            Err(_) => prop_assert!(false, "{name} line {line}: {value} panicked"),
            Ok(Err(e)) => {
                let e = format!("{e:#}");
                prop_assert!(e.contains("mutant.ron") || e.contains("physics") || e.contains("reward"), "{name} line {line} = {value}: unnamed error {e}");
            }
            Ok(Ok(())) => {}
        }
    }
}

#[test]
fn the_unmutated_inputs_parse() {
    assert!(parse_config(&valid_config(), &[]).is_ok());
    assert!(checkpoint::parse(valid_checkpoint()).is_ok());
}
