//! [`ResolutionPlugin`]: the window's 3D view is drawn into an image at a share of the window's
//! resolution ([`RenderQuality::resolution`]) and stretched over the window behind the overlay,
//! which keeps full resolution. On a software renderer a frame costs about its pixel count
//! (llvmpipe on 2 cores, README "The app's speed"): half the width and height is a quarter of
//! the pixels. The share is chosen at start from the adapter unless given
//! (`app --resolution`), and changed in the Run window.
//!
//! Two cameras: the orbit camera ([`super::camera`]) renders the scene into [`ViewImage`]; a
//! screen camera on the window carries the egui overlay, which paints the image on its
//! background layer. `record` renders on an image of its own and leaves this plugin out.

use super::camera::OrbitCamera;
use super::lab::LabSystems;
use super::view::RenderQuality;
use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureFormat};
use bevy::render::renderer::RenderAdapterInfo;
use bevy::render::view::Msaa;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiGlobalSettings, EguiPrimaryContextPass, EguiTextureHandle};
use bevy_egui::{PrimaryEguiContext, egui};
use wgpu_types::DeviceType;

/// The share of the window's width and height a software renderer draws the 3D view at.
pub const SOFTWARE_RESOLUTION: f32 = 0.5;
/// The smallest share accepted (`--resolution`, the Run window's slider).
pub const MIN_RESOLUTION: f32 = 0.25;

/// The image the orbit camera renders the window's 3D view into.
#[derive(Resource, Clone)]
pub struct ViewImage(pub Handle<Image>);

/// The window's 3D view at a share of its resolution, under the overlay.
pub struct ResolutionPlugin;

impl Plugin for ResolutionPlugin {
    fn build(&self, app: &mut App) {
        // The overlay belongs to the screen camera, not to the first camera spawned.
        app.insert_resource(EguiGlobalSettings {
            auto_create_primary_context: false,
            ..default()
        });
        let image = Image::new_target_texture(1, 1, TextureFormat::Rgba8UnormSrgb, None);
        let handle = app.world_mut().resource_mut::<Assets<Image>>().add(image);
        app.insert_resource(ViewImage(handle))
            .add_systems(Startup, (choose_resolution, spawn_screen_camera))
            .add_systems(
                Update,
                (render_view_to_image, fit_view_image)
                    .chain()
                    .in_set(LabSystems::View),
            )
            .add_systems(EguiPrimaryContextPass, paint_view_image);
    }
}

/// The share for this adapter: [`SOFTWARE_RESOLUTION`] on a CPU renderer, the whole window on a
/// GPU.
pub fn share_for(device_type: DeviceType) -> f32 {
    match device_type {
        DeviceType::Cpu => SOFTWARE_RESOLUTION,
        _ => 1.0,
    }
}

fn choose_resolution(adapter: Option<Res<RenderAdapterInfo>>, mut quality: ResMut<RenderQuality>) {
    if quality.resolution.is_some() {
        return;
    }
    let Some(adapter) = adapter else {
        quality.resolution = Some(1.0);
        return;
    };
    let share = share_for(adapter.device_type);
    info!(
        "3D view at {:.0}% of the window's width and height on {} ({:?}); --resolution changes it",
        share * 100.0,
        adapter.name,
        adapter.device_type
    );
    quality.resolution = Some(share);
}

fn spawn_screen_camera(mut commands: Commands) {
    commands.spawn((
        Camera2d,
        Camera {
            order: 1,
            ..default()
        },
        Msaa::Off,
        PrimaryEguiContext,
    ));
}

fn render_view_to_image(
    mut commands: Commands,
    image: Res<ViewImage>,
    cams: Query<Entity, Added<OrbitCamera>>,
) {
    for cam in &cams {
        commands
            .entity(cam)
            .insert(RenderTarget::from(image.0.clone()));
    }
}

/// The image's size for a window of `physical` pixels at `share` of its width and height.
pub fn view_size(physical: UVec2, share: f32) -> UVec2 {
    (physical.as_vec2() * share)
        .round()
        .as_uvec2()
        .max(UVec2::ONE)
}

/// Keeps the image at the window's size times the share.
fn fit_view_image(
    quality: Res<RenderQuality>,
    windows: Query<&Window, With<PrimaryWindow>>,
    image: Res<ViewImage>,
    mut images: ResMut<Assets<Image>>,
) {
    let (Ok(window), Some(share)) = (windows.single(), quality.resolution) else {
        return;
    };
    let size = view_size(window.physical_size(), share);
    let Some(current) = images.get(&image.0).map(|i| i.size()) else {
        return;
    };
    if current != size
        && let Some(mut img) = images.get_mut(&image.0)
    {
        img.resize(Extent3d {
            width: size.x,
            height: size.y,
            depth_or_array_layers: 1,
        });
    }
}

/// The 3D view, stretched over the whole window behind every egui window.
fn paint_view_image(mut contexts: EguiContexts, image: Res<ViewImage>) -> Result {
    let texture = contexts.add_image(EguiTextureHandle::Weak(image.0.id()));
    let ctx = contexts.ctx_mut()?;
    let rect = ctx.content_rect();
    ctx.layer_painter(egui::LayerId::background()).image(
        texture,
        rect,
        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
        egui::Color32::WHITE,
    );
    Ok(())
}

/// The camera's viewport position under a window cursor: the cursor scaled from the window's
/// logical size to the camera's target (the view image).
pub fn cursor_in_view(window: &Window, camera: &Camera, cursor: Vec2) -> Option<Vec2> {
    let view = camera.logical_viewport_size()?;
    rescale(cursor, Vec2::new(window.width(), window.height()), view)
}

/// A point of a `from`-sized rectangle at the same relative place in a `to`-sized one.
pub fn rescale(point: Vec2, from: Vec2, to: Vec2) -> Option<Vec2> {
    (from.min_element() > 0.0).then(|| point * to / from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_software_renderer_draws_half_the_width_and_height_and_a_gpu_all_of_it() {
        assert_eq!(share_for(DeviceType::Cpu), SOFTWARE_RESOLUTION);
        for gpu in [
            DeviceType::DiscreteGpu,
            DeviceType::IntegratedGpu,
            DeviceType::Other,
        ] {
            assert_eq!(share_for(gpu), 1.0);
        }
    }

    #[test]
    fn the_view_image_is_the_window_times_the_share_rounded_and_never_empty() {
        assert_eq!(view_size(UVec2::new(1280, 800), 0.5), UVec2::new(640, 400));
        assert_eq!(view_size(UVec2::new(1281, 801), 0.5), UVec2::new(641, 401));
        assert_eq!(view_size(UVec2::new(1280, 800), 1.0), UVec2::new(1280, 800));
        assert_eq!(view_size(UVec2::new(1, 1), 0.25), UVec2::ONE);
        assert_eq!(view_size(UVec2::ZERO, 0.5), UVec2::ONE);
    }

    #[test]
    fn a_cursor_lands_on_the_same_place_of_the_smaller_view() {
        let (window, view) = (Vec2::new(1280.0, 800.0), Vec2::new(640.0, 400.0));
        assert_eq!(
            rescale(Vec2::new(640.0, 200.0), window, view),
            Some(Vec2::new(320.0, 100.0))
        );
        assert_eq!(rescale(Vec2::ZERO, window, view), Some(Vec2::ZERO));
        assert_eq!(rescale(window, window, view), Some(view));
        assert_eq!(rescale(Vec2::ONE, Vec2::ZERO, view), None);
    }
}
