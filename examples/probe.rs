use virel_lab::envs::make;
fn main() {
    let name = std::env::args().nth(1).unwrap_or("half_cheetah".into());
    let mode = std::env::args().nth(2).unwrap_or("zero".into());
    let mut env = make(&name).unwrap();
    let obs = env.reset(Some(0));
    println!("obs0 {:?}", &obs);
    let n = env.action_space().dim();
    let t0 = std::time::Instant::now();
    let mut total = 0.0;
    for k in 0..1000 {
        let a: Vec<f32> = match mode.as_str() {
            "zero" => vec![0.0; n],
            "max" => vec![1.0; n],
            _ => (0..n)
                .map(|i| ((k as f32) * 0.1 + i as f32).sin())
                .collect(),
        };
        let s = env.step(&a);
        total += s.reward;
        if k % 200 == 0 || s.terminated {
            println!(
                "k {k} r {:.3} term {} obs {:?}",
                s.reward,
                s.terminated,
                &s.obs[..4.min(s.obs.len())]
            );
        }
        if s.terminated {
            break;
        }
    }
    println!(
        "return {total:.1}, {:.0} steps/s",
        1000.0 / t0.elapsed().as_secs_f64()
    );
}
