//! `report --readme FILE`: the report spliced into a Markdown file between two markers.

use crate::training::checkpoint::write_atomically;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Markers around the part of a Markdown file that `report --readme` replaces.
pub const README_BEGIN: &str = "<!-- report:begin -->";
/// See [`README_BEGIN`].
pub const README_END: &str = "<!-- report:end -->";

/// Replaces the text between [`README_BEGIN`] and [`README_END`] in `readme` with `body`, a
/// report written to `out` (its pictures are linked from the readme's folder); the rest of
/// the file is untouched. Refused when the markers are missing.
pub fn splice_readme(readme: &Path, body: &str, out: &Path) -> Result<()> {
    let (text, prefix) = readme_slot(readme, out)?;
    let body = body.replace("](curves-", &format!("]({}/curves-", prefix.display()));
    let (b, e) = (
        text.find(README_BEGIN).expect("checked"),
        text.find(README_END).expect("checked"),
    );
    let spliced = format!("{}{README_BEGIN}\n{body}{}", &text[..b], &text[e..]);
    write_atomically(readme, spliced.as_bytes())
}

/// `to` as seen from the folder `from` (both absolute): `..` up to their common folder, then
/// down.
fn relative(to: &Path, from: &Path) -> PathBuf {
    let (to, from): (Vec<_>, Vec<_>) = (to.components().collect(), from.components().collect());
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out
}

/// The readme's text, checked to hold the markers in order, and the report folder as seen
/// from the readme's folder: what [`splice_readme`] needs, checked before a report is drawn.
pub fn readme_slot(readme: &Path, out: &Path) -> Result<(String, PathBuf)> {
    let abs = |p: &Path| {
        std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))
    };
    let base = abs(readme)?
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default();
    let prefix = relative(&abs(out)?, &base);
    let text = std::fs::read_to_string(readme)
        .with_context(|| format!("cannot read {}", readme.display()))?;
    let (Some(b), Some(e)) = (text.find(README_BEGIN), text.find(README_END)) else {
        bail!(
            "{}: no '{README_BEGIN}' … '{README_END}' markers to put the report between",
            readme.display()
        );
    };
    if e < b {
        bail!(
            "{}: '{README_END}' comes before '{README_BEGIN}'",
            readme.display()
        );
    }
    Ok((text, prefix))
}
