//! Network building blocks: plain MLPs, twin Q-critics fused into batched matmuls, and the
//! polyak (soft) target update.
//!
//! Weights are initialised like PyTorch's `nn.Linear` (U(±1/√fan_in) for weights and biases),
//! so runs are comparable with the Python baselines.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor, nn};

/// The precision of the multiplies between hidden layers (a run's `hidden_matmul`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum HiddenMatmul {
    /// Every multiply in float32.
    #[default]
    Float32,
    /// The hidden-to-hidden layers (the 256×256 one of a 256-256 network: ~90% of its
    /// multiply work for the hopper's and half-cheetah's observations) multiply their inputs
    /// and weights rounded to bfloat16, summing in float32 and rounding the sums to bfloat16,
    /// which a CPU with AMX does ~4× faster (README, "Speed of learning"). The first and last
    /// layers, the parameters, Adam and every other operation stay float32, as in
    /// mixed-precision training.
    Bfloat16,
}

impl HiddenMatmul {
    /// The name a config file and the flags spell.
    pub fn name(self) -> &'static str {
        match self {
            HiddenMatmul::Float32 => "float32",
            HiddenMatmul::Bfloat16 => "bfloat16",
        }
    }
}

/// x·W + b, W `[in, out]` and b `[out]` or, for twin networks, `[2, in, out]` and `[2, 1,
/// out]`; a hidden-to-hidden layer (`hidden`) in the precision of `matmul`.
fn layer(x: &Tensor, w: &Tensor, b: &Tensor, hidden: bool, matmul: HiddenMatmul) -> Tensor {
    match (hidden, matmul) {
        (true, HiddenMatmul::Bfloat16) => {
            x.to_kind(Kind::BFloat16)
                .matmul(&w.to_kind(Kind::BFloat16))
                .to_kind(Kind::Float)
                + b
        }
        _ if w.dim() == 3 => b.baddbmm(x, w, 1.0, 1.0),
        _ => b.addmm(x, w),
    }
}

/// ReLU over a layer's fresh output, in place: no second buffer of the layer's size, and the
/// same gradient, since ReLU's backward reads its result and the layers' backward passes read
/// their inputs, not their outputs.
fn relu_in_place(x: &mut Tensor) {
    let _ = x.relu_();
}

fn linear_init(fan_in: i64) -> nn::Init {
    let bound = 1.0 / (fan_in as f64).sqrt();
    nn::Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// Layer sizes `[input, hidden…, output]` from hidden widths.
pub fn layer_sizes(input: i64, hidden: &[i64], output: i64) -> Vec<i64> {
    std::iter::once(input)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(output))
        .collect()
}

/// One dense layer as plain numbers: y = x·W + b.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseLayer {
    /// Input size.
    pub inputs: usize,
    /// Output size.
    pub outputs: usize,
    /// W, `[inputs × outputs]`, row-major.
    pub weight: Vec<f32>,
    /// b, `[outputs]`.
    pub bias: Vec<f32>,
}

/// A tensor's values (actions, weights), in row-major order, on the CPU as f32.
pub fn tensor_to_vec(t: &Tensor) -> Vec<f32> {
    let t = tch::no_grad(|| {
        t.to_device(tch::Device::Cpu)
            .to_kind(tch::Kind::Float)
            .contiguous()
            .view([-1])
    });
    let mut v = vec![0f32; t.numel()];
    let n = v.len();
    t.copy_data(&mut v, n);
    v
}

/// A fully connected network with ReLU between layers and a linear output.
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<(Tensor, Tensor)>,
    matmul: HiddenMatmul,
}

impl Mlp {
    /// `sizes` = `[input, hidden…, output]`; parameters live under `p` as `l{i}/weight`, `l{i}/bias`.
    pub fn new(p: &nn::Path, sizes: &[i64]) -> Self {
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let l = p / format!("l{i}");
                (
                    l.var("weight", &[w[0], w[1]], linear_init(w[0])),
                    l.var("bias", &[w[1]], linear_init(w[0])),
                )
            })
            .collect();
        Self {
            layers,
            matmul: HiddenMatmul::default(),
        }
    }

    /// A network of given `(weight [in × out], bias [out])` layers (no variables).
    pub fn from_layers(layers: Vec<(Tensor, Tensor)>) -> Self {
        Self {
            layers,
            matmul: HiddenMatmul::default(),
        }
    }

    /// Multiplies between hidden layers in `matmul`'s precision from now on.
    pub fn set_hidden_matmul(&mut self, matmul: HiddenMatmul) {
        self.matmul = matmul;
    }

    /// The layers as plain numbers; of the last one only its first `outputs` outputs.
    pub fn dense_layers(&self, outputs: i64) -> Vec<DenseLayer> {
        let last = self.layers.len() - 1;
        self.layers
            .iter()
            .enumerate()
            .map(|(i, (w, b))| {
                let (w, b) = if i == last {
                    (w.narrow(1, 0, outputs), b.narrow(0, 0, outputs))
                } else {
                    (w.shallow_clone(), b.shallow_clone())
                };
                let size = w.size();
                DenseLayer {
                    inputs: size[0] as usize,
                    outputs: size[1] as usize,
                    weight: tensor_to_vec(&w),
                    bias: tensor_to_vec(&b),
                }
            })
            .collect()
    }

    /// The outputs `[B, output]` for inputs `[B, input]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut x = x.shallow_clone();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            x = layer(&x, w, b, i > 0 && i < last, self.matmul);
            if i < last {
                relu_in_place(&mut x);
            }
        }
        x
    }
}

/// Two Q-networks Q₁, Q₂(s, a) evaluated together: each layer is one batched matmul
/// (`baddbmm`) over a leading dimension of 2, which halves the number of kernels per step.
#[derive(Debug)]
pub struct TwinQ {
    layers: Vec<(Tensor, Tensor)>,
    matmul: HiddenMatmul,
}

impl TwinQ {
    /// Two critics of `hidden` layers, fused into one network.
    pub fn new(p: &nn::Path, obs_dim: i64, act_dim: i64, hidden: &[i64]) -> Self {
        let sizes = layer_sizes(obs_dim + act_dim, hidden, 1);
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let l = p / format!("l{i}");
                (
                    l.var("weight", &[2, w[0], w[1]], linear_init(w[0])),
                    l.var("bias", &[2, 1, w[1]], linear_init(w[0])),
                )
            })
            .collect();
        Self {
            layers,
            matmul: HiddenMatmul::default(),
        }
    }

    /// Multiplies between hidden layers in `matmul`'s precision from now on.
    pub fn set_hidden_matmul(&mut self, matmul: HiddenMatmul) {
        self.matmul = matmul;
    }

    /// Q-values `[2, B]`: row i is Q_i(obs, actions).
    pub fn forward(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        if obs.size()[0] == 1 && actions.size()[0] > 1 {
            return self.at_one_state(obs, actions);
        }
        let x = Tensor::cat(&[obs, actions], 1);
        let b = x.size()[0];
        let mut x = x.unsqueeze(0).expand([2, b, x.size()[1]], false);
        let last = self.layers.len() - 1;
        for (i, (w, bias)) in self.layers.iter().enumerate() {
            x = layer(&x, w, bias, i > 0 && i < last, self.matmul);
            if i < last {
                relu_in_place(&mut x);
            }
        }
        x.squeeze_dim(-1)
    }

    /// Q-values `[2, N]` of N actions at one state (`obs` `[1, D]`): the first layer's
    /// observation part is computed once, W·[s; a] = W_s·s + W_a·a, so a row costs its action
    /// columns only (the posterior panel's grids, where the observation is most of the input).
    fn at_one_state(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        let d = obs.size()[1];
        let (w0, b0) = &self.layers[0];
        let per_state = b0.baddbmm(
            &obs.unsqueeze(0).expand([2, 1, d], false),
            &w0.narrow(1, 0, d),
            1.0,
            1.0,
        );
        let (n, a) = (actions.size()[0], actions.size()[1]);
        let mut x = per_state.baddbmm(
            &actions.unsqueeze(0).expand([2, n, a], false),
            &w0.narrow(1, d, a),
            1.0,
            1.0,
        );
        let last = self.layers.len() - 1;
        for (i, (w, bias)) in self.layers.iter().enumerate() {
            if i > 0 {
                x = layer(&x, w, bias, i < last, self.matmul);
            }
            if i < last {
                relu_in_place(&mut x);
            }
        }
        x.squeeze_dim(-1)
    }

    /// Q₁(obs, actions) alone, `[B]`, with Q₁'s weights only (half the work of
    /// [`Self::forward`]; TD3's actor follows Q₁).
    pub fn q1(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        let mut x = Tensor::cat(&[obs, actions], 1);
        let last = self.layers.len() - 1;
        for (i, (w, bias)) in self.layers.iter().enumerate() {
            x = layer(&x, &w.get(0), &bias.get(0), i > 0 && i < last, self.matmul);
            if i < last {
                relu_in_place(&mut x);
            }
        }
        x.squeeze_dim(-1)
    }

    /// min(Q₁, Q₂), `[B]`: the clipped double-Q estimate.
    pub fn min_q(&self, obs: &Tensor, actions: &Tensor) -> Tensor {
        self.forward(obs, actions).amin(0, false)
    }
}

/// Moves every trainable variable of `vs` into one contiguous 1-D buffer, in creation order,
/// and returns it: each variable becomes a view into it (`set_data`), so the network, its
/// checkpoints and in-place copies see no difference, and an update of the buffer is one
/// kernel instead of one per variable. Call it once per store: a second call moves the
/// variables again and leaves the first buffer behind.
pub fn flatten(vs: &nn::VarStore) -> Tensor {
    let mut vars = vs.trainable_variables();
    let flat = tch::no_grad(|| {
        let parts: Vec<Tensor> = vars.iter().map(|v| v.detach().view([-1])).collect();
        if parts.is_empty() {
            Tensor::zeros([0], (Kind::Float, vs.device()))
        } else {
            Tensor::cat(&parts, 0)
        }
    });
    let views = views_like(&vars, &flat);
    for (v, view) in vars.iter_mut().zip(views) {
        v.set_data(&view);
    }
    flat
}

/// The slices of a [`flatten`]ed buffer (or one laid out alike) that belong to each of
/// `params`, shaped like it.
pub fn views_like(params: &[Tensor], flat: &Tensor) -> Vec<Tensor> {
    let mut offset = 0;
    params
        .iter()
        .map(|p| {
            let n = p.numel() as i64;
            let view = flat.narrow(0, offset, n).view(p.size().as_slice());
            offset += n;
            view
        })
        .collect()
}

/// θ_target ← (1 − τ)·θ_target + τ·θ_online on [`flatten`]ed buffers of two networks built
/// alike (same variables in the same creation order).
pub fn polyak_update(target: &Tensor, online: &Tensor, tau: f64) {
    tch::no_grad(|| {
        let _ = target.shallow_clone().lerp_(online, tau);
    });
}

/// θ_target ← θ_online.
pub fn hard_update(target: &mut nn::VarStore, online: &nn::VarStore) {
    target
        .copy(online)
        .expect("target and online networks have the same layout");
}

/// The value of a 0-d or 1-element tensor as f64 (read directly: no conversion kernel).
pub fn scalar(t: &Tensor) -> f64 {
    if t.dim() == 0 {
        t.double_value(&[])
    } else {
        t.double_value(&[0])
    }
}
