//! A migration file as runner executes it: its statements, and whether they run in one
//! transaction or one by one.

use std::sync::OnceLock;

use super::history::Mode;
use crate::catalog::checksum::normalize;
use crate::catalog::directives::{self, FileRole};
use crate::catalog::{Checksums, SqlFile};
use crate::config::Dialect;
use crate::db::Effect;
use crate::lint::parse;

/// Statements `from` to `to` of a script, in words: "statement 2", "statements 2 to 4" ("no
/// statement" for none); `of` is "" or "rollback ".
pub fn statement_range(of: &str, from: impl TryInto<i64>, to: impl TryInto<i64>) -> String {
    let (from, to) = (from.try_into().unwrap_or(0), to.try_into().unwrap_or(0));
    match to - from {
        ..0 => format!("no {of}statement"),
        0 => format!("{of}statement {from}"),
        _ => format!("{of}statements {from} to {to}"),
    }
}

/// A script's first `n` statements, in words: "statement 1", "statements 1 to 3".
pub fn first_statements(of: &str, n: impl TryInto<i64>) -> String {
    statement_range(of, 1, n)
}

/// Whether a script's first `done` statements are committed, in words, naming the script
/// (`label` is " of V2 region" or ""): "no statement is committed", "statements 1 to 3 of V2
/// region are committed".
pub fn committed_of(of: &str, done: impl TryInto<i64>, label: &str) -> String {
    let done = done.try_into().unwrap_or(0);
    let verb = if done > 1 { "are" } else { "is" };
    format!("{}{label} {verb} committed", first_statements(of, done))
}

/// The statements of one file, in order, ready to send.
#[derive(Debug, Clone)]
pub struct Script {
    pub mode: Mode,
    pub statements: Vec<String>,
    /// The existing tables the file locks, with the strongest mode on each
    /// (`gap::targets`), read from the same parse.
    pub locks: Vec<(String, super::gap::Mode)>,
    dialect: Dialect,
    /// `effects`, worked out when first asked.
    effects: OnceLock<Vec<Option<Effect>>>,
}

impl PartialEq for Script {
    fn eq(&self, other: &Self) -> bool {
        (self.mode, &self.statements, &self.locks) == (other.mode, &other.statements, &other.locks)
    }
}

impl Eq for Script {}

impl Script {
    /// `outside_transaction` of each statement, in order: each statement parsed once however
    /// often its migration's run asks.
    pub fn effects(&self) -> &[Option<Effect>] {
        self.effects.get_or_init(|| {
            self.statements
                .iter()
                .map(|s| outside_transaction(s, self.dialect))
                .collect()
        })
    }
}

/// Splits a file: PostgreSQL with its own parser, SQLite and MySQL with runner's splitter
/// (which knows trigger bodies, and MySQL's `DELIMITER` lines). Statement mode when the file says `-- runner:no-transaction` or holds a
/// statement PostgreSQL refuses inside a transaction (CREATE/DROP INDEX CONCURRENTLY, REINDEX
/// CONCURRENTLY). A file the parser rejects is an error: the database would reject it too.
pub fn script(file: &SqlFile, dialect: Dialect) -> Result<Script, String> {
    let sql = file.sql.strip_prefix('\u{feff}').unwrap_or(&file.sql);
    let backend = crate::db::backend(dialect);
    let statements = backend.split(sql)?;
    let parsed = parse::parse_file(file, dialect);
    // Only what the database would reject too stops a file; a MySQL statement sqlparser
    // cannot read is MySQL's to judge.
    if let Some(error) = parsed.errors.iter().find(|e| e.certain) {
        return Err(format!("line {}: {}", error.line, error.message));
    }
    // Where each DDL statement commits by itself (MySQL), a file is never one transaction.
    let mode = if !backend.transactional_ddl()
        || file.directives.no_transaction
        || parsed.needs_statement_mode()
    {
        Mode::Statement
    } else {
        Mode::Transaction
    };
    let locks = super::gap::targets_of(dialect, parsed.statements.iter().flat_map(|s| &s.ops));
    Ok(Script {
        mode,
        statements,
        locks,
        dialect,
        effects: OnceLock::new(),
    })
}

/// `None` when `statement` can run inside a transaction (and so commit together with its
/// progress row); otherwise how to tell afterwards whether it took effect.
pub fn outside_transaction(statement: &str, dialect: Dialect) -> Option<Effect> {
    crate::db::backend(dialect).outside_transaction(statement)
}

/// The script of SQL text kept in the history (a migration or its rollback as it was at apply
/// time), split and planned like a file.
pub fn stored_script(sql: &str, role: FileRole, dialect: Dialect) -> Result<Script, String> {
    let (directives, _) = directives::parse(sql, role);
    let file = SqlFile {
        file_name: String::new(),
        path: Default::default(),
        checksums: Checksums::of(sql),
        directives,
        sql: sql.to_string(),
        first_line: 1,
    };
    script(&file, dialect)
}

/// When statements 1..=`done` of `now` differ from those of `before` (comments and whitespace
/// aside), a unified diff of them: a run that continues at statement `done + 1` would
/// otherwise record SQL that never ran.
pub fn changed_prefix(before: &str, now: &str, done: usize, dialect: Dialect) -> Option<String> {
    let split = |sql: &str| -> Vec<String> {
        stored_script(sql, FileRole::Forward, dialect)
            .map(|s| s.statements)
            .unwrap_or_else(|_| vec![sql.to_string()])
    };
    let (old, new) = (split(before), split(now));
    let head = |v: &[String]| -> Vec<String> { v.iter().take(done).cloned().collect() };
    let (old, new) = (head(&old), head(&new));
    let same = old.len() == new.len()
        && old
            .iter()
            .zip(&new)
            .all(|(a, b)| normalize(a) == normalize(b));
    if same {
        return None;
    }
    let text = |v: &[String]| v.iter().map(|s| format!("{s};\n")).collect::<String>();
    Some(
        similar::TextDiff::from_lines(&text(&old), &text(&new))
            .unified_diff()
            .context_radius(2)
            .header("committed", "on disk")
            .to_string()
            .trim_end()
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Directives;

    #[test]
    fn counts_of_statements_read_as_words() {
        assert_eq!(statement_range("", 3, 3), "statement 3");
        assert_eq!(statement_range("", 2, 4), "statements 2 to 4");
        assert_eq!(statement_range("", 4, 3), "no statement");
        assert_eq!(
            committed_of("rollback ", 0, ""),
            "no rollback statement is committed"
        );
        assert_eq!(
            committed_of("", 1, " of V2 region"),
            "statement 1 of V2 region is committed"
        );
        assert_eq!(
            committed_of("", 3usize, ""),
            "statements 1 to 3 are committed"
        );
    }

    fn file(sql: &str, no_transaction: bool) -> SqlFile {
        SqlFile {
            file_name: "V1__x.sql".into(),
            path: "V1__x.sql".into(),
            sql: sql.into(),
            checksums: Checksums::of(sql),
            directives: Directives {
                no_transaction,
                ..Directives::default()
            },
            first_line: 1,
        }
    }

    #[test]
    fn concurrently_switches_to_statement_mode() {
        let s = script(
            &file(
                "CREATE TABLE t (a int);\n-- why\nCREATE INDEX CONCURRENTLY i ON t (a);",
                false,
            ),
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(s.mode, Mode::Statement);
        assert_eq!(
            s.statements,
            [
                "CREATE TABLE t (a int)",
                "CREATE INDEX CONCURRENTLY i ON t (a)"
            ]
        );
        assert_eq!(
            outside_transaction(&s.statements[1], Dialect::Postgres),
            Some(Effect::CreatesIndex("i".into()))
        );
    }

    #[test]
    fn statements_outside_a_transaction_say_how_to_read_their_effect() {
        let pg = |sql| outside_transaction(sql, Dialect::Postgres);
        assert_eq!(pg("INSERT INTO t SELECT 1"), None);
        assert_eq!(pg("CREATE INDEX i ON t (a)"), None);
        assert_eq!(
            pg("CREATE INDEX CONCURRENTLY \"Idx\" ON app.t (a)"),
            Some(Effect::CreatesIndex("app.\"Idx\"".into()))
        );
        assert_eq!(
            pg("DROP INDEX CONCURRENTLY IF EXISTS s.i"),
            Some(Effect::DropsIndexes(vec!["s.i".into()]))
        );
        assert_eq!(pg("REINDEX INDEX CONCURRENTLY i"), Some(Effect::Repeatable));
        assert_eq!(pg("VACUUM t"), Some(Effect::Repeatable));
        assert_eq!(
            pg("CREATE INDEX CONCURRENTLY ON t (a)"),
            Some(Effect::Unknown)
        );
        assert_eq!(
            outside_transaction("PRAGMA foreign_keys = OFF", Dialect::Sqlite),
            Some(Effect::Repeatable)
        );
        assert_eq!(
            outside_transaction("UPDATE t SET a = 1", Dialect::Sqlite),
            None
        );
        // MySQL: DDL commits by itself; what it leaves in the catalog says whether it ran (a
        // rollback killed during `DROP INDEX i ON t` must not ask a person, then run it again
        // and fail because the index is gone).
        let mysql = |sql| outside_transaction(sql, Dialect::Mysql);
        let index = |table: &str, name: &str, present| crate::db::Expect {
            table: table.into(),
            part: Some(crate::db::Part::Index(name.into())),
            present,
        };
        assert_eq!(
            mysql("DROP INDEX big_tag ON big"),
            Some(Effect::Schema(vec![index("big", "big_tag", false)]))
        );
        assert_eq!(
            mysql("ALTER TABLE big DROP INDEX big_tag"),
            Some(Effect::Schema(vec![index("big", "big_tag", false)]))
        );
        assert_eq!(
            mysql("CREATE INDEX big_tag ON big (tag)"),
            Some(Effect::Schema(vec![index("big", "big_tag", true)]))
        );
        assert_eq!(mysql("INSERT INTO big VALUES (1)"), None);
    }

    #[test]
    fn plain_files_run_in_a_transaction_unless_told_otherwise() {
        let sql = "CREATE TABLE t (a int); INSERT INTO t VALUES (1);";
        assert_eq!(
            script(&file(sql, false), Dialect::Postgres).unwrap().mode,
            Mode::Transaction
        );
        assert_eq!(
            script(&file(sql, true), Dialect::Sqlite).unwrap().mode,
            Mode::Statement
        );
    }

    #[test]
    fn an_edit_to_a_committed_statement_is_caught_and_a_later_one_is_not() {
        let before =
            "ALTER TABLE t ADD COLUMN region text;\nCREATE INDEX CONCURRENTLY i ON t (bad);";
        let fixed = "ALTER TABLE t  ADD COLUMN region text; -- same\nCREATE INDEX CONCURRENTLY i ON t (region);";
        assert_eq!(changed_prefix(before, fixed, 1, Dialect::Postgres), None);
        let edited =
            "ALTER TABLE t ADD COLUMN regoin text;\nCREATE INDEX CONCURRENTLY i ON t (region);";
        let diff = changed_prefix(before, edited, 1, Dialect::Postgres).unwrap();
        assert!(
            diff.contains("-ALTER TABLE t ADD COLUMN region text;"),
            "{diff}"
        );
        assert!(
            diff.contains("+ALTER TABLE t ADD COLUMN regoin text;"),
            "{diff}"
        );
    }

    #[test]
    fn a_file_the_parser_rejects_is_an_error() {
        let err = script(&file("CREATE TABLE t (;", false), Dialect::Postgres).unwrap_err();
        assert!(err.contains("syntax error"), "{err}");
    }
}
