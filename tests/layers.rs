//! The layers of `src/lib.rs` point one way: every `crate::` path in a module names a module
//! of a lower layer (or its own), and within the app every `super::` path names a plugin
//! before it. A path that points back fails here with the file and the path.

use std::path::{Path, PathBuf};

/// The crate's modules, lowest first; modules on one line share a layer and may not use each
/// other.
const LAYERS: &[&[&str]] = &[
    &["runtime"],
    &["scene"],
    &["sim"],
    &["envs"],
    &["rl"],
    &["training"],
    &["app", "study", "export"],
    &["record", "bench"],
    &["cli"],
];

/// The app's files, in the order they may use each other (`mod.rs` gathers them all).
const APP_ORDER: &[&str] = &[
    "lab",
    "worker",
    "training",
    "video",
    "burnin",
    "recording",
    "view",
    "camera",
    "resolution",
    "hands",
    "overlay",
    "capture",
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module a file under a folder belongs to: its first path component without `.rs`.
fn first_module(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `//` comments (doc links may point anywhere).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers that follow `prefix` in `text`.
fn paths_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut back = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = first_module(rel);
        let Some(own) = layer(&top) else {
            continue; // lib.rs, main.rs
        };
        for used in paths_after(&code(file), "crate::") {
            if let Some(l) = layer(used)
                && used != top
                && l >= own
            {
                back.push(format!("{}: crate::{used}", rel.display()));
            }
        }
    }
    assert!(
        back.is_empty(),
        "paths that point back:\n{}",
        back.join("\n")
    );
    assert!(files.len() > 40, "read only {} files", files.len());
}

#[test]
fn the_app_plugins_use_only_the_files_before_them() {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
    let mut files = Vec::new();
    rust_files(&app, &mut files);
    let mut back = Vec::new();
    let mut read = 0;
    for file in &files {
        let rel = file.strip_prefix(&app).unwrap();
        let nested = rel.components().count() > 1;
        let name = first_module(rel);
        if name == "mod" {
            continue; // the plugin group gathers them all
        }
        let i = APP_ORDER
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("app/{} is not in APP_ORDER", rel.display()));
        read += 1;
        // A file's own tests use `super::` for the file itself.
        let text = code(file);
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut used = paths_after(text, "crate::app::");
        if !nested {
            used.extend(paths_after(text, "super::"));
        }
        for u in used {
            match APP_ORDER.iter().position(|n| *n == u) {
                Some(j) if j >= i && u != name => back.push(format!("app/{}: {u}", rel.display())),
                Some(_) => {}
                None if u == name => {}
                None => back.push(format!("app/{}: {u} (not an app file)", rel.display())),
            }
        }
    }
    assert!(
        back.is_empty(),
        "paths that point back:\n{}",
        back.join("\n")
    );
    assert!(read >= APP_ORDER.len(), "read only {read} app files");
}

/// Where a name from outside the program (a flag, a sweep file, the app's menu, a run folder or
/// a checkpoint) becomes an env: the only files that may resolve one. Below them a run is
/// handed its resolved env and makes its copies from it.
const ENV_BOUNDARIES: &[&str] = &[
    "cli.rs",
    "app/mod.rs",
    "app/training.rs",
    "study/sweep.rs",
    "bench/envs.rs",
    "bench/posterior.rs",
    "training/run.rs",
    "training/mod.rs",
];

#[test]
fn envs_are_resolved_from_their_names_only_where_a_name_enters_the_program() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut make_sites = 0;
    for f in &files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("envs/") {
            continue;
        }
        let text = code(f);
        let makes = text.matches("envs::make(").count();
        let resolves = text.matches("ResolvedEnv::resolve(").count();
        make_sites += makes;
        assert!(
            makes + resolves == 0 || ENV_BOUNDARIES.contains(&rel.as_str()),
            "{rel} resolves an env from its name ({makes} envs::make, {resolves} ResolvedEnv::resolve): take a ResolvedEnv from the caller"
        );
    }
    assert!(
        make_sites <= 4,
        "envs::make at {make_sites} sites: at most four boundaries"
    );
}

/// The longest a function of `src/study/` may be: loading, statistics, figures and tables
/// each stay testable alone.
const STUDY_MAX_LINES: usize = 80;

#[test]
fn no_function_in_the_study_is_longer_than_eighty_lines() {
    let study = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/study");
    let mut files = Vec::new();
    rust_files(&study, &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            let is_fn = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn "]
                .iter()
                .any(|p| trimmed.starts_with(p));
            if !is_fn {
                continue;
            }
            let close = format!("{indent}}}");
            let Some(end) = lines[i + 1..].iter().position(|l| *l == close) else {
                continue;
            };
            let len = end + 2;
            assert!(
                len <= STUDY_MAX_LINES,
                "{}:{}: {} is {len} lines (at most {STUDY_MAX_LINES})",
                f.display(),
                i + 1,
                trimmed
            );
        }
    }
}
