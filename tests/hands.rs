//! Hands on the robot (the app's Ctrl + drag and contact arrows), at the physics level: a push
//! pulls the pushed body toward its target; contact forces exist where a robot touches the
//! ground and nowhere else.

use virel_lab::scene;
use virel_lab::sim::{Push, RobotWorld};

fn settle(robot: &mut RobotWorld, steps: usize) {
    let act = vec![0.0; robot.scene().actuators.len()];
    for _ in 0..steps {
        for k in 0..robot.num_copies() {
            robot.set_actions(k, &act);
        }
        robot.advance(5);
    }
}

fn body_centre(robot: &RobotWorld, k: usize, body: usize) -> bevy::math::Vec3 {
    robot.body_poses(k)[body].translation
}

#[test]
fn a_push_moves_the_pushed_body_toward_the_target() {
    let scene = scene::load("hopper").unwrap();
    let mut robot = RobotWorld::new(&scene, 2).unwrap();
    settle(&mut robot, 2);
    let body = 0; // the torso
    let start = body_centre(&robot, 0, body);
    let target = start + bevy::math::Vec3::new(0.6, 0.0, 0.5);
    robot.set_push(0, Some(Push { body, target }));
    assert_eq!(robot.push(0), Some(Push { body, target }));
    settle(&mut robot, 40);
    let pushed = body_centre(&robot, 0, body);
    let alone = body_centre(&robot, 1, body);
    let (before, after) = ((target - start).length(), (target - pushed).length());
    assert!(
        after < 0.5 * before,
        "the pushed torso went from {before:.3} m to {after:.3} m of its target"
    );
    assert!(
        (target - alone).length() > 0.8 * before,
        "the copy without a hand does not move there: {alone:?}"
    );
    robot.set_push(0, None);
    assert_eq!(robot.push(0), None);
}

#[test]
fn a_standing_ant_has_contact_forces_and_one_in_the_air_none() {
    let scene = scene::load("ant").unwrap();
    let mut robot = RobotWorld::new(&scene, 2).unwrap();
    settle(&mut robot, 60);
    let contacts = robot.contact_forces(0);
    assert!(!contacts.is_empty(), "a standing ant touches the ground");
    // They hold its weight, at ground level.
    let up: f32 = contacts.iter().map(|(_, f)| f.z).sum();
    let weight = scene.bodies.iter().map(|b| b.mass).sum::<f32>() * 9.81;
    assert!(
        (up - weight).abs() < 0.2 * weight,
        "upward contact force {up:.1} N against a weight of {weight:.1} N"
    );
    assert!(
        contacts.iter().all(|(p, _)| p.z.abs() < 0.1),
        "{contacts:?}"
    );
    // Copy 1 lifted 2 m: nothing touches.
    let root_dofs = 6 + scene.joints.len();
    let mut dq = vec![0.0; root_dofs + 1];
    dq[2] = 2.0;
    robot.perturb(1, &dq, &vec![0.0; root_dofs]);
    settle(&mut robot, 1);
    assert!(
        robot.contact_forces(1).is_empty(),
        "{:?}",
        robot.contact_forces(1)
    );
    assert!(!robot.contact_forces(0).is_empty());
}
