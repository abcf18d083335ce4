//! Gymnasium `Pendulum-v1`, reproduced exactly.
//!
//! - Observation `[cos θ, sin θ, θ̇]`, θ̇ ∈ [−8, 8]; action: torque ∈ [−2, 2].
//! - θ̇' = clip(θ̇ + (3g/(2l)·sin θ + 3/(m l²)·u)·dt, ±8), θ' = θ + θ̇'·dt.
//! - Reward −(angle_normalize(θ)² + 0.1·θ̇² + 0.001·u²) from the state before the step,
//!   as three terms: `angle`, `velocity`, `ctrl`.
//! - Start: θ ~ U(−π, π), θ̇ ~ U(−1, 1); truncated after 200 steps; never terminates.
//!
//! Arithmetic follows Gymnasium with NumPy 2 promotion: the state is f64, the action f32, and
//! the terms built from the action alone (`3/(m l²)·u`, `0.001·u²`) are f32.

use super::{BoxSpace, Env, Step, from_snapshot, to_snapshot};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Largest angular speed, rad/s.
pub const MAX_SPEED: f64 = 8.0;
/// Largest torque.
pub const MAX_TORQUE: f32 = 2.0;
/// Time step, s.
pub const DT: f64 = 0.05;
/// Gravity.
pub const G: f64 = 10.0;
/// Mass.
pub const M: f64 = 1.0;
/// Length.
pub const L: f64 = 1.0;
/// Steps before truncation.
pub const MAX_EPISODE_STEPS: usize = 200;

/// Gymnasium's Pendulum-v1, step for step.
pub struct Pendulum {
    state: PendulumState,
    obs_space: BoxSpace,
    act_space: BoxSpace,
}

impl Default for Pendulum {
    fn default() -> Self {
        let high = MAX_SPEED as f32;
        Self {
            state: PendulumState {
                theta: 0.0,
                theta_dot: 0.0,
                steps: 0,
                rng: ChaCha8Rng::seed_from_u64(0),
            },
            obs_space: BoxSpace::new(vec![-1.0, -1.0, -high], vec![1.0, 1.0, high]),
            act_space: BoxSpace::uniform(1, -MAX_TORQUE, MAX_TORQUE),
        }
    }
}

/// What a snapshot holds.
#[derive(Clone, Serialize, Deserialize)]
struct PendulumState {
    theta: f64,
    theta_dot: f64,
    steps: usize,
    rng: ChaCha8Rng,
}

/// Wraps an angle into [−π, π), as Gymnasium's `angle_normalize`.
pub fn angle_normalize(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

impl Pendulum {
    /// Puts the pendulum in a given state (and restarts the episode clock).
    pub fn set_state(&mut self, theta: f64, theta_dot: f64) -> Vec<f32> {
        self.state.theta = theta;
        self.state.theta_dot = theta_dot;
        self.state.steps = 0;
        self.observe()
    }
    /// (angle, angular velocity).
    pub fn state(&self) -> (f64, f64) {
        (self.state.theta, self.state.theta_dot)
    }
    fn observe(&self) -> Vec<f32> {
        vec![
            self.state.theta.cos() as f32,
            self.state.theta.sin() as f32,
            self.state.theta_dot as f32,
        ]
    }
}

impl Env for Pendulum {
    fn name(&self) -> &str {
        "pendulum"
    }
    fn observation_space(&self) -> &BoxSpace {
        &self.obs_space
    }
    fn action_space(&self) -> &BoxSpace {
        &self.act_space
    }
    fn max_episode_steps(&self) -> usize {
        MAX_EPISODE_STEPS
    }
    fn observation_names(&self) -> Vec<String> {
        ["cos_theta", "sin_theta", "theta_dot"]
            .map(str::to_owned)
            .to_vec()
    }
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        if let Some(seed) = seed {
            self.state.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        let theta = self.state.rng.random_range(-PI..PI);
        let theta_dot = self.state.rng.random_range(-1.0..1.0);
        self.set_state(theta, theta_dot)
    }
    fn snapshot(&self) -> serde_json::Value {
        to_snapshot(&self.state)
    }
    fn restore(&mut self, snapshot: &serde_json::Value) -> anyhow::Result<()> {
        self.state = from_snapshot(self.name(), snapshot)?;
        Ok(())
    }
    fn step(&mut self, action: &[f32]) -> Step {
        let u = action[0].clamp(-MAX_TORQUE, MAX_TORQUE);
        let (th, thdot) = (self.state.theta, self.state.theta_dot);
        let angle = -angle_normalize(th).powi(2);
        let velocity = -0.1 * thdot * thdot;
        let ctrl = -(0.001f32 * (u * u));
        let torque_term = f64::from((3.0 / (M * L * L)) as f32 * u);
        let new_thdot = (thdot + (3.0 * G / (2.0 * L) * th.sin() + torque_term) * DT)
            .clamp(-MAX_SPEED, MAX_SPEED);
        self.state.theta = th + new_thdot * DT;
        self.state.theta_dot = new_thdot;
        self.state.steps += 1;
        let cost = -angle + -velocity + f64::from(-ctrl);
        Step {
            obs: self.observe(),
            reward: -cost as f32,
            terminated: false,
            truncated: self.state.steps >= MAX_EPISODE_STEPS,
            terms: vec![
                ("angle", angle as f32),
                ("velocity", velocity as f32),
                ("ctrl", ctrl),
            ],
        }
    }
}
