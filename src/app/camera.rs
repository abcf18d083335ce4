//! [`CameraPlugin`]: an orbit camera (left drag turns, right drag pans, wheel zooms) that can
//! follow a chosen robot copy. Mouse input over the overlay is left to the overlay.

use super::lab::LabState;
use super::view::{Lanes, RenderQuality, scene_to_world};
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy::render::view::Msaa;

/// Orbit parameters; the camera looks at `focus` (Bevy world frame) from `distance` away.
#[derive(Component, Clone, Debug)]
pub struct OrbitCamera {
    pub focus: Vec3,
    /// Radians about the vertical axis.
    pub yaw: f32,
    /// Radians above the horizon.
    pub pitch: f32,
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
                (fit_lanes, orbit_with_mouse, follow_copy, place_camera)
                    .chain()
                    .after(super::training::TrainingSet),
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
    if buttons.pressed(MouseButton::Left) {
        cam.yaw -= d.x * 0.006;
        cam.pitch = (cam.pitch + d.y * 0.006).clamp(-0.1, 1.5);
    }
    if buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle) {
        let right = Vec3::new(cam.yaw.cos(), 0.0, -cam.yaw.sin());
        let forward = Vec3::new(-cam.yaw.sin(), 0.0, -cam.yaw.cos());
        let k = cam.distance * 0.0015;
        cam.focus += (-right * d.x + forward * d.y) * k;
        cam.follow = false;
    }
    let lines = match scroll.unit {
        MouseScrollUnit::Line => scroll.delta.y,
        MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
    };
    cam.distance = (cam.distance * 0.9f32.powf(lines)).clamp(1.0, 200.0);
}

/// Frames all copies when a run's robots are (re)spawned.
fn fit_lanes(lanes: Res<Lanes>, mut cams: Query<&mut OrbitCamera>) {
    if !lanes.is_changed() || lanes.count == 0 {
        return;
    }
    for mut cam in &mut cams {
        cam.distance = (3.5 + 0.55 * lanes.spacing * lanes.count as f32).min(40.0);
    }
}

fn follow_copy(
    state: Res<LabState>,
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
    let Some(&(root, _)) = state.poses.get(state.followed).and_then(|c| c.first()) else {
        return;
    };
    let target = scene_to_world() * (root + lanes.offset(state.followed));
    let target = Vec3::new(target.x, target.y.clamp(0.3, 1.2), target.z);
    let k = if smooth.0 {
        1.0 - (-6.0 * time.delta_secs()).exp()
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
