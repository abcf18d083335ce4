//! MuJoCo MJCF files as scenes, in Rust (roxmltree): `--env robot.xml`, `virel-lab scene
//! robot.xml [--to-ron]`. The model is compiled as MuJoCo does for what the scene format holds
//! — world coordinates at the reset pose, SI units, radians:
//!
//! - `<compiler>`: `angle` (degree by default), `eulerseq`, `inertiafromgeom`, `settotalmass`;
//!   `coordinate="global"` is refused.
//! - `<default>` classes (nested, inheriting) and `class` / `childclass`.
//! - Bodies with `pos` and `quat` / `axisangle` / `euler` / `xyaxes` / `zaxis`; geoms: capsule
//!   and cylinder by `fromto` or `size` (a cylinder becomes a capsule of the same segment, said
//!   in the notes), box, sphere, ellipsoid (a sphere of the mean radius, said so); mass from
//!   `density` (1000) × volume or an explicit `mass`, or the body's `<inertial mass>` where
//!   `inertiafromgeom` is false (or `auto` and there is one); `settotalmass` scales them all.
//! - Joints: the root body's `free` (or `<freejoint>`) makes a free root, its x and z `slide`s
//!   and y `hinge` a planar one; other hinges with `range` (`limited` true / false / auto),
//!   `damping`, `armature`, `stiffness`; a `ball` becomes three hinges about the body's axes
//!   (its cone limit as each one's range), said so.
//! - `<motor>` actuators with `gear` and `ctrlrange` (`ctrllimited`), `<option timestep>`.
//! - Contacts: robot geoms collide with the ground only (as MuJoCo's parent–child exclusion
//!   and these models' filtering amount to); `contype`/`conaffinity`/`<exclude>` that ask for
//!   no more are accepted, a `<pair>` is refused.
//!
//! Contact parameters (`solref`, `solimp`, `margin`, `condim`) and looks (`rgba`, `material`)
//! are not read: contacts are rapier's, softened by the task's `ground_softness`. What it
//! cannot represent is an error naming the file, line and element (a sensor, a tendon
//! that acts, a slide joint below the root, a fixed base, gravity other than MuJoCo's default, a
//! mesh …); what has no effect on the dynamics
//! (cameras, lights, sites, materials, a fixed tendon nothing uses) is listed in
//! [`Imported::notes`], never dropped silently. The task (reward weights, health, frame skip,
//! episode length) comes from a sidecar `robot.task.ron` holding a `Task(...)` of the scene
//! format, else forward-velocity locomotion defaults ([`default_task`]); the app's lane width
//! from the robot's reach ([`lane_width_for`]).

use super::spec::{
    ActuatorSpec, BodySpec, GeomSpec, JointSpec, RootJoint, SceneSpec, Shape, TaskSpec,
};
use bevy::math::{EulerRot, Quat, Vec3};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// An MJCF file that cannot be imported: where and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: <{element}>: {message}")]
pub struct MjcfError {
    /// The file.
    pub file: PathBuf,
    /// Line, from 1.
    pub line: u32,
    /// The element.
    pub element: String,
    /// What is wrong.
    pub message: String,
}

/// A scene read from MJCF, with what the import approximated or left out.
#[derive(Debug)]
pub struct Imported {
    /// The scene.
    pub scene: SceneSpec,
    /// One line per approximation or element without effect, with its line.
    pub notes: Vec<String>,
}

/// The deepest body tree read (a hostile file cannot exhaust the stack).
const MAX_DEPTH: usize = 200;

/// Elements with no effect on the dynamics, noted and skipped.
const VISUAL: &[&str] = &[
    "asset",
    "visual",
    "statistic",
    "size",
    "camera",
    "light",
    "site",
    "custom",
    "extension",
    "keyframe",
    "flag",
    "flags",
];

/// Forward-velocity locomotion, for a robot without a sidecar task file: Gymnasium's
/// half-cheetah weights (forward velocity, 0.1 × control cost, no termination), frame skip 5,
/// episodes of 1000 steps, reset noise 0.1.
pub fn default_task(timestep: f32, root: RootJoint, hinges: usize, actuators: usize) -> TaskSpec {
    TaskSpec {
        timestep,
        frame_skip: 5,
        solver_substeps: 4,
        limit_margin: 0.01,
        ground_softness: None,
        forward_reward_weight: 1.0,
        forward_from: Default::default(),
        ctrl_cost_weight: 0.1,
        contact_cost_weight: 0.0,
        healthy_reward: 0.0,
        terminate_when_unhealthy: false,
        healthy: None,
        reset_noise_scale: 0.1,
        velocity_clip: None,
        obs_dim: super::obs_dim(root, hinges),
        action_dim: actuators,
        episode_steps: 1000,
    }
}

/// A lane for a robot of these bodies (the app's lanes; physics copies never touch): twice its
/// reach from the root's first geom across the lane (a planar robot: along y; a free one, which
/// turns: horizontally), plus 0.6 m, at least the scene format's 1.5 m.
pub fn lane_width_for(root: RootJoint, bodies: &[BodySpec]) -> f32 {
    let centre = |shape: &Shape| match *shape {
        Shape::Capsule { from, to, .. } => Vec3::from(from).lerp(Vec3::from(to), 0.5),
        Shape::Sphere { center, .. } | Shape::Box { center, .. } => Vec3::from(center),
    };
    let Some(first) = bodies.first().and_then(|b| b.geoms.first()) else {
        return 1.5;
    };
    let c = centre(&first.shape);
    let reach = bodies
        .iter()
        .flat_map(|b| &b.geoms)
        .flat_map(|g| match g.shape {
            Shape::Capsule { from, to, radius } => vec![(from, radius), (to, radius)],
            Shape::Sphere { center, radius } => vec![(center, radius)],
            Shape::Box {
                center,
                half_extents: (x, y, z),
                ..
            } => vec![(center, (x * x + y * y + z * z).sqrt())],
        })
        .map(|(p, r)| {
            let d = Vec3::from(p) - c;
            r + match root {
                RootJoint::Planar => d.y.abs(),
                RootJoint::Free => d.truncate().length(),
            }
        })
        .fold(0.0, f32::max);
    (((2.0 * reach + 0.6) * 10.0).ceil() / 10.0).max(1.5)
}

/// The sidecar task file of `xml`: `robot.task.ron` beside `robot.xml`.
pub fn task_path(xml: &Path) -> PathBuf {
    xml.with_extension("task.ron")
}

/// Reads `path` and compiles it into a scene (task from the sidecar file if there is one).
pub fn load(path: &Path) -> anyhow::Result<Imported> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read MJCF file {}: {e}", path.display()))?;
    let mut imported = import(&text, path)?;
    let sidecar = task_path(path);
    if sidecar.exists() {
        let t = std::fs::read_to_string(&sidecar)
            .map_err(|e| anyhow::anyhow!("cannot read task file {}: {e}", sidecar.display()))?;
        let task: TaskSpec = ron::Options::default().from_str(&t).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}:{}: {}",
                sidecar.display(),
                e.position.line,
                e.position.col,
                e.code
            )
        })?;
        imported.scene.task = task;
        imported
            .notes
            .push(format!("task from {}", sidecar.display()));
    } else {
        imported.notes.push(format!(
            "no {}: forward-velocity locomotion defaults",
            sidecar.display()
        ));
    }
    // The scene format's own checks, on the RON it would be; a problem is the model's or
    // (for the task's keys) the sidecar's, so it names those files, not the generated text.
    let ron = to_ron(&imported.scene)?;
    if let Err(e) = super::parse(&ron, &path.display().to_string()) {
        let task = if sidecar.exists() {
            format!(" with the task of {}", sidecar.display())
        } else {
            String::new()
        };
        anyhow::bail!("{} imported{task}: {}", path.display(), e.message);
    }
    Ok(imported)
}

/// The scene as a scene file's text.
pub fn to_ron(scene: &SceneSpec) -> anyhow::Result<String> {
    Ok(ron::ser::to_string_pretty(
        scene,
        ron::ser::PrettyConfig::default().struct_names(true),
    )?)
}

/// A rigid transform.
#[derive(Clone, Copy, Debug)]
struct Frame {
    pos: Vec3,
    rot: Quat,
}

impl Frame {
    const IDENTITY: Frame = Frame {
        pos: Vec3::ZERO,
        rot: Quat::IDENTITY,
    };
    fn then(self, local: Frame) -> Frame {
        Frame {
            pos: self.pos + self.rot * local.pos,
            rot: (self.rot * local.rot).normalize(),
        }
    }
    fn point(self, p: Vec3) -> Vec3 {
        self.pos + self.rot * p
    }
}

/// The compiler's settings that change numbers.
struct Compiler {
    degrees: bool,
    eulerseq: String,
    /// `true`, `false` or `auto`.
    inertia_from_geom: String,
    total_mass: Option<f32>,
}

/// Attributes of each class, by element name.
type Class = HashMap<String, HashMap<String, String>>;

struct Importer<'a> {
    file: &'a Path,
    doc: &'a roxmltree::Document<'a>,
    compiler: Compiler,
    classes: HashMap<String, Class>,
    notes: Vec<String>,
    bodies: Vec<BodySpec>,
    joints: Vec<JointSpec>,
    root: Option<RootJoint>,
    planar_z_ref: Option<f32>,
    /// Ball joints: name → the hinges that stand for it.
    balls: HashMap<String, Vec<String>>,
}

/// Parses MJCF text; `file` names it in errors and notes.
pub fn import(text: &str, file: &Path) -> Result<Imported, MjcfError> {
    let doc = roxmltree::Document::parse(text).map_err(|e| MjcfError {
        file: file.to_owned(),
        line: e.pos().row,
        element: "xml".into(),
        message: format!("not well-formed XML: {e}"),
    })?;
    let root = doc.root_element();
    let mut im = Importer {
        file,
        doc: &doc,
        compiler: Compiler {
            degrees: true,
            eulerseq: "xyz".into(),
            inertia_from_geom: "auto".into(),
            total_mass: None,
        },
        classes: HashMap::new(),
        notes: Vec::new(),
        bodies: Vec::new(),
        joints: Vec::new(),
        root: None,
        planar_z_ref: None,
        balls: HashMap::new(),
    };
    if root.tag_name().name() != "mujoco" {
        return Err(im.error(root, "the root element of an MJCF file must be <mujoco>"));
    }
    let mut timestep = 0.002_f32;
    // Compiler and defaults first: they change how everything else reads.
    for el in root.children().filter(|n| n.is_element()) {
        match el.tag_name().name() {
            "compiler" => im.read_compiler(el)?,
            "default" => im.read_defaults(el, None)?,
            _ => {}
        }
    }
    let mut actuators = Vec::new();
    let mut worldbody = None;
    for el in root.children().filter(|n| n.is_element()) {
        match el.tag_name().name() {
            "compiler" | "default" => {}
            "option" => {
                for a in el.attributes() {
                    match a.name() {
                        "timestep" => timestep = im.number(el, "timestep", a.value())?,
                        "gravity" if im.numbers(el, "gravity", a.value())? == [0.0, 0.0, -9.81] => {
                        }
                        "gravity" => {
                            return Err(im.error(
                                el,
                                &format!("gravity=\"{}\": only 0 0 -9.81 is supported", a.value()),
                            ));
                        }
                        other => im.notes.push(format!(
                            "{}:{}: <option {other}=\"{}\"> not read: the simulator's own \
                             integrator and solver (the task's solver_substeps) apply",
                            file.display(),
                            im.line(el),
                            a.value()
                        )),
                    }
                }
                for child in el.children().filter(|n| n.is_element()) {
                    im.note(child, "option flags do not change this simulator");
                }
            }
            "worldbody" => worldbody = Some(el),
            "actuator" => {
                for a in el.children().filter(|n| n.is_element()) {
                    actuators.push(im.read_actuator(a)?);
                }
            }
            "tendon" => im.check_tendons(el, root)?,
            "contact" => {
                for c in el.children().filter(|n| n.is_element()) {
                    match c.tag_name().name() {
                        "exclude" => im.note(c, "robot geoms collide with the ground only"),
                        _ => {
                            return Err(im.error(
                                c,
                                "explicit contact pairs are not supported (robot geoms collide \
                                 with the ground only)",
                            ));
                        }
                    }
                }
            }
            name if VISUAL.contains(&name) => im.note(el, "no effect on the dynamics"),
            _ => return Err(im.error(el, "not supported by the importer")),
        }
    }
    let worldbody = worldbody
        .ok_or_else(|| im.error(root, "has no <worldbody>: there is no robot to import"))?;
    let world_class = "main".to_owned();
    let mut robot = None;
    for el in worldbody.children().filter(|n| n.is_element()) {
        match el.tag_name().name() {
            "body" if robot.is_none() => robot = Some(el),
            "body" => {
                return Err(im.error(el, "a second robot: one tree of bodies per file"));
            }
            "geom" => {
                let ty = im.attr(el, "geom", &world_class, "type");
                if ty.as_deref() == Some("plane") {
                    im.note(el, "the ground: the simulator has its own");
                } else {
                    return Err(im.error(el, "a static geom other than the ground plane"));
                }
            }
            name if VISUAL.contains(&name) => im.note(el, "no effect on the dynamics"),
            _ => return Err(im.error(el, "not supported in <worldbody>")),
        }
    }
    let robot = robot.ok_or_else(|| im.error(worldbody, "has no <body>"))?;
    im.read_body(robot, None, Frame::IDENTITY, &world_class)?;
    if let Some(total) = im.compiler.total_mass {
        let sum: f32 = im.bodies.iter().map(|b| b.mass).sum();
        for b in &mut im.bodies {
            b.mass *= total / sum;
        }
    }
    let root_joint = im.root.unwrap_or(RootJoint::Free);
    if im.root.is_none() {
        im.notes
            .push("the root body has no joint: it is given a free root".into());
    }
    let model = root.attribute("model").unwrap_or("robot").to_owned();
    let hinges = im.joints.len();
    let actuators = actuators
        .into_iter()
        .flat_map(|(joint, gear, range, node)| match im.balls.get(&joint) {
            Some(hinges) => hinges
                .iter()
                .map(|h| (h.clone(), gear, range, node.clone()))
                .collect::<Vec<_>>(),
            None => vec![(joint, gear, range, node)],
        })
        .map(|(joint, gear, ctrl_range, node)| {
            if !im.joints.iter().any(|j| j.name == joint) {
                return Err(im.error_at(
                    node,
                    format!("its joint '{joint}' is not a hinge of the robot"),
                ));
            }
            Ok(ActuatorSpec {
                joint,
                gear,
                ctrl_range,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let n_act = actuators.len();
    let lane_width = lane_width_for(root_joint, &im.bodies);
    let scene = SceneSpec {
        name: model,
        root: root_joint,
        planar_z_ref: im.planar_z_ref,
        bodies: im.bodies,
        joints: im.joints,
        actuators,
        task: default_task(timestep, root_joint, hinges, n_act),
        lane_width,
    };
    Ok(Imported {
        scene,
        notes: im.notes,
    })
}

impl<'a> Importer<'a> {
    fn line(&self, node: roxmltree::Node) -> u32 {
        self.doc.text_pos_at(node.range().start).row
    }

    fn error(&self, node: roxmltree::Node, message: &str) -> MjcfError {
        self.error_at(
            (self.line(node), node.tag_name().name().to_owned()),
            message.to_owned(),
        )
    }

    fn error_at(&self, (line, element): (u32, String), message: String) -> MjcfError {
        MjcfError {
            file: self.file.to_owned(),
            line,
            element,
            message,
        }
    }

    fn note(&mut self, node: roxmltree::Node, why: &str) {
        let line = self.line(node);
        let name = node
            .attribute("name")
            .map(|n| format!(" '{n}'"))
            .unwrap_or_default();
        self.notes.push(format!(
            "{}:{line}: <{}>{name} skipped: {why}",
            self.file.display(),
            node.tag_name().name()
        ));
    }

    fn number(&self, node: roxmltree::Node, key: &str, text: &str) -> Result<f32, MjcfError> {
        text.trim()
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.error(node, &format!("{key}=\"{text}\" is not a finite number")))
    }

    fn numbers(&self, node: roxmltree::Node, key: &str, text: &str) -> Result<Vec<f32>, MjcfError> {
        text.split_whitespace()
            .map(|t| self.number(node, key, t))
            .collect()
    }

    fn read_compiler(&mut self, el: roxmltree::Node) -> Result<(), MjcfError> {
        for a in el.attributes() {
            match a.name() {
                "angle" => self.compiler.degrees = a.value() == "degree",
                "eulerseq" => self.compiler.eulerseq = a.value().to_owned(),
                "inertiafromgeom" => self.compiler.inertia_from_geom = a.value().to_owned(),
                "settotalmass" => {
                    let m = self.number(el, "settotalmass", a.value())?;
                    self.compiler.total_mass = (m > 0.0).then_some(m);
                }
                "coordinate" if a.value() == "global" => {
                    return Err(self.error(
                        el,
                        "coordinate=\"global\" is not supported (MuJoCo 2.1 dropped it)",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `<default>` elements: each class holds its parent's attributes overridden by its own.
    fn read_defaults(
        &mut self,
        el: roxmltree::Node,
        parent: Option<&str>,
    ) -> Result<(), MjcfError> {
        let name = el
            .attribute("class")
            .map(str::to_owned)
            .unwrap_or_else(|| "main".to_owned());
        let mut class = parent
            .and_then(|p| self.classes.get(p).cloned())
            .unwrap_or_default();
        for child in el.children().filter(|n| n.is_element()) {
            if child.tag_name().name() == "default" {
                continue;
            }
            let attrs = class.entry(child.tag_name().name().to_owned()).or_default();
            for a in child.attributes() {
                attrs.insert(a.name().to_owned(), a.value().to_owned());
            }
        }
        self.classes.insert(name.clone(), class);
        for child in el
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "default")
        {
            self.read_defaults(child, Some(&name))?;
        }
        Ok(())
    }

    /// An attribute of `el`: its own, else its class's default for elements of `kind`.
    fn attr(&self, el: roxmltree::Node, kind: &str, class: &str, key: &str) -> Option<String> {
        if let Some(v) = el.attribute(key) {
            return Some(v.to_owned());
        }
        let class = el.attribute("class").unwrap_or(class);
        self.classes
            .get(class)
            .or_else(|| self.classes.get("main"))
            .and_then(|c| c.get(kind))
            .and_then(|a| a.get(key))
            .cloned()
    }

    fn attr_numbers(
        &self,
        el: roxmltree::Node,
        kind: &str,
        class: &str,
        key: &str,
    ) -> Result<Option<Vec<f32>>, MjcfError> {
        self.attr(el, kind, class, key)
            .map(|v| self.numbers(el, key, &v))
            .transpose()
    }

    /// The range `key` where the element is limited: `flag` true, or `auto` / absent with a
    /// range given (MuJoCo's autolimits); `None` where it is not.
    fn limited_range(
        &self,
        el: roxmltree::Node,
        kind: &str,
        class: &str,
        flag: &str,
        key: &str,
    ) -> Result<Option<(f32, f32)>, MjcfError> {
        let range = self.attr_numbers(el, kind, class, key)?;
        let limited = match self.attr(el, kind, class, flag).as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => range.is_some(),
        };
        match range {
            _ if !limited => Ok(None),
            Some(r) => match r.as_slice() {
                [lo, hi] => Ok(Some((*lo, *hi))),
                _ => Err(self.error(el, &format!("{key} needs 2 numbers"))),
            },
            None => Err(self.error(el, &format!("{flag} but has no {key}"))),
        }
    }

    fn vec3(&self, el: roxmltree::Node, key: &str, v: &[f32]) -> Result<Vec3, MjcfError> {
        match v {
            [x, y, z] => Ok(Vec3::new(*x, *y, *z)),
            _ => Err(self.error(el, &format!("{key} needs 3 numbers, has {}", v.len()))),
        }
    }

    fn angle(&self, a: f32) -> f32 {
        if self.compiler.degrees {
            a.to_radians()
        } else {
            a
        }
    }

    /// The frame of `el` (body or geom) from pos and one of quat / axisangle / euler /
    /// xyaxes / zaxis.
    fn frame(&self, el: roxmltree::Node, kind: &str, class: &str) -> Result<Frame, MjcfError> {
        let pos = match self.attr_numbers(el, kind, class, "pos")? {
            Some(v) => self.vec3(el, "pos", &v)?,
            None => Vec3::ZERO,
        };
        let rot = if let Some(q) = self.attr_numbers(el, kind, class, "quat")? {
            match q.as_slice() {
                [w, x, y, z] => Quat::from_xyzw(*x, *y, *z, *w).normalize(),
                _ => return Err(self.error(el, "quat needs 4 numbers (w x y z)")),
            }
        } else if let Some(aa) = self.attr_numbers(el, kind, class, "axisangle")? {
            match aa.as_slice() {
                [x, y, z, a] => {
                    Quat::from_axis_angle(Vec3::new(*x, *y, *z).normalize(), self.angle(*a))
                }
                _ => return Err(self.error(el, "axisangle needs 4 numbers")),
            }
        } else if let Some(e) = self.attr_numbers(el, kind, class, "euler")? {
            let e = self.vec3(el, "euler", &e)?;
            let seq = &self.compiler.eulerseq;
            let order = match seq.as_str() {
                "xyz" | "XYZ" => EulerRot::XYZ,
                "zyx" | "ZYX" => EulerRot::ZYX,
                "zxz" | "ZXZ" => EulerRot::ZXZ,
                "xzy" | "XZY" => EulerRot::XZY,
                "yxz" | "YXZ" => EulerRot::YXZ,
                "yzx" | "YZX" => EulerRot::YZX,
                "zxy" | "ZXY" => EulerRot::ZXY,
                _ => return Err(self.error(el, &format!("eulerseq \"{seq}\" is not supported"))),
            };
            let (a, b, c) = (self.angle(e.x), self.angle(e.y), self.angle(e.z));
            // Lower case: rotations about the moving axes (intrinsic), as bevy's EulerRot;
            // upper case: about the fixed axes, the same angles in reverse order.
            if seq.chars().all(|ch| ch.is_ascii_lowercase()) {
                Quat::from_euler(order, a, b, c)
            } else {
                let axis = |ch: char| match ch.to_ascii_lowercase() {
                    'x' => Vec3::X,
                    'y' => Vec3::Y,
                    _ => Vec3::Z,
                };
                let s: Vec<char> = seq.chars().collect();
                Quat::from_axis_angle(axis(s[2]), c)
                    * Quat::from_axis_angle(axis(s[1]), b)
                    * Quat::from_axis_angle(axis(s[0]), a)
            }
        } else if let Some(xy) = self.attr_numbers(el, kind, class, "xyaxes")? {
            match xy.as_slice() {
                [a, b, c, d, e, f] => {
                    let x = Vec3::new(*a, *b, *c).normalize();
                    let y = Vec3::new(*d, *e, *f);
                    let y = (y - x * x.dot(y)).normalize();
                    Quat::from_mat3(&bevy::math::Mat3::from_cols(x, y, x.cross(y)))
                }
                _ => return Err(self.error(el, "xyaxes needs 6 numbers")),
            }
        } else if let Some(z) = self.attr_numbers(el, kind, class, "zaxis")? {
            let z = self.vec3(el, "zaxis", &z)?.normalize();
            Quat::from_rotation_arc(Vec3::Z, z)
        } else {
            Quat::IDENTITY
        };
        Ok(Frame { pos, rot })
    }

    fn read_body(
        &mut self,
        el: roxmltree::Node,
        parent: Option<&str>,
        parent_frame: Frame,
        class: &str,
    ) -> Result<(), MjcfError> {
        if el.ancestors().count() > MAX_DEPTH {
            return Err(self.error(el, &format!("bodies nested deeper than {MAX_DEPTH} levels")));
        }
        let frame = parent_frame.then(self.frame(el, "body", class)?);
        let class = el.attribute("childclass").unwrap_or(class).to_owned();
        let is_root = parent.is_none();
        let index = self.bodies.len();
        let mut name = el.attribute("name").map(str::to_owned);
        let mut geoms = Vec::new();
        let mut geom_mass = 0.0;
        let mut inertial_mass = None;
        let mut joints = Vec::new();
        for child in el.children().filter(|n| n.is_element()) {
            match child.tag_name().name() {
                "geom" => {
                    let (g, m) = self.read_geom(child, frame, &class)?;
                    geoms.push(g);
                    geom_mass += m;
                }
                "joint" | "freejoint" => joints.push(child),
                "inertial" => {
                    let m = self
                        .attr(child, "inertial", &class, "mass")
                        .ok_or_else(|| self.error(child, "has no mass"))?;
                    inertial_mass = Some(self.number(child, "mass", &m)?);
                }
                "body" => {}
                name if VISUAL.contains(&name) => self.note(child, "no effect on the dynamics"),
                _ => return Err(self.error(child, "not supported in a <body>")),
            }
        }
        if name.is_none() {
            // MuJoCo's unnamed bodies (the ant's feet): after their first joint.
            name = joints
                .first()
                .and_then(|j| j.attribute("name"))
                .map(|j| format!("{j}_body"))
                .or_else(|| Some(format!("body{index}")));
        }
        let name = name.unwrap_or_default();
        let from_geom = match self.compiler.inertia_from_geom.as_str() {
            "true" => true,
            "false" => false,
            _ => inertial_mass.is_none(),
        };
        let mass = if from_geom {
            geom_mass
        } else {
            inertial_mass.ok_or_else(|| {
                self.error(
                    el,
                    "inertiafromgeom is false and the body has no <inertial>",
                )
            })?
        };
        if geoms.is_empty() {
            return Err(self.error(el, "a body without geoms cannot collide or be drawn"));
        }
        self.bodies.push(BodySpec {
            name: name.clone(),
            parent: parent.map(str::to_owned),
            mass,
            geoms,
        });
        self.read_joints(&joints, &name, frame, &class, is_root)?;
        for child in el
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "body")
        {
            self.read_body(child, Some(&name), frame, &class)?;
        }
        Ok(())
    }

    /// A geom in world coordinates, and its mass.
    fn read_geom(
        &mut self,
        el: roxmltree::Node,
        body: Frame,
        class: &str,
    ) -> Result<(GeomSpec, f32), MjcfError> {
        let kind = self
            .attr(el, "geom", class, "type")
            .unwrap_or_else(|| "sphere".into());
        let size = self
            .attr_numbers(el, "geom", class, "size")?
            .unwrap_or_default();
        let need = |n: usize| {
            if size.len() < n {
                Err(self.error(
                    el,
                    &format!("a {kind} needs size with {n} number(s), has {}", size.len()),
                ))
            } else {
                Ok(())
            }
        };
        let local = self.frame(el, "geom", class)?;
        let world = body.then(local);
        let friction = self
            .attr_numbers(el, "geom", class, "friction")?
            .and_then(|f| f.first().copied())
            .unwrap_or(1.0);
        let pi = std::f32::consts::PI;
        let fromto = self.attr_numbers(el, "geom", class, "fromto")?;
        let segment = |half: f32| -> (Vec3, Vec3) {
            let axis = world.rot * Vec3::Z * half;
            (world.pos - axis, world.pos + axis)
        };
        let (shape, volume) = match kind.as_str() {
            "capsule" | "cylinder" => {
                need(1)?;
                let r = size[0];
                let (from, to) = match &fromto {
                    Some(ft) if ft.len() == 6 => (
                        body.point(Vec3::new(ft[0], ft[1], ft[2])),
                        body.point(Vec3::new(ft[3], ft[4], ft[5])),
                    ),
                    Some(_) => return Err(self.error(el, "fromto needs 6 numbers")),
                    None => {
                        need(2)?;
                        segment(size[1])
                    }
                };
                let len = from.distance(to);
                let volume = if kind == "capsule" {
                    pi * r * r * len + 4.0 / 3.0 * pi * r.powi(3)
                } else {
                    self.note(el, "a cylinder is simulated as a capsule of the same segment (its mass is the cylinder's)");
                    pi * r * r * len
                };
                (
                    Shape::Capsule {
                        from: from.into(),
                        to: to.into(),
                        radius: r,
                    },
                    volume,
                )
            }
            "sphere" => {
                need(1)?;
                (
                    Shape::Sphere {
                        center: world.pos.into(),
                        radius: size[0],
                    },
                    4.0 / 3.0 * pi * size[0].powi(3),
                )
            }
            "ellipsoid" => {
                need(3)?;
                let r = (size[0] + size[1] + size[2]) / 3.0;
                self.note(el, &format!("an ellipsoid is simulated as a sphere of the mean radius {r:.4} (its mass is the ellipsoid's)"));
                (
                    Shape::Sphere {
                        center: world.pos.into(),
                        radius: r,
                    },
                    4.0 / 3.0 * pi * size[0] * size[1] * size[2],
                )
            }
            "box" => {
                need(3)?;
                let q = world.rot;
                (
                    Shape::Box {
                        center: world.pos.into(),
                        half_extents: (size[0], size[1], size[2]),
                        rotation: (q.w, q.x, q.y, q.z),
                    },
                    8.0 * size[0] * size[1] * size[2],
                )
            }
            other => {
                return Err(self.error(el, &format!("geom type \"{other}\" is not supported (capsule, cylinder, sphere, ellipsoid, box)")));
            }
        };
        let mass = match self.attr(el, "geom", class, "mass") {
            Some(m) => self.number(el, "mass", &m)?,
            None => {
                let density = match self.attr(el, "geom", class, "density") {
                    Some(d) => self.number(el, "density", &d)?,
                    None => 1000.0,
                };
                density * volume
            }
        };
        Ok((GeomSpec { shape, friction }, mass))
    }

    fn read_joints(
        &mut self,
        joints: &[roxmltree::Node],
        body: &str,
        frame: Frame,
        class: &str,
        is_root: bool,
    ) -> Result<(), MjcfError> {
        let mut slides = Vec::new();
        // A root with slides is planar: its hinge, wherever it is listed, is the y rotation.
        let planar = is_root
            && joints
                .iter()
                .any(|j| self.attr(*j, "joint", class, "type").as_deref() == Some("slide"));
        for &el in joints {
            let kind = if el.tag_name().name() == "freejoint" {
                "free".to_owned()
            } else {
                self.attr(el, "joint", class, "type")
                    .unwrap_or_else(|| "hinge".into())
            };
            let name = el.attribute("name").map(str::to_owned);
            let num = |key: &str| -> Result<f32, MjcfError> {
                match self.attr(el, "joint", class, key) {
                    Some(v) => self.number(el, key, &v),
                    None => Ok(0.0),
                }
            };
            let (damping, stiffness, armature, z_ref) = (
                num("damping")?,
                num("stiffness")?,
                num("armature")?,
                num("ref")?,
            );
            let axis = match self.attr_numbers(el, "joint", class, "axis")? {
                Some(a) => self.vec3(el, "axis", &a)?,
                None => Vec3::Z,
            };
            let anchor = match self.attr_numbers(el, "joint", class, "pos")? {
                Some(p) => frame.point(self.vec3(el, "pos", &p)?),
                None => frame.pos,
            };
            let world_axis = (frame.rot * axis).normalize();
            let range = self.limited_range(el, "joint", class, "limited", "range")?;
            match (kind.as_str(), is_root) {
                ("free", true) => self.root = Some(RootJoint::Free),
                ("slide", true) => slides.push((el, world_axis, z_ref)),
                ("hinge", true) if planar => {
                    if world_axis.abs().dot(Vec3::Y) < 0.999 {
                        return Err(self.error(el, "a planar root turns about y"));
                    }
                }
                ("hinge", true) => {
                    return Err(self.error(
                        el,
                        "a hinge on the root body without x/z slides: a fixed base is not \
                         supported (the root is free, or planar: x and z slides and a y hinge)",
                    ));
                }
                ("hinge", _) => {
                    let name = name.ok_or_else(|| {
                        self.error(
                            el,
                            "an unnamed hinge cannot be actuated or observed by name",
                        )
                    })?;
                    self.joints.push(JointSpec {
                        name,
                        body: body.to_owned(),
                        anchor: anchor.into(),
                        axis: world_axis.into(),
                        range: range.map(|(lo, hi)| (self.angle(lo), self.angle(hi))),
                        damping,
                        stiffness,
                        armature,
                    });
                }
                ("ball", false) => {
                    let name = name.ok_or_else(|| self.error(el, "an unnamed ball joint"))?;
                    self.note(el, "a ball joint is simulated as three hinges about the body's axes, each limited by its cone angle");
                    let cone = range.map(|(_, hi)| (-self.angle(hi), self.angle(hi)));
                    let mut names = Vec::new();
                    for (suffix, a) in [("x", Vec3::X), ("y", Vec3::Y), ("z", Vec3::Z)] {
                        let hinge = format!("{name}_{suffix}");
                        names.push(hinge.clone());
                        self.joints.push(JointSpec {
                            name: hinge,
                            body: body.to_owned(),
                            anchor: anchor.into(),
                            axis: (frame.rot * a).into(),
                            range: cone,
                            damping,
                            stiffness,
                            armature,
                        });
                    }
                    self.balls.insert(name, names);
                }
                (other, false) => {
                    return Err(self.error(
                        el,
                        &format!("a {other} joint below the root is not supported (hinge, ball)"),
                    ));
                }
                (other, true) => {
                    return Err(self.error(el, &format!("a root joint of type {other} is not supported: free, or x/z slides and a y hinge")));
                }
            }
        }
        if !slides.is_empty() {
            let z = slides.iter().find(|(_, a, _)| a.abs().dot(Vec3::Z) > 0.999);
            let x = slides.iter().any(|(_, a, _)| a.abs().dot(Vec3::X) > 0.999);
            match (x, z) {
                (true, Some(&(_, _, z_ref))) if slides.len() == 2 => {
                    self.root = Some(RootJoint::Planar);
                    self.planar_z_ref = Some(z_ref);
                }
                _ => {
                    return Err(self.error(
                        slides[0].0,
                        "a planar root needs one x and one z slide (and a y hinge)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// (joint, gear, ctrl range, where) of a `<motor>`.
    #[allow(clippy::type_complexity)]
    fn read_actuator(
        &self,
        el: roxmltree::Node,
    ) -> Result<(String, f32, (f32, f32), (u32, String)), MjcfError> {
        if el.tag_name().name() != "motor" {
            return Err(self.error(el, "only <motor> actuators are supported"));
        }
        let class = "main";
        let joint = self.attr(el, "motor", class, "joint").ok_or_else(|| {
            self.error(
                el,
                "a motor without a joint (tendon and site transmissions are not supported)",
            )
        })?;
        let gear = match self.attr_numbers(el, "motor", class, "gear")? {
            Some(g) => *g.first().ok_or_else(|| self.error(el, "empty gear"))?,
            None => 1.0,
        };
        let range = self
            .limited_range(el, "motor", class, "ctrllimited", "ctrlrange")?
            .ok_or_else(|| {
                self.error(el, "an unlimited motor: the action space needs ctrlrange")
            })?;
        Ok((joint, gear, range, (self.line(el), "motor".into())))
    }

    /// Fixed tendons that nothing acts through and that have no limit, spring or damping
    /// change nothing: noted. Any other tendon is refused.
    fn check_tendons(
        &mut self,
        el: roxmltree::Node,
        root: roxmltree::Node,
    ) -> Result<(), MjcfError> {
        let used: Vec<String> = root
            .descendants()
            .filter_map(|n| n.attribute("tendon").map(str::to_owned))
            .collect();
        for t in el.children().filter(|n| n.is_element()) {
            let passive = t.tag_name().name() == "fixed"
                && ["range", "stiffness", "damping", "springlength"]
                    .iter()
                    .all(|k| t.attribute(*k).is_none())
                && t.attribute("limited") != Some("true")
                && t.attribute("name")
                    .is_none_or(|n| !used.iter().any(|u| u == n));
            if passive {
                self.note(
                    t,
                    "a fixed tendon without limits, spring or actuator changes nothing",
                );
            } else {
                return Err(self.error(
                    t,
                    "tendons that act (limits, springs, actuators, spatial) are not supported",
                ));
            }
        }
        Ok(())
    }
}

/// Whether `name` is an MJCF file (by its extension).
pub fn is_mjcf(name: &str) -> bool {
    name.ends_with(".xml")
}
