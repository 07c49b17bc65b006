//! Waiting for a gap. A DDL statement that queues for a table lock makes every later query of
//! that table queue behind it, so a migration waiting on a long transaction stalls live
//! traffic. `lock_timeout` bounds each wait; better, before each attempt runner looks for
//! sessions holding a lock that conflicts with the statement's (pg_locks, pg_stat_activity)
//! and, while one has held it longer than `lock_timeout`, waits for it to end instead of
//! queueing behind it, saying whom it waits for. Readers then never queue behind runner.
//!
//! Bounded: after `Limits::gap_wait` the statement is tried anyway, under `lock_timeout`
//! and its retries. PostgreSQL only (MySQL's metadata locks need performance_schema's MDL
//! instrument; SQLite has no table locks).

use std::time::{Duration, Instant};

use crate::config::Dialect;
use crate::db::{Conn, DbError, Limits};
use crate::lint::model::{ConstraintKind, Op};

/// The table-lock modes runner's statements take (PostgreSQL's names), weakest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    AccessExclusive,
    ShareRowExclusive,
    Share,
    ShareUpdateExclusive,
    RowExclusive,
}

impl Mode {
    /// Whether a lock held in `held` (pg_locks.mode) conflicts with this one.
    fn conflicts_with(self, held: &str) -> bool {
        let conflicting: &[&str] = match self {
            Mode::AccessExclusive => &[
                "AccessShareLock",
                "RowShareLock",
                "RowExclusiveLock",
                "ShareUpdateExclusiveLock",
                "ShareLock",
                "ShareRowExclusiveLock",
                "ExclusiveLock",
                "AccessExclusiveLock",
            ],
            Mode::ShareRowExclusive => &[
                "RowExclusiveLock",
                "ShareUpdateExclusiveLock",
                "ShareLock",
                "ShareRowExclusiveLock",
                "ExclusiveLock",
                "AccessExclusiveLock",
            ],
            Mode::Share => &[
                "RowExclusiveLock",
                "ShareUpdateExclusiveLock",
                "ShareRowExclusiveLock",
                "ExclusiveLock",
                "AccessExclusiveLock",
            ],
            Mode::ShareUpdateExclusive => &[
                "ShareUpdateExclusiveLock",
                "ShareLock",
                "ShareRowExclusiveLock",
                "ExclusiveLock",
                "AccessExclusiveLock",
            ],
            Mode::RowExclusive => &[
                "ShareLock",
                "ShareRowExclusiveLock",
                "ExclusiveLock",
                "AccessExclusiveLock",
            ],
        };
        conflicting.contains(&held)
    }

    fn stronger(self, other: Mode) -> Mode {
        let rank = |m: Mode| match m {
            Mode::AccessExclusive => 0,
            Mode::ShareRowExclusive => 1,
            Mode::Share => 2,
            Mode::ShareUpdateExclusive => 3,
            Mode::RowExclusive => 4,
        };
        if rank(self) <= rank(other) {
            self
        } else {
            other
        }
    }
}

/// The existing tables `statements` lock, each with the strongest mode taken on it. Tables
/// created by the statements themselves are left out: nobody else holds them.
pub fn targets<'a>(
    statements: impl IntoIterator<Item = &'a str>,
    dialect: Dialect,
) -> Vec<(String, Mode)> {
    // Only where locks are read (`wait_for_gap`) is there anything to parse for.
    if !crate::db::backend(dialect).reads_table_locks() {
        return Vec::new();
    }
    let parsed: Vec<_> = statements
        .into_iter()
        .map(|sql| crate::lint::parse::parse(sql, dialect))
        .collect();
    targets_of(
        dialect,
        parsed
            .iter()
            .flat_map(|p| &p.statements)
            .flat_map(|s| &s.ops),
    )
}

/// `targets` of statements already parsed, from their operations in order.
pub fn targets_of<'a>(
    dialect: Dialect,
    ops: impl IntoIterator<Item = &'a Op>,
) -> Vec<(String, Mode)> {
    let mut out: Vec<(String, Mode)> = Vec::new();
    if !crate::db::backend(dialect).reads_table_locks() {
        return out;
    }
    let mut created: Vec<String> = Vec::new();
    let mut add = |table: &str, mode: Mode, created: &[String]| {
        if table.is_empty() || created.iter().any(|c| c == table) {
            return;
        }
        match out.iter_mut().find(|(t, _)| t == table) {
            Some((_, m)) => *m = m.stronger(mode),
            None => out.push((table.to_string(), mode)),
        }
    };
    {
        for op in ops {
            let (table, mode) = match op {
                Op::CreateTable { table, .. } => {
                    created.push(table.clone());
                    continue;
                }
                Op::CreateIndex {
                    table,
                    concurrently,
                    ..
                } => (
                    table.as_str(),
                    if *concurrently {
                        Mode::ShareUpdateExclusive
                    } else {
                        Mode::Share
                    },
                ),
                Op::ValidateConstraint { table, .. } => {
                    (table.as_str(), Mode::ShareUpdateExclusive)
                }
                Op::AddConstraint {
                    table,
                    kind: ConstraintKind::ForeignKey,
                    ..
                } => (table.as_str(), Mode::ShareRowExclusive),
                Op::Update { table, .. }
                | Op::Delete { table, .. }
                | Op::InsertSelect { table, .. } => (table.as_str(), Mode::RowExclusive),
                Op::AddColumn(c) => (c.table.as_str(), Mode::AccessExclusive),
                Op::AddConstraint { table, .. }
                | Op::RenameColumn { table, .. }
                | Op::DropColumn { table, .. }
                | Op::ChangeColumnType { table, .. }
                | Op::SetNotNull { table, .. }
                | Op::DropNotNull { table, .. } => (table.as_str(), Mode::AccessExclusive),
                Op::RenameTable { from, .. } => (from.as_str(), Mode::AccessExclusive),
                Op::DropTable { tables } | Op::Truncate { tables } => {
                    for t in tables {
                        add(t, Mode::AccessExclusive, &created);
                    }
                    continue;
                }
                _ => continue,
            };
            add(table, mode, &created);
        }
    }
    out
}

/// A session holding a lock the statement would queue behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: String,
    pub application: String,
    pub state: String,
    pub query: String,
    pub table: String,
    pub mode: String,
    /// How long its transaction has been open.
    pub held_for: Duration,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let app = if self.application.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.application)
        };
        write!(
            f,
            "pid {}{app} holds {} on {} ({}, transaction open {:.1} s): {}",
            self.pid,
            self.mode,
            self.table,
            self.state,
            self.held_for.as_secs_f64(),
            self.query
        )
    }
}

const HOLDERS_SQL: &str = "SELECT a.pid::text, coalesce(a.application_name, ''), coalesce(a.state, ''),
        left(regexp_replace(coalesce(a.query, ''), '\\s+', ' ', 'g'), 100), n.nspname || '.' || c.relname, l.mode,
        extract(epoch FROM clock_timestamp() - coalesce(a.xact_start, a.query_start, clock_timestamp()))::float8::text
 FROM pg_locks l
 JOIN pg_class c ON c.oid = l.relation
 JOIN pg_namespace n ON n.oid = c.relnamespace
 LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
   AND l.relation = to_regclass($1)";

/// The first session that holds a lock on `targets` conflicting with the statement's, and has
/// held its transaction open longer than `patience` (a young one is likely a quick query).
async fn holder(
    conn: &mut Conn,
    targets: &[(String, Mode)],
    patience: Duration,
) -> Result<Option<Holder>, DbError> {
    for (table, mode) in targets {
        for row in conn
            .fetch_text(HOLDERS_SQL, vec![table.clone().into()])
            .await?
        {
            let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let held_for = Duration::from_secs_f64(text(6).parse::<f64>().unwrap_or(0.0).max(0.0));
            if mode.conflicts_with(&text(5)) && held_for >= patience {
                return Ok(Some(Holder {
                    pid: text(0),
                    application: text(1),
                    state: text(2),
                    query: text(3),
                    table: text(4),
                    mode: text(5),
                    held_for,
                }));
            }
        }
    }
    Ok(None)
}

/// Waits until no session holds a conflicting lock on `targets` for longer than
/// `lock_timeout`, or until `until` (the statement's whole budget, `Limits::gap_wait` from its
/// first attempt, shared by its retries); `waiting` hears whom it waits for. Returns how long it
/// waited. A database without table locks to read returns at once.
pub async fn wait_for_gap(
    conn: &mut Conn,
    targets: &[(String, Mode)],
    limits: &Limits,
    until: Instant,
    waiting: &mut dyn FnMut(&Holder, Duration),
) -> Result<Duration, DbError> {
    let started = Instant::now();
    if !conn.backend().reads_table_locks() || targets.is_empty() || limits.gap_wait.is_zero() {
        return Ok(Duration::ZERO);
    }
    loop {
        let Some(h) = holder(conn, targets, limits.lock_timeout).await? else {
            return Ok(started.elapsed());
        };
        if Instant::now() >= until {
            // Tried anyway, under lock_timeout and its retries.
            return Ok(started.elapsed());
        }
        waiting(&h, started.elapsed());
        if crate::runtime::interrupts() > 0 {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_statement_names_the_tables_it_locks_and_how() {
        let t = targets(
            [
                "CREATE TABLE fresh (id int)",
                "ALTER TABLE fresh ADD COLUMN a int",
                "ALTER TABLE hot ADD COLUMN note text",
                "CREATE INDEX CONCURRENTLY i ON orders (a)",
                "UPDATE hot SET note = 'x' WHERE id = 1",
            ],
            Dialect::Postgres,
        );
        assert_eq!(
            t,
            [
                ("hot".to_string(), Mode::AccessExclusive),
                ("orders".to_string(), Mode::ShareUpdateExclusive),
            ]
        );
    }

    #[test]
    fn a_reader_blocks_an_alter_but_not_an_index_build() {
        assert!(Mode::AccessExclusive.conflicts_with("AccessShareLock"));
        assert!(!Mode::Share.conflicts_with("AccessShareLock"));
        assert!(Mode::Share.conflicts_with("RowExclusiveLock"));
        assert!(!Mode::ShareUpdateExclusive.conflicts_with("RowExclusiveLock"));
    }
}
