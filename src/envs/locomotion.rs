//! The locomotion tasks of `scenes/` (Gymnasium v5 semantics) on [`crate::sim::RobotWorld`].
//!
//! - Reward = forward_reward_weight · x-velocity − ctrl_cost_weight · Σa² + healthy_reward
//!   (while healthy, or always when unhealthy episodes do not end) − contact_cost_weight ·
//!   Σ clip(contact wrench, ±1)² (ant, humanoid; MuJoCo's `cfrc_ext`: torque and force of the
//!   contacts on each body, friction included), as terms `forward`, `ctrl`, `healthy`,
//!   `contact`. x-velocity = Δx / dt of the root (free robots: the humanoid's centre of mass,
//!   the ant's torso), dt = timestep × frame_skip.
//! - Observation: root coordinates without x (and y), hinge angles, then all velocities;
//!   velocities clipped where v5 clips them.
//! - Terminated when unhealthy (and the task says so); truncated after `episode_steps`.
//! - Reset: the reset pose plus uniform noise ± reset_noise_scale on every generalised
//!   coordinate and velocity.
//!
//! One [`Locomotion`] holds N copies of the robot in one physics world, each with its own
//! episode clock and random generator: [`super::VecEnv`] steps them together. With one copy it
//! is a plain [`Env`].

use super::{BoxSpace, Env, Step};
use crate::scene;
use crate::scene::spec::{ForwardFrom, RootJoint, SceneSpec};
use crate::sim::RobotWorld;
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Per-copy episode state.
#[derive(serde::Serialize, serde::Deserialize)]
struct Episode {
    rng: ChaCha8Rng,
    steps: u32,
}

/// The Gymnasium v5 locomotion tasks on a scene's robot: every copy with its own episode clock and seeded reset noise.
pub struct Locomotion {
    name: String,
    scene: SceneSpec,
    robot: RobotWorld,
    episodes: Vec<Episode>,
    obs_space: BoxSpace,
    act_space: BoxSpace,
}

impl Locomotion {
    /// A shipped robot by name, or a scene file: one copy.
    pub fn new(name_or_path: &str) -> Result<Self> {
        Self::with_copies(name_or_path, 1)
    }

    /// `copies` robots in one world, each on its own lane.
    pub fn with_copies(name_or_path: &str, copies: usize) -> Result<Self> {
        Self::from_scene(name_or_path, scene::load(name_or_path)?, copies)
    }

    /// `copies` robots of a scene already loaded, named `name`.
    pub fn from_scene(name: &str, scene: SceneSpec, copies: usize) -> Result<Self> {
        let robot = RobotWorld::new(&scene, copies)?;
        let n = scene.task.obs_dim;
        let (low, high): (Vec<f32>, Vec<f32>) =
            scene.actuators.iter().map(|a| a.ctrl_range).unzip();
        Ok(Self {
            name: name.to_owned(),
            obs_space: BoxSpace::uniform(n, f32::NEG_INFINITY, f32::INFINITY),
            act_space: BoxSpace::new(low, high),
            episodes: (0..robot.num_copies())
                .map(|_| Episode {
                    rng: ChaCha8Rng::seed_from_u64(0),
                    steps: 0,
                })
                .collect(),
            robot,
            scene,
        })
    }

    /// Copies of the robot.
    pub fn num_copies(&self) -> usize {
        self.episodes.len()
    }

    /// The robot and task this env was built from.
    pub fn scene(&self) -> &SceneSpec {
        &self.scene
    }

    /// The physics world of every copy.
    pub fn robots(&self) -> &RobotWorld {
        &self.robot
    }

    /// The physics world, to put a hand on a robot ([`RobotWorld::set_push`]).
    pub fn robots_mut(&mut self) -> &mut RobotWorld {
        &mut self.robot
    }

    /// The x the forward reward measures.
    fn progress_x(&self, k: usize) -> f32 {
        match (self.scene.root, self.scene.task.forward_from) {
            (_, ForwardFrom::CenterOfMass) => self.robot.center_of_mass(k).x,
            (RootJoint::Planar, ForwardFrom::Root) => self.robot.root_state(k).0[0],
            (RootJoint::Free, ForwardFrom::Root) => self.robot.root_position(k).x,
        }
    }

    /// (observation, generalised positions, velocities) of copy `k`.
    fn observe(&self, k: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (mut q, mut qd) = self.robot.root_state(k);
        let (hq, hqd) = self.robot.hinge_state(k);
        q.extend(hq);
        qd.extend(hqd);
        let skip = match self.scene.root {
            RootJoint::Planar => 1,
            RootJoint::Free => 2,
        };
        let clip = self.scene.task.velocity_clip.unwrap_or(f32::INFINITY);
        let obs = q[skip..]
            .iter()
            .copied()
            .chain(qd.iter().map(|v| v.clamp(-clip, clip)))
            .collect();
        (obs, q, qd)
    }

    fn healthy(&self, q: &[f32], qd: &[f32]) -> bool {
        let Some(h) = &self.scene.task.healthy else {
            return true;
        };
        let within = |x: f32, r: Option<(f32, f32)>| r.is_none_or(|(lo, hi)| lo < x && x < hi);
        let (z, angle) = match self.scene.root {
            RootJoint::Planar => (q[1], Some(q[2])),
            RootJoint::Free => (q[2], None),
        };
        let finite = q.iter().chain(qd).all(|x| x.is_finite());
        let state_ok = h
            .state_range
            .is_none_or(|r| q[2..].iter().chain(qd).all(|&x| within(x, Some(r))));
        finite && within(z, h.z_range) && angle.is_none_or(|a| within(a, h.angle_range)) && state_ok
    }

    /// Starts a new episode of copy `k`. `Some(seed)` re-seeds its random generator first.
    pub fn reset_copy(&mut self, k: usize, seed: Option<u64>) -> Vec<f32> {
        let episode = &mut self.episodes[k];
        if let Some(seed) = seed {
            episode.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        episode.steps = 0;
        self.robot.reset_copy(k);
        let c = self.scene.task.reset_noise_scale;
        let n = self.scene.joints.len()
            + if self.scene.root == RootJoint::Planar {
                3
            } else {
                6
            };
        let mut noise = |count: usize| {
            (0..count)
                .map(|_| {
                    if c > 0.0 {
                        episode.rng.random_range(-c..=c)
                    } else {
                        0.0
                    }
                })
                .collect::<Vec<f32>>()
        };
        let (dq, dv) = (noise(n), noise(n));
        self.robot.perturb(k, &dq, &dv);
        self.observe(k).0
    }

    /// Advances every copy one control step with `actions[k·act_dim..]`, all in one physics
    /// world. Copies whose episode ended are left for the caller to reset.
    pub fn step_copies(&mut self, actions: &[f32]) -> Vec<Step> {
        let t = &self.scene.task;
        let dim = self.act_space.dim();
        let n = self.num_copies();
        assert_eq!(actions.len(), n * dim, "actions must be [copies × act_dim]");
        let dt = t.timestep * t.frame_skip as f32;
        let x_before: Vec<f32> = (0..n).map(|k| self.progress_x(k)).collect();
        for (k, a) in actions.chunks(dim).enumerate() {
            self.robot.set_actions(k, a);
        }
        self.robot.advance(t.frame_skip as usize);
        actions
            .chunks(dim)
            .zip(x_before)
            .enumerate()
            .map(|(k, (a, x))| self.finish_step(k, a, x, dt))
            .collect()
    }

    /// Reward terms, health and time limit of copy `k` after a control step.
    fn finish_step(&mut self, k: usize, action: &[f32], x_before: f32, dt: f32) -> Step {
        let t = &self.scene.task;
        let x_velocity = (self.progress_x(k) - x_before) / dt;
        let (obs, q, qd) = self.observe(k);
        let healthy = self.healthy(&q, &qd);
        let clipped = action
            .iter()
            .zip(&self.scene.actuators)
            .map(|(a, s)| a.clamp(s.ctrl_range.0, s.ctrl_range.1));
        let forward = t.forward_reward_weight * x_velocity;
        let ctrl = -t.ctrl_cost_weight * clipped.map(|a| a * a).sum::<f32>();
        let survive = if healthy || !t.terminate_when_unhealthy {
            t.healthy_reward
        } else {
            0.0
        };
        let mut terms = vec![("forward", forward), ("ctrl", ctrl), ("healthy", survive)];
        if t.contact_cost_weight > 0.0 {
            let squared: f32 = self
                .robot
                .contact_wrenches(k)
                .iter()
                .flatten()
                .map(|c| c.clamp(-1.0, 1.0).powi(2))
                .sum();
            terms.push(("contact", -t.contact_cost_weight * squared));
        }
        let episode = &mut self.episodes[k];
        episode.steps += 1;
        Step {
            obs,
            reward: terms.iter().map(|t| t.1).sum(),
            terminated: t.terminate_when_unhealthy && !healthy,
            truncated: episode.steps >= t.episode_steps,
            terms,
        }
    }

    /// The physics world (every copy), random generators and episode clocks.
    pub fn snapshot(&self) -> serde_json::Value {
        // The physics state goes through RON, which keeps infinite joint limits and health
        // bounds (JSON would turn them into null).
        let robot = ron::to_string(&self.robot).expect("a physics world always serialises");
        super::to_snapshot(&(robot, &self.episodes))
    }

    /// Restores a [`Locomotion::snapshot`] of as many copies of the same robot.
    pub fn restore(&mut self, snapshot: &serde_json::Value) -> Result<()> {
        let (robot, episodes): (String, Vec<Episode>) = super::from_snapshot(&self.name, snapshot)?;
        let robot: RobotWorld = ron::from_str(&robot)
            .map_err(|e| anyhow::anyhow!("not a snapshot of a '{}' env: {e}", self.name))?;
        if !same_dynamics(robot.scene(), &self.scene) {
            anyhow::bail!(
                "the snapshot holds another robot than '{}': {}",
                self.name,
                scene_difference(robot.scene(), &self.scene)
            );
        }
        if robot.num_copies() != self.num_copies() || episodes.len() != self.num_copies() {
            anyhow::bail!(
                "the snapshot holds {} copies of '{}', this run has {}",
                robot.num_copies(),
                self.name,
                self.num_copies()
            );
        }
        (self.robot, self.episodes) = (robot, episodes);
        Ok(())
    }
}

/// One copy is a plain env; more are stepped through [`super::VecEnv`].
impl Env for Locomotion {
    fn name(&self) -> &str {
        &self.name
    }
    fn observation_space(&self) -> &BoxSpace {
        &self.obs_space
    }
    fn action_space(&self) -> &BoxSpace {
        &self.act_space
    }
    fn max_episode_steps(&self) -> usize {
        self.scene.task.episode_steps as usize
    }
    /// Gymnasium's layout: positions without the root's x (and y, for a free root), then
    /// velocities, the root's first, then each hinge's in scene order.
    fn observation_names(&self) -> Vec<String> {
        let (root_q, root_qd): (&[&str], &[&str]) = match self.scene.root {
            RootJoint::Planar => (
                &["rootz", "rooty"],
                &["rootx_vel", "rootz_vel", "rooty_vel"],
            ),
            RootJoint::Free => (
                &["root_z", "root_qw", "root_qx", "root_qy", "root_qz"],
                &[
                    "root_vx", "root_vy", "root_vz", "root_wx", "root_wy", "root_wz",
                ],
            ),
        };
        let joints = || self.scene.joints.iter().map(|j| j.name.clone());
        root_q
            .iter()
            .map(|s| (*s).to_owned())
            .chain(joints())
            .chain(root_qd.iter().map(|s| (*s).to_owned()))
            .chain(joints().map(|j| format!("{j}_vel")))
            .collect()
    }
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        self.reset_copy(0, seed)
    }
    fn step(&mut self, action: &[f32]) -> Step {
        assert_eq!(self.num_copies(), 1, "a fleet steps through VecEnv");
        self.step_copies(action).remove(0)
    }
    fn snapshot(&self) -> serde_json::Value {
        Locomotion::snapshot(self)
    }
    fn restore(&mut self, snapshot: &serde_json::Value) -> Result<()> {
        Locomotion::restore(self, snapshot)
    }
}

/// Whether a snapshot's scene trains the same task as `now`: equal but for what only the app
/// reads (`lane_width`), and for a humanoid saved before `forward_from` was scene data (its
/// reward followed the centre of mass by name then; the field reads as `Root` in it).
fn same_dynamics(saved: &SceneSpec, now: &SceneSpec) -> bool {
    let mut saved = saved.clone();
    saved.lane_width = now.lane_width;
    if saved.name == "humanoid"
        && saved.task.forward_from == ForwardFrom::Root
        && now.task.forward_from == ForwardFrom::CenterOfMass
    {
        saved.task.forward_from = ForwardFrom::CenterOfMass;
    }
    saved == *now
}

/// What differs between the scene of a snapshot and this env's, for an error message: the
/// task settings by name, or the part of the robot.
fn scene_difference(saved: &SceneSpec, now: &SceneSpec) -> String {
    if saved.task != now.task {
        let (a, b) = (
            serde_json::to_value(&saved.task).unwrap_or_default(),
            serde_json::to_value(&now.task).unwrap_or_default(),
        );
        let fields: Vec<String> = a
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| b.get(k.as_str()) != Some(*v))
            .map(|(k, v)| format!("{k} {v} in the checkpoint, {} now", b[k.as_str()]))
            .collect();
        return format!("its task differs ({})", fields.join("; "));
    }
    let part = if saved.bodies != now.bodies {
        "bodies"
    } else if saved.joints != now.joints {
        "joints"
    } else if saved.actuators != now.actuators {
        "actuators"
    } else if saved.name != now.name {
        "names"
    } else {
        "root joints"
    };
    format!("its {part} differ (the scene changed since the checkpoint was written)")
}
