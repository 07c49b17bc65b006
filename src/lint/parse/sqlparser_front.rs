//! The sqlparser front end, for SQLite and MySQL: statement by statement, lowered to `Op`s
//! (PostgreSQL has its own, `postgres.rs`, on its real parser).
//!
//! Where sqlparser lacks something the database accepts (SQLite's `PRAGMA foreign_keys = ON`,
//! for one), the statement is recognized here instead of being reported as a parse error: a
//! `parse-error` must mean the database would reject the statement too.

use sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation, ColumnOption, Expr, FromTable,
    GeneratedExpressionMode, ObjectName, ObjectType, RenameTableNameKind, TableConstraint,
    TableFactor,
};
use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use super::{clip, parse_in_chunks, split};
use crate::config::Dialect;
use crate::lint::model::{
    ColumnSpec, ConstraintKind, DefaultKind, Generated, LineIndex, NewColumn, Op, ParseError,
    ParsedFile, Statement, TransactionKind,
};

pub fn parse(sql: &str, dialect: Dialect) -> ParsedFile {
    let parser: Box<dyn SqlDialect> = match dialect {
        Dialect::Mysql => Box::new(MySqlDialect {}),
        _ => Box::new(SQLiteDialect {}),
    };
    let lines = LineIndex::new(sql);
    let chunks = match dialect {
        Dialect::Mysql => crate::lint::split::split_mysql(sql),
        _ => split(sql),
    };
    parse_in_chunks(chunks, |text, offset| {
        let (line, column) = lines.line_col(offset);
        let statement = |ops| Statement {
            offset,
            line,
            column,
            ops,
        };
        if dialect == Dialect::Sqlite && is_sqlite_pragma(text) {
            return Ok(vec![statement(Vec::new())]);
        }
        if dialect == Dialect::Mysql && is_mysql_prepare(text) {
            // Dynamic SQL: what it runs is only known at run time.
            return Ok(vec![statement(Vec::new())]);
        }
        let error = |message: &str, certain: bool| ParseError {
            offset,
            line,
            column,
            message: clip(message),
            certain,
        };
        if text.contains('\0') {
            return Err(error("the statement contains a NUL byte", true));
        }
        let parsed = match Parser::parse_sql(parser.as_ref(), text) {
            Ok(parsed) => parsed,
            // Stored code sqlparser cannot read (a trigger with a one-statement body, a
            // function): it changes no table's shape, and MySQL itself checks it.
            Err(_) if dialect == Dialect::Mysql && is_mysql_routine(text) => {
                return Ok(vec![statement(Vec::new())]);
            }
            Err(e) => {
                let message = e.to_string();
                let message = message.trim_start_matches("sql parser error: ");
                return Err(match dialect {
                    Dialect::Mysql => error(message, false),
                    // SQLite's grammar is looser than sqlparser's: SQLite itself says whether
                    // this is a syntax error, or a statement runner cannot lint.
                    Dialect::Sqlite => match super::sqlite_syntax::error(text) {
                        Some(sqlite) => error(&format!("{sqlite} (SQLite's own parser)"), true),
                        None => error(message, false),
                    },
                    Dialect::Postgres => error(message, true),
                });
            }
        };
        Ok(parsed
            .iter()
            .map(|s| statement(lower(s, dialect)))
            .collect())
    })
}

/// `CREATE [OR REPLACE] [DEFINER = ...] [AGGREGATE] TRIGGER|FUNCTION|PROCEDURE|EVENT ...`.
fn is_mysql_routine(text: &str) -> bool {
    let mut words = text
        .split_whitespace()
        .map(|w| w.to_ascii_uppercase())
        .peekable();
    if words.next().as_deref() != Some("CREATE") {
        return false;
    }
    for w in words {
        match w.as_str() {
            "TRIGGER" | "FUNCTION" | "PROCEDURE" | "EVENT" => return true,
            "OR" | "REPLACE" | "AGGREGATE" | "=" | "IF" | "NOT" | "EXISTS" => {}
            w if w.starts_with("DEFINER") || w.contains('@') => {}
            _ => return false,
        }
    }
    false
}

/// MySQL's `PREPARE name FROM @variable` or `PREPARE name FROM 'text'`, which sqlparser
/// does not read (it knows PostgreSQL's `PREPARE name AS ...`).
fn is_mysql_prepare(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    let name_ok = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '`')
    };
    let source_ok = |rest: &str| {
        let rest = rest.trim();
        (rest.starts_with('@')
            && rest[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$'))
            || (rest.len() >= 2
                && ((rest.starts_with('\'') && rest.ends_with('\''))
                    || (rest.starts_with('"') && rest.ends_with('"'))))
    };
    match words.as_slice() {
        [prepare, name, from, ..]
            if prepare.eq_ignore_ascii_case("prepare") && from.eq_ignore_ascii_case("from") =>
        {
            let rest = text
                .split_once(|c: char| c.is_whitespace())
                .map(|(_, rest)| rest)
                .unwrap_or_default()
                .trim_start()
                .strip_prefix(*name)
                .unwrap_or_default()
                .trim_start();
            name_ok(name) && rest.len() > 4 && source_ok(&rest[4..])
        }
        _ => false,
    }
}

/// `PRAGMA [schema.]name`, `PRAGMA name = value` or `PRAGMA name(value)`.
fn is_sqlite_pragma(text: &str) -> bool {
    let mut words = text.split_whitespace();
    if !words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("pragma"))
    {
        return false;
    }
    let rest: String = words.collect::<Vec<_>>().join(" ");
    let (name, value) = match rest.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => match rest.split_once('(') {
            Some((n, v)) => (n.trim(), v.trim().strip_suffix(')').map(str::trim)),
            None => (rest.trim(), None),
        },
    };
    let name_ok = !name.is_empty()
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let value_ok = value.is_none_or(|v| {
        !v.is_empty()
            && (v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-+.".contains(c))
                || (v.len() >= 2 && (v.starts_with('\'') && v.ends_with('\''))))
    });
    name_ok && value_ok
}

fn lower(statement: &ast::Statement, dialect: Dialect) -> Vec<Op> {
    use ast::Statement as S;
    match statement {
        S::CreateTable(ct) => vec![create_table(ct)],
        S::Insert(insert) => insert_select(insert).into_iter().collect(),
        S::AlterTable(at) => alter_table(at, dialect),
        S::CreateIndex(ci) => vec![Op::CreateIndex {
            table: last_name(&ci.table_name),
            name: ci.name.as_ref().map(last_name),
            concurrently: ci.concurrently,
            unique: ci.unique,
        }],
        S::Drop {
            object_type,
            names,
            table,
            ..
        } => drop_objects(object_type, names, table.as_ref()),
        S::Truncate(t) => vec![Op::Truncate {
            tables: t.table_names.iter().map(|n| last_name(&n.name)).collect(),
        }],
        S::Update(u) => vec![Op::Update {
            table: table_factor_name(&u.table.relation),
            has_where: u.selection.is_some(),
        }],
        S::Delete(d) => delete(d),
        S::RenameTable(renames) => renames
            .iter()
            .map(|r| Op::RenameTable {
                from: last_name(&r.old_name),
                to: last_name(&r.new_name),
            })
            .collect(),
        S::StartTransaction { .. } => vec![Op::Transaction(TransactionKind::Begin)],
        S::Commit { .. } => vec![Op::Transaction(TransactionKind::Commit)],
        S::Rollback {
            savepoint: Some(_), ..
        }
        | S::Savepoint { .. }
        | S::ReleaseSavepoint { .. } => vec![Op::Transaction(TransactionKind::Savepoint)],
        S::Rollback { .. } => vec![Op::Transaction(TransactionKind::Rollback)],
        _ => Vec::new(),
    }
}

fn create_table(ct: &ast::CreateTable) -> Op {
    Op::CreateTable {
        table: last_name(&ct.name),
        columns: ct
            .columns
            .iter()
            .map(|c| {
                let column = new_column(String::new(), c);
                ColumnSpec {
                    not_null: column.not_null || column.primary_key,
                    name: column.column,
                    ty: column.ty,
                }
            })
            .collect(),
    }
}

/// `INSERT ... SELECT ... FROM`: the tables it reads (a plain `VALUES` insert is no op).
fn insert_select(insert: &ast::Insert) -> Option<Op> {
    let from: Vec<String> = insert
        .source
        .as_ref()
        .map(|q| match q.body.as_ref() {
            ast::SetExpr::Select(select) => select
                .from
                .iter()
                .map(|t| table_factor_name(&t.relation))
                .collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    match (&insert.table, from.is_empty()) {
        (ast::TableObject::TableName(name), false) => Some(Op::InsertSelect {
            table: last_name(name),
            from,
        }),
        _ => None,
    }
}

fn alter_table(at: &ast::AlterTable, dialect: Dialect) -> Vec<Op> {
    let table = last_name(&at.name);
    // Only said when it is online: an ALTER is not, by default.
    let mut ops = Vec::new();
    if online_alter(&at.operations) {
        ops.push(Op::AlterAlgorithm {
            table: table.clone(),
            online: true,
        });
    }
    ops.extend(
        at.operations
            .iter()
            .flat_map(|op| alter_table_op(&table, op, dialect)),
    );
    ops
}

/// DROP TABLE, INDEX (MySQL's names its table: `DROP INDEX i ON t`), SCHEMA, DATABASE.
fn drop_objects(
    object_type: &ObjectType,
    names: &[ast::ObjectName],
    table: Option<&ast::ObjectName>,
) -> Vec<Op> {
    let names: Vec<String> = names.iter().map(last_name).collect();
    match object_type {
        ObjectType::Table => vec![Op::DropTable { tables: names }],
        ObjectType::Index => vec![Op::DropIndex {
            names,
            concurrently: false,
            table: table.map(last_name),
        }],
        ObjectType::Schema => vec![Op::DropSchema { names }],
        ObjectType::Database => names
            .into_iter()
            .map(|name| Op::DropDatabase { name })
            .collect(),
        _ => Vec::new(),
    }
}

fn delete(d: &ast::Delete) -> Vec<Op> {
    let tables = match &d.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    tables
        .iter()
        .map(|t| Op::Delete {
            table: table_factor_name(&t.relation),
            has_where: d.selection.is_some(),
        })
        .collect()
}

/// `ALGORITHM=INSTANT`, or `ALGORITHM=INPLACE` with `LOCK=NONE`: MySQL then refuses a change
/// it cannot make without copying the table or blocking writes.
fn online_alter(ops: &[AlterTableOperation]) -> bool {
    use sqlparser::ast::{AlterTableAlgorithm, AlterTableLock};
    let algorithm = ops.iter().find_map(|o| match o {
        AlterTableOperation::Algorithm { algorithm, .. } => Some(algorithm),
        _ => None,
    });
    let lock = ops.iter().find_map(|o| match o {
        AlterTableOperation::Lock { lock, .. } => Some(lock),
        _ => None,
    });
    matches!(algorithm, Some(AlterTableAlgorithm::Instant))
        || (matches!(algorithm, Some(AlterTableAlgorithm::Inplace))
            && matches!(lock, Some(AlterTableLock::None)))
}

fn alter_table_op(table: &str, op: &AlterTableOperation, dialect: Dialect) -> Vec<Op> {
    let table = table.to_string();
    match op {
        AlterTableOperation::AddColumn {
            column_def,
            column_position,
            ..
        } => add_column(table, column_def, column_position.as_ref(), dialect),
        // MySQL's other spelling of DROP INDEX i ON t.
        AlterTableOperation::DropIndex { name } => vec![Op::DropIndex {
            names: vec![name.value.clone()],
            concurrently: false,
            table: Some(table),
        }],
        AlterTableOperation::DropPrimaryKey { .. } => vec![Op::TableCopy {
            table,
            what: "drops the primary key".into(),
        }],
        AlterTableOperation::DropColumn { column_names, .. } => column_names
            .iter()
            .map(|c| Op::DropColumn {
                table: table.clone(),
                column: c.value.clone(),
            })
            .collect(),
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => vec![Op::RenameColumn {
            table,
            from: old_column_name.value.clone(),
            to: new_column_name.value.clone(),
        }],
        AlterTableOperation::RenameTable { table_name } => {
            let to = match table_name {
                RenameTableNameKind::As(n) | RenameTableNameKind::To(n) => last_name(n),
            };
            vec![Op::RenameTable { from: table, to }]
        }
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            ..
        } => change_column(table, (old_name, new_name), data_type, options),
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            ..
        } => vec![Op::ChangeColumnType {
            table,
            column: col_name.value.clone(),
            new_type: data_type.to_string().to_lowercase(),
            not_null: Some(options.iter().any(|o| matches!(o, ColumnOption::NotNull))),
        }],
        AlterTableOperation::AlterColumn { column_name, op } => {
            alter_column(table, &column_name.value, op)
                .into_iter()
                .collect()
        }
        AlterTableOperation::AddConstraint {
            constraint,
            not_valid,
        } => vec![add_constraint(table, constraint, *not_valid)],
        _ => Vec::new(),
    }
}

/// ADD COLUMN; on MySQL also whether it copies the table or lands in place (and where).
fn add_column(
    table: String,
    column_def: &ast::ColumnDef,
    position: Option<&ast::MySQLColumnPosition>,
    dialect: Dialect,
) -> Vec<Op> {
    let mut ops = vec![Op::AddColumn(new_column(table.clone(), column_def))];
    if dialect != Dialect::Mysql {
        return ops;
    }
    let column = column_def.name.value.clone();
    // What no server adds in place with writes going on: an AUTO_INCREMENT column (its
    // values are assigned by a copy), a STORED generated column (computed by a copy).
    let copies = column_def.options.iter().find_map(|o| match &o.option {
        ColumnOption::DialectSpecific(tokens)
            if tokens
                .iter()
                .any(|t| t.to_string().eq_ignore_ascii_case("AUTO_INCREMENT")) =>
        {
            Some("AUTO_INCREMENT")
        }
        ColumnOption::Generated {
            generation_expr_mode: Some(GeneratedExpressionMode::Stored),
            ..
        } => Some("STORED generated"),
        _ => None,
    });
    ops.push(match copies {
        Some(kind) => Op::TableCopy {
            table,
            what: format!("adds {kind} column {column}"),
        },
        None => Op::MysqlAddColumn {
            table,
            column,
            position: position.map(ToString::to_string),
        },
    });
    ops
}

/// MySQL's CHANGE COLUMN: a rename when the name changes, and a type change.
fn change_column(
    table: String,
    (old_name, new_name): (&ast::Ident, &ast::Ident),
    data_type: &ast::DataType,
    options: &[ColumnOption],
) -> Vec<Op> {
    let mut ops = Vec::new();
    if old_name.value != new_name.value {
        ops.push(Op::RenameColumn {
            table: table.clone(),
            from: old_name.value.clone(),
            to: new_name.value.clone(),
        });
    }
    ops.push(Op::ChangeColumnType {
        table,
        column: new_name.value.clone(),
        new_type: data_type.to_string().to_lowercase(),
        not_null: Some(options.iter().any(|o| matches!(o, ColumnOption::NotNull))),
    });
    ops
}

fn alter_column(table: String, column: &str, op: &AlterColumnOperation) -> Option<Op> {
    let column = column.to_string();
    match op {
        AlterColumnOperation::SetNotNull => Some(Op::SetNotNull { table, column }),
        AlterColumnOperation::SetDataType { data_type, .. } => Some(Op::ChangeColumnType {
            table,
            column,
            new_type: data_type.to_string().to_lowercase(),
            not_null: None,
        }),
        AlterColumnOperation::DropNotNull => Some(Op::DropNotNull { table, column }),
        _ => None,
    }
}

fn add_constraint(table: String, constraint: &TableConstraint, not_valid: bool) -> Op {
    let (kind, name) = match constraint {
        TableConstraint::Unique(c) => (ConstraintKind::Unique, c.name.as_ref()),
        TableConstraint::PrimaryKey(c) => (ConstraintKind::PrimaryKey, c.name.as_ref()),
        TableConstraint::ForeignKey(c) => (ConstraintKind::ForeignKey, c.name.as_ref()),
        TableConstraint::Check(c) => (ConstraintKind::Check, c.name.as_ref()),
        _ => (ConstraintKind::Other, None),
    };
    // CHECK (col IS NOT NULL): what SET NOT NULL can then use instead of a scan.
    let not_null_of = match constraint {
        TableConstraint::Check(c) => match c.expr.as_ref() {
            Expr::IsNotNull(e) => match e.as_ref() {
                Expr::Identifier(i) => Some(i.value.clone()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    Op::AddConstraint {
        table,
        name: name.map(|n| n.value.clone()),
        kind,
        not_valid,
        using_index: false,
        not_null_of,
    }
}

fn new_column(table: String, def: &ast::ColumnDef) -> NewColumn {
    let mut column = NewColumn {
        table,
        column: def.name.value.clone(),
        ty: def.data_type.to_string().to_lowercase(),
        default: DefaultKind::None,
        not_null: false,
        generated: None,
        references: false,
        primary_key: false,
        unique: false,
        check: false,
    };
    for option in &def.options {
        match &option.option {
            ColumnOption::NotNull => column.not_null = true,
            ColumnOption::Default(expr) => column.default = default_kind(expr),
            ColumnOption::PrimaryKey(_) => column.primary_key = true,
            ColumnOption::Unique(_) => column.unique = true,
            ColumnOption::ForeignKey(_) => column.references = true,
            ColumnOption::Check(_) => column.check = true,
            ColumnOption::Identity(_) => column.generated = Some(Generated::Identity),
            ColumnOption::Generated {
                generation_expr_mode,
                generation_expr,
                ..
            } => {
                if generation_expr.is_none() {
                    column.generated = Some(Generated::Identity);
                } else if generation_expr_mode == &Some(GeneratedExpressionMode::Stored) {
                    column.generated = Some(Generated::Stored);
                }
            }
            _ => {}
        }
    }
    column
}

/// SQLite accepts only constants in ADD COLUMN: a literal, a signed number, NULL. Anything
/// else (CURRENT_TIMESTAMP, an expression in parentheses, a function) is not constant.
fn default_kind(expr: &Expr) -> DefaultKind {
    match expr {
        Expr::Value(_) => DefaultKind::Constant,
        Expr::UnaryOp { expr, .. } if matches!(**expr, Expr::Value(_)) => DefaultKind::Constant,
        Expr::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            if matches!(name.as_str(), "random" | "randomblob" | "uuid" | "rand") {
                DefaultKind::Volatile(name)
            } else {
                DefaultKind::Stable
            }
        }
        _ => DefaultKind::Stable,
    }
}

/// A name as written, qualified when it is (`shop.orders`).
fn last_name(name: &ObjectName) -> String {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(|i| i.value.clone())
        .collect();
    if parts.is_empty() {
        name.to_string()
    } else {
        parts.join(".")
    }
}

fn table_factor_name(factor: &TableFactor) -> String {
    match factor {
        TableFactor::Table { name, .. } => last_name(name),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(sql: &str) -> ParsedFile {
        parse(sql, Dialect::Sqlite)
    }

    #[test]
    fn pragmas_sqlite_accepts_are_not_parse_errors() {
        let parsed = sqlite(
            "PRAGMA foreign_keys = ON;\nPRAGMA main.journal_mode = WAL;\nPRAGMA table_info(users);\nPRAGMA optimize;",
        );
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.statements.len(), 4);
        let parsed = sqlite("PRAGMA = ;");
        assert_eq!(parsed.errors.len(), 1);
    }

    #[test]
    fn mysql_prepared_statements_are_not_parse_errors() {
        let parsed = parse(
            "SET @sql = CONCAT('ALTER TABLE t ADD COLUMN c int');\nPREPARE stmt FROM @sql;\nEXECUTE stmt;\nDEALLOCATE PREPARE stmt;\nPREPARE s2 FROM 'SELECT 1';",
            Dialect::Mysql,
        );
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.statements.len(), 5);
        // Near misses stay errors: no source, or a source that is not a variable or a string.
        assert_eq!(parse("PREPARE stmt FROM;", Dialect::Mysql).errors.len(), 1);
        assert_eq!(
            parse("PREPARE stmt FROM sql_text;", Dialect::Mysql)
                .errors
                .len(),
            1
        );
        // Stored code sqlparser cannot read is not a parse error on MySQL.
        for sql in [
            "CREATE TRIGGER t AFTER UPDATE ON o FOR EACH ROW INSERT INTO a VALUES (OLD.id);",
            "CREATE DEFINER = `app`@`%` FUNCTION f(x BIGINT) RETURNS INT READS SQL DATA RETURN 1;",
        ] {
            assert!(parse(sql, Dialect::Mysql).errors.is_empty(), "{sql}");
        }
        assert_eq!(
            parse("CREATE TABLE t (id int", Dialect::Mysql).errors.len(),
            1
        );
        // SQLite has no PREPARE.
        assert_eq!(
            parse("PREPARE stmt FROM @sql;", Dialect::Sqlite)
                .errors
                .len(),
            1
        );
    }

    #[test]
    fn lowers_sqlite_add_column_defaults() {
        let parsed = sqlite(
            "ALTER TABLE t ADD COLUMN a TEXT DEFAULT CURRENT_TIMESTAMP;\nALTER TABLE t ADD COLUMN b INTEGER DEFAULT -1 NOT NULL;",
        );
        let ops: Vec<Op> = parsed.statements.into_iter().flat_map(|s| s.ops).collect();
        assert!(matches!(&ops[0], Op::AddColumn(c) if c.default == DefaultKind::Stable));
        assert!(
            matches!(&ops[1], Op::AddColumn(c) if c.default == DefaultKind::Constant && c.not_null)
        );
    }

    #[test]
    fn pins_a_bad_statement_to_its_line() {
        let parsed = sqlite("CREATE TABLE a (id INTEGER);\nALTER TABLE a ADD;\nDROP TABLE a;");
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].line, 2);
        assert_eq!(parsed.statements.len(), 2);
    }

    #[test]
    fn lowers_mysql_modify_and_change() {
        let parsed = parse(
            "ALTER TABLE t MODIFY COLUMN a BIGINT;\nALTER TABLE t CHANGE COLUMN b c INT;",
            Dialect::Mysql,
        );
        let ops: Vec<Op> = parsed.statements.into_iter().flat_map(|s| s.ops).collect();
        assert_eq!(ops.len(), 3, "{ops:?}");
        assert!(matches!(&ops[1], Op::RenameColumn { from, to, .. } if from == "b" && to == "c"));
    }
}
