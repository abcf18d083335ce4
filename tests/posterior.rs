//! The posterior panel's numbers (`rl::posterior`) against the agents' own critics: the
//! posterior along each joint is a softmax of the critic's Q̂ slice over T, computed here
//! independently; it narrows as the temperature falls; TD3 has none.

mod common;
use common::torch_lock;
use tch::{Device, Kind, Tensor};
use virel_lab::rl::posterior::{GRID, PAIR_GRID, posterior};
use virel_lab::rl::{AgentSpec, Algo, AlgoConfigs};
use virel_lab::training::tensor_to_vec;

const BOUNDS: [(f32, f32); 3] = [(-1.0, 1.0), (-2.0, 0.5), (-0.4, 0.4)];

fn spec() -> AgentSpec {
    AgentSpec {
        env: "test".into(),
        obs_dim: 5,
        act_dim: 3,
        act_low: BOUNDS.iter().map(|b| b.0).collect(),
        act_high: BOUNDS.iter().map(|b| b.1).collect(),
    }
}

fn agent(algo: Algo) -> Box<dyn virel_lab::rl::Agent> {
    tch::manual_seed(3);
    AlgoConfigs::default()
        .build(algo, &spec(), Device::Cpu)
        .unwrap()
}

fn entropy(p: &[f32]) -> f64 {
    p.iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| -f64::from(v) * f64::from(v).ln())
        .sum()
}

#[test]
fn the_posterior_along_each_joint_is_a_softmax_of_the_critics_q_slice_over_t() {
    let _torch = torch_lock();
    for algo in [Algo::Virel, Algo::BetaVirel, Algo::Sac] {
        let agent = agent(algo);
        let obs = Tensor::randn([2, 5], (Kind::Float, Device::Cpu));
        let p = posterior(agent.as_ref(), &obs, &BOUNDS, Some((0, 2)));
        let t = agent.posterior_temperature().unwrap();
        assert_eq!(p.temperature, Some(t));
        let mode = tensor_to_vec(&agent.act(&obs.narrow(0, 0, 1), false));
        for (a, b) in p.mode.iter().zip(&mode) {
            assert!((a - b).abs() < 1e-5, "{algo}: mode {a} vs the actor's {b}");
        }
        for (j, slice) in p.slices.iter().enumerate() {
            let (low, high) = BOUNDS[j];
            let grid: Vec<f32> = (0..GRID)
                .map(|k| low + (high - low) * (k as f32 + 0.5) / GRID as f32)
                .collect();
            let mut rows = Vec::new();
            for &a in &grid {
                let mut r = mode.clone();
                r[j] = a;
                rows.extend(r);
            }
            let actions = Tensor::from_slice(&rows).view([GRID as i64, 3]);
            let state = obs.narrow(0, 0, 1);
            let q = tensor_to_vec(&agent.q_value(&state, &actions));
            // The one-state pass (the observation through the first layer once) is the plain
            // one, to float rounding (which T = β·ε_ω = 4e-4 would blow up in the softmax).
            let plain =
                tensor_to_vec(&agent.q_value(&state.expand([GRID as i64, 5], false), &actions));
            for (a, b) in q.iter().zip(&plain) {
                assert!((a - b).abs() < 1e-5, "{algo}: one-state Q {a} vs {b}");
            }
            let e: Vec<f64> = q.iter().map(|&v| (f64::from(v) / t).exp()).collect();
            let z: f64 = e.iter().sum();
            let probs = slice.probs.as_ref().unwrap();
            let total: f64 = probs.iter().map(|&v| f64::from(v)).sum();
            assert!(
                (total - 1.0).abs() < 1e-5,
                "{algo} joint {j}: sums to {total}"
            );
            for (k, (&p, e)) in probs.iter().zip(&e).enumerate() {
                assert!(
                    (f64::from(p) - e / z).abs() < 1e-5,
                    "{algo} joint {j} point {k}: {p} vs {}",
                    e / z
                );
            }
            for (a, b) in slice.actions.iter().zip(&grid) {
                assert!((a - b).abs() < 1e-6);
            }
            let kl = slice.kl.unwrap();
            assert!(kl >= 0.0, "{algo} joint {j}: KL {kl}");
        }
        let map = p.pair.as_ref().unwrap();
        assert_eq!(map.weights.len(), PAIR_GRID * PAIR_GRID);
        let total: f32 = map.weights.iter().sum();
        assert!((total - 1.0).abs() < 1e-4);
        assert!(p.kl().unwrap() >= 0.0);
    }
}

#[test]
fn the_posterior_narrows_as_virels_epsilon_falls() {
    let _torch = torch_lock();
    let mut agent = agent(Algo::Virel);
    let obs = Tensor::randn([1, 5], (Kind::Float, Device::Cpu));
    let mut entropies = Vec::new();
    for eps in [10.0, 0.1, 1e-3, 1e-6] {
        agent.set_scalar("epsilon", eps).unwrap();
        let p = posterior(agent.as_ref(), &obs, &BOUNDS, None);
        entropies.push(entropy(p.slices[0].probs.as_ref().unwrap()));
    }
    // Near-uniform (log 40 ≈ 3.69) when hot, onto argmax Q̂ when cold.
    assert!(entropies[0] > 3.6, "{entropies:?}");
    assert!(entropies.windows(2).all(|w| w[1] < w[0]), "{entropies:?}");
    assert!(entropies[3] < 0.1, "{entropies:?}");
}

#[test]
fn td3_shows_its_q_slice_without_a_posterior() {
    let _torch = torch_lock();
    let agent = agent(Algo::Td3);
    let obs = Tensor::randn([1, 5], (Kind::Float, Device::Cpu));
    let p = posterior(agent.as_ref(), &obs, &BOUNDS, Some((1, 1)));
    assert_eq!(p.temperature, None);
    assert!(p.kl().is_none());
    assert!(p.pair.is_none(), "one joint twice is no pair");
    for s in &p.slices {
        assert!(s.probs.is_none() && s.kl.is_none());
        assert_eq!(s.q.len(), GRID);
        assert!(s.q.iter().all(|v| v.is_finite()));
    }
}
