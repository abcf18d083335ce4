//! [`CameraPlugin`]: an orbit camera (left drag turns, right drag pans, wheel zooms) that can
//! follow a chosen robot copy, and the 1 m grid on the ground around its focus. Mouse input
//! over the overlay is left to the overlay.

use super::lab::{LabSettings, LabSystems, Runs};
use super::view::{Lanes, RenderQuality, scene_to_world};
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy::render::view::Msaa;

/// Radians the camera turns per pixel dragged.
const TURN_PER_PIXEL: f32 = 0.006;
/// Lowest and highest pitch, radians above the horizon.
const PITCH_RANGE: (f32, f32) = (-0.1, 1.5);
/// Focus movement per pixel dragged, per metre of camera distance.
const PAN_PER_PIXEL: f32 = 0.0015;
/// Pixels of a touchpad scroll that count as one wheel line.
const PIXELS_PER_LINE: f32 = 40.0;
/// Distance factor per wheel line (towards the focus).
const ZOOM_PER_LINE: f32 = 0.9;
/// Nearest and farthest camera distance, m.
const DISTANCE_RANGE: (f32, f32) = (1.0, 200.0);
/// Distance that frames all lanes: base + this per metre of lanes, at most the maximum.
const FIT_DISTANCE: f32 = 3.5;
const FIT_PER_METRE: f32 = 0.55;
const FIT_MAX_DISTANCE: f32 = 40.0;
/// Heights (m) the followed focus stays between, whatever the robot's root does.
const FOCUS_HEIGHT: (f32, f32) = (0.3, 1.2);
/// Rate (1/s) at which the smooth focus closes on the followed robot.
const FOLLOW_RATE: f32 = 6.0;
/// The grid: just above the ground (m), cells of 1 m across each side.
const GRID_HEIGHT: f32 = 0.003;
const GRID_CELLS: u32 = 40;

/// Orbit parameters; the camera looks at `focus` (Bevy world frame) from `distance` away.
#[derive(Component, Clone, Debug)]
pub struct OrbitCamera {
    /// The point looked at, Bevy world frame.
    pub focus: Vec3,
    /// Radians about the vertical axis.
    pub yaw: f32,
    /// Radians above the horizon.
    pub pitch: f32,
    /// Metres from the focus.
    pub distance: f32,
    /// Keep the focus on the followed copy's root body.
    pub follow: bool,
}

impl Default for OrbitCamera {
    fn default() -> Self {
        Self {
            focus: Vec3::new(0.0, 0.5, 0.0),
            yaw: -0.55,
            pitch: 0.38,
            distance: 9.0,
            follow: true,
        }
    }
}

impl OrbitCamera {
    /// The camera's transform for these parameters.
    pub fn transform(&self) -> Transform {
        let dir = Vec3::new(
            self.yaw.sin() * self.pitch.cos(),
            self.pitch.sin(),
            self.yaw.cos() * self.pitch.cos(),
        );
        Transform::from_translation(self.focus + dir * self.distance)
            .looking_at(self.focus, Vec3::Y)
    }
}

/// The orbit camera, following the selected copy, on the window or on an image; and the grid around its focus.
pub struct CameraPlugin {
    /// Render into an image of this size instead of the window (video recording).
    pub offscreen: Option<(u32, u32)>,
    /// Ease the focus towards the followed robot (on screen); off, it sits on it exactly,
    /// so that a video does not depend on how fast frames were rendered.
    pub smooth_follow: bool,
}

impl Default for CameraPlugin {
    fn default() -> Self {
        Self {
            offscreen: None,
            smooth_follow: true,
        }
    }
}

/// The image an off-screen camera renders into.
#[derive(Resource, Clone)]
pub struct OffscreenTarget(pub Handle<Image>);

#[derive(Resource, Clone, Copy)]
struct SmoothFollow(bool);

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        if let Some((w, h)) = self.offscreen {
            let image = Image::new_target_texture(
                w,
                h,
                bevy::render::render_resource::TextureFormat::Rgba8UnormSrgb,
                None,
            );
            let handle = app.world_mut().resource_mut::<Assets<Image>>().add(image);
            app.insert_resource(OffscreenTarget(handle));
        }
        app.insert_resource(SmoothFollow(self.smooth_follow))
            .add_systems(Startup, spawn_camera)
            .add_systems(
                Update,
                (
                    fit_lanes,
                    orbit_with_mouse,
                    follow_copy,
                    place_camera,
                    draw_grid,
                )
                    .chain()
                    .in_set(LabSystems::Camera),
            );
    }
}

fn spawn_camera(
    mut commands: Commands,
    quality: Res<RenderQuality>,
    offscreen: Option<Res<OffscreenTarget>>,
) {
    let orbit = OrbitCamera::default();
    let mut cam = commands.spawn((
        Camera3d::default(),
        if quality.msaa {
            Msaa::Sample4
        } else {
            Msaa::Off
        },
        orbit.transform(),
        orbit,
    ));
    if let Some(target) = offscreen {
        cam.insert(bevy::camera::RenderTarget::from(target.0.clone()));
    }
}

fn orbit_with_mouse(
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Option<Res<ButtonInput<KeyCode>>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut cams: Query<&mut OrbitCamera>,
) {
    if egui.is_some_and(|e| e.wants_any_pointer_input()) {
        return;
    }
    let Ok(mut cam) = cams.single_mut() else {
        return;
    };
    let d = motion.delta;
    // Ctrl + left drag belongs to the hands (a push), not the camera.
    let ctrl = keys.is_some_and(|k| k.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]));
    if buttons.pressed(MouseButton::Left) && !ctrl {
        cam.yaw -= d.x * TURN_PER_PIXEL;
        cam.pitch = (cam.pitch + d.y * TURN_PER_PIXEL).clamp(PITCH_RANGE.0, PITCH_RANGE.1);
    }
    if buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle) {
        let right = Vec3::new(cam.yaw.cos(), 0.0, -cam.yaw.sin());
        let forward = Vec3::new(-cam.yaw.sin(), 0.0, -cam.yaw.cos());
        let k = cam.distance * PAN_PER_PIXEL;
        cam.focus += (-right * d.x + forward * d.y) * k;
        cam.follow = false;
    }
    let lines = match scroll.unit {
        MouseScrollUnit::Line => scroll.delta.y,
        MouseScrollUnit::Pixel => scroll.delta.y / PIXELS_PER_LINE,
    };
    cam.distance =
        (cam.distance * ZOOM_PER_LINE.powf(lines)).clamp(DISTANCE_RANGE.0, DISTANCE_RANGE.1);
}

/// Frames all copies when a run's robots are (re)spawned.
fn fit_lanes(lanes: Res<Lanes>, mut cams: Query<&mut OrbitCamera>) {
    if !lanes.is_changed() || lanes.count == 0 {
        return;
    }
    for mut cam in &mut cams {
        cam.distance = (FIT_DISTANCE + FIT_PER_METRE * lanes.spacing * lanes.count as f32)
            .min(FIT_MAX_DISTANCE);
    }
}

fn follow_copy(
    runs: Res<Runs>,
    settings: Res<LabSettings>,
    lanes: Res<Lanes>,
    time: Res<Time>,
    smooth: Res<SmoothFollow>,
    mut cams: Query<&mut OrbitCamera>,
) {
    let Ok(mut cam) = cams.single_mut() else {
        return;
    };
    if !cam.follow {
        return;
    }
    let copy = settings.followed.copy;
    let Some(run) = runs.followed(settings.followed) else {
        return;
    };
    let Some(&(root, _)) = run.frame.poses.get(copy).and_then(|c| c.first()) else {
        return;
    };
    let target = scene_to_world() * (root + lanes.offset(runs.lane(run.id, copy)));
    let target = Vec3::new(
        target.x,
        target.y.clamp(FOCUS_HEIGHT.0, FOCUS_HEIGHT.1),
        target.z,
    );
    let k = if smooth.0 {
        1.0 - (-FOLLOW_RATE * time.delta_secs()).exp()
    } else {
        1.0
    };
    cam.focus = cam.focus.lerp(target, k);
}

fn place_camera(mut cams: Query<(&OrbitCamera, &mut Transform), Changed<OrbitCamera>>) {
    for (orbit, mut tf) in &mut cams {
        *tf = orbit.transform();
    }
}

/// A 1 m grid around the camera's focus, on the ground.
fn draw_grid(mut gizmos: Gizmos, cam: Query<&OrbitCamera>) {
    let focus = cam.single().map_or(Vec3::ZERO, |c| c.focus);
    let centre = Vec3::new(focus.x.round(), GRID_HEIGHT, focus.z.round());
    gizmos.grid(
        Isometry3d::new(centre, Quat::from_rotation_x(std::f32::consts::FRAC_PI_2)),
        UVec2::splat(GRID_CELLS),
        Vec2::splat(1.0),
        Color::srgba(0.25, 0.25, 0.25, 0.55),
    );
}
