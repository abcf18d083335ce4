//! Checkpoints: one file holding the agent's networks, the run's config and its counters.
//!
//! Layout: `VIRELCKP` | format u32 | header length u64 | header (TOML) | tensors length u64 |
//! tensors (libtorch's named-tensor archive) | CRC-32 of everything before it. Written to a
//! temporary file, fsynced, then renamed over the old one: a crash never leaves a torn file.

use super::config::TrainConfig;
use crate::rl::{Agent, AgentSpec};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use tch::{Device, Tensor};

const MAGIC: &[u8; 8] = b"VIRELCKP";
pub const FORMAT: u32 = 1;
/// Name of the latest checkpoint in a run folder.
pub const FILE_NAME: &str = "checkpoint.ckpt";

/// Progress of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub env_steps: u64,
    pub updates: u64,
    pub episodes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub virel_lab_version: String,
    pub spec: AgentSpec,
    pub counters: Counters,
    pub config: TrainConfig,
}

pub struct Checkpoint {
    pub header: Header,
    pub tensors: HashMap<String, Tensor>,
}

/// Writes `agent`'s networks with `header` to `path`, atomically.
pub fn save(path: &Path, header: &Header, agent: &dyn Agent) -> Result<()> {
    let header_text = toml::to_string(header).context("serialising checkpoint header")?;
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (net, vs) in agent.networks() {
        let mut vars: Vec<_> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        named.extend(
            vars.into_iter()
                .map(|(name, t)| (format!("{net}/{name}"), t.to_device(Device::Cpu))),
        );
    }
    let mut tensors = Vec::new();
    Tensor::save_multi_to_stream(&named, &mut tensors).context("serialising network weights")?;

    let mut bytes = Vec::with_capacity(tensors.len() + header_text.len() + 64);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&(header_text.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header_text.as_bytes());
    bytes.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&tensors);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    write_atomically(path, &bytes)
}

/// temp file in the same folder → fsync → rename → fsync the folder.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("checkpoint"),
        std::process::id()
    ));
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

fn parse(bytes: &[u8]) -> Result<Checkpoint> {
    let mut r = Reader { bytes, pos: 0 };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        bail!("not a virel-lab checkpoint (bad magic bytes)");
    }
    r.pos = MAGIC.len();
    let format = u32::from_le_bytes(r.take(4)?.try_into()?);
    if format != FORMAT {
        bail!(
            "checkpoint format {format} is not supported by this version (reads format {FORMAT})"
        );
    }
    let header_len = r.u64()? as usize;
    let header_text = std::str::from_utf8(r.take(header_len)?).context("header is not UTF-8")?;
    let tensors_len = r.u64()? as usize;
    let tensor_bytes = r.take(tensors_len)?;
    let body_end = r.pos;
    let crc = u32::from_le_bytes(r.take(4)?.try_into()?);
    if r.pos != bytes.len() {
        bail!("{} unexpected bytes after the end", bytes.len() - r.pos);
    }
    if crc32fast::hash(&bytes[..body_end]) != crc {
        bail!("corrupt (checksum mismatch)");
    }
    let header: Header = toml::from_str(header_text).context("malformed header")?;
    let tensors = Tensor::load_multi_from_stream(std::io::Cursor::new(tensor_bytes))
        .context("malformed weights")?
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
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
}

impl Checkpoint {
    /// Refuses a checkpoint made for another env than `spec`'s.
    pub fn check_spec(&self, spec: &AgentSpec) -> Result<()> {
        let h = &self.header.spec;
        if h.env != spec.env || h.obs_dim != spec.obs_dim || h.act_dim != spec.act_dim {
            bail!(
                "trained on env '{}' (obs {}, act {}), not on '{}' (obs {}, act {})",
                h.env,
                h.obs_dim,
                h.act_dim,
                spec.env,
                spec.obs_dim,
                spec.act_dim
            );
        }
        Ok(())
    }

    /// Copies the stored weights into `agent`, which must have the same networks and shapes.
    pub fn restore(&self, agent: &mut dyn Agent) -> Result<()> {
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
}
