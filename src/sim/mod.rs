//! Locomotion physics: N copies of a scene's robot as rapier3d multibodies in one world, hosted
//! by bevy_rapier3d inside a Bevy App ([`host`]) that the trainer steps itself.
//!
//! Every body is a Bevy entity with bevy_rapier3d components ([`spawn`]): its geoms are child
//! collider entities, its joint a `MultibodyJoint`, the actuators' torques its `ExternalForce`.
//! Poses are read from the rapier bodies ([`RobotWorld::body_poses`]); the entities'
//! `Transform`s keep the reset pose (bevy_rapier3d's writeback is not run: see [`host`]).
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

// Files: this one builds the robots ([`RobotWorld::new`]); `reset.rs` resets copies and adds
// reset noise, `actuate.rs` applies actions and steps, `observe.rs` reads states, contacts and
// poses, `snapshot.rs` (de)serialises the whole world, `spawn.rs` makes a robot's entities.
mod actuate;
pub use actuate::{MAX_PUSH_WEIGHTS, PUSH_DAMPING, PUSH_STIFFNESS, Push};
pub mod host;
mod observe;
mod reset;
mod snapshot;
mod spawn;

use crate::scene::spec::{SceneSpec, Shape};
use anyhow::Result;
use bevy::prelude::Entity;
use bevy_rapier3d::prelude::ExternalForce;
use host::PhysicsHost;
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
    /// A user's hand on the copy (the app's Ctrl + drag); not part of a snapshot.
    #[serde(skip)]
    push: Option<Push>,
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
            num_solver_iterations: scene.task.solver_substeps as usize,
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

    /// Copies of the robot.
    pub fn num_copies(&self) -> usize {
        self.copies.len()
    }

    /// The Bevy world that hosts the physics (entities, bevy_rapier3d's context).
    pub fn world(&self) -> &bevy::ecs::world::World {
        self.host.world()
    }

    /// The entity of each scene body of copy `k`, in scene order (its rapier body's pose is in
    /// [`Self::body_poses`]).
    pub fn body_entities(&self, k: usize) -> &[Entity] {
        &self.copies[k].entities[..self.scene.bodies.len()]
    }

    /// The scene the robots were built from.
    pub fn scene(&self) -> &SceneSpec {
        &self.scene
    }
}

/// Spawns a copy and gives its degrees of freedom their passive dynamics.
fn add_copy(host: &mut PhysicsHost, scene: &SceneSpec, offset: Vector) -> Result<RobotCopy> {
    let copy = spawn::spawn_copy(host, scene, offset)?;
    set_passive_dynamics(host, scene, &copy);
    Ok(copy)
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
