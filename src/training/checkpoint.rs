//! Checkpoints: one file holding the agent's networks, the run's config and counters and, for
//! runs to resume exactly, optimiser moments, agent scalars (ε_ω, update counters), the
//! trainer's and envs' random generators and states, and (optionally) the replay buffer.
//!
//! Layout: `VIRELCKP` | format u32 | header length u64 | header (JSON) | tensors length u64 |
//! tensors (libtorch's named-tensor archive) | CRC-32 of everything before it. Written to a
//! temporary file, fsynced, then renamed: a crash or `kill -9` at any moment leaves either the
//! old file or the new one, never a torn one. A run folder keeps its last few checkpoints as
//! `checkpoint-<env steps>.ckpt`.

use super::config::TrainConfig;
use crate::rl::buffer;
use crate::rl::buffer::BufferMeta;
use crate::rl::{Agent, AgentSpec};
use anyhow::{Context, Result, bail};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

const MAGIC: &[u8; 8] = b"VIRELCKP";
/// The checkpoint format this build writes and reads.
pub const FORMAT: u32 = 2;
const PREFIX: &str = "checkpoint-";
const SUFFIX: &str = ".ckpt";

/// Progress of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Env steps so far.
    pub env_steps: u64,
    /// Gradient steps so far.
    pub updates: u64,
    /// Episodes finished.
    pub episodes: u64,
}

/// What a run needs beyond the weights to continue exactly where it stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumeState {
    /// The agent's learned scalars (α, ε_ω's running average …) by name.
    pub agent_scalars: BTreeMap<String, f64>,
    /// The trainer's generator (random actions).
    pub rng: ChaCha8Rng,
    /// The env copies' states (physics, episode clocks, generators).
    pub envs: serde_json::Value,
    /// Gradient steps owed.
    pub update_debt: f64,
    /// Returns of the last episodes (the "recent return").
    pub recent_returns: Vec<f64>,
    /// Set when the replay buffer is in the file.
    pub buffer: Option<BufferMeta>,
}

/// A checkpoint's header: everything but the tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The virel-lab version that wrote it.
    pub virel_lab_version: String,
    /// The env sizes the agent was built for.
    pub spec: AgentSpec,
    /// Counters at the save.
    pub counters: Counters,
    /// The run's config.
    pub config: TrainConfig,
    /// What a resume needs beyond the weights.
    pub resume: ResumeState,
    /// The [`crate::scene::fingerprint`] of the robot's scene the run trained on (none for an
    /// env defined in code, and in checkpoints from before it was kept).
    #[serde(default)]
    pub scene: Option<String>,
}

/// A checkpoint read back: header and tensors.
pub struct Checkpoint {
    /// Everything but the tensors.
    pub header: Header,
    /// Weights, optimiser moments and (optionally) the replay buffer, by name.
    pub tensors: HashMap<String, Tensor>,
}

/// The file name of the checkpoint taken after `env_steps`.
pub fn file_name(env_steps: u64) -> String {
    format!("{PREFIX}{env_steps:012}{SUFFIX}")
}

/// Checkpoint files of a run folder, newest first.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read run folder {}", dir.display()))?;
    let mut found: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?;
            let step = name
                .strip_prefix(PREFIX)?
                .strip_suffix(SUFFIX)?
                .parse()
                .ok()?;
            Some((step, path))
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(found.into_iter().map(|f| f.1).collect())
}

/// The newest checkpoint of `dir` that loads and holds finite numbers; newer unreadable ones
/// are reported and skipped.
pub fn load_latest(dir: &Path) -> Result<(PathBuf, Checkpoint)> {
    load_latest_where(dir, |_| Ok(()))
}

/// The newest checkpoint of `dir` that loads, holds finite numbers and passes `accept`;
/// newer ones that fail are reported (`warning: skipped …`) and skipped.
pub fn load_latest_where(
    dir: &Path,
    accept: impl Fn(&Checkpoint) -> Result<()>,
) -> Result<(PathBuf, Checkpoint)> {
    let files = list(dir)?;
    if files.is_empty() {
        bail!(
            "{} holds no checkpoint ({PREFIX}<steps>{SUFFIX})",
            dir.display()
        );
    }
    let mut errors = Vec::new();
    for path in files {
        let loaded = load(&path).and_then(|c| {
            c.check_finite()
                .and_then(|()| accept(&c))
                .with_context(|| format!("checkpoint {}", path.display()))?;
            Ok(c)
        });
        match loaded {
            Ok(c) => {
                for e in &errors {
                    eprintln!("warning: skipped {e:#}");
                }
                return Ok((path, c));
            }
            Err(e) => errors.push(e),
        }
    }
    bail!(
        "no checkpoint in {} can be used: {}",
        dir.display(),
        errors
            .iter()
            .map(|e| format!("{e:#}"))
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// A checkpoint file, or the newest one of a run folder.
pub fn load_file_or_latest(path: &Path) -> Result<(PathBuf, Checkpoint)> {
    if path.is_dir() {
        load_latest(path)
    } else {
        let c = load(path)?;
        c.check_finite()
            .with_context(|| format!("checkpoint {}", path.display()))?;
        Ok((path.to_path_buf(), c))
    }
}

/// Writes `agent` with `header` to `path` atomically; `extra` tensors (the replay buffer) go
/// in as given.
pub fn save(
    path: &Path,
    header: &Header,
    agent: &dyn Agent,
    extra: Vec<(String, Tensor)>,
) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (net, vs) in agent.networks() {
        let mut vars: Vec<_> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        // Copies: each variable is a view into its network's one buffer (`nets::flatten`),
        // which a view would carry whole into the file.
        named.extend(
            vars.into_iter()
                .map(|(name, t)| (format!("{net}/{name}"), t.to_device(Device::Cpu).copy())),
        );
    }
    for (name, opt) in agent.optimizers() {
        named.extend(
            opt.state()
                .into_iter()
                .map(|(k, t)| (format!("optim/{name}/{k}"), t.to_device(Device::Cpu))),
        );
    }
    if let Some(problem) = non_finite(&named, &header.resume.agent_scalars) {
        bail!(
            "refusing to write checkpoint {}: {problem} (the run diverged; lower its learning \
             rates). The checkpoints already written are kept.",
            path.display()
        );
    }
    named.extend(extra);
    write_atomically(path, &encode(header, &named)?)
}

/// The bytes of a checkpoint file holding `header` and the `named` tensors (the layout in the
/// module docs). [`save`] refuses non-finite numbers before it gets here.
pub fn encode(header: &Header, named: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let header_text = serde_json::to_string(header).context("serialising checkpoint header")?;
    let mut tensors = Vec::new();
    Tensor::save_multi_to_stream(named, &mut tensors).context("serialising tensors")?;
    let mut bytes = Vec::with_capacity(tensors.len() + header_text.len() + 64);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&(header_text.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header_text.as_bytes());
    bytes.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&tensors);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    Ok(bytes)
}

/// Deletes all but the newest `keep` of the checkpoints of `dir` whose header `own` accepts
/// (those this run wrote), and temporary files a killed writer left behind. A checkpoint of
/// another run, or one whose header cannot be read, is never deleted.
pub fn prune(dir: &Path, keep: usize, own: impl Fn(&Header) -> bool) -> Result<()> {
    let mine = list(dir)?
        .into_iter()
        .filter(|p| read_header(p).is_ok_and(|h| own(&h)));
    for old in mine.skip(keep.max(1)) {
        std::fs::remove_file(&old)
            .with_context(|| format!("cannot remove old checkpoint {}", old.display()))?;
    }
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&format!(".{PREFIX}")) && name.contains(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// The first tensor or agent scalar with a NaN or an infinity, described.
fn non_finite(named: &[(String, Tensor)], scalars: &BTreeMap<String, f64>) -> Option<String> {
    let tensor = named.iter().find(|(_, t)| {
        t.is_floating_point() && t.numel() > 0 && t.isfinite().all().int64_value(&[]) == 0
    });
    if let Some((name, _)) = tensor {
        return Some(format!("'{name}' holds non-finite numbers"));
    }
    scalars
        .iter()
        .find(|(_, v)| !v.is_finite())
        .map(|(name, v)| format!("the agent's '{name}' is {v}"))
}

/// Only the header of a checkpoint file (its config, counters and spec), without reading
/// the tensors; the checksum is not verified.
pub fn read_header(path: &Path) -> Result<Header> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    let mut head = [0u8; 20];
    f.read_exact(&mut head)
        .with_context(|| format!("checkpoint {}: truncated", path.display()))?;
    if &head[..8] != MAGIC || u32::from_le_bytes(head[8..12].try_into()?) != FORMAT {
        bail!(
            "checkpoint {}: not a format-{FORMAT} checkpoint",
            path.display()
        );
    }
    let len = u64::from_le_bytes(head[12..20].try_into()?);
    let file_len = f.metadata()?.len();
    if len > file_len {
        bail!("checkpoint {}: truncated header", path.display());
    }
    let mut text = vec![0u8; len as usize];
    f.read_exact(&mut text)
        .with_context(|| format!("checkpoint {}: truncated header", path.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("checkpoint {}: malformed header", path.display()))
}

/// temp file in the same folder → fsync → rename → fsync the folder.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Reads and verifies a checkpoint file.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    parse(&bytes).with_context(|| format!("checkpoint {}", path.display()))
}

/// Parses checkpoint bytes; any input gives a checkpoint or an error, never a panic.
pub fn parse(bytes: &[u8]) -> Result<Checkpoint> {
    let mut r = Reader { bytes, pos: 0 };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        bail!("not a virel-lab checkpoint (bad magic bytes)");
    }
    r.pos = MAGIC.len();
    let format = u32::from_le_bytes(r.take(4)?.try_into()?);
    if format != FORMAT {
        bail!("written in checkpoint format {format}; this virel-lab reads format {FORMAT}");
    }
    let header_len = r.len()?;
    let header_text = std::str::from_utf8(r.take(header_len)?).context("header is not UTF-8")?;
    let tensors_len = r.len()?;
    let tensor_bytes = r.take(tensors_len)?;
    let body_end = r.pos;
    let crc = u32::from_le_bytes(r.take(4)?.try_into()?);
    if r.pos != bytes.len() {
        bail!("{} unexpected bytes after the end", bytes.len() - r.pos);
    }
    if crc32fast::hash(&bytes[..body_end]) != crc {
        bail!("corrupt (checksum mismatch)");
    }
    let header: Header = serde_json::from_str(header_text).context("malformed header")?;
    let tensors = Tensor::load_multi_from_stream(std::io::Cursor::new(tensor_bytes))
        .context("malformed tensors")?
        .into_iter()
        .collect();
    Ok(Checkpoint { header, tensors })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            bail!(
                "truncated: needs at least {} bytes, the file has {}",
                self.pos.saturating_add(n),
                self.bytes.len()
            )
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn len(&mut self) -> Result<usize> {
        let n = u64::from_le_bytes(self.take(8)?.try_into()?);
        usize::try_from(n).context("section length out of range")
    }
}

impl Checkpoint {
    /// Refuses a checkpoint made for another env than `spec`'s.
    pub fn check_spec(&self, spec: &AgentSpec) -> Result<()> {
        if self.header.spec.env != spec.env {
            return Err(self.not_for(spec));
        }
        self.check_shapes(spec)
    }

    /// Refuses an env whose observations or actions have other sizes than the checkpoint's
    /// networks take and give, whatever its name.
    pub fn check_shapes(&self, spec: &AgentSpec) -> Result<()> {
        let h = &self.header.spec;
        if h.obs_dim != spec.obs_dim || h.act_dim != spec.act_dim {
            return Err(self.not_for(spec));
        }
        Ok(())
    }

    fn not_for(&self, spec: &AgentSpec) -> anyhow::Error {
        let h = &self.header.spec;
        anyhow::anyhow!(
            "trained on env '{}' (obs {}, act {}), not on '{}' (obs {}, act {})",
            h.env,
            h.obs_dim,
            h.act_dim,
            spec.env,
            spec.obs_dim,
            spec.act_dim
        )
    }

    /// Refuses a checkpoint with a NaN or an infinity in its tensors or agent scalars (one
    /// written by a run that diverged).
    pub fn check_finite(&self) -> Result<()> {
        let mut named: Vec<(String, Tensor)> = self
            .tensors
            .iter()
            .map(|(k, t)| (k.clone(), t.shallow_clone()))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        match non_finite(&named, &self.header.resume.agent_scalars) {
            Some(problem) => bail!("is not usable: {problem} (written by a run that diverged)"),
            None => Ok(()),
        }
    }

    fn get(&self, key: &str) -> Option<Tensor> {
        self.tensors.get(key).map(Tensor::shallow_clone)
    }

    /// Copies the stored weights into `agent`, which must have the same networks and shapes.
    pub fn restore_weights(&self, agent: &mut dyn Agent) -> Result<()> {
        let algo = agent.algo();
        for (net, vs) in agent.networks_mut() {
            for (name, mut var) in vs.variables() {
                let key = format!("{net}/{name}");
                let Some(src) = self.tensors.get(&key) else {
                    bail!("has no tensor '{key}' needed by {algo}")
                };
                if src.size() != var.size() {
                    bail!(
                        "tensor '{key}' has shape {:?}, the {algo} network needs {:?}",
                        src.size(),
                        var.size()
                    );
                }
                tch::no_grad(|| var.copy_(src));
            }
        }
        Ok(())
    }

    /// Weights, optimiser moments and agent scalars.
    pub fn restore_agent(&self, agent: &mut dyn Agent) -> Result<()> {
        self.restore_weights(agent)?;
        for (name, opt) in agent.optimizers_mut() {
            opt.load_state(|k| self.get(&format!("optim/{name}/{k}")))
                .with_context(|| format!("optimiser '{name}'"))?;
        }
        self.restore_scalars(agent)
    }

    /// The agent's scalars (VIREL's ε_ω and its running average, update counters): part of
    /// what it learned, so a policy loaded for watching acts and shows its posterior at the
    /// temperature it was trained to.
    pub fn restore_scalars(&self, agent: &mut dyn Agent) -> Result<()> {
        for (name, value) in &self.header.resume.agent_scalars {
            agent.set_scalar(name, *value)?;
        }
        Ok(())
    }

    /// The replay buffer, when the file has one.
    pub fn restore_buffer(&self, buffer: &mut buffer::ReplayBuffer) -> Result<bool> {
        let Some(meta) = self.header.resume.buffer else {
            return Ok(false);
        };
        buffer.restore(meta, |k| self.get(k))?;
        Ok(true)
    }
}
