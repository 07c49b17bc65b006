//! Folder layouts: runner's own and those of the tools teams already have, read in place.
//!
//! | layout | forward | rollback | no transaction | order |
//! |---|---|---|---|---|
//! | `runner` | `V{n}__{name}.sql` | `V{n}__{name}.down.sql` | `-- runner:no-transaction` | version |
//! | `sqlx` | `{v}_{desc}.sql` or `{v}_{desc}.up.sql` | `{v}_{desc}.down.sql` | first line `-- no-transaction` | version |
//! | `golang-migrate` | `{v}_{title}.up.sql` | `{v}_{title}.down.sql` | (none) | version |
//! | `diesel` | `{v}_{name}/up.sql` | `{v}_{name}/down.sql` | `metadata.toml`: `run_in_transaction = false` | version, dashes removed |
//! | `dbmate` | `{v}_{name}.sql`, after `-- migrate:up` | after `-- migrate:down` | `transaction:false` on the marker | version |
//! | `goose` | `{v}_{name}.sql`, after `-- +goose Up` | after `-- +goose Down` | `-- +goose NO TRANSACTION` | version |
//! | `flyway` | `V{v}__{desc}.sql` (`v` may be dotted) | `U{v}__{desc}.sql` | `V…sql.conf`: `executeInTransaction=false` | dotted version |
//! | `prisma` | `{ts}_{name}/migration.sql` | `{ts}_{name}/down.sql` (Prisma's documented down) | (none) | folder name |
//!
//! The layout is detected from the folder's contents, or set with `[migrations] layout`. A
//! folder that mixes layouts is an error naming the files of each. Every layout becomes the
//! same [`Migration`](super::Migration), so every command works the same on each; what a
//! tool records in its own history table is kept as [`Migration::tool_id`](super::Migration).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::problem::{Problem, ProblemKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    Runner,
    Sqlx,
    GolangMigrate,
    Diesel,
    Dbmate,
    Goose,
    Flyway,
    Prisma,
}

impl Layout {
    pub const ALL: [Layout; 8] = [
        Layout::Runner,
        Layout::Sqlx,
        Layout::GolangMigrate,
        Layout::Diesel,
        Layout::Dbmate,
        Layout::Goose,
        Layout::Flyway,
        Layout::Prisma,
    ];
    pub const NAMES: &str = "runner, sqlx, golang-migrate, diesel, dbmate, goose, flyway, prisma";

    pub fn name(self) -> &'static str {
        match self {
            Layout::Runner => "runner",
            Layout::Sqlx => "sqlx",
            Layout::GolangMigrate => "golang-migrate",
            Layout::Diesel => "diesel",
            Layout::Dbmate => "dbmate",
            Layout::Goose => "goose",
            Layout::Flyway => "flyway",
            Layout::Prisma => "prisma",
        }
    }

    pub fn parse(text: &str) -> Option<Layout> {
        let text = text.trim().to_ascii_lowercase();
        let text = match text.as_str() {
            "migrate" | "golang_migrate" => "golang-migrate",
            other => other,
        };
        Layout::ALL.into_iter().find(|l| l.name() == text)
    }

    /// The file names this layout expects, for error messages.
    pub fn pattern(self) -> &'static str {
        match self {
            Layout::Runner => "V{version}__{name}.sql and V{version}__{name}.down.sql",
            Layout::Sqlx => {
                "{version}_{description}.sql, or {version}_{description}.up.sql and .down.sql"
            }
            Layout::GolangMigrate => "{version}_{title}.up.sql and {version}_{title}.down.sql",
            Layout::Diesel => "{version}_{name}/up.sql and {version}_{name}/down.sql",
            Layout::Dbmate => "{version}_{name}.sql with `-- migrate:up` and `-- migrate:down`",
            Layout::Goose => "{version}_{name}.sql with `-- +goose Up` and `-- +goose Down`",
            Layout::Flyway => "V{version}__{description}.sql and U{version}__{description}.sql",
            Layout::Prisma => "{timestamp}_{name}/migration.sql (and down.sql)",
        }
    }

    /// Where the rollback of the migration whose forward file is `forward` lives, as
    /// (what is missing, what to do).
    pub fn rollback_place(self, forward: &str) -> (String, String) {
        let beside = |name: String| (format!("{name} does not exist"), format!("write {name}"));
        match self {
            Layout::Runner => beside(forward.replace(".sql", ".down.sql")),
            Layout::Sqlx | Layout::GolangMigrate => beside(match forward.strip_suffix(".up.sql") {
                Some(stem) => format!("{stem}.down.sql"),
                None => forward.replace(".sql", ".down.sql"),
            }),
            Layout::Diesel | Layout::Prisma => beside(match forward.rsplit_once('/') {
                Some((folder, _)) => format!("{folder}/down.sql"),
                None => "down.sql".into(),
            }),
            Layout::Flyway => beside(format!("U{}", forward.get(1..).unwrap_or_default())),
            Layout::Dbmate => (
                format!("{forward} has nothing after `-- migrate:down`"),
                format!("write the undo after `-- migrate:down` in {forward}"),
            ),
            Layout::Goose => (
                format!("{forward} has nothing after `-- +goose Down`"),
                format!("write the undo after `-- +goose Down` in {forward}"),
            ),
        }
    }

    /// Whether one file holds both directions.
    pub fn one_file(self) -> bool {
        matches!(self, Layout::Dbmate | Layout::Goose)
    }
}

/// The text of one direction of a migration, and where it starts in its file.
#[derive(Debug, Clone)]
pub struct Part {
    /// Relative to the migrations folder, with `/` between folder and file.
    pub file_name: String,
    pub path: PathBuf,
    pub text: String,
    /// The line of the file the text starts on (1 for a whole file).
    pub first_line: usize,
}

/// One migration as a layout found it.
#[derive(Debug, Clone)]
pub struct Found {
    pub version: i64,
    pub name: String,
    /// What the tool records in its history table (sqlx's version, Diesel's version string,
    /// Prisma's folder name, Flyway's dotted version, ...).
    pub tool_id: String,
    /// How many digits the version is written with.
    pub digits: usize,
    pub forward: Part,
    pub rollback: Option<Part>,
    /// The tool's own no-transaction marker was set for the forward direction.
    pub no_transaction: bool,
    /// ... and for the rollback.
    pub rollback_no_transaction: bool,
}

/// An entry of the migrations folder.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub is_dir: bool,
}

/// What one entry says about the folder's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vote {
    One(Layout),
    /// `V{n}__{name}.sql`: both runner's and Flyway's.
    RunnerOrFlyway,
}

fn vote(entry: &Entry) -> Option<Vote> {
    let name = entry.name.as_str();
    if entry.is_dir {
        if entry.path.join("up.sql").is_file() {
            return Some(Vote::One(Layout::Diesel));
        }
        if entry.path.join("migration.sql").is_file() {
            return Some(Vote::One(Layout::Prisma));
        }
        return None;
    }
    if name == "migration_lock.toml" {
        return Some(Vote::One(Layout::Prisma));
    }
    if let Some(sql) = name.strip_suffix(".conf") {
        return flyway_name(sql).map(|_| Vote::One(Layout::Flyway));
    }
    if name.ends_with(".go") && numbered(name).is_some() {
        // goose's Go migrations register with goose; other numbered Go files (a project's
        // own hooks beside golang-migrate files) say nothing about the layout.
        let text = std::fs::read_to_string(&entry.path).unwrap_or_default();
        return text.contains("goose").then_some(Vote::One(Layout::Goose));
    }
    if !name.ends_with(".sql") {
        return None;
    }
    if name.ends_with(".down.sql") && name.starts_with('V') && name.contains("__") {
        return Some(Vote::One(Layout::Runner));
    }
    if let Some(f) = flyway_name(name) {
        return Some(match (f.prefix, f.parts.len()) {
            ('V', 1) => Vote::RunnerOrFlyway,
            _ => Vote::One(Layout::Flyway),
        });
    }
    numbered(name)?;
    if name.ends_with(".up.sql") || name.ends_with(".down.sql") {
        return Some(Vote::One(Layout::Sqlx));
    }
    let text = std::fs::read_to_string(&entry.path).unwrap_or_default();
    Some(Vote::One(one_file_layout(&text).unwrap_or(Layout::Sqlx)))
}

/// dbmate or goose, from the markers in a file's text.
fn one_file_layout(text: &str) -> Option<Layout> {
    text.lines().find_map(|line| {
        let line = line.trim_start().to_ascii_lowercase();
        if line.starts_with("-- migrate:up") || line.starts_with("-- migrate:down") {
            Some(Layout::Dbmate)
        } else if line.starts_with("-- +goose") {
            Some(Layout::Goose)
        } else {
            None
        }
    })
}

/// The layout of a folder, detected from its entries, with a problem for each file of
/// another layout when the folder mixes them (the layout most files have is read).
pub fn detect(entries: &[Entry]) -> (Layout, Vec<Problem>) {
    let mut by_layout: BTreeMap<Layout, Vec<&str>> = BTreeMap::new();
    let mut either = Vec::new();
    for entry in entries.iter().filter(|e| !e.name.starts_with('.')) {
        match vote(entry) {
            Some(Vote::One(layout)) => by_layout.entry(layout).or_default().push(&entry.name),
            Some(Vote::RunnerOrFlyway) => either.push(entry.name.as_str()),
            None => {}
        }
    }
    // golang-migrate and sqlx's reversible files have the same names: only [migrations]
    // layout tells them apart, and detection calls them sqlx. `V{n}__` files count for both
    // runner and Flyway; a tie goes to runner's own layout.
    let tally = |l: Layout| {
        by_layout.get(&l).map_or(0, Vec::len)
            + if matches!(l, Layout::Runner | Layout::Flyway) {
                either.len()
            } else {
                0
            }
    };
    let mut biggest = Layout::Runner;
    for layout in Layout::ALL {
        if tally(layout) > tally(biggest) {
            biggest = layout;
        }
    }
    let compatible = |l: Layout| {
        l == biggest
            // runner's reader names what is wrong with a U, R or dotted file itself.
            || (biggest == Layout::Runner && l == Layout::Flyway)
    };
    if by_layout.keys().all(|l| compatible(*l))
        && (either.is_empty() || matches!(biggest, Layout::Runner | Layout::Flyway))
    {
        return (biggest, Vec::new());
    }
    let mut summary: Vec<String> = by_layout
        .iter()
        .map(|(l, files)| format!("{} {} file(s)", files.len(), l.name()))
        .collect();
    if !either.is_empty() {
        summary.push(format!("{} V{{n}}__ file(s)", either.len()));
    }
    let mut problems = Vec::new();
    for (layout, files) in by_layout.iter().filter(|(l, _)| !compatible(**l)) {
        for file in files {
            problems.push(Problem::new(
                ProblemKind::InvalidName,
                *file,
                format!(
                    "is named like a {} migration, but this folder mixes layouts ({}); runner reads one layout per folder ({} here): move this file out or rename it to {}, or set [migrations] layout",
                    layout.name(),
                    summary.join(", "),
                    biggest.name(),
                    biggest.pattern()
                ),
            ));
        }
    }
    if !matches!(biggest, Layout::Runner | Layout::Flyway) {
        for file in &either {
            problems.push(Problem::new(
                ProblemKind::InvalidName,
                *file,
                format!(
                    "is named like a runner or Flyway migration, but this folder holds {} migrations ({}): move it out or rename it to {}",
                    biggest.name(),
                    summary.join(", "),
                    biggest.pattern()
                ),
            ));
        }
    }
    (biggest, problems)
}

/// `{digits}_{rest}`: the version digits and the rest.
fn numbered(name: &str) -> Option<(&str, &str)> {
    let (version, rest) = name.split_once('_')?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())).then_some((version, rest))
}

/// A Flyway file name: prefix `V`, `U` or `R`, version parts, description.
struct FlywayName<'a> {
    prefix: char,
    version: &'a str,
    parts: Vec<u64>,
    description: &'a str,
}

fn flyway_name(name: &str) -> Option<FlywayName<'_>> {
    let stem = name.strip_suffix(".sql")?;
    if stem.ends_with(".down") {
        return None;
    }
    let prefix = stem.chars().next()?;
    if !matches!(prefix, 'V' | 'U' | 'R') {
        return None;
    }
    let (version, description) = stem[1..].split_once("__")?;
    if prefix == 'R' {
        return version.is_empty().then_some(FlywayName {
            prefix,
            version,
            parts: Vec::new(),
            description,
        });
    }
    let parts = version
        .split(['.', '_'])
        .map(|p| p.parse::<u64>().ok().filter(|_| !p.is_empty()))
        .collect::<Option<Vec<u64>>>()?;
    Some(FlywayName {
        prefix,
        version,
        parts,
        description,
    })
}

/// Reads the folder's entries in `layout` (every layout but runner's, which the catalog reads
/// with refinery).
pub fn read(layout: Layout, entries: &[Entry], problems: &mut Vec<Problem>) -> Vec<Found> {
    let entries: Vec<&Entry> = entries
        .iter()
        .filter(|e| !e.name.starts_with('.'))
        .collect();
    match layout {
        Layout::Runner => Vec::new(),
        Layout::Sqlx | Layout::GolangMigrate => read_paired_files(layout, &entries, problems),
        Layout::Diesel | Layout::Prisma => read_folders(layout, &entries, problems),
        Layout::Dbmate | Layout::Goose => read_one_file(layout, &entries, problems),
        Layout::Flyway => read_flyway(&entries, problems),
    }
}

fn not_of_layout(layout: Layout, file: &str) -> Problem {
    Problem::new(
        ProblemKind::InvalidName,
        file,
        format!(
            "is not a {} migration name (expected {}): rename it, or move it out of the migrations folder",
            layout.name(),
            layout.pattern()
        ),
    )
}

fn not_sql(file: &str) -> Problem {
    Problem::new(ProblemKind::NotSql, file, "ignored: not a migration file")
}

/// Reads a whole file as text, or says why it cannot be.
pub fn read_text(file_name: &str, path: &Path, problems: &mut Vec<Problem>) -> Option<String> {
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
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
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
            None
        }
    }
}

fn whole(file_name: &str, path: &Path, problems: &mut Vec<Problem>) -> Option<Part> {
    Some(Part {
        file_name: file_name.to_string(),
        path: path.to_path_buf(),
        text: read_text(file_name, path, problems)?,
        first_line: 1,
    })
}

/// sqlx and golang-migrate: `{v}_{desc}.sql`, `.up.sql`, `.down.sql`, all in the folder.
fn read_paired_files(
    layout: Layout,
    entries: &[&Entry],
    problems: &mut Vec<Problem>,
) -> Vec<Found> {
    let mut forwards: Vec<(&Entry, &str, &str, bool)> = Vec::new();
    let mut downs: BTreeMap<String, &Entry> = BTreeMap::new();
    for entry in entries {
        if entry.is_dir {
            subfolder(entry, problems);
            continue;
        }
        let Some(stem) = entry.name.strip_suffix(".sql") else {
            problems.push(not_sql(&entry.name));
            continue;
        };
        let Some((version, _)) = numbered(stem) else {
            problems.push(not_of_layout(layout, &entry.name));
            continue;
        };
        if let Some(base) = stem.strip_suffix(".down") {
            downs.insert(base.to_string(), entry);
        } else if let Some(base) = stem.strip_suffix(".up") {
            forwards.push((entry, version, base, true));
        } else if layout == Layout::GolangMigrate {
            problems.push(not_of_layout(layout, &entry.name));
        } else {
            forwards.push((entry, version, stem, false));
        }
    }
    let mut found = Vec::new();
    for (entry, version, base, _) in forwards {
        let Some(forward) = whole(&entry.name, &entry.path, problems) else {
            continue;
        };
        let Some(v) = version_number(version, &entry.name, problems) else {
            continue;
        };
        let rollback = downs
            .remove(base)
            .and_then(|d| whole(&d.name, &d.path, problems));
        let name = base[version.len() + 1..].to_string();
        let sqlx_marker =
            |p: &Part| layout == Layout::Sqlx && p.text.starts_with("-- no-transaction");
        found.push(Found {
            version: v,
            tool_id: version.to_string(),
            digits: version.len(),
            no_transaction: sqlx_marker(&forward),
            rollback_no_transaction: rollback.as_ref().is_some_and(sqlx_marker),
            name,
            forward,
            rollback,
        });
    }
    for (base, entry) in downs {
        problems.push(Problem::new(
            ProblemKind::OrphanRollback,
            &entry.name,
            format!("has no forward file {base}.up.sql or {base}.sql: restore the migration, or delete this rollback"),
        ));
    }
    found
}

fn version_number(version: &str, file: &str, problems: &mut Vec<Problem>) -> Option<i64> {
    match version.parse::<i64>() {
        Ok(v) => Some(v),
        Err(_) => {
            problems.push(Problem::new(
                ProblemKind::InvalidName,
                file,
                format!("version `{version}` is larger than a 64-bit number: rename it with a shorter version"),
            ));
            None
        }
    }
}

fn subfolder(entry: &Entry, problems: &mut Vec<Problem>) {
    if std::fs::read_dir(&entry.path).is_ok_and(|mut d| {
        d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".sql")))
    }) {
        problems.push(Problem::new(
            ProblemKind::Subfolder,
            format!("{}/", entry.name),
            "holds .sql files, but migrations of this layout sit directly in the migrations folder; subfolders are not read. Move them up, or out of the folder",
        ));
    }
}

/// A file beside the migration folders: a file named like another tool's migration mixes
/// layouts; anything else (data, notes) the tool ignores, and runner says so. Prisma's lock
/// file is its own.
fn file_among_folders(layout: Layout, name: &str) -> Option<Problem> {
    if layout == Layout::Prisma && name == "migration_lock.toml" {
        return None;
    }
    if numbered(name).is_some() || flyway_name(name).is_some() {
        return Some(not_of_layout(layout, name));
    }
    Some(Problem::new(
        ProblemKind::NotSql,
        name,
        format!(
            "ignored: {} reads only migration folders ({}), and so does runner",
            layout.name(),
            layout.pattern()
        ),
    ))
}

/// Diesel (`{v}_{name}/up.sql`) and Prisma (`{ts}_{name}/migration.sql`): one folder each.
fn read_folders(layout: Layout, entries: &[&Entry], problems: &mut Vec<Problem>) -> Vec<Found> {
    let forward_file = if layout == Layout::Diesel {
        "up.sql"
    } else {
        "migration.sql"
    };
    let mut found = Vec::new();
    for entry in entries {
        if !entry.is_dir {
            problems.extend(file_among_folders(layout, &entry.name));
            continue;
        }
        let folder = entry.name.as_str();
        let up_path = entry.path.join(forward_file);
        if !up_path.is_file() {
            problems.push(Problem::new(
                ProblemKind::InvalidName,
                format!("{folder}/"),
                format!(
                    "has no {forward_file}: a {} migration is a folder {}",
                    layout.name(),
                    layout.pattern()
                ),
            ));
            continue;
        }
        let (raw_version, name) = match folder.split_once('_') {
            Some((v, n)) => (v, n),
            None => (folder, ""),
        };
        let digits: String = raw_version.chars().filter(|c| *c != '-').collect();
        let valid = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (layout == Layout::Diesel || raw_version == digits);
        if !valid {
            problems.push(Problem::new(
                ProblemKind::InvalidName,
                format!("{folder}/"),
                format!(
                    "`{raw_version}` is not a version: expected {}",
                    layout.pattern()
                ),
            ));
            continue;
        }
        let Some(version) = version_number(&digits, folder, problems) else {
            continue;
        };
        let Some(forward) = whole(&format!("{folder}/{forward_file}"), &up_path, problems) else {
            continue;
        };
        let down_path = entry.path.join("down.sql");
        let rollback = down_path
            .is_file()
            .then(|| whole(&format!("{folder}/down.sql"), &down_path, problems))
            .flatten();
        let no_transaction = layout == Layout::Diesel && !diesel_in_transaction(&entry.path);
        found.push(Found {
            version,
            name: name.to_string(),
            tool_id: if layout == Layout::Diesel {
                digits.clone()
            } else {
                folder.to_string()
            },
            digits: digits.len(),
            forward,
            rollback,
            no_transaction,
            rollback_no_transaction: no_transaction,
        });
    }
    found
}

/// Diesel's `metadata.toml`: read as Diesel reads it (a file that parses without the key
/// means false; one that does not parse is ignored).
fn diesel_in_transaction(folder: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Metadata {
        #[serde(default)]
        run_in_transaction: bool,
    }
    match std::fs::read_to_string(folder.join("metadata.toml")) {
        Ok(text) => toml::from_str::<Metadata>(&text).map_or(true, |m| m.run_in_transaction),
        Err(_) => true,
    }
}

/// dbmate and goose: one file, both directions, split at the tool's markers.
fn read_one_file(layout: Layout, entries: &[&Entry], problems: &mut Vec<Problem>) -> Vec<Found> {
    let mut found = Vec::new();
    for entry in entries {
        if entry.is_dir {
            subfolder(entry, problems);
            continue;
        }
        if entry.name.ends_with(".go") && layout == Layout::Goose {
            problems.push(Problem::new(
                ProblemKind::InvalidName,
                &entry.name,
                "is a goose Go migration: runner runs SQL only. Keep running it with goose, or rewrite it as a .sql migration",
            ));
            continue;
        }
        let Some(stem) = entry.name.strip_suffix(".sql") else {
            problems.push(not_sql(&entry.name));
            continue;
        };
        let Some((version, name)) = numbered(stem) else {
            problems.push(not_of_layout(layout, &entry.name));
            continue;
        };
        let Some(text) = read_text(&entry.name, &entry.path, problems) else {
            continue;
        };
        let Some(v) = version_number(version, &entry.name, problems) else {
            continue;
        };
        let sections = match layout {
            Layout::Dbmate => dbmate_sections(&text),
            _ => goose_sections(&text),
        };
        let sections = match sections {
            Ok(s) => s,
            Err((line, why)) => {
                problems.push(
                    Problem::new(ProblemKind::InvalidDirective, &entry.name, why).at_line(line),
                );
                continue;
            }
        };
        let part = |(start, end): (usize, usize)| Part {
            file_name: entry.name.clone(),
            path: entry.path.clone(),
            text: section_text(&text, start, end),
            first_line: start,
        };
        let rollback = sections
            .down
            .map(part)
            .filter(|p| !p.text.trim().is_empty());
        found.push(Found {
            version: v,
            name: name.to_string(),
            tool_id: version.to_string(),
            digits: version.len(),
            forward: part(sections.up),
            rollback,
            no_transaction: sections.no_transaction,
            rollback_no_transaction: sections.down_no_transaction,
        });
    }
    found
}

/// Line ranges (1-based, end exclusive) of a one-file migration's directions.
#[derive(Debug, PartialEq, Eq)]
struct Sections {
    up: (usize, usize),
    down: Option<(usize, usize)>,
    no_transaction: bool,
    down_no_transaction: bool,
}

fn section_text(text: &str, start: usize, end: usize) -> String {
    text.split_inclusive('\n')
        .skip(start - 1)
        .take(end - start)
        .collect()
}

type SectionResult = Result<Sections, (usize, String)>;

/// dbmate: `-- migrate:up [transaction:false]` ... `-- migrate:down [transaction:false]`.
fn dbmate_sections(text: &str) -> SectionResult {
    let lines = text.lines().count() + 1;
    let mut up = None;
    let mut down = None;
    let mut no_transaction = false;
    let mut down_no_transaction = false;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let Some(rest) = line.trim_start().strip_prefix("-- migrate:") else {
            continue;
        };
        let (which, options) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        for option in options.split_whitespace() {
            match option {
                "transaction:false" if which == "up" => no_transaction = true,
                "transaction:false" => down_no_transaction = true,
                "transaction:true" => {}
                other => {
                    return Err((
                        line_no,
                        format!(
                            "dbmate option `{other}` is not one runner knows; it reads transaction:false"
                        ),
                    ));
                }
            }
        }
        match which {
            "up" if up.is_none() => up = Some(line_no),
            "down" if down.is_none() => down = Some(line_no),
            "up" | "down" => return Err((line_no, format!("`-- migrate:{which}` is given twice"))),
            other => {
                return Err((
                    line_no,
                    format!(
                        "unknown dbmate marker `-- migrate:{other}`; dbmate knows migrate:up and migrate:down"
                    ),
                ));
            }
        }
    }
    let Some(up) = up else {
        return Err((1, "has no `-- migrate:up` line: dbmate runs nothing before it; add it above the migration's SQL".into()));
    };
    sections(
        (up, down, lines),
        (no_transaction, down_no_transaction),
        "`-- migrate:down` comes before `-- migrate:up`: put the up section first",
    )
}

/// goose: `-- +goose Up`, `-- +goose Down`, `-- +goose NO TRANSACTION`; the
/// `StatementBegin`/`StatementEnd` pairs stay in the text as comments (runner's splitter
/// reads function bodies itself).
fn goose_sections(text: &str) -> SectionResult {
    let lines = text.lines().count() + 1;
    let mut up = None;
    let mut down = None;
    let mut no_transaction = false;
    let mut open_block = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim_start();
        let Some(rest) = trimmed
            .get(..9)
            .filter(|p| p.eq_ignore_ascii_case("-- +goose"))
            .map(|_| trimmed[9..].trim())
        else {
            continue;
        };
        match rest.to_ascii_lowercase().as_str() {
            "up" if up.is_none() => up = Some(line_no),
            "down" if down.is_none() => down = Some(line_no),
            "up" | "down" => return Err((line_no, format!("`-- +goose {rest}` is given twice"))),
            "no transaction" => no_transaction = true,
            "statementbegin" => open_block = Some(line_no),
            "statementend" => {
                if open_block.take().is_none() {
                    return Err((
                        line_no,
                        "`-- +goose StatementEnd` without a StatementBegin before it".into(),
                    ));
                }
            }
            other if other.starts_with("envsub") => {
                return Err((line_no, "goose's ENVSUB (environment variables in SQL) is not supported: write the values into the file".into()));
            }
            _ => {
                return Err((
                    line_no,
                    format!("unknown goose annotation `-- +goose {rest}`"),
                ));
            }
        }
    }
    if let Some(line) = open_block {
        return Err((
            line,
            "`-- +goose StatementBegin` is never closed with StatementEnd".into(),
        ));
    }
    let Some(up) = up else {
        return Err((
            1,
            "has no `-- +goose Up` line: add it above the migration's SQL".into(),
        ));
    };
    sections(
        (up, down, lines),
        (no_transaction, no_transaction),
        "`-- +goose Down` comes before `-- +goose Up`: put the Up section first",
    )
}

/// The sections between the up marker, the down marker and the end (`lines` + 1), and
/// whether each runs outside a transaction; `misordered` when down comes before up.
fn sections(
    (up, down, lines): (usize, Option<usize>, usize),
    (no_transaction, down_no_transaction): (bool, bool),
    misordered: &str,
) -> SectionResult {
    match down {
        Some(down) if down < up => Err((down, misordered.to_string())),
        Some(down) => Ok(Sections {
            up: (up + 1, down),
            down: Some((down + 1, lines)),
            no_transaction,
            down_no_transaction,
        }),
        None => Ok(Sections {
            up: (up + 1, lines),
            down: None,
            no_transaction,
            down_no_transaction,
        }),
    }
}

/// Flyway: `V{v}__{d}.sql` and `U{v}__{d}.sql`; dotted versions order part by part.
fn read_flyway(entries: &[&Entry], problems: &mut Vec<Problem>) -> Vec<Found> {
    let mut forwards = Vec::new();
    let mut undos: BTreeMap<Vec<u64>, &Entry> = BTreeMap::new();
    for entry in entries {
        if entry.is_dir {
            subfolder(entry, problems);
            continue;
        }
        if entry.name.ends_with(".sql.conf") {
            continue; // read with its migration
        }
        if !entry.name.ends_with(".sql") {
            problems.push(not_sql(&entry.name));
            continue;
        }
        match flyway_name(&entry.name) {
            Some(f) if f.prefix == 'R' => problems.push(Problem::new(
                ProblemKind::InvalidName,
                &entry.name,
                "Flyway repeatable (`R__`) migrations are not supported: give the change a version, V{version}__{description}.sql",
            )),
            Some(f) if f.prefix == 'U' => {
                undos.insert(trimmed_parts(&f.parts), entry);
            }
            Some(f) => forwards.push((*entry, f)),
            None => problems.push(not_of_layout(Layout::Flyway, &entry.name)),
        }
    }
    let dotted = forwards.iter().any(|(_, f)| f.parts.len() > 1);
    let mut found = Vec::new();
    for (entry, f) in forwards {
        let Some(version) = flyway_number(&f.parts, dotted) else {
            problems.push(Problem::new(
                ProblemKind::InvalidName,
                &entry.name,
                format!("version `{}` has more than 6 parts or a part over 999 (or a first part over 9222): runner orders dotted versions in a 64-bit number; shorten it", f.version),
            ));
            continue;
        };
        let Some(forward) = whole(&entry.name, &entry.path, problems) else {
            continue;
        };
        let rollback = undos
            .remove(&trimmed_parts(&f.parts))
            .and_then(|u| whole(&u.name, &u.path, problems));
        let no_transaction = flyway_no_transaction(&forward.path);
        let rollback_no_transaction = rollback
            .as_ref()
            .is_some_and(|r| flyway_no_transaction(&r.path));
        found.push(Found {
            version,
            name: f.description.to_string(),
            tool_id: f
                .parts
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("."),
            digits: f.version.len(),
            forward,
            rollback,
            no_transaction,
            rollback_no_transaction,
        });
    }
    for (_, entry) in undos {
        problems.push(Problem::new(
            ProblemKind::OrphanRollback,
            &entry.name,
            format!(
                "has no versioned migration V{}: restore it, or delete this undo",
                entry.name.get(1..).unwrap_or_default()
            ),
        ));
    }
    found
}

/// Flyway's per-script configuration, `V1__a.sql.conf`: `executeInTransaction=false`.
fn flyway_no_transaction(script: &Path) -> bool {
    let mut conf = script.as_os_str().to_owned();
    conf.push(".conf");
    std::fs::read_to_string(conf).is_ok_and(|conf| {
        conf.lines().any(|l| {
            let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            l.eq_ignore_ascii_case("executeInTransaction=false")
        })
    })
}

/// Flyway compares versions part by part, `1.0` equal to `1`.
fn trimmed_parts(parts: &[u64]) -> Vec<u64> {
    let mut parts = parts.to_vec();
    while parts.len() > 1 && parts.last() == Some(&0) {
        parts.pop();
    }
    parts
}

/// runner's number for a Flyway version: the number itself when every version of the folder
/// is a whole number, else the parts packed three digits each, which keeps Flyway's order.
fn flyway_number(parts: &[u64], dotted: bool) -> Option<i64> {
    if !dotted {
        return parts.first().and_then(|p| i64::try_from(*p).ok());
    }
    if parts.len() > 6 || parts.iter().skip(1).any(|p| *p > 999) || parts[0] > 9222 {
        return None;
    }
    let mut value: i64 = 0;
    for i in 0..6 {
        value = value * 1000 + parts.get(i).copied().unwrap_or(0) as i64;
    }
    Some(value)
}

/// `YYYYMMDDHHMMSS` in UTC: the version tools stamp new migrations with.
pub fn timestamp_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// What `runner new` writes: the migration's name and header, whether it gets a rollback
/// file, and whether the folder pairs its files as `.up.sql` and `.down.sql`.
pub struct NewMigration<'a> {
    pub name: &'a str,
    pub header: &'a str,
    pub irreversible: bool,
    pub reversible_files: bool,
}

/// The files `runner new` writes for the next migration of a folder in `layout`, given the
/// highest version so far (and its digit count), relative to the folder.
pub fn next_files(
    layout: Layout,
    last: Option<&super::Migration>,
    new: &NewMigration<'_>,
) -> Vec<(String, String)> {
    let (name, header) = (new.name, new.header);
    let down_note = if new.irreversible {
        ""
    } else {
        "-- Undo exactly what the migration does.\n\n"
    };
    // The forward file and, unless irreversible, its rollback file.
    let pair = |forward: String, down: String| {
        let mut files = vec![(forward, header.to_string())];
        if !new.irreversible {
            files.push((down, down_note.to_string()));
        }
        files
    };
    // One file holding both, between the tool's markers.
    let one = |(up, down): (&str, &str)| {
        let v = next_version(last);
        vec![(
            format!("{v}_{name}.sql"),
            format!("{up}\n{header}\n{down}\n{down_note}"),
        )]
    };
    match layout {
        Layout::Runner => Vec::new(),
        Layout::Sqlx | Layout::GolangMigrate => {
            let v = next_version(last);
            let reversible = new.reversible_files || layout == Layout::GolangMigrate;
            let ext = if reversible { ".up.sql" } else { ".sql" };
            pair(format!("{v}_{name}{ext}"), format!("{v}_{name}.down.sql"))
        }
        Layout::Diesel => {
            let v = next_version(last);
            let dashed = last.is_none_or(|m| m.forward.file_name.contains('-'));
            let folder = if dashed && v.len() == 14 {
                format!("{}-{}-{}-{}", &v[..4], &v[4..6], &v[6..8], &v[8..])
            } else {
                v
            };
            pair(
                format!("{folder}_{name}/up.sql"),
                format!("{folder}_{name}/down.sql"),
            )
        }
        Layout::Prisma => {
            let v = next_version(last);
            pair(
                format!("{v}_{name}/migration.sql"),
                format!("{v}_{name}/down.sql"),
            )
        }
        Layout::Dbmate => one(("-- migrate:up", "-- migrate:down")),
        Layout::Goose => one(("-- +goose Up", "-- +goose Down")),
        Layout::Flyway => {
            let next = last.map_or(0, |m| {
                m.tool_id
                    .split('.')
                    .next()
                    .and_then(|p| p.parse::<u64>().ok())
                    .unwrap_or(0)
            }) + 1;
            pair(
                format!("V{next}__{name}.sql"),
                format!("U{next}__{name}.sql"),
            )
        }
    }
}

/// The next version in a timestamp-or-counter numbering: the counter's next, zero-padded as
/// the folder pads it; or the time now, unless the last timestamp is later (a clock behind).
fn next_version(last: Option<&super::Migration>) -> String {
    let now = timestamp_now();
    match last.map(|m| (m.version, m.version_digits)) {
        Some((v, digits)) if digits < 14 => format!("{:0digits$}", v + 1),
        Some((v, _)) => {
            let now_v: i64 = now.parse().unwrap_or(0);
            if now_v > v { now } else { (v + 1).to_string() }
        }
        None => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbmate_sections_split_at_the_markers() {
        let text = "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n";
        let s = dbmate_sections(text).unwrap();
        assert_eq!(s.up, (2, 4));
        assert_eq!(s.down, Some((5, 6)));
        assert!(s.no_transaction);
        assert_eq!(
            section_text(text, 2, 4),
            "CREATE INDEX CONCURRENTLY i ON t (a);\n\n"
        );
        assert_eq!(section_text(text, 5, 6), "DROP INDEX i;\n");
        assert!(dbmate_sections("CREATE TABLE t (a int);").is_err());
    }

    #[test]
    fn goose_sections_read_annotations_in_any_case() {
        let text = "-- +goose NO TRANSACTION\n-- +goose up\n-- +goose StatementBegin\nSELECT 1;\n-- +goose StatementEnd\n-- +goose Down\nSELECT 2;\n";
        let s = goose_sections(text).unwrap();
        assert_eq!(s.up, (3, 6));
        assert_eq!(s.down, Some((7, 8)));
        assert!(s.no_transaction);
        let err =
            goose_sections("-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n").unwrap_err();
        assert_eq!(err.0, 2);
    }

    #[test]
    fn flyway_versions_keep_flyways_order() {
        let v = |s: &str| {
            let f = flyway_name(s).unwrap();
            flyway_number(&f.parts, true).unwrap()
        };
        assert!(v("V1__a.sql") < v("V1.1__b.sql"));
        assert!(v("V1.1__b.sql") < v("V1_2__c.sql"));
        assert!(v("V1_2__c.sql") < v("V2__d.sql"));
        assert!(v("V1.10__e.sql") > v("V1.9__f.sql"));
        assert_eq!(flyway_number(&[7], false), Some(7));
        assert!(flyway_name("V1__a.down.sql").is_none());
    }

    #[test]
    fn rollback_places_follow_the_layout() {
        assert_eq!(
            Layout::Sqlx.rollback_place("1_a.up.sql").1,
            "write 1_a.down.sql"
        );
        assert_eq!(
            Layout::Diesel
                .rollback_place("2019-01-01-000000_a/up.sql")
                .1,
            "write 2019-01-01-000000_a/down.sql"
        );
        assert_eq!(
            Layout::Flyway.rollback_place("V1.1__a.sql").1,
            "write U1.1__a.sql"
        );
        assert!(
            Layout::Dbmate
                .rollback_place("1_a.sql")
                .0
                .contains("-- migrate:down")
        );
    }
}
