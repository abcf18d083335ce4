//! The documentation holds together: every relative link in the README, the docs pages and the
//! studies' pages resolves to a file of the repository, the README stays short, and nothing
//! points at files outside the repository.

use std::path::{Component, Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every Markdown page a reader finds: the README, `docs/`, and the studies' pages.
fn pages() -> Vec<PathBuf> {
    let mut out = vec![root().join("README.md")];
    let mut walk = vec![root().join("docs"), root().join("studies")];
    while let Some(dir) = walk.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    out
}

/// The targets of `[text](target)` and `![alt](target)` links.
fn links(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            let end = rest.find(')')?;
            Some(
                rest[..end]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

/// `a/b/../c` as `a/c`, without the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[test]
fn every_relative_link_of_the_docs_resolves_to_a_file_of_the_repository() {
    let root = root();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for link in links(&text) {
            if link.is_empty() || link.starts_with('#') || link.contains("://") {
                continue;
            }
            let path = link.split('#').next().unwrap();
            let target = normalize(&page.parent().unwrap().join(path));
            assert!(
                target.starts_with(&root),
                "{}: '{link}' points outside the repository",
                page.display()
            );
            assert!(
                target.exists(),
                "{}: '{link}' does not resolve ({} is missing)",
                page.display(),
                target.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked > 20,
        "only {checked} links found: the link reader is broken"
    );
}

#[test]
fn the_readme_is_short_and_links_every_docs_page() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 350, "README.md has {lines} lines (at most 350)");
    for e in std::fs::read_dir(root().join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            let name = format!("docs/{}", p.file_name().unwrap().to_string_lossy());
            assert!(
                readme.contains(&format!("]({name})")),
                "the README does not link {name}"
            );
        }
    }
}

#[test]
fn nothing_in_the_repository_points_at_the_design_notes_outside_it() {
    let mut files = pages();
    let mut walk = vec![
        root().join("src"),
        root().join("studies"),
        root().join("scripts"),
    ];
    while let Some(dir) = walk.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk.push(p);
            } else if p
                .extension()
                .is_some_and(|x| ["rs", "toml", "py", "sh", "md"].contains(&&*x.to_string_lossy()))
            {
                files.push(p);
            }
        }
    }
    let outside = ["shared", "/"].concat();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(
            !text.contains(&outside) && !text.contains("REFERENCE.md"),
            "{} points at notes a user does not have",
            f.display()
        );
    }
}
