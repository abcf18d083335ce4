//! VIREL's counterexample MDP: maximum-entropy RL prefers the wrong action where VIREL's
//! residual-error temperature recovers the deterministic optimum.

use virel_lab::envs::counterexample::{TabularMdp, boltzmann, merl_a1_closed_form};

#[test]
fn soft_value_iteration_reproduces_the_check_values() {
    for (c, gamma, k1, expected) in [
        (1.0, 0.99, 100, 0.9723),
        (1.0, 0.99, 2, 0.4222),
        (0.1, 0.99, 100, 0.0043),
        (1.0, 0.9, 10, 0.745),
    ] {
        let mdp = TabularMdp::counterexample(k1);
        let q = mdp.soft_value_iteration(c, gamma);
        let pi = boltzmann(&q[0], c);
        assert!(
            (pi[0] - expected).abs() < 5e-4,
            "(c, γ, k1) = ({c}, {gamma}, {k1}): π_merl(a1|s0) = {}, expected {expected}",
            pi[0]
        );
        assert!(
            (pi[0] - merl_a1_closed_form(c, gamma, k1)).abs() < 1e-12,
            "value iteration agrees with the closed form"
        );
    }
}

#[test]
fn merl_prefers_the_suboptimal_action_when_k1_pow_minus_gamma_exp_inv_c_is_below_one() {
    let mdp = TabularMdp::counterexample(100);
    let pi = boltzmann(&mdp.soft_value_iteration(1.0, 0.99)[0], 1.0);
    assert!(
        pi[0] > 0.5,
        "MERL puts {} on a1 although a2 is optimal",
        pi[0]
    );
}

#[test]
fn virel_with_the_exact_q_has_zero_residual_and_puts_all_mass_on_a2() {
    for k1 in [2, 10, 100] {
        let mdp = TabularMdp::counterexample(k1);
        let q_star = mdp.value_iteration(0.99);
        assert_eq!(q_star[0], vec![0.0, 1.0]);
        let eps = mdp.residual_error(&q_star, 0.99, 2.0);
        assert_eq!(eps, 0.0, "ε_ω of the exact Q");
        assert_eq!(boltzmann(&q_star[0], eps), vec![0.0, 1.0], "π_ω = δ(a2)");
    }
}

#[test]
fn residual_error_is_positive_for_a_wrong_q_and_shrinks_the_temperature_as_q_improves() {
    let mdp = TabularMdp::counterexample(10);
    let soft = mdp.soft_value_iteration(1.0, 0.99);
    let eps_soft = mdp.residual_error(&soft, 0.99, 2.0);
    assert!(eps_soft > 0.0);
    // Halfway between the soft Q and Q*: a smaller residual, a sharper policy on a2.
    let q_star = mdp.value_iteration(0.99);
    let mid: Vec<Vec<f64>> = soft
        .iter()
        .zip(&q_star)
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x + y) / 2.0).collect())
        .collect();
    let eps_mid = mdp.residual_error(&mid, 0.99, 2.0);
    assert!(eps_mid < eps_soft, "{eps_mid} < {eps_soft}");
    assert!(boltzmann(&mid[0], eps_mid)[1] > boltzmann(&soft[0], eps_soft)[1]);
}

#[test]
fn both_methods_side_by_side_end_at_merls_fixed_point_and_at_virels_dirac() {
    let mdp = TabularMdp::counterexample(100);
    let rows = mdp.iterations(1.0, 0.99, 2.0, 100);
    let first = &rows[0];
    assert_eq!(first.k, 0);
    assert!((first.merl_a1 - 0.5).abs() < 1e-12 && (first.virel_a1 - 0.5).abs() < 1e-12);
    assert!(first.epsilon > 0.0, "Q = 0 is not Q*: a residual");
    let last = rows.last().unwrap();
    assert!(
        rows.len() <= 5,
        "a horizon-2 MDP converges in a few backups: {rows:?}"
    );
    assert!((last.merl_a1 - 0.9723).abs() < 5e-4, "{last:?}");
    assert_eq!((last.epsilon, last.virel_a1), (0.0, 0.0), "{last:?}");
}

#[test]
fn the_counterexample_command_prints_the_check_value_and_refuses_bad_flags() {
    let bin = env!("CARGO_BIN_EXE_virel-lab");
    let out = std::process::Command::new(bin)
        .args([
            "counterexample",
            "--c",
            "1",
            "--gamma",
            "0.99",
            "--k1",
            "100",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("π(a1|s0) = 0.9723"), "{text}");
    assert!(text.contains("π_ω(a1|s0) = 0.0000 with ε_ω = 0"), "{text}");
    for (args, want) in [
        (["--c", "0"], "--c 0: expected a temperature > 0"),
        (["--gamma", "1"], "--gamma 1: expected a discount in [0, 1)"),
        (["--k1", "0"], "--k1 0: expected 1 to 1000000 actions"),
        (["--p", "0.5"], "--p 0.5: expected a norm ≥ 1"),
    ] {
        let out = std::process::Command::new(bin)
            .arg("counterexample")
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
