//! Locomotion physics: N copies of a scene's robot as rapier3d multibodies in one world, hosted
//! by bevy_rapier3d inside a Bevy App ([`host`]) that the trainer steps itself.
//!
//! Every body is a Bevy entity with bevy_rapier3d components ([`spawn`]): its geoms are child
//! collider entities, its joint a `MultibodyJoint`, the actuators' torques its `ExternalForce`;
//! bevy_rapier3d's writeback keeps each entity's `Transform` on its body.
//!
//! Reduced coordinates, as in MuJoCo: the root is a planar joint (x, z slides and a y hinge)
//! to a fixed anchor, or free; every hinge is a multibody revolute joint at its anchor with
//! its limits. Rapier's multibodies integrate joint damping, armature and springs implicitly,
//! like MuJoCo: each hinge gets the scene's damping, armature and a spring of its stiffness
//! towards the reset angle; root degrees of freedom get none (rapier's default damping of 0.1
//! on angular DoFs is removed). Actuator torques are applied as equal and opposite torques on
//! the two bodies a hinge connects. Bodies without a hinge are welded to their parent.
//!
//! Copy k stands on its own lane of the shared ground, `k × spacing` along y. Robot geoms
//! collide with the ground only (MuJoCo's models disable self-contacts), so copies never touch
//! one another, even on overlapping lanes. Everything the API reports is in a copy's own
//! frame: the lane offset is physics-internal. Resetting a copy despawns and respawns its
//! entities; the other copies go on undisturbed.

pub mod host;
mod spawn;

use crate::scene::spec::{SceneSpec, Shape};
use anyhow::Result;
use bevy::prelude::Entity;
use bevy_rapier3d::prelude::ExternalForce;
use host::{PhysicsHost, PhysicsState, PhysicsStateRef};
use rapier3d::prelude::*;
use rapier3d::utils::OrthonormalBasis;
use serde::{Deserialize, Serialize};

/// A hinge of the robot and where its degree of freedom lives.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Hinge {
    child: RigidBodyHandle,
    parent: RigidBodyHandle,
    /// Indices of `child` and `parent` in the copy's `bodies ++ helpers`.
    child_part: usize,
    parent_part: usize,
    handle: MultibodyJointHandle,
    /// Unit axis in the child's frame.
    axis: Vector,
}

/// One copy of the robot in the shared world.
#[derive(Serialize, Deserialize)]
struct RobotCopy {
    bodies: Vec<RigidBodyHandle>,
    /// Planar robots: the joint from the fixed anchor to the root.
    root_joint: Option<MultibodyJointHandle>,
    hinges: Vec<Hinge>,
    /// Any joint of the copy's multibody (`None`: a lone body).
    multibody: Option<MultibodyJointHandle>,
    /// Lane offset: scene coordinates + offset = world coordinates.
    offset: Vector,
    /// Bodies that are not the scene's: the planar root's anchor, the links of hinge chains.
    helpers: Vec<RigidBodyHandle>,
    /// The entity of each of `bodies ++ helpers` (a restored world spawns its own).
    #[serde(skip)]
    entities: Vec<Entity>,
}

/// Lane spacing of [`RobotWorld::new`], m: wide enough for a fallen humanoid.
pub const LANE_SPACING: f32 = 4.0;

/// N copies of a robot in one physics world. Serialisable whole (bodies, joints, contacts,
/// solver caches), so that a resumed run continues exactly.
pub struct RobotWorld {
    host: PhysicsHost,
    ground: RigidBodyHandle,
    scene: SceneSpec,
    copies: Vec<RobotCopy>,
    /// Hinge index of each actuator.
    actuated: Vec<usize>,
    /// Scene position of the root body's origin at the reset pose.
    root_origin: Vector,
    total_mass: f32,
}

fn v(p: (f32, f32, f32)) -> Vector {
    Vector::new(p.0, p.1, p.2)
}

/// Where a body's frame sits at the reset pose: at its hinge, or (root, welded bodies) at its
/// first geom's centre. Body frames start axis-aligned with the world.
pub fn body_origin(scene: &SceneSpec, i: usize) -> Vector {
    let name = &scene.bodies[i].name;
    if let Some(j) = scene
        .joints
        .iter()
        .find(|j| &j.body == name)
        .filter(|_| i > 0)
    {
        return v(j.anchor);
    }
    match scene.bodies[i].geoms[0].shape {
        Shape::Capsule { from, to, .. } => (v(from) + v(to)) * 0.5,
        Shape::Sphere { center, .. } | Shape::Box { center, .. } => v(center),
    }
}

impl RobotWorld {
    /// `copies` robots at their reset pose, on lanes [`LANE_SPACING`] apart.
    pub fn new(scene: &SceneSpec, copies: usize) -> Result<Self> {
        Self::with_lanes(scene, copies, LANE_SPACING)
    }

    /// `copies` robots at their reset pose, copy k shifted by `k × spacing` along y (0: all on
    /// one spot, which they share without touching).
    pub fn with_lanes(scene: &SceneSpec, copies: usize, spacing: f32) -> Result<Self> {
        let integration = IntegrationParameters {
            dt: scene.task.timestep,
            num_solver_iterations: scene.task.substeps as usize,
            static_contact_softness: match scene.task.ground_softness {
                Some((frequency, damping_ratio)) => {
                    SpringCoefficients::new(frequency, damping_ratio)
                }
                None => IntegrationParameters::default().static_contact_softness,
            },
            ..Default::default()
        };
        let mut host = PhysicsHost::new(integration, Vector::new(0.0, 0.0, -9.81));
        // A half-extent of 500 m plus the lanes (a single robot's ground is as it always was:
        // the flailing humanoid's trajectory changes with the ground's size in the last bits).
        let ground = spawn::spawn_ground(&mut host, 500.0 + (copies.max(1) - 1) as f32 * spacing);
        let copies = (0..copies.max(1))
            .map(|k| {
                let offset = Vector::new(0.0, k as f32 * spacing, 0.0);
                add_copy(&mut host, scene, offset)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::assemble(host, ground, scene.clone(), copies))
    }

    fn assemble(
        host: PhysicsHost,
        ground: RigidBodyHandle,
        scene: SceneSpec,
        copies: Vec<RobotCopy>,
    ) -> Self {
        let actuated = scene
            .actuators
            .iter()
            .map(|a| {
                scene
                    .joints
                    .iter()
                    .position(|j| j.name == a.joint)
                    .expect("validated scene")
            })
            .collect();
        Self {
            total_mass: scene.bodies.iter().map(|b| b.mass).sum(),
            root_origin: body_origin(&scene, 0),
            scene,
            host,
            ground,
            copies,
            actuated,
        }
    }

    pub fn num_copies(&self) -> usize {
        self.copies.len()
    }

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
    fn sync_body_velocities(&mut self, k: usize) {
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

    /// The Bevy world that hosts the physics (entities, bevy_rapier3d's context).
    pub fn world(&self) -> &bevy::ecs::world::World {
        self.host.world()
    }

    /// The entity of each scene body of copy `k`, in scene order. Its `Transform` follows
    /// the body after every step (world frame, lane offset included).
    pub fn body_entities(&self, k: usize) -> &[Entity] {
        &self.copies[k].entities[..self.scene.bodies.len()]
    }

    pub fn scene(&self) -> &SceneSpec {
        &self.scene
    }

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

    fn link_state(&self, handle: MultibodyJointHandle) -> (SpatialVector, Vec<f32>) {
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
        let c = &self.copies[k];
        let dt = self.host.timestep();
        let (bodies, colliders) = (self.host.bodies(), self.host.colliders());
        let com = self.center_of_mass(k) + c.offset;
        c.bodies
            .iter()
            .map(|&b| {
                let (mut torque, mut force) = (Vector::ZERO, Vector::ZERO);
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
                                let (f, local) = if first {
                                    (on1, pt.local_p1)
                                } else {
                                    (-on1, pt.local_p2)
                                };
                                let p = pose.rotation * local + pose.translation;
                                force += f;
                                torque += (p - com).cross(f);
                            }
                        }
                    }
                }
                [torque.x, torque.y, torque.z, force.x, force.y, force.z]
            })
            .collect()
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
    fn dof_order(&self, k: usize) -> Vec<usize> {
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

/// Spawns a copy and gives its degrees of freedom their passive dynamics.
fn add_copy(host: &mut PhysicsHost, scene: &SceneSpec, offset: Vector) -> Result<RobotCopy> {
    let copy = spawn::spawn_copy(host, scene, offset)?;
    set_passive_dynamics(host, scene, &copy);
    Ok(copy)
}

/// What a [`RobotWorld`] serialises: rapier's state and what each copy's handles mean.
#[derive(Serialize)]
struct StateRef<'a> {
    physics: PhysicsStateRef<'a>,
    ground: RigidBodyHandle,
    scene: &'a SceneSpec,
    copies: &'a [RobotCopy],
}

#[derive(Deserialize)]
struct State {
    physics: PhysicsState,
    ground: RigidBodyHandle,
    scene: SceneSpec,
    copies: Vec<RobotCopy>,
}

impl Serialize for RobotWorld {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        StateRef {
            physics: self.host.state(),
            ground: self.ground,
            scene: &self.scene,
            copies: &self.copies,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RobotWorld {
    /// Rapier's state as it was; new entities stand for its bodies.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let State {
            physics,
            ground,
            scene,
            mut copies,
        } = State::deserialize(d)?;
        // The bodies' user data keeps naming the saved run's entities: writing it would mark
        // them modified, and rapier treats a modified body's next step differently. Nothing
        // reads it here (it maps contact events and collider mass changes, and restored
        // colliders have no entities).
        let host = PhysicsHost::restore(physics, scene.task.timestep, |host, bodies| {
            let mut standing_for = vec![(spawn::spawn_restored(host, bodies, ground), ground)];
            for c in &mut copies {
                c.entities = c
                    .bodies
                    .iter()
                    .chain(&c.helpers)
                    .map(|&h| spawn::spawn_restored(host, bodies, h))
                    .collect();
                standing_for.extend(
                    c.entities
                        .iter()
                        .copied()
                        .zip(c.bodies.iter().chain(&c.helpers).copied()),
                );
            }
            standing_for
        });
        Ok(Self::assemble(host, ground, scene, copies))
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

/// Damping, armature and springs per degree of freedom of a new copy (see the module docs).
fn set_passive_dynamics(host: &mut PhysicsHost, scene: &SceneSpec, copy: &RobotCopy) {
    let (bodies, joints) = host.bodies_and_joints_mut();
    if let Some(h) = copy.multibody
        && let Some((mb, _)) = joints.get_mut(h)
    {
        // A multibody assumes a free root until it first meets its root body: settle the
        // degrees of freedom (a planar robot's fixed anchor has none) before indexing them.
        mb.forward_kinematics(bodies, true);
        mb.damping_mut().fill(0.0);
    }
    for (h, j) in copy.hinges.iter().zip(&scene.joints) {
        if let Some((mb, link_id)) = joints.get_mut(h.handle) {
            let link = mb.link_mut(link_id).expect("joint link");
            // The revolute's free axis is the angular x of its joint frame.
            link.joint.set_spring(3, j.stiffness, 0.0);
            let dof = link.assembly_id();
            mb.damping_mut()[dof] = j.damping;
            mb.armature_mut()[dof] = j.armature;
        }
    }
}
