//! The algorithms, each described once. An algorithm is its own module, which defines its
//! [`AlgoInfo`] (name, label, colour, config table, temperature, memory shape, the knobs the
//! app offers, constructor), plus one variant of [`Algo`] and one line in [`Algo::info`] and
//! [`Algo::ALL`] here. Training, the app, the benches, sweeps and reports read the
//! descriptor; none of them matches on the algorithm.

use super::{Agent, AgentSpec, AlgoConfigs, ReplaySettings, sac, td3, virel};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::Device;

/// The algorithms a run can use.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Algo {
    /// VIREL, temperature = ε_ω.
    #[default]
    Virel,
    /// β-VIREL, temperature = beta_scale·ε_ω.
    BetaVirel,
    /// Soft Actor-Critic with automatic α.
    Sac,
    /// Twin Delayed DDPG.
    Td3,
}

impl Algo {
    /// Every algorithm, in the order the app and `--help` list them.
    pub const ALL: [Algo; 4] = [Algo::Virel, Algo::BetaVirel, Algo::Sac, Algo::Td3];

    /// The algorithm's descriptor.
    pub fn info(self) -> &'static AlgoInfo {
        match self {
            Algo::Virel => &virel::VIREL,
            Algo::BetaVirel => &virel::BETA_VIREL,
            Algo::Sac => &sac::SAC,
            Algo::Td3 => &td3::TD3,
        }
    }

    /// The name in configs and on the command line: `virel`, `beta-virel`, `sac`, `td3`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The table of a config file that holds this algorithm's hyper-parameters.
    pub fn config_table(self) -> &'static str {
        self.info().config_table
    }

    /// The symbol of [`Agent::temperature`]'s quantity: ε_ω (both VIREL variants), α (SAC),
    /// σ (TD3's exploration noise).
    pub fn temperature_symbol(self) -> &'static str {
        self.info().temperature_symbol
    }

    /// The symbol of T in the posterior π ∝ exp(Q̂/T) the actor is fitted to
    /// ([`Agent::posterior_temperature`]); TD3 has none.
    pub fn posterior_temperature_symbol(self) -> Option<&'static str> {
        self.info().posterior_temperature_symbol
    }

    /// The name people read: in the overlay, in reports.
    pub fn display_name(self) -> &'static str {
        self.info().display_name
    }

    /// The algorithm whose label people read, if any.
    pub fn by_display_name(label: &str) -> Option<Algo> {
        Algo::ALL.into_iter().find(|a| a.display_name() == label)
    }
}

impl std::fmt::Display for Algo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The algorithm this lab studies: the default of runs and the app, and what the benches of
/// VIREL's own pieces (ε_ω's estimators, the posterior panel) time.
pub const SUBJECT: Algo = Algo::Virel;

/// The algorithm reports compare with (probability of improvement) and benches time against.
pub const BASELINE: Algo = Algo::Sac;

/// What sizes an algorithm's update, for the memory check: its networks, its minibatches and
/// its replay buffer.
#[derive(Clone, Debug)]
pub struct UpdateShape<'a> {
    /// Hidden widths of the actor and of each critic.
    pub hidden: &'a [i64],
    /// Minibatch of a gradient step.
    pub batch_size: i64,
    /// A larger minibatch some steps score (VIREL's ε_ω pass); 0 for none.
    pub extra_batch: i64,
    /// Actor outputs per action dimension (2: mean and log σ; 1: a deterministic action).
    pub actor_outputs: f64,
    /// Actor copies (2 with a target actor).
    pub actor_copies: f64,
    /// The replay buffer and the start of learning.
    pub replay: ReplaySettings,
    /// The actor's and the critics' learning rates.
    pub learning_rates: (f64, f64),
}

/// How the app shows a [`Knob`].
#[derive(Clone, Copy, Debug)]
pub enum KnobKind {
    /// A number on a logarithmic slider.
    Log {
        /// Lowest value.
        lo: f64,
        /// Highest value.
        hi: f64,
    },
    /// A number on a linear slider.
    Linear {
        /// Lowest value.
        lo: f64,
        /// Highest value.
        hi: f64,
    },
    /// A whole number on a slider.
    Whole {
        /// Lowest value.
        lo: i64,
        /// Highest value.
        hi: i64,
    },
    /// On or off.
    Toggle,
    /// One of some strings: (value, what the menu says).
    Choice(&'static [(&'static str, &'static str)]),
}

impl KnobKind {
    /// Whether a config value has the type this kind edits.
    pub fn fits(&self, v: &toml::Value) -> bool {
        matches!(
            (self, v),
            (
                KnobKind::Log { .. } | KnobKind::Linear { .. },
                toml::Value::Float(_)
            ) | (KnobKind::Whole { .. }, toml::Value::Integer(_))
                | (KnobKind::Toggle, toml::Value::Boolean(_))
                | (KnobKind::Choice(_), toml::Value::String(_))
        )
    }
}

/// A hyper-parameter the app offers before a run starts, by its key in the algorithm's table.
#[derive(Clone, Copy, Debug)]
pub struct Knob {
    /// The key in the algorithm's config table (`q_lr`).
    pub key: &'static str,
    /// What the app calls it.
    pub label: &'static str,
    /// How it is shown.
    pub kind: KnobKind,
    /// Shown only while another key of the table has this (string) value.
    pub shown_if: Option<(&'static str, &'static str)>,
}

impl Knob {
    /// A learning rate: a log slider from 1e-5 to 1e-2.
    pub const fn learning_rate(key: &'static str, label: &'static str) -> Self {
        Self {
            key,
            label,
            kind: KnobKind::Log { lo: 1e-5, hi: 1e-2 },
            shown_if: None,
        }
    }
}

/// Everything the rest of the program knows of an algorithm.
pub struct AlgoInfo {
    /// The name in configs, sweep files and on the command line.
    pub name: &'static str,
    /// The name people read.
    pub display_name: &'static str,
    /// Its colour in reports' pictures (RGB).
    pub colour: [u8; 3],
    /// The config table of its hyper-parameters (VIREL's two variants share `virel`).
    pub config_table: &'static str,
    /// The symbol of the quantity that sets how much it explores.
    pub temperature_symbol: &'static str,
    /// The symbol of T in the posterior π ∝ exp(Q̂/T) its actor is fitted to, if any.
    pub posterior_temperature_symbol: Option<&'static str>,
    /// The metric its temperature is logged under.
    pub temperature_metric: &'static str,
    /// The key that freezes its temperature at a value, for the control that asks whether
    /// the temperature's movement matters or only its level (`sweep --select` writes it).
    pub fixed_temperature_key: Option<&'static str>,
    /// Whether Stable-Baselines3 and SBX have it under the same name (`bench training`'s peers).
    pub has_python_peers: bool,
    /// What the app offers to set before a run.
    pub knobs: &'static [Knob],
    /// Keys of its config table it never reads (VIREL's `beta_scale`, which only β-VIREL
    /// reads): two of its runs that differ only there are the same run.
    pub unread_keys: &'static [&'static str],
    /// What sizes its update.
    pub shape: for<'a> fn(&'a AlgoConfigs) -> UpdateShape<'a>,
    /// Its agent for an env on a device.
    pub build: fn(&AlgoConfigs, &AgentSpec, Device) -> Result<Box<dyn Agent>>,
}
