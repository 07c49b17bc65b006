//! Another tool's history table, read, proven against the files and taken over
//! (`runner adopt --env E`), and written alongside runner's own during a trial
//! (`[migrations] mirror`).
//!
//! | tool | table | applied | checksum runner proves |
//! |---|---|---|---|
//! | sqlx | `_sqlx_migrations` | `success` rows; a `false` row is failed | SHA-384 of the file |
//! | Diesel | `__diesel_schema_migrations` | every row | (none kept) |
//! | golang-migrate | `schema_migrations` (`version`, `dirty`) | every file up to its one version; dirty refused | (none kept) |
//! | dbmate | `schema_migrations` (`version`) | every row | (none kept) |
//! | goose | `goose_db_version` | the latest row of each version, when `is_applied` | (none kept) |
//! | Flyway | `flyway_schema_history` | `success` versioned rows (and up to a baseline), less undone ones | its CRC32 of the file's lines |
//! | refinery | `refinery_schema_history` | every row | its SipHasher13 u64 |
//! | Prisma | `_prisma_migrations` | finished, not rolled back; failed or rolled back refused | SHA-256 of migration.sql |
//!
//! Table definitions are the tools' own: sqlx-core's `migrate.rs`, diesel_migrations'
//! `setup_migration_table`, golang-migrate's database drivers, dbmate's drivers, goose's
//! dialect queries, Flyway's `createMetaDataTable.sql`, refinery-core's `ASSERT_MIGRATIONS_TABLE`
//! and Prisma's migration-engine `_prisma_migrations` definition.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256, Sha384};

use crate::catalog::{Catalog, Layout, Migration};
use crate::config::Dialect;
use crate::db::{Conn, DbError};
use crate::engine::history::{History, HistoryRow, Mode, NewRow, RunInfo, State};
use crate::hints::{self, At};

/// A tool whose history table runner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Sqlx,
    Diesel,
    GolangMigrate,
    Dbmate,
    Goose,
    Flyway,
    Refinery,
    Prisma,
}

impl Tool {
    /// In the order runner looks for them (golang-migrate before dbmate: they share a name).
    pub const ALL: [Tool; 8] = [
        Tool::Sqlx,
        Tool::Diesel,
        Tool::GolangMigrate,
        Tool::Dbmate,
        Tool::Goose,
        Tool::Flyway,
        Tool::Refinery,
        Tool::Prisma,
    ];

    /// The tools `[migrations] mirror` can name.
    pub const MIRRORED: &str = "sqlx, diesel, golang-migrate, dbmate and goose";

    pub fn mirrors(layout: Layout) -> bool {
        Tool::of_layout(layout).is_some_and(|t| t.mirror_table().is_some())
    }

    pub fn of_layout(layout: Layout) -> Option<Tool> {
        Some(match layout {
            Layout::Sqlx => Tool::Sqlx,
            Layout::Diesel => Tool::Diesel,
            Layout::GolangMigrate => Tool::GolangMigrate,
            Layout::Dbmate => Tool::Dbmate,
            Layout::Goose => Tool::Goose,
            Layout::Flyway => Tool::Flyway,
            Layout::Prisma => Tool::Prisma,
            Layout::Runner => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::Sqlx => "sqlx",
            Tool::Diesel => "Diesel",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Dbmate => "dbmate",
            Tool::Goose => "goose",
            Tool::Flyway => "Flyway",
            Tool::Refinery => "refinery",
            Tool::Prisma => "Prisma",
        }
    }

    pub fn table(self) -> &'static str {
        match self {
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Diesel => "__diesel_schema_migrations",
            Tool::GolangMigrate | Tool::Dbmate => "schema_migrations",
            Tool::Goose => "goose_db_version",
            Tool::Flyway => "flyway_schema_history",
            Tool::Refinery => "refinery_schema_history",
            Tool::Prisma => "_prisma_migrations",
        }
    }

    fn mirror_table(self) -> Option<&'static str> {
        matches!(
            self,
            Tool::Sqlx | Tool::Diesel | Tool::GolangMigrate | Tool::Dbmate | Tool::Goose
        )
        .then(|| self.table())
    }
}

/// How a tool's row names its migration.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    /// A version number (sqlx, goose, refinery).
    Number(i64),
    /// The version as the tool writes it (Diesel, dbmate) or Prisma's folder name.
    Text(String),
    /// Flyway's version parts, trailing zeros trimmed.
    Dotted(Vec<u64>),
    /// Every migration up to and including this one (golang-migrate's single row, Flyway's
    /// baseline).
    UpTo(Box<Key>),
}

/// A checksum the tool kept for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sum {
    Sha384(String),
    Crc32(i32),
    Refinery(String),
    Sha256(String),
}

/// One applied migration of the tool's history, or one row it refuses.
#[derive(Debug, Clone)]
struct ToolRow {
    key: Key,
    /// How the row is named to people: `version 20240101000000`.
    shown: String,
    sum: Option<Sum>,
    /// Why this row cannot be taken over (dirty, failed, rolled back), with the way out.
    refused: Option<String>,
}

/// The history tables of other tools in a database.
pub async fn present(conn: &mut Conn) -> Result<Vec<Tool>, DbError> {
    let backend = conn.backend();
    let tables: Vec<&str> = Tool::ALL.iter().map(|t| t.table()).collect();
    let exists = conn.tables_exist(&tables).await?;
    let mut found = Vec::new();
    for (tool, _) in Tool::ALL.into_iter().zip(exists).filter(|(_, e)| *e) {
        // golang-migrate's table without its `dirty` column is dbmate's, found once.
        if found.contains(&tool) || (tool == Tool::Dbmate && found.contains(&Tool::GolangMigrate)) {
            continue;
        }
        if tool == Tool::GolangMigrate {
            let columns = conn
                .fetch_text(backend.columns_sql(), vec![tool.table().into()])
                .await?;
            let dirty = columns
                .iter()
                .any(|r| r.first().cloned().flatten().as_deref() == Some("dirty"));
            found.push(if dirty {
                Tool::GolangMigrate
            } else {
                Tool::Dbmate
            });
            continue;
        }
        found.push(tool);
    }
    Ok(found)
}

fn text(dialect: Dialect, expr: &str) -> String {
    format!(
        "CAST({expr} AS {})",
        crate::db::backend(dialect).cast_text()
    )
}

fn hex(dialect: Dialect, expr: &str) -> String {
    crate::db::backend(dialect).hex_of(expr)
}

fn truthy(value: Option<&str>) -> bool {
    matches!(value, Some("true" | "t" | "1" | "TRUE"))
}

/// The rows of `tool`'s table, as applied migrations (or refusals).
async fn read(conn: &mut Conn, tool: Tool) -> Result<Vec<ToolRow>, DbError> {
    let (d, table) = (conn.dialect(), tool.table());
    match tool {
        Tool::Sqlx => read_sqlx(conn, d, table).await,
        Tool::Diesel | Tool::Dbmate => read_versions(conn, d, table).await,
        Tool::GolangMigrate => read_golang_migrate(conn, d, table).await,
        Tool::Goose => read_goose(conn, d, table).await,
        Tool::Flyway => read_flyway(conn, d, table).await,
        Tool::Refinery => read_refinery(conn, d, table).await,
        Tool::Prisma => read_prisma(conn, d, table).await,
    }
}

/// A tool's version cell that is a number (sqlx, golang-migrate, refinery), as shown and as
/// a number; `None` for a row whose version is not one (skipped: not a migration of theirs).
fn numbered(cell: Option<&str>) -> Option<(String, i64)> {
    let version = cell.unwrap_or_default();
    Some((version.to_string(), version.parse::<i64>().ok()?))
}

/// A row of another tool's history, applied, with nothing more known yet.
fn tool_row(key: Key, shown: String) -> ToolRow {
    ToolRow {
        key,
        shown,
        sum: None,
        refused: None,
    }
}

/// sqlx's `_sqlx_migrations`: a failed row (success = false) is refused.
async fn read_sqlx(conn: &mut Conn, d: Dialect, table: &str) -> Result<Vec<ToolRow>, DbError> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT {}, description, {}, {} FROM {table} ORDER BY version",
        text(d, "version"),
        text(d, "success"),
        hex(d, "checksum")
    );
    for r in conn.fetch_text(&sql, Vec::new()).await? {
        let Some((version, number)) = numbered(r[0].as_deref()) else {
            continue;
        };
        let mut t = tool_row(
            Key::Number(number),
            format!("version {version} ({})", r[1].clone().unwrap_or_default()),
        );
        t.sum = r[3].clone().map(Sum::Sha384);
        if !truthy(r[2].as_deref()) {
            t.refused = Some(format!(
                "sqlx recorded {} as failed (success = false): it stopped part-way outside a transaction. Undo or finish what it left by hand, delete its row from {table}, then run adopt again",
                t.shown
            ));
        }
        out.push(t);
    }
    Ok(out)
}

/// Diesel's and dbmate's: the version as text, nothing else.
async fn read_versions(conn: &mut Conn, d: Dialect, table: &str) -> Result<Vec<ToolRow>, DbError> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY version",
        text(d, "version")
    );
    for r in conn.fetch_text(&sql, Vec::new()).await? {
        let version = r[0].clone().unwrap_or_default();
        out.push(tool_row(
            Key::Text(version.clone()),
            format!("version {version}"),
        ));
    }
    Ok(out)
}

/// golang-migrate's one row: the version the database is at, refused when dirty.
async fn read_golang_migrate(
    conn: &mut Conn,
    d: Dialect,
    table: &str,
) -> Result<Vec<ToolRow>, DbError> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT {}, {} FROM {table}",
        text(d, "version"),
        text(d, "dirty")
    );
    for r in conn.fetch_text(&sql, Vec::new()).await? {
        let Some((version, number)) = numbered(r[0].as_deref()) else {
            continue;
        };
        let mut t = tool_row(
            Key::UpTo(Box::new(Key::Number(number))),
            format!("version {version}"),
        );
        if truthy(r[1].as_deref()) {
            t.refused = Some(format!(
                "golang-migrate marks {} dirty: it failed part-way. Make the database match a version by hand, record it with `migrate force VERSION`, then run adopt again",
                t.shown
            ));
        }
        out.push(t);
    }
    Ok(out)
}

/// goose's log of ups and downs: the latest row of each version says where it stands; a version
/// goose rolled back (`goose down`) is not applied, as goose itself reads it.
async fn read_goose(conn: &mut Conn, d: Dialect, table: &str) -> Result<Vec<ToolRow>, DbError> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT {}, {} FROM {table} ORDER BY id",
        text(d, "version_id"),
        text(d, "is_applied")
    );
    let mut latest: BTreeMap<i64, bool> = BTreeMap::new();
    for r in conn.fetch_text(&sql, Vec::new()).await? {
        if let Some(v) = r[0].as_deref().and_then(|v| v.parse::<i64>().ok()) {
            latest.insert(v, truthy(r[1].as_deref()));
        }
    }
    for (version, applied) in latest {
        if applied && version != 0 {
            out.push(tool_row(Key::Number(version), format!("version {version}")));
        }
    }
    Ok(out)
}

/// Flyway's history: versioned SQL (with its CRC32), baselines, undone versions removed;
/// repeatable and non-SQL migrations refused.
async fn read_flyway(conn: &mut Conn, d: Dialect, table: &str) -> Result<Vec<ToolRow>, DbError> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT version, type, script, {}, {} FROM {table} ORDER BY installed_rank",
        text(d, "checksum"),
        text(d, "success")
    );
    let mut by_version: BTreeMap<Vec<u64>, ToolRow> = BTreeMap::new();
    for r in conn.fetch_text(&sql, Vec::new()).await? {
        let kind = r[1].clone().unwrap_or_default();
        let script = r[2].clone().unwrap_or_default();
        let Some(version) = r[0].clone() else {
            if kind == "SQL" {
                out.push(ToolRow {
                    key: Key::Text(script.clone()),
                    shown: format!("repeatable {script}"),
                    sum: None,
                    refused: Some(format!(
                        "Flyway applied the repeatable migration {script}; runner runs versioned migrations only. Give its SQL a version (V{{n}}__...) or keep running it with Flyway, drop its row from {table}, then run adopt again"
                    )),
                });
            }
            continue;
        };
        let parts = dotted(&version);
        let shown = format!("version {version} ({script})");
        match kind.as_str() {
            "SCHEMA" | "DELETE" => {}
            "UNDO_SQL" if truthy(r[4].as_deref()) => {
                by_version.remove(&parts);
            }
            "BASELINE" => {
                by_version.insert(
                    parts.clone(),
                    tool_row(
                        Key::UpTo(Box::new(Key::Dotted(parts))),
                        format!("baseline {version}"),
                    ),
                );
            }
            "SQL" | "UNDO_SQL" => {
                let mut t = tool_row(Key::Dotted(parts.clone()), shown);
                t.sum = r[3]
                    .as_deref()
                    .and_then(|c| c.parse::<i32>().ok())
                    .map(Sum::Crc32);
                if !truthy(r[4].as_deref()) {
                    t.refused = Some(format!(
                        "Flyway recorded {} as failed: fix the database by hand, run `flyway repair` to remove the failed row, then run adopt again",
                        t.shown
                    ));
                }
                by_version.insert(parts, t);
            }
            other => {
                let mut t = tool_row(Key::Dotted(parts.clone()), shown);
                t.refused = Some(format!(
                    "Flyway applied {} as a {other} migration, which runner cannot run: keep running it with Flyway, or write it as SQL",
                    t.shown
                ));
                by_version.insert(parts, t);
            }
        }
    }
    out.extend(by_version.into_values());
    Ok(out)
}

/// refinery's history, with its checksums.
async fn read_refinery(conn: &mut Conn, d: Dialect, table: &str) -> Result<Vec<ToolRow>, DbError> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT {}, name, checksum FROM {table} ORDER BY version",
        text(d, "version")
    );
    for r in conn.fetch_text(&sql, Vec::new()).await? {
        let Some((version, number)) = numbered(r[0].as_deref()) else {
            continue;
        };
        let mut t = tool_row(
            Key::Number(number),
            format!("version {version} ({})", r[1].clone().unwrap_or_default()),
        );
        t.sum = r[2].clone().map(Sum::Refinery);
        out.push(t);
    }
    Ok(out)
}

/// Prisma's `_prisma_migrations`: a failed or rolled-back migration is refused unless a later
/// row applied it.
async fn read_prisma(conn: &mut Conn, d: Dialect, table: &str) -> Result<Vec<ToolRow>, DbError> {
    let sql = format!(
        "SELECT migration_name, checksum, {}, {} FROM {table} ORDER BY started_at",
        text(d, "finished_at"),
        text(d, "rolled_back_at")
    );
    let mut by_name: BTreeMap<String, ToolRow> = BTreeMap::new();
    for r in conn.fetch_text(&sql, Vec::new()).await? {
        let name = r[0].clone().unwrap_or_default();
        let finished = r[2].is_some();
        let rolled_back = r[3].is_some();
        let mut t = tool_row(Key::Text(name.clone()), format!("migration {name}"));
        t.sum = r[1].clone().map(Sum::Sha256);
        match (finished, rolled_back) {
            (true, false) => {}
            (_, true) => {
                if by_name.get(&name).is_some_and(|r| r.refused.is_none()) {
                    continue;
                }
                t.refused = Some(format!(
                    "Prisma recorded {name} as failed and rolled back: it is not applied, and runner will not guess what is left of it. Apply it with `npx prisma migrate deploy` (or delete its row once the database holds none of it), then run adopt again"
                ));
            }
            (false, false) => {
                t.refused = Some(format!(
                    "Prisma recorded {name} as failed (no finished_at): fix the database by hand, mark it with `npx prisma migrate resolve --applied {name}` or `--rolled-back {name}`, then run adopt again"
                ));
            }
        }
        by_name.insert(name, t);
    }
    Ok(by_name.into_values().collect())
}

fn dotted(version: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = version
        .split(['.', '_'])
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    while parts.len() > 1 && parts.last() == Some(&0) {
        parts.pop();
    }
    parts
}

fn matches(key: &Key, m: &Migration) -> bool {
    match key {
        Key::Number(n) => m.version == *n,
        Key::Text(t) => m.tool_id == *t || t.parse::<i64>().is_ok_and(|n| n == m.version),
        Key::Dotted(parts) => dotted(&m.tool_id) == *parts,
        Key::UpTo(k) => matches(k, m),
    }
}

/// Flyway's checksum: CRC-32 over the file's lines, each without its line break (and the
/// first without a byte-order mark), as a signed 32-bit number.
pub fn flyway_checksum(text: &str) -> i32 {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let mut digest = crc.digest();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Java's readLine ends a line at \n, \r or \r\n.
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        digest.update(&rest.as_bytes()[..end]);
        let after = &rest[end..];
        rest = if let Some(r) = after.strip_prefix("\r\n") {
            r
        } else if after.is_empty() {
            after
        } else {
            &after[1..]
        };
    }
    digest.finalize() as i32
}

/// The tool's checksum of `m`'s file, as the tool computes it.
fn file_sum(kind: &Sum, m: &Migration) -> Sum {
    let text = &m.forward.sql;
    match kind {
        Sum::Sha384(_) => Sum::Sha384(hex::encode(Sha384::digest(text.as_bytes()))),
        Sum::Crc32(_) => Sum::Crc32(flyway_checksum(text)),
        Sum::Refinery(_) => Sum::Refinery(m.refinery_checksum.to_string()),
        Sum::Sha256(recorded) => {
            let raw = hex::encode(Sha256::digest(text.as_bytes()));
            // Prisma hashes the file as checked out; a checkout with other line endings is
            // the same migration.
            let lf = hex::encode(Sha256::digest(text.replace("\r\n", "\n").as_bytes()));
            if lf == *recorded {
                Sum::Sha256(lf)
            } else {
                Sum::Sha256(raw)
            }
        }
    }
}

fn sum_text(sum: &Sum) -> String {
    match sum {
        Sum::Sha384(h) | Sum::Sha256(h) => h.chars().take(16).collect::<String>() + "...",
        Sum::Crc32(c) => c.to_string(),
        Sum::Refinery(r) => r.clone(),
    }
}

/// A tool's history mapped onto the folder: what can be taken over, and what stops it.
#[derive(Debug, Clone, Default)]
pub struct Takeover {
    /// Versions of the files the tool applied, with the row each came from.
    pub applied: Vec<(i64, String)>,
    /// Why the history cannot be taken over: the file, the row and the way out.
    pub refusals: Vec<String>,
    /// Files the tool applied whose checksum it kept and runner proved.
    pub proven: usize,
}

/// Reads `tool`'s history and maps each applied row to its file in `catalog`.
pub async fn map(conn: &mut Conn, tool: Tool, catalog: &Catalog) -> Result<Takeover, DbError> {
    let rows = read(conn, tool).await?;
    let dir = crate::catalog::shown(&catalog.dir);
    let mut out = Takeover::default();
    for row in rows {
        if let Some(why) = &row.refused {
            out.refusals
                .push(format!("{} {}: {why}", tool.table(), row.shown));
            continue;
        }
        let found = catalog.migrations.iter().find(|m| matches(&row.key, m));
        let Some(m) = found else {
            out.refusals.push(format!(
                "{} {}: {} applied it, but no file in {dir}/ is that migration. Restore the file (from version control) or point [migrations] dir at the folder {} runs, then run adopt again",
                tool.table(),
                row.shown,
                tool.name(),
                tool.name()
            ));
            continue;
        };
        if let Key::UpTo(_) = row.key {
            for earlier in catalog.migrations.iter().filter(|e| e.version <= m.version) {
                out.applied.push((
                    earlier.version,
                    format!("{} (up to {})", tool.table(), row.shown),
                ));
            }
            continue;
        }
        if let Some(recorded) = &row.sum {
            let actual = file_sum(recorded, m);
            if actual != *recorded {
                out.refusals.push(format!(
                    "{}/{}: {} recorded checksum {} for {} when it applied it; the file's is now {}. The file changed after it was applied: restore it as applied (`git log -p -- {dir}/{}` shows when it changed), then run adopt again",
                    dir,
                    m.forward.file_name,
                    tool.name(),
                    sum_text(recorded),
                    row.shown,
                    sum_text(&actual),
                    m.forward.file_name
                ));
                continue;
            }
            out.proven += 1;
        }
        out.applied
            .push((m.version, format!("{} {}", tool.table(), row.shown)));
    }
    out.applied.sort();
    out.applied.dedup_by_key(|(v, _)| *v);
    Ok(out)
}

/// What `runner adopt` found (and, unless a dry run, recorded).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Per tool: its table, and the migrations taken over as (label, the row it came from).
    pub tools: Vec<(Tool, Vec<(String, String)>)>,
    /// Applied migrations runner's history already had.
    pub already: usize,
    pub proven: usize,
    pub recorded: bool,
}

impl Outcome {
    pub fn adopted(&self) -> usize {
        self.tools.iter().map(|(_, rows)| rows.len()).sum()
    }
}

/// Why `migrate` must not apply anything yet: another tool applied migrations that runner's
/// history does not hold (they would run twice). `None` when there is nothing to take over.
pub async fn untaken(
    conn: &mut Conn,
    catalog: &Catalog,
    rows: &[HistoryRow],
    at: At<'_>,
) -> Result<Option<String>, DbError> {
    for tool in present(conn).await? {
        let takeover = map(conn, tool, catalog).await?;
        let missing: Vec<String> = takeover
            .applied
            .iter()
            .filter(|(v, _)| {
                !rows
                    .iter()
                    .any(|r| r.version == *v && r.state == State::Applied)
            })
            .map(|(v, _)| crate::catalog::label(*v))
            .collect();
        let refused = !takeover.refusals.is_empty() && rows.is_empty();
        if missing.is_empty() && !refused {
            continue;
        }
        let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
        return Ok(Some(format!(
            "this database holds {}'s history ({}): it applied {} migration(s) runner's history does not have{}. Applying now could run them twice: `{}` takes that history over with proof (`{}` shows the mapping first)",
            tool.name(),
            tool.table(),
            missing.len(),
            if shown.is_empty() {
                String::new()
            } else {
                format!(
                    " ({}{})",
                    shown.join(", "),
                    if missing.len() > shown.len() {
                        ", ..."
                    } else {
                        ""
                    }
                )
            },
            hints::adopt(at),
            hints::adopt_dry_run(at)
        )));
    }
    Ok(None)
}

/// Whether `runner adopt` writes what it found (in one transaction, under these limits).
#[derive(Clone, Copy)]
pub enum Write<'a> {
    DryRun,
    Record(&'a crate::db::Limits),
}

/// `runner adopt`: maps every other tool's history in the database onto the files and, unless
/// a dry run, records what it applied in runner's history as adopted, in one transaction.
pub async fn adopt(
    conn: &mut Conn,
    history: &History,
    run: &RunInfo,
    catalog: &Catalog,
    write: Write<'_>,
) -> crate::error::Result<Outcome> {
    use crate::engine::db;
    let tools = present(conn)
        .await
        .map_err(|e| db("look for other tools' history tables", e))?;
    if tools.is_empty() {
        let names: Vec<&str> = Tool::ALL.iter().map(|t| t.table()).collect();
        return Err(crate::error::Error::Usage(format!(
            "{} holds no other tool's history table (looked for {}): there is nothing to adopt. If runner has never migrated it, `runner migrate` applies everything",
            run.environment,
            names.join(", ")
        )));
    }
    let rows = if history
        .exists(conn)
        .await
        .map_err(|e| db("read the history", e))?
    {
        history
            .rows(conn)
            .await
            .map_err(|e| db("read the history", e))?
    } else {
        Vec::new()
    };
    let (mut outcome, todo) = take_over(conn, &tools, catalog, &rows, run).await?;
    let Write::Record(limits) = write else {
        return Ok(outcome);
    };
    if todo.is_empty() {
        return Ok(outcome);
    }
    conn.begin(limits)
        .await
        .map_err(|e| db("open the adoption's transaction", e))?;
    let written = record(conn, history, run, catalog, &todo).await;
    match written {
        Ok(()) => conn
            .commit()
            .await
            .map_err(|e| db("commit the adoption", e))?,
        Err(e) => {
            conn.rollback().await;
            return Err(db("record the adopted migrations", e));
        }
    }
    outcome.recorded = true;
    Ok(outcome)
}

/// What each tool's history says is applied, against runner's rows: the migrations to record
/// as adopted (tool, version, where the tool says so), grouped by tool in the outcome; a
/// refusal for any runner left part-way.
async fn take_over(
    conn: &mut Conn,
    tools: &[Tool],
    catalog: &Catalog,
    rows: &[HistoryRow],
    run: &RunInfo,
) -> crate::error::Result<(Outcome, Vec<(Tool, i64, String)>)> {
    let mut outcome = Outcome::default();
    let mut refusals = Vec::new();
    let mut todo: Vec<(Tool, i64, String)> = Vec::new();
    for &tool in tools {
        let takeover = map(conn, tool, catalog)
            .await
            .map_err(|e| crate::engine::db(&format!("read {}", tool.table()), e))?;
        refusals.extend(takeover.refusals);
        outcome.proven += takeover.proven;
        for (version, from) in takeover.applied {
            let ours = rows.iter().find(|r| r.version == version);
            match ours.map(|r| r.state) {
                Some(State::Applied) => outcome.already += 1,
                _ if todo.iter().any(|(_, v, _)| *v == version) => outcome.already += 1,
                // Nothing of it is applied by runner's account: the tool's word stands.
                None | Some(State::RolledBack | State::FailedClean) => {
                    todo.push((tool, version, from))
                }
                Some(state) => refusals.push(format!(
                    "{from}: {} applied {}, but runner's history has it {state}, left part-way by a runner run: `{}` settles it first, then run adopt again",
                    tool.name(),
                    crate::catalog::label(version),
                    hints::recover(&run.environment)
                )),
            }
        }
    }
    if !refusals.is_empty() {
        return Err(crate::error::Error::Refused {
            environment: run.environment.clone(),
            problems: refusals,
        });
    }
    for (tool, version, from) in &todo {
        let label = catalog
            .migrations
            .iter()
            .find(|m| m.version == *version)
            .map_or_else(|| crate::catalog::label(*version), |m| m.label());
        match outcome.tools.iter_mut().find(|(t, _)| t == tool) {
            Some((_, list)) => list.push((label, from.clone())),
            None => outcome.tools.push((*tool, vec![(label, from.clone())])),
        }
    }
    Ok((outcome, todo))
}

async fn record(
    conn: &mut Conn,
    history: &History,
    run: &RunInfo,
    catalog: &Catalog,
    todo: &[(Tool, i64, String)],
) -> Result<(), DbError> {
    for (tool, version, from) in todo {
        let Some(m) = catalog.migrations.iter().find(|m| m.version == *version) else {
            continue;
        };
        let row = NewRow::recorded(m, Mode::Adopted);
        let detail = format!(
            "adopted from {} ({from}): applied by {} before runner took over",
            tool.name(),
            tool.name()
        );
        history.adopted(conn, &row, run, &detail).await?;
    }
    let mut tools: Vec<&str> = todo.iter().map(|(t, _, _)| t.table()).collect();
    tools.dedup();
    history
        .event(
            conn,
            run,
            None,
            "history_adopted",
            &format!(
                "{} migration(s) taken over from {}",
                todo.len(),
                tools.join(", ")
            ),
        )
        .await
}

/// Writes the tool's row for a migration runner applied (`applied`: in that many ms) or
/// rolled back (`None`), so the tool sees the state runner left (`[migrations] mirror`).
pub async fn mirror(
    conn: &mut Conn,
    layout: Layout,
    catalog: &Catalog,
    m: &Migration,
    applied: Option<i64>,
) -> Result<(), DbError> {
    let Some(tool) = Tool::of_layout(layout).filter(|t| t.mirror_table().is_some()) else {
        return Ok(());
    };
    let (d, backend) = (conn.dialect(), conn.backend());
    let table = tool.table();
    conn.execute(&mirror_table_sql(tool, d)).await?;
    let delete = format!("DELETE FROM {table} WHERE version = $1");
    match (tool, applied) {
        (Tool::Sqlx, Some(duration_ms)) => {
            let checksum = Sha384::digest(m.forward.sql.as_bytes());
            let literal = backend.bytes_literal(&checksum);
            conn.exec(delete, vec![m.version.into()]).await?;
            conn.exec(
                format!(
                    "INSERT INTO {table} (version, description, success, checksum, execution_time) VALUES ($1, $2, {}, {literal}, $3)",
                    backend.bool_literal(true)
                ),
                vec![
                    m.version.into(),
                    m.name.replace('_', " ").into(),
                    duration_ms.saturating_mul(1_000_000).into(),
                ],
            )
            .await?;
        }
        (Tool::Sqlx, None) => {
            conn.exec(delete, vec![m.version.into()]).await?;
        }
        (Tool::Diesel | Tool::Dbmate, applied) => {
            conn.exec(delete, vec![m.tool_id.clone().into()]).await?;
            if applied.is_some() {
                conn.exec(
                    format!("INSERT INTO {table} (version) VALUES ($1)"),
                    vec![m.tool_id.clone().into()],
                )
                .await?;
            }
        }
        (Tool::Goose, applied) => {
            conn.exec(
                format!(
                    "INSERT INTO {table} (version_id, is_applied) VALUES ($1, {})",
                    backend.bool_literal(applied.is_some())
                ),
                vec![m.version.into()],
            )
            .await?;
        }
        (Tool::GolangMigrate, applied) => {
            mirror_golang_migrate(conn, table, catalog, m, applied.is_some()).await?;
        }
        _ => {}
    }
    Ok(())
}

/// golang-migrate keeps one row: the version the database is at. After a rollback (they go
/// newest first), the version of the file before this one.
async fn mirror_golang_migrate(
    conn: &mut Conn,
    table: &str,
    catalog: &Catalog,
    m: &Migration,
    applied: bool,
) -> Result<(), DbError> {
    conn.execute(&format!("DELETE FROM {table}")).await?;
    let at = match applied {
        true => Some(m.version),
        false => catalog
            .migrations
            .iter()
            .filter(|e| e.version < m.version)
            .map(|e| e.version)
            .max(),
    };
    if let Some(v) = at {
        conn.exec(
            format!(
                "INSERT INTO {table} (version, dirty) VALUES ($1, {})",
                conn.backend().bool_literal(false)
            ),
            vec![v.into()],
        )
        .await?;
    }
    Ok(())
}

/// `[migrations] mirror`: brings the tool's table to what runner's history says is applied
/// (mirroring may start after runner applied some), so the tool would run nothing twice.
/// Returns how many rows it wrote.
pub async fn sync_mirror(
    conn: &mut Conn,
    catalog: &Catalog,
    rows: &[HistoryRow],
) -> Result<usize, DbError> {
    let Some(layout) = catalog.mirror else {
        return Ok(0);
    };
    let Some(tool) = Tool::of_layout(layout).filter(|t| t.mirror_table().is_some()) else {
        return Ok(0);
    };
    let held: Vec<i64> = if present(conn).await?.contains(&tool) {
        map(conn, tool, catalog)
            .await?
            .applied
            .into_iter()
            .map(|(v, _)| v)
            .collect()
    } else {
        Vec::new()
    };
    let applied = |m: &&Migration| {
        rows.iter()
            .any(|r| r.version == m.version && r.state == crate::engine::history::State::Applied)
    };
    let mut written = 0;
    if tool == Tool::GolangMigrate {
        let top = catalog
            .migrations
            .iter()
            .filter(applied)
            .max_by_key(|m| m.version);
        if let Some(m) = top.filter(|m| held.iter().max() != Some(&m.version)) {
            mirror(conn, layout, catalog, m, Some(0)).await?;
            written += 1;
        }
        return Ok(written);
    }
    for m in &catalog.migrations {
        let runner_has = applied(&m);
        let tool_has = held.contains(&m.version);
        if runner_has != tool_has {
            mirror(conn, layout, catalog, m, runner_has.then_some(0)).await?;
            written += 1;
        }
    }
    Ok(written)
}

/// The tool's own table definition, created when missing (a mirror may start on a database
/// the tool never touched).
fn mirror_table_sql(tool: Tool, d: Dialect) -> String {
    let table = tool.table();
    match (tool, d) {
        (Tool::Sqlx, Dialect::Postgres) => format!(
            "CREATE TABLE IF NOT EXISTS {table} (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)"
        ),
        (Tool::Sqlx, Dialect::Sqlite) => format!(
            "CREATE TABLE IF NOT EXISTS {table} (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)"
        ),
        (Tool::Sqlx, Dialect::Mysql) => format!(
            "CREATE TABLE IF NOT EXISTS {table} (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)"
        ),
        (Tool::Diesel, _) => format!(
            "CREATE TABLE IF NOT EXISTS {table} (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        ),
        (Tool::Dbmate, _) => {
            format!("CREATE TABLE IF NOT EXISTS {table} (version VARCHAR(128) PRIMARY KEY)")
        }
        (Tool::GolangMigrate, Dialect::Postgres) => format!(
            "CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL)"
        ),
        (Tool::GolangMigrate, _) => format!(
            "CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL)"
        ),
        (Tool::Goose, Dialect::Postgres) => format!(
            "CREATE TABLE IF NOT EXISTS {table} (id SERIAL PRIMARY KEY, version_id BIGINT NOT NULL, is_applied BOOLEAN NOT NULL, tstamp TIMESTAMP DEFAULT now())"
        ),
        (Tool::Goose, Dialect::Sqlite) => format!(
            "CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')))"
        ),
        (Tool::Goose, Dialect::Mysql) => format!(
            "CREATE TABLE IF NOT EXISTS {table} (id SERIAL NOT NULL, version_id BIGINT NOT NULL, is_applied BOOLEAN NOT NULL, tstamp TIMESTAMP NULL DEFAULT now(), PRIMARY KEY (id))"
        ),
        _ => String::from("SELECT 1"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flyway_checksum_ignores_line_endings_and_bom() {
        let lf = flyway_checksum("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n");
        let crlf =
            flyway_checksum("\u{feff}CREATE TABLE t (id int);\r\nINSERT INTO t VALUES (1);\r\n");
        assert_eq!(lf, crlf);
        // CRC-32 of the bytes without line breaks.
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
        assert_eq!(
            lf,
            crc.checksum(b"CREATE TABLE t (id int);INSERT INTO t VALUES (1);") as i32
        );
        assert_ne!(lf, flyway_checksum("CREATE TABLE t (id bigint);\n"));
    }

    #[test]
    fn flyway_versions_compare_as_flyway_does() {
        assert_eq!(dotted("1.1"), vec![1, 1]);
        assert_eq!(dotted("1_1"), vec![1, 1]);
        assert_eq!(dotted("2.0"), vec![2]);
    }

    /// Each tool whose table the database holds is found once, in one query: golang-migrate's
    /// name without its `dirty` column is dbmate's.
    #[test]
    fn other_tools_tables_are_found_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::config::DatabaseUrl::parse("sqlite://peers.db", dir.path()).unwrap();
        crate::runtime::block_on(async {
            let mut conn = Conn::open(&url, "test").await?;
            assert_eq!(present(&mut conn).await.unwrap(), Vec::<Tool>::new());
            conn.execute(
                "CREATE TABLE schema_migrations (version text PRIMARY KEY);
                 CREATE TABLE flyway_schema_history (installed_rank integer PRIMARY KEY)",
            )
            .await
            .unwrap();
            assert_eq!(
                conn.tables_exist(&[
                    "flyway_schema_history",
                    "goose_db_version",
                    "schema_migrations"
                ])
                .await
                .unwrap(),
                vec![true, false, true]
            );
            assert_eq!(
                present(&mut conn).await.unwrap(),
                vec![Tool::Dbmate, Tool::Flyway]
            );
            conn.execute("ALTER TABLE schema_migrations ADD COLUMN dirty boolean")
                .await
                .unwrap();
            assert_eq!(
                present(&mut conn).await.unwrap(),
                vec![Tool::GolangMigrate, Tool::Flyway]
            );
            Ok(())
        })
        .unwrap();
    }
}
