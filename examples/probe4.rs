use virel_lab::sim::RobotWorld;
fn main() {
    let scene = virel_lab::scene::load("ant").unwrap();
    let mut r = RobotWorld::new(&scene).unwrap();
    for k in 0..200 {
        let a: Vec<f32> = (0..8)
            .map(|i| ((k as f32) * 0.1 + i as f32).sin())
            .collect();
        r.set_actions(&a);
        for _ in 0..5 {
            r.step();
        }
        if k % 40 == 0 {
            let p = r.body_poses();
            println!(
                "{k} torso {:?} leg1 {:?} hinges {:?}",
                p[0].translation,
                p[1].translation,
                &r.hinge_state().0[..3]
            );
        }
    }
}
