//! Environments: the [`Env`] API, its vectorised form [`VecEnv`], and the built-in tasks.
//!
//! - [`pendulum::Pendulum`]: Gymnasium Pendulum-v1, exactly.
//! - [`identity::Identity`]: a 1-D sanity task (reward 1 when |a − s| < 0.5), used to prove that
//!   every algorithm learns at all.
//! - [`counterexample`]: the tabular MDP of VIREL's argument against maximum-entropy RL.
//! - [`random_policy`]: what uniform random actions do on a robot, the baseline to beat.

pub mod counterexample;
pub mod identity;
pub mod locomotion;
pub mod pendulum;
pub mod random_policy;

use crate::scene;
use crate::sim;
use anyhow::{Result, bail};

/// A box of `low[i] ≤ x[i] ≤ high[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxSpace {
    /// Lowest value, per dimension.
    pub low: Vec<f32>,
    /// Highest value, per dimension.
    pub high: Vec<f32>,
}

impl BoxSpace {
    /// A box from its bounds (of equal length).
    pub fn new(low: Vec<f32>, high: Vec<f32>) -> Self {
        assert_eq!(low.len(), high.len(), "bounds of different lengths");
        Self { low, high }
    }
    /// `dim` dimensions, each in [low, high].
    pub fn uniform(dim: usize, low: f32, high: f32) -> Self {
        Self::new(vec![low; dim], vec![high; dim])
    }
    /// Dimensions.
    pub fn dim(&self) -> usize {
        self.low.len()
    }
    /// `copies` points drawn uniformly from the box, one after the other: `[copies × dim]`.
    pub fn sample_uniform(&self, rng: &mut impl rand::Rng, copies: usize) -> Vec<f32> {
        (0..copies)
            .flat_map(|_| self.low.iter().zip(&self.high))
            .map(|(&l, &h)| rng.random_range(l..=h))
            .collect()
    }
}

/// One named reward term; an env's reward is the sum of its terms.
pub type RewardTerm = (&'static str, f32);

/// What [`Env::step`] hands back.
#[derive(Clone, Debug)]
pub struct Step {
    /// The observation after the step.
    pub obs: Vec<f32>,
    /// The sum of the terms.
    pub reward: f32,
    /// The task ended (the robot fell, the goal was reached): no bootstrapping past this step.
    pub terminated: bool,
    /// The episode was cut by the time limit: the value of `obs` still counts.
    pub truncated: bool,
    /// Named terms that add up to `reward`.
    pub terms: Vec<RewardTerm>,
}

/// A single environment with Gymnasium semantics.
pub trait Env: Send {
    /// Registry name, e.g. "pendulum".
    fn name(&self) -> &str;
    /// Bounds of the observations.
    fn observation_space(&self) -> &BoxSpace;
    /// Bounds of the actions.
    fn action_space(&self) -> &BoxSpace;
    /// Steps after which an episode is truncated.
    fn max_episode_steps(&self) -> usize;
    /// What each observation component is, in order (exported policies carry it).
    fn observation_names(&self) -> Vec<String> {
        (0..self.observation_space().dim())
            .map(|i| format!("obs{i}"))
            .collect()
    }
    /// Starts a new episode. `Some(seed)` re-seeds the env's random generator first.
    fn reset(&mut self, seed: Option<u64>) -> Vec<f32>;
    /// Advances one control step. Actions outside the bounds are clipped by the env.
    fn step(&mut self, action: &[f32]) -> Step;
    /// Everything the env's future depends on (state, episode clock, random generator),
    /// so that a resumed run goes on exactly where it stopped.
    fn snapshot(&self) -> serde_json::Value;
    /// Restores a [`Env::snapshot`].
    fn restore(&mut self, snapshot: &serde_json::Value) -> Result<()>;
}

/// Serialises an env's snapshot struct.
pub fn to_snapshot<T: serde::Serialize>(state: &T) -> serde_json::Value {
    serde_json::to_value(state).expect("env snapshots always serialise")
}

/// Reads an env's snapshot struct back, naming the env on error.
pub fn from_snapshot<T: serde::de::DeserializeOwned>(
    env: &str,
    snapshot: &serde_json::Value,
) -> Result<T> {
    serde_json::from_value(snapshot.clone())
        .map_err(|e| anyhow::anyhow!("not a snapshot of a '{env}' env: {e}"))
}

/// Names accepted by [`make`].
pub const ENV_NAMES: &[&str] = &[
    "pendulum",
    "identity",
    "half_cheetah",
    "hopper",
    "walker2d",
    "ant",
    "humanoid",
];

/// Control steps [`check_steps`] takes.
const CHECK_STEPS: usize = 20;

/// Resets `env` and steps it with zero actions, then with actions at the bounds of its
/// range: an error names the first non-finite observation or reward (physics that blows up
/// at once: masses, gears or a timestep out of proportion). What `virel-lab scene` runs on
/// top of parsing, since training relies on it.
pub fn check_steps(env: &mut dyn Env) -> Result<()> {
    let space = env.action_space().clone();
    let zero = vec![0.0; space.dim()];
    for (what, action) in [("zero", &zero), ("the highest", &space.high)] {
        let obs = env.reset(Some(0));
        if let Some(i) = obs.iter().position(|x| !x.is_finite()) {
            bail!("the reset observation has a non-finite component {i}");
        }
        for step in 1..=CHECK_STEPS {
            let s = env.step(action);
            if let Some(i) = s.obs.iter().position(|x| !x.is_finite()) {
                bail!(
                    "after {step} control steps at {what} action, observation component {i} is \
                     {}: the physics blows up (check masses, gears, stiffness and the timestep)",
                    s.obs[i]
                );
            }
            if !s.reward.is_finite() {
                bail!(
                    "after {step} control steps at {what} action, the reward is {}",
                    s.reward
                );
            }
            if s.terminated || s.truncated {
                break;
            }
        }
    }
    Ok(())
}

/// An env resolved once from its name, where a program meets its user (the command line, the
/// app, a sweep, a bench): a robot's scene parsed once, the spaces, and the scene's
/// fingerprint. Everything below builds its copies from it and never parses a name again.
#[derive(Clone, Debug)]
pub struct ResolvedEnv {
    name: String,
    scene: Option<std::sync::Arc<scene::spec::SceneSpec>>,
    observation_space: BoxSpace,
    action_space: BoxSpace,
    fingerprint: Option<String>,
}

impl ResolvedEnv {
    /// Resolves a name: a shipped robot, a scene or MJCF file, or an env defined in code.
    pub fn resolve(name: &str) -> Result<Self> {
        let (scene, fingerprint) = if is_scene(name) {
            let scene = scene::load(name)?;
            let fingerprint = scene::fingerprint(&scene)?;
            (Some(std::sync::Arc::new(scene)), Some(fingerprint))
        } else {
            (None, None)
        };
        let mut r = Self {
            name: name.to_owned(),
            scene,
            observation_space: BoxSpace::uniform(0, 0.0, 0.0),
            action_space: BoxSpace::uniform(0, 0.0, 0.0),
            fingerprint,
        };
        let one = r.make()?;
        r.observation_space = one.observation_space().clone();
        r.action_space = one.action_space().clone();
        Ok(r)
    }

    /// The name it was resolved from (what configs and checkpoints record).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The robot's scene; `None` for an env defined in code.
    pub fn scene(&self) -> Option<&scene::spec::SceneSpec> {
        self.scene.as_deref()
    }

    /// The [`scene::fingerprint`] of its scene; `None` for an env defined in code.
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// Bounds of the observations.
    pub fn observation_space(&self) -> &BoxSpace {
        &self.observation_space
    }

    /// Bounds of the actions.
    pub fn action_space(&self) -> &BoxSpace {
        &self.action_space
    }

    /// A fresh copy of the env.
    pub fn make(&self) -> Result<Box<dyn Env>> {
        Ok(match (&self.scene, self.name.as_str()) {
            (Some(scene), _) => Box::new(locomotion::Locomotion::from_scene(
                &self.name,
                scene::spec::SceneSpec::clone(scene),
                1,
            )?),
            (None, "pendulum") => Box::new(pendulum::Pendulum::default()),
            (None, "identity") => Box::new(identity::Identity::default()),
            (None, other) => bail!("{}", unknown_env(other)),
        })
    }

    /// `n` copies stepped together: robots in one physics world, other envs apart.
    pub fn make_vec(&self, n: usize) -> Result<VecEnv> {
        let n = n.max(1);
        if let Some(scene) = &self.scene {
            let fleet = locomotion::Locomotion::from_scene(
                &self.name,
                scene::spec::SceneSpec::clone(scene),
                n,
            )?;
            let (obs_dim, act_dim) = (fleet.observation_space().dim(), fleet.action_space().dim());
            return Ok(VecEnv::of(
                Copies::Shared(Box::new(fleet)),
                obs_dim,
                act_dim,
            ));
        }
        VecEnv::new((0..n).map(|_| self.make()).collect::<Result<_>>()?)
    }
}

/// Builds an env by name: [`ResolvedEnv::resolve`] and one copy. For the boundaries that
/// need one env once (a scene check, a bench); a run resolves its env once and makes its
/// copies from that.
pub fn make(name: &str) -> Result<Box<dyn Env>> {
    ResolvedEnv::resolve(name)?.make()
}

/// Gymnasium's ids of the envs [`canonical_name`] maps to ours (any `-vN` is taken).
pub const GYMNASIUM_IDS: &[(&str, &str)] = &[
    ("Pendulum-v1", "pendulum"),
    ("HalfCheetah-v5", "half_cheetah"),
    ("Hopper-v5", "hopper"),
    ("Walker2d-v5", "walker2d"),
    ("Ant-v5", "ant"),
    ("Humanoid-v5", "humanoid"),
];

/// The error for a name that selects no env: every name, the Gymnasium ids, and files.
pub fn unknown_env(name: &str) -> String {
    format!(
        "unknown env '{name}': expected one of {}, a Gymnasium id ({}), a scene file \
         (path/to/robot.ron) or a MuJoCo MJCF model (path/to/robot.xml)",
        ENV_NAMES.join(", "),
        GYMNASIUM_IDS
            .iter()
            .map(|g| g.0)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The env a name people type selects: ours (`half_cheetah`), any case and with `-` or `_`
/// or neither (`Half-Cheetah`, `halfcheetah`), or Gymnasium's id with any version
/// (`HalfCheetah-v5`, `Hopper-v4`). Also whether it was a Gymnasium id. `None` for a name
/// that selects nothing (a file path is not a name).
pub fn canonical_name(name: &str) -> Option<(&'static str, bool)> {
    let (base, versioned) = match name.rsplit_once("-v") {
        Some((b, v)) if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) => (b, true),
        _ => (name, false),
    };
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let key = squash(base);
    ENV_NAMES
        .iter()
        .find(|n| squash(n) == key)
        .map(|n| (*n, versioned))
}

/// What a Gymnasium id selects here, said once when a run starts: the same task, and for the
/// robots, another physics engine.
pub fn gymnasium_note(id: &str, env: &str) -> String {
    if env == "pendulum" {
        format!("{id}: Gymnasium's Pendulum-v1, exactly (env '{env}')")
    } else {
        format!(
            "{id}: virel-lab's '{env}': Gymnasium v5's morphology, gears, observations, rewards \
             and termination, simulated by rapier instead of MuJoCo, so contacts differ and \
             returns are not comparable with MuJoCo's"
        )
    }
}

/// Whether `name` can name an env, without loading it: an env defined in code, a shipped
/// robot, or a scene or MJCF file that exists. [`ResolvedEnv::resolve`] parses it.
pub fn check_name(name: &str) -> Result<()> {
    if ENV_NAMES.contains(&name) || scene::builtin(name).is_some() {
        return Ok(());
    }
    if !is_scene(name) {
        bail!("{}", unknown_env(name));
    }
    if !std::path::Path::new(name).is_file() {
        bail!("cannot read scene file {name}: no such file");
    }
    Ok(())
}

/// A robot: a shipped scene's name or a scene file.
fn is_scene(name: &str) -> bool {
    name.ends_with(".ron") || scene::mjcf::is_mjcf(name) || scene::builtin(name).is_some()
}

/// A finished episode.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeEnd {
    /// The copy whose episode ended.
    pub env_index: usize,
    /// Sum of its rewards.
    pub episode_return: f64,
    /// Its steps.
    pub length: usize,
    /// It ended by termination (not by the time limit).
    pub terminated: bool,
    /// Each reward term summed over the episode (`forward`, `ctrl`, … for locomotion). An
    /// episode that a checkpoint cut in two sums its terms from the resume on.
    pub term_sums: Vec<RewardTerm64>,
}

/// A reward term summed over steps.
pub type RewardTerm64 = (&'static str, f64);

impl EpisodeEnd {
    /// The episode's sum of the term `name`, if the env reports it.
    pub fn term_sum(&self, name: &str) -> Option<f64> {
        self.term_sums.iter().find(|t| t.0 == name).map(|t| t.1)
    }
}

/// Result of stepping every copy once. Rows are copies; row-major `[num_envs × dim]`.
#[derive(Clone, Debug, Default)]
pub struct VecStep {
    /// Observation to act on next: the first one of a new episode where an episode ended.
    pub obs: Vec<f32>,
    /// The observation the step really led to (before any auto-reset): what the replay buffer stores.
    pub next_obs: Vec<f32>,
    /// The reward of each copy.
    pub rewards: Vec<f32>,
    /// Each copy's episode terminated.
    pub terminated: Vec<bool>,
    /// Each copy's episode was cut by the time limit.
    pub truncated: Vec<bool>,
    /// Episodes that ended in this step.
    pub episodes: Vec<EpisodeEnd>,
}

/// How the copies of a [`VecEnv`] are held.
enum Copies {
    /// Independent envs, stepped one after the other.
    Separate(Vec<Box<dyn Env>>),
    /// Robots in one physics world, stepped together.
    Shared(Box<locomotion::Locomotion>),
}

/// N copies of an env stepped together, with auto-reset. Copy i is seeded with `seed + i`.
/// Locomotion robots share one physics world; other envs are separate objects.
pub struct VecEnv {
    copies: Copies,
    obs: Vec<f32>,
    returns: Vec<f64>,
    lengths: Vec<usize>,
    /// Each copy's reward terms summed over its running episode.
    term_sums: Vec<Vec<RewardTerm64>>,
    obs_dim: usize,
    act_dim: usize,
}

impl VecEnv {
    /// Independent envs, one per copy.
    pub fn new(envs: Vec<Box<dyn Env>>) -> Result<Self> {
        let Some(first) = envs.first() else {
            bail!("a vectorised env needs at least one copy")
        };
        let (obs_dim, act_dim) = (first.observation_space().dim(), first.action_space().dim());
        if envs
            .iter()
            .any(|e| e.observation_space().dim() != obs_dim || e.action_space().dim() != act_dim)
        {
            bail!("all copies of a vectorised env must have the same spaces");
        }
        Ok(Self::of(Copies::Separate(envs), obs_dim, act_dim))
    }

    fn of(copies: Copies, obs_dim: usize, act_dim: usize) -> Self {
        let n = match &copies {
            Copies::Separate(envs) => envs.len(),
            Copies::Shared(fleet) => fleet.num_copies(),
        };
        Self {
            copies,
            obs: vec![0.0; n * obs_dim],
            returns: vec![0.0; n],
            lengths: vec![0; n],
            term_sums: vec![Vec::new(); n],
            obs_dim,
            act_dim,
        }
    }

    /// Copies.
    pub fn num_envs(&self) -> usize {
        self.returns.len()
    }
    /// Observation size of one copy.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }
    /// Action size of one copy.
    pub fn act_dim(&self) -> usize {
        self.act_dim
    }
    /// Action bounds of one copy.
    pub fn action_space(&self) -> &BoxSpace {
        self.first().action_space()
    }
    /// Copy 0 (a robot fleet as a whole), which speaks for all of them: same spaces, same
    /// name.
    pub fn first(&self) -> &dyn Env {
        match &self.copies {
            Copies::Separate(envs) => envs[0].as_ref(),
            Copies::Shared(fleet) => fleet.as_ref(),
        }
    }
    /// Observation bounds of one copy.
    pub fn observation_space(&self) -> &BoxSpace {
        self.first().observation_space()
    }
    /// The env's registry name.
    pub fn name(&self) -> &str {
        self.first().name()
    }
    /// Return so far of each copy's running episode.
    pub fn episode_returns(&self) -> &[f64] {
        &self.returns
    }
    /// The physics world of every copy, for robot envs.
    pub fn robots(&self) -> Option<&sim::RobotWorld> {
        match &self.copies {
            Copies::Separate(_) => None,
            Copies::Shared(fleet) => Some(fleet.robots()),
        }
    }
    /// The physics world of every copy, to put a hand on a robot.
    pub fn robots_mut(&mut self) -> Option<&mut sim::RobotWorld> {
        match &mut self.copies {
            Copies::Separate(_) => None,
            Copies::Shared(fleet) => Some(fleet.robots_mut()),
        }
    }
    /// Current observations, `[num_envs × obs_dim]`.
    pub fn obs(&self) -> &[f32] {
        &self.obs
    }

    fn reset_copy(&mut self, i: usize, seed: Option<u64>) -> Vec<f32> {
        match &mut self.copies {
            Copies::Separate(envs) => envs[i].reset(seed),
            Copies::Shared(fleet) => fleet.reset_copy(i, seed),
        }
    }

    /// Resets every copy; copy i gets seed `seed + i`.
    pub fn reset(&mut self, seed: u64) -> &[f32] {
        for i in 0..self.num_envs() {
            let o = self.reset_copy(i, Some(seed.wrapping_add(i as u64)));
            self.obs[i * self.obs_dim..(i + 1) * self.obs_dim].copy_from_slice(&o);
        }
        self.returns.fill(0.0);
        self.lengths.fill(0);
        self.term_sums.iter_mut().for_each(Vec::clear);
        &self.obs
    }

    /// Snapshot of every copy and of the running episode statistics.
    pub fn snapshot(&self) -> serde_json::Value {
        let envs: Vec<serde_json::Value> = match &self.copies {
            Copies::Separate(envs) => envs.iter().map(|e| e.snapshot()).collect(),
            Copies::Shared(fleet) => vec![fleet.snapshot()],
        };
        serde_json::json!({
            "envs": envs,
            "obs": self.obs,
            "returns": self.returns,
            "lengths": self.lengths,
        })
    }

    /// Restores a [`VecEnv::snapshot`] taken from as many copies of the same env.
    pub fn restore(&mut self, snapshot: &serde_json::Value) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Snap {
            envs: Vec<serde_json::Value>,
            obs: Vec<f32>,
            returns: Vec<f64>,
            lengths: Vec<usize>,
        }
        let s: Snap = from_snapshot(self.name(), snapshot)?;
        let n = self.num_envs();
        if s.obs.len() != self.obs.len() || s.returns.len() != n || s.lengths.len() != n {
            bail!(
                "the snapshot holds {} copies of the env, this run has {n}",
                s.returns.len()
            );
        }
        match &mut self.copies {
            Copies::Separate(envs) => {
                if s.envs.len() != n {
                    bail!(
                        "the snapshot holds {} copies of the env, this run has {n}",
                        s.envs.len()
                    );
                }
                for (env, snap) in envs.iter_mut().zip(&s.envs) {
                    env.restore(snap)?;
                }
            }
            Copies::Shared(fleet) => {
                let [snap] = s.envs.as_slice() else {
                    bail!(
                        "not a snapshot of robots in one world: {} parts",
                        s.envs.len()
                    );
                };
                fleet.restore(snap)?;
            }
        }
        (self.obs, self.returns, self.lengths) = (s.obs, s.returns, s.lengths);
        self.term_sums.iter_mut().for_each(Vec::clear);
        Ok(())
    }

    /// Steps copy i with `actions[i·act_dim..]`; ended episodes restart at once.
    pub fn step(&mut self, actions: &[f32]) -> VecStep {
        let n = self.num_envs();
        assert_eq!(
            actions.len(),
            n * self.act_dim,
            "actions must be [num_envs × act_dim]"
        );
        let dim = self.act_dim;
        let steps: Vec<Step> = match &mut self.copies {
            Copies::Separate(envs) => envs
                .iter_mut()
                .enumerate()
                .map(|(i, env)| env.step(&actions[i * dim..(i + 1) * dim]))
                .collect(),
            Copies::Shared(fleet) => fleet.step_copies(actions),
        };
        let mut out = VecStep {
            obs: Vec::with_capacity(n * self.obs_dim),
            next_obs: Vec::with_capacity(n * self.obs_dim),
            rewards: Vec::with_capacity(n),
            terminated: Vec::with_capacity(n),
            truncated: Vec::with_capacity(n),
            episodes: Vec::new(),
        };
        for (i, s) in steps.into_iter().enumerate() {
            self.returns[i] += f64::from(s.reward);
            self.lengths[i] += 1;
            let sums = &mut self.term_sums[i];
            for &(name, v) in &s.terms {
                match sums.iter_mut().find(|t| t.0 == name) {
                    Some(t) => t.1 += f64::from(v),
                    None => sums.push((name, f64::from(v))),
                }
            }
            out.next_obs.extend_from_slice(&s.obs);
            if s.terminated || s.truncated {
                out.episodes.push(EpisodeEnd {
                    env_index: i,
                    episode_return: self.returns[i],
                    length: self.lengths[i],
                    terminated: s.terminated,
                    term_sums: std::mem::take(&mut self.term_sums[i]),
                });
                self.returns[i] = 0.0;
                self.lengths[i] = 0;
                let first = self.reset_copy(i, None);
                out.obs.extend_from_slice(&first);
            } else {
                out.obs.extend_from_slice(&s.obs);
            }
            out.rewards.push(s.reward);
            out.terminated.push(s.terminated);
            out.truncated.push(s.truncated);
        }
        self.obs.copy_from_slice(&out.obs);
        out
    }
}
