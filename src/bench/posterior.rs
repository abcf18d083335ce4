//! `bench posterior`: what the app's posterior panel costs — one pass of `rl::posterior`
//! (every joint's grid and a pair's map through the critic) per robot, next to one gradient
//! step of the same agent, timed in the same run, on one torch thread.

use super::*;
use crate::envs;
use crate::rl::posterior::{self, GRID, PAIR_GRID};
use crate::runtime;
use crate::training;

/// Milliseconds per posterior pass and per gradient step of a VIREL agent for `env`.
fn time_env(env: &str, seconds: f64) -> Result<(usize, f64, f64)> {
    let e = envs::make(env)?;
    let spec = AgentSpec::of(e.as_ref());
    let cfg = TrainConfig::for_env(env);
    training::seed_torch(0);
    let mut agent = cfg
        .agents
        .build(crate::rl::registry::SUBJECT, &spec, Device::Cpu)?;
    let n = 10_000;
    let mut buffer = ReplayBuffer::new(n, spec.obs_dim, spec.act_dim, Device::Cpu)?;
    let rnd = |cols: usize| {
        training::tensor_to_vec(&Tensor::randn(
            [n as i64, cols as i64],
            (Kind::Float, Device::Cpu),
        ))
    };
    let actions: Vec<f32> = rnd(spec.act_dim)
        .iter()
        .map(|a| a.clamp(-0.4, 0.4))
        .collect();
    buffer.push(
        &rnd(spec.obs_dim),
        &actions,
        &rnd(1),
        &rnd(spec.obs_dim),
        &vec![false; n],
    );
    let bounds = spec.action_bounds();
    let obs = Tensor::randn([1, spec.obs_dim as i64], (Kind::Float, Device::Cpu));
    let time = |f: &mut dyn FnMut()| {
        for _ in 0..5 {
            f();
        }
        let mut samples = Vec::new();
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            let t = Instant::now();
            f();
            samples.push(t.elapsed().as_secs_f64() * 1e3);
        }
        median(&samples)
    };
    let pass = time(&mut || {
        posterior::posterior(agent.as_ref(), &obs, &bounds, Some((0, 1)));
    });
    let step = time(&mut || {
        agent.update(&buffer);
    });
    let rows = spec.act_dim * GRID + PAIR_GRID * PAIR_GRID;
    Ok((rows, pass, step))
}

/// Prints, per robot, the rows of one pass, its median time, the time of one gradient step,
/// and the cost per frame of the app's ten passes a second at 60 FPS.
pub fn bench_posterior(seconds: f64, env: &[String]) -> Result<()> {
    runtime::init_torch(1);
    println!(
        "posterior pass (rl::posterior: {GRID} points per joint + a {PAIR_GRID}² pair map, one critic \
         batch) vs one VIREL gradient step, CPU, 1 torch thread, medians over {seconds} s each"
    );
    println!(
        "{:<14} {:>6} {:>10} {:>12} {:>12} {:>16}",
        "robot", "rows", "pass ms", "update ms", "pass/update", "ms/frame @60FPS"
    );
    for name in env {
        let (rows, pass, step) = time_env(name, seconds)?;
        // The app computes it ten times a second: at 60 frames a second, one frame in six.
        println!(
            "{name:<14} {rows:>6} {pass:>10.2} {step:>12.2} {:>12.2} {:>16.2}",
            pass / step,
            pass * 10.0 / 60.0
        );
    }
    Ok(())
}
