//! `runner new NAME`: scaffold the next migration and its rollback.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::catalog::Catalog;
use crate::cli::NewArgs;
use crate::config::Config;
use crate::error::{Error, ExitCode, Result};

pub fn run(config: &Config, args: &NewArgs) -> Result<ExitCode> {
    validate_name(&args.name)?;
    if let Some(reason) = &args.irreversible
        && reason.trim().is_empty()
    {
        return Err(Error::Usage(
            "--irreversible needs a reason, e.g. --irreversible \"drops the legacy audit table\""
                .into(),
        ));
    }
    let dir = &config.migrations_dir.value;
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        crate::report::out::line(crate::report::setup::created_dir(dir));
    }
    let catalog = Catalog::scan_as(dir, config.layout)?;
    if catalog.has_errors() {
        return Err(Error::Catalog(crate::catalog::CatalogError::Problems {
            dir: dir.clone(),
            problems: catalog.problems,
        }));
    }
    if catalog.layout != crate::catalog::Layout::Runner {
        return new_in_layout(&catalog, args);
    }
    let (version, digits) = catalog.next_version();
    let stem = format!("V{version:0digits$}__{}", args.name);
    let label = format!("{} {}", crate::catalog::label(version), args.name);

    let forward = dir.join(format!("{stem}.sql"));
    let mut header = format!(
        "-- {label}\n-- Keep it backward compatible: the release now serving traffic still runs against this schema.\n"
    );
    match &args.irreversible {
        Some(reason) => header.push_str(&format!("-- runner:irreversible {}\n", reason.trim())),
        None => header.push_str("-- Undo it in the .down.sql beside this file.\n"),
    }
    header.push('\n');
    create_new(&forward, &header)?;
    if args.irreversible.is_none() {
        let rollback = dir.join(format!("{stem}.down.sql"));
        let body = format!("-- Rollback of {label}: undo exactly what {stem}.sql does.\n\n");
        if let Err(e) = create_new(&rollback, &body) {
            // Leave no forward file without its rollback behind.
            let _ = std::fs::remove_file(&forward);
            return Err(e);
        }
    }
    Ok(ExitCode::Success)
}

/// `runner new` in another tool's layout: the next file(s) in that layout and numbering.
fn new_in_layout(catalog: &Catalog, args: &NewArgs) -> Result<ExitCode> {
    let last = catalog.migrations.iter().max_by_key(|m| m.version);
    let reversible = catalog
        .migrations
        .iter()
        .any(|m| m.forward.file_name.ends_with(".up.sql"))
        || catalog.migrations.is_empty();
    let mut header = format!(
        "-- {}: keep it backward compatible: the release now serving traffic still runs against this schema.\n",
        args.name
    );
    if let Some(reason) = &args.irreversible {
        header.push_str(&format!("-- runner:irreversible {}\n", reason.trim()));
    }
    header.push('\n');
    let new = crate::catalog::layout::NewMigration {
        name: &args.name,
        header: &header,
        irreversible: args.irreversible.is_some(),
        reversible_files: reversible,
    };
    let files = crate::catalog::layout::next_files(catalog.layout, last, &new);
    let mut written: Vec<std::path::PathBuf> = Vec::new();
    for (relative, contents) in files {
        let path = catalog.dir.join(&relative);
        if let Some(parent) = path.parent().filter(|p| !p.exists()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        if let Err(e) = create_new(&path, &contents) {
            // Leave no forward file without its rollback behind.
            for w in &written {
                let _ = std::fs::remove_file(w);
            }
            return Err(e);
        }
        written.push(path);
    }
    Ok(ExitCode::Success)
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        return Ok(());
    }
    let suggestion: String = name
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Err(Error::Usage(format!(
        "`{name}` is not a migration name: use lower-case letters, digits and underscores{}",
        if suggestion.trim_matches('_').is_empty() {
            String::new()
        } else {
            format!(", e.g. `{suggestion}`")
        }
    )))
}

fn create_new(path: &Path, contents: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    crate::report::out::line(crate::report::setup::created_file(path));
    Ok(())
}
