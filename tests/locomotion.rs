//! The locomotion envs on rapier3d, hosted by bevy_rapier3d: Gymnasium's dimensions, health
//! rules, joint limits, stillness at rest, seeded determinism, entities and exact restores.

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
    env.action_space().sample_uniform(rng, 1)
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

/// Full torque on every joint, its sign flipped every 40 steps, for 300 steps. MuJoCo's limits
/// are soft: under this pattern Gymnasium 1.4's v5 envs on MuJoCo 4.0 pass them by the second
/// figure (rad). Ours must hold at least as tightly.
#[test]
fn joint_limits_hold_under_maximal_torques() {
    for (name, mujoco) in [
        ("half_cheetah", 0.11),
        ("hopper", 0.10),
        ("walker2d", 0.40),
        ("ant", 0.17),
        ("humanoid", 0.26),
    ] {
        let mut env = Locomotion::new(name).unwrap();
        env.reset(Some(0));
        let scene = env.robots().scene().clone();
        let n = scene.actuators.len();
        let mut worst = (0.0f32, String::new());
        for k in 0..300 {
            let sign = if (k / 40) % 2 == 0 { 1.0 } else { -1.0 };
            env.step(&vec![sign; n]);
            let (angles, _) = env.robots().hinge_state(0);
            for (q, j) in angles.iter().zip(&scene.joints) {
                let (lo, hi) = j.range.unwrap();
                let over = (lo - q).max(q - hi);
                if over > worst.0 {
                    worst = (
                        over,
                        format!("{} at {q} outside ({lo}, {hi}), step {k}", j.name),
                    );
                }
            }
        }
        assert!(
            worst.0 < mujoco,
            "{name}: overshoot {} > MuJoCo's {mujoco}: {}",
            worst.0,
            worst.1
        );
        println!(
            "{name}: worst overshoot {:.3} rad (MuJoCo {mujoco})",
            worst.0
        );
    }
}

/// `control_steps` control steps of zero torques on copy 0, set before every physics step.
fn hold_zero_torques(robot: &mut RobotWorld, control_steps: usize) {
    let zeros = vec![0.0; robot.scene().actuators.len()];
    for _ in 0..control_steps * robot.scene().task.frame_skip as usize {
        robot.set_actions(0, &zeros);
        robot.step();
    }
}

#[test]
fn zero_action_from_rest_keeps_the_cheetah_still() {
    let scene = virel_lab::scene::load("half_cheetah").unwrap();
    let mut robot = RobotWorld::new(&scene, 1).unwrap();
    hold_zero_torques(&mut robot, 200);
    let (q0, _) = robot.root_state(0);
    hold_zero_torques(&mut robot, 800);
    let (q1, v1) = robot.root_state(0);
    for i in 0..3 {
        assert!(
            (q1[i] - q0[i]).abs() < 1e-2,
            "root coordinate {i} drifted from {} to {}",
            q0[i],
            q1[i]
        );
    }
    assert!(v1.iter().all(|v| v.abs() < 1e-2), "still at rest: {v1:?}");
    let height = robot.root_position(0).z;
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
    for x in pose_numbers(env.robots(), 0) {
        x.to_bits().hash(&mut h);
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

/// Poses of copy `k` as comparable numbers.
fn pose_numbers(world: &RobotWorld, k: usize) -> Vec<f32> {
    world
        .body_poses(k)
        .iter()
        .flat_map(|p| {
            [
                p.translation.x,
                p.translation.y,
                p.translation.z,
                p.rotation.x,
                p.rotation.y,
                p.rotation.z,
                p.rotation.w,
            ]
        })
        .collect()
}

#[test]
fn copies_sharing_one_spot_of_one_world_never_touch() {
    // Three ants on the same spot of one world (lane spacing 0): copies 0 and 1 kick with
    // full torque, copy 2 lies still. Collision groups keep them apart, so copy 2 rests as an
    // ant alone in its world does (solver order makes them differ by ~0.02; with robot-robot
    // contacts on, copy 2 is thrown: a gap of 13).
    let scene = virel_lab::scene::load("ant").unwrap();
    let mut shared = RobotWorld::with_lanes(&scene, 3, 0.0).unwrap();
    let mut alone = RobotWorld::new(&scene, 1).unwrap();
    for step in 0..300 {
        let sign = if (step / 20) % 2 == 0 { 1.0 } else { -1.0 };
        shared.set_actions(0, &[sign; 8]);
        shared.set_actions(1, &[-sign; 8]);
        shared.set_actions(2, &[0.0; 8]);
        alone.set_actions(0, &[0.0; 8]);
        shared.step();
        alone.step();
    }
    let (still, lone) = (pose_numbers(&shared, 2), pose_numbers(&alone, 0));
    let gap = still
        .iter()
        .zip(&lone)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(gap < 0.1, "the still ant was moved {gap} by the others");
    let kicked = pose_numbers(&shared, 0)
        .iter()
        .zip(&lone)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(kicked > 0.05, "the kicking ant moved: {kicked}");
}

#[test]
fn a_vectorised_robot_copy_follows_its_own_seed_and_resets_alone() {
    // Copy i of a vectorised env is seeded with seed + i, exactly like a lone env with that
    // seed, and keeps pace with it while the other copies fall and restart around it. Solver
    // order differs between a world of three and a world of one, so the poses agree to
    // millimetres, not bits; a reset of copy 1 would move it by centimetres.
    let mut fleet = virel_lab::envs::ResolvedEnv::resolve("hopper")
        .unwrap()
        .make_vec(3)
        .unwrap();
    assert_eq!(fleet.num_envs(), 3);
    assert_eq!(fleet.robots().unwrap().num_copies(), 3);
    let obs = fleet.reset(10).to_vec();
    let mut lone = Locomotion::new("hopper").unwrap();
    assert_eq!(&obs[11..22], lone.reset(Some(11)).as_slice());
    let mut resets = 0;
    for k in 0..60 {
        // Copies 0 and 2 throw themselves over; copy 1 stands with zero torque.
        let a = [1.0, -1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 1.0, -1.0];
        let s = fleet.step(&a);
        assert!(
            s.episodes.iter().all(|e| e.env_index != 1),
            "step {k}: copy 1 stands"
        );
        resets += s.episodes.len();
        let l = lone.step(&[0.0; 3]);
        // Observed positions: height, pitch and the three hinge angles.
        let gap = s.next_obs[11..16]
            .iter()
            .zip(&l.obs[..5])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            gap < 0.01,
            "step {k}: copy 1 is {gap} away from a lone hopper"
        );
    }
    assert!(
        resets >= 4,
        "the thrown copies fell and restarted: {resets}"
    );
}

#[test]
fn a_resting_ants_contact_wrenches_balance_its_weight_with_friction_holding_its_feet() {
    // From 2 s to 4 s at rest, the ground carries the ant: on average (step to step they
    // jitter by a few percent, as the contacts do) the contact forces on its bodies add up to
    // its weight, their torques about its centre of mass cancel, and its four splayed feet
    // are held by friction, 4–20% of their load (normal forces on flat ground are vertical).
    let scene = virel_lab::scene::load("ant").unwrap();
    let mut robot = RobotWorld::new(&scene, 1).unwrap();
    let mut mean = vec![[0.0f32; 6]; scene.bodies.len()];
    for k in 0..400 {
        robot.set_actions(0, &[0.0; 8]);
        robot.step();
        if k >= 200 {
            for (m, w) in mean.iter_mut().zip(robot.contact_wrenches(0)) {
                for (m, x) in m.iter_mut().zip(w) {
                    *m += x / 200.0;
                }
            }
        }
    }
    let total: Vec<f32> = (0..6).map(|j| mean.iter().map(|w| w[j]).sum()).collect();
    let weight = scene.bodies.iter().map(|b| b.mass).sum::<f32>() * 9.81;
    assert!(
        (total[5] / weight - 1.0).abs() < 0.01,
        "mean vertical force {} against a weight of {weight}",
        total[5]
    );
    assert!(
        total[..5].iter().all(|x| x.abs() < 0.01 * weight),
        "no net sideways force or torque at rest: {total:?}"
    );
    let held = mean
        .iter()
        .filter(|w| w[5] > 0.0 && w[3].hypot(w[4]) > 0.02 * w[5])
        .count();
    assert_eq!(held, 4, "four feet held by friction: {mean:?}");
}

#[test]
fn a_reset_robot_moves_exactly_like_a_fresh_one() {
    // Nothing of an episode survives a reset: after 200 steps of flailing (falls included),
    // a humanoid reset with seed 0 follows a fresh env's seed-0 trajectory bit for bit.
    let mut used = Locomotion::new("humanoid").unwrap();
    used.reset(Some(5));
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    for _ in 0..200 {
        let a = random_action(&mut rng, &used);
        if used.step(&a).terminated {
            used.reset(None);
        }
    }
    let mut fresh = Locomotion::new("humanoid").unwrap();
    assert_eq!(used.reset(Some(0)), fresh.reset(Some(0)));
    for k in 0..20 {
        let a = random_action(&mut rng, &fresh);
        let (u, f) = (used.step(&a), fresh.step(&a));
        assert_eq!(u.obs, f.obs, "step {k} after the reset");
        assert_eq!(u.reward, f.reward, "step {k} after the reset");
    }
}

#[test]
fn full_alternating_torque_leaves_the_humanoid_on_the_ground() {
    // Internal torques cannot lift a robot off the ground for long. Under full torque, its
    // sign flipped every 40 steps, MuJoCo's humanoid falls, stays below 1 m and its root
    // never moves faster than ~14 m/s (seeds 0–2). When hinge-chain links kept their torque
    // from step to step, ours flew 100 m high at 400 m/s.
    for seed in 0..3 {
        let mut env = Locomotion::new("humanoid").unwrap();
        env.reset(Some(seed));
        let (mut top, mut fastest) = (0.0f32, 0.0f32);
        for k in 0..300 {
            let sign = if (k / 40) % 2 == 0 { 0.4 } else { -0.4 };
            env.step(&[sign; 17]);
            let (q, qd) = env.robots().root_state(0);
            if k >= 50 {
                top = top.max(q[2]);
            }
            fastest = qd[..3].iter().fold(fastest, |m, v| m.max(v.abs()));
        }
        assert!(top < 1.5, "seed {seed}: the torso rose to {top} m");
        assert!(
            fastest < 30.0,
            "seed {seed}: the torso reached {fastest} m/s"
        );
    }
}

#[test]
fn every_body_is_a_bevy_entity_whose_handle_leads_to_the_pose_it_reports() {
    // bevy_rapier3d hosts the physics: each scene body is an entity with a rapier handle, its
    // geoms are child collider entities, its joint a MultibodyJoint; the rapier body behind
    // the entity's handle is where the poses come from (lane offset included).
    use bevy::prelude::Children;
    use bevy_rapier3d::prelude::{
        Collider, MultibodyJoint, RapierRigidBodyHandle, RapierRigidBodySet,
    };
    let scene = virel_lab::scene::load("humanoid").unwrap();
    let mut robot = RobotWorld::new(&scene, 2).unwrap();
    for step in 0..40 {
        let sign = if (step / 10) % 2 == 0 { 0.5 } else { -0.5 };
        robot.set_actions(0, &[sign; 17]);
        robot.set_actions(1, &[-sign; 17]);
        robot.step();
    }
    let world = robot.world();
    for k in 0..2 {
        let lane = bevy::math::Vec3::new(0.0, k as f32 * virel_lab::sim::LANE_SPACING, 0.0);
        let poses = robot.body_poses(k);
        assert!(
            poses[0].translation.z < 1.35,
            "copy {k} moved: it fell a bit"
        );
        for (i, (&e, pose)) in robot.body_entities(k).iter().zip(&poses).enumerate() {
            let body = &scene.bodies[i];
            let handle = world.get::<RapierRigidBodyHandle>(e).unwrap().0;
            let mut contexts = world.try_query::<&RapierRigidBodySet>().unwrap();
            let set = contexts.iter(world).next().expect("the rapier context");
            let t = *set.bodies[handle].position();
            assert_eq!(t.translation - lane, pose.translation, "{}", body.name);
            assert_eq!(t.rotation, pose.rotation, "{}", body.name);
            let colliders = world.get::<Children>(e).map_or(0, |c| {
                c.iter()
                    .filter(|c| world.get::<Collider>(**c).is_some())
                    .count()
            });
            assert_eq!(colliders, body.geoms.len(), "{}", body.name);
            assert_eq!(
                world.get::<MultibodyJoint>(e).is_some(),
                i > 0,
                "{}: every body but the free root hangs on a joint",
                body.name
            );
        }
    }
}

#[test]
fn a_restored_world_steps_bit_for_bit_like_the_saved_one_resets_included() {
    // Two humanoids (hinge chains, free roots) flail and restart; the world is saved mid-run
    // and restored into a fresh env, whose entities then stand for the saved bodies. Both go
    // on with the same actions: same observations and rewards, bit for bit, through resets
    // of restored copies too.
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut saved = Locomotion::with_copies("humanoid", 2).unwrap();
    for k in 0..2 {
        saved.reset_copy(k, Some(k as u64));
    }
    let act = |rng: &mut rand::rngs::StdRng| -> Vec<f32> {
        (0..34).map(|_| rng.random_range(-0.4..0.4)).collect()
    };
    let go_on = |env: &mut Locomotion, a: &[f32]| {
        let steps = env.step_copies(a);
        for (k, s) in steps.iter().enumerate() {
            if s.terminated || s.truncated {
                env.reset_copy(k, None);
            }
        }
        steps
    };
    for _ in 0..15 {
        go_on(&mut saved, &act(&mut rng));
    }
    let mut restored = Locomotion::with_copies("humanoid", 2).unwrap();
    restored.restore(&saved.snapshot()).unwrap();
    let mut resets = 0;
    for step in 0..60 {
        let a = act(&mut rng);
        let (x, y) = (go_on(&mut saved, &a), go_on(&mut restored, &a));
        for (s, r) in x.iter().zip(&y) {
            assert_eq!(s.obs, r.obs, "step {step}");
            assert_eq!(s.reward, r.reward, "step {step}");
            resets += usize::from(s.terminated);
        }
    }
    assert!(resets >= 2, "copies fell and restarted: {resets}");
}

/// Zero torques from the reset pose for 1000 control steps: the cheetah and the ant stand, the
/// others fall (as in MuJoCo) and come to lie on the ground. Over the last 500 steps nothing
/// goes non-finite, through the ground or above its reset height, no root translates by more
/// than 5 cm, and no joint or root speed exceeds 0.5. Measured: the cheetah's root stays put,
/// the hopper's, the walker's and the ant's move by 5 µm, 1 µm and 14 µm, the humanoid's by
/// 0.4 mm; the fastest speed left is 2.3e-3. (Without the joint limits' margin,
/// `limit_margin: 0.0`, the walker moved 1.2 mm, the humanoid 8.6 mm with a joint still
/// turning at 0.10 rad/s.) The ant is held to stillness in the test below.
#[test]
fn zero_action_from_rest_brings_every_robot_to_rest_without_drift_or_explosion() {
    for (name, _, _) in ROBOTS {
        let scene = virel_lab::scene::load(name).unwrap();
        let mut robot = RobotWorld::new(&scene, 1).unwrap();
        let start_z = robot.root_position(0).z;
        hold_zero_torques(&mut robot, 500);
        let p0 = robot.root_position(0);
        hold_zero_torques(&mut robot, 500);
        let p1 = robot.root_position(0);
        let (q, v) = robot.root_state(0);
        let (h, w) = robot.hinge_state(0);
        assert!(
            q.iter()
                .chain(&v)
                .chain(&h)
                .chain(&w)
                .all(|x| x.is_finite()),
            "{name}: non-finite state"
        );
        let moved = (p1 - p0).length();
        let speed = v.iter().chain(&w).map(|x| x.abs()).fold(0.0f32, f32::max);
        println!(
            "{name}: z {start_z:.3} → {:.3}, root moved {moved:.2e} m, top speed {speed:.2e}",
            p1.z
        );
        assert!(
            p1.z > 0.0 && p1.z <= start_z + 0.05,
            "{name}: root at z = {} (reset {start_z})",
            p1.z
        );
        assert!(moved < 0.05, "{name}: the root drifted {moved} m at rest");
        assert!(speed < 0.5, "{name}: speed {speed} at rest: {v:?} {w:?}");
    }
}

/// Yaw of a free root's orientation `[.., qw, qx, qy, qz]`, rad.
fn yaw(q: &[f32]) -> f32 {
    let (w, x, y, z) = (q[3], q[4], q[5], q[6]);
    (2.0 * (w * z + x * y)).atan2(1.0 - 2.0 * (y * y + z * z))
}

/// A standing ant under zero torques is still over steps 500–1000: its torso turns by less
/// than 0.5 mrad/s, no hip moves faster than 1 mrad/s, the torso slides less than 1 mm, as
/// Gymnasium's Ant-v5 (0 mm, 0 mrad/s from a noiseless reset). Its ankles rest on their
/// limits; with limits enabled only past the bound (`limit_margin: 0.0`, rapier as published)
/// they chatter there and the friction at the feet turns that into a creep: the hips at
/// 16 mrad/s, the torso at 5.8 mrad/s the other way. Measured with the margin: 0.000 mrad/s,
/// 0.01 mm.
#[test]
fn a_standing_ant_neither_turns_nor_slides_at_rest() {
    let scene = virel_lab::scene::load("ant").unwrap();
    assert!(scene.task.limit_margin > 0.0);
    let mut robot = RobotWorld::new(&scene, 1).unwrap();
    hold_zero_torques(&mut robot, 500);
    let (q0, _) = robot.root_state(0);
    let p0 = robot.root_position(0);
    hold_zero_torques(&mut robot, 500);
    let (q1, _) = robot.root_state(0);
    let p1 = robot.root_position(0);
    let seconds = 500.0 * scene.task.timestep * scene.task.frame_skip as f32;
    let turn = (yaw(&q1) - yaw(&q0)) / seconds;
    let (_, w) = robot.hinge_state(0);
    let hips = w.iter().step_by(2).map(|x| x.abs()).fold(0.0f32, f32::max);
    println!(
        "ant: torso turns {:.3} mrad/s, hips up to {:.3} mrad/s, slides {:.3} mm",
        turn * 1e3,
        hips * 1e3,
        (p1 - p0).length() * 1e3
    );
    assert!(turn.abs() < 5e-4, "the torso turns at {turn} rad/s");
    assert!(hips < 1e-3, "a hip turns at {hips} rad/s: {w:?}");
    assert!((p1 - p0).length() < 1e-3, "slid {} m", (p1 - p0).length());
}

/// A snapshot restores only into the robot it was taken of: a scene whose task changed since
/// (another substep count here) is refused with the setting, its value then and now.
#[test]
fn a_snapshot_of_a_changed_scene_is_refused_naming_what_changed() {
    let hopper = virel_lab::scene::builtin("hopper").unwrap();
    let mut saved = Locomotion::new("hopper").unwrap();
    saved.reset(Some(0));
    let snapshot = Env::snapshot(&saved);
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("hopper.ron");
    std::fs::write(&changed, hopper.replace("substeps: 2,", "substeps: 3,")).unwrap();
    let mut other = Locomotion::new(changed.to_str().unwrap()).unwrap();
    let err = Env::restore(&mut other, &snapshot).unwrap_err().to_string();
    assert!(err.contains("substeps 2 in the checkpoint, 3 now"), "{err}");
    let mut same = Locomotion::new("hopper").unwrap();
    Env::restore(&mut same, &snapshot).unwrap();
}
