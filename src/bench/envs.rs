//! `bench envs`: env steps per second of the robots with random actions, next to Gymnasium +
//! MuJoCo timed in the same run and EnvPool's anchors.

use super::peers::*;
use super::*;
use crate::envs;

/// Gymnasium 1.4 + MuJoCo (1 core) and EnvPool 1.2.5 (16 envs, 2 threads) env steps/s on this
/// kind of 2-core machine this project is built on, measured with random actions.
const ANCHORS: [(&str, f64, f64); 5] = [
    ("half_cheetah", 16_900.0, 44_000.0),
    ("hopper", 6_800.0, 20_000.0),
    ("walker2d", 5_700.0, 17_000.0),
    ("ant", 2_800.0, 5_800.0),
    ("humanoid", 2_700.0, 7_200.0),
];

/// Random-action env steps per second of `envs`, stepped on `threads` threads.
fn env_steps_per_second(name: &str, copies: usize, threads: usize, seconds: f64) -> Result<f64> {
    use rand::SeedableRng;
    let per_thread = copies.div_ceil(threads);
    let resolved = envs::ResolvedEnv::resolve(name)?;
    let counts: Vec<Result<u64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let resolved = &resolved;
                scope.spawn(move || -> Result<u64> {
                    let mut env = resolved.make_vec(per_thread)?;
                    env.reset(t as u64 * 1000);
                    let space = env.action_space().clone();
                    let mut rng = rand::rngs::StdRng::seed_from_u64(t as u64);
                    let (start, mut steps) = (Instant::now(), 0u64);
                    while start.elapsed().as_secs_f64() < seconds {
                        env.step(&space.sample_uniform(&mut rng, per_thread));
                        steps += per_thread as u64;
                    }
                    Ok(steps)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("bench thread"))
            .collect()
    });
    let total: u64 = counts.into_iter().sum::<Result<u64>>()?;
    Ok(total as f64 / seconds)
}

pub(super) fn bench_envs(
    seconds: f64,
    num_envs: usize,
    python: &Path,
    envs: &[String],
) -> Result<()> {
    let peers: Vec<String> = envs.iter().map(|e| peer_name(e)).collect::<Result<_>>()?;
    let measured = peer_rows(python, "bench_gymnasium.py", &[seconds.to_string()], &peers);
    let w = name_width(envs);
    println!(
        "env steps/s, random actions, release build; peers: Gymnasium+MuJoCo 1 core (measured now, or the anchor), EnvPool {num_envs} envs 2 threads (anchor)"
    );
    println!(
        "{:<w$} {:>9} {:>11} {:>7} {:>11} {:>11} {:>7}",
        "robot",
        "1 env",
        "Gymnasium",
        "ratio",
        format!("{num_envs} envs/2t"),
        "EnvPool",
        "ratio"
    );
    for (env, peer) in envs.iter().zip(&peers) {
        let one = env_steps_per_second(env, 1, 1, seconds)?;
        let many = env_steps_per_second(env, num_envs, 2, seconds)?;
        let anchor = ANCHORS.iter().find(|a| a.0 == peer);
        let gym = measured
            .iter()
            .find(|m| &m.0 == peer)
            .and_then(|m| m.1.first().copied())
            .or(anchor.map(|a| a.1));
        let ratio = |ours: f64, theirs: Option<f64>| {
            theirs.map_or("—".to_owned(), |t| format!("{:.2}×", ours / t))
        };
        let figure = |x: Option<f64>| x.map_or("—".to_owned(), |x| format!("{x:.0}"));
        println!(
            "{env:<w$} {one:>9.0} {:>11} {:>7} {many:>11.0} {:>11} {:>7}",
            figure(gym),
            ratio(one, gym),
            figure(anchor.map(|a| a.2)),
            ratio(many, anchor.map(|a| a.2)),
        );
    }
    Ok(())
}
