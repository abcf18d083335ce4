//! `bench gait`: what a random policy does on each robot (episode length, return, forward
//! velocity) next to Gymnasium + MuJoCo.

use super::peers::*;
use super::*;
use crate::envs::random_policy::random_gait;

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
