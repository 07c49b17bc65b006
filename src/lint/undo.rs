//! The inverse of statements the lint model understands: CREATE TABLE -> DROP TABLE, ADD
//! COLUMN -> DROP COLUMN, RENAME -> RENAME back, and so on. `runner recover --rollback` uses it
//! to undo exactly the statements a partially applied statement-mode migration committed,
//! where running its whole rollback file would also undo what never ran (and fail on it).
//!
//! Only what can be undone without loss is derived: a statement that changes data, drops
//! something or changes a type has no inverse here, and is named instead.

use crate::config::Dialect;
use crate::lint::model::{ConstraintKind, NewColumn, Op};
use crate::lint::parse;

/// A committed statement runner cannot undo by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Underivable {
    /// 1-based position among the committed statements.
    pub statement: usize,
    pub text: String,
    pub why: String,
}

/// The statements that undo `committed` (in the order they ran), newest first; or the first
/// statement that has no inverse.
pub fn undo(committed: &[String], dialect: Dialect) -> Result<Vec<String>, Underivable> {
    let mut out = Vec::new();
    for (i, text) in committed.iter().enumerate() {
        let underivable = |why: &str| Underivable {
            statement: i + 1,
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            why: why.to_string(),
        };
        let parsed = parse::parse(text, dialect);
        if !parsed.errors.is_empty() {
            return Err(underivable("runner cannot parse it"));
        }
        let ops: Vec<&Op> = parsed.statements.iter().flat_map(|s| &s.ops).collect();
        if ops.is_empty() && !without_effect(text) {
            return Err(underivable("runner does not know what it changed"));
        }
        // A materialized view is also modelled as a table (for the lint's schema): drop it as
        // what it is.
        let object = ops.iter().any(|op| matches!(op, Op::CreateObject { .. }));
        let mut inverse = Vec::new();
        for op in ops {
            if object && matches!(op, Op::CreateTable { .. }) {
                continue;
            }
            match inverse_of(op, dialect) {
                Ok(Some(sql)) => inverse.push(sql),
                Ok(None) => {}
                Err(why) => return Err(underivable(&why)),
            }
        }
        inverse.reverse();
        out.push(inverse);
    }
    out.reverse();
    Ok(out.into_iter().flatten().collect())
}

/// Statements that change nothing a rollback must undo.
fn without_effect(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(
        first.trim_end_matches(';'),
        "SELECT" | "SET" | "SHOW" | "EXPLAIN" | "ANALYZE" | "VACUUM" | "PRAGMA" | ""
    )
}

/// Why no inverse can be derived of what a statement did, when it dropped something, changed a
/// column's type or changed rows.
const DROPPED: &str = "it dropped something, which only a backup or a rollback file can bring back";
const RETYPED: &str = "it changed a column's type, and the type before is not in the statement";
const ROWS_CHANGED: &str =
    "it changed rows (or rebuilt the table), which only a rollback file can undo";

/// One operation's inverse: `Ok(None)` when it changed nothing to undo.
fn inverse_of(op: &Op, dialect: Dialect) -> Result<Option<String>, String> {
    let q = |name: &str| quote(name, dialect);
    Ok(Some(match op {
        Op::CreateTable { table, .. } => format!("DROP TABLE {}", q(table)),
        Op::CreateObject { kind, name } => {
            let name = match name.split_once('(') {
                Some((function, arguments)) => format!("{}({arguments}", q(function)),
                None => q(name),
            };
            format!("DROP {} {name}", kind.sql())
        }
        Op::AddColumn(NewColumn { table, column, .. })
        | Op::MysqlAddColumn { table, column, .. } => {
            format!("ALTER TABLE {} DROP COLUMN {}", q(table), q(column))
        }
        Op::CreateIndex {
            name: None, table, ..
        } => return Err(format!("the index on {table} has no name to drop it by")),
        Op::CreateIndex {
            name: Some(name),
            table,
            concurrently,
            ..
        } => drop_index(name, table, *concurrently, dialect),
        Op::AddConstraint {
            name: None, table, ..
        } => {
            return Err(format!(
                "the constraint on {table} has no name to drop it by"
            ));
        }
        Op::AddConstraint {
            name: Some(name),
            table,
            kind,
            ..
        } => drop_constraint(table, name, *kind, dialect)?,
        Op::RenameColumn { table, from, to } => format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            q(table),
            q(to),
            q(from)
        ),
        Op::RenameTable { from, to } => rename_back(from, to, dialect),
        Op::SetNotNull { table, column } | Op::DropNotNull { table, column } => {
            let (done, undo) = match op {
                Op::SetNotNull { .. } => ("SET NOT NULL", "DROP NOT NULL"),
                _ => ("DROP NOT NULL", "SET NOT NULL"),
            };
            if dialect != Dialect::Postgres {
                return Err(format!("undoing {done} is derived on PostgreSQL only"));
            }
            format!("ALTER TABLE {} ALTER COLUMN {} {undo}", q(table), q(column))
        }
        // They change nothing a rollback must undo, or only with the operations beside them.
        Op::ValidateConstraint { .. }
        | Op::Transaction(_)
        | Op::AlterAlgorithm { .. }
        | Op::Reindex { .. } => return Ok(None),
        Op::DropIndex { .. }
        | Op::DropTable { .. }
        | Op::DropColumn { .. }
        | Op::DropSchema { .. }
        | Op::DropDatabase { .. } => return Err(DROPPED.into()),
        Op::ChangeColumnType { .. } => return Err(RETYPED.into()),
        Op::Truncate { .. }
        | Op::Update { .. }
        | Op::Delete { .. }
        | Op::InsertSelect { .. }
        | Op::TableCopy { .. } => return Err(ROWS_CHANGED.into()),
    }))
}

/// The inverse of CREATE INDEX: DROP INDEX (on MySQL, of its table; elsewhere in its
/// table's schema, CONCURRENTLY as it was built).
fn drop_index(name: &str, table: &str, concurrently: bool, dialect: Dialect) -> String {
    let q = |name: &str| quote(name, dialect);
    if dialect == Dialect::Mysql {
        return format!("DROP INDEX {} ON {}", q(name), q(table));
    }
    // An index lives in its table's schema.
    let name = match (table.rsplit_once('.'), name.contains('.')) {
        (Some((schema, _)), false) => format!("{schema}.{name}"),
        _ => name.to_string(),
    };
    let concurrently = if concurrently { " CONCURRENTLY" } else { "" };
    format!("DROP INDEX{concurrently} {}", q(&name))
}

/// The inverse of ADD CONSTRAINT, in the dialect's words (MySQL drops each kind its own way;
/// SQLite cannot).
fn drop_constraint(
    table: &str,
    name: &str,
    kind: ConstraintKind,
    dialect: Dialect,
) -> Result<String, String> {
    let (t, n) = (quote(table, dialect), quote(name, dialect));
    Ok(match (dialect, kind) {
        (Dialect::Sqlite, _) => return Err("SQLite cannot drop a constraint".into()),
        (Dialect::Mysql, ConstraintKind::ForeignKey) => {
            format!("ALTER TABLE {t} DROP FOREIGN KEY {n}")
        }
        (Dialect::Mysql, ConstraintKind::Unique) => format!("ALTER TABLE {t} DROP INDEX {n}"),
        (Dialect::Mysql, ConstraintKind::PrimaryKey) => format!("ALTER TABLE {t} DROP PRIMARY KEY"),
        (Dialect::Mysql, ConstraintKind::Check) => format!("ALTER TABLE {t} DROP CHECK {n}"),
        _ => format!("ALTER TABLE {t} DROP CONSTRAINT {n}"),
    })
}

/// The inverse of RENAME TO. RENAME TO takes a bare name; the renamed table stays in its
/// schema.
fn rename_back(from: &str, to: &str, dialect: Dialect) -> String {
    let (schema, old) = match from.rsplit_once('.') {
        Some((schema, old)) => (Some(schema), old),
        None => (None, from),
    };
    let now = match schema {
        Some(schema) if !to.contains('.') => format!("{schema}.{to}"),
        _ => to.to_string(),
    };
    format!(
        "ALTER TABLE {} RENAME TO {}",
        quote(&now, dialect),
        quote(old, dialect)
    )
}

/// A name quoted part by part (`public.users` -> `"public"."users"`), so it means exactly the
/// object the statement created.
fn quote(name: &str, dialect: Dialect) -> String {
    name.split('.')
        .map(|part| match dialect {
            Dialect::Mysql => format!("`{}`", part.replace('`', "``")),
            _ => format!("\"{}\"", part.replace('"', "\"\"")),
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(statements: &[&str]) -> Result<Vec<String>, Underivable> {
        let owned: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
        undo(&owned, Dialect::Postgres)
    }

    #[test]
    fn each_committed_statement_is_undone_newest_first() {
        let got = pg(&[
            "CREATE TABLE b1 (id int)",
            "ALTER TABLE orders ADD COLUMN region text",
            "CREATE INDEX CONCURRENTLY orders_region ON public.orders (region)",
            "CREATE VIEW v AS SELECT 1",
            "CREATE FUNCTION f(a int, OUT b int) AS 'SELECT 1' LANGUAGE sql",
            "ALTER TABLE t RENAME COLUMN a TO b",
            "ALTER TABLE s.old RENAME TO new",
            "CREATE TYPE mood AS ENUM ('ok')",
            "CREATE SEQUENCE seq",
            "ALTER TABLE t ADD CONSTRAINT c CHECK (x > 0) NOT VALID",
        ])
        .unwrap();
        assert_eq!(
            got,
            [
                "ALTER TABLE \"t\" DROP CONSTRAINT \"c\"",
                "DROP SEQUENCE \"seq\"",
                "DROP TYPE \"mood\"",
                "ALTER TABLE \"s\".\"new\" RENAME TO \"old\"",
                "ALTER TABLE \"t\" RENAME COLUMN \"b\" TO \"a\"",
                "DROP FUNCTION \"f\"(int4)",
                "DROP VIEW \"v\"",
                "DROP INDEX CONCURRENTLY \"public\".\"orders_region\"",
                "ALTER TABLE \"orders\" DROP COLUMN \"region\"",
                "DROP TABLE \"b1\"",
            ]
        );
    }

    #[test]
    fn a_statement_that_changed_data_or_dropped_something_is_named() {
        let e = pg(&["CREATE TABLE a (id int)", "UPDATE a SET id = 1"]).unwrap_err();
        assert_eq!(e.statement, 2);
        assert!(e.why.contains("rows"), "{e:?}");
        let e = pg(&["DROP TABLE a"]).unwrap_err();
        assert_eq!(e.statement, 1);
        let e = pg(&["INSERT INTO a VALUES (1)"]).unwrap_err();
        assert!(e.why.contains("does not know"), "{e:?}");
    }

    #[test]
    fn a_select_needs_no_undo_and_a_matview_is_dropped_as_one() {
        assert_eq!(pg(&["SELECT pg_sleep(1)"]).unwrap(), Vec::<String>::new());
        assert_eq!(
            pg(&["CREATE MATERIALIZED VIEW m AS SELECT 1"]).unwrap(),
            ["DROP MATERIALIZED VIEW \"m\""]
        );
    }

    #[test]
    fn mysql_and_sqlite_use_their_own_forms() {
        let owned = vec!["CREATE INDEX i ON t (a)".to_string()];
        assert_eq!(
            undo(&owned, Dialect::Mysql).unwrap(),
            ["DROP INDEX `i` ON `t`"]
        );
        assert_eq!(undo(&owned, Dialect::Sqlite).unwrap(), ["DROP INDEX \"i\""]);
    }
}
