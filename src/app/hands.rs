//! [`HandsPlugin`]: hands on the robot. Ctrl + left drag on a body pulls it with a spring
//! toward the cursor (`sim::Push`, applied on the run's training thread at every step while
//! held; the transitions it causes enter the replay buffer like any other), drawn as a line
//! from the body's centre of mass to the target, as MuJoCo's viewer does. With
//! [`LabSettings::contacts`] on, every contact point gets an arrow of the force on the robot.

use super::camera::OrbitCamera;
use super::lab::{LabRequest, LabSettings, LabSystems, RunId, Runs};
use super::resolution::cursor_in_view;
use super::view::{Lanes, scene_to_world};
use crate::scene::spec::Shape;
use crate::sim::{Push, body_origin};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;

/// How far from the cursor's ray a body can be grabbed, m.
const GRAB_RADIUS: f32 = 0.25;
/// A target that moved less than this is not sent again, m.
const RESEND_DISTANCE: f32 = 0.01;
/// Length of a contact arrow for a force of the robot's whole weight, m.
const ARROW_PER_WEIGHT: f32 = 0.5;
/// Colour of the spring and of the target.
const SPRING: Color = Color::srgb(1.0, 0.85, 0.2);
/// Colour of contact arrows.
const CONTACT: Color = Color::srgb(0.2, 0.55, 1.0);

/// The body the user holds, if any.
#[derive(Resource, Default, Debug)]
pub struct Hand(pub Option<Grab>);

/// A held body.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grab {
    /// Its run.
    pub run: RunId,
    /// Its copy.
    pub copy: usize,
    /// The body, scene order.
    pub body: usize,
    /// Distance from the camera along the cursor's ray at which it was grabbed: the target
    /// moves in that sphere.
    depth: f32,
    /// The last target sent, copy frame (`None` until the first).
    sent: Option<Vec3>,
}

/// Ctrl + drag pushes; contact arrows.
pub struct HandsPlugin;

impl Plugin for HandsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Hand>().add_systems(
            Update,
            (grab_with_ctrl_drag, draw_spring, draw_contact_arrows)
                .chain()
                .after(LabSystems::Camera),
        );
    }
}

/// Scene frame of a copy → Bevy world.
fn to_world(p: Vec3, lane: Vec3) -> Vec3 {
    scene_to_world() * (p + lane)
}

/// Points of each body of `copy` of `run` worth grabbing (geom centres and capsule ends),
/// Bevy world.
fn grab_points(runs: &Runs, lanes: &Lanes, run: RunId, copy: usize) -> Vec<(usize, Vec3)> {
    let Some(view) = runs.get(run) else {
        return Vec::new();
    };
    let (Some(scene), Some(poses)) = (&view.scene, view.frame.poses.get(copy)) else {
        return Vec::new();
    };
    let lane = lanes.offset(runs.lane(run, copy));
    let mut out = Vec::new();
    for (b, (&(t, q), body)) in poses.iter().zip(&scene.bodies).enumerate() {
        let origin = body_origin(scene, b);
        for g in &body.geoms {
            let local: Vec<[f32; 3]> = match g.shape {
                Shape::Capsule { from, to, .. } => {
                    let mid = [
                        (from.0 + to.0) / 2.0,
                        (from.1 + to.1) / 2.0,
                        (from.2 + to.2) / 2.0,
                    ];
                    vec![from.into(), mid, to.into()]
                }
                Shape::Sphere { center, .. } | Shape::Box { center, .. } => vec![center.into()],
            };
            for p in local {
                out.push((b, to_world(t + q * (Vec3::from(p) - origin), lane)));
            }
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn grab_with_ctrl_drag(
    buttons: Option<Res<ButtonInput<MouseButton>>>,
    keys: Option<Res<ButtonInput<KeyCode>>>,
    windows: Query<&Window, With<PrimaryWindow>>,
    cams: Query<(&Camera, &GlobalTransform), With<OrbitCamera>>,
    egui: Option<Res<bevy_egui::input::EguiWantsInput>>,
    runs: Res<Runs>,
    lanes: Res<Lanes>,
    mut hand: ResMut<Hand>,
    mut requests: MessageWriter<LabRequest>,
) {
    let (Some(buttons), Some(keys)) = (buttons, keys) else {
        return; // no input (off-screen recording)
    };
    if !buttons.pressed(MouseButton::Left) {
        if let Some(g) = hand.0.take() {
            info!("let go of copy {} of run {}", g.copy, g.run);
            requests.write(LabRequest::Push {
                run: g.run,
                copy: g.copy,
                push: None,
            });
        }
        return;
    }
    let ray = windows
        .single()
        .ok()
        .and_then(|w| Some((w, w.cursor_position()?)))
        .zip(cams.single().ok())
        .and_then(|((w, cursor), (cam, tf))| {
            cam.viewport_to_world(tf, cursor_in_view(w, cam, cursor)?)
                .ok()
        });
    let Some(ray) = ray else {
        return;
    };
    let ctrl = keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]);
    let over_ui = egui.is_some_and(|e| e.wants_any_pointer_input());
    if buttons.just_pressed(MouseButton::Left) && ctrl && !over_ui {
        let mut best: Option<(f32, Grab)> = None;
        let mut nearest = f32::INFINITY;
        for view in &runs.live {
            for copy in 0..view.copies {
                for (body, p) in grab_points(&runs, &lanes, view.id, copy) {
                    let along = (p - ray.origin).dot(*ray.direction);
                    let off = (p - (ray.origin + *ray.direction * along)).length();
                    nearest = nearest.min(off);
                    if along > 0.0 && off < GRAB_RADIUS && best.is_none_or(|(d, _)| off < d) {
                        best = Some((
                            off,
                            Grab {
                                run: view.id,
                                copy,
                                body,
                                depth: along,
                                sent: None,
                            },
                        ));
                    }
                }
            }
        }
        hand.0 = best.map(|(_, g)| g);
        match &hand.0 {
            Some(g) => info!(
                "pushing body {} of copy {} of run {}",
                g.body, g.copy, g.run
            ),
            None => debug!(
                "Ctrl + click: no body within {GRAB_RADIUS} m of the cursor's ray (nearest \
                 {nearest:.2} m; ray {ray:?})"
            ),
        }
    }
    let Some(g) = hand.0.as_mut() else {
        return;
    };
    let lane = lanes.offset(runs.lane(g.run, g.copy));
    let target = scene_to_world().inverse() * (ray.origin + *ray.direction * g.depth) - lane;
    if g.sent
        .is_none_or(|sent| sent.distance(target) > RESEND_DISTANCE)
    {
        g.sent = Some(target);
        requests.write(LabRequest::Push {
            run: g.run,
            copy: g.copy,
            push: Some(Push {
                body: g.body,
                target,
            }),
        });
    }
}

/// The spring of every hand the training threads report: a line from the pushed body's
/// centre of mass to the target, and the target.
fn draw_spring(mut gizmos: Gizmos, runs: Res<Runs>, lanes: Res<Lanes>) {
    for view in &runs.live {
        if let Some((copy, from, to)) = view.frame.push {
            let lane = lanes.offset(runs.lane(view.id, copy));
            let (a, b) = (to_world(from, lane), to_world(to, lane));
            gizmos.line(a, b, SPRING);
            gizmos.sphere(Isometry3d::from_translation(b), 0.04, SPRING);
        }
    }
}

/// An arrow per contact point, the force on the robot, [`ARROW_PER_WEIGHT`] m per robot weight.
fn draw_contact_arrows(
    mut gizmos: Gizmos,
    runs: Res<Runs>,
    lanes: Res<Lanes>,
    settings: Res<LabSettings>,
) {
    if !settings.contacts {
        return;
    }
    for view in &runs.live {
        let Some(scene) = &view.scene else {
            continue;
        };
        let weight = scene.bodies.iter().map(|b| b.mass).sum::<f32>() * 9.81;
        let scale = ARROW_PER_WEIGHT / weight.max(1e-6);
        for (copy, points) in view.frame.contacts.iter().enumerate() {
            let lane = lanes.offset(runs.lane(view.id, copy));
            for &(p, f) in points {
                gizmos.arrow(to_world(p, lane), to_world(p + f * scale, lane), CONTACT);
            }
        }
    }
}
