//! Resets: a copy back to its reset pose, and reset noise on its generalised coordinates.

use super::*;

impl RobotWorld {
    /// Puts copy `k` back at its reset pose, at rest: its entities, bodies, joints and contacts
    /// are rebuilt, so nothing of the last episode carries over. The other copies go on
    /// undisturbed.
    pub fn reset_copy(&mut self, k: usize) {
        let old = &self.copies[k];
        let handles: Vec<RigidBodyHandle> =
            old.bodies.iter().chain(&old.helpers).copied().collect();
        // Removed from rapier at once, so that the new copy's handles reuse their slots in a
        // fixed order; bevy_rapier3d then finds nothing left of the despawned entities.
        self.host.remove_bodies(&handles);
        for &e in &old.entities {
            self.host.world_mut().despawn(e);
        }
        let offset = old.offset;
        self.copies[k] =
            add_copy(&mut self.host, &self.scene, offset).expect("the scene built once already");
    }

    /// Sets the copy's rigid-body velocities from its generalised velocities (rapier does so
    /// only inside a step), so that what is observed right after a reset is current.
    pub(super) fn sync_body_velocities(&mut self, k: usize) {
        let Some(h) = self.copies[k].multibody else {
            return;
        };
        let (bodies, joints) = self.host.bodies_and_joints_mut();
        let (mb, _) = joints.get(h).expect("joint exists");
        let qd = mb.generalized_velocity().into_owned();
        let velocities: Vec<(RigidBodyHandle, Vector, Vector)> = mb
            .links()
            .enumerate()
            .map(|(i, link)| {
                let v = mb.body_jacobian(i) * &qd;
                (
                    link.rigid_body_handle(),
                    Vector::new(v[0], v[1], v[2]),
                    Vector::new(v[3], v[4], v[5]),
                )
            })
            .collect();
        for (b, lin, ang) in velocities {
            let rb = &mut bodies[b];
            if rb.is_dynamic() {
                rb.set_linvel(lin, false);
                rb.set_angvel(ang, false);
            }
        }
    }

    /// Adds `dq` to copy `k`'s generalised coordinates (root first, then hinges, MuJoCo's
    /// order) and `dv` to its velocities, then updates the bodies: reset noise.
    pub fn perturb(&mut self, k: usize, dq: &[f32], dv: &[f32]) {
        let Some(h) = self.copies[k].multibody else {
            return;
        };
        let order = self.dof_order(k);
        let (bodies, joints) = self.host.bodies_and_joints_mut();
        let (mb, _) = joints.get_mut(h).expect("joint exists");
        let mut disp = vec![0.0; mb.ndofs()];
        for (&dof, &d) in order.iter().zip(dq) {
            disp[dof] = d;
        }
        mb.apply_displacements(&disp);
        let mut qd = mb.generalized_velocity_mut();
        for (&dof, &d) in order.iter().zip(dv) {
            qd[dof] += d;
        }
        mb.forward_kinematics(bodies, false);
        mb.update_rigid_bodies(bodies, true);
        self.sync_body_velocities(k);
    }

    /// Where each of copy `k`'s degrees of freedom, in MuJoCo's order (root, then hinges),
    /// sits in its multibody: bevy_rapier3d joins the links in the order it meets them.
    pub(super) fn dof_order(&self, k: usize) -> Vec<usize> {
        let c = &self.copies[k];
        let joints = self.host.multibody_joints();
        let start = |h: MultibodyJointHandle| {
            let (mb, id) = joints.get(h).expect("joint exists");
            mb.link(id).expect("joint link").assembly_id()
        };
        let mut order: Vec<usize> = match (c.root_joint, c.multibody) {
            (Some(root), _) => (start(root)..start(root) + 3).collect(),
            (None, Some(any)) => {
                let (mb, _) = joints.get(any).expect("joint exists");
                assert_eq!(
                    mb.root().rigid_body_handle(),
                    c.bodies[0],
                    "a free robot's multibody is rooted at its root body"
                );
                (0..6).collect()
            }
            (None, None) => Vec::new(),
        };
        order.extend(c.hinges.iter().map(|h| start(h.handle)));
        order
    }
}
