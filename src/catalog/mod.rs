//! The migration catalog: which migrations exist on disk, paired with their rollbacks, with
//! their directives and checksums.
//!
//! refinery is the source of truth for discovery, naming, order and its own checksum; runner adds
//! what refinery leaves out: rollback pairing, directives, content checksums, and a reason for
//! every file it would otherwise skip in silence.

pub mod checksum;
pub mod directives;
pub mod layout;
pub mod names;
mod problem;
pub mod sql_text;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use checksum::Checksums;
pub use directives::{Directives, Phase};
pub use layout::Layout;
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

/// A migration's version. runner's own layout keeps to refinery's `i32`; the other layouts
/// use timestamps (sqlx, Diesel, dbmate, goose, Prisma), so runner's versions are 64-bit.
pub type Version = i64;

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
    /// The line of the file `sql` starts on: 1, except for a direction of a one-file layout
    /// (dbmate, goose), whose text starts after its marker.
    #[serde(skip)]
    pub first_line: usize,
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
    /// refinery's SipHasher13 checksum of name, version and SQL (runner's layout; 0 in others).
    pub refinery_checksum: u64,
    /// The layout the migration was read in.
    pub layout: Layout,
    /// What the folder's tool records for this migration in its history table: the version
    /// as the tool writes it (`20240101000000`, Flyway's `1.1`), or Prisma's folder name.
    pub tool_id: String,
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
        label(self.version)
    }

    /// `V0003 add_email`, as migrations are shown to people.
    pub fn label(&self) -> String {
        format!("{} {}", self.version_label(), self.name)
    }

    /// Where the rollback would be written when there is none: (what is missing, what to do).
    pub fn rollback_place(&self) -> (String, String) {
        self.layout.rollback_place(&self.forward.file_name)
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
    /// The layout its files are read in (detected, or `[migrations] layout`).
    pub layout: Layout,
    /// Valid migrations in version order.
    pub migrations: Vec<Migration>,
    /// Every file runner will not use, and why; sorted by file name.
    pub problems: Vec<Problem>,
    /// `[migrations] mirror`: the tool whose history runner also writes as it applies and
    /// rolls back these migrations.
    pub mirror: Option<Layout>,
}

/// The version width used when the folder has no migration yet.
pub const DEFAULT_VERSION_DIGITS: usize = 4;

impl Catalog {
    /// The versions whose forward or rollback file is one of `files` (file names).
    pub fn versions_of(&self, files: &HashSet<String>) -> HashSet<Version> {
        self.migrations
            .iter()
            .filter(|m| {
                files.contains(&m.forward.file_name)
                    || m.rollback
                        .as_ref()
                        .is_some_and(|r| files.contains(&r.file_name))
            })
            .map(|m| m.version)
            .collect()
    }

    /// Reads `dir` in the layout its contents show, collecting problems instead of stopping
    /// at the first. Fails only when the folder itself cannot be read.
    pub fn scan(dir: &Path) -> Result<Catalog> {
        Catalog::scan_as(dir, None)
    }

    /// Reads `dir` in `layout`, or in the layout its contents show when `None`.
    pub fn scan_as(dir: &Path, layout: Option<Layout>) -> Result<Catalog> {
        let entries: Vec<layout::Entry> = read_dir_sorted(dir)?
            .into_iter()
            .map(|(name, path, is_dir)| layout::Entry { name, path, is_dir })
            .collect();
        let (layout, mut problems) = match layout {
            Some(layout) => (layout, Vec::new()),
            None => layout::detect(&entries),
        };
        let flagged: HashSet<String> = problems.iter().map(|p| p.file.clone()).collect();
        let entries: Vec<layout::Entry> = entries
            .into_iter()
            .filter(|e| !flagged.contains(&e.name))
            .collect();
        let mut migrations = if layout == Layout::Runner {
            scan_runner(dir, &entries, &mut problems)?
        } else {
            layout::read(layout, &entries, &mut problems)
                .into_iter()
                .filter_map(|found| from_found(layout, found, &mut problems))
                .collect()
        };
        report_duplicates(&migrations, &mut problems);
        migrations.sort_by(|a, b| a.version.cmp(&b.version).then(a.name.cmp(&b.name)));
        problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
        Ok(Catalog {
            dir: dir.to_path_buf(),
            layout,
            migrations,
            problems,
            mirror: None,
        })
    }

    /// The configured migrations folder, in its configured layout and with its mirror.
    pub fn of_config(config: &crate::config::Config) -> Result<Catalog> {
        let mut catalog = Catalog::load_as(&config.migrations_dir.value, config.layout)?;
        catalog.mirror = config.mirror;
        Ok(catalog)
    }

    /// `load` in `layout` (`None`: detected).
    pub fn load_as(dir: &Path, layout: Option<Layout>) -> Result<Catalog> {
        let catalog = Catalog::scan_as(dir, layout)?;
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

    /// Reads `dir` and requires it to be valid: no error-severity problem, at least one migration.
    pub fn load(dir: &Path) -> Result<Catalog> {
        Catalog::load_as(dir, None)
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

/// runner's own layout, read with refinery: `V{n}__{name}.sql` and its `.down.sql`.
fn scan_runner(
    dir: &Path,
    entries: &[layout::Entry],
    problems: &mut Vec<Problem>,
) -> Result<Vec<Migration>> {
    let mut forwards = Vec::new();
    let mut rollbacks = BTreeMap::new();
    for entry in entries {
        let (file_name, path) = (entry.name.clone(), entry.path.clone());
        if file_name.starts_with('.') {
            continue; // .gitkeep and editor files; documented in the README.
        }
        if entry.is_dir {
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
    let mut pairs = Vec::new();
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
        pairs.push((file_name, path, stem, rollback));
    }
    // Reading and checksumming the files is most of a catalog's load: on every core, each
    // file's problems kept with it, in the folder's order.
    let read = crate::runtime::in_parallel(&pairs, |(file_name, path, stem, rollback)| {
        let mut found = Vec::new();
        let m = read_migration(file_name, path, stem, rollback.clone(), &mut found);
        (m, found)
    });
    let mut migrations = Vec::new();
    for (m, found) in read {
        problems.extend(found);
        migrations.extend(m);
    }
    for (stem, (file_name, _)) in rollbacks {
        problems.push(orphan_rollback(&file_name, &stem, &migrations));
    }
    Ok(migrations)
}

/// A migration of another tool's layout, its files checked as runner checks its own.
fn from_found(
    layout: Layout,
    found: layout::Found,
    problems: &mut Vec<Problem>,
) -> Option<Migration> {
    let part = |p: layout::Part, role: FileRole, problems: &mut Vec<Problem>| {
        sql_file(
            (&p.file_name, &p.path),
            (p.text, p.first_line),
            role,
            problems,
        )
    };
    let forward = part(found.forward, FileRole::Forward, problems);
    let rollback = found
        .rollback
        .and_then(|r| part(r, FileRole::Rollback, problems));
    let mut forward = forward?;
    forward.directives.no_transaction |= found.no_transaction;
    let mut rollback = rollback;
    if let Some(r) = &mut rollback {
        r.directives.no_transaction |= found.rollback_no_transaction;
    }
    if let (Some(_), Some(down)) = (&forward.directives.irreversible, &rollback) {
        problems.push(Problem::new(
            ProblemKind::IrreversibleWithRollback,
            &forward.file_name,
            format!(
                "marked `runner:irreversible` but it has a rollback ({}): remove the directive or the rollback",
                down.file_name
            ),
        ));
    }
    Some(Migration {
        version: found.version,
        name: found.name,
        version_digits: found.digits,
        forward,
        rollback,
        refinery_checksum: 0,
        layout,
        tool_id: found.tool_id,
    })
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
        // The entry's own type needs no stat; a symbolic link is what it points to.
        let is_dir = match entry.file_type() {
            Ok(t) if !t.is_symlink() => t.is_dir(),
            _ => path.is_dir(),
        };
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
        version: i64::from(parsed.version()),
        name: parsed.name().to_string(),
        version_digits: stem[1..].find("__").unwrap_or(DEFAULT_VERSION_DIGITS),
        refinery_checksum: parsed.checksum(),
        forward,
        rollback,
        layout: Layout::Runner,
        tool_id: parsed.version().to_string(),
    })
}

fn read_sql_file(
    file_name: &str,
    path: &Path,
    role: FileRole,
    problems: &mut Vec<Problem>,
) -> Option<SqlFile> {
    let sql = layout::read_text(file_name, path, problems)?;
    sql_file((file_name, path), (sql, 1), role, problems)
}

/// A file's text (or one direction of it) with its checksums and directives.
/// `sql` starts at line `first_line` of the file (a section of a file that holds both
/// directions).
fn sql_file(
    (file_name, path): (&str, &Path),
    (sql, first_line): (String, usize),
    role: FileRole,
    problems: &mut Vec<Problem>,
) -> Option<SqlFile> {
    if sql.trim_start_matches('\u{feff}').trim().is_empty() {
        let problem = Problem::new(
            ProblemKind::EmptyFile,
            file_name,
            "is empty; write the migration's SQL, or delete the file",
        );
        problems.push(match first_line {
            1 => problem,
            line => problem.at_line(line),
        });
        return None;
    }
    let (directives, errors) = directives::parse(&sql, role);
    for e in errors {
        problems.push(
            Problem::new(ProblemKind::InvalidDirective, file_name, e.message)
                .at_line(e.line + first_line - 1),
        );
    }
    Some(SqlFile {
        file_name: file_name.to_string(),
        path: path.to_path_buf(),
        checksums: Checksums::of(&sql),
        directives,
        sql,
        first_line,
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
