//! VIREL's counterexample to maximum-entropy RL (Fellows et al. 2019), in tabular form.
//!
//! State s0 offers a1 and a2. a2 pays 1 and ends the episode. a1 pays 0 and leads to s1, which
//! offers k1 actions that all pay 0 and end the episode. The optimal policy takes a2 always.
//!
//! Maximum-entropy RL with temperature c prefers a1 whenever k1^(−γ)·exp(1/c) < 1:
//! π_merl(a1|s0) = 1 / (k1^(−γ)·exp(1/c) + 1). VIREL's temperature is the residual error
//! ε_ω = (1/(p·|H|))·Σ|T Q̂ − Q̂|^p, which is 0 for the exact Q, so its Boltzmann policy
//! π_ω(a|s) ∝ exp(Q̂(s,a)/ε_ω) is the Dirac on argmax Q̂: all mass on a2.

/// A finite MDP with deterministic transitions: `actions[s][a] = (reward, next state or None
/// when the episode ends)`.
#[derive(Clone, Debug)]
pub struct TabularMdp {
    /// `actions[s][a]` = (reward, next state, or `None` where the episode ends).
    pub actions: Vec<Vec<(f64, Option<usize>)>>,
}

/// A table of values per state and action, shaped like [`TabularMdp::actions`].
pub type QTable = Vec<Vec<f64>>;

impl TabularMdp {
    /// The counterexample MDP with k1 actions in s1. State 0 is s0, state 1 is s1;
    /// action 0 of s0 is a1, action 1 is a2.
    pub fn counterexample(k1: usize) -> Self {
        Self {
            actions: vec![vec![(0.0, Some(1)), (1.0, None)], vec![(0.0, None); k1]],
        }
    }

    fn zeros(&self) -> QTable {
        self.actions.iter().map(|a| vec![0.0; a.len()]).collect()
    }

    /// Applies `backup(next-state values)` until Q stops changing (finite horizon here).
    fn iterate(&self, gamma: f64, value: impl Fn(&[f64]) -> f64) -> QTable {
        let mut q = self.zeros();
        for _ in 0..10_000 {
            let next = self.bellman(&q, gamma, &value);
            let delta = next
                .iter()
                .flatten()
                .zip(q.iter().flatten())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            q = next;
            if delta < 1e-13 {
                break;
            }
        }
        q
    }

    /// One application of the Bellman operator with state value `value(Q(s, ·))`.
    pub fn bellman(&self, q: &QTable, gamma: f64, value: impl Fn(&[f64]) -> f64) -> QTable {
        self.actions
            .iter()
            .map(|acts| {
                acts.iter()
                    .map(|&(r, next)| r + next.map_or(0.0, |s| gamma * value(&q[s])))
                    .collect()
            })
            .collect()
    }

    /// Soft (maximum-entropy) Q-values at temperature c: V(s) = c·log Σ_a exp(Q(s,a)/c).
    pub fn soft_value_iteration(&self, c: f64, gamma: f64) -> QTable {
        self.iterate(gamma, |q| c * log_sum_exp(q.iter().map(|x| x / c)))
    }

    /// Optimal Q-values Q*: V(s) = max_a Q(s,a).
    pub fn value_iteration(&self, gamma: f64) -> QTable {
        self.iterate(gamma, max)
    }

    /// VIREL's residual error ε = (1/(p·|H|))·Σ_{s,a} |T* Q − Q|^p over all |H| state-action pairs.
    pub fn residual_error(&self, q: &QTable, gamma: f64, p: f64) -> f64 {
        let tq = self.bellman(q, gamma, max);
        let n = q.iter().map(Vec::len).sum::<usize>() as f64;
        tq.iter()
            .flatten()
            .zip(q.iter().flatten())
            .map(|(t, x)| (t - x).abs().powf(p))
            .sum::<f64>()
            / (p * n)
    }
}

/// One iteration of both methods from Q = 0, as the app's panel and
/// `virel-lab counterexample` show them.
#[derive(Clone, Debug, PartialEq)]
pub struct Iteration {
    /// Bellman backups applied so far.
    pub k: usize,
    /// Maximum-entropy RL: π(a1|s0) of the Boltzmann policy at temperature c on the soft Q.
    pub merl_a1: f64,
    /// VIREL: the residual error ε_ω of the (hard) Q after k backups.
    pub epsilon: f64,
    /// VIREL: π_ω(a1|s0) ∝ exp(Q/ε_ω).
    pub virel_a1: f64,
}

impl TabularMdp {
    /// Both methods side by side, backup by backup from Q = 0, until neither Q changes (at
    /// most `max_iterations` + 1 rows): MERL's soft value iteration at temperature `c` and
    /// VIREL's value iteration with its temperature ε_ω (p-norm `p`) from its own Q.
    pub fn iterations(&self, c: f64, gamma: f64, p: f64, max_iterations: usize) -> Vec<Iteration> {
        let soft = |q: &[f64]| c * log_sum_exp(q.iter().map(|x| x / c));
        let (mut q_soft, mut q_hard) = (self.zeros(), self.zeros());
        let mut rows = Vec::new();
        for k in 0..=max_iterations {
            let epsilon = self.residual_error(&q_hard, gamma, p);
            rows.push(Iteration {
                k,
                merl_a1: boltzmann(&q_soft[0], c)[0],
                epsilon,
                virel_a1: boltzmann(&q_hard[0], epsilon)[0],
            });
            let (next_soft, next_hard) = (
                self.bellman(&q_soft, gamma, soft),
                self.bellman(&q_hard, gamma, max),
            );
            if next_soft == q_soft && next_hard == q_hard {
                break;
            }
            (q_soft, q_hard) = (next_soft, next_hard);
        }
        rows
    }
}

fn max(q: &[f64]) -> f64 {
    q.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn log_sum_exp(xs: impl Iterator<Item = f64> + Clone) -> f64 {
    let m = xs.clone().fold(f64::NEG_INFINITY, f64::max);
    m + xs.map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Boltzmann policy π(a) ∝ exp(q(a)/temperature). At temperature 0 it is the uniform
/// distribution over the maximisers (a Dirac when the maximum is unique), its limit as
/// temperature → 0 (VIREL's Theorem 1).
pub fn boltzmann(q: &[f64], temperature: f64) -> Vec<f64> {
    let m = max(q);
    if temperature <= 0.0 {
        let winners = q.iter().filter(|&&x| x == m).count() as f64;
        return q
            .iter()
            .map(|&x| if x == m { 1.0 / winners } else { 0.0 })
            .collect();
    }
    let w: Vec<f64> = q.iter().map(|x| ((x - m) / temperature).exp()).collect();
    let z: f64 = w.iter().sum();
    w.into_iter().map(|x| x / z).collect()
}

/// The closed form π_merl(a1|s0) = 1 / (k1^(−γ)·exp(1/c) + 1).
pub fn merl_a1_closed_form(c: f64, gamma: f64, k1: usize) -> f64 {
    1.0 / ((k1 as f64).powf(-gamma) * (1.0 / c).exp() + 1.0)
}

/// Both methods solved for one setting, as the app's panel and `virel-lab counterexample`
/// show them.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// MERL's temperature.
    pub c: f64,
    /// Discount.
    pub gamma: f64,
    /// Actions after a1.
    pub k1: usize,
    /// MERL's π(a1|s0) from soft value iteration, to convergence.
    pub merl_a1: f64,
    /// 1/(k1^(−γ)·exp(1/c) + 1).
    pub merl_a1_closed_form: f64,
    /// Q*(s0, ·) from value iteration.
    pub q_star_s0: Vec<f64>,
    /// VIREL's ε_ω at Q* (p-norm `p`).
    pub epsilon: f64,
    /// VIREL's π_ω(a1|s0) ∝ exp(Q*/ε_ω).
    pub virel_a1: f64,
    /// Both methods backup by backup from Q = 0 ([`TabularMdp::iterations`]).
    pub rows: Vec<Iteration>,
}

impl Solution {
    /// Solves the counterexample with k1 actions for MERL's temperature `c`, discount `gamma`
    /// and VIREL's residual norm `p`, with at most `max_iterations` backups in `rows`.
    pub fn new(c: f64, gamma: f64, k1: usize, p: f64, max_iterations: usize) -> Self {
        let mdp = TabularMdp::counterexample(k1);
        let q_star = mdp.value_iteration(gamma);
        let epsilon = mdp.residual_error(&q_star, gamma, p);
        Self {
            c,
            gamma,
            k1,
            merl_a1: boltzmann(&mdp.soft_value_iteration(c, gamma)[0], c)[0],
            merl_a1_closed_form: merl_a1_closed_form(c, gamma, k1),
            virel_a1: boltzmann(&q_star[0], epsilon)[0],
            q_star_s0: q_star[0].clone(),
            epsilon,
            rows: mdp.iterations(c, gamma, p, max_iterations),
        }
    }
}
