//! What the envs read: joint and root states, contact wrenches, positions, poses.

use super::*;

impl RobotWorld {
    pub(super) fn link_state(&self, handle: MultibodyJointHandle) -> (SpatialVector, Vec<f32>) {
        let (mb, link_id) = self
            .host
            .multibody_joints()
            .get(handle)
            .expect("joint exists");
        let link = mb.link(link_id).expect("joint link");
        (
            link.joint().coords(),
            mb.joint_velocity(link).iter().copied().collect(),
        )
    }

    /// Hinge angles and angular velocities of copy `k`, in scene order.
    pub fn hinge_state(&self, k: usize) -> (Vec<f32>, Vec<f32>) {
        self.copies[k]
            .hinges
            .iter()
            .map(|h| {
                let (q, qd) = self.link_state(h.handle);
                (q[3], qd[0])
            })
            .unzip()
    }

    /// Root generalised coordinates and velocities of copy `k`, MuJoCo's layout: planar
    /// `[x, z, θ]` (z counted from the scene's `planar_z_ref`), `[ẋ, ż, θ̇]`; free
    /// `[x, y, z, qw, qx, qy, qz]`, `[v (world), ω (body frame)]`.
    pub fn root_state(&self, k: usize) -> (Vec<f32>, Vec<f32>) {
        let c = &self.copies[k];
        match c.root_joint {
            Some(h) => {
                let (q, qd) = self.link_state(h);
                let z_ref = self.scene.planar_z_ref.unwrap_or(self.root_origin.z);
                (vec![self.root_origin.x + q[0], z_ref + q[2], q[4]], qd)
            }
            None => {
                let rb = &self.host.bodies()[c.bodies[0]];
                let (p, r) = (rb.translation() - c.offset, *rb.rotation());
                let w = r.inverse() * rb.angvel();
                let lin = rb.linvel();
                (
                    vec![p.x, p.y, p.z, r.w, r.x, r.y, r.z],
                    vec![lin.x, lin.y, lin.z, w.x, w.y, w.z],
                )
            }
        }
    }

    /// External contact wrench on each body of copy `k` in the last physics step, world frame,
    /// MuJoCo's `cfrc_ext` layout: `[torque about the copy's centre of mass, force]`. It sums
    /// the normal and friction impulses of every contact point, divided by the timestep.
    pub fn contact_wrenches(&self, k: usize) -> Vec<[f32; 6]> {
        let com = self.center_of_mass(k) + self.copies[k].offset;
        let mut wrenches = vec![[0.0; 6]; self.copies[k].bodies.len()];
        self.for_each_contact(k, |body, p, f| {
            let t = (p - com).cross(f);
            let w = &mut wrenches[body];
            for (i, v) in [t.x, t.y, t.z, f.x, f.y, f.z].into_iter().enumerate() {
                w[i] += v;
            }
        });
        wrenches
    }

    /// Every contact point of copy `k` that pushed in the last physics step, with the force on
    /// the robot there (normal and friction impulses over the timestep), in the copy's own
    /// frame: the app's contact arrows. Points the narrow phase only predicted (no impulse)
    /// are left out.
    pub fn contact_forces(&self, k: usize) -> Vec<(Vector, Vector)> {
        let offset = self.copies[k].offset;
        let mut out = Vec::new();
        self.for_each_contact(k, |_, p, f| {
            if f != Vector::ZERO {
                out.push((p - offset, f));
            }
        });
        out
    }

    /// Calls `f(body, point, force)` for each contact point on a body of copy `k` (point and
    /// force on that body in the world frame, lane offset included).
    fn for_each_contact(&self, k: usize, mut f: impl FnMut(usize, Vector, Vector)) {
        let c = &self.copies[k];
        let dt = self.host.timestep();
        let (bodies, colliders) = (self.host.bodies(), self.host.colliders());
        for (i, &b) in c.bodies.iter().enumerate() {
            for &collider in bodies[b].colliders() {
                let pose = colliders[collider].position();
                for pair in self.host.narrow_phase().contact_pairs_with(collider) {
                    let first = pair.collider1 == collider;
                    for m in pair.solver_manifolds() {
                        // Rapier's friction basis: a function of the normal alone.
                        let dir1 = -m.data.normal;
                        let t1 = dir1.orthonormal_vector();
                        let t2 = dir1.cross(t1);
                        for pt in &m.points {
                            let (n, t) = step_impulse(&pt.data);
                            let on1 = (dir1 * n + t1 * t[0] + t2 * t[1]) / dt;
                            let (force, local) = if first {
                                (on1, pt.local_p1)
                            } else {
                                (-on1, pt.local_p2)
                            };
                            f(i, pose.rotation * local + pose.translation, force);
                        }
                    }
                }
            }
        }
    }

    /// Position of copy `k`'s root body origin.
    pub fn root_position(&self, k: usize) -> Vector {
        let c = &self.copies[k];
        self.host.bodies()[c.bodies[0]].translation() - c.offset
    }

    /// Centre of mass of the whole of copy `k`.
    pub fn center_of_mass(&self, k: usize) -> Vector {
        let c = &self.copies[k];
        let sum = c.bodies.iter().fold(Vector::ZERO, |acc, &b| {
            let rb = &self.host.bodies()[b];
            acc + rb.center_of_mass() * rb.mass()
        });
        sum / self.total_mass - c.offset
    }

    /// Centre of mass of body `body` of copy `k` (where a push pulls).
    pub fn body_center_of_mass(&self, k: usize, body: usize) -> Vector {
        let c = &self.copies[k];
        self.host.bodies()[c.bodies[body]].center_of_mass() - c.offset
    }

    /// Pose of every body of copy `k` (for rendering and tests).
    pub fn body_poses(&self, k: usize) -> Vec<Pose> {
        let c = &self.copies[k];
        c.bodies
            .iter()
            .map(|&b| {
                let mut p = *self.host.bodies()[b].position();
                p.translation -= c.offset;
                p
            })
            .collect()
    }
}

/// Normal and friction impulses of one contact point over the last step. Rapier's `impulse`
/// totals count the warm start the step began with twice (once into the substep accumulator,
/// once inside the first substep's impulse), so a resting body reads (S+1)/S of its weight
/// with S substeps. That warm start is the previous step's last-substep impulse; the last
/// substep's impulse of this step, kept for the next warm start, stands in for it: exact at
/// steady contact.
fn step_impulse(d: &ContactData) -> (f32, [f32; 2]) {
    (
        d.impulse - d.warmstart_impulse,
        [
            d.tangent_impulse.x - d.warmstart_tangent_impulse.x,
            d.tangent_impulse.y - d.warmstart_tangent_impulse.y,
        ],
    )
}
