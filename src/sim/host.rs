//! The Bevy App that hosts the physics: bevy_rapier3d's systems in schedules the trainer runs
//! itself, single-threaded, never on wall-clock time.
//!
//! - [`SyncPhysics`]: bevy_rapier3d's `SyncBackend` set. Entities spawned, changed or despawned
//!   since the last run become rapier bodies, colliders and joints; changed `ExternalForce`s
//!   (the actuators' torques) reach their bodies.
//! - [`StepPhysics`]: `StepSimulation`: a whole control step of physics steps. Poses are read
//!   from the rapier bodies (`RobotWorld::body_poses`); bevy_rapier3d's `Writeback` (rapier
//!   poses into `Transform`s) is not run: nothing reads those `Transform`s, and without it an
//!   env step is faster (`bench envs`, README).
//!
//! The App is built once with [`PhysicsHostPlugin`] and kept as its `World`: nothing else of an
//! App (runner, main schedule, time) takes part in a step.

use bevy::app::{App, TaskPoolOptions, TaskPoolPlugin};
use bevy::ecs::query::QueryState;
use bevy::ecs::schedule::{Schedule, ScheduleLabel, SingleThreadedExecutor};
use bevy::ecs::world::World;
use bevy::prelude::{Entity, Messages, Plugin, Time, TransformPlugin};
use bevy_rapier3d::prelude::{
    CollisionEvent, ContactForceEvent, DefaultRapierContext, MassModifiedEvent, NoUserData,
    PhysicsSet, RapierConfiguration, RapierContextColliders, RapierContextInitialization,
    RapierContextJoints, RapierContextSimulation, RapierPhysicsPlugin, RapierRigidBodyHandle,
    RapierRigidBodySet, TimestepMode,
};
use bevy_rapier3d::rapier::prelude::{
    ColliderSet, IntegrationParameters, MultibodyJointSet, NarrowPhase, RigidBodyHandle,
    RigidBodySet, Vector,
};

/// Runs bevy_rapier3d's `SyncBackend` set: entities → rapier.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyncPhysics;

/// Runs bevy_rapier3d's `StepSimulation` set.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepPhysics;

/// bevy_rapier3d wired into [`SyncPhysics`] and [`StepPhysics`], with no rapier context of its
/// own: [`PhysicsHost`] spawns the one it steps.
pub struct PhysicsHostPlugin;

impl Plugin for PhysicsHostPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<TaskPoolPlugin>() {
            // Transform propagation asks for the compute pool; the physics itself runs on the
            // caller's thread. (Pools are process-wide: the desktop app's come first.)
            app.add_plugins(TaskPoolPlugin {
                task_pool_options: TaskPoolOptions::with_num_threads(1),
            });
        }
        app.add_plugins(TransformPlugin)
            .add_plugins(
                RapierPhysicsPlugin::<NoUserData>::default()
                    .with_custom_initialization(
                        RapierContextInitialization::NoAutomaticRapierContext,
                    )
                    .with_default_system_setup(false),
            )
            .init_resource::<Time>()
            .init_resource::<TimestepMode>();
        for (label, systems) in [
            (
                SyncPhysics.intern(),
                RapierPhysicsPlugin::<NoUserData>::get_systems(PhysicsSet::SyncBackend),
            ),
            (
                StepPhysics.intern(),
                RapierPhysicsPlugin::<NoUserData>::get_systems(PhysicsSet::StepSimulation),
            ),
        ] {
            let mut schedule = Schedule::new(label);
            // Two cores, tens of entities: scheduling threads costs more than it saves.
            schedule.set_executor(SingleThreadedExecutor::new());
            schedule.add_systems(systems);
            app.add_schedule(schedule);
        }
    }
}

/// The rapier state bevy_rapier3d keeps on its context entity.
type ContextQuery = QueryState<(
    &'static mut RapierContextSimulation,
    &'static mut RapierContextColliders,
    &'static mut RapierContextJoints,
    &'static mut RapierRigidBodySet,
)>;

/// A Bevy world with one rapier context, stepped on demand.
pub struct PhysicsHost {
    world: World,
    context: Entity,
    sets: ContextQuery,
    /// Length of one physics step, s.
    timestep: f32,
    steps: u64,
}

/// Everything rapier needs to continue exactly: bevy_rapier3d's context components.
#[derive(serde::Serialize)]
pub struct PhysicsStateRef<'a> {
    gravity: Vector,
    simulation: &'a RapierContextSimulation,
    colliders: &'a RapierContextColliders,
    joints: &'a RapierContextJoints,
    bodies: &'a RapierRigidBodySet,
}

/// Owned counterpart of [`PhysicsStateRef`].
#[derive(serde::Deserialize)]
pub struct PhysicsState {
    gravity: Vector,
    simulation: RapierContextSimulation,
    colliders: RapierContextColliders,
    joints: RapierContextJoints,
    bodies: RapierRigidBodySet,
}

impl PhysicsHost {
    /// An empty world: no bodies, `gravity`, steps of `integration.dt`.
    pub fn new(integration: IntegrationParameters, gravity: Vector) -> Self {
        let mut app = App::new();
        app.add_plugins(PhysicsHostPlugin);
        app.finish();
        app.cleanup();
        let mut world = std::mem::take(app.world_mut());
        let mut simulation = RapierContextSimulation::default();
        simulation.integration_parameters = integration;
        let context = world
            .spawn((
                simulation,
                RapierConfiguration {
                    gravity,
                    ..RapierConfiguration::new(integration.length_unit)
                },
                DefaultRapierContext,
            ))
            .id();
        let sets = world.query();
        Self {
            world,
            context,
            sets,
            timestep: integration.dt,
            steps: 0,
        }
    }

    /// The entity holding the rapier context (bodies link to it).
    pub fn context(&self) -> Entity {
        self.context
    }

    /// The Bevy world, to change.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The Bevy world: entities with bevy_rapier3d components.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Brings rapier up to date with the entities.
    pub fn sync(&mut self) {
        self.world.run_schedule(SyncPhysics);
        self.drop_messages();
    }

    /// Nothing reads bevy_rapier3d's messages here (no collision events are asked for, no
    /// entity reads its mass back). Mass changes of a new copy would otherwise reach the
    /// writeback after that copy was reset again and its entities were gone.
    fn drop_messages(&mut self) {
        self.world
            .resource_mut::<Messages<CollisionEvent>>()
            .clear();
        self.world
            .resource_mut::<Messages<ContactForceEvent>>()
            .clear();
        self.world
            .resource_mut::<Messages<MassModifiedEvent>>()
            .clear();
    }

    /// Syncs, then advances `physics_steps` steps of [`Self::timestep`] (a control step's
    /// frame skip) in one run of [`StepPhysics`]. bevy_rapier3d calls them the `substeps` of
    /// its fixed timestep; they are not the solver's substeps (`solver_substeps` of the
    /// scene, rapier's `num_solver_iterations`, run inside each of them).
    pub fn step(&mut self, physics_steps: usize) {
        self.sync();
        *self.world.resource_mut::<TimestepMode>() = TimestepMode::Fixed {
            dt: self.timestep * physics_steps as f32,
            substeps: physics_steps,
        };
        self.world.run_schedule(StepPhysics);
        self.drop_messages();
        self.world.clear_trackers();
        self.steps += 1;
        // Change ticks age with every system run; Bevy's App checks them now and then too.
        if self.steps.is_multiple_of(1 << 16) {
            self.world.check_change_ticks();
        }
    }

    /// Length of one physics step, s.
    pub fn timestep(&self) -> f32 {
        self.timestep
    }

    /// rapier's bodies.
    pub fn bodies(&self) -> &RigidBodySet {
        &self.component::<RapierRigidBodySet>().bodies
    }

    /// rapier's multibody joints.
    pub fn multibody_joints(&self) -> &MultibodyJointSet {
        &self.component::<RapierContextJoints>().multibody_joints
    }

    /// rapier's colliders.
    pub fn colliders(&self) -> &ColliderSet {
        &self.component::<RapierContextColliders>().colliders
    }

    /// rapier's contacts.
    pub fn narrow_phase(&self) -> &NarrowPhase {
        &self.component::<RapierContextSimulation>().narrow_phase
    }

    fn component<T: bevy::prelude::Component>(&self) -> &T {
        self.world
            .get::<T>(self.context)
            .expect("the context entity holds bevy_rapier3d's components")
    }

    /// Bodies and multibody joints, mutable together.
    pub fn bodies_and_joints_mut(&mut self) -> (&mut RigidBodySet, &mut MultibodyJointSet) {
        let (_, _, joints, bodies) = self
            .sets
            .get_mut(&mut self.world, self.context)
            .expect("the context entity holds bevy_rapier3d's components");
        (
            &mut bodies.into_inner().bodies,
            &mut joints.into_inner().multibody_joints,
        )
    }

    /// Removes bodies with their colliders and joints from rapier at once (their entities may
    /// go later: bevy_rapier3d then finds nothing left to remove).
    pub fn remove_bodies(&mut self, handles: &[RigidBodyHandle]) {
        let (mut sim, mut colliders, mut joints, mut bodies) = self
            .sets
            .get_mut(&mut self.world, self.context)
            .expect("the context entity holds bevy_rapier3d's components");
        let joints = &mut *joints;
        for &h in handles {
            bodies.bodies.remove(
                h,
                &mut sim.islands,
                &mut colliders.colliders,
                &mut joints.impulse_joints,
                &mut joints.multibody_joints,
                true,
            );
        }
    }

    /// The rapier state, for serialisation.
    pub fn state(&self) -> PhysicsStateRef<'_> {
        PhysicsStateRef {
            gravity: self.component::<RapierConfiguration>().gravity,
            simulation: self.component(),
            colliders: self.component(),
            joints: self.component(),
            bodies: self.component(),
        }
    }

    /// A world whose rapier state is `state`. `spawn` spawns an entity for each body it
    /// names, without rapier handles. A first sync runs on empty sets: bevy_rapier3d makes
    /// throwaway bodies of the new entities and takes their spawning as seen, so that it
    /// will not write their `Transform`s back into the restored bodies (a round trip through
    /// a matrix, not exact). Then the state moves in and each entity gets its body's handle.
    pub fn restore(
        state: PhysicsState,
        timestep: f32,
        spawn: impl FnOnce(&mut Self, &RigidBodySet) -> Vec<(Entity, RigidBodyHandle)>,
    ) -> Self {
        let integration = IntegrationParameters {
            dt: timestep,
            ..state.simulation.integration_parameters
        };
        let mut host = Self::new(integration, state.gravity);
        let standing_for = spawn(&mut host, &state.bodies.bodies);
        host.sync();
        let mut context = host.world.entity_mut(host.context);
        *context
            .get_mut::<RapierContextSimulation>()
            .expect("context") = state.simulation;
        *context
            .get_mut::<RapierContextColliders>()
            .expect("context") = state.colliders;
        *context.get_mut::<RapierContextJoints>().expect("context") = state.joints;
        *context.get_mut::<RapierRigidBodySet>().expect("context") = state.bodies;
        for (e, h) in standing_for {
            host.world.entity_mut(e).insert(RapierRigidBodyHandle(h));
        }
        host
    }
}
