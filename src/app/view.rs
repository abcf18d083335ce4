//! [`ViewPlugin`]: the 3D scene. A ground with a grid and one lane per robot copy, the robots'
//! bodies as meshes (respawned when the run changes, moved every frame from the physics
//! poses), sun and ambient light, and the switchable render quality (shadows, MSAA).
//!
//! Robots live in the scenes' frame (z up, metres); one root entity turns it into Bevy's
//! (y up), so everything below it keeps the physics coordinates.

use super::lab::LabState;
use super::training::TrainingSet;
use crate::scene::spec::Shape;
use bevy::prelude::*;
use bevy::render::view::Msaa;
use std::f32::consts::FRAC_PI_2;

/// Render quality: both on look best; both off keep a software renderer usable.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct RenderQuality {
    pub shadows: bool,
    pub msaa: bool,
}

impl RenderQuality {
    pub const HIGH: Self = Self {
        shadows: true,
        msaa: true,
    };
    pub const LOW: Self = Self {
        shadows: false,
        msaa: false,
    };
}

/// Distance between the lanes of neighbouring copies, metres.
pub fn lane_spacing(scene_name: &str) -> f32 {
    match scene_name {
        "ant" => 3.0,
        "humanoid" => 2.5,
        _ => 1.5,
    }
}

/// The root entity that turns the scenes' z-up frame into Bevy's y-up one.
#[derive(Component)]
pub struct SceneFrame;

/// A robot body: copy and body index.
#[derive(Component, Clone, Copy, Debug)]
pub struct RobotBody {
    pub copy: usize,
    pub body: usize,
}

/// Everything spawned for the current run (respawned on a new one).
#[derive(Component)]
struct RunEntity;

/// (run generation, followed copy) the robots were spawned for.
#[derive(Resource, Default)]
struct SpawnedGeneration(u64, usize);

/// Lane layout of the current run.
#[derive(Resource, Default, Clone, Copy)]
pub struct Lanes {
    pub spacing: f32,
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

pub struct ViewPlugin {
    pub quality: RenderQuality,
}

impl Plugin for ViewPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.quality)
            .insert_resource(ClearColor(Color::srgb(0.62, 0.72, 0.82)))
            .insert_resource(GlobalAmbientLight {
                color: Color::WHITE,
                brightness: 600.0,
                affects_lightmapped_meshes: true,
            })
            .init_resource::<SpawnedGeneration>()
            .init_resource::<Lanes>()
            .add_systems(Startup, setup_world)
            .add_systems(
                Update,
                (spawn_robots, move_robots, draw_grid, apply_quality)
                    .chain()
                    .after(TrainingSet),
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
                Mesh3d(meshes.add(Plane3d::new(Vec3::Z, Vec2::splat(2_000.0)))),
                MeshMaterial3d(materials.add(StandardMaterial {
                    base_color: Color::srgb(0.55, 0.60, 0.52),
                    perceptual_roughness: 0.95,
                    ..default()
                })),
            ));
        });
    commands.spawn((
        DirectionalLight {
            illuminance: 9_000.0,
            shadow_maps_enabled: quality.shadows,
            ..default()
        },
        Transform::from_xyz(-4.0, 10.0, 6.0).looking_at(Vec3::ZERO, Vec3::Y),
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

/// Colour of copy `i`: a hue per lane; the followed copy is drawn warmer.
fn copy_color(i: usize, followed: bool) -> Color {
    if followed {
        Color::srgb(0.95, 0.55, 0.15)
    } else {
        Color::hsl((200.0 + 23.0 * i as f32) % 360.0, 0.45, 0.55)
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_robots(
    mut commands: Commands,
    state: Res<LabState>,
    lab: NonSend<super::lab::Lab>,
    mut spawned: ResMut<SpawnedGeneration>,
    mut lanes: ResMut<Lanes>,
    old: Query<Entity, With<RunEntity>>,
    frame: Query<Entity, With<SceneFrame>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    if (spawned.0, spawned.1) == (state.generation, state.followed) {
        return;
    }
    let Some(t) = lab.trainer.as_ref() else {
        return;
    };
    let Ok(frame) = frame.single() else {
        return;
    };
    *spawned = SpawnedGeneration(state.generation, state.followed);
    for e in &old {
        commands.entity(e).despawn();
    }
    let Some(robot) = t.env.robots() else {
        return;
    };
    let scene = robot.scene();
    *lanes = Lanes {
        spacing: lane_spacing(&scene.name),
        count: t.env.num_envs(),
    };
    let lane_mats = [
        materials.add(Color::srgb(0.70, 0.70, 0.64)),
        materials.add(Color::srgb(0.62, 0.63, 0.57)),
    ];
    let lane_mesh = meshes.add(Cuboid::new(4_000.0, lanes.spacing, 0.002));
    let body_meshes: Vec<Vec<(Handle<Mesh>, Transform)>> = (0..scene.bodies.len())
        .map(|b| {
            let origin = crate::sim::body_origin(scene, b);
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
    for copy in 0..lanes.count {
        let material = materials.add(StandardMaterial {
            base_color: copy_color(copy, copy == state.followed),
            perceptual_roughness: 0.6,
            ..default()
        });
        commands.spawn((
            RunEntity,
            Mesh3d(lane_mesh.clone()),
            MeshMaterial3d(lane_mats[copy % 2].clone()),
            Transform::from_translation(lanes.offset(copy) + Vec3::Z * 0.001),
            ChildOf(frame),
        ));
        for (body, geoms) in body_meshes.iter().enumerate() {
            commands
                .spawn((
                    RunEntity,
                    RobotBody { copy, body },
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

fn move_robots(
    state: Res<LabState>,
    lanes: Res<Lanes>,
    mut bodies: Query<(&RobotBody, &mut Transform)>,
) {
    for (rb, mut tf) in &mut bodies {
        if let Some(&(p, q)) = state.poses.get(rb.copy).and_then(|c| c.get(rb.body)) {
            tf.translation = p + lanes.offset(rb.copy);
            tf.rotation = q;
        }
    }
}

/// A 1 m grid around the camera's focus, on the ground.
fn draw_grid(mut gizmos: Gizmos, cam: Query<&super::camera::OrbitCamera>) {
    let focus = cam.single().map_or(Vec3::ZERO, |c| c.focus);
    let centre = Vec3::new(focus.x.round(), 0.003, focus.z.round());
    gizmos.grid(
        Isometry3d::new(centre, Quat::from_rotation_x(FRAC_PI_2)),
        UVec2::splat(40),
        Vec2::splat(1.0),
        Color::srgba(0.25, 0.25, 0.25, 0.55),
    );
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
