//! `--since GIT_REF`: the migration files added or changed since a git ref.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};

/// Files of `dir` (its own level) added or changed since `reference`, untracked ones included.
pub fn changed_since(dir: &Path, reference: &str) -> Result<HashSet<String>> {
    git(dir, &["rev-parse", "--verify", "--quiet", &format!("{reference}^{{commit}}")])
        .map_err(|_| Error::Usage(format!("--since {reference}: not a commit in the git repository of {}; fetch it first (e.g. `git fetch origin main`)", dir.display())))?;
    let diff = git(
        dir,
        &["diff", "--name-only", "--relative", reference, "--", "."],
    )?;
    let untracked = git(
        dir,
        &["ls-files", "--others", "--exclude-standard", "--", "."],
    )?;
    Ok(diff
        .lines()
        .chain(untracked.lines())
        // Relative to the folder: `V1__a.sql`, or `2019-02-26-002946_x/up.sql` in a layout
        // of one folder per migration.
        .map(String::from)
        .collect())
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| Error::Usage(format!("--since needs git, which could not run: {e}")))?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
