//! Policies out: a checkpoint's deterministic actor exported to ONNX runs in an ONNX runtime
//! (tract) and gives the in-app policy's actions to 1e-5; TorchScript likewise in libtorch.

mod common;

use common::{stderr, torch_lock, virel};
use std::path::Path;
use tch::{Device, Kind, Tensor};
use tract_onnx::prelude::*;
use virel_lab::rl::Algo;
use virel_lab::training::config::{DeviceChoice, TrainConfig};
use virel_lab::training::{Trainer, obs_tensor, tensor_to_vec};

/// A trained-a-little run of `algo` on `env`, saved to `dir`; its trainer for reference.
fn trained(env: &str, algo: Algo, dir: &Path) -> Trainer {
    let mut cfg = TrainConfig::for_env(env);
    cfg.algo = algo;
    cfg.steps = 300;
    cfg.device = DeviceChoice::Cpu;
    cfg.agents.set_learning_starts(100);
    cfg.agents.set_hidden(&[32, 32]);
    let mut t = common::trainer(cfg).unwrap();
    while t.counters.env_steps < t.cfg.steps {
        t.step().unwrap();
    }
    t.save(&dir.join("checkpoint-000000000300.ckpt")).unwrap();
    std::fs::write(dir.join("config.toml"), t.cfg.to_toml()).unwrap();
    t
}

/// 1000 observations spread over what the env shows: its own, and wider.
fn observations(t: &Trainer, n: usize) -> Vec<f32> {
    let dim = t.spec.obs_dim;
    let g = Tensor::randn([n as i64, dim as i64], (Kind::Float, Device::Cpu)) * 2.0;
    let mut v = tensor_to_vec(&g);
    v[..dim].copy_from_slice(&t.env.obs()[..dim]);
    v
}

fn run_onnx(path: &Path, obs: &[f32], dim: usize) -> Vec<f32> {
    let n = obs.len() / dim;
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .unwrap()
        .with_input_fact(0, f32::fact([n, dim]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input: tract_onnx::prelude::Tensor =
        tract_ndarray::Array2::from_shape_vec((n, dim), obs.to_vec())
            .unwrap()
            .into();
    let out = model.run(tvec!(input.into())).unwrap();
    out[0]
        .to_array_view::<f32>()
        .unwrap()
        .iter()
        .copied()
        .collect()
}

/// `virel-lab export` of the run in `dir` to `out`.
fn export_cli(dir: &Path, out: &Path) -> std::process::Output {
    virel(&[
        "export",
        "--checkpoint",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn an_exported_onnx_policy_gives_the_apps_actions_in_an_onnx_runtime() {
    let _torch = torch_lock();
    for (env, algo) in [
        ("pendulum", Algo::Sac),
        ("pendulum", Algo::Td3),
        ("hopper", Algo::Virel),
        ("half_cheetah", Algo::BetaVirel),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let t = trained(env, algo, dir.path());
        let out = dir.path().join("policy.onnx");
        let o = export_cli(dir.path(), &out);
        assert!(o.status.success(), "{env} {algo}: {}", stderr(&o));
        let obs = observations(&t, 1000);
        let ours = tensor_to_vec(
            &t.agent
                .act(&obs_tensor(&obs, t.spec.obs_dim, Device::Cpu), false),
        );
        let theirs = run_onnx(&out, &obs, t.spec.obs_dim);
        let d = max_diff(&ours, &theirs);
        assert!(d <= 1e-5, "{env} {algo}: ONNX differs by {d}");
        // The actions span the env's box: the test compares more than saturated tanh.
        let high = &t.env.action_space().high;
        let inside = ours
            .iter()
            .enumerate()
            .filter(|(i, a)| a.abs() < 0.99 * high[i % high.len()])
            .count();
        assert!(
            inside > ours.len() / 10,
            "{env} {algo}: actions mostly at the bounds"
        );
    }
}

#[test]
fn the_onnx_model_names_its_input_output_and_observation_layout() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let t = trained("hopper", Algo::Sac, dir.path());
    let out = dir.path().join("hopper.onnx");
    let e = virel_lab::export::export(dir.path(), &out, virel_lab::export::Format::Onnx, false)
        .unwrap();
    assert_eq!(e.observation_names.len(), t.spec.obs_dim);
    assert_eq!(e.observation_names[..2], ["rootz", "rooty"]);
    assert!(
        e.observation_names.contains(&"thigh_joint_vel".to_owned()),
        "{:?}",
        e.observation_names
    );
    use prost::Message;
    let m = virel_lab::export::onnx::ModelProto::decode(std::fs::read(&out).unwrap().as_slice())
        .unwrap();
    let g = m.graph.unwrap();
    assert_eq!(g.input[0].name, "observation");
    assert_eq!(g.output[0].name, "action");
    let meta: std::collections::BTreeMap<_, _> = m
        .metadata_props
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(meta["env"], "hopper");
    assert_eq!(meta["algo"], "sac");
    assert_eq!(meta["observation_layout"], e.observation_names.join(","));
    assert_eq!(meta["action_low"], "-1,-1,-1");
    // A second export to the same file is refused; --overwrite replaces it.
    let before = std::fs::read(&out).unwrap();
    let o = export_cli(dir.path(), &out);
    assert!(
        !o.status.success() && stderr(&o).contains("--overwrite"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&out).unwrap(), before);
}

#[test]
fn an_exported_torchscript_policy_gives_the_apps_actions_in_libtorch() {
    let _torch = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let t = trained("pendulum", Algo::Virel, dir.path());
    let out = dir.path().join("policy.pt");
    let o = export_cli(dir.path(), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let obs = observations(&t, 1000);
    let x = obs_tensor(&obs, t.spec.obs_dim, Device::Cpu);
    let ours = tensor_to_vec(&t.agent.act(&x, false));
    let module = tch::CModule::load(&out).unwrap();
    let theirs = tensor_to_vec(&module.forward_ts(&[x]).unwrap());
    let d = max_diff(&ours, &theirs);
    assert!(d <= 1e-5, "TorchScript differs by {d}");
}

#[test]
fn export_refuses_what_holds_no_policy_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.ckpt");
    std::fs::write(&junk, b"not a checkpoint at all").unwrap();
    let out = dir.path().join("p.onnx");
    for (checkpoint, want) in [
        (junk.to_str().unwrap(), "junk.ckpt"),
        (dir.path().to_str().unwrap(), "checkpoint"),
    ] {
        let o = virel(&[
            "export",
            "--checkpoint",
            checkpoint,
            "--out",
            out.to_str().unwrap(),
        ]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{e}");
        assert!(e.contains(want) && !e.contains("panicked"), "{e}");
        assert!(!out.exists(), "nothing written");
    }
    let o = virel(&[
        "export",
        "--checkpoint",
        junk.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(stderr(&o).contains("is a folder"), "{}", stderr(&o));
}
