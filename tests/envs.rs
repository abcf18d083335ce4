//! The Env API and the built-in envs: reward = sum of terms, Pendulum = Gymnasium's
//! Pendulum-v1 step for step, seeding, and the vectorised form's auto-reset.

use virel_lab::envs::pendulum::Pendulum;
use virel_lab::envs::{Env, make};

#[path = "data/pendulum_reference.rs"]
mod reference;

fn random_actions(env: &dyn Env, n: usize, seed: u64) -> Vec<Vec<f32>> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let s = env.action_space().clone();
    (0..n)
        .map(|_| {
            s.low
                .iter()
                .zip(&s.high)
                .map(|(&l, &h)| rng.random_range(l * 1.5..h * 1.5))
                .collect()
        })
        .collect()
}

#[test]
fn reward_is_the_sum_of_its_terms() {
    for name in virel_lab::envs::ENV_NAMES {
        let mut env = make(name).unwrap();
        env.reset(Some(3));
        for a in random_actions(env.as_ref(), 500, 4) {
            let s = env.step(&a);
            let sum: f32 = s.terms.iter().map(|t| t.1).sum();
            assert!(
                (s.reward - sum).abs() <= 1e-5 * s.reward.abs().max(1.0),
                "{name}: reward {} ≠ Σ terms {sum}",
                s.reward
            );
            if s.truncated {
                env.reset(None);
            }
        }
    }
}

#[test]
fn pendulum_matches_gymnasium_on_fixed_action_sequences() {
    let mut env = Pendulum::default();
    for (case, (th0, thd0, steps)) in reference::CASES.iter().enumerate() {
        env.set_state(*th0, *thd0);
        for (k, (a, obs, reward, th, thd)) in steps.iter().enumerate() {
            let s = env.step(&[*a]);
            let (my_th, my_thd) = env.state();
            assert!(
                (my_th - th).abs() < 1e-12 && (my_thd - thd).abs() < 1e-12,
                "case {case} step {k}: state ({my_th}, {my_thd}) vs ({th}, {thd})"
            );
            for (i, (mine, theirs)) in s.obs.iter().zip(obs).enumerate() {
                assert!(
                    (mine - theirs).abs() <= 1e-6,
                    "case {case} step {k}: obs[{i}] {mine} vs {theirs}"
                );
            }
            assert!(
                (f64::from(s.reward) - reward).abs() <= 1e-6 * reward.abs().max(1.0),
                "case {case} step {k}: reward {} vs {reward}",
                s.reward
            );
            assert!(!s.terminated);
        }
    }
}

#[test]
fn pendulum_truncates_after_200_steps_and_never_terminates() {
    let mut env = Pendulum::default();
    env.reset(Some(0));
    for k in 1..=200 {
        let s = env.step(&[1.0]);
        assert!(!s.terminated);
        assert_eq!(s.truncated, k == 200, "step {k}");
    }
}

#[test]
fn pendulum_reset_draws_gymnasium_ranges_and_is_seeded() {
    let mut a = Pendulum::default();
    let mut b = Pendulum::default();
    for seed in 0..200 {
        let (oa, ob) = (a.reset(Some(seed)), b.reset(Some(seed)));
        assert_eq!(oa, ob);
        let (th, thd) = a.state();
        assert!(
            (-std::f64::consts::PI..std::f64::consts::PI).contains(&th)
                && (-1.0..1.0).contains(&thd)
        );
    }
    assert_ne!(a.reset(Some(1)), a.reset(Some(2)));
}

#[test]
fn vec_env_auto_resets_and_hands_back_the_final_observation() {
    let mut v = virel_lab::envs::ResolvedEnv::resolve("pendulum")
        .unwrap()
        .make_vec(3)
        .unwrap();
    v.reset(7);
    let mut single = make("pendulum").unwrap();
    single.reset(Some(8)); // copy 1 is seeded with 7 + 1
    let mut ended = 0;
    for k in 1..=250 {
        let s = v.step(&[0.5, 0.5, 0.5]);
        let expect = single.step(&[0.5]);
        assert_eq!(
            &s.next_obs[3..6],
            &expect.obs[..],
            "step {k}: copy 1 follows its own seeded env"
        );
        if k == 200 {
            assert!(s.truncated.iter().all(|&t| t) && s.terminated.iter().all(|&t| !t));
            assert_eq!(s.episodes.len(), 3);
            ended += s.episodes.len();
            // The obs to act on is a fresh episode's, not the final one.
            assert_ne!(&s.obs[3..6], &s.next_obs[3..6]);
            let restarted = single.reset(None);
            assert_eq!(&s.obs[3..6], &restarted[..]);
        } else {
            assert!(s.episodes.is_empty());
            assert_eq!(s.obs, s.next_obs);
        }
    }
    assert_eq!(ended, 3);
}

#[test]
fn unknown_env_names_the_choices() {
    let err = make("pendulumm").err().unwrap().to_string();
    assert!(
        err.contains("unknown env 'pendulumm'") && err.contains("pendulum, identity"),
        "{err}"
    );
}
