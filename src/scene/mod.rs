//! Robots and tasks as data: the RON format of `scenes/` ([`spec`]), parsed and validated
//! with errors that name the file, line and column. The five Gymnasium robots ship inside
//! the binary ([`BUILTIN`]); `--env path/to/robot.ron` loads a user's own.

pub mod mjcf;
pub mod spec;

use anyhow::{Result, bail};
use spec::{RootJoint, SceneSpec, Shape};
use std::collections::HashMap;
use std::path::Path;

/// The shipped scenes, by env name.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "half_cheetah",
        include_str!("../../scenes/half_cheetah.ron"),
    ),
    ("hopper", include_str!("../../scenes/hopper.ron")),
    ("walker2d", include_str!("../../scenes/walker2d.ron")),
    ("ant", include_str!("../../scenes/ant.ron")),
    ("humanoid", include_str!("../../scenes/humanoid.ron")),
];

/// The shipped robots' names, in the order the app and the benchmarks list them.
pub fn robots() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|b| b.0)
}

/// The longest physics step a scene may take, s (the shipped scenes take 0.002–0.05 s).
pub const MAX_TIMESTEP: f32 = 0.1;
/// The most physics steps per control step.
pub const MAX_FRAME_SKIP: u32 = 1000;
/// The largest reset noise, on joint positions (rad or m) and velocities.
pub const MAX_RESET_NOISE: f32 = 1.0;

/// The largest coordinate or size of a geom or joint anchor, m.
pub const MAX_EXTENT: f32 = 1000.0;

/// The largest bound of an actuator's control range.
pub const MAX_CTRL: f32 = 1e6;

/// A scene that failed to load: where, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{origin}:{line}:{col}: {message}")]
pub struct SceneError {
    /// The file (or built-in scene) it came from.
    pub origin: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

/// The text of the shipped scene `name`, if there is one.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|b| b.0 == name).map(|b| b.1)
}

/// What a run records of its robot and task, to notice later that they changed: the CRC-32 of
/// the scene as parsed (its canonical RON), in hex. Comments, layout and renamed old keys leave
/// it alone; a changed value (a physics step, a mass, a reward weight) changes it.
pub fn fingerprint(scene: &SceneSpec) -> Result<String> {
    Ok(format!(
        "{:08x}",
        crc32fast::hash(mjcf::to_ron(scene)?.as_bytes())
    ))
}

/// A shipped scene by name, or a scene file by path.
pub fn load(name_or_path: &str) -> Result<SceneSpec> {
    if let Some(text) = builtin(name_or_path) {
        return Ok(parse(text, &format!("scenes/{name_or_path}.ron"))?);
    }
    let path = Path::new(name_or_path);
    if mjcf::is_mjcf(name_or_path) {
        return Ok(mjcf::load(path)?.scene);
    }
    if path.extension().is_some_and(|e| e == "ron") || path.exists() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read scene file {}: {e}", path.display()))?;
        return Ok(parse(&text, &path.display().to_string())?);
    }
    bail!(
        "unknown scene '{name_or_path}': expected a .ron or MJCF .xml file or one of {}",
        BUILTIN.iter().map(|b| b.0).collect::<Vec<_>>().join(", ")
    )
}

/// Parses and validates scene text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<SceneSpec, SceneError> {
    let spec: SceneSpec = ron::Options::default()
        .from_str(text)
        .map_err(|e| SceneError {
            origin: origin.to_owned(),
            line: e.position.line,
            col: e.position.col,
            message: e.code.to_string(),
        })?;
    validate(&spec).map_err(|Problem { at, nth, message }| {
        let (line, col) = locate(text, &at, nth);
        SceneError {
            origin: origin.to_owned(),
            line,
            col,
            message,
        }
    })?;
    Ok(spec)
}

/// A validation failure: the message, and the `nth` (0-based) occurrence of `at` in the
/// text to point at. `at` may hold alternatives separated by `|`, tried in order.
struct Problem {
    at: String,
    nth: usize,
    message: String,
}

fn problem(at: impl Into<String>, message: String) -> Problem {
    Problem {
        at: at.into(),
        nth: 0,
        message,
    }
}

/// 1-based line and column of the `nth` occurrence of the first alternative of `needles`
/// found in `text` (1:1 when none is).
fn locate(text: &str, needles: &str, nth: usize) -> (usize, usize) {
    let found = needles
        .split('|')
        .filter(|n| !n.is_empty())
        .find_map(|n| text.match_indices(n).nth(nth).map(|m| m.0));
    let Some(at) = found else { return (1, 1) };
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(at, |nl| at - nl - 1) + 1;
    (line, col)
}

/// Observation size of a robot with this root and number of hinges: positions without the
/// root's x (and y), then all velocities (Gymnasium v5 without contact forces).
pub fn obs_dim(root: RootJoint, hinges: usize) -> usize {
    match root {
        RootJoint::Planar => (2 + hinges) + (3 + hinges),
        RootJoint::Free => (5 + hinges) + (6 + hinges),
    }
}

/// lo < hi, false when either is NaN.
fn ascending(lo: f32, hi: f32) -> bool {
    lo.partial_cmp(&hi) == Some(std::cmp::Ordering::Less)
}

/// Each coordinate finite and within ±[`MAX_EXTENT`].
fn finite3(v: (f32, f32, f32)) -> bool {
    [v.0, v.1, v.2]
        .iter()
        .all(|c| c.is_finite() && c.abs() <= MAX_EXTENT)
}

/// A length in (0, [`MAX_EXTENT`]].
fn size(v: f32) -> bool {
    v > 0.0 && v <= MAX_EXTENT
}

/// The first problem, with the text to point at.
fn validate(s: &SceneSpec) -> Result<(), Problem> {
    let quoted = |name: &str| format!("\"{name}\"");
    let body_at = |name: &str| format!("Body(name: \"{name}\"|name: \"{name}\"|\"{name}\"");
    let joint_at = |name: &str| format!("Joint(name: \"{name}\"|\"{name}\"");
    let mut bodies: HashMap<&str, usize> = HashMap::new();
    for (i, b) in s.bodies.iter().enumerate() {
        let at = body_at(&b.name);
        if bodies.insert(b.name.as_str(), i).is_some() {
            return Err(Problem {
                at,
                nth: 1,
                message: format!("two bodies are named '{}'", b.name),
            });
        }
        match (&b.parent, i) {
            (None, 0) => {}
            (None, _) => {
                return Err(problem(
                    at,
                    format!(
                        "body '{}' has no parent: only the first body (the root) may have none",
                        b.name
                    ),
                ));
            }
            (Some(_), 0) => {
                return Err(problem(
                    at,
                    format!(
                        "the first body '{}' is the root and must have `parent: None`",
                        b.name
                    ),
                ));
            }
            (Some(p), _) if !bodies.contains_key(p.as_str()) || p == &b.name => {
                let known = if s.bodies.iter().any(|o| &o.name == p) {
                    " (parents must come before their children)"
                } else {
                    ""
                };
                return Err(problem(
                    format!("Some({})", quoted(p)),
                    format!("body '{}' has unknown parent '{p}'{known}", b.name),
                ));
            }
            _ => {}
        }
        if !(b.mass.is_finite() && b.mass > 0.0) {
            return Err(problem(
                at,
                format!("body '{}' has mass {}: it must be positive", b.name, b.mass),
            ));
        }
        if b.geoms.is_empty() {
            return Err(problem(at, format!("body '{}' has no geoms", b.name)));
        }
        for g in &b.geoms {
            let ok = match g.shape {
                Shape::Capsule { from, to, radius } => finite3(from) && finite3(to) && size(radius),
                Shape::Sphere { center, radius } => finite3(center) && size(radius),
                Shape::Box {
                    center,
                    half_extents: h,
                    rotation: (w, x, y, z),
                } => {
                    finite3(center)
                        && size(h.0)
                        && size(h.1)
                        && size(h.2)
                        && ((w * w + x * x + y * y + z * z).sqrt() - 1.0).abs() < 1e-3
                }
            };
            if !ok {
                return Err(problem(
                    at,
                    format!(
                        "body '{}' has a geom with a size or position that is not positive, finite and within {MAX_EXTENT} m, or a non-unit rotation",
                        b.name
                    ),
                ));
            }
            if !(g.friction.is_finite() && g.friction >= 0.0) {
                return Err(problem(
                    at,
                    format!("body '{}' has a geom with friction {}", b.name, g.friction),
                ));
            }
        }
    }
    if s.bodies.is_empty() {
        return Err(problem("bodies", "a scene needs at least one body".into()));
    }
    if !(s.lane_width.is_finite() && s.lane_width > 0.0 && s.lane_width <= MAX_EXTENT) {
        return Err(problem(
            "lane_width",
            format!(
                "lane_width {}: expected metres > 0 and ≤ {MAX_EXTENT}",
                s.lane_width
            ),
        ));
    }
    let mut joints: HashMap<&str, usize> = HashMap::new();
    for j in &s.joints {
        let at = joint_at(&j.name);
        if joints.insert(j.name.as_str(), 0).is_some() {
            return Err(Problem {
                at,
                nth: 1,
                message: format!("two joints are named '{}'", j.name),
            });
        }
        match bodies.get(j.body.as_str()) {
            None => {
                return Err(problem(
                    format!("body: {}", quoted(&j.body)),
                    format!("joint '{}' moves unknown body '{}'", j.name, j.body),
                ));
            }
            Some(0) => {
                return Err(problem(
                    at,
                    format!(
                        "joint '{}' moves the root, whose freedom is set by `root`",
                        j.name
                    ),
                ));
            }
            _ => {}
        }
        let (ax, ay, az) = j.axis;
        let norm = (ax * ax + ay * ay + az * az).sqrt();
        if !(finite3(j.anchor) && norm.is_finite() && norm > 1e-6) {
            return Err(problem(
                at,
                format!(
                    "joint '{}' needs an anchor within {MAX_EXTENT} m and a finite, non-zero axis",
                    j.name
                ),
            ));
        }
        if let Some((lo, hi)) = j.range
            && !ascending(lo, hi)
        {
            return Err(problem(
                at,
                format!(
                    "joint '{}' has range ({lo}, {hi}): the lower limit must be below the upper",
                    j.name
                ),
            ));
        }
        if [j.damping, j.stiffness, j.armature]
            .iter()
            .any(|v| !(v.is_finite() && *v >= 0.0))
        {
            return Err(problem(
                at,
                format!(
                    "joint '{}' has a negative or non-finite damping, stiffness or armature",
                    j.name
                ),
            ));
        }
    }
    for a in &s.actuators {
        let at = format!("joint: {}", quoted(&a.joint));
        if !joints.contains_key(a.joint.as_str()) {
            return Err(problem(
                at,
                format!("actuator drives unknown joint '{}'", a.joint),
            ));
        }
        let (lo, hi) = a.ctrl_range;
        let bounded = lo.abs() <= MAX_CTRL && hi.abs() <= MAX_CTRL;
        if !(a.gear.is_finite() && a.gear != 0.0 && ascending(lo, hi) && bounded) {
            return Err(problem(
                at,
                format!(
                    "actuator of '{}' needs a finite, non-zero gear and a ctrl_range with low < high, both within ±{MAX_CTRL}",
                    a.joint
                ),
            ));
        }
    }
    if let Some(z) = s.planar_z_ref
        && !(z.is_finite() && z.abs() <= MAX_EXTENT)
    {
        return Err(problem(
            "planar_z_ref",
            format!("planar_z_ref must be finite and within {MAX_EXTENT} m, not {z}"),
        ));
    }
    if s.actuators.is_empty() {
        return Err(problem(
            "actuators",
            "a robot needs at least one actuator: without one the policy has nothing to act on"
                .into(),
        ));
    }
    let t = &s.task;
    if t.action_dim != s.actuators.len() {
        return Err(problem(
            "action_dim",
            format!(
                "action dim mismatch: the task declares {}, the scene has {} actuators",
                t.action_dim,
                s.actuators.len()
            ),
        ));
    }
    let obs = obs_dim(s.root, s.joints.len());
    if t.obs_dim != obs {
        return Err(problem(
            "obs_dim",
            format!(
                "obs dim mismatch: the task declares {}, a {:?} robot with {} hinges observes {obs}",
                t.obs_dim,
                s.root,
                s.joints.len()
            ),
        ));
    }
    let timing = t.timestep.is_finite()
        && t.timestep > 0.0
        && t.timestep <= MAX_TIMESTEP
        && (1..=MAX_FRAME_SKIP).contains(&t.frame_skip)
        && t.episode_steps > 0;
    if !timing {
        return Err(problem(
            "timestep",
            format!(
                "timestep must be in (0, {MAX_TIMESTEP}] s, frame_skip between 1 and \
                 {MAX_FRAME_SKIP}, episode_steps at least 1 (not {}, {}, {})",
                t.timestep, t.frame_skip, t.episode_steps
            ),
        ));
    }
    if !(1..=64).contains(&t.solver_substeps) {
        return Err(problem(
            "substeps",
            format!(
                "solver_substeps must be between 1 and 64, not {}",
                t.solver_substeps
            ),
        ));
    }
    if !(t.limit_margin.is_finite() && (0.0..=0.1).contains(&t.limit_margin)) {
        return Err(problem(
            "limit_margin",
            format!(
                "limit_margin must be between 0 and 0.1 rad, not {}",
                t.limit_margin
            ),
        ));
    }
    if let Some((frequency, damping_ratio)) = t.ground_softness
        && !(frequency.is_finite()
            && frequency > 0.0
            && damping_ratio.is_finite()
            && damping_ratio > 0.0)
    {
        return Err(problem(
            "ground_softness",
            format!(
                "ground_softness must be (natural frequency in Hz, damping ratio), both positive, not ({frequency}, {damping_ratio})"
            ),
        ));
    }
    let weights = [
        t.forward_reward_weight,
        t.ctrl_cost_weight,
        t.contact_cost_weight,
        t.healthy_reward,
    ];
    if weights.iter().any(|w| !w.is_finite()) {
        return Err(problem("task", "reward weights must be finite".into()));
    }
    if !(t.reset_noise_scale.is_finite() && (0.0..=MAX_RESET_NOISE).contains(&t.reset_noise_scale))
    {
        return Err(problem(
            "reset_noise_scale",
            format!(
                "reset_noise_scale must be between 0 and {MAX_RESET_NOISE} (Gymnasium's robots \
                 use 0.005 to 0.1), not {}",
                t.reset_noise_scale
            ),
        ));
    }
    if let Some(clip) = t.velocity_clip
        && !(clip.is_finite() && clip > 0.0)
    {
        return Err(problem(
            "velocity_clip",
            format!("velocity_clip must be a finite number > 0 (or None), not {clip}"),
        ));
    }
    if let Some(h) = &t.healthy {
        for (name, range) in [
            ("z_range", h.z_range),
            ("angle_range", h.angle_range),
            ("state_range", h.state_range),
        ] {
            if let Some((lo, hi)) = range
                && !ascending(lo, hi)
            {
                return Err(problem(
                    name,
                    format!(
                        "healthy {name} ({lo}, {hi}) must have its lower bound below its upper \
                         (neither NaN)"
                    ),
                ));
            }
        }
    }
    Ok(())
}
