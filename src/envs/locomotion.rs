//! The locomotion tasks of `scenes/` (Gymnasium v5 semantics) on [`crate::sim::RobotWorld`].
//!
//! - Reward = forward_reward_weight · x-velocity − ctrl_cost_weight · Σa² + healthy_reward
//!   (while healthy, or always when unhealthy episodes do not end) − contact_cost_weight ·
//!   Σ clip(contact force, ±1)² (ant, humanoid; normal contact forces per body), as terms
//!   `forward`, `ctrl`, `healthy`, `contact`. x-velocity = Δx / dt of the root (free robots: the humanoid's centre of mass,
//!   the ant's torso), dt = timestep × frame_skip.
//! - Observation: root coordinates without x (and y), hinge angles, then all velocities;
//!   velocities clipped where v5 clips them.
//! - Terminated when unhealthy (and the task says so); truncated after `episode_steps`.
//! - Reset: the reset pose plus uniform noise ± reset_noise_scale on every generalised
//!   coordinate and velocity.

use super::{BoxSpace, Env, Step};
use crate::scene::spec::{RootJoint, SceneSpec};
use crate::sim::RobotWorld;
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub struct Locomotion {
    name: String,
    scene: SceneSpec,
    robot: RobotWorld,
    rng: ChaCha8Rng,
    steps: u32,
    obs_space: BoxSpace,
    act_space: BoxSpace,
}

impl Locomotion {
    /// A shipped robot by name, or a scene file.
    pub fn new(name_or_path: &str) -> Result<Self> {
        let scene = crate::scene::load(name_or_path)?;
        let robot = RobotWorld::new(&scene)?;
        let n = scene.task.obs_dim;
        let (low, high): (Vec<f32>, Vec<f32>) =
            scene.actuators.iter().map(|a| a.ctrl_range).unzip();
        Ok(Self {
            name: name_or_path.to_owned(),
            obs_space: BoxSpace::uniform(n, f32::NEG_INFINITY, f32::INFINITY),
            act_space: BoxSpace::new(low, high),
            robot,
            scene,
            rng: ChaCha8Rng::seed_from_u64(0),
            steps: 0,
        })
    }

    pub fn robot(&self) -> &RobotWorld {
        &self.robot
    }

    /// The x the forward reward measures.
    fn progress_x(&self) -> f32 {
        match self.scene.root {
            RootJoint::Planar => self.robot.root_state().0[0],
            RootJoint::Free if self.scene.name == "humanoid" => self.robot.center_of_mass().x,
            RootJoint::Free => self.robot.root_position().x,
        }
    }

    /// (observation, generalised positions, velocities).
    fn observe(&self) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (mut q, mut qd) = self.robot.root_state();
        let (hq, hqd) = self.robot.hinge_state();
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
}

impl Env for Locomotion {
    fn name(&self) -> &str {
        &self.name
    }
    fn robot(&self) -> Option<&RobotWorld> {
        Some(&self.robot)
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
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        if let Some(seed) = seed {
            self.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        self.robot = RobotWorld::new(&self.scene).expect("the scene built once already");
        let c = self.scene.task.reset_noise_scale;
        let n = self.scene.joints.len()
            + if self.scene.root == RootJoint::Planar {
                3
            } else {
                6
            };
        let mut noise = |k: usize| {
            (0..k)
                .map(|_| {
                    if c > 0.0 {
                        self.rng.random_range(-c..=c)
                    } else {
                        0.0
                    }
                })
                .collect::<Vec<f32>>()
        };
        let (dq, dv) = (noise(n), noise(n));
        self.robot.perturb(&dq, &dv);
        self.steps = 0;
        self.observe().0
    }
    fn step(&mut self, action: &[f32]) -> Step {
        let t = &self.scene.task;
        let dt = t.timestep * t.frame_skip as f32;
        let x_before = self.progress_x();
        self.robot.set_actions(action);
        for _ in 0..t.frame_skip {
            self.robot.step();
        }
        let x_velocity = (self.progress_x() - x_before) / dt;
        let (obs, q, qd) = self.observe();
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
                .contact_forces()
                .iter()
                .map(|f| {
                    f.to_array()
                        .iter()
                        .map(|c| c.clamp(-1.0, 1.0).powi(2))
                        .sum::<f32>()
                })
                .sum();
            terms.push(("contact", -t.contact_cost_weight * squared));
        }
        self.steps += 1;
        Step {
            obs,
            reward: terms.iter().map(|t| t.1).sum(),
            terminated: t.terminate_when_unhealthy && !healthy,
            truncated: self.steps >= t.episode_steps,
            terms,
        }
    }
    fn snapshot(&self) -> serde_json::Value {
        // The physics state goes through RON, which keeps infinite joint limits and health
        // bounds (JSON would turn them into null).
        let robot = ron::to_string(&self.robot).expect("a physics world always serialises");
        super::to_snapshot(&(robot, &self.rng, self.steps))
    }
    fn restore(&mut self, snapshot: &serde_json::Value) -> Result<()> {
        let (robot, rng, steps): (String, ChaCha8Rng, u32) =
            super::from_snapshot(&self.name, snapshot)?;
        let robot: RobotWorld = ron::from_str(&robot)
            .map_err(|e| anyhow::anyhow!("not a snapshot of a '{}' env: {e}", self.name))?;
        if robot.scene() != &self.scene {
            anyhow::bail!("the snapshot holds another robot than '{}'", self.name);
        }
        (self.robot, self.rng, self.steps) = (robot, rng, steps);
        Ok(())
    }
}
