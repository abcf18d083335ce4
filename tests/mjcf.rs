//! MJCF import (`scene::mjcf`): Gymnasium's five MuJoCo models give the shipped scenes (which
//! MuJoCo's own compiler produced, through a Python script this importer replaced) to 1e-3 and
//! walk randomly as they do; malformed files are named by file, line and element; an imported
//! robot trains.

use std::path::{Path, PathBuf};
use virel_lab::scene::mjcf::{import, load};
use virel_lab::scene::spec::{SceneSpec, Shape};

/// Gymnasium's assets folder: `VIREL_GYM_ASSETS` (set by `./dev.sh test`), else the setup's
/// cache; `None`, saying the test is skipped, where the wheel is not installed.
fn assets() -> Option<PathBuf> {
    let found = find_assets();
    if found.is_none() {
        eprintln!(
            "SKIPPED: Gymnasium's MuJoCo assets not found (./dev.sh test installs the wheel and \
             sets VIREL_GYM_ASSETS)"
        );
    }
    found
}

fn find_assets() -> Option<PathBuf> {
    let from_env = std::env::var_os("VIREL_GYM_ASSETS").map(PathBuf::from);
    let cache = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/virel-lab/gym/lib"));
    let from_cache = cache.and_then(|lib| {
        std::fs::read_dir(lib).ok()?.flatten().find_map(|py| {
            let p = py.path().join("site-packages/gymnasium/envs/mujoco/assets");
            p.is_dir().then_some(p)
        })
    });
    from_env.filter(|p| p.is_dir()).or(from_cache)
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-3 * b.abs().max(1.0)
}

fn close3(a: (f32, f32, f32), b: (f32, f32, f32)) -> bool {
    close(a.0, b.0) && close(a.1, b.1) && close(a.2, b.2)
}

/// Every number the scene format holds of the robot, to 1e-3 (relative above 1).
fn assert_same_robot(name: &str, got: &SceneSpec, want: &SceneSpec) {
    assert_eq!(got.root, want.root, "{name}: root");
    match (got.planar_z_ref, want.planar_z_ref) {
        (Some(a), Some(b)) => assert!(close(a, b), "{name}: planar_z_ref {a} vs {b}"),
        (a, b) => assert_eq!(a, b, "{name}: planar_z_ref"),
    }
    assert_eq!(got.bodies.len(), want.bodies.len(), "{name}: bodies");
    for (g, w) in got.bodies.iter().zip(&want.bodies) {
        assert_eq!((&g.name, &g.parent), (&w.name, &w.parent), "{name}");
        assert!(
            close(g.mass, w.mass),
            "{name}/{}: mass {} vs {}",
            w.name,
            g.mass,
            w.mass
        );
        assert_eq!(g.geoms.len(), w.geoms.len(), "{name}/{}: geoms", w.name);
        for (gg, wg) in g.geoms.iter().zip(&w.geoms) {
            assert!(
                close(gg.friction, wg.friction),
                "{name}/{}: friction",
                w.name
            );
            let same = match (&gg.shape, &wg.shape) {
                (
                    Shape::Capsule { from, to, radius },
                    Shape::Capsule {
                        from: f,
                        to: t,
                        radius: r,
                    },
                ) => {
                    close(*radius, *r)
                        && ((close3(*from, *f) && close3(*to, *t))
                            || (close3(*from, *t) && close3(*to, *f)))
                }
                (
                    Shape::Sphere { center, radius },
                    Shape::Sphere {
                        center: c,
                        radius: r,
                    },
                ) => close3(*center, *c) && close(*radius, *r),
                (
                    Shape::Box {
                        center,
                        half_extents,
                        ..
                    },
                    Shape::Box {
                        center: c,
                        half_extents: h,
                        ..
                    },
                ) => close3(*center, *c) && close3(*half_extents, *h),
                _ => false,
            };
            assert!(same, "{name}/{}: {:?} vs {:?}", w.name, gg.shape, wg.shape);
        }
    }
    assert_eq!(got.joints.len(), want.joints.len(), "{name}: joints");
    for (g, w) in got.joints.iter().zip(&want.joints) {
        let ok = g.name == w.name
            && g.body == w.body
            && close3(g.anchor, w.anchor)
            && close3(g.axis, w.axis)
            && match (g.range, w.range) {
                (Some(a), Some(b)) => close(a.0, b.0) && close(a.1, b.1),
                (a, b) => a == b,
            }
            && close(g.damping, w.damping)
            && close(g.stiffness, w.stiffness)
            && close(g.armature, w.armature);
        assert!(ok, "{name}: joint\n{g:?}\nvs\n{w:?}");
    }
    assert_eq!(
        got.actuators.len(),
        want.actuators.len(),
        "{name}: actuators"
    );
    for (g, w) in got.actuators.iter().zip(&want.actuators) {
        assert!(
            g.joint == w.joint
                && close(g.gear, w.gear)
                && close(g.ctrl_range.0, w.ctrl_range.0)
                && close(g.ctrl_range.1, w.ctrl_range.1),
            "{name}: actuator {g:?} vs {w:?}"
        );
    }
}

#[test]
fn gymnasiums_five_models_import_as_the_shipped_scenes() {
    let Some(dir) = assets() else {
        return;
    };
    for (name, xml) in [
        ("half_cheetah", "half_cheetah.xml"),
        ("hopper", "hopper.xml"),
        ("walker2d", "walker2d_v5.xml"),
        ("ant", "ant.xml"),
        ("humanoid", "humanoid.xml"),
    ] {
        let path = dir.join(xml);
        let text = std::fs::read_to_string(&path).unwrap();
        let imported = import(&text, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let shipped = virel_lab::scene::load(name).unwrap();
        assert_same_robot(name, &imported.scene, &shipped);
    }
}

fn error_of(xml: &str) -> String {
    import(xml, Path::new("robot.xml")).unwrap_err().to_string()
}

/// A one-sphere robot with `body` inside its torso (from line 6) and `top` after the
/// worldbody.
fn robot(body: &str, top: &str) -> String {
    format!(
        "<mujoco model=\"r\">\n<worldbody>\n<body name=\"torso\" pos=\"0 0 1\">\n<freejoint/>\n\
         <geom type=\"sphere\" size=\"0.1\"/>\n{body}</body>\n</worldbody>\n{top}</mujoco>\n"
    )
}

#[test]
fn malformed_mjcf_is_named_by_file_line_and_element() {
    let e = error_of("<mujoco><worldbody><body></mujoco>");
    assert!(
        e.starts_with("robot.xml:1: <xml>: not well-formed XML"),
        "{e}"
    );
    let leg = |inner: &str| format!("<body name=\"leg\">\n{inner}\n</body>\n");
    let e = error_of(&robot(
        &leg("<joint name=\"j\" type=\"weird\"/>\n<geom type=\"sphere\" size=\"0.1\"/>"),
        "",
    ));
    assert!(e.starts_with("robot.xml:7: <joint>: a weird joint"), "{e}");
    let e = error_of(&robot(&leg("<geom type=\"capsule\"/>"), ""));
    assert!(
        e.starts_with("robot.xml:7: <geom>: a capsule needs size"),
        "{e}"
    );
    let e = error_of(&robot(
        "",
        "<tendon>\n<fixed name=\"t\" stiffness=\"1\"><joint joint=\"a\" coef=\"1\"/></fixed>\n</tendon>\n",
    ));
    assert!(
        e.starts_with("robot.xml:9: <fixed>: tendons that act"),
        "{e}"
    );
    let e = error_of(&robot("", "<sensor>\n<jointpos joint=\"j\"/>\n</sensor>\n"));
    assert!(e.starts_with("robot.xml:8: <sensor>: not supported"), "{e}");
    let e = error_of(&robot(&leg("<geom type=\"sphere\" size=\"inf\"/>"), ""));
    assert!(
        e.starts_with("robot.xml:7: <geom>: size=\"inf\" is not a finite number"),
        "{e}"
    );
    let fixed = robot("", "").replace("<freejoint/>", "<joint name=\"base\" type=\"hinge\"/>");
    let e = error_of(&fixed);
    assert!(
        e.starts_with("robot.xml:4: <joint>: a hinge on the root body without"),
        "{e}"
    );
    let e = error_of(
        &robot("", "").replace("<worldbody>", "<option gravity=\"0 0 -1.6\"/>\n<worldbody>"),
    );
    assert!(
        e.starts_with("robot.xml:2: <option>: gravity=\"0 0 -1.6\""),
        "{e}"
    );
    let deep = "<body><geom type=\"sphere\" size=\"0.1\"/>".repeat(300) + &"</body>".repeat(300);
    let e = error_of(&robot(&deep, ""));
    assert!(e.contains("<body>: bodies nested deeper than"), "{e}");
}

#[test]
fn classes_childclass_and_euler_compile_as_mujoco_does() {
    let xml = r#"<mujoco model="arm">
<compiler angle="degree"/>
<option timestep="0.005"/>
<default>
  <joint damping="2" armature="0.1"/>
  <default class="stiff"><joint stiffness="5" range="-30 30"/></default>
</default>
<worldbody>
  <body name="base" pos="0 0 0.5">
    <freejoint/>
    <geom type="box" size="0.1 0.1 0.1" mass="3"/>
    <body name="link" pos="0.1 0 0" euler="0 0 90" childclass="stiff">
      <joint name="elbow" axis="1 0 0"/>
      <geom type="capsule" fromto="0 0 0 0.2 0 0" size="0.05" density="500"/>
    </body>
  </body>
</worldbody>
<actuator><motor joint="elbow" gear="10" ctrlrange="-1 1"/></actuator>
</mujoco>"#;
    let s = import(xml, Path::new("arm.xml")).unwrap().scene;
    assert_eq!(s.task.timestep, 0.005);
    let j = &s.joints[0];
    // euler 90° about z turns the link's x onto y.
    assert!(close3(j.axis, (0.0, 1.0, 0.0)), "{j:?}");
    assert!(close3(j.anchor, (0.1, 0.0, 0.5)));
    assert_eq!((j.damping, j.stiffness, j.armature), (2.0, 5.0, 0.1));
    let r = j.range.unwrap();
    assert!(close(r.0, -30f32.to_radians()) && close(r.1, 30f32.to_radians()));
    let Shape::Capsule { from, to, .. } = s.bodies[1].geoms[0].shape else {
        panic!()
    };
    assert!(close3(from, (0.1, 0.0, 0.5)) && close3(to, (0.1, 0.2, 0.5)));
    let pi = std::f32::consts::PI;
    let volume = pi * 0.05f32.powi(2) * 0.2 + 4.0 / 3.0 * pi * 0.05f32.powi(3);
    assert!(close(s.bodies[1].mass, 500.0 * volume));
    assert_eq!(s.bodies[0].mass, 3.0);
    assert_eq!(s.actuators[0].gear, 10.0);
}

#[test]
fn an_imported_robot_trains_a_few_steps_and_round_trips_through_ron() {
    let Some(dir) = assets() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let xml = copy_model(&dir, "hopper.xml", tmp.path());
    let imported = load(&xml).unwrap();
    assert!(
        imported.notes.iter().any(|n| n.contains("<camera>")),
        "{:?}",
        imported.notes
    );
    // A sidecar task that does not fit the robot is named with both files.
    let bad = tmp.path().join("bad.xml");
    std::fs::copy(&xml, &bad).unwrap();
    std::fs::write(
        virel_lab::scene::mjcf::task_path(&bad),
        shipped_task("hopper").replace("obs_dim: 11", "obs_dim: 12"),
    )
    .unwrap();
    let e = format!("{:#}", load(&bad).unwrap_err());
    assert!(
        e.contains("bad.xml imported with the task of")
            && e.contains("bad.task.ron: obs dim mismatch"),
        "{e}"
    );
    let ron = virel_lab::scene::mjcf::to_ron(&imported.scene).unwrap();
    let again = virel_lab::scene::parse(&ron, "round trip").unwrap();
    assert_eq!(again, imported.scene);
    let mut cfg = virel_lab::training::config::TrainConfig::for_env(xml.to_str().unwrap());
    cfg.steps = 300;
    cfg.agents.set_learning_starts(100);
    cfg.agents.set_hidden(&[32, 32]);
    cfg.tensorboard = false;
    let mut t = {
        let env = virel_lab::envs::ResolvedEnv::resolve(&cfg.env).unwrap();
        virel_lab::training::Trainer::new(cfg, &env).unwrap()
    };
    let mut updates = 0;
    while t.counters.env_steps < 300 {
        updates += usize::from(t.step().unwrap().update.is_some());
    }
    assert!(updates > 0);
}

/// Gymnasium's model `file` copied into `to` (a test's own folder, where a sidecar task or an
/// export may go beside it); its new path.
fn copy_model(assets: &Path, file: &str, to: &Path) -> PathBuf {
    let path = to.join(file);
    std::fs::copy(assets.join(file), &path).unwrap();
    path
}

/// The shipped scene's `Task(...)`, as a sidecar file's text.
fn shipped_task(name: &str) -> String {
    let scene = virel_lab::scene::load(name).unwrap();
    ron::ser::to_string_pretty(
        &scene.task,
        ron::ser::PrettyConfig::default().struct_names(true),
    )
    .unwrap()
}

/// With the shipped task as a sidecar, an imported robot's random walk (20 000 steps, seed 0)
/// matches the shipped scene's: episode lengths within 15 %, forward velocity within 0.05 m/s
/// (two MuJoCo seeds of the half-cheetah differ by 0.034 m/s; the robots agree to 1e-3, and a
/// random walk amplifies the difference).
#[test]
fn imported_robots_walk_randomly_as_the_shipped_ones() {
    let Some(dir) = assets() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for (name, xml) in [
        ("hopper", "hopper.xml"),
        ("walker2d", "walker2d_v5.xml"),
        ("half_cheetah", "half_cheetah.xml"),
    ] {
        let path = copy_model(&dir, xml, tmp.path());
        std::fs::write(virel_lab::scene::mjcf::task_path(&path), shipped_task(name)).unwrap();
        let ours =
            virel_lab::envs::random_policy::random_gait(path.to_str().unwrap(), 20_000, 0).unwrap();
        let shipped = virel_lab::envs::random_policy::random_gait(name, 20_000, 0).unwrap();
        assert!(
            (ours.mean_length / shipped.mean_length - 1.0).abs() < 0.15
                && (ours.mean_velocity - shipped.mean_velocity).abs() < 0.05,
            "{name}: imported {ours:?} vs shipped {shipped:?}"
        );
    }
}

#[test]
fn scene_to_ron_writes_the_import_and_never_overwrites() {
    let Some(dir) = assets() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let xml = copy_model(&dir, "ant.xml", tmp.path());
    let out = tmp.path().join("ant.ron");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_virel-lab"))
            .args(args)
            .output()
            .unwrap()
    };
    let (x, o) = (xml.to_str().unwrap(), out.to_str().unwrap());
    let first = run(&["scene", x, "--to-ron", o]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("note: ") && stdout.contains("wrote"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(&out).unwrap();
    let scene = virel_lab::scene::parse(&written, "ant.ron").unwrap();
    assert_eq!(scene.bodies.len(), 13);
    // Its lane fits its legs as it turns (the shipped ant's lane is 3.0 m).
    assert!(
        (2.5..=3.5).contains(&scene.lane_width),
        "{}",
        scene.lane_width
    );
    // A second run refuses to replace it, and leaves it as it was.
    let again = run(&["scene", x, "--to-ron", o]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && err.contains("--to-ron") && err.contains("exists"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), written);
}
