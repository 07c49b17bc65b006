//! A migration file as runner executes it: its statements, and whether they run in one
//! transaction or one by one.

use super::history::Mode;
use crate::catalog::SqlFile;
use crate::config::Dialect;
use crate::lint::model::Op;
use crate::lint::{parse, split};

/// The statements of one file, in order, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub mode: Mode,
    pub statements: Vec<String>,
}

/// Splits a file: PostgreSQL with its own parser, SQLite with runner's splitter (which knows
/// trigger bodies). Statement mode when the file says `-- runner:no-transaction` or holds a
/// statement PostgreSQL refuses inside a transaction (CREATE/DROP INDEX CONCURRENTLY, REINDEX
/// CONCURRENTLY). A file the parser rejects is an error: the database would reject it too.
pub fn script(file: &SqlFile, dialect: Dialect) -> Result<Script, String> {
    let sql = file.sql.strip_prefix('\u{feff}').unwrap_or(&file.sql);
    let statements: Vec<String> = match dialect {
        Dialect::Postgres => pg_query::split_with_parser(sql)
            .map_err(|e| match e {
                pg_query::Error::Split(m) | pg_query::Error::Parse(m) => m,
                other => other.to_string(),
            })?
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => split::split(sql)
            .into_iter()
            .map(|c| c.text.to_string())
            .collect(),
    };
    let parsed = parse::parse(sql, dialect);
    if let Some(error) = parsed.errors.first() {
        return Err(format!("line {}: {}", error.line, error.message));
    }
    let mode = if file.directives.no_transaction || parsed.needs_statement_mode() {
        Mode::Statement
    } else {
        Mode::Transaction
    };
    Ok(Script { mode, statements })
}

/// The index a `CREATE INDEX CONCURRENTLY` statement builds, if it is one.
pub fn concurrent_index_name(statement: &str) -> Option<String> {
    let parsed = parse::parse(statement, Dialect::Postgres);
    parsed
        .statements
        .iter()
        .flat_map(|s| &s.ops)
        .find_map(|op| match op {
            Op::CreateIndex {
                name: Some(name),
                concurrently: true,
                ..
            } => Some(name.clone()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Checksums, Directives};

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
            concurrent_index_name(&s.statements[1]).as_deref(),
            Some("i")
        );
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
    fn a_file_the_parser_rejects_is_an_error() {
        let err = script(&file("CREATE TABLE t (;", false), Dialect::Postgres).unwrap_err();
        assert!(err.contains("syntax error"), "{err}");
    }
}
