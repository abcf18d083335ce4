//! TensorBoard event files: framed and checksummed as TFRecord frames them, read back by our
//! parser always and by TensorBoard's own reader where Python has it; a training run's event
//! file holds the same scalars as its `metrics.csv`.

mod common;
use common::{stderr, virel};
use virel_lab::training::tensorboard::{self, EventWriter};

#[test]
fn crc32c_and_its_mask_match_the_published_check_values() {
    // CRC-32C's check value (RFC 3720, B.4) and the empty string.
    assert_eq!(tensorboard::crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(tensorboard::crc32c(b""), 0);
    // 32 bytes of zeros (RFC 3720, B.4).
    assert_eq!(tensorboard::crc32c(&[0u8; 32]), 0x8A91_36AA);
    let c = tensorboard::crc32c(b"abc");
    // The mask as TensorFlow's record writer spells it.
    #[allow(clippy::manual_rotate)]
    assert_eq!(
        tensorboard::masked_crc32c(b"abc"),
        ((c >> 15) | (c << 17)).wrapping_add(0xa282_ead8)
    );
}

#[test]
fn scalars_written_to_an_event_file_read_back_and_a_damaged_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = EventWriter::create(dir.path()).unwrap();
    w.add_scalar("losses/alpha", 0.25, 10).unwrap();
    w.add_scalar("eval/episodic_return", -123.5, 20).unwrap();
    w.add_scalar("virel/epsilon", 0.0, 20).unwrap();
    w.flush().unwrap();
    let path = w.path().to_owned();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let events = tensorboard::read_events(&path).unwrap();
    assert_eq!(
        events[0].file_version.as_deref(),
        Some(tensorboard::FILE_VERSION)
    );
    assert_eq!(
        tensorboard::read_scalars(&path).unwrap(),
        vec![
            (10, "losses/alpha".to_owned(), 0.25),
            (20, "eval/episodic_return".to_owned(), -123.5),
            (20, "virel/epsilon".to_owned(), 0.0),
        ]
    );
    // One flipped byte in the last record: its CRC no longer matches.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 6] ^= 0x40;
    let bad = dir.path().join("damaged");
    std::fs::write(&bad, &bytes).unwrap();
    let err = format!("{:#}", tensorboard::read_events(&bad).unwrap_err());
    assert!(
        err.contains("damaged") && err.contains("CRC does not match"),
        "{err}"
    );

    // TensorBoard's own reader, where Python has TensorBoard.
    let script = format!(
        "from tensorboard.backend.event_processing.event_file_loader import EventFileLoader\n\
         for e in EventFileLoader({:?}).Load():\n    \
         [print(e.step, v.tag, v.tensor.float_val[0] if v.HasField('tensor') else v.simple_value) for v in e.summary.value]",
        path.display().to_string()
    );
    match std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains("10 losses/alpha 0.25"), "{text}");
            assert!(text.contains("20 eval/episodic_return -123.5"), "{text}");
        }
        _ => eprintln!(
            "SKIPPED: TensorBoard's Python reader is not installed (pip install tensorboard)"
        ),
    }
}

#[test]
fn a_runs_event_file_holds_the_scalars_of_its_metrics_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = virel(&[
        "train",
        "--env",
        "pendulum",
        "--algo",
        "sac",
        "--steps",
        "400",
        "--device",
        "cpu",
        "--eval-every",
        "200",
        "--eval-episodes",
        "1",
        "--quiet",
        "--set",
        "sac.learning_starts=100",
        "--set",
        "sac.hidden=[16,16]",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let events: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .collect();
    assert_eq!(events.len(), 1);
    let scalars = tensorboard::read_scalars(&events[0]).unwrap();
    let csv = virel_lab::training::logger::read_metrics(&out).unwrap();
    assert_eq!(scalars.len(), csv.len());
    for ((s, tag, v), (cs, cname, cv)) in scalars.iter().zip(&csv) {
        assert_eq!((s, tag), (cs, cname));
        assert_eq!(*v, *cv as f32);
    }
}
