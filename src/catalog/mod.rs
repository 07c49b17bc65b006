//! The migration catalog: which migrations exist on disk, paired with their rollbacks, with
//! their directives and checksums.
//!
//! refinery is the source of truth for discovery, naming, order and its own checksum; runner adds
//! what refinery leaves out: rollback pairing, directives, content checksums, and a reason for
//! every file it would otherwise skip in silence.

pub mod checksum;
pub mod directives;
pub mod names;
mod problem;
pub mod sql_text;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use checksum::Checksums;
pub use directives::{Directives, Phase};
pub use problem::{Problem, ProblemKind, Severity};

use directives::FileRole;
use names::FileName;

/// A path as a person wants to read it: relative to the current folder when it lies below it.
pub fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// Why a migrations folder cannot be used; each problem names its file.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{}", render_problems(.dir, .problems))]
    Problems {
        dir: PathBuf,
        problems: Vec<Problem>,
    },

    #[error("migrations folder {}: {reason}", .dir.display())]
    Dir { dir: PathBuf, reason: String },
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

fn render_problems(dir: &Path, problems: &[Problem]) -> String {
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let mut out = format!(
        "the migrations folder {} has {} problem{}:",
        dir.display(),
        errors,
        if errors == 1 { "" } else { "s" }
    );
    for problem in problems.iter().filter(|p| p.is_error()) {
        out.push_str("\n  ");
        out.push_str(&problem.to_string());
    }
    out
}

/// refinery's version type: an `i32` unless refinery's `int8-versions` feature is on.
pub type Version = refinery_core::SchemaVersion;

/// One `.sql` file as read from disk.
#[derive(Debug, Clone, Serialize)]
pub struct SqlFile {
    pub file_name: String,
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(skip)]
    pub sql: String,
    pub checksums: Checksums,
    pub directives: Directives,
}

/// A forward migration and, when it has one, its rollback.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    /// How many digits the file name uses for the version (`V0042` has 4).
    #[serde(skip)]
    pub version_digits: usize,
    pub forward: SqlFile,
    pub rollback: Option<SqlFile>,
    /// refinery's SipHasher13 checksum of name, version and SQL.
    pub refinery_checksum: u64,
}

/// Whether a migration can be undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum RollbackStatus {
    Paired,
    Irreversible(String),
    Missing,
}

impl Migration {
    pub fn directives(&self) -> &Directives {
        &self.forward.directives
    }

    pub fn rollback_status(&self) -> RollbackStatus {
        match (&self.rollback, &self.directives().irreversible) {
            (Some(_), _) => RollbackStatus::Paired,
            (None, Some(reason)) => RollbackStatus::Irreversible(reason.clone()),
            (None, None) => RollbackStatus::Missing,
        }
    }

    /// `V3`: one spelling of a migration everywhere runner names one (history rows, hints,
    /// `--resume 3`, JSON), whatever padding its file name has; the file name is shown where
    /// the file is meant.
    pub fn version_label(&self) -> String {
        label(i64::from(self.version))
    }

    /// `V0003 add_email`, as migrations are shown to people.
    pub fn label(&self) -> String {
        format!("{} {}", self.version_label(), self.name)
    }
}

/// `V3`: how runner names migration version 3 (see `Migration::version_label`).
pub fn label(version: i64) -> String {
    format!("V{version}")
}

/// The migrations folder as found, problems included.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub dir: PathBuf,
    /// Valid migrations in version order.
    pub migrations: Vec<Migration>,
    /// Every file runner will not use, and why; sorted by file name.
    pub problems: Vec<Problem>,
}

/// The version width used when the folder has no migration yet.
pub const DEFAULT_VERSION_DIGITS: usize = 4;

impl Catalog {
    /// Reads `dir`, collecting layout problems instead of stopping at the first. Fails only
    /// when the folder itself cannot be read.
    pub fn scan(dir: &Path) -> Result<Catalog> {
        let entries = read_dir_sorted(dir)?;
        let mut problems = Vec::new();
        let mut forwards = Vec::new();
        let mut rollbacks = BTreeMap::new();

        for (file_name, path, is_dir) in entries {
            if file_name.starts_with('.') {
                continue; // .gitkeep and editor files; documented in the README.
            }
            if is_dir {
                if file_name.ends_with(".sql") {
                    problems.push(Problem::new(
                        ProblemKind::Subfolder,
                        format!("{file_name}/"),
                        "is a folder named like a migration: runner reads only files. If it should be a migration, make it a file; otherwise rename the folder",
                    ));
                }
                for nested in sql_files_below(&path)? {
                    let shown = nested
                        .strip_prefix(dir)
                        .unwrap_or(&nested)
                        .display()
                        .to_string();
                    problems.push(Problem::new(
                        ProblemKind::Subfolder,
                        shown,
                        "migrations must sit directly in the migrations folder; subfolders are not read. Move it up, or out of the folder",
                    ));
                }
                continue;
            }
            match names::classify(&file_name) {
                FileName::Forward { stem } => forwards.push((file_name, path, stem)),
                FileName::Rollback { stem } => {
                    rollbacks.insert(stem, (file_name, path));
                }
                FileName::NotSql => problems.push(Problem::new(
                    ProblemKind::NotSql,
                    file_name,
                    "ignored: not a .sql file",
                )),
                FileName::Invalid(why) => {
                    problems.push(Problem::new(ProblemKind::InvalidName, file_name, why))
                }
            }
        }

        let discovered = refinery_discovery(dir)?;
        let mut migrations = Vec::new();
        for (file_name, path, stem) in forwards {
            if !discovered.contains(&file_name) {
                problems.push(Problem::new(
                    ProblemKind::InvalidName,
                    &file_name,
                    "refinery does not recognize this name; rename it to V{version}__{name}.sql",
                ));
                continue;
            }
            let rollback = rollbacks.remove(&stem);
            if let Some(m) = read_migration(&file_name, &path, &stem, rollback, &mut problems) {
                migrations.push(m);
            }
        }
        for (stem, (file_name, _)) in rollbacks {
            problems.push(orphan_rollback(&file_name, &stem, &migrations));
        }
        report_duplicates(&migrations, &mut problems);
        migrations.sort_by(|a, b| a.version.cmp(&b.version).then(a.name.cmp(&b.name)));
        problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
        Ok(Catalog {
            dir: dir.to_path_buf(),
            migrations,
            problems,
        })
    }

    /// Reads `dir` and requires it to be valid: no error-severity problem, at least one migration.
    pub fn load(dir: &Path) -> Result<Catalog> {
        let catalog = Catalog::scan(dir)?;
        if catalog.has_errors() {
            return Err(CatalogError::Problems {
                dir: dir.to_path_buf(),
                problems: catalog.problems,
            });
        }
        if catalog.migrations.is_empty() {
            return Err(CatalogError::Dir {
                dir: dir.to_path_buf(),
                reason: "holds no migration; create the first with `runner new NAME`".into(),
            });
        }
        Ok(catalog)
    }

    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }

    /// The version and digit count `runner new` gives the next migration: one past the
    /// highest, padded like the highest (4 digits in a new folder).
    pub fn next_version(&self) -> (Version, usize) {
        match self.migrations.iter().max_by_key(|m| m.version) {
            Some(last) => (last.version + 1, last.version_digits),
            None => (1, DEFAULT_VERSION_DIGITS),
        }
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let reason = |e: std::io::Error| CatalogError::Dir {
        dir: dir.to_path_buf(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => {
                "does not exist; create it, or set [migrations] dir in runner.toml".into()
            }
            _ => format!("cannot be read: {e}"),
        },
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(reason)? {
        let entry = entry.map_err(reason)?;
        let path = entry.path();
        let is_dir = path.is_dir();
        entries.push((
            entry.file_name().to_string_lossy().into_owned(),
            path,
            is_dir,
        ));
    }
    entries.sort();
    Ok(entries)
}

fn sql_files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for (name, path, is_dir) in read_dir_sorted(dir)? {
        if is_dir {
            found.extend(sql_files_below(&path)?);
        } else if name.ends_with(".sql") {
            found.push(path);
        }
    }
    Ok(found)
}

/// The forward files refinery itself discovers directly in `dir`.
fn refinery_discovery(dir: &Path) -> Result<HashSet<String>> {
    let files = refinery_core::find_migration_files(dir, refinery_core::MigrationType::Sql)
        .map_err(|e| CatalogError::Dir {
            dir: dir.to_path_buf(),
            reason: format!("refinery could not read it: {e}"),
        })?;
    let canonical = dir.canonicalize().map_err(|e| CatalogError::Dir {
        dir: dir.to_path_buf(),
        reason: format!("cannot be read: {e}"),
    })?;
    Ok(files
        .filter(|p| p.parent() == Some(canonical.as_path()))
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect())
}

fn read_migration(
    file_name: &str,
    path: &Path,
    stem: &str,
    rollback: Option<(String, PathBuf)>,
    problems: &mut Vec<Problem>,
) -> Option<Migration> {
    let forward = read_sql_file(file_name, path, FileRole::Forward, problems);
    let rollback = rollback.and_then(|(n, p)| read_sql_file(&n, &p, FileRole::Rollback, problems));
    let forward = forward?;
    let parsed = match refinery::Migration::unapplied(stem, &forward.sql) {
        Ok(m) => m,
        Err(e) => {
            problems.push(Problem::new(
                ProblemKind::InvalidName,
                file_name,
                format!("{e}; rename it to V{{version}}__{{name}}.sql"),
            ));
            return None;
        }
    };
    if let (Some(_), Some(down)) = (&forward.directives.irreversible, &rollback) {
        problems.push(Problem::new(
            ProblemKind::IrreversibleWithRollback,
            file_name,
            format!(
                "marked `runner:irreversible` but {} exists: remove the directive or the rollback",
                down.file_name
            ),
        ));
    }
    Some(Migration {
        version: parsed.version(),
        name: parsed.name().to_string(),
        version_digits: stem[1..].find("__").unwrap_or(DEFAULT_VERSION_DIGITS),
        refinery_checksum: parsed.checksum(),
        forward,
        rollback,
    })
}

fn read_sql_file(
    file_name: &str,
    path: &Path,
    role: FileRole,
    problems: &mut Vec<Problem>,
) -> Option<SqlFile> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            problems.push(Problem::new(
                ProblemKind::Unreadable,
                file_name,
                format!("cannot be read: {e}"),
            ));
            return None;
        }
    };
    let sql = match String::from_utf8(bytes) {
        Ok(sql) => sql,
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            problems.push(
                Problem::new(
                    ProblemKind::NotUtf8,
                    file_name,
                    format!(
                        "is not UTF-8 (invalid byte at offset {}); save it as UTF-8",
                        valid.len()
                    ),
                )
                .at_line(line),
            );
            return None;
        }
    };
    if sql.trim_start_matches('\u{feff}').trim().is_empty() {
        problems.push(Problem::new(
            ProblemKind::EmptyFile,
            file_name,
            "is empty; write the migration's SQL, or delete the file",
        ));
        return None;
    }
    let (directives, errors) = directives::parse(&sql, role);
    for e in errors {
        problems.push(
            Problem::new(ProblemKind::InvalidDirective, file_name, e.message).at_line(e.line),
        );
    }
    Some(SqlFile {
        file_name: file_name.to_string(),
        path: path.to_path_buf(),
        checksums: Checksums::of(&sql),
        directives,
        sql,
    })
}

fn orphan_rollback(file_name: &str, stem: &str, migrations: &[Migration]) -> Problem {
    let version = stem[1..]
        .split("__")
        .next()
        .and_then(|v| v.parse::<Version>().ok());
    let same_version = migrations
        .iter()
        .find(|m| Some(m.version) == version)
        .map(|m| m.forward.file_name.as_str());
    let message = match same_version {
        Some(forward) => format!(
            "has no forward file {stem}.sql; its version belongs to {forward}: rename it to {}",
            forward.replace(".sql", names::DOWN_SUFFIX)
        ),
        None => format!(
            "has no forward file {stem}.sql: restore the migration, or delete this rollback"
        ),
    };
    Problem::new(ProblemKind::OrphanRollback, file_name, message)
}

fn report_duplicates(migrations: &[Migration], problems: &mut Vec<Problem>) {
    let mut by_version: BTreeMap<Version, Vec<&str>> = BTreeMap::new();
    for m in migrations {
        by_version
            .entry(m.version)
            .or_default()
            .push(&m.forward.file_name);
    }
    for (version, files) in by_version.into_iter().filter(|(_, f)| f.len() > 1) {
        for file in &files {
            let others: Vec<&str> = files.iter().filter(|f| *f != file).copied().collect();
            problems.push(Problem::new(
                ProblemKind::DuplicateVersion,
                *file,
                format!(
                    "version {version} is also used by {}: give one of them the next free version",
                    others.join(", ")
                ),
            ));
        }
    }
}
