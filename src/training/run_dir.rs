//! A run folder that defends itself:
//!
//! - one process at a time: an advisory lock (`flock` on `.virel-lab.lock`, released by the
//!   kernel whenever the process ends, `kill -9` included); a second process is refused with
//!   the holder's pid;
//! - a new run starts only in a folder that holds none of the files a run writes (a run
//!   killed before its first checkpoint is refused too: nothing in it can be resumed);
//! - a resume continues only the run its `config.toml` describes: checkpoints of another
//!   run found in the folder are skipped, and never deleted.

use super::checkpoint::{self, Checkpoint, Header};
use super::config::TrainConfig;
use super::logger::METRICS_FILE;
use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The run's config, written when it starts.
pub const CONFIG_FILE: &str = "config.toml";
/// How the run ended, written when it stops.
pub const SUMMARY_FILE: &str = "summary.toml";
/// The lock that keeps a second process out; it holds the pid of the last holder.
pub const LOCK_FILE: &str = ".virel-lab.lock";

/// A locked run folder; the lock is released when this is dropped (or the process ends).
pub struct RunDir {
    path: PathBuf,
    _lock: File,
}

impl RunDir {
    /// Locks `path` for a new run, creating it if needed. Refused, with nothing written,
    /// when another process holds it or it holds files a run writes.
    pub fn create(path: &Path) -> Result<Self> {
        if path.exists() {
            if !path.is_dir() {
                bail!("{} is a file, not a run folder", path.display());
            }
            refuse_if_held(path)?;
            refuse_if_used(path)?;
        }
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create run folder {}", path.display()))?;
        let dir = Self::lock(path)?;
        // Another process may have started a run between the check and the lock.
        refuse_if_used(path)?;
        Ok(dir)
    }

    /// Locks the existing run folder `path` to continue its run.
    pub fn open(path: &Path) -> Result<Self> {
        if path.is_file() {
            bail!("{} is a file, not a run folder", path.display());
        }
        if !path.is_dir() {
            bail!("cannot read run folder {}: no such folder", path.display());
        }
        Self::lock(path)
    }

    fn lock(path: &Path) -> Result<Self> {
        let lock_path = path.join(LOCK_FILE);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .with_context(|| format!("cannot lock run folder {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(in_use(path, &holder_pid(&lock_path)).into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()));
            }
        }
        file.set_len(0)?;
        writeln!(file, "{}", std::process::id())?;
        Ok(Self {
            path: path.to_owned(),
            _lock: file,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run this folder holds, as its `config.toml` describes it.
    pub fn config(&self) -> Result<TrainConfig> {
        let path = self.path.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let has_checkpoints = !checkpoint::list(&self.path)?.is_empty();
                if has_checkpoints {
                    bail!(
                        "{} has checkpoints but no {CONFIG_FILE}, so nothing says which run they \
                         continue: copy the run's {CONFIG_FILE} along with its checkpoints",
                        self.path.display()
                    );
                }
                bail!(
                    "{} holds no checkpoint (checkpoint-<steps>.ckpt) and no run",
                    self.path.display()
                );
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        parse_toml(&text, &path, "a run config")
    }

    /// The newest checkpoint of the run `cfg` describes that loads and holds finite numbers;
    /// others are skipped with a warning that says why.
    pub fn latest_checkpoint(&self, cfg: &TrainConfig) -> Result<(PathBuf, Checkpoint)> {
        if checkpoint::list(&self.path)?.is_empty() {
            bail!(
                "{} holds no checkpoint: its run stopped before the first one, so there is \
                 nothing to resume (start a new run in another folder)",
                self.path.display()
            );
        }
        checkpoint::load_latest_where(&self.path, |c| {
            let other = &c.header.config;
            let differ = cfg.differences(other);
            if differ.is_empty() {
                Ok(())
            } else {
                bail!(
                    "belongs to another run ({} on {}, seed {}; differs from {CONFIG_FILE} in {})",
                    other.algo,
                    other.env,
                    other.seed,
                    differ.join(", ")
                )
            }
        })
    }

    /// Where this run's checkpoint after `env_steps` goes. Refused where a checkpoint of
    /// another run (or one that cannot be read) already has that name: it is not replaced.
    pub fn checkpoint_path(&self, env_steps: u64, cfg: &TrainConfig) -> Result<PathBuf> {
        let path = self.path.join(checkpoint::file_name(env_steps));
        if path.exists() {
            let ours =
                checkpoint::read_header(&path).is_ok_and(|h| cfg.differences(&h.config).is_empty());
            if !ours {
                bail!(
                    "{} holds a checkpoint that this run did not write, under the name of this \
                     run's next one: it is left as it is, and the run stops here (move that file \
                     away, then resume)",
                    path.display()
                );
            }
        }
        Ok(path)
    }

    /// Deletes all but the newest `keep` checkpoints this run (`cfg`) wrote.
    pub fn prune(&self, keep: usize, cfg: &TrainConfig) -> Result<()> {
        checkpoint::prune(&self.path, keep, |h: &Header| {
            cfg.differences(&h.config).is_empty()
        })
    }
}

/// The pid written in a lock file, or "unknown".
fn holder_pid(lock_path: &Path) -> String {
    std::fs::read_to_string(lock_path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A TOML file of a run folder parsed as `T`; `what` names `T` in the error ("a run config").
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
    what: &str,
) -> Result<T> {
    toml::from_str(text)
        .map_err(|e| anyhow::anyhow!("{}: not {what}: {}", path.display(), e.message().trim()))
}

/// Reads and parses [`parse_toml`]'s file.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_toml(&text, path, what)
}

/// A run folder another process holds (its message names the folder and the process).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FolderInUse(pub String);

fn in_use(path: &Path, pid: &str) -> FolderInUse {
    FolderInUse(format!(
        "{} is in use by another virel-lab process (pid {pid}): one process per run folder; \
         wait for it to end or stop it, or choose another folder (nothing was changed)",
        path.display()
    ))
}

/// Refuses a folder whose lock another process holds, without writing anything.
fn refuse_if_held(path: &Path) -> Result<()> {
    match holder(path) {
        Some(pid) => Err(in_use(path, &pid).into()),
        None => Ok(()),
    }
}

/// The pid of the process that holds the run folder `path`, if one does; looks without
/// taking the lock.
pub fn holder(path: &Path) -> Option<String> {
    let lock_path = path.join(LOCK_FILE);
    let file = File::open(&lock_path).ok()?;
    matches!(
        file.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
    .then(|| holder_pid(&lock_path))
}

/// Refuses a folder that holds files a run writes, saying what it holds.
fn refuse_if_used(path: &Path) -> Result<()> {
    let checkpoints = checkpoint::list(path)?;
    let mut found: Vec<String> = [CONFIG_FILE, METRICS_FILE, SUMMARY_FILE]
        .into_iter()
        .filter(|f| path.join(f).exists())
        .map(str::to_owned)
        .collect();
    let events = std::fs::read_dir(path)
        .with_context(|| format!("cannot read run folder {}", path.display()))?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents")
        })
        .count();
    if events > 0 {
        found.push(format!("{events} TensorBoard file(s)"));
    }
    if !checkpoints.is_empty() {
        found.push(format!("{} checkpoint(s)", checkpoints.len()));
        bail!(
            "{} already holds a run ({}): resume it with --resume, or choose another --out \
             (nothing was changed)",
            path.display(),
            found.join(", ")
        );
    }
    if found.iter().any(|f| f == CONFIG_FILE) {
        bail!(
            "{} holds a run that stopped before its first checkpoint ({}): there is nothing \
             to resume, and a new run would mix with its logs; delete the folder or choose \
             another --out (nothing was changed)",
            path.display(),
            found.join(", ")
        );
    }
    if !found.is_empty() {
        bail!(
            "{} holds files a run writes ({}): choose another --out (nothing was changed)",
            path.display(),
            found.join(", ")
        );
    }
    Ok(())
}
