//! The peers' side of the benchmarks: Python scripts run in the same invocation, their rows
//! read back; where Python with torch or Gymnasium lives.

use super::*;
use crate::scene;

/// Runs `scripts/<script>` with `python` and `args`; its `<robot> <figures…>` lines, or none
/// (with a note) when that Python cannot run it.
pub(super) fn python_rows(python: &Path, script: &str, args: &[String]) -> Vec<(String, Vec<f64>)> {
    let script = script_path(script);
    match Command::new(python).arg(&script).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let name = words.next()?.to_owned();
                let figures = words
                    .map(str::parse)
                    .collect::<Result<Vec<f64>, _>>()
                    .ok()?;
                Some((name, figures))
            })
            .collect(),
        _ => {
            eprintln!(
                "Gymnasium + MuJoCo not runnable with {} (pip install \"gymnasium[mujoco]==1.4.0\"): no peer figures from {}",
                python.display(),
                script.display()
            );
            Vec::new()
        }
    }
}

/// The Gymnasium rows of `script` (run with `leading` arguments) for those of `peers` that are
/// shipped robots; none, without running it, when no peer is one.
pub(super) fn peer_rows(
    python: &Path,
    script: &str,
    leading: &[String],
    peers: &[String],
) -> Vec<(String, Vec<f64>)> {
    let mut robots: Vec<String> = Vec::new();
    for p in peers {
        if scene::robots().any(|r| r == p) && !robots.contains(p) {
            robots.push(p.clone());
        }
    }
    if robots.is_empty() {
        return Vec::new();
    }
    python_rows(python, script, &[leading, &robots].concat())
}

/// The torch venv the setup step linked as `.libtorch` (or `LIBTORCH`'s):
/// `<venv>/lib/pythonX.Y/site-packages/torch` → `<venv>`. It lives in the cache directory.
pub(super) fn torch_venv() -> Option<PathBuf> {
    let libtorch = std::env::var_os("LIBTORCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".libtorch"));
    let venv = libtorch.canonicalize().ok()?;
    Some(venv.parent()?.parent()?.parent()?.parent()?.to_path_buf())
}

/// The setup step's venv with Stable-Baselines3, SBX and Gymnasium (`scripts/setup.sh`'s
/// `peers_venv`), beside the torch venv in the cache.
pub(crate) fn peers_python() -> PathBuf {
    torch_venv()
        .and_then(|v| Some(v.parent()?.join("peers/bin/python")))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// The torch venv's python, or `python3`.
pub(super) fn default_python() -> PathBuf {
    torch_venv()
        .map(|v| v.join("bin/python"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// `scripts/<name>`, from the working directory or else from the source tree.
pub(crate) fn script_path(name: &str) -> PathBuf {
    let local = Path::new("scripts").join(name);
    if local.exists() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(name)
    }
}

/// Width of the first column of a table of `envs`.
pub(super) fn name_width(envs: &[String]) -> usize {
    envs.iter()
        .map(|e| e.chars().count())
        .max()
        .unwrap_or(0)
        .max(13)
}

/// The shipped robot whose peer a robot name or scene file is compared with.
pub(super) fn peer_name(env: &str) -> Result<String> {
    Ok(scene::load(env)?.name)
}
