//! [`ViewPlugin`]: the 3D scene. A ground and one lane per robot copy of every run (runs side
//! by side, each copy in its run's colour), the robots' bodies as meshes (respawned when the
//! set of runs changes, moved every frame from the latest poses their training threads handed
//! over), sun and ambient light, and the switchable render quality (shadows, MSAA). The grid
//! around the camera's focus is the camera's ([`super::camera`]).
//!
//! Robots live in the scenes' frame (z up, metres); one root entity turns it into Bevy's
//! (y up), so everything below it keeps the physics coordinates.

use super::lab::{Curves, LabSettings, LabSystems, RunId, Runs, run_rgb};
use crate::scene::spec::Shape;
use crate::sim::body_origin;
use bevy::light::NotShadowCaster;
use bevy::prelude::*;
use bevy::render::view::Msaa;
use std::f32::consts::FRAC_PI_2;

/// Render quality: shadows and MSAA on look best, off keep a software renderer usable; so does
/// a 3D view at a lower resolution than the window's.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct RenderQuality {
    /// Shadow maps of the sun.
    pub shadows: bool,
    /// 4× multisampling.
    pub msaa: bool,
    /// The share of the window's width and height the 3D view is drawn at, then stretched
    /// ([`super::resolution`]); `None`: chosen from the render adapter at start.
    pub resolution: Option<f32>,
}

impl RenderQuality {
    /// Shadows and MSAA: the default.
    pub const HIGH: Self = Self {
        shadows: true,
        msaa: true,
        resolution: None,
    };
    /// Neither: for software renderers.
    pub const LOW: Self = Self {
        shadows: false,
        msaa: false,
        resolution: None,
    };
}

/// The root entity that turns the scenes' z-up frame into Bevy's y-up one.
#[derive(Component)]
pub struct SceneFrame;

/// A robot body: run, copy and body index.
#[derive(Component, Clone, Copy, Debug)]
pub struct RobotBody {
    /// The run it belongs to.
    pub run: RunId,
    /// The copy within the run.
    pub copy: usize,
    /// The body's index in the scene.
    pub body: usize,
}

/// Everything spawned for the current run (respawned on a new one).
#[derive(Component)]
struct RunEntity;

/// (runs' generation, followed run and copy) the robots were spawned for.
#[derive(Resource, Default)]
struct SpawnedGeneration(u64, Option<(RunId, usize)>);

/// Lane layout of all runs: one lane per copy, runs in the order they started.
#[derive(Resource, Default, Clone, Copy)]
pub struct Lanes {
    /// Width of a lane, m: the widest robot's `lane_width`.
    pub spacing: f32,
    /// Lanes of all runs.
    pub count: usize,
}

impl Lanes {
    /// Offset of copy `i` in the scene frame: lanes side by side along y, copy 0 nearest to
    /// the default camera, the others behind it.
    pub fn offset(&self, i: usize) -> Vec3 {
        let centre = (self.count.max(1) - 1) as f32 / 2.0;
        Vec3::new(0.0, (i as f32 - centre) * self.spacing, 0.0)
    }
}

/// Scene frame (z up) → Bevy world (y up).
pub fn scene_to_world() -> Quat {
    Quat::from_rotation_x(-FRAC_PI_2)
}

/// The 3D scene: ground, lanes, robot meshes, light, quality.
pub struct ViewPlugin {
    /// Shadows and MSAA at start (the overlay switches them).
    pub quality: RenderQuality,
}

impl Plugin for ViewPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.quality)
            .insert_resource(ClearColor(SKY))
            .insert_resource(GlobalAmbientLight {
                color: Color::WHITE,
                brightness: AMBIENT_BRIGHTNESS,
                affects_lightmapped_meshes: true,
            })
            .init_resource::<SpawnedGeneration>()
            .init_resource::<Lanes>()
            .add_systems(Startup, setup_world)
            .add_systems(
                Update,
                (spawn_robots, move_robots, apply_quality)
                    .chain()
                    .in_set(LabSystems::View),
            );
    }
}

fn setup_world(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    quality: Res<RenderQuality>,
) {
    commands
        .spawn((
            SceneFrame,
            Transform::from_rotation(scene_to_world()),
            Visibility::default(),
        ))
        .with_children(|root| {
            root.spawn((
                Mesh3d(meshes.add(Plane3d::new(Vec3::Z, Vec2::splat(GROUND_HALF_SIZE)))),
                MeshMaterial3d(materials.add(StandardMaterial {
                    base_color: GROUND,
                    perceptual_roughness: 0.95,
                    ..default()
                })),
                // Nothing lies below the ground or a lane: as casters they would only fill
                // every cascade of the sun's shadow map with their own depth.
                NotShadowCaster,
            ));
        });
    commands.spawn((
        DirectionalLight {
            illuminance: SUN_ILLUMINANCE,
            shadow_maps_enabled: quality.shadows,
            ..default()
        },
        Transform::from_translation(SUN_POSITION).looking_at(Vec3::ZERO, Vec3::Y),
    ));
}

/// Mesh and local transform of a geom, relative to its body's frame origin.
fn geom_mesh(shape: &Shape, origin: Vec3) -> (Mesh, Transform) {
    let v = |p: (f32, f32, f32)| Vec3::new(p.0, p.1, p.2) - origin;
    match *shape {
        Shape::Capsule { from, to, radius } => {
            let (a, b) = (v(from), v(to));
            let d = b - a;
            let rotation = Quat::from_rotation_arc(Vec3::Y, d.normalize_or(Vec3::Y));
            (
                Capsule3d::new(radius, d.length())
                    .mesh()
                    .rings(2)
                    .latitudes(8)
                    .longitudes(12)
                    .into(),
                Transform::from_translation((a + b) / 2.0).with_rotation(rotation),
            )
        }
        Shape::Sphere { center, radius } => (
            Sphere::new(radius).mesh().uv(16, 10),
            Transform::from_translation(v(center)),
        ),
        Shape::Box {
            center,
            half_extents: (x, y, z),
            rotation: (w, qx, qy, qz),
        } => (
            Cuboid::new(2.0 * x, 2.0 * y, 2.0 * z).into(),
            Transform::from_translation(v(center))
                .with_rotation(Quat::from_xyzw(qx, qy, qz, w).normalize()),
        ),
    }
}

/// The sky (clear colour).
const SKY: Color = Color::srgb(0.62, 0.72, 0.82);
/// Ambient light, cd/m².
const AMBIENT_BRIGHTNESS: f32 = 600.0;
/// The sun: illuminance (lux) and where it shines from, towards the origin (Bevy frame).
const SUN_ILLUMINANCE: f32 = 9_000.0;
const SUN_POSITION: Vec3 = Vec3::new(-4.0, 10.0, 6.0);
/// The ground: half its side (m) and its colour.
const GROUND_HALF_SIZE: f32 = 2_000.0;
const GROUND: Color = Color::srgb(0.55, 0.60, 0.52);
/// Lanes: length and thickness (m), alternating colours.
const LANE_LENGTH: f32 = 4_000.0;
const LANE_THICKNESS: f32 = 0.002;
const LANE_COLOURS: [Color; 2] = [Color::srgb(0.70, 0.70, 0.64), Color::srgb(0.62, 0.63, 0.57)];

/// The followed copy's colour.
const FOLLOWED_COLOUR: Color = Color::srgb(0.95, 0.55, 0.15);

/// Colour of copy `i` of the run drawn in colour `run`: the run's hue, every other copy a
/// little lighter; the followed copy is drawn in [`FOLLOWED_COLOUR`].
fn copy_color(run: usize, i: usize, followed: bool) -> Color {
    if followed {
        return FOLLOWED_COLOUR;
    }
    let [r, g, b] = run_rgb(run);
    let c = Color::srgb_u8(r, g, b);
    if i.is_multiple_of(2) {
        c
    } else {
        c.lighter(0.08)
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_robots(
    mut commands: Commands,
    runs: Res<Runs>,
    curves: Res<Curves>,
    settings: Res<LabSettings>,
    mut spawned: ResMut<SpawnedGeneration>,
    mut lanes: ResMut<Lanes>,
    old: Query<Entity, With<RunEntity>>,
    frame: Query<Entity, With<SceneFrame>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let followed = runs
        .followed(settings.followed)
        .map(|r| (r.id, settings.followed.copy));
    if (spawned.0, spawned.1) == (runs.generation, followed) {
        return;
    }
    let Ok(frame) = frame.single() else {
        return;
    };
    *spawned = SpawnedGeneration(runs.generation, followed);
    for e in &old {
        commands.entity(e).despawn();
    }
    let spacing = runs
        .live
        .iter()
        .filter_map(|r| r.scene.as_ref().map(|s| s.lane_width))
        .fold(0.0, f32::max);
    *lanes = Lanes {
        spacing,
        count: runs.lanes(),
    };
    let lane_mats = [
        materials.add(LANE_COLOURS[0]),
        materials.add(LANE_COLOURS[1]),
    ];
    let lane_mesh = meshes.add(Cuboid::new(LANE_LENGTH, lanes.spacing, LANE_THICKNESS));
    for run in &runs.live {
        let Some(scene) = &run.scene else {
            continue;
        };
        let colour = curves.index_of(run.id).unwrap_or(0);
        let body_meshes: Vec<Vec<(Handle<Mesh>, Transform)>> = (0..scene.bodies.len())
            .map(|b| {
                let origin = body_origin(scene, b);
                scene.bodies[b]
                    .geoms
                    .iter()
                    .map(|g| {
                        let (mesh, tf) = geom_mesh(&g.shape, origin);
                        (meshes.add(mesh), tf)
                    })
                    .collect()
            })
            .collect();
        for copy in 0..run.copies {
            let lane = runs.lane(run.id, copy);
            let material = materials.add(StandardMaterial {
                base_color: copy_color(colour, copy, followed == Some((run.id, copy))),
                perceptual_roughness: 0.6,
                ..default()
            });
            commands.spawn((
                RunEntity,
                Mesh3d(lane_mesh.clone()),
                MeshMaterial3d(lane_mats[lane % 2].clone()),
                NotShadowCaster,
                Transform::from_translation(lanes.offset(lane) + Vec3::Z * LANE_THICKNESS / 2.0),
                ChildOf(frame),
            ));
            for (body, geoms) in body_meshes.iter().enumerate() {
                commands
                    .spawn((
                        RunEntity,
                        RobotBody {
                            run: run.id,
                            copy,
                            body,
                        },
                        Transform::default(),
                        Visibility::default(),
                        ChildOf(frame),
                    ))
                    .with_children(|b| {
                        for (mesh, tf) in geoms {
                            b.spawn((Mesh3d(mesh.clone()), MeshMaterial3d(material.clone()), *tf));
                        }
                    });
            }
        }
    }
}

/// Places every body at its latest pose, in its lane.
fn move_robots(
    runs: Res<Runs>,
    lanes: Res<Lanes>,
    mut bodies: Query<(&RobotBody, &mut Transform)>,
) {
    for (rb, mut tf) in &mut bodies {
        let Some(run) = runs.get(rb.run) else {
            continue;
        };
        if let Some(&(p, q)) = run.frame.poses.get(rb.copy).and_then(|c| c.get(rb.body)) {
            tf.translation = p + lanes.offset(runs.lane(rb.run, rb.copy));
            tf.rotation = q;
        }
    }
}

fn apply_quality(
    quality: Res<RenderQuality>,
    mut lights: Query<&mut DirectionalLight>,
    mut cams: Query<&mut Msaa, With<Camera3d>>,
) {
    if !quality.is_changed() {
        return;
    }
    for mut l in &mut lights {
        l.shadow_maps_enabled = quality.shadows;
    }
    for mut m in &mut cams {
        *m = if quality.msaa {
            Msaa::Sample4
        } else {
            Msaa::Off
        };
    }
}
