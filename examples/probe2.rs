use virel_lab::sim::RobotWorld;
fn main() {
    let name = std::env::args().nth(1).unwrap_or("half_cheetah".into());
    let mut scene = virel_lab::scene::load(&name).unwrap();
    if std::env::args().nth(2).as_deref() == Some("nomotor") {
        for j in &mut scene.joints {
            j.stiffness = 0.0;
            j.damping = 0.0;
        }
    }
    if std::env::args().nth(3).as_deref() == Some("noarm") {
        for j in &mut scene.joints {
            j.armature = 0.0;
        }
    }
    let mut r = RobotWorld::new(&scene).unwrap();
    for k in 0..300 {
        r.set_actions(&vec![0.0; scene.actuators.len()]);
        r.step();
        if k < 5 || k % 50 == 0 {
            let (q, _) = r.root_state();
            let (h, _) = r.hinge_state();
            println!("{k} root {:?} hinges {:?}", q, &h[..3.min(h.len())]);
        }
    }
}
