//! What a random policy does on a robot: uniform random actions for a number of control steps,
//! episode lengths, returns and forward velocity. The baseline every algorithm must beat (the
//! study's report) and the check of a robot's physics against MuJoCo's (`bench gait`).

use super::Env;
use super::locomotion::Locomotion;
use anyhow::Result;
use rand::SeedableRng;

/// A random policy's statistics over a fixed number of control steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaitStats {
    /// Episodes that ended (terminated or truncated) within the steps.
    pub episodes: usize,
    /// Mean episode length.
    pub mean_length: f64,
    /// Mean episode return.
    pub mean_return: f64,
    /// Mean forward velocity over every step, m/s.
    pub mean_velocity: f64,
}

/// Uniform random actions on one copy of `env` for `steps` control steps from a `seed`ed reset.
pub fn random_gait(env: &str, steps: usize, seed: u64) -> Result<GaitStats> {
    let mut robot = Locomotion::new(env)?;
    let weight = f64::from(robot.scene().task.forward_reward_weight);
    let space = robot.action_space().clone();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    robot.reset(Some(seed));
    let (mut lengths, mut returns) = (Vec::new(), Vec::new());
    let (mut length, mut ret, mut forward) = (0usize, 0.0f64, 0.0f64);
    for _ in 0..steps {
        let s = robot.step(&space.sample_uniform(&mut rng, 1));
        length += 1;
        ret += f64::from(s.reward);
        forward += s
            .terms
            .iter()
            .find(|t| t.0 == "forward")
            .map_or(0.0, |t| f64::from(t.1));
        if s.terminated || s.truncated {
            lengths.push(length as f64);
            returns.push(ret);
            (length, ret) = (0, 0.0);
            robot.reset(None);
        }
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    Ok(GaitStats {
        episodes: lengths.len(),
        mean_length: mean(&lengths),
        mean_return: mean(&returns),
        mean_velocity: forward / weight / steps.max(1) as f64,
    })
}
