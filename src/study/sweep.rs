//! A sweep file (TOML) and the grid of cells it describes: envs × algorithms × named override
//! sets (variants) × seeds, each cell one run folder `env__algo__variant__seed` under the
//! file's `out` folder. A cell is started, resumed, or skipped when finished by
//! [`run_cell`], the one path both the local pool ([`super::pool`]) and a Slurm array task
//! ([`super::slurm`]) take.
//!
//! ```toml
//! name = "five-robots"
//! out = "../../runs/five-robots"        # run folders, relative to this file
//! archive = "runs"                      # finished cells' summary, config, thinned metrics
//! steps = 100_000
//! envs = ["hopper", "half_cheetah"]
//! algos = [["virel", "sac"], ["beta-virel", "td3"]]   # groups, run in this order
//! seeds = [1, 2, 3]
//! [set]                                 # any config key, for every cell
//! eval_every = 10_000
//! [variants.batch]                      # named override sets (default: one, "default")
//! "virel.epsilon_estimator" = "batch"
//! [variants.scale-0.3]                  # a variant of some algorithms only (a tuning grid)
//! algos = ["virel"]
//! "virel.reward_scale" = 0.3
//! [variants_from]                       # variants of another file (`sweep --select`'s picks)
//! file = "selection.toml"
//! take = ["tuned-virel", "tuned-sac"]
//! [select]                              # the rule `sweep --select` applies (see [`super::select`])
//! last_evals = 3
//! normalise = "min-max"
//! aggregate = "iqm"
//! out = "selection.toml"
//! [slurm]
//! time = "48:00:00"
//! ```

use super::select::SelectRule;
use crate::envs::ResolvedEnv;
use crate::rl::Algo;
use crate::training;
use crate::training::checkpoint;
use crate::training::config;
use crate::training::config::{ConfigBuilder, TrainConfig, leaves};
use crate::training::logger;
use crate::training::run_dir;
use crate::training::run_dir::{CONFIG_FILE, FolderInUse, SUMMARY_FILE, read_toml};
use crate::training::{RunSummary, interrupt};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The variant of a sweep without `[variants]`: no overrides.
pub const DEFAULT_VARIANT: &str = "default";
/// Joins the parts of a cell's name; never inside a part.
pub const NAME_SEPARATOR: &str = "__";

/// A sweep file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFileText {
    name: String,
    out: PathBuf,
    #[serde(default)]
    archive: Option<PathBuf>,
    steps: u64,
    envs: Vec<String>,
    algos: toml::Value,
    seeds: Vec<u64>,
    #[serde(default)]
    set: toml::Table,
    #[serde(default)]
    variants: BTreeMap<String, toml::Table>,
    #[serde(default)]
    variants_from: Option<VariantsFrom>,
    #[serde(default)]
    select: Option<SelectRule>,
    #[serde(default)]
    slurm: SlurmSettings,
}

/// `[variants_from]`: variants another file holds (the picks `sweep --select` wrote), taken by
/// name, after the sweep's own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantsFrom {
    /// The file, relative to the sweep file.
    file: PathBuf,
    /// The names of the variants to take.
    take: Vec<String>,
}

impl VariantsFrom {
    /// The variant tables it takes, by name; an error names the file and a missing variant.
    fn read(&self, base: &Path, sweep_file: &Path) -> Result<BTreeMap<String, toml::Table>> {
        let path = base.join(&self.file);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: [variants_from] file: cannot read {}",
                sweep_file.display(),
                path.display()
            )
        })?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message().trim()))?;
        let variants = table
            .get("variants")
            .and_then(toml::Value::as_table)
            .with_context(|| format!("{}: has no [variants] tables", path.display()))?;
        let mut out = BTreeMap::new();
        for name in &self.take {
            let t = variants
                .get(name)
                .and_then(toml::Value::as_table)
                .with_context(|| {
                    format!(
                        "{}: [variants_from] take: {} has no [variants.{name}] (it has {})",
                        sweep_file.display(),
                        path.display(),
                        variants.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                })?;
            out.insert(name.clone(), t.clone());
        }
        Ok(out)
    }
}

/// An algorithm named in a sweep file, by its name in configs (`virel`, `beta-virel`, …);
/// `what` says where (`algos`, `[variants.x] algos`) in the error.
fn parse_algo(file: &Path, what: &str, v: &toml::Value) -> Result<Algo> {
    let name = v.as_str().unwrap_or_default();
    Algo::ALL
        .into_iter()
        .find(|a| a.name() == name)
        .with_context(|| {
            format!(
                "{}: {what}: {v} is not an algorithm ({})",
                file.display(),
                Algo::ALL.map(Algo::name).join(", ")
            )
        })
}

/// `algos`: one list of algorithms, or a list of groups that run one after the other (the
/// claim first).
fn algo_groups(file: &Path, v: &toml::Value) -> Result<Vec<Vec<Algo>>> {
    let algo = |v: &toml::Value| parse_algo(file, "algos", v);
    let Some(items) = v.as_array() else {
        bail!(
            "{}: algos = {v}: expected a list of algorithms, or a list of lists",
            file.display()
        );
    };
    if items.iter().all(toml::Value::is_array) {
        items
            .iter()
            .map(|g| g.as_array().expect("an array").iter().map(algo).collect())
            .collect()
    } else {
        Ok(vec![items.iter().map(algo).collect::<Result<_>>()?])
    }
}

/// The key of a `[variants.NAME]` table that limits the variant to some of the sweep's
/// algorithms (each algorithm's own tuning grid); not a config key.
pub const VARIANT_ALGOS_KEY: &str = "algos";

/// A named override set of a sweep.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Its name, the third part of its cells' names.
    pub name: String,
    /// The algorithms it applies to; `None`: every algorithm of the sweep.
    pub algos: Option<Vec<Algo>>,
    /// `dotted.key = value` overrides, in file order.
    pub overrides: Vec<(String, toml::Value)>,
}

impl Variant {
    /// Whether the variant makes cells of `algo`.
    pub fn applies_to(&self, algo: Algo) -> bool {
        self.algos.as_ref().is_none_or(|a| a.contains(&algo))
    }
}

/// The variants of a sweep file (the one `default` variant where it has none), each checked
/// against the sweep's algorithms.
fn read_variants(
    file: &Path,
    tables: &BTreeMap<String, toml::Table>,
    groups: &[Vec<Algo>],
) -> Result<Vec<Variant>> {
    let mut variants = Vec::new();
    for (name, table) in tables {
        let mut table = table.clone();
        let what = format!("[variants.{name}] {VARIANT_ALGOS_KEY}");
        let algos = match table.remove(VARIANT_ALGOS_KEY) {
            None => None,
            Some(toml::Value::Array(items)) if !items.is_empty() => Some(
                items
                    .iter()
                    .map(|v| parse_algo(file, &what, v))
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(v) => bail!(
                "{}: {what} = {v}: expected a non-empty list of algorithms",
                file.display()
            ),
        };
        if let Some(a) = algos
            .iter()
            .flatten()
            .find(|a| !groups.iter().flatten().any(|g| g == *a))
        {
            bail!(
                "{}: {what}: '{a}' is not one of the sweep's algos",
                file.display()
            );
        }
        let mut overrides = Vec::new();
        leaves("", &table, &mut overrides);
        variants.push(Variant {
            name: name.clone(),
            algos,
            overrides,
        });
    }
    if variants.is_empty() {
        variants.push(Variant {
            name: DEFAULT_VARIANT.to_owned(),
            algos: None,
            overrides: Vec::new(),
        });
    }
    if let Some(a) = groups
        .iter()
        .flatten()
        .find(|a| !variants.iter().any(|v| v.applies_to(**a)))
    {
        bail!(
            "{}: no variant applies to '{a}': add it to a variant's {VARIANT_ALGOS_KEY}, or remove it from algos",
            file.display()
        );
    }
    Ok(variants)
}

/// What an array job asks Slurm for, per cell.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlurmSettings {
    /// Cores per cell (also the cell's torch threads).
    pub cpus_per_task: u32,
    /// GPUs per cell; with any, cells train with `--device cuda`.
    pub gpus: u32,
    /// Time limit per cell, as `sbatch --time` takes it.
    pub time: String,
    /// Slurm partition (`--partition`).
    pub partition: Option<String>,
    /// Slurm account (`--account`).
    pub account: Option<String>,
    /// Cells running at once (`--array=…%N`); none: as many as Slurm allows.
    pub max_parallel: Option<u32>,
    /// Memory per cell, as `sbatch --mem` takes it.
    pub mem: Option<String>,
}

impl Default for SlurmSettings {
    fn default() -> Self {
        Self {
            cpus_per_task: 1,
            gpus: 0,
            time: "24:00:00".into(),
            partition: None,
            account: None,
            max_parallel: None,
            mem: None,
        }
    }
}

/// A sweep: its file, where its runs go, and every cell, in the order they run.
#[derive(Debug)]
pub struct Sweep {
    /// The sweep file, absolute.
    pub file: PathBuf,
    /// The sweep's name (in job names and reports).
    pub name: String,
    /// Folder of the cells' run folders.
    pub out: PathBuf,
    /// Folder where finished cells are copied, thinned, to be committed.
    pub archive: Option<PathBuf>,
    /// Settings of the Slurm job array.
    pub slurm: SlurmSettings,
    /// The cells, in the order they run.
    pub cells: Vec<Cell>,
    /// `--steps N` in place of the file's `steps` (the same grid, longer: finished cells
    /// resume and go on); every process of the sweep is passed it.
    pub steps_override: Option<u64>,
    /// The variants, in the order their cells run.
    pub variants: Vec<Variant>,
    /// The rule `sweep --select` applies to pick each algorithm's variant.
    pub select: Option<SelectRule>,
    /// Each env of the grid, resolved once when the sweep is loaded.
    envs: BTreeMap<String, ResolvedEnv>,
}

/// One run of the grid.
#[derive(Clone, Debug)]
pub struct Cell {
    /// Position in the sweep (the Slurm array index).
    pub index: usize,
    /// The robot (or env).
    pub env: String,
    /// The algorithm.
    pub algo: Algo,
    /// The variant's name (`default` without variants).
    pub variant: String,
    /// The seed.
    pub seed: u64,
    /// The run's config: env preset, `[set]`, the variant, then env, algo, seed and steps.
    pub config: TrainConfig,
}

impl Cell {
    /// `env__algo__variant__seed`, the run folder's name.
    pub fn name(&self) -> String {
        [
            env_label(&self.env),
            self.algo.name().to_owned(),
            self.variant.clone(),
            self.seed.to_string(),
        ]
        .join(NAME_SEPARATOR)
    }
}

/// `a/b/../c` as `a/c`, without touching the file system (the folders need not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The arguments that make another process see the same sweep: `FILE [--steps N]`.
pub fn sweep_args(sweep: &Sweep) -> Vec<String> {
    let mut args = vec![sweep.file.display().to_string()];
    if let Some(n) = sweep.steps_override {
        args.extend(["--steps".to_owned(), n.to_string()]);
    }
    args
}

/// An env as it appears in names: a scene file by its stem.
pub fn env_label(env: &str) -> String {
    if env.ends_with(".ron") || env.contains('/') {
        Path::new(env)
            .file_stem()
            .map_or_else(|| env.to_owned(), |s| s.to_string_lossy().into_owned())
    } else {
        env.to_owned()
    }
}

fn check_part(file: &Path, key: &str, part: &str) -> Result<()> {
    let ok = !part.is_empty()
        && !part.contains(NAME_SEPARATOR)
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !ok {
        bail!(
            "{}: {key} '{part}': a name part is letters, digits, '-', '_' or '.', without '{NAME_SEPARATOR}'",
            file.display()
        );
    }
    Ok(())
}

/// The (variant, algorithm) pairs of a group in the order they run: each algorithm's first
/// variant, then each one's second, and so on (in the group's order), so that a sweep cut
/// short has tried every algorithm alike. With variants of every algorithm this is variant
/// by variant, each with every algorithm.
fn interleaved<'a>(variants: &'a [Variant], group: &[Algo]) -> Vec<(&'a Variant, Algo)> {
    let mut ranked: Vec<(usize, usize, &Variant, Algo)> = Vec::new();
    for (a, &algo) in group.iter().enumerate() {
        let own = variants.iter().filter(|v| v.applies_to(algo));
        ranked.extend(own.enumerate().map(|(rank, v)| (rank, a, v, algo)));
    }
    ranked.sort_by_key(|&(rank, a, ..)| (rank, a));
    ranked
        .into_iter()
        .map(|(_, _, v, algo)| (v, algo))
        .collect()
}

/// Keys the grid sets itself, refused in `[set]` and variants.
const GRID_KEYS: [&str; 4] = ["env", "algo", "seed", "steps"];

impl Sweep {
    /// Reads and expands a sweep file; every cell's config is built and checked, so that a
    /// bad key fails here, naming the file, the table and the key, before anything runs.
    pub fn load(file: &Path) -> Result<Self> {
        Self::load_with_steps(file, None)
    }

    /// [`Sweep::load`], every cell `steps` long instead of the file's `steps`.
    pub fn load_with_steps(file: &Path, steps: Option<u64>) -> Result<Self> {
        let f = read_sweep_file(file)?;
        let file = std::path::absolute(file)
            .with_context(|| format!("cannot resolve {}", file.display()))?;
        let base = file.parent().unwrap_or(Path::new("/"));
        check_part(&file, "name", &f.name)?;
        let groups = algo_groups(&file, &f.algos)?;
        check_sizes(&file, &f, &groups, steps)?;
        let cell_steps = steps.unwrap_or(f.steps);
        let mut set = Vec::new();
        leaves("", &f.set, &mut set);
        let mut tables = f.variants.clone();
        if let Some(from) = &f.variants_from {
            for (name, t) in from.read(base, &file)? {
                if tables.insert(name.clone(), t).is_some() {
                    bail!(
                        "{}: [variants.{name}] is also in [variants_from] take",
                        file.display()
                    );
                }
            }
        }
        let variants = read_variants(&file, &tables, &groups)?;
        check_names(&file, &f, &set, &variants)?;
        let mut cells = Vec::new();
        for group in &groups {
            let pairs = interleaved(&variants, group);
            for &seed in &f.seeds {
                for env in &f.envs {
                    for &(variant, algo) in &pairs {
                        let config = cell_config(
                            &file,
                            env,
                            algo,
                            seed,
                            cell_steps,
                            &set,
                            &variant.name,
                            &variant.overrides,
                        )?;
                        let (index, env, variant) =
                            (cells.len(), env.clone(), variant.name.clone());
                        cells.push(Cell {
                            index,
                            env,
                            algo,
                            variant,
                            seed,
                            config,
                        });
                    }
                }
            }
        }
        check_unique(&file, &cells)?;
        Ok(Self {
            out: normalize(&base.join(&f.out)),
            archive: f.archive.map(|a| normalize(&base.join(a))),
            steps_override: steps,
            variants,
            select: f.select,
            envs: f
                .envs
                .iter()
                .map(|e| Ok((e.clone(), ResolvedEnv::resolve(e)?)))
                .collect::<Result<_>>()?,
            name: f.name,
            slurm: f.slurm,
            cells,
            file,
        })
    }

    /// An env of the grid, as resolved when the sweep was loaded.
    pub fn env(&self, name: &str) -> Result<&ResolvedEnv> {
        self.envs.get(name).with_context(|| {
            format!(
                "'{name}' is not an env of the sweep {}",
                self.file.display()
            )
        })
    }

    /// The variant of a name.
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.name == name)
    }

    /// The cell's run folder.
    pub fn dir(&self, cell: &Cell) -> PathBuf {
        self.out.join(cell.name())
    }

    /// Logs of the cells' processes.
    pub fn log_dir(&self) -> PathBuf {
        self.out.join("logs")
    }

    /// The cell of an index, or an error naming the range.
    pub fn cell(&self, index: usize) -> Result<&Cell> {
        self.cells.get(index).with_context(|| {
            format!(
                "--cell {index}: the sweep {} has cells 0 to {}",
                self.file.display(),
                self.cells.len().saturating_sub(1)
            )
        })
    }

    /// Where each cell stands, read from its folder.
    pub fn states(&self) -> Result<Vec<CellState>> {
        self.cells.iter().map(|c| self.state(c)).collect()
    }

    /// Where the cell stands: not started, partial, done, stale, held by another process or
    /// holding another run; a cell without a run folder whose finished run is in the archive
    /// (a fresh clone of a repository that commits it) is done.
    pub fn state(&self, cell: &Cell) -> Result<CellState> {
        self.state_as(cell, &cell.config)
    }

    /// [`Sweep::state`] for the cell run as `cfg` (its config with the machine's device).
    fn state_as(&self, cell: &Cell, cfg: &TrainConfig) -> Result<CellState> {
        let env = self.env(&cell.env)?;
        let state = cell_state(&self.dir(cell), cfg, env.fingerprint())?;
        if state != CellState::New {
            return Ok(state);
        }
        let Some(archive) = &self.archive else {
            return Ok(state);
        };
        let kept = archive.join(cell.name());
        let (config, summary) = (kept.join(CONFIG_FILE), kept.join(SUMMARY_FILE));
        if !config.exists() || !summary.exists() {
            return Ok(state);
        }
        let own: TrainConfig = read_toml(&config, "an archived run config")?;
        let summary: RunSummary = read_toml(&summary, "an archived run summary")?;
        if own.differences(cfg).is_empty()
            && finished(&summary, cfg.steps)
            && !training::robot_changed(summary.scene.as_deref(), env.fingerprint())
        {
            return Ok(CellState::Archived {
                summary: Box::new(summary),
            });
        }
        Ok(state)
    }
}

/// A sweep file's text, parsed; an error names the file and the line.
fn read_sweep_file(file: &Path) -> Result<SweepFileText> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read sweep file {}", file.display()))?;
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| format!(" (line {})", text[..s.start].lines().count().max(1)))
            .unwrap_or_default();
        anyhow::anyhow!(
            "sweep file {}{line}: {}",
            file.display(),
            e.message().trim()
        )
    })
}

/// At least one env, algorithm and seed, and at least one step per cell.
fn check_sizes(
    file: &Path,
    f: &SweepFileText,
    groups: &[Vec<Algo>],
    steps: Option<u64>,
) -> Result<()> {
    for (key, empty) in [
        ("envs", f.envs.is_empty()),
        ("algos", groups.iter().all(Vec::is_empty)),
        ("seeds", f.seeds.is_empty()),
    ] {
        if empty {
            bail!(
                "{}: {key} is empty: a sweep needs at least one",
                file.display()
            );
        }
    }
    if f.steps == 0 {
        bail!(
            "{}: steps = 0: a cell needs at least 1 env step",
            file.display()
        );
    }
    if steps == Some(0) {
        bail!("--steps 0: a cell needs at least 1 env step");
    }
    Ok(())
}

/// No grid key in `[set]` or a variant; variant and env names that make cell names.
fn check_names(
    file: &Path,
    f: &SweepFileText,
    set: &[(String, toml::Value)],
    variants: &[Variant],
) -> Result<()> {
    let tables = variants
        .iter()
        .map(|v| (format!("variants.{}", v.name), &v.overrides[..]));
    for (table, keys) in std::iter::once(("set".to_owned(), set)).chain(tables) {
        if let Some((k, _)) = keys.iter().find(|(k, _)| GRID_KEYS.contains(&k.as_str())) {
            bail!(
                "{}: [{table}] sets '{k}', which the grid sets for each cell (use envs, algos, seeds, steps)",
                file.display()
            );
        }
    }
    for v in variants {
        check_part(file, "variant", &v.name)?;
    }
    for env in &f.envs {
        check_part(file, "env", &env_label(env))?;
    }
    Ok(())
}

/// Every cell once.
fn check_unique(file: &Path, cells: &[Cell]) -> Result<()> {
    let mut names: Vec<String> = cells.iter().map(Cell::name).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "{}: the cell {} appears twice (an env, algorithm or seed is listed twice)",
            file.display(),
            w[0]
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn cell_config(
    file: &Path,
    env: &str,
    algo: Algo,
    seed: u64,
    steps: u64,
    set: &[(String, toml::Value)],
    variant: &str,
    overrides: &[(String, toml::Value)],
) -> Result<TrainConfig> {
    let mut b = ConfigBuilder::new(None, Some(env))?;
    for (k, v) in set {
        b.set_value(
            k,
            v.clone(),
            &format!("sweep file {} [set]", file.display()),
        )?;
    }
    for (k, v) in overrides {
        let origin = format!("sweep file {} [variants.{variant}]", file.display());
        b.set_value(k, v.clone(), &origin)?;
    }
    let origin = format!("sweep file {}", file.display());
    b.set_flag("env", Some(&env), &format!("{origin} envs"))?;
    b.set_flag("algo", Some(&algo), &format!("{origin} algos"))?;
    b.set_flag("seed", Some(&seed), &format!("{origin} seeds"))?;
    b.set_flag("steps", Some(&steps), &format!("{origin} steps"))?;
    b.build()
        .with_context(|| format!("cell {env} {algo} {variant} seed {seed}"))
}

/// Where a cell's run folder stands.
#[derive(Clone, Debug, PartialEq)]
pub enum CellState {
    /// No run yet.
    New,
    /// Finished its steps.
    Done {
        /// How it ended.
        summary: Box<RunSummary>,
    },
    /// No run folder, but its finished run is in the sweep's archive: not run again.
    Archived {
        /// How it ended.
        summary: Box<RunSummary>,
    },
    /// Checkpointed part of the way: the next invocation resumes it.
    Partial {
        /// Env steps of its newest checkpoint.
        env_steps: u64,
    },
    /// A run that stopped before its first checkpoint: nothing to resume; it is moved aside
    /// and started again.
    Stale,
    /// Another process holds the folder.
    Busy {
        /// The holder's process id.
        pid: String,
    },
    /// The folder holds another run than the cell (the sweep file or a preset changed):
    /// left as it is; these keys differ.
    Foreign {
        /// The keys that differ.
        keys: Vec<String>,
    },
}

impl CellState {
    /// Whether a pool or a job array should run the cell: not finished, not held by another
    /// process, not a folder of another run.
    pub fn is_runnable(&self) -> bool {
        !matches!(
            self,
            CellState::Done { .. }
                | CellState::Archived { .. }
                | CellState::Busy { .. }
                | CellState::Foreign { .. }
        )
    }
}

/// A finished run's steps and final return, as `--status` lists them.
struct Ended<'a>(&'a RunSummary);

impl std::fmt::Display for Ended<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} steps", self.0.env_steps)?;
        match &self.0.final_eval {
            Some(e) => write!(f, ", return {:.1}", e.mean),
            None => Ok(()),
        }
    }
}

impl std::fmt::Display for CellState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellState::New => f.write_str("new"),
            CellState::Done { summary } => write!(f, "done ({})", Ended(summary)),
            CellState::Archived { summary } => write!(f, "done, archived ({})", Ended(summary)),
            CellState::Partial { env_steps } => write!(f, "partial ({env_steps} steps)"),
            CellState::Stale => f.write_str("stopped before its first checkpoint"),
            CellState::Busy { pid } => write!(f, "running (process {pid})"),
            CellState::Foreign { keys } => write!(
                f,
                "holds another run (differs in {}): move it away to run this cell",
                keys.join(", ")
            ),
        }
    }
}

/// Whether a run that ended with `summary` finished a budget of `steps` env steps.
fn finished(summary: &RunSummary, steps: u64) -> bool {
    !summary.interrupted && summary.env_steps >= steps
}

/// Reads the state of the run folder `dir` of a cell whose run is `cfg`, on a robot whose
/// scene's fingerprint is now `fingerprint`.
pub fn cell_state(dir: &Path, cfg: &TrainConfig, fingerprint: Option<&str>) -> Result<CellState> {
    let steps = cfg.steps;
    if !dir.exists() {
        return Ok(CellState::New);
    }
    if let Some(pid) = run_dir::holder(dir) {
        return Ok(CellState::Busy { pid });
    }
    let config = dir.join(CONFIG_FILE);
    if config.exists() {
        let own: TrainConfig = read_toml(&config, "a run config")?;
        let keys = own.differences(cfg);
        if !keys.is_empty() {
            return Ok(CellState::Foreign { keys });
        }
    }
    let checkpoints = checkpoint::list(dir)?;
    let summary_path = dir.join(SUMMARY_FILE);
    if summary_path.exists() {
        let summary: RunSummary = read_toml(&summary_path, "a run summary")?;
        if training::robot_changed(summary.scene.as_deref(), fingerprint) {
            return Ok(CellState::Foreign {
                keys: vec![SCENE_CHANGED.into()],
            });
        }
        if finished(&summary, steps) {
            return Ok(CellState::Done {
                summary: Box::new(summary),
            });
        }
    }
    if let Some(newest) = checkpoints.first() {
        let h = checkpoint::read_header(newest)?;
        if training::robot_changed(h.scene.as_deref(), fingerprint) {
            return Ok(CellState::Foreign {
                keys: vec![SCENE_CHANGED.into()],
            });
        }
        return Ok(CellState::Partial {
            env_steps: h.counters.env_steps,
        });
    }
    if dir.join(CONFIG_FILE).exists() {
        return Ok(CellState::Stale);
    }
    Ok(CellState::New)
}

/// How a run folder whose robot changed under it differs from its cell.
const SCENE_CHANGED: &str = "scene (the robot or its task changed since the run)";

/// What [`run_cell`] did.
#[derive(Debug)]
pub enum CellOutcome {
    /// Already finished before this invocation.
    AlreadyDone,
    /// Trained (started or resumed) to its end, or until a signal.
    Trained(Box<RunSummary>),
}

/// Options of a cell's run that the sweep file leaves to the machine.
#[derive(Clone, Debug)]
pub struct CellOptions {
    /// Overrides the cell's device (a GPU machine runs the CPU sweep with `--device cuda`).
    pub device: Option<config::DeviceChoice>,
    /// Overrides the cell's torch threads (a Slurm task's `cpus_per_task`).
    pub threads: Option<i32>,
    /// How the run tells its progress.
    pub progress: training::Feedback,
}

/// Starts, resumes, or skips cell `index`: the one thing a Slurm array task or a pool worker
/// does. A resumed cell must be the run the sweep describes (same config but for the
/// schedule keys); a cell that stopped before its first checkpoint is moved aside to
/// `NAME.stale-<unix time>` and started again.
pub fn run_cell(sweep: &Sweep, index: usize, opts: &CellOptions) -> Result<CellOutcome> {
    let cell = sweep.cell(index)?;
    let dir = sweep.dir(cell);
    let mut cfg = cell.config.clone();
    if let Some(d) = opts.device {
        cfg.device = d;
    }
    if let Some(t) = opts.threads {
        cfg.torch_threads = t;
    }
    let state = sweep.state_as(cell, &cfg)?;
    let summary = match state {
        CellState::Done { .. } => {
            archive_cell(sweep, cell)?;
            return Ok(CellOutcome::AlreadyDone);
        }
        CellState::Archived { .. } => return Ok(CellOutcome::AlreadyDone),
        CellState::Busy { pid } => {
            return Err(FolderInUse(format!(
                "cell {} ({}) is being trained by process {pid}",
                cell.name(),
                dir.display()
            ))
            .into());
        }
        CellState::Foreign { keys } => bail!(
            "{} holds another run than the sweep's cell {} (it differs in {}): move it away, or change the sweep file back",
            dir.display(),
            cell.name(),
            keys.join(", ")
        ),
        CellState::Partial { .. } => training::resume(
            &dir,
            |c| {
                c.steps = cfg.steps;
                c.device = cfg.device;
                c.torch_threads = cfg.torch_threads;
                Ok(())
            },
            opts.progress,
        )?,
        CellState::Stale => {
            let aside = dir.with_file_name(format!(
                "{}.stale-{}",
                cell.name(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            ));
            std::fs::rename(&dir, &aside).with_context(|| {
                format!("cannot move {} aside to {}", dir.display(), aside.display())
            })?;
            eprintln!(
                "{} stopped before its first checkpoint: moved to {}, starting again",
                dir.display(),
                aside.display()
            );
            training::run(cfg, sweep.env(&cell.env)?, &dir, opts.progress)?
        }
        CellState::New => training::run(cfg, sweep.env(&cell.env)?, &dir, opts.progress)?,
    };
    if !summary.interrupted {
        archive_cell(sweep, cell)?;
    }
    Ok(CellOutcome::Trained(Box::new(summary)))
}

/// The exit status of `sweep --cell K` when another process holds the cell's folder
/// (sysexits' EX_TEMPFAIL): the pool then leaves the cell to that process.
pub const BUSY_EXIT: u8 = 75;

/// Whether an error of [`run_cell`] means that another process holds the cell.
pub fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<FolderInUse>())
}

/// The exit status of a cell's process: 0, or 128 + the signal that stopped it.
pub fn exit_code(outcome: &CellOutcome) -> u8 {
    match outcome {
        CellOutcome::Trained(s) if s.interrupted => interrupt::exit_code(),
        _ => 0,
    }
}

/// Env steps between the rows kept of each training metric in an archived `metrics.csv`
/// (evaluations are all kept).
pub const ARCHIVE_EVERY: u64 = 1_000;

/// Copies a finished cell's config, summary and thinned metrics to the sweep's archive.
pub fn archive_cell(sweep: &Sweep, cell: &Cell) -> Result<()> {
    let Some(archive) = &sweep.archive else {
        return Ok(());
    };
    let from = sweep.dir(cell);
    let to = archive.join(cell.name());
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    for f in [CONFIG_FILE, SUMMARY_FILE] {
        let bytes = std::fs::read(from.join(f))
            .with_context(|| format!("cannot read {}", from.join(f).display()))?;
        checkpoint::write_atomically(&to.join(f), &bytes)?;
    }
    let metrics = from.join(logger::METRICS_FILE);
    let text = std::fs::read_to_string(&metrics)
        .with_context(|| format!("cannot read {}", metrics.display()))?;
    checkpoint::write_atomically(
        &to.join(logger::METRICS_FILE),
        thin_metrics(&text, ARCHIVE_EVERY).as_bytes(),
    )
}

/// Keeps the header, every `eval/` row, and of each other metric the first row in each
/// window of `every` env steps.
pub fn thin_metrics(csv: &str, every: u64) -> String {
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    let mut out = String::new();
    for (i, line) in csv.lines().enumerate() {
        let mut parts = line.splitn(4, ',');
        let (step, metric) = (parts.next(), parts.nth(1));
        let keep = i == 0
            || match (step.and_then(|s| s.parse::<u64>().ok()), metric) {
                (Some(step), Some(m)) if !m.starts_with("eval/") => {
                    let window = step / every.max(1);
                    let fresh = last.get(m).is_none_or(|&w| w != window);
                    if fresh {
                        last.insert(m, window);
                    }
                    fresh
                }
                _ => true,
            };
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
