//! The Boltzmann posterior π(a|s) ∝ exp(Q̂(s, a)/T) an actor is fitted to, seen along each
//! action dimension and over a pair of them, and how far the actor q_θ is from it.
//!
//! VIREL's E-step minimises KL(q_θ(·|s) ‖ π_ω(·|s)) with π_ω ∝ exp(Q̂_ω/ε_ω) (Theorem 3 of the
//! paper; β-VIREL's temperature is β·ε_ω). SAC's policy improvement minimises the same KL with
//! T = α. TD3 has no temperature and so no posterior: its Q̂ slice is shown instead.
//!
//! The full posterior over all joints has no tractable normaliser, so it is seen in slices:
//! along joint j, π(a_j | s, a_−j) ∝ exp(Q̂(s, a)/T) with the other joints at the actor's
//! deterministic action, normalised on a grid of [`GRID`] cell centres over the joint's range;
//! over a pair of joints, on a [`PAIR_GRID`]² grid. All rows go through the critic in one batch.
//! The KL of joint j compares q_θ's marginal along j with that slice, E_{a_j~q_θ}[log q_θ(a_j)
//! − log π(a_j)], estimated at [`KL_SAMPLES`] quantiles of q_θ (deterministic, so the number
//! does not flicker) with log π interpolated between grid points; the panel shows the sum over
//! joints.

use super::Agent;
use super::policy::ActionDistribution;
use tch::{Kind, Tensor};

/// Grid points per joint (with [`PAIR_GRID`], sized so that a half-cheetah's pass stays under
/// 2 ms on one core: `bench posterior`).
pub const GRID: usize = 40;
/// Grid points per joint of the pair's map.
pub const PAIR_GRID: usize = 16;
/// Quantiles of q_θ each joint's KL is estimated at.
pub const KL_SAMPLES: usize = 64;
/// Densities the panels draw (window and video) are cut at this height: a nearly deterministic
/// actor is a spike.
pub const MAX_DRAWN_DENSITY: f32 = 50.0;

/// The actor's density along joint `j` at `n` cell centres over `[low, high]`, as
/// (action, density) pairs cut at [`MAX_DRAWN_DENSITY`]: the panels' filled curve.
pub fn actor_curve(
    d: &ActionDistribution,
    j: usize,
    (low, high): (f32, f32),
    n: usize,
) -> Vec<(f32, f32)> {
    (0..n)
        .map(|k| {
            let a = low + (high - low) * (k as f32 + 0.5) / n as f32;
            (a, d.density(j, a, low, high).min(MAX_DRAWN_DENSITY))
        })
        .collect()
}

/// The posterior along one action dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct Slice {
    /// The grid: [`GRID`] cell centres over the dimension's range.
    pub actions: Vec<f32>,
    /// Q̂(s, a) along the grid.
    pub q: Vec<f32>,
    /// π on the grid (sums to 1); `None` without a temperature (TD3).
    pub probs: Option<Vec<f32>>,
    /// KL(q_θ ‖ π) along this dimension; `None` without a temperature.
    pub kl: Option<f64>,
}

impl Slice {
    /// Width of a grid cell: probabilities over it are densities.
    pub fn cell(&self) -> f32 {
        match self.actions.as_slice() {
            [a, b, ..] => b - a,
            _ => 1.0,
        }
    }

    /// The line the panels draw at each grid point: [`Self::line`], TD3's Q̂ shape scaled to
    /// `actor_height` (the top of the actor's density drawn beside it), cut at
    /// [`MAX_DRAWN_DENSITY`].
    pub fn drawn_line(&self, actor_height: f32) -> Vec<f32> {
        let scale = if self.probs.is_some() {
            1.0
        } else {
            actor_height
        };
        self.line()
            .into_iter()
            .map(|y| (y * scale).min(MAX_DRAWN_DENSITY))
            .collect()
    }

    /// What a panel draws at each grid point: π's density (probability over the cell's
    /// width), or without a posterior (TD3) Q̂ shifted and scaled to [0, 1], for its shape.
    pub fn line(&self) -> Vec<f32> {
        match &self.probs {
            Some(p) => p.iter().map(|v| v / self.cell()).collect(),
            None => {
                let lo = self.q.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = self.q.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let span = (hi - lo).max(1e-6);
                self.q.iter().map(|q| (q - lo) / span).collect()
            }
        }
    }
}

/// The posterior over two action dimensions, the others at the deterministic action.
#[derive(Clone, Debug, PartialEq)]
pub struct PairMap {
    /// The two dimensions (rows, columns).
    pub joints: (usize, usize),
    /// Grid of the first dimension ([`PAIR_GRID`] points).
    pub rows: Vec<f32>,
    /// Grid of the second.
    pub cols: Vec<f32>,
    /// Row-major weights that sum to 1: π on the grid, or (TD3) Q̂ shifted and scaled to sum to 1.
    pub weights: Vec<f32>,
}

/// The posterior at one state.
#[derive(Clone, Debug, PartialEq)]
pub struct Posterior {
    /// T of π ∝ exp(Q̂/T); `None` for TD3.
    pub temperature: Option<f64>,
    /// The deterministic action the slices pass through.
    pub mode: Vec<f32>,
    /// One per action dimension.
    pub slices: Vec<Slice>,
    /// The pair asked for.
    pub pair: Option<PairMap>,
}

impl Posterior {
    /// Σ_j KL along dimension j; `None` without a temperature.
    pub fn kl(&self) -> Option<f64> {
        self.slices.iter().map(|s| s.kl).sum()
    }
}

/// `n` cell centres over [low, high].
pub fn grid(low: f32, high: f32, n: usize) -> Vec<f32> {
    let w = (high - low) / n as f32;
    (0..n).map(|k| low + w * (k as f32 + 0.5)).collect()
}

/// Where `a` falls on the evenly spaced `grid`: the points i ≤ j either side and the weight
/// w of j for linear interpolation; beyond the ends, the end point (w = 0 or 1).
pub fn bracket(grid: &[f32], a: f64) -> (usize, usize, f64) {
    let n = grid.len();
    if n < 2 {
        return (0, 0, 0.0);
    }
    let cell = f64::from(grid[1] - grid[0]);
    let p = ((a - f64::from(grid[0])) / cell).clamp(0.0, (n - 1) as f64);
    let i = (p.floor() as usize).min(n - 2);
    (i, i + 1, p - i as f64)
}

/// log softmax(q / t), in f64.
pub fn log_boltzmann(q: &[f32], t: f64) -> Vec<f64> {
    let z: Vec<f64> = q.iter().map(|&v| f64::from(v) / t).collect();
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
    z.iter().map(|v| v - log_sum).collect()
}

/// KL(q_θ,j ‖ π_j) along dimension `j` of `dist` with bounds [low, high], where π_j has
/// log-probabilities `log_probs` on the cell centres `grid`: the mean of log q − log π over
/// [`KL_SAMPLES`] quantiles of q_θ's marginal. `None` for a distribution without a density
/// in closed form along the range (TD3's clipped noise).
pub fn slice_kl(
    dist: &ActionDistribution,
    j: usize,
    (low, high): (f32, f32),
    grid: &[f32],
    log_probs: &[f64],
) -> Option<f64> {
    let ActionDistribution::TanhGaussian { mean, std } = dist else {
        return None;
    };
    let (mu, sigma) = (f64::from(mean[j]), f64::from(std[j]));
    let (scale, bias) = (f64::from(high - low) / 2.0, f64::from(high + low) / 2.0);
    let n = grid.len();
    if n < 2 || sigma <= 0.0 {
        return None;
    }
    let cell = f64::from(grid[1] - grid[0]);
    let log_pi = |a: f64| {
        let (i, j, w) = bracket(grid, a);
        (1.0 - w) * log_probs[i] + w * log_probs[j] - cell.ln()
    };
    let total: f64 = (0..KL_SAMPLES)
        .map(|k| {
            let z = probit((k as f64 + 0.5) / KL_SAMPLES as f64);
            let u = mu + sigma * z;
            // log q(a) = log N(u; μ, σ) − log(scale·(1 − tanh²u)), the last term computed
            // stably as in the policy's own log-density.
            let log_det = 2.0 * (std::f64::consts::LN_2 - u.abs() - softplus(-2.0 * u.abs()));
            let log_q = -0.5 * z * z
                - sigma.ln()
                - 0.5 * (2.0 * std::f64::consts::PI).ln()
                - scale.ln()
                - log_det;
            log_q - log_pi(u.tanh() * scale + bias)
        })
        .sum();
    Some(total / KL_SAMPLES as f64)
}

fn softplus(x: f64) -> f64 {
    if x > 30.0 { x } else { x.exp().ln_1p() }
}

/// The standard normal's quantile function Φ⁻¹(p), p in (0, 1) (Acklam's rational
/// approximation, relative error below 1.2e-9).
pub fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const P_LOW: f64 = 0.024_25;
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - P_LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The posterior of `agent` at the first observation of `obs` (`[N, obs_dim]`), for action
/// bounds `bounds`, with the map of `pair` if asked for (a pair out of range, or of one
/// dimension twice, is left out). One critic pass over A·[`GRID`] (+ [`PAIR_GRID`]²) rows
/// at one state (its observation through the first layer once).
pub fn posterior(
    agent: &dyn Agent,
    obs: &Tensor,
    bounds: &[(f32, f32)],
    pair: Option<(usize, usize)>,
) -> Posterior {
    let dist = agent.action_distribution(obs);
    let dims = dist.dims().min(bounds.len());
    let mode: Vec<f32> = (0..dims)
        .map(|j| dist.mode(j, bounds[j].0, bounds[j].1))
        .collect();
    let grids: Vec<Vec<f32>> = bounds[..dims]
        .iter()
        .map(|&(l, h)| grid(l, h, GRID))
        .collect();
    let pair = pair.filter(|&(i, k)| i != k && i < dims && k < dims);
    let pair_grids = pair.map(|(i, k)| {
        (
            grid(bounds[i].0, bounds[i].1, PAIR_GRID),
            grid(bounds[k].0, bounds[k].1, PAIR_GRID),
        )
    });
    // Rows: joint j's grid for each j, then the pair's grid, row-major.
    let mut rows: Vec<f32> = Vec::with_capacity((dims * GRID + PAIR_GRID * PAIR_GRID) * dims);
    for (j, g) in grids.iter().enumerate() {
        for &a in g {
            let at = rows.len();
            rows.extend_from_slice(&mode);
            rows[at + j] = a;
        }
    }
    if let (Some((i, k)), Some((gi, gk))) = (pair, &pair_grids) {
        for &ai in gi {
            for &ak in gk {
                let at = rows.len();
                rows.extend_from_slice(&mode);
                rows[at + i] = ai;
                rows[at + k] = ak;
            }
        }
    }
    let n = (rows.len() / dims.max(1)) as i64;
    let q: Vec<f32> = tch::no_grad(|| {
        let first = obs.narrow(0, 0, 1);
        let actions = Tensor::from_slice(&rows)
            .view([n, dims as i64])
            .to_device(first.device())
            .to_kind(first.kind());
        let q = agent.q_value(&first, &actions);
        super::nets::tensor_to_vec(&q.to_kind(Kind::Float))
    });
    let temperature = agent.posterior_temperature().filter(|t| *t > 0.0);
    let slices = grids
        .into_iter()
        .enumerate()
        .map(|(j, actions)| {
            let q = q[j * GRID..(j + 1) * GRID].to_vec();
            let (probs, kl) = match temperature {
                Some(t) => {
                    let log_p = log_boltzmann(&q, t);
                    let kl = slice_kl(&dist, j, bounds[j], &actions, &log_p);
                    (Some(log_p.iter().map(|l| l.exp() as f32).collect()), kl)
                }
                None => (None, None),
            };
            Slice {
                actions,
                q,
                probs,
                kl,
            }
        })
        .collect();
    let pair = pair.zip(pair_grids).map(|(joints, (rows, cols))| {
        let q = &q[dims * GRID..];
        let weights = match temperature {
            Some(t) => log_boltzmann(q, t).iter().map(|l| l.exp() as f32).collect(),
            None => {
                let lo = q.iter().copied().fold(f32::INFINITY, f32::min);
                let shifted: Vec<f32> = q.iter().map(|v| v - lo).collect();
                let sum: f32 = shifted.iter().sum();
                shifted
                    .iter()
                    .map(|v| {
                        if sum > 0.0 {
                            v / sum
                        } else {
                            1.0 / q.len() as f32
                        }
                    })
                    .collect()
            }
        };
        PairMap {
            joints,
            rows,
            cols,
            weights,
        }
    });
    Posterior {
        temperature,
        mode,
        slices,
        pair,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probit_inverts_the_normal_cdf_at_known_points() {
        assert!(probit(0.5).abs() < 1e-9);
        assert!((probit(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((probit(0.001) + 3.090_232_306).abs() < 1e-8);
    }

    #[test]
    fn the_boltzmann_slice_is_a_softmax_of_q_over_t() {
        let q = [1.0_f32, 2.0, 0.5];
        let p: Vec<f64> = log_boltzmann(&q, 0.5).iter().map(|l| l.exp()).collect();
        let e: Vec<f64> = q.iter().map(|&v| (f64::from(v) / 0.5).exp()).collect();
        let s: f64 = e.iter().sum();
        for (a, b) in p.iter().zip(&e) {
            assert!((a - b / s).abs() < 1e-12);
        }
    }

    #[test]
    fn panels_draw_the_actor_at_cell_centres_and_the_posterior_unscaled_both_cut_at_the_top() {
        let sharp = ActionDistribution::ClippedGaussian {
            mean: vec![0.0],
            std: vec![1e-3],
        };
        let curve = actor_curve(&sharp, 0, (-1.0, 1.0), 4);
        let xs: Vec<f32> = curve.iter().map(|p| p.0).collect();
        assert_eq!(xs, vec![-0.75, -0.25, 0.25, 0.75]);
        let peak = actor_curve(&sharp, 0, (-1.0, 1.0), 5)[2].1;
        assert_eq!(peak, MAX_DRAWN_DENSITY);
        let with_pi = Slice {
            actions: vec![-0.5, 0.5],
            q: vec![0.0, 1.0],
            probs: Some(vec![0.25, 0.75]),
            kl: Some(0.0),
        };
        // π over cells of width 1: densities 0.25 and 0.75, whatever the actor's height.
        assert_eq!(with_pi.drawn_line(7.0), vec![0.25, 0.75]);
        let td3 = Slice {
            probs: None,
            kl: None,
            ..with_pi.clone()
        };
        // Q̂'s shape, 0 to 1, scaled to the actor's height and cut like it.
        assert_eq!(td3.drawn_line(3.0), vec![0.0, 3.0]);
        assert_eq!(td3.drawn_line(1e3), vec![0.0, MAX_DRAWN_DENSITY]);
    }

    fn log_density(d: &ActionDistribution, a: f32) -> f32 {
        d.density(0, a, -1.0, 1.0).ln()
    }

    #[test]
    fn kl_is_near_zero_when_the_actor_is_the_posterior() {
        let d = ActionDistribution::TanhGaussian {
            mean: vec![0.3],
            std: vec![0.4],
        };
        let g = grid(-1.0, 1.0, GRID);
        // Q̂ = T·log q_θ + const makes π ∝ q_θ.
        let t = 0.7;
        let q: Vec<f32> = g.iter().map(|&a| 0.7 * log_density(&d, a) + 3.0).collect();
        let kl = slice_kl(&d, 0, (-1.0, 1.0), &g, &log_boltzmann(&q, t)).unwrap();
        assert!(kl.abs() < 0.01, "KL {kl}");
    }

    #[test]
    fn kl_is_positive_when_the_actor_misses_the_posterior() {
        let g = grid(-1.0, 1.0, GRID);
        let q: Vec<f32> = g.iter().map(|&a| -10.0 * (a - 0.8) * (a - 0.8)).collect();
        let log_p = log_boltzmann(&q, 1.0);
        for (mean, std) in [(0.0, 0.3), (-1.5, 0.1), (1.0, 2.0), (0.9, 0.05)] {
            let d = ActionDistribution::TanhGaussian {
                mean: vec![mean],
                std: vec![std],
            };
            let kl = slice_kl(&d, 0, (-1.0, 1.0), &g, &log_p).unwrap();
            assert!(kl > 0.0, "KL {kl} for N({mean}, {std}²)");
        }
        // Further from the posterior's mode (0.8, width ≈ 0.22) is further in KL.
        let kl_at = |m: f32| {
            let d = ActionDistribution::TanhGaussian {
                mean: vec![m],
                std: vec![0.2],
            };
            slice_kl(&d, 0, (-1.0, 1.0), &g, &log_p).unwrap()
        };
        assert!(kl_at(1.1) < kl_at(0.0) && kl_at(0.0) < kl_at(-1.0));
    }

    #[test]
    fn td3_noise_has_no_kl() {
        let d = ActionDistribution::ClippedGaussian {
            mean: vec![0.0],
            std: vec![0.1],
        };
        let g = grid(-1.0, 1.0, 8);
        assert!(slice_kl(&d, 0, (-1.0, 1.0), &g, &[0.0; 8]).is_none());
    }
}
