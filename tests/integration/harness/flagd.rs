//! The OpenFeature project's own flagd evaluator (flagd-core, installed by scripts/setup-tests in
//! scripts/flagd-reference), as the reference for the files runner writes: its strict parse
//! validates against the published flagd schemas (flags.json and targeting.json), and its
//! evaluation is what an application with the flagd provider would get.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::cli::repo_root;

fn reference() -> Command {
    let dir = repo_root().join("scripts/flagd-reference");
    assert!(
        dir.join("node_modules/@openfeature/flagd-core").is_dir(),
        "the flagd reference is not installed in {}: run scripts/setup-tests",
        dir.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("reference.js"));
    cmd
}

/// Panics with the schema's findings unless every file is a valid flagd flag definition.
pub fn assert_valid(files: &[PathBuf]) {
    let out = reference()
        .arg("validate")
        .args(files)
        .output()
        .expect("node runs (scripts/setup-tests installs nodejs)");
    assert!(
        out.status.success(),
        "not valid against the flagd schema:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What flagd serves each of the targeting keys `prefix`0 .. `prefix`(n-1) for boolean flag
/// `flag` of `file`: a string of 0 (off) and 1 (on).
pub fn evaluate(file: &Path, flag: &str, prefix: &str, n: usize) -> String {
    let out = reference()
        .arg("evaluate")
        .arg(file)
        .args([flag, prefix, &n.to_string()])
        .output()
        .expect("node runs (scripts/setup-tests installs nodejs)");
    assert!(
        out.status.success(),
        "flagd-core could not evaluate {flag}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
