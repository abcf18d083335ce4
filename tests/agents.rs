//! The tch agents: ε_ω against a hand computation, learning the identity task, seeded
//! determinism, and checkpoints that restore the same policy and let training go on.

mod common;
use common::torch_lock;
use tch::{Device, Kind, Tensor};
use virel_lab::rl::buffer::Batch;
use virel_lab::rl::soft_actor_critic::{SoftActorCritic, SoftActorCriticConfig};
use virel_lab::rl::virel::{
    EpsilonEstimator, PASS_CHUNK, RunningEpsilon, Virel, residual_error, residual_error_in_chunks,
};
use virel_lab::rl::{AgentSpec, Algo};
use virel_lab::training::config::{DeviceChoice, TrainConfig};
use virel_lab::training::{Trainer, obs_tensor, seed_torch, tensor_to_vec};

fn config(env: &str, algo: Algo, steps: u64, seed: u64) -> TrainConfig {
    let mut cfg = TrainConfig::for_env(env);
    cfg.algo = algo;
    cfg.steps = steps;
    cfg.seed = seed;
    cfg.device = DeviceChoice::Cpu;
    cfg
}

fn train(cfg: TrainConfig) -> Trainer {
    let mut t = common::trainer(cfg).unwrap();
    while t.counters.env_steps < t.cfg.steps {
        t.step().unwrap();
    }
    t
}

fn row(t: &Tensor, i: i64) -> Vec<f64> {
    let r = t.get(i).to_kind(Kind::Double).view([-1]);
    (0..r.size()[0]).map(|j| r.double_value(&[j])).collect()
}

/// An actor and twin critics of `hidden` layers for `obs_dim` observations and actions in
/// [`low`, `high`], on the CPU.
fn actor_critic(low: &[f32], high: &[f32], obs_dim: usize, hidden: &[i64]) -> SoftActorCritic {
    let spec = AgentSpec {
        env: "t".into(),
        obs_dim,
        act_dim: low.len(),
        act_low: low.to_vec(),
        act_high: high.to_vec(),
    };
    let cfg = SoftActorCriticConfig {
        hidden,
        actor_lr: 1e-3,
        critic_lr: 1e-3,
        log_std_bounds: (-5.0, 2.0),
    };
    SoftActorCritic::new(&spec, cfg, Device::Cpu).unwrap()
}

#[test]
fn epsilon_equals_the_hand_computed_residual_on_a_tiny_batch() {
    let _torch = torch_lock();
    tch::manual_seed(11);
    let nets = actor_critic(&[-1.0], &[1.0], 2, &[8]);
    let t = |v: &[f32], cols: i64| Tensor::from_slice(v).view([-1, cols]);
    let batch = Batch {
        obs: t(&[0.1, -0.2, 0.5, 0.3, -0.7, 0.9], 2),
        actions: t(&[0.4, -0.6, 0.9], 1),
        rewards: Tensor::from_slice(&[1.0f32, -0.5, 0.25]),
        next_obs: t(&[0.0, 0.1, 0.6, -0.4, 0.2, 0.2], 2),
        dones: Tensor::from_slice(&[0.0f32, 1.0, 0.0]),
    };
    let gamma = 0.9;
    for p in [2.0, 1.5] {
        tch::manual_seed(5);
        let eps = residual_error(&nets, &batch, gamma, p);
        // Same seed → the same a'₁, a'₂ ~ π(s') as inside residual_error.
        tch::manual_seed(5);
        let next_obs = Tensor::cat(&[&batch.next_obs, &batch.next_obs], 0);
        let next_a = tch::no_grad(|| nets.actor.sample(&next_obs).0); // π(s') twice, then 2n draws
        let q_sa = tch::no_grad(|| nets.critic.forward(&batch.obs, &batch.actions));
        let q_next = tch::no_grad(|| nets.critic.forward(&next_obs, &next_a));
        let (r, d) = (
            row(&batch.rewards.view([1, -1]), 0),
            row(&batch.dones.view([1, -1]), 0),
        );
        let (q1n, q2n) = (row(&q_next, 0), row(&q_next, 1));
        // y_k(j) = r + γ(1 − d)·min(Q₁, Q₂)(s'_j, a'_k(j)); sample k of row j sits at j + 3k.
        let y =
            |k: usize, j: usize| r[j] + gamma * (1.0 - d[j]) * q1n[j + 3 * k].min(q2n[j + 3 * k]);
        let mut by_hand = 0.0;
        for i in 0..2 {
            let q = row(&q_sa, i);
            let term = |j: usize| {
                if p == 2.0 {
                    (q[j] - y(0, j)) * (q[j] - y(1, j))
                } else {
                    (q[j] - (y(0, j) + y(1, j)) / 2.0).abs().powf(p)
                }
            };
            by_hand += (0..3).map(term).sum::<f64>() / 3.0 / p / 2.0;
        }
        let by_hand = by_hand.max(0.0);
        assert!(
            (eps - by_hand).abs() < 1e-6 * by_hand.max(1e-3),
            "p = {p}: ε_ω = {eps}, by hand {by_hand}"
        );
    }
}

/// The authors' pass scored in pieces (a piece size that does not divide the batch, so the
/// last piece is shorter) gives the one-piece value to float tolerance, for p = 2 and p ≠ 2;
/// another seed's draws a'₁, a'₂ give another value, so the draws do reach the score.
#[test]
fn the_authors_pass_scored_in_pieces_equals_the_pass_in_one_piece() {
    let _torch = torch_lock();
    tch::manual_seed(3);
    let nets = actor_critic(&[-1.0, -2.0], &[1.0, 2.0], 3, &[32, 32]);
    let n = 1000;
    let f = (Kind::Float, Device::Cpu);
    let batch = Batch {
        obs: Tensor::randn([n, 3], f),
        actions: Tensor::rand([n, 2], f) * 2.0 - 1.0,
        rewards: Tensor::randn([n], f) * 3.0,
        next_obs: Tensor::randn([n, 3], f),
        dones: Tensor::rand([n], f).gt(0.9).to_kind(Kind::Float),
    };
    assert!(n > PASS_CHUNK, "the default piece size splits this batch");
    for p in [2.0, 1.5] {
        let at = |seed: i64, chunk: i64| {
            tch::manual_seed(seed);
            residual_error_in_chunks(&nets, &batch, 0.99, p, chunk)
        };
        let whole = at(7, n);
        assert!(whole > 0.0, "p = {p}: ε_ω {whole}");
        for chunk in [1, 96, PASS_CHUNK] {
            let pieces = at(7, chunk);
            assert!(
                (pieces / whole - 1.0).abs() < 1e-5,
                "p = {p}, pieces of {chunk}: {pieces} vs one piece {whole}"
            );
        }
        tch::manual_seed(7);
        assert_eq!(residual_error(&nets, &batch, 0.99, p), at(7, PASS_CHUNK));
        let other = at(8, n);
        assert!(
            (other / whole - 1.0).abs() > 1e-4,
            "p = {p}: seeds 7 and 8 gave {whole} and {other}"
        );
    }
}

/// ReLU in place over each layer's output (`nets::relu_in_place`) leaves a network's
/// outputs and gradients those of the same layers written with a separate ReLU.
#[test]
fn networks_with_relu_in_place_have_the_outputs_and_gradients_of_plain_relu() {
    use virel_lab::rl::nets::Mlp;
    let _torch = torch_lock();
    tch::manual_seed(4);
    let f = (Kind::Float, Device::Cpu);
    let layers: Vec<(Tensor, Tensor)> = [(5, 16), (16, 16), (16, 3)]
        .iter()
        .map(|&(i, o)| {
            (
                Tensor::randn([i, o], f).set_requires_grad(true),
                Tensor::randn([o], f).set_requires_grad(true),
            )
        })
        .collect();
    let x = Tensor::randn([64, 5], f);
    let grads = |out: Tensor| {
        out.square().sum(None).backward();
        let g: Vec<Tensor> = layers
            .iter()
            .flat_map(|(w, b)| [w.grad().copy(), b.grad().copy()])
            .collect();
        for (w, b) in &layers {
            let _ = w.grad().zero_();
            let _ = b.grad().zero_();
        }
        (out.detach(), g)
    };
    let mlp = Mlp::from_layers(
        layers
            .iter()
            .map(|(w, b)| (w.shallow_clone(), b.shallow_clone()))
            .collect(),
    );
    let (out, g) = grads(mlp.forward(&x));
    let mut plain = x.shallow_clone();
    for (i, (w, b)) in layers.iter().enumerate() {
        plain = plain.matmul(w) + b;
        if i + 1 < layers.len() {
            plain = plain.relu();
        }
    }
    let (out_plain, g_plain) = grads(plain);
    assert!(relative_error(&out, &out_plain) < 1e-6);
    let first = tch::no_grad(|| x.matmul(&layers[0].0) + &layers[0].1);
    assert!(
        first.lt(0.0).any().int64_value(&[]) == 1,
        "the first ReLU cuts nothing: the test would not see it"
    );
    for (i, (a, b)) in g.iter().zip(&g_plain).enumerate() {
        assert!(
            b.norm().double_value(&[]) > 0.0,
            "parameter {i} has no gradient"
        );
        assert!(
            relative_error(a, b) < 1e-5,
            "gradient of parameter {i} off by {:.2e}",
            relative_error(a, b)
        );
    }
}

#[test]
fn every_algorithm_learns_the_identity_task() {
    let _torch = torch_lock();
    for algo in Algo::ALL {
        let t = train(config("identity", algo, 600, 1));
        let r = t.evaluate(5).unwrap();
        assert!(
            r.mean >= 90.0,
            "{algo}: identity return {} < 90 of 100 after 600 steps",
            r.mean
        );
    }
}

#[test]
fn evaluations_of_different_seeds_start_from_different_states() {
    let _torch = torch_lock();
    // Untrained networks of one init: only the start states can tell the returns apart.
    let returns = |seed: u64| {
        let mut t = common::trainer(config("pendulum", Algo::Sac, 1, seed)).unwrap();
        seed_torch(7);
        t.agent = t.cfg.build_agent(&t.spec, t.device).unwrap();
        t.evaluate(10).unwrap().returns
    };
    let (one, two) = (returns(1), returns(2));
    assert_eq!(one, returns(1), "an evaluation repeats itself");
    let shared: Vec<_> = one.iter().filter(|r| two.contains(r)).collect();
    assert!(
        shared.is_empty(),
        "seeds 1 and 2 share evaluation episodes with returns {shared:?}"
    );
}

#[test]
fn seeded_cpu_runs_are_identical() {
    let _torch = torch_lock();
    for algo in [Algo::Virel, Algo::Td3] {
        let mut cfg = config("pendulum", algo, 500, 42);
        cfg.agents.set_learning_starts(300);
        cfg.agents.virel.hidden = vec![64, 64];
        cfg.agents.td3.hidden = vec![64, 64];
        cfg.agents.virel.epsilon_batch_size = 256;
        let run = |cfg: TrainConfig| {
            let mut t = common::trainer(cfg).unwrap();
            let mut returns = Vec::new();
            let mut losses = Vec::new();
            while t.counters.env_steps < t.cfg.steps {
                let r = t.step().unwrap();
                returns.extend(r.episodes.iter().map(|e| e.episode_return));
                losses.extend(r.update.into_iter().flatten().map(|m| m.1));
            }
            (returns, losses)
        };
        let (a, b) = (run(cfg.clone()), run(cfg.clone()));
        assert!(!a.0.is_empty() && !a.1.is_empty());
        assert_eq!(a, b, "{algo}: same seed, same returns and losses");
        cfg.seed = 43;
        assert_ne!(run(cfg).1, a.1, "{algo}: another seed gives another run");
    }
}

#[test]
fn save_then_load_gives_identical_deterministic_actions_and_temperature_and_training_continues() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.ckpt");
    for algo in Algo::ALL {
        let mut cfg = config("pendulum", algo, 400, 3);
        cfg.agents.set_learning_starts(200);
        cfg.agents.virel.epsilon_batch_size = 128;
        let trained = train(cfg.clone());
        trained.save(&path).unwrap();

        let mut restored = common::trainer(TrainConfig {
            seed: 99,
            ..cfg.clone()
        })
        .unwrap();
        let obs = obs_tensor(
            &(0..30).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(),
            3,
            Device::Cpu,
        );
        assert_ne!(
            tensor_to_vec(&trained.agent.act(&obs, false)),
            tensor_to_vec(&restored.agent.act(&obs, false))
        );
        restored.load(&path).unwrap();
        assert_eq!(
            tensor_to_vec(&trained.agent.act(&obs, false)),
            tensor_to_vec(&restored.agent.act(&obs, false)),
            "{algo}"
        );
        assert_eq!(restored.counters, trained.counters);
        assert_eq!(
            restored.agent.posterior_temperature(),
            trained.agent.posterior_temperature(),
            "{algo}: a loaded policy keeps its temperature (VIREL's ε_ω is a scalar, not a weight)"
        );

        restored.cfg.steps = 700;
        let mut updates = 0;
        while restored.counters.env_steps < restored.cfg.steps {
            updates += usize::from(restored.step().unwrap().update.is_some());
        }
        assert_eq!(
            updates, 300,
            "{algo}: training goes on from the restored counters"
        );
    }
}

#[test]
fn loading_a_checkpoint_of_another_env_or_algorithm_is_refused() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity.ckpt");
    common::trainer(config("identity", Algo::Sac, 10, 1))
        .unwrap()
        .save(&path)
        .unwrap();
    let err = format!(
        "{:#}",
        common::trainer(config("pendulum", Algo::Sac, 10, 1))
            .unwrap()
            .load(&path)
            .unwrap_err()
    );
    assert!(
        err.contains("identity.ckpt") && err.contains("trained on env 'identity'"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        common::trainer(config("identity", Algo::Td3, 10, 1))
            .unwrap()
            .load(&path)
            .unwrap_err()
    );
    assert!(
        err.contains("holds a sac agent, this run trains td3"),
        "{err}"
    );
}

#[test]
fn epsilon_is_re_estimated_every_epsilon_every_gradient_steps() {
    let _torch = torch_lock();
    let mut cfg = config("pendulum", Algo::Virel, 212, 1);
    cfg.agents.set_learning_starts(200);
    cfg.agents.virel.epsilon_estimator = EpsilonEstimator::Batch;
    cfg.agents.virel.epsilon_batch_size = 128;
    cfg.agents.virel.epsilon_every = 3;
    let mut t = common::trainer(cfg).unwrap();
    let mut eps = Vec::new();
    while t.counters.env_steps < t.cfg.steps {
        if let Some(m) = t.step().unwrap().update {
            eps.push(m.iter().find(|x| x.0 == "virel/epsilon").unwrap().1);
        }
    }
    assert_eq!(
        eps.len(),
        13,
        "updates from env step 200 (learning_starts) to 212"
    );
    for (k, pair) in eps.windows(2).enumerate().map(|(i, w)| (i + 1, w)) {
        if k % 3 == 0 {
            assert_ne!(pair[0], pair[1], "update {k} re-estimates ε_ω");
        } else {
            assert_eq!(pair[0], pair[1], "update {k} keeps ε_ω");
        }
    }
}

#[test]
fn the_running_epsilon_is_one_before_any_score_then_the_mean_of_equal_scores() {
    let mut r = RunningEpsilon::default();
    assert_eq!(r.value(), 1.0);
    let lambda = RunningEpsilon::lambda(64, 4096);
    // An exponential average with weight λ has the variance of a plain mean of (2 − λ)/λ
    // scores: 4096/64 = 64 minibatches of 64, i.e. 4096 transitions.
    assert!(((2.0 - lambda) / lambda - 64.0).abs() < 1e-9);
    r.add(0.37, lambda);
    assert!(
        (r.value() - 0.37).abs() < 1e-12,
        "bias-corrected from the first score"
    );
    for _ in 0..500 {
        r.add(0.37, lambda);
    }
    assert!((r.value() - 0.37).abs() < 1e-12);
    r.add(-5.0, 1.0);
    assert_eq!(r.value(), 0.0, "floored at 0");
}

/// On a critic that does not move, the running estimate from 64-transition minibatches
/// approaches what the authors' pass measures on the whole buffer (65536 draws from it): over
/// many windows' worth of minibatches it stays within 10% of that value, as does one
/// 4096-transition pass.
#[test]
fn the_running_epsilon_tracks_the_authors_pass_on_a_frozen_critic() {
    let _torch = torch_lock();
    let mut cfg = config("pendulum", Algo::Virel, 20_000, 5);
    cfg.agents.set_learning_starts(20_000);
    let mut t = common::trainer(cfg.clone()).unwrap();
    while t.counters.env_steps < t.cfg.steps {
        t.step().unwrap();
    }
    let spec = t.spec.clone();
    let mut agent = Virel::new(&spec, cfg.agents.virel.clone(), false, Device::Cpu).unwrap();
    let reference = agent.epsilon_on(&t.buffer, 1 << 16);
    let pass = agent.estimate_epsilon(&t.buffer).unwrap();
    assert!(
        (pass / reference - 1.0).abs() < 0.1,
        "4096-pass {pass} vs whole buffer {reference}"
    );
    let window = 4096 / 64;
    for w in 0..10 {
        let mut value = 0.0;
        for _ in 0..window {
            value = agent.observe_residual(&t.buffer);
        }
        assert!(
            (value / reference - 1.0).abs() < 0.1,
            "after {} minibatches: running {value} vs whole buffer {reference}",
            (w + 1) * window
        );
    }
}

/// The overlay's action plots: each distribution's density integrates to 1 over the action
/// bounds (the clipped Gaussian's mass beyond them is negligible here), and its mode is the
/// deterministic action.
#[test]
fn action_distribution_densities_integrate_to_one_over_the_bounds() {
    use virel_lab::rl::policy::ActionDistribution;
    let (low, high) = (-2.0f32, 2.0f32);
    let tanh = ActionDistribution::TanhGaussian {
        mean: vec![0.3, -1.0],
        std: vec![0.5, 0.2],
    };
    let clipped = ActionDistribution::ClippedGaussian {
        mean: vec![0.5],
        std: vec![0.2],
    };
    let n = 200_000;
    let integral = |d: &ActionDistribution, j: usize| -> f32 {
        let h = (high - low) / n as f32;
        (0..n)
            .map(|k| d.density(j, low + (k as f32 + 0.5) * h, low, high) * h)
            .sum()
    };
    for (d, j) in [(&tanh, 0), (&tanh, 1), (&clipped, 0)] {
        let m = integral(d, j);
        assert!((m - 1.0).abs() < 5e-3, "dimension {j}: mass {m}");
    }
    assert!((tanh.mode(0, low, high) - 0.3f32.tanh() * 2.0).abs() < 1e-6);
    assert_eq!(clipped.mode(0, low, high), 0.5);
    assert_eq!(tanh.density(0, 2.5, low, high), 0.0);
}

/// Adam over one flat buffer per network takes the same steps as Adam applied tensor by
/// tensor (torch.optim.Adam's update, written out here), to float tolerance.
#[test]
fn adam_over_one_flat_buffer_equals_adam_tensor_by_tensor() {
    use virel_lab::rl::nets::Mlp;
    use virel_lab::rl::optim::{Adam, BETA1, BETA2, EPS};
    let _torch = torch_lock();
    tch::manual_seed(3);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let mlp = Mlp::new(&vs.root(), &[5, 16, 16, 3]);
    let mut reference: Vec<Tensor> = vs
        .trainable_variables()
        .iter()
        .map(|p| p.detach().copy().set_requires_grad(true))
        .collect();
    let lr = 1e-2;
    let mut opt = Adam::new(&vs, lr);
    let x = Tensor::randn([32, 5], (Kind::Float, Device::Cpu));
    let y = Tensor::randn([32, 3], (Kind::Float, Device::Cpu));
    let forward = |params: &[Tensor]| {
        let mut h = x.shallow_clone();
        for (i, wb) in params.chunks(2).enumerate() {
            h = wb[1].addmm(&h, &wb[0]);
            if i < 2 {
                h = h.relu();
            }
        }
        (h - &y).square().mean(None)
    };
    let mut m: Vec<Tensor> = reference.iter().map(Tensor::zeros_like).collect();
    let mut v: Vec<Tensor> = reference.iter().map(Tensor::zeros_like).collect();
    for t in 1..=5 {
        let loss = (mlp.forward(&x) - &y).square().mean(None);
        let ref_loss = forward(&reference);
        assert!(
            (loss.double_value(&[]) - ref_loss.double_value(&[])).abs() < 1e-6,
            "step {t}: losses differ"
        );
        opt.backward_step(&loss);
        for p in &mut reference {
            p.zero_grad();
        }
        ref_loss.backward();
        tch::no_grad(|| {
            for ((p, m), v) in reference.iter_mut().zip(&mut m).zip(&mut v) {
                let g = p.grad();
                *m = &*m * BETA1 + &g * (1.0 - BETA1);
                *v = &*v * BETA2 + g.square() * (1.0 - BETA2);
                let m_hat = &*m / (1.0 - BETA1.powi(t));
                let v_hat = &*v / (1.0 - BETA2.powi(t));
                let _ = p.g_sub_(&(m_hat * lr / (v_hat.sqrt() + EPS)));
            }
        });
        for (i, (p, r)) in vs.trainable_variables().iter().zip(&reference).enumerate() {
            let diff = (p - r).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "step {t}, tensor {i}: differs by {diff}");
        }
    }
}

/// PyTorch's fused Adam kernel (the CPU's step) moves a network's variables and moments as
/// the nine-kernel step over the whole buffer (the step on other devices) does, step by step.
#[test]
fn fused_adam_step_equals_the_unfused_step() {
    use virel_lab::rl::nets::Mlp;
    use virel_lab::rl::optim::Adam;
    let _torch = torch_lock();
    tch::manual_seed(5);
    let (a, b) = (
        tch::nn::VarStore::new(Device::Cpu),
        tch::nn::VarStore::new(Device::Cpu),
    );
    let (net_a, net_b) = (
        Mlp::new(&a.root(), &[7, 32, 32, 4]),
        Mlp::new(&b.root(), &[7, 32, 32, 4]),
    );
    let mut b = b;
    b.copy(&a).unwrap();
    let (mut fused, mut unfused) = (Adam::new(&a, 3e-3), Adam::new(&b, 3e-3));
    let x = Tensor::randn([64, 7], (Kind::Float, Device::Cpu));
    let y = Tensor::randn([64, 4], (Kind::Float, Device::Cpu));
    for t in 1..=20 {
        for (net, opt, fuse) in [(&net_a, &mut fused, true), (&net_b, &mut unfused, false)] {
            let loss = (net.forward(&x) - &y).square().mean(None);
            opt.zero_grad();
            loss.backward();
            if fuse {
                opt.step_fused();
            } else {
                opt.step_unfused();
            }
        }
        assert_eq!(fused.steps, unfused.steps);
        for (i, (p, q)) in a
            .trainable_variables()
            .iter()
            .zip(&b.trainable_variables())
            .enumerate()
        {
            let diff = (p - q).abs().max().double_value(&[]);
            assert!(diff < 1e-6, "step {t}, variable {i}: differs by {diff}");
        }
        for ((name, m), (_, n)) in fused.state().iter().zip(&unfused.state()) {
            let diff = (m.to_kind(Kind::Double) - n.to_kind(Kind::Double))
                .abs()
                .max()
                .double_value(&[]);
            assert!(diff < 1e-7, "step {t}, {name}: differs by {diff}");
        }
    }
}

/// The polyak update of flattened networks moves every variable of the target as the
/// per-variable update would, and the networks' variables stay views into their buffers.
#[test]
fn polyak_update_of_flat_buffers_equals_the_per_variable_update() {
    use virel_lab::rl::nets::{Mlp, flatten, polyak_update};
    let _torch = torch_lock();
    tch::manual_seed(4);
    let (target, online) = (
        tch::nn::VarStore::new(Device::Cpu),
        tch::nn::VarStore::new(Device::Cpu),
    );
    let (_t, _o) = (
        Mlp::new(&target.root(), &[4, 8, 2]),
        Mlp::new(&online.root(), &[4, 8, 2]),
    );
    let tau = 0.3;
    let expected: Vec<Tensor> = target
        .trainable_variables()
        .iter()
        .zip(online.trainable_variables())
        .map(|(t, o)| tch::no_grad(|| t * (1.0 - tau) + o * tau))
        .collect();
    let (target_flat, online_flat) = (flatten(&target), flatten(&online));
    polyak_update(&target_flat, &online_flat, tau);
    for (i, (t, e)) in target
        .trainable_variables()
        .iter()
        .zip(&expected)
        .enumerate()
    {
        let diff = (t - e).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "variable {i}: differs by {diff}");
    }
}

/// TD3's actor loss follows Q₁ alone: `TwinQ::q1` equals the first row of the fused pass.
#[test]
fn the_first_critic_alone_equals_the_first_row_of_the_twin_pass() {
    use virel_lab::rl::nets::TwinQ;
    let _torch = torch_lock();
    tch::manual_seed(5);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let twin = TwinQ::new(&vs.root(), 3, 2, &[16, 16]);
    let obs = Tensor::randn([7, 3], (Kind::Float, Device::Cpu));
    let act = Tensor::randn([7, 2], (Kind::Float, Device::Cpu));
    let diff = (twin.q1(&obs, &act) - twin.forward(&obs, &act).get(0))
        .abs()
        .max()
        .double_value(&[]);
    assert!(diff < 1e-6, "differs by {diff}");
}

/// Relative error of `a` against `b`: ‖a − b‖ / ‖b‖.
fn relative_error(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[])
}

/// `hidden_matmul = "bfloat16"`: the networks' outputs equal float32's to bfloat16's precision
/// (8 bits of mantissa, ~0.4%) and every parameter's gradient to a few percent (backward
/// passes through the bfloat16 layer), more than ten times closer than the gradients of two
/// float32 minibatches are to each other; they do differ from float32's (the bfloat16 path
/// runs); Q₁ alone and Q at one state follow the same precision.
#[test]
fn bfloat16_hidden_multiplies_give_float32_outputs_and_gradients_to_bfloat16_precision() {
    use virel_lab::rl::nets::{HiddenMatmul, Mlp, TwinQ};
    let _torch = torch_lock();
    tch::manual_seed(11);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let mut twin = TwinQ::new(&(vs.root() / "q"), 17, 6, &[256, 256]);
    let mut mlp = Mlp::new(&(vs.root() / "pi"), &[17, 256, 256, 12]);
    let batch = || {
        (
            Tensor::randn([256, 17], (Kind::Float, Device::Cpu)),
            Tensor::randn([256, 6], (Kind::Float, Device::Cpu)),
        )
    };
    let ((obs, act), (obs2, act2)) = (batch(), batch());
    let pass = |twin: &TwinQ, mlp: &Mlp, obs: &Tensor, act: &Tensor| {
        let q = twin.forward(obs, act);
        let out = mlp.forward(obs);
        for mut v in vs.trainable_variables() {
            v.zero_grad();
        }
        (q.square().mean(None) + out.square().mean(None)).backward();
        let grads: Vec<Tensor> = vs
            .trainable_variables()
            .iter()
            .map(|v| v.grad().copy())
            .collect();
        (q.detach(), out.detach(), grads)
    };
    let (q32, out32, grads32) = pass(&twin, &mlp, &obs, &act);
    let (_, _, other32) = pass(&twin, &mlp, &obs2, &act2);
    twin.set_hidden_matmul(HiddenMatmul::Bfloat16);
    mlp.set_hidden_matmul(HiddenMatmul::Bfloat16);
    let (q16, out16, grads16) = pass(&twin, &mlp, &obs, &act);
    for (what, e) in [
        ("Q", relative_error(&q16, &q32)),
        ("MLP", relative_error(&out16, &out32)),
    ] {
        assert!(e > 1e-6, "{what}: bfloat16 gave float32's outputs exactly");
        assert!(e < 1e-2, "{what}: bfloat16 outputs off by {e:.2e}");
    }
    assert_eq!(grads32.len(), 12);
    for (i, ((g16, g32), other)) in grads16.iter().zip(&grads32).zip(&other32).enumerate() {
        let (e, noise) = (relative_error(g16, g32), relative_error(other, g32));
        assert!(e < 5e-2, "gradient of parameter {i} off by {e:.2e}");
        assert!(
            e * 10.0 < noise,
            "gradient of parameter {i} off by {e:.2e}, another minibatch's by {noise:.2e}"
        );
    }
    let q1 = twin.q1(&obs, &act);
    assert!(
        relative_error(&q1, &q16.get(0)) < 1e-6,
        "Q₁ alone is not Q₁ of the pass"
    );
    let one = obs.narrow(0, 0, 1);
    let at_one = twin.forward(&one, &act);
    let repeated = twin.forward(&one.expand([256, 17], false).contiguous(), &act);
    let e = relative_error(&at_one, &repeated);
    assert!(e < 1e-2, "Q at one state off by {e:.2e} in bfloat16");
}

#[test]
fn every_algorithm_learns_the_identity_task_with_bfloat16_hidden_multiplies() {
    use virel_lab::rl::nets::HiddenMatmul;
    let _torch = torch_lock();
    for algo in Algo::ALL {
        let mut cfg = config("identity", algo, 600, 1);
        cfg.agents.hidden_matmul = HiddenMatmul::Bfloat16;
        let t = train(cfg);
        let r = t.evaluate(5).unwrap();
        assert!(
            r.mean >= 90.0,
            "{algo}: identity return {} < 90 of 100 after 600 steps in bfloat16",
            r.mean
        );
    }
}
