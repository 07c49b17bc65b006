//! A migration file as runner executes it: its statements, and whether they run in one
//! transaction or one by one.

use super::history::Mode;
use crate::catalog::checksum::normalize;
use crate::catalog::directives::{self, FileRole};
use crate::catalog::{Checksums, SqlFile};
use crate::config::Dialect;
use crate::lint::model::Op;
use crate::lint::{parse, split};

/// The statements of one file, in order, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub mode: Mode,
    pub statements: Vec<String>,
    /// The existing tables the file locks, with the strongest mode on each
    /// (`gap::targets`), read from the same parse.
    pub locks: Vec<(String, super::gap::Mode)>,
}

/// Splits a file: PostgreSQL with its own parser, SQLite and MySQL with runner's splitter
/// (which knows trigger bodies, and MySQL's `DELIMITER` lines). Statement mode when the file says `-- runner:no-transaction` or holds a
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
        Dialect::Mysql => split::split_mysql(sql)
            .into_iter()
            .map(|c| c.text.to_string())
            .collect(),
        Dialect::Sqlite => split::split(sql)
            .into_iter()
            .map(|c| c.text.to_string())
            .collect(),
    };
    let parsed = parse::parse(sql, dialect);
    // Only what the database would reject too stops a file; a MySQL statement sqlparser
    // cannot read is MySQL's to judge.
    if let Some(error) = parsed.errors.iter().find(|e| e.certain) {
        return Err(format!("line {}: {}", error.line, error.message));
    }
    // MySQL commits each DDL statement by itself: a file is never one transaction there.
    let mode = if dialect == Dialect::Mysql
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
    })
}

/// What a statement that must run outside a transaction leaves behind, so that a run that
/// stopped while it ran can read from the catalog whether it took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `CREATE INDEX CONCURRENTLY`: done when the index (schema-qualified when its table is)
    /// exists and is valid.
    CreatesIndex(String),
    /// `DROP INDEX CONCURRENTLY`: done when none of the indexes exists any more.
    DropsIndexes(Vec<String>),
    /// Running it again is harmless: `REINDEX CONCURRENTLY`, `VACUUM`, `ALTER SYSTEM`, a pragma.
    Repeatable,
    /// MySQL DDL (each statement commits by itself, atomically): done when the catalog shows
    /// every one of these (a table created, a column added, an index dropped...).
    Schema(Vec<Expect>),
    /// Its effect cannot be read back (a procedure that commits, `CREATE DATABASE`): a person
    /// must say whether it ran.
    Unknown,
}

/// What the catalog shows once a DDL statement took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub table: String,
    /// A column or an index of `table`; `None` for the table itself.
    pub part: Option<Part>,
    /// Whether it exists afterwards.
    pub present: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Column(String),
    Index(String),
}

/// What a MySQL DDL statement leaves in the catalog, when every one of its operations says;
/// `None` for one whose effect cannot be read back (a view, a procedure, a type change).
fn mysql_expectations(statement: &str) -> Option<Vec<Expect>> {
    let parsed = parse::parse(statement, Dialect::Mysql);
    if !parsed.errors.is_empty() {
        return None;
    }
    let ops: Vec<&Op> = parsed.statements.iter().flat_map(|s| &s.ops).collect();
    let table = |t: &str, present: bool| Expect {
        table: t.to_string(),
        part: None,
        present,
    };
    let column = |t: &str, c: &str, present: bool| Expect {
        table: t.to_string(),
        part: Some(Part::Column(c.to_string())),
        present,
    };
    let mut out = Vec::new();
    for op in &ops {
        match op {
            Op::CreateTable { table: t, .. } => out.push(table(t, true)),
            Op::DropTable { tables } => out.extend(tables.iter().map(|t| table(t, false))),
            Op::AddColumn(c) => out.push(column(&c.table, &c.column, true)),
            Op::MysqlAddColumn {
                table: t,
                column: c,
                ..
            } => out.push(column(t, c, true)),
            Op::DropColumn {
                table: t,
                column: c,
            } => out.push(column(t, c, false)),
            Op::RenameColumn { table: t, from, to } => {
                out.push(column(t, from, false));
                out.push(column(t, to, true));
            }
            Op::RenameTable { from, to } => {
                out.push(table(from, false));
                out.push(table(to, true));
            }
            Op::CreateIndex {
                table: t,
                name: Some(name),
                ..
            } => out.push(Expect {
                table: t.clone(),
                part: Some(Part::Index(name.clone())),
                present: true,
            }),
            // They come with the operations above and change nothing of their own.
            Op::AlterAlgorithm { .. } | Op::TableCopy { .. } => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// `None` when `statement` can run inside a transaction (and so commit together with its
/// progress row); otherwise how to tell afterwards whether it took effect.
pub fn outside_transaction(statement: &str, dialect: Dialect) -> Option<Effect> {
    match dialect {
        Dialect::Postgres => postgres_outside_transaction(statement),
        Dialect::Sqlite => {
            // VACUUM refuses a transaction; a pragma inside one is silently ignored (foreign_keys)
            // or refused (journal_mode).
            let first = statement
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            matches!(first.as_str(), "VACUUM" | "PRAGMA").then_some(Effect::Repeatable)
        }
        // DDL commits by itself: it runs outside runner's transaction, marked in flight.
        // Data changes run in a transaction with their progress row, atomically.
        Dialect::Mysql => {
            let first = statement
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            match first.as_str() {
                "INSERT" | "UPDATE" | "DELETE" | "REPLACE" => None,
                // No lasting effect: running it again is harmless.
                "SELECT" | "DO" | "SET" => Some(Effect::Repeatable),
                _ => Some(mysql_expectations(statement).map_or(Effect::Unknown, Effect::Schema)),
            }
        }
    }
}

fn postgres_outside_transaction(statement: &str) -> Option<Effect> {
    use pg_query::NodeEnum;
    use pg_query::protobuf::ObjectType;
    let parsed = pg_query::parse(statement, 0).ok()?;
    let node = parsed
        .protobuf
        .stmts
        .first()?
        .stmt
        .as_ref()?
        .node
        .as_ref()?;
    let qualified = |schema: &str, name: &str| {
        if schema.is_empty() {
            quote_ident(name)
        } else {
            format!("{}.{}", quote_ident(schema), quote_ident(name))
        }
    };
    match node {
        NodeEnum::IndexStmt(s) if s.concurrent => {
            let schema = s.relation.as_ref().map_or("", |r| r.schemaname.as_str());
            // An unnamed index gets a name from the server; nothing to look up by.
            Some(if s.idxname.is_empty() {
                Effect::Unknown
            } else {
                Effect::CreatesIndex(qualified(schema, &s.idxname))
            })
        }
        NodeEnum::DropStmt(s)
            if s.concurrent && ObjectType::try_from(s.remove_type) == Ok(ObjectType::ObjectIndex) =>
        {
            let names = s
                .objects
                .iter()
                .map(|o| match o.node.as_ref() {
                    Some(NodeEnum::List(list)) => list
                        .items
                        .iter()
                        .filter_map(|i| match i.node.as_ref() {
                            Some(NodeEnum::String(s)) => Some(quote_ident(&s.sval)),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join("."),
                    _ => String::new(),
                })
                .collect();
            Some(Effect::DropsIndexes(names))
        }
        NodeEnum::ReindexStmt(s)
            if s.params.iter().any(|p| {
                matches!(p.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "concurrently")
            }) =>
        {
            Some(Effect::Repeatable)
        }
        NodeEnum::VacuumStmt(_) | NodeEnum::AlterSystemStmt(_) => Some(Effect::Repeatable),
        NodeEnum::CreatedbStmt(_)
        | NodeEnum::DropdbStmt(_)
        | NodeEnum::CreateTableSpaceStmt(_)
        | NodeEnum::DropTableSpaceStmt(_) => Some(Effect::Unknown),
        _ => None,
    }
}

/// An identifier as SQL text and for `to_regclass`: bare when PostgreSQL would read it back
/// unchanged (lower-case letters, digits, `_`), quoted otherwise.
pub fn quote_ident(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
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
