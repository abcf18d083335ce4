//! A robot copy as Bevy entities with bevy_rapier3d components: one entity per body, its geoms
//! as child collider entities, each joint a `MultibodyJoint` on its child body.

use super::host::PhysicsHost;
use super::{Hinge, RobotCopy, body_origin, v};
use crate::scene::spec::{RootJoint, SceneSpec, Shape};
use anyhow::{Result, bail};
use bevy::prelude::{ChildOf, Entity, Quat, Transform, Vec3, World};
use bevy_rapier3d::prelude::{
    AdditionalMassProperties, CoefficientCombineRule, Collider, ColliderMassProperties,
    CollisionGroups, ExternalForce, Friction, GenericJoint, Group, MassProperties, MultibodyJoint,
    RapierContextEntityLink, RapierMultibodyJointHandle, RapierRigidBodyHandle, RigidBody,
    Sleeping, TypedJoint,
};
use bevy_rapier3d::rapier::prelude::{
    FixedJointBuilder, GenericJoint as RapierJoint, GenericJointBuilder, JointAxesMask, JointAxis,
    RevoluteJointBuilder, RigidBodyHandle, RigidBodySet, Vector,
};

/// Membership of robot colliders and of the ground.
const ROBOT: Group = Group::GROUP_1;
const GROUND: Group = Group::GROUP_2;
/// Mass and inertia of the links between the hinges of one body: small next to armature.
const CHAIN_LINK_MASS: f32 = 1e-3;
const CHAIN_LINK_INERTIA: f32 = 1e-6;
/// Friction of the ground plane (MuJoCo combines frictions with max).
const GROUND_FRICTION: f32 = 1.0;

fn typed(joint: impl Into<RapierJoint>) -> TypedJoint {
    TypedJoint::GenericJoint(GenericJoint { raw: joint.into() })
}

/// A dynamic or fixed body of a robot, at `at`, that the actuators push through its
/// `ExternalForce` and that never sleeps.
fn spawn_part(
    world: &mut World,
    link: RapierContextEntityLink,
    body: RigidBody,
    at: Vec3,
) -> Entity {
    world
        .spawn((
            body,
            Transform::from_translation(at),
            ExternalForce::default(),
            Sleeping::disabled(),
            link,
        ))
        .id()
}

/// The ground: a box whose top is z = 0, `half_extent` wide, that touches robots only.
pub(super) fn spawn_ground(host: &mut PhysicsHost, half_extent: f32) -> RigidBodyHandle {
    let link = RapierContextEntityLink(host.context());
    let ground = host
        .world_mut()
        .spawn((
            RigidBody::Fixed,
            Transform::from_xyz(0.0, 0.0, -0.5),
            Collider::cuboid(half_extent, half_extent, 0.5),
            Friction {
                coefficient: GROUND_FRICTION,
                combine_rule: CoefficientCombineRule::Max,
            },
            CollisionGroups::new(GROUND, ROBOT),
            link,
        ))
        .id();
    host.sync();
    body_handle(host.world(), ground)
}

fn body_handle(world: &World, e: Entity) -> RigidBodyHandle {
    world
        .get::<RapierRigidBodyHandle>(e)
        .expect("bevy_rapier3d creates a body for every RigidBody entity it syncs")
        .0
}

/// Spawns one copy of the robot, shifted by `offset`, at its reset pose, and syncs it into
/// rapier. Joints are spawned in scene order (root, hinges, then welds).
pub(super) fn spawn_copy(
    host: &mut PhysicsHost,
    scene: &SceneSpec,
    offset: Vector,
) -> Result<RobotCopy> {
    let origins: Vec<Vector> = (0..scene.bodies.len())
        .map(|i| body_origin(scene, i))
        .collect();
    let link = RapierContextEntityLink(host.context());
    let world = host.world_mut();
    let bodies: Vec<Entity> = origins
        .iter()
        .map(|o| spawn_part(world, link, RigidBody::Dynamic, *o + offset))
        .collect();
    for ((b, origin), &body) in scene.bodies.iter().zip(&origins).zip(&bodies) {
        let volume: f32 = b.geoms.iter().map(|g| g.shape.volume()).sum();
        for g in &b.geoms {
            let (collider, local) = match g.shape {
                Shape::Capsule { from, to, radius } => (
                    Collider::capsule(v(from) - *origin, v(to) - *origin, radius),
                    Transform::IDENTITY,
                ),
                Shape::Sphere { center, radius } => (
                    Collider::ball(radius),
                    Transform::from_translation(v(center) - *origin),
                ),
                Shape::Box {
                    center,
                    half_extents: h,
                    rotation: (w, x, y, z),
                } => (
                    Collider::cuboid(h.0, h.1, h.2),
                    Transform::from_translation(v(center) - *origin)
                        .with_rotation(Quat::from_xyzw(x, y, z, w).normalize()),
                ),
            };
            world.spawn((
                collider,
                local,
                ColliderMassProperties::Mass(b.mass * g.shape.volume() / volume),
                Friction {
                    coefficient: g.friction,
                    combine_rule: CoefficientCombineRule::Max,
                },
                CollisionGroups::new(ROBOT, GROUND),
                link,
                ChildOf(body),
            ));
        }
    }
    // bevy_rapier3d creates the bodies of one sync in storage order, which depends on how the
    // world's archetypes came about; the solver's order follows the handles. Syncing scene
    // bodies, the anchor and chain links apart gives every copy, fresh, reset or restored,
    // the same handles in the same order.
    host.sync();
    let mut helpers = Vec::new();
    // Each joint with the entity of its child body, in scene order.
    let mut joints: Vec<(Entity, MultibodyJoint)> = Vec::new();
    // (entity holding the joint, parent part, child part, axis): parts index bodies ++ helpers.
    let mut hinge_parts: Vec<(Entity, usize, usize, Vector)> = Vec::new();
    let part_of = |helpers: &Vec<Entity>, e: Entity| {
        bodies
            .iter()
            .chain(helpers)
            .position(|&x| x == e)
            .expect("a part of this copy")
    };
    let root_joint = match scene.root {
        RootJoint::Planar => {
            let anchor = spawn_part(
                host.world_mut(),
                link,
                RigidBody::Fixed,
                origins[0] + offset,
            );
            host.sync();
            helpers.push(anchor);
            let planar = GenericJointBuilder::new(
                JointAxesMask::LIN_Y | JointAxesMask::ANG_X | JointAxesMask::ANG_Z,
            );
            joints.push((bodies[0], MultibodyJoint::new(anchor, typed(planar))));
            Some(bodies[0])
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
    let world = host.world_mut();
    // Several hinges on one body (the humanoid's hips) form a chain through tiny bodies at
    // their anchor, MuJoCo's serial degrees of freedom; the last hinge ends in the body.
    let mut chain_end: Vec<Option<Entity>> = vec![None; scene.bodies.len()];
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
            Some(e) => (e, v(j.anchor)),
            None => (bodies[parent], origins[parent]),
        };
        let (to, to_origin) = if last {
            (bodies[body], origins[body])
        } else {
            let chain_link = spawn_part(world, link, RigidBody::Dynamic, v(j.anchor) + offset);
            world
                .entity_mut(chain_link)
                .insert(AdditionalMassProperties::MassProperties(MassProperties {
                    local_center_of_mass: Vec3::ZERO,
                    mass: CHAIN_LINK_MASS,
                    principal_inertia_local_frame: Quat::IDENTITY,
                    principal_inertia: Vec3::splat(CHAIN_LINK_INERTIA),
                }));
            chain_end[body] = Some(chain_link);
            helpers.push(chain_link);
            (chain_link, v(j.anchor))
        };
        let axis = v(j.axis).normalize();
        let mut joint = RevoluteJointBuilder::new(axis)
            .local_anchor1(v(j.anchor) - from_origin)
            .local_anchor2(v(j.anchor) - to_origin);
        if let Some((lo, hi)) = j.range {
            joint = joint.limits([lo, hi]);
        }
        let mut joint: RapierJoint = joint.into();
        joint.limits[JointAxis::AngX as usize].margin = scene.task.limit_margin;
        joints.push((to, MultibodyJoint::new(from, typed(joint))));
        hinge_parts.push((to, part_of(&helpers, from), part_of(&helpers, to), axis));
    }
    // Bodies without a hinge are welded to their parent (MuJoCo's jointless bodies).
    let mut welds = Vec::new();
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
        joints.push((bodies[i], MultibodyJoint::new(bodies[parent], typed(weld))));
        welds.push((bodies[i], b.name.as_str()));
    }
    // Joints are synced one at a time: bevy_rapier3d meets new joints in storage order, and
    // the multibody's link order (so its numerics) follows the order joints arrive in.
    host.sync();
    for (e, joint) in joints {
        host.world_mut().entity_mut(e).insert(joint);
        host.sync();
    }
    let world = host.world();
    let joint_handle = |e: Entity, what: &str| match world.get::<RapierMultibodyJointHandle>(e) {
        Some(h) => Ok(h.0),
        None => bail!(
            "scene '{}': {what} would close a kinematic loop",
            scene.name
        ),
    };
    let hinges = hinge_parts
        .iter()
        .zip(&scene.joints)
        .map(|(&(e, parent_part, child_part, axis), j)| {
            let parts = || bodies.iter().chain(&helpers);
            Ok(Hinge {
                child: body_handle(world, e),
                parent: body_handle(world, *parts().nth(parent_part).expect("part")),
                child_part,
                parent_part,
                handle: joint_handle(e, &format!("joint '{}'", j.name))?,
                axis,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let root_joint = match root_joint {
        Some(e) => Some(joint_handle(e, "the planar root joint")?),
        None => None,
    };
    let mut multibody = root_joint.or(hinges.first().map(|h| h.handle));
    for (e, name) in welds {
        let weld = joint_handle(e, &format!("body '{name}'"))?;
        multibody = multibody.or(Some(weld));
    }
    let copy = RobotCopy {
        bodies: bodies.iter().map(|&e| body_handle(world, e)).collect(),
        helpers: helpers.iter().map(|&e| body_handle(world, e)).collect(),
        root_joint,
        hinges,
        multibody,
        offset,
        entities: bodies.into_iter().chain(helpers).collect(),
        push: None,
    };
    Ok(copy)
}

/// An entity for a restored body, with its pose, type and actuator torque. It gets no rapier
/// handle yet: see [`PhysicsHost::restore`].
pub(super) fn spawn_restored(
    host: &mut PhysicsHost,
    restored: &RigidBodySet,
    handle: RigidBodyHandle,
) -> Entity {
    let link = RapierContextEntityLink(host.context());
    let rb = &restored[handle];
    let kind = if rb.is_fixed() {
        RigidBody::Fixed
    } else {
        RigidBody::Dynamic
    };
    let pose = rb.position();
    host.world_mut()
        .spawn((
            kind,
            Transform::from_translation(pose.translation).with_rotation(pose.rotation),
            ExternalForce {
                force: rb.user_force(),
                torque: rb.user_torque(),
            },
            Sleeping::disabled(),
            link,
        ))
        .id()
}
