//! Property-based fuzzing, bounded in time: the config and checkpoint parsers answer any
//! input with a value or an error, never a panic or a crash. (Scene files get the same
//! treatment once scenes exist.)

use proptest::prelude::*;
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
        let mut t = virel_lab::training::Trainer::new(cfg).unwrap();
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

#[test]
fn the_unmutated_inputs_parse() {
    assert!(parse_config(&valid_config(), &[]).is_ok());
    assert!(checkpoint::parse(valid_checkpoint()).is_ok());
}
