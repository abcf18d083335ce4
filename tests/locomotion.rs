//! The locomotion envs on rapier3d: Gymnasium's dimensions, health rules, joint limits,
//! stillness at rest, and seeded determinism.

use rand::{Rng, SeedableRng};
use std::hash::{Hash, Hasher};
use virel_lab::envs::locomotion::Locomotion;
use virel_lab::envs::{Env, make};
use virel_lab::sim::RobotWorld;

const ROBOTS: [(&str, usize, usize); 5] = [
    ("half_cheetah", 17, 6),
    ("hopper", 11, 3),
    ("walker2d", 17, 6),
    ("ant", 27, 8),
    ("humanoid", 45, 17),
];

fn random_action(rng: &mut impl Rng, env: &dyn Env) -> Vec<f32> {
    let s = env.action_space();
    s.low
        .iter()
        .zip(&s.high)
        .map(|(&l, &h)| rng.random_range(l..=h))
        .collect()
}

#[test]
fn observation_and_action_dimensions_are_gymnasium_v5s() {
    for (name, obs, act) in ROBOTS {
        let mut env = make(name).unwrap();
        assert_eq!(
            (env.observation_space().dim(), env.action_space().dim()),
            (obs, act),
            "{name}"
        );
        assert_eq!(env.reset(Some(1)).len(), obs, "{name}");
        let s = env.step(&vec![0.0; act]);
        assert_eq!(s.obs.len(), obs, "{name}");
        assert!(s.obs.iter().all(|x| x.is_finite()), "{name}");
    }
}

#[test]
fn a_hopper_that_falls_terminates_and_a_cheetah_never_does() {
    let mut hopper = make("hopper").unwrap();
    hopper.reset(Some(0));
    let fell_at = (1..=1000).find(|_| hopper.step(&[0.0; 3]).terminated);
    assert!(
        fell_at.is_some(),
        "an unactuated hopper topples and the episode ends"
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut cheetah = make("half_cheetah").unwrap();
    cheetah.reset(Some(0));
    for k in 1..=1000 {
        let a = random_action(&mut rng, cheetah.as_ref());
        let s = cheetah.step(&a);
        assert!(!s.terminated, "step {k}");
        assert_eq!(s.truncated, k == 1000, "step {k}");
        assert_eq!(
            s.terms.iter().find(|t| t.0 == "healthy").unwrap().1,
            0.0,
            "no healthy reward for the cheetah"
        );
    }
}

/// Full torque, flipping sign every 40 steps: hinges stay within 0.05 rad of their limits, the
/// humanoid's within 0.1 rad (its hips and shoulders pass by ~0.06). For scale: MuJoCo's soft
/// limits under the same pattern (Gymnasium 1.4 v5 envs on MuJoCo 4.0) are passed by
/// 0.26 rad (humanoid), 0.40 (walker2d), 0.17 (ant), 0.11 (half_cheetah), 0.10 (hopper).
#[test]
fn joint_limits_hold_under_maximal_torques() {
    for (name, slack) in [
        ("half_cheetah", 0.05),
        ("hopper", 0.05),
        ("walker2d", 0.05),
        ("ant", 0.05),
        ("humanoid", 0.1),
    ] {
        let mut env = Locomotion::new(name).unwrap();
        env.reset(Some(0));
        let scene = env.robot().scene().clone();
        let n = scene.actuators.len();
        for k in 0..300 {
            let sign = if (k / 40) % 2 == 0 { 1.0 } else { -1.0 };
            env.step(&vec![sign; n]);
            let (angles, _) = env.robot().hinge_state();
            for (q, j) in angles.iter().zip(&scene.joints) {
                let (lo, hi) = j.range.unwrap();
                assert!(
                    *q > lo - slack && *q < hi + slack,
                    "{name} step {k}: {} at {q} outside ({lo}, {hi})",
                    j.name
                );
            }
        }
    }
}

#[test]
fn zero_action_from_rest_keeps_the_cheetah_still() {
    let scene = virel_lab::scene::load("half_cheetah").unwrap();
    let mut robot = RobotWorld::new(&scene).unwrap();
    let settle = |robot: &mut RobotWorld, steps: usize| {
        for _ in 0..steps * scene.task.frame_skip as usize {
            robot.set_actions(&[0.0; 6]);
            robot.step();
        }
    };
    settle(&mut robot, 200);
    let (q0, _) = robot.root_state();
    settle(&mut robot, 800);
    let (q1, v1) = robot.root_state();
    for i in 0..3 {
        assert!(
            (q1[i] - q0[i]).abs() < 1e-2,
            "root coordinate {i} drifted from {} to {}",
            q0[i],
            q1[i]
        );
    }
    assert!(v1.iter().all(|v| v.abs() < 1e-2), "still at rest: {v1:?}");
    let height = robot.root_position().z;
    assert!(
        height > 0.3 && height < 0.75,
        "resting on its legs, not sunk or flying: z = {height}"
    );
    assert!(
        (q1[1] - (height - 0.7)).abs() < 1e-4,
        "the cheetah's observed z is its displacement (MuJoCo's rootz, ref 0)"
    );
}

fn pose_hash(env: &Locomotion) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in env.robot().body_poses() {
        for x in [
            p.translation.x,
            p.translation.y,
            p.translation.z,
            p.rotation.x,
            p.rotation.y,
            p.rotation.z,
            p.rotation.w,
        ] {
            x.to_bits().hash(&mut h);
        }
    }
    h.finish()
}

#[test]
fn two_seeded_runs_give_the_same_transform_hash_after_500_steps() {
    for name in ["walker2d", "ant"] {
        let run = |seed: u64| {
            let mut env = Locomotion::new(name).unwrap();
            env.reset(Some(seed));
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            for _ in 0..500 {
                let a = random_action(&mut rng, &env);
                if env.step(&a).terminated {
                    env.reset(None);
                }
            }
            pose_hash(&env)
        };
        assert_eq!(run(7), run(7), "{name}");
        assert_ne!(run(7), run(8), "{name}: another seed, another trajectory");
    }
}

#[test]
fn the_ant_pays_a_contact_cost_while_it_touches_the_ground_and_the_cheetah_has_none() {
    let mut ant = make("ant").unwrap();
    ant.reset(Some(0));
    let contact = (0..50)
        .map(|_| ant.step(&[0.0; 8]))
        .last()
        .unwrap()
        .terms
        .iter()
        .find(|t| t.0 == "contact")
        .unwrap()
        .1;
    assert!(
        contact < 0.0 && contact > -0.5 * 8.0,
        "resting ant: contact term {contact}"
    );
    let mut cheetah = make("half_cheetah").unwrap();
    cheetah.reset(Some(0));
    assert!(
        cheetah
            .step(&[0.0; 6])
            .terms
            .iter()
            .all(|t| t.0 != "contact"),
        "HalfCheetah-v5 has no contact cost"
    );
}
