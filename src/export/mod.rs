//! Policies out of the lab: `virel-lab export --checkpoint F --out policy.onnx` writes a
//! checkpoint's deterministic actor (observation → action in the env's units, tanh and
//! scaling included) as ONNX ([`onnx`]) or TorchScript, with the env, the algorithm and the
//! observation layout in the model's metadata.

pub mod onnx;

use crate::rl;
use crate::rl::AgentSpec;
use crate::rl::nets::Mlp;
use crate::rl::policy::DeterministicActor;
use crate::training;
use crate::training::checkpoint::write_atomically;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The file format of an exported policy.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ONNX, opset 13: for onnxruntime, Isaac Lab, game engines.
    Onnx,
    /// TorchScript: for `torch.jit.load` and libtorch.
    Torchscript,
}

/// What [`export`] wrote.
#[derive(Debug)]
pub struct Exported {
    /// Where it went.
    pub path: PathBuf,
    /// ONNX or TorchScript.
    pub format: Format,
    /// The env the policy acts in.
    pub env: String,
    /// The algorithm that trained it.
    pub algo: rl::Algo,
    /// Env steps of training behind it.
    pub env_steps: u64,
    /// The deterministic actor, as numbers.
    pub actor: DeterministicActor,
    /// What each observation entry is.
    pub observation_names: Vec<String>,
}

/// The actor's numbers as plain libtorch tensors (no variables, no gradients).
pub struct ActorTensors {
    net: Mlp,
    scale: Tensor,
    bias: Tensor,
}

impl ActorTensors {
    /// The tensors of `actor`.
    pub fn new(actor: &DeterministicActor) -> Self {
        let layers = actor
            .layers
            .iter()
            .map(|l| {
                (
                    Tensor::from_slice(&l.weight).view([l.inputs as i64, l.outputs as i64]),
                    Tensor::from_slice(&l.bias),
                )
            })
            .collect();
        Self {
            net: Mlp::from_layers(layers),
            scale: Tensor::from_slice(&actor.scale),
            bias: Tensor::from_slice(&actor.bias),
        }
    }

    /// Actions `[N, act_dim]` for observations `[N, obs_dim]`.
    pub fn forward(&self, obs: &Tensor) -> Tensor {
        self.net.forward(obs).tanh() * &self.scale + &self.bias
    }
}

/// Writes the deterministic actor of `checkpoint` to `out`. An existing `out` is kept unless
/// `overwrite`.
pub fn export(checkpoint: &Path, out: &Path, format: Format, overwrite: bool) -> Result<Exported> {
    if out.is_dir() {
        bail!("--out {} is a folder: expected a file name", out.display());
    }
    if out.exists() && !overwrite {
        bail!(
            "--out {} exists: pass --overwrite to replace it (nothing was written)",
            out.display()
        );
    }
    let p = training::load_policy(checkpoint, training::PolicyEnv::Trained, Device::Cpu)?;
    let (h, actor, names) = (
        p.header,
        p.agent.deterministic_actor(),
        p.env.observation_names(),
    );
    let spec = AgentSpec::of(p.env.as_ref());
    let low = &p.env.action_space().low;
    let high = &p.env.action_space().high;
    let join = |v: &[f32]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let metadata: Vec<(String, String)> = [
        ("env", h.spec.env.clone()),
        ("algo", h.config.algo.name().to_owned()),
        ("env_steps", h.counters.env_steps.to_string()),
        ("seed", h.config.seed.to_string()),
        ("obs_dim", spec.obs_dim.to_string()),
        ("act_dim", spec.act_dim.to_string()),
        ("observation_layout", names.join(",")),
        ("action_low", join(low)),
        ("action_high", join(high)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let doc = format!(
        "The deterministic policy of a {} agent trained {} env steps on {} by virel-lab: \
         action = tanh(mu(observation))*scale + bias.",
        h.config.algo.display_name(),
        h.counters.env_steps,
        h.spec.env
    );
    match format {
        Format::Onnx => write_atomically(out, &onnx::model(&actor, &metadata, &doc))?,
        Format::Torchscript => {
            // The weights exist before tracing starts, so that the trace keeps them as the
            // module's constants.
            let tensors = ActorTensors::new(&actor);
            let example = Tensor::zeros([1, actor.obs_dim() as i64], (Kind::Float, Device::Cpu));
            let module = tch::CModule::create_by_tracing(
                "DeterministicActor",
                "forward",
                &[example],
                &mut |inputs| vec![tensors.forward(&inputs[0])],
            )
            .context("tracing the actor for TorchScript")?;
            // Saved beside, then renamed: a killed export never leaves half a file.
            let tmp = out.with_file_name(format!(
                ".{}.partial",
                out.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            ));
            module
                .save(&tmp)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, out)
                .with_context(|| format!("cannot rename {} to {}", tmp.display(), out.display()))?;
        }
    }
    Ok(Exported {
        path: out.to_owned(),
        format,
        env: h.spec.env.clone(),
        algo: h.config.algo,
        env_steps: h.counters.env_steps,
        actor,
        observation_names: names,
    })
}
