//! After a run stopped while a statement ran outside a transaction (CREATE INDEX
//! CONCURRENTLY...), the history says which statement was in flight but not whether it took
//! effect. The catalog does: this reads it and records what the database shows, so the next
//! run neither repeats a statement that completed nor skips one that did not.

use super::history::{History, HistoryRow, Mark, State};
use super::statements::{outside_transaction, stored_script};
use crate::catalog::directives::FileRole;
use crate::config::Dialect;
use crate::db::{Conn, DbError, IndexState, index_state};
use crate::db::{Effect, Expect, Part};

/// What the catalog said of one in-flight statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub version: i64,
    pub rollback: bool,
    pub statement: i64,
    /// Whether it took effect; `None` when the catalog cannot tell.
    pub took_effect: Option<bool>,
    pub detail: String,
}

/// Settles every in-flight statement of `rows` (call with the lock held: their runs are gone).
pub async fn settle(
    conn: &mut Conn,
    history: &History,
    rows: &[HistoryRow],
) -> Result<Vec<Settled>, DbError> {
    let mut settled = Vec::new();
    for row in rows {
        if let Some(k) = row.in_flight {
            let mut s = inspect(conn, row.version, false, &row.applied_sql, k).await?;
            if let Some(took) = s.took_effect {
                history
                    .mark(conn, row.version, Mark::Done(if took { k } else { k - 1 }))
                    .await?;
                // The last statement completed: the migration is applied, not partial.
                if took && k == row.statements_total {
                    history.set_state(conn, row.version, State::Applied).await?;
                    s.detail.push_str(&format!(
                        "; all {k} statement(s) committed: recorded applied"
                    ));
                }
            }
            settled.push(s);
        }
        if let (Some(k), Some(sql)) = (row.rollback_in_flight, &row.rollback_sql) {
            let mut s = inspect(conn, row.version, true, sql, k).await?;
            if let Some(took) = s.took_effect {
                history
                    .mark(
                        conn,
                        row.version,
                        Mark::RollbackDone(if took { k } else { k - 1 }),
                    )
                    .await?;
                if took && row.rollback_total == Some(k) {
                    history
                        .set_state(conn, row.version, State::RolledBack)
                        .await?;
                    s.detail.push_str(&format!(
                        "; all {k} rollback statement(s) committed: recorded rolled_back"
                    ));
                }
            }
            settled.push(s);
        }
    }
    Ok(settled)
}

/// Reads from the catalog whether statement `k` (1-based) of `sql` took effect.
async fn inspect(
    conn: &mut Conn,
    version: i64,
    rollback: bool,
    sql: &str,
    k: i64,
) -> Result<Settled, DbError> {
    let dialect = conn.dialect();
    let statement = nth_statement(sql, k, dialect);
    let short: String = statement
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(80)
        .collect();
    let what = format!(
        "V{version}{}: statement {k} (`{short}`) was running when the run stopped",
        if rollback { " rollback" } else { "" }
    );
    let (took_effect, outcome) =
        read_effect(conn, outside_transaction(&statement, dialect)).await?;
    Ok(Settled {
        version,
        rollback,
        statement: k,
        took_effect,
        detail: format!("{what}; {outcome}"),
    })
}

/// Whether a statement with `effect` took effect, read from the catalog (`None`: a person
/// must check), and what the catalog showed.
async fn read_effect(
    conn: &mut Conn,
    effect: Option<Effect>,
) -> Result<(Option<bool>, String), DbError> {
    Ok(match effect {
        Some(Effect::CreatesIndex(name)) => match index_state(conn, &name).await? {
            IndexState::Valid => (
                Some(true),
                format!("the index {name} exists and is valid: it completed, and counts as done"),
            ),
            IndexState::Invalid => (
                Some(false),
                format!(
                    "the index {name} exists but is INVALID: it did not complete; a resume drops and rebuilds it"
                ),
            ),
            IndexState::Missing => (
                Some(false),
                format!("the index {name} does not exist: it did not take effect"),
            ),
        },
        Some(Effect::DropsIndexes(names)) => {
            let mut left = Vec::new();
            for name in &names {
                if index_state(conn, name).await? != IndexState::Missing {
                    left.push(name.clone());
                }
            }
            if left.is_empty() {
                (
                    Some(true),
                    format!(
                        "{} no longer exist(s): it completed, and counts as done",
                        names.join(", ")
                    ),
                )
            } else {
                (
                    Some(false),
                    format!(
                        "{} still exist(s): it did not complete, and runs again",
                        left.join(", ")
                    ),
                )
            }
        }
        Some(Effect::Schema(expected)) => {
            let mut holds = Vec::new();
            for e in &expected {
                holds.push(expectation_holds(conn, e).await? == e.present);
            }
            if holds.iter().all(|h| *h) {
                (
                    Some(true),
                    "the catalog shows what it does: it completed, and counts as done".to_string(),
                )
            } else if holds.iter().all(|h| !*h) {
                (
                    Some(false),
                    "the catalog shows none of what it does: it did not take effect".to_string(),
                )
            } else {
                (
                    None,
                    "the catalog shows part of what it does: a person must check".to_string(),
                )
            }
        }
        Some(Effect::Repeatable) => (
            Some(false),
            "running it again is harmless, so it runs again".to_string(),
        ),
        Some(Effect::Unknown) | None => (
            None,
            "whether it took effect cannot be read from the catalog: a person must check"
                .to_string(),
        ),
    })
}

/// Whether the table, column or index of `e` exists now (MySQL's information_schema, in the
/// current database).
async fn expectation_holds(conn: &mut Conn, e: &Expect) -> Result<bool, DbError> {
    let (table, part) = (e.table.trim_matches('`').to_string(), &e.part);
    let (sql, values) = match part {
        None => (
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = $1",
            vec![table.into()],
        ),
        Some(Part::Column(c)) => (
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = $1 AND column_name = $2",
            vec![table.into(), c.trim_matches('`').to_string().into()],
        ),
        Some(Part::Index(i)) => (
            "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = $1 AND index_name = $2",
            vec![table.into(), i.trim_matches('`').to_string().into()],
        ),
    };
    let rows = conn.fetch_text(sql, values).await?;
    let count = rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default();
    Ok(count != "0" && !count.is_empty())
}

fn nth_statement(sql: &str, k: i64, dialect: Dialect) -> String {
    stored_script(sql, FileRole::Forward, dialect)
        .ok()
        .and_then(|s| s.statements.get(usize::try_from(k - 1).ok()?).cloned())
        .unwrap_or_default()
}
