//! The memory a run will need, checked against what the machine has before anything is
//! allocated: a replay buffer, network or number of env copies far beyond memory is an error
//! that names the key, not an abort in the allocator or the kernel's OOM killer later on.
//!
//! The estimates are upper bounds of the right order (they count weights, gradients, Adam's
//! two moments and target networks, the activations of a minibatch, the replay buffer and the
//! env copies); a run within them still fails cleanly where the allocator says no. On CUDA
//! the networks and the buffer live in GPU memory, which tch cannot query: they are held to
//! the host's memory as a proxy of the same order.

use super::config::TrainConfig;
use crate::rl::AgentSpec;
use anyhow::{Result, bail};

/// Bytes one env copy takes at most: the largest shipped robot, the humanoid (bodies,
/// colliders, multibody links, episode state in the shared physics world), took ~170 KB a
/// copy (`bench envs --num-envs 512` peaked 88 MB above `--num-envs 1`), with room to spare.
const BYTES_PER_ENV_COPY: f64 = 256.0 * 1024.0;

/// One thing a run allocates: the config key that sizes it and its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Need {
    /// What needs it (replay buffer, networks …).
    pub what: String,
    /// Bytes it needs.
    pub bytes: f64,
}

/// Bytes of an MLP `inputs → hidden… → outputs`.
fn mlp_params(inputs: f64, hidden: &[i64], outputs: f64) -> f64 {
    let mut params = 0.0;
    let mut prev = inputs;
    for &h in hidden {
        params += (prev + 1.0) * h as f64;
        prev = h as f64;
    }
    params + (prev + 1.0) * outputs
}

/// The agent's networks, their optimiser state and a minibatch's activations.
pub fn agent_needs(cfg: &TrainConfig, spec: &AgentSpec) -> Vec<Need> {
    let table = cfg.algo.config_table();
    let shape = (cfg.algo.info().shape)(&cfg.agents);
    let (hidden, batch, extra_batch) = (shape.hidden, shape.batch_size, shape.extra_batch);
    let (actor_outputs, actor_copies) = (shape.actor_outputs, shape.actor_copies);
    let (obs, act) = (spec.obs_dim as f64, spec.act_dim as f64);
    let actor = mlp_params(obs, hidden, actor_outputs * act) * actor_copies;
    // Twin critics and their targets.
    let critics = mlp_params(obs + act, hidden, 1.0) * 4.0;
    // Weights, gradients and Adam's two moments, 4 bytes each.
    let weights = (actor + critics) * 4.0 * 4.0;
    let widths: f64 = hidden.iter().map(|&h| h as f64).sum::<f64>() + obs + act;
    // Forward and backward passes of actor and twin critics, a few buffers each.
    let activations = (batch.max(extra_batch) as f64) * widths * 4.0 * 12.0;
    vec![
        Need {
            what: format!("{table}.hidden = {hidden:?}"),
            bytes: weights,
        },
        Need {
            what: format!("{table}.batch_size = {batch}"),
            bytes: activations,
        },
    ]
}

/// Everything a training run allocates: the agent, the replay buffer as it fills over
/// `steps`, and the env copies.
pub fn run_needs(cfg: &TrainConfig, spec: &AgentSpec) -> Vec<Need> {
    let mut needs = agent_needs(cfg, spec);
    let replay = cfg.replay();
    let rows = (replay.buffer_size as f64).min(cfg.steps as f64);
    needs.push(Need {
        what: format!(
            "{}.buffer_size = {} transitions ({} filled in {} steps)",
            cfg.algo.config_table(),
            replay.buffer_size,
            rows,
            cfg.steps
        ),
        bytes: rows * row_bytes(spec),
    });
    needs.push(Need {
        what: format!("num_envs = {}", cfg.num_envs),
        bytes: cfg.num_envs as f64 * BYTES_PER_ENV_COPY,
    });
    needs
}

/// Bytes of one transition in the replay buffer.
fn row_bytes(spec: &AgentSpec) -> f64 {
    (2 * spec.obs_dim + spec.act_dim + 2) as f64 * 4.0
}

/// Refuses `needs` that exceed the memory this process can still take, naming the largest.
pub fn check(needs: &[Need]) -> Result<()> {
    let Some(available) = available() else {
        return Ok(());
    };
    check_against(needs, available as f64)
}

/// Refuses a training run whose whole replay buffer could not even be reserved (its
/// capacity beyond the machine's memory and swap), then checks [`run_needs`].
pub fn check_run(cfg: &TrainConfig, spec: &AgentSpec) -> Result<()> {
    let replay = cfg.replay();
    if let Some(total) = total() {
        let reserve = replay.buffer_size as f64 * row_bytes(spec);
        if reserve > total as f64 {
            bail!(
                "{}.buffer_size = {} transitions would take {} (its capacity is reserved at \
                 the start), more than this machine's memory and swap ({}): lower it",
                cfg.algo.config_table(),
                replay.buffer_size,
                human(reserve),
                human(total as f64)
            );
        }
    }
    check(&run_needs(cfg, spec))
}

/// [`check`] against a given number of available bytes.
pub fn check_against(needs: &[Need], available: f64) -> Result<()> {
    let total: f64 = needs.iter().map(|n| n.bytes).sum();
    if total.is_finite() && total <= available {
        return Ok(());
    }
    let mut sorted: Vec<&Need> = needs.iter().collect();
    sorted.sort_by(|a, b| b.bytes.total_cmp(&a.bytes));
    let parts: Vec<String> = sorted
        .iter()
        .take(3)
        .map(|n| format!("{} needs {}", n.what, human(n.bytes)))
        .collect();
    bail!(
        "this run needs about {} of memory, more than the {} this machine has available: {}",
        human(total),
        human(available),
        parts.join("; ")
    )
}

/// Bytes as B, KB, MB, GB, TB…
pub fn human(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "an unbounded amount".to_owned();
    }
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u + 1 == units.len() && v >= 1000.0 {
        return format!("{bytes:.1e} B");
    }
    format!("{v:.1} {}", units[u])
}

/// A field of `/proc/meminfo`, in bytes.
fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The cgroup (v2) memory limit left to this process, if one is set.
fn cgroup_left() -> Option<u64> {
    let max: u64 = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let current: u64 = std::fs::read_to_string("/sys/fs/cgroup/memory.current")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(max.saturating_sub(current))
}

/// Bytes this process can still take: available memory and free swap, within the cgroup's
/// limit. `None` where the system does not say (the checks are then skipped).
pub fn available() -> Option<u64> {
    let free = meminfo("MemAvailable:")? + meminfo("SwapFree:").unwrap_or(0);
    Some(cgroup_left().map_or(free, |c| c.min(free)))
}

/// The machine's memory and swap.
pub fn total() -> Option<u64> {
    Some(meminfo("MemTotal:")? + meminfo("SwapTotal:").unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_need_beyond_what_is_available_is_refused_naming_the_largest() {
        let needs = [
            Need {
                what: "sac.buffer_size = 10".into(),
                bytes: 4e12,
            },
            Need {
                what: "num_envs = 1".into(),
                bytes: 1e3,
            },
        ];
        let e = check_against(&needs, 1e9).unwrap_err().to_string();
        assert!(
            e.contains("4.0 TB") && e.contains("sac.buffer_size = 10 needs 4.0 TB"),
            "{e}"
        );
        assert!(check_against(&needs[1..], 1e9).is_ok());
        let huge = [Need {
            what: "x".into(),
            bytes: f64::INFINITY,
        }];
        assert!(check_against(&huge, 1e9).is_err());
    }
}
