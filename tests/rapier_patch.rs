//! The vendored rapier3d (vendor/README.md) builds each multibody's mass matrix from the
//! non-zero columns of the body Jacobians only. Held here against the dense definition
//! M = Σᵢ Jᵢᵀ·diag(mᵢ, Iᵢ)·Jᵢ + diag(armature), from rapier's public API alone.

use bevy_rapier3d::prelude::{RapierContextJoints, RapierRigidBodySet};
use bevy_rapier3d::rapier::dynamics::DenseLu;
use bevy_rapier3d::rapier::na::{DMatrix, DVector, Matrix6};
use rand::{Rng, SeedableRng};
use virel_lab::sim::RobotWorld;

/// diag(M⁻¹) of every multibody of `robot`, rapier's (patched) and the dense one.
fn inverse_mass_diagonals(robot: &RobotWorld) -> Vec<(Vec<f32>, Vec<f32>)> {
    let world = robot.world();
    let mut context = world
        .try_query::<(&RapierContextJoints, &RapierRigidBodySet)>()
        .expect("bevy_rapier3d's components are registered");
    let (joints, bodies) = context.single(world).expect("one rapier context");
    let bodies = &bodies.bodies;
    joints
        .multibody_joints
        .multibodies()
        .map(|mb| {
            // dt = 0: M plus armature, without the damping and spring terms.
            let rapier = mb.clone().dof_inverse_inertia(bodies);
            let n = mb.ndofs();
            let mut mass = DMatrix::<f32>::zeros(n, n);
            for (i, link) in mb.links().enumerate() {
                let props = bodies[link.rigid_body_handle()].mass_properties();
                let (m, inertia) = (props.effective_mass(), props.effective_angular_inertia());
                let mut spatial = Matrix6::<f32>::zeros();
                for (k, v) in [m.x, m.y, m.z].into_iter().enumerate() {
                    spatial[(k, k)] = v;
                }
                let rows = [
                    [inertia.m11, inertia.m12, inertia.m13],
                    [inertia.m12, inertia.m22, inertia.m23],
                    [inertia.m13, inertia.m23, inertia.m33],
                ];
                for (r, row) in rows.iter().enumerate() {
                    for (c, &v) in row.iter().enumerate() {
                        spatial[(3 + r, 3 + c)] = v;
                    }
                }
                let j = mb.body_jacobian(i);
                mass += j.transpose() * spatial * j;
            }
            for (d, a) in mb.armature().iter().enumerate() {
                mass[(d, d)] += a;
            }
            let dense = mass.try_inverse().expect("a mass matrix is invertible");
            (
                rapier.iter().copied().collect(),
                (0..n).map(|d| dense[(d, d)]).collect(),
            )
        })
        .collect()
}

#[test]
fn the_sparse_multibody_mass_matrix_equals_the_dense_one_for_every_robot() {
    for name in ["half_cheetah", "hopper", "walker2d", "ant", "humanoid"] {
        let scene = virel_lab::scene::load(name).unwrap();
        // Two copies flailing at random: bent joints, moving roots, a multibody each.
        let mut robot = RobotWorld::new(&scene, 2).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..30 {
            for k in 0..2 {
                let a: Vec<f32> = (0..scene.actuators.len())
                    .map(|_| rng.random_range(-1.0..=1.0))
                    .collect();
                robot.set_actions(k, &a);
            }
            robot.advance(scene.task.frame_skip as usize);
        }
        let diagonals = inverse_mass_diagonals(&robot);
        assert_eq!(diagonals.len(), 2, "{name}: one multibody per copy");
        for (rapier, dense) in diagonals {
            assert_eq!(rapier.len(), dense.len(), "{name}");
            for (d, (r, x)) in rapier.iter().zip(&dense).enumerate() {
                assert!(
                    (r - x).abs() <= 1e-3 * x.abs().max(1e-3),
                    "{name}: diag(M⁻¹)[{d}] is {r}, the dense matrix gives {x}"
                );
            }
        }
    }
}

/// Observations after one control step from the seed-0 reset, under actions
/// aⱼ = 0.4·sin(0.7·j), with the unpatched rapier3d 0.35.0-glamx0.2 of crates.io (measured on
/// this machine, release build). The walker2d is left out: on one solver substep its two
/// flat feet are redundant contacts at reset, and the unconverged split of their impulses
/// moves its joint velocities by up to 0.2 under mere rounding (its random-policy statistics
/// agree: 19.8 against 19.7 steps per episode, −0.957 against −0.947 m/s over 6000 steps).
/// The figures were taken without a joint-limit margin, the humanoid on MuJoCo's physics step
/// (five of 0.003 s per control step) and the hopper on 4 substeps, so the test runs the
/// robots that way (`AS_RECORDED`); the shipped scenes use a 0.01 rad margin, the humanoid
/// three steps of 0.005 s, the hopper 2 substeps.
#[rustfmt::skip]
const PUBLISHED_FIRST_STEP: [(&str, &[f32]); 4] = [
    (
        "humanoid",
        &[
            1.402915, 0.99997866, -0.0032462634, 0.0005867733, -0.005654379, 0.0036356226,
            0.004411138, -0.00594129, 0.01854128, 0.035549734, -0.089980274, -0.17581916,
            -0.0051092776, -0.04747917, -0.023262186, -0.0349066, 0.026791198, 0.028956892,
            -0.015639909, 0.010896719, 0.0074887467, -0.007446831, -0.033567846, 0.047143802,
            -0.15196952, -0.5259827, 0.010213328, -1.3587039, 0.422099, 0.8348642, 0.2688877,
            0.9572284, 2.686762, -7.700625, -15.623054, -1.0146883, -4.6178656, -1.2412883,
            3.7398422e-8, 2.2083101, 2.1913874, -0.8616394, 1.230571, -0.15164104, -1.7788458,
        ],
    ),
    (
        "half_cheetah",
        &[
            0.025283758, 0.026173282, -0.010875194, 0.09439817, 0.14981037, 0.105045296,
            -0.024839966, -0.082782604, 0.31670704, -0.59834397, -0.5575476, 0.19632365,
            2.2069457, 2.7184987, 2.8070526, 2.030109, -0.53966606,
        ],
    ),
    (
        "ant",
        &[
            0.83152086, 0.9998521, 0.0071609053, 0.0033396638, 0.015263197, 0.09751837,
            0.59600914, -0.027853563, -0.54907024, -0.059257396, -0.6035217, -0.015830692,
            0.5750726, 0.22971763, -0.02005829, -0.2732457, -0.081725605, -0.053054668,
            -0.22437371, 2.825189, 2.5666811, 1.0425138, -0.95859534, -2.4912074, -2.8335,
            0.02493954, 1.8412639,
        ],
    ),
    (
        "hopper",
        &[
            1.2516721, 0.0022883608, -0.0003425153, 1.4539108e-13, 0.0043988144, 0.012080971,
            -0.094784684, 0.007220217, -0.0053468086, 0.0, 0.56437504,
        ],
    ),
];

#[test]
fn a_first_step_under_the_patch_matches_the_published_rapier_to_rounding() {
    // The dynamics themselves: velocities after a step come from the accelerations, which the
    // patched matrix with the gyroscopic and Coriolis terms factorises (the test above holds
    // the plain mass matrix only).
    use virel_lab::envs::{Env, locomotion::Locomotion};
    // The published crate has no joint-limit margin (`task.limit_margin`); the humanoid's
    // and the half-cheetah's figures were taken on MuJoCo's physics step (the cheetah with
    // rapier's contact softness; the shipped one has MuJoCo's), the hopper's on 4 substeps.
    const AS_RECORDED: [(&str, &str, &str); 3] = [
        (
            "humanoid",
            "timestep: 0.005,\n        frame_skip: 3,",
            "timestep: 0.003,\n        frame_skip: 5,",
        ),
        (
            "half_cheetah",
            "timestep: 0.01,\n        frame_skip: 5,\n        solver_substeps: 4,\n        ground_softness: Some((7.96, 1.0)),",
            "timestep: 0.01,\n        frame_skip: 5,\n        solver_substeps: 4,",
        ),
        ("hopper", "substeps: 2,", "substeps: 4,"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, published) in PUBLISHED_FIRST_STEP {
        let mut text = virel_lab::scene::builtin(name)
            .unwrap()
            .replace("task: Task(", "task: Task(\n        limit_margin: 0.0,");
        for &(_, shipped, recorded) in AS_RECORDED.iter().filter(|r| r.0 == name) {
            assert!(text.contains(shipped), "{name}: the shipped step changed");
            text = text.replace(shipped, recorded);
        }
        let scene = dir.path().join(format!("{name}.ron"));
        std::fs::write(&scene, text).unwrap();
        let scene = scene.to_str().unwrap();
        let mut env = Locomotion::new(scene).unwrap();
        env.reset(Some(0));
        let action: Vec<f32> = (0..env.action_space().dim())
            .map(|j| 0.4 * (0.7 * j as f32).sin())
            .collect();
        let obs = env.step(&action).obs;
        assert_eq!(obs.len(), published.len(), "{name}");
        for (i, (o, p)) in obs.iter().zip(published).enumerate() {
            assert!(
                (o - p).abs() <= 1e-4 * p.abs().max(1.0),
                "{name}: observation {i} is {o}, the published rapier gives {p}"
            );
        }
    }
}

/// The vendored `DenseLu` (the multibody's mass-matrix factorisation, nalgebra's `LU` before)
/// solves a system that needs row swaps as nalgebra's `LU` does, reads only the leading block
/// it is given, and reports a singular matrix.
#[test]
fn the_dense_lu_solves_like_nalgebras_and_reports_a_singular_matrix() {
    let n = 9;
    let a = DMatrix::from_fn(n, n, |r, c| {
        let x = (r * 7 + c * 3) as f32;
        (x * 0.37).sin() + if r == c { 0.5 } else { 0.0 } + if c == 0 { 0.0 } else { 0.1 }
    });
    let b = DVector::from_fn(n, |r, _| r as f32 - 3.0);
    let mut expected = b.clone();
    assert!(bevy_rapier3d::rapier::na::LU::new(a.clone()).solve_mut(&mut expected));
    let mut big = DMatrix::from_element(n + 2, n + 2, 99.0);
    big.view_mut((0, 0), (n, n)).copy_from(&a);
    let mut lu = DenseLu::default();
    lu.factorize(&big, n);
    let mut x = b.clone();
    assert!(lu.solve_mut(&mut x));
    let residual = (&a * &x - &b).amax();
    assert!(residual < 1e-4, "residual {residual}");
    assert!(
        (&x - &expected).amax() < 1e-5,
        "{x} against nalgebra's {expected}"
    );

    let singular = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 4.0]);
    lu.factorize(&singular, 2);
    assert!(!lu.solve_mut(&mut DVector::from_vec(vec![1.0, 1.0])));
}
