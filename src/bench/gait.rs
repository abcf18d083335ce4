//! `bench gait`: what a random policy does on each robot (episode length, return, forward
//! velocity) next to Gymnasium + MuJoCo.

use super::peers::*;
use super::*;
use crate::envs::locomotion;

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
    use crate::envs::Env;
    use rand::SeedableRng;
    let mut robot = locomotion::Locomotion::new(env)?;
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

pub(super) fn bench_gait(steps: usize, seed: u64, python: &Path, envs: &[String]) -> Result<()> {
    let peers: Vec<String> = envs.iter().map(|e| peer_name(e)).collect::<Result<_>>()?;
    let measured = peer_rows(
        python,
        "gait_gymnasium.py",
        &[steps.to_string(), seed.to_string()],
        &peers,
    );
    let w = name_width(envs);
    println!(
        "random policy, {steps} control steps per robot, seed {seed}: episodes, mean episode length and return, mean forward velocity (m/s); ours | Gymnasium + MuJoCo"
    );
    println!(
        "{:<w$} {:>8} {:>8} {:>9} {:>8}  | {:>8} {:>8} {:>9} {:>8}",
        "robot",
        "episodes",
        "length",
        "return",
        "velocity",
        "episodes",
        "length",
        "return",
        "velocity"
    );
    for (env, peer) in envs.iter().zip(&peers) {
        let g = random_gait(env, steps, seed)?;
        let theirs = match measured.iter().find(|m| &m.0 == peer) {
            Some((_, f)) if f.len() == 4 => {
                format!("{:>8.0} {:>8.1} {:>9.1} {:>8.3}", f[0], f[1], f[2], f[3])
            }
            _ => "—".to_owned(),
        };
        println!(
            "{env:<w$} {:>8} {:>8.1} {:>9.1} {:>8.3}  | {theirs}",
            g.episodes, g.mean_length, g.mean_return, g.mean_velocity
        );
    }
    Ok(())
}
