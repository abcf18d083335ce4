//! Actions in: the actuators' torques, then a control step of physics.

use super::*;

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
        let world = self.host.world_mut();
        for (&e, torque) in c.entities.iter().zip(torques) {
            *world
                .get_mut::<ExternalForce>(e)
                .expect("every part of a copy has an ExternalForce") = ExternalForce {
                force: Vector::ZERO,
                torque,
            };
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
