//! Locomotion physics: N copies of a scene's robot as rapier3d multibodies in one world.
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
//! frame: the lane offset is physics-internal. Resetting a copy rebuilds its bodies; the other
//! copies go on undisturbed.

use crate::scene::spec::{RootJoint, SceneSpec, Shape};
use anyhow::{Result, bail};
use rapier3d::prelude::*;
use rapier3d::utils::OrthonormalBasis;

/// Membership of robot colliders and of the ground.
const ROBOT: Group = Group::GROUP_1;
const GROUND: Group = Group::GROUP_2;
/// Mass and inertia of the links between the hinges of one body: small next to armature.
const CHAIN_LINK_MASS: f32 = 1e-3;
const CHAIN_LINK_INERTIA: f32 = 1e-6;
/// Friction of the ground plane (MuJoCo combines frictions with max).
const GROUND_FRICTION: f32 = 1.0;

/// A hinge of the robot and where its degree of freedom lives.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Hinge {
    child: RigidBodyHandle,
    parent: RigidBodyHandle,
    handle: MultibodyJointHandle,
    /// Unit axis in the child's frame.
    axis: Vector,
}

/// One copy of the robot in the shared world.
#[derive(serde::Serialize, serde::Deserialize)]
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
}

/// Lane spacing of [`RobotWorld::new`], m: wide enough for a fallen humanoid.
pub const LANE_SPACING: f32 = 4.0;

/// N copies of a robot in one physics world. Serialisable whole (bodies, joints, contacts,
/// solver caches), so that a resumed run continues exactly.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct RobotWorld {
    world: PhysicsWorld,
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

/// Adds one copy of the robot to `world`, shifted by `offset`, at its reset pose.
fn build_copy(world: &mut PhysicsWorld, scene: &SceneSpec, offset: Vector) -> Result<RobotCopy> {
    let origins: Vec<Vector> = (0..scene.bodies.len())
        .map(|i| body_origin(scene, i))
        .collect();
    let mut bodies = Vec::with_capacity(scene.bodies.len());
    for (b, origin) in scene.bodies.iter().zip(&origins) {
        let handle = world.bodies.insert(
            RigidBodyBuilder::dynamic()
                .translation(*origin + offset)
                .can_sleep(false),
        );
        let volume: f32 = b.geoms.iter().map(|g| g.shape.volume()).sum();
        for g in &b.geoms {
            let builder = match g.shape {
                Shape::Capsule { from, to, radius } => ColliderBuilder::capsule_from_endpoints(
                    v(from) - *origin,
                    v(to) - *origin,
                    radius,
                ),
                Shape::Sphere { center, radius } => {
                    ColliderBuilder::ball(radius).translation(v(center) - *origin)
                }
                Shape::Box {
                    center,
                    half_extents: h,
                    rotation: (w, x, y, z),
                } => ColliderBuilder::cuboid(h.0, h.1, h.2).position(Pose::from_parts(
                    v(center) - *origin,
                    Rotation::from_xyzw(x, y, z, w).normalize(),
                )),
            };
            world.colliders.insert_with_parent(
                builder
                    .mass(b.mass * g.shape.volume() / volume)
                    .friction(g.friction)
                    .friction_combine_rule(CoefficientCombineRule::Max)
                    .collision_groups(InteractionGroups::new(
                        ROBOT,
                        GROUND,
                        InteractionTestMode::And,
                    )),
                handle,
                &mut world.bodies,
            );
        }
        bodies.push(handle);
    }
    let mut helpers = Vec::new();
    let root_joint = match scene.root {
        RootJoint::Planar => {
            let anchor = world
                .bodies
                .insert(RigidBodyBuilder::fixed().translation(origins[0] + offset));
            helpers.push(anchor);
            let planar = GenericJointBuilder::new(
                JointAxesMask::LIN_Y | JointAxesMask::ANG_X | JointAxesMask::ANG_Z,
            );
            Some(
                world
                    .multibody_joints
                    .insert(anchor, bodies[0], planar, true)
                    .expect("a planar root joint is a tree edge"),
            )
        }
        RootJoint::Free => None,
    };
    let index = |name: &str| {
        scene
            .bodies
            .iter()
            .position(|b| b.name == name)
            .expect("validated scene")
    };
    // Several hinges on one body (the humanoid's hips) form a chain through tiny bodies at
    // their anchor, MuJoCo's serial degrees of freedom; the last hinge ends in the body.
    let mut hinges: Vec<Hinge> = Vec::with_capacity(scene.joints.len());
    let mut chain_end: Vec<Option<RigidBodyHandle>> = vec![None; scene.bodies.len()];
    for (k, j) in scene.joints.iter().enumerate() {
        let body = index(&j.body);
        let parent = index(
            scene.bodies[body]
                .parent
                .as_deref()
                .expect("validated: only the root has no parent"),
        );
        let last = !scene.joints[k + 1..].iter().any(|o| o.body == j.body);
        let (from, from_origin) = match chain_end[body] {
            Some(h) => (h, v(j.anchor)),
            None => (bodies[parent], origins[parent]),
        };
        let (to, to_origin) = if last {
            (bodies[body], origins[body])
        } else {
            let link = world.bodies.insert(
                RigidBodyBuilder::dynamic()
                    .translation(v(j.anchor) + offset)
                    .additional_mass_properties(MassProperties::new(
                        Vector::ZERO,
                        CHAIN_LINK_MASS,
                        Vector::splat(CHAIN_LINK_INERTIA),
                    ))
                    .can_sleep(false),
            );
            chain_end[body] = Some(link);
            helpers.push(link);
            (link, v(j.anchor))
        };
        let axis = v(j.axis).normalize();
        let mut joint = RevoluteJointBuilder::new(axis)
            .local_anchor1(v(j.anchor) - from_origin)
            .local_anchor2(v(j.anchor) - to_origin);
        if let Some((lo, hi)) = j.range {
            joint = joint.limits([lo, hi]);
        }
        let Some(handle) = world.multibody_joints.insert(from, to, joint, true) else {
            bail!(
                "scene '{}': joint '{}' would close a kinematic loop",
                scene.name,
                j.name
            );
        };
        hinges.push(Hinge {
            child: to,
            parent: from,
            handle,
            axis,
        });
    }
    // Bodies without a hinge are welded to their parent (MuJoCo's jointless bodies).
    let mut multibody = root_joint.or(hinges.first().map(|h| h.handle));
    for (i, b) in scene.bodies.iter().enumerate().skip(1) {
        if scene.joints.iter().any(|j| j.body == b.name) {
            continue;
        }
        let parent = index(
            b.parent
                .as_deref()
                .expect("validated: only the root has no parent"),
        );
        let weld = FixedJointBuilder::new().local_anchor1(origins[i] - origins[parent]);
        let Some(handle) = world
            .multibody_joints
            .insert(bodies[parent], bodies[i], weld, true)
        else {
            bail!(
                "scene '{}': body '{}' would close a kinematic loop",
                scene.name,
                b.name
            );
        };
        multibody = multibody.or(Some(handle));
    }
    let copy = RobotCopy {
        bodies,
        root_joint,
        hinges,
        multibody,
        offset,
        helpers,
    };
    set_passive_dynamics(world, scene, &copy);
    Ok(copy)
}

impl RobotWorld {
    /// `copies` robots at their reset pose, on lanes [`LANE_SPACING`] apart.
    pub fn new(scene: &SceneSpec, copies: usize) -> Result<Self> {
        Self::with_lanes(scene, copies, LANE_SPACING)
    }

    /// `copies` robots at their reset pose, copy k shifted by `k × spacing` along y (0: all on
    /// one spot, which they share without touching).
    pub fn with_lanes(scene: &SceneSpec, copies: usize, spacing: f32) -> Result<Self> {
        let mut world = PhysicsWorld::new();
        world.gravity = Vector::new(0.0, 0.0, -9.81);
        world.integration_parameters.dt = scene.task.timestep;
        world.integration_parameters.num_solver_iterations = scene.task.substeps as usize;
        let ground = world
            .bodies
            .insert(RigidBodyBuilder::fixed().translation(Vector::new(0.0, 0.0, -0.5)));
        // A half-extent of 500 m plus the lanes (a single robot's ground is as it always was:
        // the flailing humanoid's trajectory changes with the ground's size in the last bits).
        let length = 500.0 + (copies.max(1) - 1) as f32 * spacing;
        world.colliders.insert_with_parent(
            ColliderBuilder::cuboid(length, length, 0.5)
                .friction(GROUND_FRICTION)
                .friction_combine_rule(CoefficientCombineRule::Max)
                .collision_groups(InteractionGroups::new(
                    GROUND,
                    ROBOT,
                    InteractionTestMode::And,
                )),
            ground,
            &mut world.bodies,
        );
        let copies = (0..copies.max(1))
            .map(|k| {
                let offset = Vector::new(0.0, k as f32 * spacing, 0.0);
                build_copy(&mut world, scene, offset)
            })
            .collect::<Result<Vec<_>>>()?;
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
        Ok(Self {
            total_mass: scene.bodies.iter().map(|b| b.mass).sum(),
            root_origin: body_origin(scene, 0),
            scene: scene.clone(),
            world,
            copies,
            actuated,
        })
    }

    pub fn num_copies(&self) -> usize {
        self.copies.len()
    }

    /// Puts copy `k` back at its reset pose, at rest: its bodies, joints and contacts are
    /// rebuilt, so nothing of the last episode carries over. The other copies go on
    /// undisturbed.
    pub fn reset_copy(&mut self, k: usize) {
        let old = &self.copies[k];
        for &b in old.bodies.iter().chain(&old.helpers) {
            self.world.remove_body(b);
        }
        let offset = old.offset;
        self.copies[k] =
            build_copy(&mut self.world, &self.scene, offset).expect("the scene built once already");
    }

    /// Sets the copy's rigid-body velocities from its generalised velocities (rapier does so
    /// only inside a step), so that what is observed right after a reset is current.
    fn sync_body_velocities(&mut self, k: usize) {
        let Some(h) = self.copies[k].multibody else {
            return;
        };
        let (mb, _) = self.world.multibody_joints.get(h).expect("joint exists");
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
            let rb = &mut self.world.bodies[b];
            if rb.is_dynamic() {
                rb.set_linvel(lin, false);
                rb.set_angvel(ang, false);
            }
        }
    }

    pub fn scene(&self) -> &SceneSpec {
        &self.scene
    }

    /// Applies `gear × clip(action)` on every actuated hinge of copy `k`, held for the next
    /// steps.
    pub fn set_actions(&mut self, k: usize, actions: &[f32]) {
        let c = &self.copies[k];
        // Chain links carry hinge torques too: rapier keeps a body's torque until reset.
        for &b in c.bodies.iter().chain(&c.helpers) {
            self.world.bodies[b].reset_torques(true);
        }
        for (i, (&h, a)) in self.actuated.iter().zip(&self.scene.actuators).enumerate() {
            let hinge = &c.hinges[h];
            let torque = a.gear * actions[i].clamp(a.ctrl_range.0, a.ctrl_range.1);
            let axis = self.world.bodies[hinge.child].rotation() * hinge.axis;
            self.world.bodies[hinge.child].add_torque(axis * torque, true);
            self.world.bodies[hinge.parent].add_torque(axis * -torque, true);
        }
    }

    /// One physics step of `timestep`, every copy at once.
    pub fn step(&mut self) {
        self.world.step();
    }

    fn link_state(&self, handle: MultibodyJointHandle) -> (SpatialVector, Vec<f32>) {
        let (mb, link_id) = self
            .world
            .multibody_joints
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
                let rb = &self.world.bodies[c.bodies[0]];
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
        let dt = self.world.integration_parameters.dt;
        let com = self.center_of_mass(k) + c.offset;
        c.bodies
            .iter()
            .map(|&b| {
                let (mut torque, mut force) = (Vector::ZERO, Vector::ZERO);
                for &collider in self.world.bodies[b].colliders() {
                    let pose = self.world.colliders[collider].position();
                    for pair in self.world.narrow_phase.contact_pairs_with(collider) {
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
        self.world.bodies[c.bodies[0]].translation() - c.offset
    }

    /// Centre of mass of the whole of copy `k`.
    pub fn center_of_mass(&self, k: usize) -> Vector {
        let c = &self.copies[k];
        let sum = c.bodies.iter().fold(Vector::ZERO, |acc, &b| {
            let rb = &self.world.bodies[b];
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
                let mut p = *self.world.bodies[b].position();
                p.translation -= c.offset;
                p
            })
            .collect()
    }

    /// Adds `dq` to copy `k`'s generalised coordinates (root first, then hinges, MuJoCo's
    /// order) and `dv` to its velocities, then updates the bodies: reset noise.
    pub fn perturb(&mut self, k: usize, dq: &[f32], dv: &[f32]) {
        let Some((mb, _)) = self.copies[k]
            .multibody
            .and_then(|h| self.world.multibody_joints.get_mut(h))
        else {
            return;
        };
        let n = mb.ndofs();
        let (dq, dv) = (&dq[..n.min(dq.len())], &dv[..n.min(dv.len())]);
        let mut disp = vec![0.0; n];
        disp[..dq.len()].copy_from_slice(dq);
        mb.apply_displacements(&disp);
        for (x, d) in mb.generalized_velocity_mut().iter_mut().zip(dv) {
            *x += d;
        }
        mb.forward_kinematics(&self.world.bodies, false);
        mb.update_rigid_bodies(&mut self.world.bodies, true);
        self.sync_body_velocities(k);
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
fn set_passive_dynamics(world: &mut PhysicsWorld, scene: &SceneSpec, copy: &RobotCopy) {
    if let Some(h) = copy.multibody
        && let Some((mb, _)) = world.multibody_joints.get_mut(h)
    {
        // A multibody assumes a free root until it first meets its root body: settle the
        // degrees of freedom (a planar robot's fixed anchor has none) before indexing them.
        mb.forward_kinematics(&world.bodies, true);
        mb.damping_mut().fill(0.0);
    }
    for (h, j) in copy.hinges.iter().zip(&scene.joints) {
        if let Some((mb, link_id)) = world.multibody_joints.get_mut(h.handle) {
            let link = mb.link_mut(link_id).expect("joint link");
            // The revolute's free axis is the angular x of its joint frame.
            link.joint.set_spring(3, j.stiffness, 0.0);
            let dof = link.assembly_id();
            mb.damping_mut()[dof] = j.damping;
            mb.armature_mut()[dof] = j.armature;
        }
    }
}
