//! The 1-D identity task: observe s ~ U(−1, 1), act a ∈ [−1, 1], reward 1 when |a − s| < 0.5.
//! Every step draws a fresh s; episodes last 100 steps. A policy that learned a ≈ s scores 100;
//! a uniformly random one about 44. Stable-Baselines3 proves its algorithms on the same idea.

use super::{BoxSpace, Env, Step, from_snapshot, to_snapshot};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Steps per episode.
pub const EPISODE_STEPS: usize = 100;
/// An action within this of the observation earns a reward.
pub const TOLERANCE: f32 = 0.5;

/// A sanity task: the reward is for repeating the observation as the action.
pub struct Identity {
    state: IdentityState,
    space: BoxSpace,
}

/// What a snapshot holds.
#[derive(Clone, Serialize, Deserialize)]
struct IdentityState {
    s: f32,
    steps: usize,
    rng: ChaCha8Rng,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            state: IdentityState {
                s: 0.0,
                steps: 0,
                rng: ChaCha8Rng::seed_from_u64(0),
            },
            space: BoxSpace::uniform(1, -1.0, 1.0),
        }
    }
}

impl Env for Identity {
    fn name(&self) -> &str {
        "identity"
    }
    fn observation_space(&self) -> &BoxSpace {
        &self.space
    }
    fn action_space(&self) -> &BoxSpace {
        &self.space
    }
    fn max_episode_steps(&self) -> usize {
        EPISODE_STEPS
    }
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32> {
        if let Some(seed) = seed {
            self.state.rng = ChaCha8Rng::seed_from_u64(seed);
        }
        self.state.steps = 0;
        self.state.s = self.state.rng.random_range(-1.0..1.0);
        vec![self.state.s]
    }
    fn snapshot(&self) -> serde_json::Value {
        to_snapshot(&self.state)
    }
    fn restore(&mut self, snapshot: &serde_json::Value) -> anyhow::Result<()> {
        self.state = from_snapshot(self.name(), snapshot)?;
        Ok(())
    }
    fn step(&mut self, action: &[f32]) -> Step {
        let a = action[0].clamp(-1.0, 1.0);
        let hit = if (a - self.state.s).abs() < TOLERANCE {
            1.0
        } else {
            0.0
        };
        self.state.steps += 1;
        self.state.s = self.state.rng.random_range(-1.0..1.0);
        Step {
            obs: vec![self.state.s],
            reward: hit,
            terminated: false,
            truncated: self.state.steps >= EPISODE_STEPS,
            terms: vec![("hit", hit)],
        }
    }
}
