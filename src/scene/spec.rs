//! The robot + task description format of `scenes/*.ron` (serde types).
//!
//! Everything is given in world coordinates at the reset pose, SI units, radians:
//! - bodies form a tree (one root, `parent: None`), each with its mass and collision geoms;
//! - hinge joints connect a body to its parent at an anchor, about an axis (several hinges
//!   on one body make a ball-like joint, as in the humanoid's hips);
//! - actuators apply `gear × action` as torque on a joint;
//! - the root moves freely (`Free`) or in the x–z plane with rotation about y (`Planar`);
//! - the task: Gymnasium v5's reward weights, health rule, timestep, frame skip, reset noise.

use serde::{Deserialize, Serialize};

/// A point or direction (x, y, z), metres, z up.
pub type Vec3 = (f32, f32, f32);

/// A robot and its task: what `scenes/*.ron` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Scene")]
pub struct SceneSpec {
    /// The env name it is registered under.
    pub name: String,
    /// How the root body moves.
    pub root: RootJoint,
    /// Planar robots: the value of the observed root z at the reset pose (MuJoCo's `ref` of
    /// the z slide: 1.25 for hopper and walker, whose z is a height; 0 for the cheetah, whose
    /// z is a displacement). `None`: the root's height.
    #[serde(default)]
    pub planar_z_ref: Option<f32>,
    /// The bodies, root first, each after its parent.
    pub bodies: Vec<BodySpec>,
    /// The hinges between bodies and their parents.
    pub joints: Vec<JointSpec>,
    /// The motors, in action order.
    pub actuators: Vec<ActuatorSpec>,
    /// Reward, health rule, timing and sizes.
    pub task: TaskSpec,
    /// Width of each copy's lane in the app, m (default 1.5): room for the robot's legs and
    /// falls beside its neighbours.
    #[serde(default = "default_lane_width")]
    pub lane_width: f32,
}

fn default_lane_width() -> f32 {
    1.5
}

/// The degrees of freedom of the root body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootJoint {
    /// Slides along x and z, turns about y (hopper, half-cheetah, walker): 3 DoF.
    Planar,
    /// Moves and turns freely (ant, humanoid): 6 DoF.
    Free,
}

/// A rigid body of the robot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Body")]
pub struct BodySpec {
    /// Unique within the scene.
    pub name: String,
    /// `None` for the root, which must come first.
    pub parent: Option<String>,
    /// kg; spread over the geoms in proportion to their volume.
    pub mass: f32,
    /// Its collision shapes, which also give its mass distribution.
    pub geoms: Vec<GeomSpec>,
}

/// A collision shape and its friction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Geom")]
pub struct GeomSpec {
    /// Where and what, world frame at the reset pose.
    pub shape: Shape,
    /// Sliding friction coefficient.
    #[serde(default = "default_friction")]
    pub friction: f32,
}

fn default_friction() -> f32 {
    1.0
}

/// The shapes of geoms, world frame at the reset pose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Shape {
    /// A segment with a radius.
    Capsule {
        /// One end of the segment.
        from: Vec3,
        /// The other end.
        to: Vec3,
        /// m.
        radius: f32,
    },
    /// A ball.
    Sphere {
        /// Its centre.
        center: Vec3,
        /// m.
        radius: f32,
    },
    /// `rotation` is a unit quaternion (w, x, y, z).
    Box {
        /// Its centre.
        center: Vec3,
        /// Half its sides, m, in its own frame.
        half_extents: Vec3,
        /// Its orientation (w, x, y, z).
        rotation: (f32, f32, f32, f32),
    },
}

impl Shape {
    /// m³.
    pub fn volume(&self) -> f32 {
        use std::f32::consts::PI;
        match *self {
            Shape::Capsule { from, to, radius } => {
                let len =
                    ((to.0 - from.0).powi(2) + (to.1 - from.1).powi(2) + (to.2 - from.2).powi(2))
                        .sqrt();
                PI * radius * radius * len + 4.0 / 3.0 * PI * radius.powi(3)
            }
            Shape::Sphere { radius, .. } => 4.0 / 3.0 * PI * radius.powi(3),
            Shape::Box {
                half_extents: (x, y, z),
                ..
            } => 8.0 * x * y * z,
        }
    }
}

/// A hinge between a body and its parent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Joint")]
pub struct JointSpec {
    /// Unique within the scene.
    pub name: String,
    /// The child body; it turns relative to its parent.
    pub body: String,
    /// A point on the hinge axis, world frame at the reset pose.
    pub anchor: Vec3,
    /// The hinge axis (normalised when the scene loads).
    pub axis: Vec3,
    /// Limits in radians, relative to the reset pose; `None`: unlimited.
    pub range: Option<(f32, f32)>,
    /// N·m·s/rad.
    #[serde(default)]
    pub damping: f32,
    /// Spring towards the reset angle, N·m/rad.
    #[serde(default)]
    pub stiffness: f32,
    /// Rotor inertia added on the joint axis, kg·m².
    #[serde(default)]
    pub armature: f32,
}

/// A motor: torque `gear × action` on a joint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Actuator")]
pub struct ActuatorSpec {
    /// The joint it drives.
    pub joint: String,
    /// Torque = gear × action (N·m per unit of action).
    pub gear: f32,
    /// Actions are clipped to this range.
    pub ctrl_range: (f32, f32),
}

/// The point whose forward velocity is rewarded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardFrom {
    /// The root body's x velocity.
    #[default]
    Root,
    /// The whole robot's centre of mass's x velocity.
    CenterOfMass,
}

/// Gymnasium v5's task parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Task")]
pub struct TaskSpec {
    /// Physics step, s.
    pub timestep: f32,
    /// Physics steps per control step: dt = timestep × frame_skip.
    pub frame_skip: u32,
    /// Solver substeps per physics step (rapier's `num_solver_iterations`; default 4, rapier's
    /// own). The multibody's mass matrix is rebuilt every substep, which is most of a step's
    /// cost: fewer substeps are faster. Whether the robot still moves as MuJoCo's does is
    /// measured by `virel-lab bench gait` (a random policy here and in MuJoCo): the
    /// half-cheetah's random gait follows the substep's length (the README's physics notes).
    /// (Called `substeps` in scene files before; that key still reads.)
    #[serde(default = "default_solver_substeps", alias = "substeps")]
    pub solver_substeps: u32,
    /// A joint limit's constraint is built once the joint is within this distance of the
    /// bound (rad), and lets it close the rest in a substep: it stops at the bound instead of
    /// sinking past it and chattering there under load (which turned a resting ant at
    /// ~6 mrad/s). 0 is rapier's published behaviour; default 0.01.
    #[serde(default = "default_limit_margin")]
    pub limit_margin: f32,
    /// Softness of the contacts with the ground: `(natural frequency in Hz, damping ratio)`
    /// of rapier's soft contact constraint (`static_contact_softness`). None: rapier's own
    /// (60 Hz, 10). MuJoCo's default contact (`solref` 0.02 s, 1) is `(7.96, 1.0)`: a natural
    /// frequency of 1/(2π·0.02 s), critically damped.
    #[serde(default)]
    pub ground_softness: Option<(f32, f32)>,
    /// Weight of the forward velocity in the reward.
    pub forward_reward_weight: f32,
    /// Whose x velocity the forward reward pays: the root body's (default) or the centre of
    /// mass's (Gymnasium's Humanoid-v5).
    #[serde(default)]
    pub forward_from: ForwardFrom,
    /// Weight of the squared actions (a cost).
    pub ctrl_cost_weight: f32,
    /// Weight of the squared contact forces (a cost).
    pub contact_cost_weight: f32,
    /// Reward per control step while healthy.
    pub healthy_reward: f32,
    /// An unhealthy state ends the episode (terminated), else it goes on.
    pub terminate_when_unhealthy: bool,
    /// `None`: always healthy (never terminates).
    pub healthy: Option<HealthSpec>,
    /// Uniform noise ± this on joint positions and velocities at reset.
    pub reset_noise_scale: f32,
    /// Velocities in the observation are clipped to ± this.
    pub velocity_clip: Option<f32>,
    /// Declared sizes, checked against the robot: a typo shows as a mismatch.
    pub obs_dim: usize,
    /// Declared action size.
    pub action_dim: usize,
    /// Control steps before truncation.
    pub episode_steps: u32,
}

fn default_solver_substeps() -> u32 {
    4
}

fn default_limit_margin() -> f32 {
    0.01
}

/// Ranges that keep the robot healthy; each `None` is not checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename = "Health")]
pub struct HealthSpec {
    /// Root height, m.
    pub z_range: Option<(f32, f32)>,
    /// Root pitch angle, rad (planar robots).
    pub angle_range: Option<(f32, f32)>,
    /// Every other state entry (positions after the root x, z and all velocities).
    pub state_range: Option<(f32, f32)>,
}
