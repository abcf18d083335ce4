//! A robot world as data: the whole rapier state and the copies' handles, for checkpoints.

use super::*;

use super::host::{PhysicsState, PhysicsStateRef};

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
