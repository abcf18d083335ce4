//! Policies that map observations to actions inside the env's bounds.

use super::nets::{HiddenMatmul, Mlp, layer_sizes};
use crate::rl::nets;
use tch::{Kind, Tensor, nn};

/// Affine map from tanh's (−1, 1) to the action box: a = tanh(u)·scale + bias.
#[derive(Debug)]
pub struct ActionScale {
    /// (high − low) / 2, per dimension.
    pub scale: Tensor,
    /// (high + low) / 2, per dimension.
    pub bias: Tensor,
    /// Σ log(scale): the constant part of the change-of-variables term.
    log_scale_sum: f64,
}

impl ActionScale {
    /// The map from [−1, 1] onto [low, high].
    pub fn new(low: &[f32], high: &[f32], device: tch::Device) -> Self {
        let scale: Vec<f32> = low.iter().zip(high).map(|(l, h)| (h - l) / 2.0).collect();
        let bias: Vec<f32> = low.iter().zip(high).map(|(l, h)| (h + l) / 2.0).collect();
        let log_scale_sum = scale.iter().map(|s| f64::from(*s).ln()).sum();
        Self {
            scale: Tensor::from_slice(&scale).to_device(device),
            bias: Tensor::from_slice(&bias).to_device(device),
            log_scale_sum,
        }
    }
    /// Actions in [low, high] from squashed values in [−1, 1].
    pub fn apply(&self, squashed: &Tensor) -> Tensor {
        squashed * &self.scale + &self.bias
    }
}

/// A deterministic policy as plain numbers, for export: dense layers with ReLU between them,
/// then a = tanh(y)·scale + bias.
#[derive(Clone, Debug, PartialEq)]
pub struct DeterministicActor {
    /// The layers, ReLU between them, tanh after the last.
    pub layers: Vec<nets::DenseLayer>,
    /// (high − low) / 2, per action dimension.
    pub scale: Vec<f32>,
    /// (high + low) / 2, per action dimension.
    pub bias: Vec<f32>,
}

impl DeterministicActor {
    /// `net`'s layers (of the last, its first act_dim outputs: a Gaussian head's μ) and `act`.
    fn of(net: &Mlp, act: &ActionScale) -> Self {
        Self {
            layers: net.dense_layers(act.scale.size()[0]),
            scale: nets::tensor_to_vec(&act.scale),
            bias: nets::tensor_to_vec(&act.bias),
        }
    }

    /// Observation size.
    pub fn obs_dim(&self) -> usize {
        self.layers.first().map_or(0, |l| l.inputs)
    }
    /// Action size.
    pub fn act_dim(&self) -> usize {
        self.scale.len()
    }
}

/// The squashed Gaussian policy of SAC and VIREL: u ~ N(μ(s), σ(s)²), a = tanh(u)·scale + bias.
#[derive(Debug)]
pub struct TanhGaussianPolicy {
    net: Mlp,
    act: ActionScale,
    log_std_min: f64,
    log_std_max: f64,
}

const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_7;

impl TanhGaussianPolicy {
    /// A policy of `hidden` layers for the action bounds `low`–`high`.
    pub fn new(
        p: &nn::Path,
        obs_dim: i64,
        hidden: &[i64],
        low: &[f32],
        high: &[f32],
        log_std_bounds: (f64, f64),
    ) -> Self {
        let act_dim = low.len() as i64;
        Self {
            net: Mlp::new(&(p / "net"), &layer_sizes(obs_dim, hidden, 2 * act_dim)),
            act: ActionScale::new(low, high, p.device()),
            log_std_min: log_std_bounds.0,
            log_std_max: log_std_bounds.1,
        }
    }

    /// Mean μ(s) and log σ(s) of the pre-tanh Gaussian, each `[B, A]`.
    pub fn distribution(&self, obs: &Tensor) -> (Tensor, Tensor) {
        let out = self.net.forward(obs).chunk(2, -1);
        (
            out[0].shallow_clone(),
            out[1].clamp(self.log_std_min, self.log_std_max),
        )
    }

    /// A reparameterised sample and its log-density `[B]` in action space.
    pub fn sample(&self, obs: &Tensor) -> (Tensor, Tensor) {
        let (mean, log_std) = self.distribution(obs);
        self.sample_from(&mean, &log_std)
    }

    /// The action of [`Self::sample`] (same draw) without its log-density: acting needs none.
    pub fn sample_action(&self, obs: &Tensor) -> Tensor {
        let (mean, log_std) = self.distribution(obs);
        self.action_with_noise(&mean, &log_std, &mean.randn_like())
    }

    /// The action tanh(μ + σ·ξ), mapped onto the action box, for standard normal `noise` ξ of
    /// `mean`'s shape: a draw whose noise the caller holds, without its log-density.
    pub fn action_with_noise(&self, mean: &Tensor, log_std: &Tensor, noise: &Tensor) -> Tensor {
        let u = mean + log_std.exp() * noise;
        self.act.apply(&u.tanh())
    }

    /// Like [`Self::sample`], from a distribution already computed.
    pub fn sample_from(&self, mean: &Tensor, log_std: &Tensor) -> (Tensor, Tensor) {
        let noise = mean.randn_like();
        let u = mean + log_std.exp() * &noise;
        // log N(u; μ, σ) − Σ log(scale·(1 − tanh²u)), with log(1 − tanh²u) = 2(log 2 − u − softplus(−2u)).
        let log_normal = -(noise.square() * 0.5) - log_std - HALF_LOG_2PI;
        let log_det = (std::f64::consts::LN_2 - &u - (&u * -2.0).softplus()) * 2.0;
        let log_prob =
            (log_normal - log_det).sum_dim_intlist(-1, false, Kind::Float) - self.act.log_scale_sum;
        (self.act.apply(&u.tanh()), log_prob)
    }

    /// The distribution for the first observation of `obs`.
    pub fn action_distribution(&self, obs: &Tensor) -> ActionDistribution {
        tch::no_grad(|| {
            let (mean, log_std) = self.distribution(&obs.narrow(0, 0, 1));
            ActionDistribution::TanhGaussian {
                mean: nets::tensor_to_vec(&mean),
                std: nets::tensor_to_vec(&log_std.exp()),
            }
        })
    }

    /// [`TanhGaussianPolicy::mode`] as plain numbers: the network's μ outputs alone.
    pub fn deterministic_actor(&self) -> DeterministicActor {
        DeterministicActor::of(&self.net, &self.act)
    }

    /// The deterministic action tanh(μ(s)), scaled.
    pub fn mode(&self, obs: &Tensor) -> Tensor {
        self.act.apply(&self.distribution(obs).0.tanh())
    }

    /// Multiplies between hidden layers in `matmul`'s precision from now on.
    pub fn set_hidden_matmul(&mut self, matmul: HiddenMatmul) {
        self.net.set_hidden_matmul(matmul);
    }
}

/// How a policy spreads its actions for one observation, per action dimension (for display).
#[derive(Clone, Debug, PartialEq)]
pub enum ActionDistribution {
    /// a = tanh(u)·scale + bias with u ~ N(mean, std²) (SAC, VIREL); `mean`, `std` of u.
    TanhGaussian {
        /// Mean of u, per dimension.
        mean: Vec<f32>,
        /// Standard deviation of u, per dimension.
        std: Vec<f32>,
    },
    /// a = clip(mean + N(0, std²)) in action units (TD3's exploration noise).
    ClippedGaussian {
        /// The deterministic action, per dimension.
        mean: Vec<f32>,
        /// The noise's standard deviation, per dimension.
        std: Vec<f32>,
    },
}

impl ActionDistribution {
    /// Action dimensions.
    pub fn dims(&self) -> usize {
        match self {
            Self::TanhGaussian { mean, .. } | Self::ClippedGaussian { mean, .. } => mean.len(),
        }
    }

    /// Density of action dimension `j` at `a`, in action units, for bounds `[low, high]`.
    /// The clipped Gaussian's mass beyond the bounds (an atom at each bound) is left out.
    pub fn density(&self, j: usize, a: f32, low: f32, high: f32) -> f32 {
        let normal = |x: f32, m: f32, s: f32| {
            let z = (x - m) / s;
            (-0.5 * z * z).exp() / (s * (2.0 * std::f32::consts::PI).sqrt())
        };
        match self {
            Self::TanhGaussian { mean, std } => {
                let (scale, bias) = ((high - low) / 2.0, (high + low) / 2.0);
                let y = (a - bias) / scale;
                if y.abs() >= 1.0 {
                    return 0.0;
                }
                normal(y.atanh(), mean[j], std[j]) / (scale * (1.0 - y * y))
            }
            Self::ClippedGaussian { mean, std } => {
                if a < low || a > high {
                    return 0.0;
                }
                normal(a, mean[j], std[j])
            }
        }
    }

    /// The action the deterministic policy takes, dimension `j`.
    pub fn mode(&self, j: usize, low: f32, high: f32) -> f32 {
        match self {
            Self::TanhGaussian { mean, .. } => {
                mean[j].tanh() * (high - low) / 2.0 + (high + low) / 2.0
            }
            Self::ClippedGaussian { mean, .. } => mean[j].clamp(low, high),
        }
    }
}

/// TD3's deterministic actor: a = tanh(f(s))·scale + bias.
#[derive(Debug)]
pub struct DeterministicPolicy {
    net: Mlp,
    /// The map from tanh outputs to the action bounds.
    pub act: ActionScale,
}

impl DeterministicPolicy {
    /// A policy of `hidden` layers for the action bounds `low`–`high`.
    pub fn new(p: &nn::Path, obs_dim: i64, hidden: &[i64], low: &[f32], high: &[f32]) -> Self {
        Self {
            net: Mlp::new(
                &(p / "net"),
                &layer_sizes(obs_dim, hidden, low.len() as i64),
            ),
            act: ActionScale::new(low, high, p.device()),
        }
    }
    /// Deterministic actions `[B, act_dim]`.
    pub fn forward(&self, obs: &Tensor) -> Tensor {
        self.act.apply(&self.net.forward(obs).tanh())
    }

    /// [`DeterministicPolicy::forward`] as plain numbers.
    pub fn deterministic_actor(&self) -> DeterministicActor {
        DeterministicActor::of(&self.net, &self.act)
    }

    /// Multiplies between hidden layers in `matmul`'s precision from now on.
    pub fn set_hidden_matmul(&mut self, matmul: HiddenMatmul) {
        self.net.set_hidden_matmul(matmul);
    }
}
