//! Policies that map observations to actions inside the env's bounds.

use super::nets::{Mlp, layer_sizes};
use tch::{Kind, Tensor, nn};

/// Affine map from tanh's (−1, 1) to the action box: a = tanh(u)·scale + bias.
#[derive(Debug)]
pub struct ActionScale {
    pub scale: Tensor,
    pub bias: Tensor,
    /// Σ log(scale): the constant part of the change-of-variables term.
    log_scale_sum: f64,
}

impl ActionScale {
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
    pub fn apply(&self, squashed: &Tensor) -> Tensor {
        squashed * &self.scale + &self.bias
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

    /// The deterministic action tanh(μ(s)), scaled.
    pub fn mode(&self, obs: &Tensor) -> Tensor {
        self.act.apply(&self.distribution(obs).0.tanh())
    }
}

/// TD3's deterministic actor: a = tanh(f(s))·scale + bias.
#[derive(Debug)]
pub struct DeterministicPolicy {
    net: Mlp,
    pub act: ActionScale,
}

impl DeterministicPolicy {
    pub fn new(p: &nn::Path, obs_dim: i64, hidden: &[i64], low: &[f32], high: &[f32]) -> Self {
        Self {
            net: Mlp::new(
                &(p / "net"),
                &layer_sizes(obs_dim, hidden, low.len() as i64),
            ),
            act: ActionScale::new(low, high, p.device()),
        }
    }
    pub fn forward(&self, obs: &Tensor) -> Tensor {
        self.act.apply(&self.net.forward(obs).tanh())
    }
}
