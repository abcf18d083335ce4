//! Actions in: the actuators' torques (and a user's push), then a control step of physics.

use super::*;

/// Stiffness of a push's spring, per kg of the robot, s⁻² (1 m of stretch pulls with 4 g).
pub const PUSH_STIFFNESS: f32 = 40.0;
/// Damping of a push's spring on the pushed body's velocity, per kg of the robot, s⁻¹.
pub const PUSH_DAMPING: f32 = 8.0;
/// The strongest push, in robot weights.
pub const MAX_PUSH_WEIGHTS: f32 = 10.0;

/// A hand on the robot: a spring from one body's centre of mass to a target, as MuJoCo's viewer
/// pulls with Ctrl + drag. The force is the robot's mass × (stiffness × stretch − damping ×
/// the body's velocity), at most [`MAX_PUSH_WEIGHTS`] robot weights, held over a control step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Push {
    /// The pushed body, scene order.
    pub body: usize,
    /// Where the spring pulls it to, in the copy's own frame.
    pub target: Vector,
}

impl RobotWorld {
    /// Applies `gear × clip(action)` on every actuated hinge of copy `k`, held for the next
    /// steps: the `ExternalForce` of each of its bodies gets the sum of its hinges' torques.
    pub fn set_actions(&mut self, k: usize, actions: &[f32]) {
        let c = &self.copies[k];
        let bodies = self.host.bodies();
        // Every part is written, chain links too: a torque stays until replaced.
        let mut torques = vec![Vector::ZERO; c.entities.len()];
        for (i, (&h, a)) in self.actuated.iter().zip(&self.scene.actuators).enumerate() {
            let hinge = &c.hinges[h];
            let torque = a.gear * actions[i].clamp(a.ctrl_range.0, a.ctrl_range.1);
            let axis = bodies[hinge.child].rotation() * hinge.axis;
            torques[hinge.child_part] += axis * torque;
            torques[hinge.parent_part] -= axis * torque;
        }
        let mut forces = vec![Vector::ZERO; c.entities.len()];
        if let Some(push) = c.push.filter(|p| p.body < c.bodies.len()) {
            forces[push.body] = self.push_force(k, push);
        }
        let world = self.host.world_mut();
        for ((&e, torque), force) in c.entities.iter().zip(torques).zip(forces) {
            *world
                .get_mut::<ExternalForce>(e)
                .expect("every part of a copy has an ExternalForce") =
                ExternalForce { force, torque };
        }
    }

    /// Puts a hand on copy `k` (`None` lets go); it acts from the next [`Self::set_actions`].
    pub fn set_push(&mut self, k: usize, push: Option<Push>) {
        if let Some(c) = self.copies.get_mut(k) {
            c.push = push;
        }
    }

    /// The hand on copy `k`, if any.
    pub fn push(&self, k: usize) -> Option<Push> {
        self.copies.get(k).and_then(|c| c.push)
    }

    /// The force of `push` on copy `k` now (world frame).
    fn push_force(&self, k: usize, push: Push) -> Vector {
        let c = &self.copies[k];
        let rb = &self.host.bodies()[c.bodies[push.body]];
        let stretch = push.target + c.offset - rb.center_of_mass();
        let f = (stretch * PUSH_STIFFNESS - rb.linvel() * PUSH_DAMPING) * self.total_mass;
        let max = MAX_PUSH_WEIGHTS * self.total_mass * 9.81;
        if f.length() > max {
            f * (max / f.length())
        } else {
            f
        }
    }

    /// One physics step of `timestep`, every copy at once.
    pub fn step(&mut self) {
        self.host.step(1);
    }

    /// `frames` physics steps in one run of the physics schedule: a control step.
    pub fn advance(&mut self, frames: usize) {
        self.host.step(frames);
    }
}
