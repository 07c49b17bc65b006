//! `runner check [PATH...]`: the pre-deploy CI gate.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::catalog::Catalog;
use crate::cli::{CheckArgs, CheckFormat};
use crate::config::{Config, Dialect};
use crate::error::{Error, ExitCode, Result};
use crate::lint::{Options, Report, Rule, check_catalog};
use crate::report::findings;

/// What to check: a migrations folder, and optionally only some of its files.
struct Target {
    dir: PathBuf,
    files: Option<HashSet<String>>,
}

pub fn run(config: Option<&Config>, args: &CheckArgs) -> Result<ExitCode> {
    let dialect = args
        .dialect
        .map(Dialect::from)
        .or(config.map(|c| c.dialect.value))
        .unwrap_or(Dialect::Postgres);
    let disabled: HashSet<Rule> = config
        .map(|c| {
            c.lint_disable
                .iter()
                .filter_map(|id| Rule::from_id(id))
                .collect()
        })
        .unwrap_or_default();
    let targets = match (&args.paths[..], config) {
        ([], Some(config)) => vec![Target {
            dir: config.migrations_dir.value.clone(),
            files: None,
        }],
        ([], None) => {
            return Err(Error::Usage(
                "no path given and no runner.toml found: name the migrations to check, e.g. `runner check migrations/`".into(),
            ));
        }
        (paths, _) => paths.iter().map(|p| target(p)).collect::<Result<_>>()?,
    };

    let mut report = Report::default();
    for target in targets {
        let catalog = Catalog::scan(&target.dir)?;
        let mut scope = target.files;
        if let Some(reference) = &args.since {
            let changed = changed_since(&target.dir, reference)?;
            scope = Some(match scope {
                Some(files) => files.intersection(&changed).cloned().collect(),
                None => changed,
            });
        }
        let options = Options {
            dialect,
            disabled: disabled.clone(),
            scope,
        };
        report.merge(check_catalog(&catalog, &options));
    }

    match args.format {
        CheckFormat::Human => print!("{}", findings::human(&report)),
        CheckFormat::Json => print!("{}", findings::json(&report)),
        CheckFormat::Github => {
            print!("{}", findings::github(&report));
            eprintln!("{}", findings::summary(&report));
        }
    }
    Ok(if report.errors() > 0 {
        ExitCode::CheckFailed
    } else {
        ExitCode::Success
    })
}

fn target(path: &Path) -> Result<Target> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Ok(Target {
            dir: path.to_path_buf(),
            files: None,
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(Target {
        dir,
        files: Some(HashSet::from([name])),
    })
}

/// Files of `dir` (its own level) added or changed since `reference`, untracked ones included.
fn changed_since(dir: &Path, reference: &str) -> Result<HashSet<String>> {
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
        .filter(|l| !l.contains('/'))
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
