//! `virel-lab record`: off-screen rendering of a tiny checkpoint to MP4 (ffprobe sees exactly
//! one frame per control step, at the asked size and rate) and the GIF fallback (a valid GIF
//! with the same frame count); an existing video is kept unless `--overwrite`. Needs no
//! display; skipped with a message only where ffmpeg / ffprobe are not installed
//! (scripts/setup.sh installs them).

mod common;

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_virel-lab"))
}

fn has(tool: &str) -> bool {
    Command::new(tool)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A 200-step SAC checkpoint of the hopper with a 32-32 network.
fn tiny_checkpoint(dir: &Path) -> std::path::PathBuf {
    let run = dir.join("run");
    let out = bin()
        .args([
            "train", "--env", "hopper", "--algo", "sac", "--steps", "200", "--quiet",
        ])
        .args([
            "--set",
            "sac.learning_starts=100",
            "--set",
            "sac.hidden=[32,32]",
        ])
        .args(["--eval-episodes", "1", "--device", "cpu", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run
}

/// `record` of 30 steps at 160×120, 15 fps, low quality, without a display.
fn record_command(ckpt: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.args(["record", "--checkpoint"])
        .arg(ckpt)
        .args([
            "--max-steps",
            "30",
            "--episodes",
            "100",
            "--width",
            "160",
            "--height",
            "120",
        ])
        .args(["--fps", "15", "--quality", "low", "--out"])
        .arg(out)
        .args(extra)
        .env_remove("DISPLAY");
    cmd
}

fn record(ckpt: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    record_command(ckpt, out, extra).output().unwrap()
}

#[test]
fn record_writes_one_mp4_frame_per_step_and_a_gif_without_ffmpeg() {
    if !has("ffmpeg") || !has("ffprobe") {
        eprintln!("SKIPPED: ffmpeg/ffprobe not installed (scripts/setup.sh installs them)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ckpt = tiny_checkpoint(dir.path());

    let mp4 = dir.path().join("videos/demo.mp4");
    let out = record(&ckpt, &mp4, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first frame already shows the scene (not a black frame from before the renderer
    // was ready): mean grey level of the sky and ground.
    let first = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&mp4)
        .args(["-vframes", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .unwrap();
    assert_eq!(first.stdout.len(), 160 * 120);
    let mean = first.stdout.iter().map(|&v| f64::from(v)).sum::<f64>() / (160.0 * 120.0);
    assert!(mean > 60.0, "first frame nearly black: mean grey {mean:.1}");

    let again = record(&ckpt, &mp4, &[]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && err.contains("--overwrite"),
        "{err}"
    );
    assert!(record(&ckpt, &mp4, &["--overwrite"]).status.success());
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,r_frame_rate,nb_read_frames",
        ])
        .args(["-of", "default=nw=1"])
        .arg(&mp4)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&probe.stdout);
    for line in [
        "codec_name=h264",
        "width=160",
        "height=120",
        "r_frame_rate=15/1",
        "nb_read_frames=30",
    ] {
        assert!(
            info.lines().any(|l| l == line),
            "ffprobe lacks {line}:\n{info}"
        );
    }

    // The fallback, as used when ffmpeg is missing: PATH without ffmpeg.
    let gif_out = dir.path().join("fallback.mp4");
    let out = record_command(&ckpt, &gif_out, &[])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("ffmpeg not found"),
        "no fallback message:\n{log}"
    );
    let gif_path = dir.path().join("fallback.gif");
    let mut decoder = gif::DecodeOptions::new();
    decoder.set_color_output(gif::ColorOutput::RGBA);
    let mut d = decoder
        .read_info(std::fs::File::open(&gif_path).unwrap())
        .unwrap();
    assert_eq!((d.width(), d.height()), (160, 120));
    let mut frames = 0;
    while let Some(f) = d.read_next_frame().unwrap() {
        assert_eq!(f.delay, 6, "15 fps is a 6/100 s delay");
        frames += 1;
    }
    assert_eq!(frames, 30);
}

#[test]
fn record_refuses_a_checkpoint_of_another_env_and_bad_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = tiny_checkpoint(dir.path());
    let out = record(&ckpt, &dir.path().join("x.mp4"), &["--env", "ant"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("trained on 'hopper', not 'ant'") && err.contains("checkpoint-"),
        "{err}"
    );
    let out = bin()
        .args(["record", "--checkpoint"])
        .arg(&ckpt)
        .args(["--width", "161", "--out"])
        .arg(dir.path().join("y.mp4"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("must be even"),
        "{err}"
    );
}

#[test]
fn a_killed_recording_leaves_no_partial_video_under_its_name_and_the_rerun_works() {
    if !has("ffmpeg") {
        eprintln!("SKIPPED: ffmpeg not installed (scripts/setup.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ckpt = tiny_checkpoint(dir.path());
    let mp4 = dir.path().join("new/folder/demo.mp4");
    let partial = dir.path().join("new/folder/.demo.partial.mp4");
    let mut child = bin()
        .args(["record", "--checkpoint"])
        .arg(&ckpt)
        .args([
            "--max-steps",
            "100000",
            "--episodes",
            "100",
            "--width",
            "160",
        ])
        .args(["--height", "120", "--quality", "low", "--out"])
        .arg(&mp4)
        .env_remove("DISPLAY")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until(std::time::Duration::from_millis(50), || partial.exists());
    assert!(partial.exists(), "frames go to a partial file");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL, mid-video
    child.wait().unwrap();
    assert!(
        !mp4.exists(),
        "no half-written video under the asked-for name"
    );

    let out = record(&ckpt, &mp4, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the rerun needs no --overwrite: {err}"
    );
    assert!(mp4.exists());
    assert!(!partial.exists(), "the partial file became the video");

    let fresh = dir.path().join("other/demo.mp4");
    let out = record(&ckpt, &fresh, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.contains("created the folder"),
        "a missing folder is created and said so: {err}"
    );
}

#[test]
fn record_with_the_posterior_overlay_writes_every_frame_and_refuses_an_unknown_panel() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = tiny_checkpoint(dir.path());
    let out = record(
        &ckpt,
        &dir.path().join("p.gif"),
        &["--overlay", "posterior"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("wrote 30 frames"));
    let out = record(&ckpt, &dir.path().join("q.gif"), &["--overlay", "critic"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--overlay"), "{err}");
}
