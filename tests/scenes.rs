//! The scene format: every shipped robot parses with Gymnasium's dimensions and MuJoCo's
//! numbers, and malformed files get errors that name file, line, column and the problem.

use proptest::prelude::*;
use virel_lab::scene::{self, BUILTIN, spec::RootJoint};

#[test]
fn every_shipped_scene_parses_with_gymnasium_dimensions() {
    let expected = [
        ("half_cheetah", 17, 6, RootJoint::Planar),
        ("hopper", 11, 3, RootJoint::Planar),
        ("walker2d", 17, 6, RootJoint::Planar),
        ("ant", 27, 8, RootJoint::Free),
        ("humanoid", 45, 17, RootJoint::Free),
    ];
    assert_eq!(BUILTIN.len(), expected.len());
    for (name, obs, act, root) in expected {
        let s = scene::load(name).unwrap();
        assert_eq!(
            (s.task.obs_dim, s.task.action_dim, s.root),
            (obs, act, root),
            "{name}"
        );
        assert_eq!(
            scene::obs_dim(s.root, s.joints.len()),
            obs,
            "{name}: one hinge per observed joint"
        );
    }
}

#[test]
fn shipped_scenes_carry_mujoco_numbers() {
    let total = |name: &str| {
        scene::load(name)
            .unwrap()
            .bodies
            .iter()
            .map(|b| b.mass)
            .sum::<f32>()
    };
    assert!(
        (total("half_cheetah") - 14.0).abs() < 1e-3,
        "half_cheetah.xml sets the total mass to 14 kg"
    );
    let gears = |name: &str| {
        scene::load(name)
            .unwrap()
            .actuators
            .iter()
            .map(|a| a.gear)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        gears("half_cheetah"),
        vec![120.0, 90.0, 60.0, 120.0, 60.0, 30.0]
    );
    assert_eq!(gears("hopper"), vec![200.0; 3]);
    assert_eq!(gears("walker2d"), vec![100.0; 6]);
    assert_eq!(gears("ant"), vec![150.0; 8]);
    let humanoid = scene::load("humanoid").unwrap();
    assert!(
        humanoid
            .actuators
            .iter()
            .all(|a| a.ctrl_range == (-0.4, 0.4))
    );
    assert_eq!(
        humanoid
            .actuators
            .iter()
            .filter(|a| a.gear == 300.0)
            .count(),
        2,
        "hip_y"
    );
    let hopper = scene::load("hopper").unwrap();
    assert_eq!(
        (
            hopper.task.timestep,
            hopper.task.frame_skip,
            hopper.task.solver_substeps
        ),
        (0.002, 4, 2)
    );
    let default = scene::parse(&hopper_with("solver_substeps: 2,", ""), "robot.ron").unwrap();
    assert_eq!(
        default.task.solver_substeps, 4,
        "rapier's default when left out"
    );
    let old_key = scene::parse(
        &hopper_with("solver_substeps: 2,", "substeps: 3,"),
        "robot.ron",
    )
    .unwrap();
    assert_eq!(
        old_key.task.solver_substeps, 3,
        "the key's former name still reads"
    );
    assert_eq!(
        default.task.limit_margin, 0.01,
        "joint limits act 0.01 rad early"
    );
    assert_eq!(
        default.task.ground_softness, None,
        "rapier's own contact softness when left out"
    );
    let thigh = &hopper.joints[0];
    assert!(
        (thigh.range.unwrap().0 + 150f32.to_radians()).abs() < 1e-4,
        "hopper thigh range −150°..0°"
    );
}

fn error_of(text: &str) -> String {
    scene::parse(text, "robot.ron").unwrap_err().to_string()
}

/// The hopper with one edit.
fn hopper_with(from: &str, to: &str) -> String {
    let text = scene::builtin("hopper").unwrap();
    assert!(text.contains(from), "test edit '{from}' not found");
    text.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn malformed_scenes_name_file_line_column_and_problem() {
    let cases = [
        (
            ("parent: Some(\"thigh\")", "parent: Some(\"thighh\")"),
            "Some(\"thighh\")",
            "body 'leg' has unknown parent 'thighh'",
        ),
        (
            ("mass: 2.78136", "mass: 0.0"),
            "\"leg\"",
            "body 'leg' has mass 0: it must be positive",
        ),
        (
            ("action_dim: 3", "action_dim: 4"),
            "action_dim",
            "action dim mismatch: the task declares 4, the scene has 3 actuators",
        ),
        (
            ("obs_dim: 11", "obs_dim: 12"),
            "obs_dim",
            "obs dim mismatch: the task declares 12",
        ),
        (
            ("Actuator(joint: \"leg_joint\"", "Actuator(joint: \"knee\""),
            "joint: \"knee\"",
            "actuator drives unknown joint 'knee'",
        ),
        (
            ("name: \"leg\"", "name: \"thigh\""),
            "name: \"thigh\", parent: Some(\"thigh\")",
            "two bodies are named 'thigh'",
        ),
        (
            (
                "range: Some((-0.785398, 0.785398))",
                "range: Some((0.785398, -0.785398))",
            ),
            "\"foot_joint\"",
            "joint 'foot_joint' has range (0.785398, -0.785398)",
        ),
        (
            ("substeps: 2", "substeps: 0"),
            "substeps",
            "substeps must be between 1 and 64, not 0",
        ),
        (
            ("substeps: 2,", "substeps: 2, limit_margin: -0.5,"),
            "limit_margin",
            "limit_margin must be between 0 and 0.1 rad, not -0.5",
        ),
        (
            (
                "substeps: 2,",
                "substeps: 2, ground_softness: Some((7.96, 0.0)),",
            ),
            "ground_softness",
            "ground_softness must be (natural frequency in Hz, damping ratio), both positive, not (7.96, 0)",
        ),
    ];
    for ((from, to), at, want) in cases {
        let text = hopper_with(from, to);
        let err = error_of(&text);
        let line = line_of(&text, at);
        assert!(
            err.starts_with(&format!("robot.ron:{line}:")),
            "'{want}': expected line {line}, got: {err}"
        );
        assert!(err.contains(want), "expected '{want}' in: {err}");
    }
    // Syntax and type errors come with the parser's own position.
    let text = hopper_with("frame_skip: 4,", "frame_skip: 4,,");
    let err = error_of(&text);
    assert!(
        err.starts_with(&format!("robot.ron:{}:", line_of(&text, "frame_skip"))),
        "{err}"
    );
    let text = hopper_with("frame_skip: 4", "frame_skip: \"four\"");
    let err = error_of(&text);
    assert!(
        err.starts_with(&format!("robot.ron:{}:", line_of(&text, "frame_skip")))
            && err.contains("Expected integer"),
        "{err}"
    );
    let err = error_of(&hopper_with("reset_noise_scale", "reset_noise"));
    assert!(err.contains("reset_noise"), "{err}");
}

#[test]
fn an_unreadable_or_unknown_scene_says_so() {
    let err = scene::load("/no/such/robot.ron").unwrap_err().to_string();
    assert!(
        err.contains("cannot read scene file /no/such/robot.ron"),
        "{err}"
    );
    let err = scene::load("centipede").unwrap_err().to_string();
    assert!(
        err.contains("unknown scene 'centipede'") && err.contains("hopper"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scene_parser_takes_arbitrary_text(text in "\\PC{0,400}") {
        let _ = scene::parse(&text, "fuzz.ron");
    }

    #[test]
    fn scene_parser_takes_mutated_scenes(which in 0usize..5, line in any::<prop::sample::Index>(), replacement in "[A-Za-z_(),:\\[\\]\". 0-9-]{0,40}") {
        let text = BUILTIN[which].1;
        let mut lines: Vec<&str> = text.lines().collect();
        let i = line.index(lines.len());
        lines[i] = &replacement;
        let _ = scene::parse(&lines.join("\n"), "fuzz.ron");
    }
}
