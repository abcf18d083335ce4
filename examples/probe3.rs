use virel_lab::sim::RobotWorld;
fn main() {
    let name = std::env::args().nth(1).unwrap_or("hopper".into());
    let scene = virel_lab::scene::load(&name).unwrap();
    let mut r = RobotWorld::new(&scene).unwrap();
    let n = scene.joints.len() + 3;
    println!("before {:?} {:?}", r.root_state().0, r.hinge_state().0);
    r.perturb(&vec![0.01; n], &vec![0.0; n]);
    println!("after  {:?} {:?}", r.root_state().0, r.hinge_state().0);
    r.step();
    println!("step   {:?} {:?}", r.root_state().0, r.hinge_state().0);
}
