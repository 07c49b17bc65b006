//! PostgreSQL: the real grammar (libpg_query through the `pg_query` crate), lowered to `Op`s.
//!
//! Function bodies and DO blocks stay opaque strings in the parse tree, so their statements
//! are never linted as top-level statements.

use pg_query::NodeEnum;
use pg_query::protobuf::{self, AlterTableType, ConstrType, ObjectType, TransactionStmtKind};

use super::{clip, first_token, parse_in_chunks};
use crate::lint::model::{
    ColumnSpec, ConstraintKind, DefaultKind, Generated, LineIndex, NewColumn, ObjectKind, Op,
    ParseError, ParsedFile, Statement, TransactionKind,
};
use crate::lint::split::{Chunk, split};

/// Above this size a file is parsed statement by statement, so memory stays bounded by the
/// largest statement rather than the whole file's parse tree.
const WHOLE_FILE_LIMIT: usize = 1 << 20;

pub fn parse(sql: &str) -> ParsedFile {
    let lines = LineIndex::new(sql);
    let whole = match sql.len() <= WHOLE_FILE_LIMIT {
        true => parse_statements(sql, 0, &lines).ok(),
        false => None,
    };
    match whole {
        Some(statements) => ParsedFile {
            statements,
            errors: Vec::new(),
        },
        // Statement by statement: each error is pinned to its own line.
        None => parse_in_chunks(chunks(sql), |chunk, offset| {
            parse_statements(chunk, offset, &lines)
        }),
    }
}

/// The statements of a file PostgreSQL's parser rejected as a whole, split by its own scanner
/// (libpg_query), so a rule body, a quoted name or a column called `begin` never splits wrong.
/// A file the scanner cannot read (a NUL byte) falls back to runner's splitter.
fn chunks<'a>(sql: &'a str) -> Vec<Chunk<'a>> {
    let base = sql.as_ptr() as usize;
    let Ok(parts) = pg_query::split_with_scanner(sql) else {
        return split(sql);
    };
    // The scanner leaves out a piece it cannot place (a statement that starts with an unknown
    // word): whatever lies between two pieces is a statement of its own, so that it is
    // reported, never skipped.
    let mut chunks = Vec::new();
    let mut cursor = 0;
    let gap = |from: usize, to: usize, chunks: &mut Vec<Chunk<'a>>| {
        for c in split(&sql[from..to]) {
            chunks.push(Chunk {
                offset: from + c.offset,
                text: c.text,
            });
        }
    };
    for part in parts {
        let start = part.as_ptr() as usize - base;
        let end = if part.is_empty() {
            sql.len()
        } else {
            start + part.len()
        };
        if start > cursor {
            gap(cursor, start, &mut chunks);
        }
        let piece = &sql[start..end];
        if let Some(first) = first_token(piece) {
            chunks.push(Chunk {
                offset: start + first,
                text: piece[first..].trim_end().trim_end_matches(';').trim_end(),
            });
        }
        cursor = end;
    }
    if cursor < sql.len() {
        gap(cursor, sql.len(), &mut chunks);
    }
    chunks
}

/// Parses `text`, which starts at byte `base` of the file `lines` indexes.
fn parse_statements(
    text: &str,
    base: usize,
    lines: &LineIndex<'_>,
) -> Result<Vec<Statement>, ParseError> {
    let result = pg_query::parse(text, 0).map_err(|e| {
        let (line, column) = lines.line_col(base);
        let message = match e {
            pg_query::Error::Parse(m) => m,
            pg_query::Error::Conversion(_) => "the statement contains a NUL byte".to_string(),
            other => other.to_string(),
        };
        ParseError {
            offset: base,
            line,
            column,
            message: clip(&message),
            certain: true,
        }
    })?;
    Ok(result
        .protobuf
        .stmts
        .iter()
        .map(|raw| {
            let start = raw.stmt_location.max(0) as usize;
            let end = match raw.stmt_len {
                0 => text.len(),
                n => (start + n as usize).min(text.len()),
            };
            let offset = base + first_token(&text[start..end]).map_or(start, |o| start + o);
            let (line, column) = lines.line_col(offset);
            let ops = raw
                .stmt
                .as_ref()
                .and_then(|n| n.node.as_ref())
                .map(lower)
                .unwrap_or_default();
            Statement {
                offset,
                line,
                column,
                ops,
            }
        })
        .collect())
}

fn lower(node: &NodeEnum) -> Vec<Op> {
    match node {
        NodeEnum::CreateStmt(s) => vec![create_table(s)],
        NodeEnum::CreateTableAsStmt(s) => create_table_as(s),
        NodeEnum::ViewStmt(s) => vec![created(ObjectKind::View, relname(&s.view))],
        NodeEnum::CreateSeqStmt(s) => vec![created(ObjectKind::Sequence, relname(&s.sequence))],
        NodeEnum::CreateEnumStmt(s) => vec![created(ObjectKind::Type, dotted(&s.type_name))],
        NodeEnum::CompositeTypeStmt(s) => vec![created(ObjectKind::Type, relname(&s.typevar))],
        NodeEnum::CreateSchemaStmt(s) => vec![created(ObjectKind::Schema, s.schemaname.clone())],
        NodeEnum::CreateFunctionStmt(s) => vec![create_function(s)],
        NodeEnum::InsertStmt(s) => insert_select(s).into_iter().collect(),
        NodeEnum::AlterTableStmt(s) => {
            let table = relname(&s.relation);
            s.cmds
                .iter()
                .filter_map(|c| match c.node.as_ref() {
                    Some(NodeEnum::AlterTableCmd(cmd)) => alter_table_cmd(&table, cmd),
                    _ => None,
                })
                .collect()
        }
        NodeEnum::IndexStmt(s) => vec![Op::CreateIndex {
            table: relname(&s.relation),
            name: (!s.idxname.is_empty()).then(|| s.idxname.clone()),
            concurrently: s.concurrent,
            unique: s.unique,
        }],
        NodeEnum::DropStmt(s) => drop_objects(s).into_iter().collect(),
        NodeEnum::DropdbStmt(s) => vec![Op::DropDatabase {
            name: s.dbname.clone(),
        }],
        NodeEnum::RenameStmt(s) => rename(s).into_iter().collect(),
        NodeEnum::TruncateStmt(s) => vec![Op::Truncate {
            tables: s.relations.iter().map(object_name).collect(),
        }],
        NodeEnum::UpdateStmt(s) => vec![Op::Update {
            table: relname(&s.relation),
            has_where: s.where_clause.is_some(),
        }],
        NodeEnum::DeleteStmt(s) => vec![Op::Delete {
            table: relname(&s.relation),
            has_where: s.where_clause.is_some(),
        }],
        NodeEnum::TransactionStmt(s) => vec![Op::Transaction(transaction_kind(s))],
        NodeEnum::ReindexStmt(s) => vec![reindex(s)],
        _ => Vec::new(),
    }
}

fn create_table(s: &protobuf::CreateStmt) -> Op {
    Op::CreateTable {
        table: relname(&s.relation),
        columns: s
            .table_elts
            .iter()
            .filter_map(|e| match e.node.as_ref() {
                Some(NodeEnum::ColumnDef(c)) => {
                    let column = new_column(String::new(), c);
                    Some(ColumnSpec {
                        not_null: column.not_null || column.primary_key,
                        name: column.column,
                        ty: column.ty,
                    })
                }
                _ => None,
            })
            .collect(),
    }
}

/// CREATE TABLE ... AS (and CREATE MATERIALIZED VIEW, which PostgreSQL parses as one).
fn create_table_as(s: &protobuf::CreateTableAsStmt) -> Vec<Op> {
    let table = s.into.as_ref().map(|i| relname(&i.rel)).unwrap_or_default();
    let mut ops = vec![Op::CreateTable {
        table: table.clone(),
        columns: Vec::new(),
    }];
    if ObjectType::try_from(s.objtype) == Ok(ObjectType::ObjectMatview) {
        ops.push(created(ObjectKind::MaterializedView, table));
    }
    ops
}

/// A function or procedure, named with its input argument types (as `DROP FUNCTION` takes it).
fn create_function(s: &protobuf::CreateFunctionStmt) -> Op {
    use protobuf::FunctionParameterMode as M;
    let arguments: Vec<String> = s
        .parameters
        .iter()
        .filter_map(|p| match p.node.as_ref() {
            Some(NodeEnum::FunctionParameter(p))
                if !matches!(M::try_from(p.mode), Ok(M::FuncParamOut | M::FuncParamTable)) =>
            {
                Some(type_name(p.arg_type.as_ref()))
            }
            _ => None,
        })
        .collect();
    let kind = if s.is_procedure {
        ObjectKind::Procedure
    } else {
        ObjectKind::Function
    };
    let name = format!("{}({})", dotted(&s.funcname), arguments.join(", "));
    created(kind, name)
}

/// `INSERT ... SELECT ... FROM`: the tables it reads (a plain `VALUES` insert is no op).
fn insert_select(s: &protobuf::InsertStmt) -> Option<Op> {
    let from: Vec<String> = match s.select_stmt.as_ref().and_then(|n| n.node.as_ref()) {
        Some(NodeEnum::SelectStmt(select)) => select
            .from_clause
            .iter()
            .filter_map(|f| match f.node.as_ref() {
                Some(NodeEnum::RangeVar(r)) => Some(qualified(r)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    (!from.is_empty()).then(|| Op::InsertSelect {
        table: relname(&s.relation),
        from,
    })
}

fn drop_objects(s: &protobuf::DropStmt) -> Option<Op> {
    let names = s.objects.iter().map(object_name).collect();
    match ObjectType::try_from(s.remove_type) {
        Ok(ObjectType::ObjectTable) => Some(Op::DropTable { tables: names }),
        Ok(ObjectType::ObjectIndex) => Some(Op::DropIndex {
            names,
            concurrently: s.concurrent,
            table: None,
        }),
        Ok(ObjectType::ObjectSchema) => Some(Op::DropSchema { names }),
        _ => None,
    }
}

fn rename(s: &protobuf::RenameStmt) -> Option<Op> {
    match ObjectType::try_from(s.rename_type) {
        Ok(ObjectType::ObjectColumn) => Some(Op::RenameColumn {
            table: relname(&s.relation),
            from: s.subname.clone(),
            to: s.newname.clone(),
        }),
        Ok(ObjectType::ObjectTable) => Some(Op::RenameTable {
            from: relname(&s.relation),
            to: s.newname.clone(),
        }),
        _ => None,
    }
}

fn transaction_kind(s: &protobuf::TransactionStmt) -> TransactionKind {
    use TransactionStmtKind as K;
    match K::try_from(s.kind) {
        Ok(K::TransStmtBegin | K::TransStmtStart) => TransactionKind::Begin,
        Ok(K::TransStmtCommit | K::TransStmtPrepare | K::TransStmtCommitPrepared) => {
            TransactionKind::Commit
        }
        Ok(K::TransStmtRollback | K::TransStmtRollbackPrepared) => TransactionKind::Rollback,
        _ => TransactionKind::Savepoint,
    }
}

fn reindex(s: &protobuf::ReindexStmt) -> Op {
    let concurrently = s.params.iter().any(
        |p| matches!(p.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "concurrently"),
    );
    use protobuf::ReindexObjectType as R;
    let kind = match R::try_from(s.kind) {
        Ok(R::ReindexObjectIndex) => "INDEX",
        Ok(R::ReindexObjectTable) => "TABLE",
        Ok(R::ReindexObjectSchema) => "SCHEMA",
        Ok(R::ReindexObjectSystem) => "SYSTEM",
        _ => "DATABASE",
    };
    let name = match &s.relation {
        Some(r) => qualified(r),
        None => s.name.clone(),
    };
    Op::Reindex {
        concurrently,
        target: format!("{kind} {name}").trim_end().to_string(),
    }
}

fn alter_table_cmd(table: &str, cmd: &protobuf::AlterTableCmd) -> Option<Op> {
    let table = table.to_string();
    let column = cmd.name.clone();
    let def = cmd.def.as_ref().and_then(|d| d.node.as_ref());
    match AlterTableType::try_from(cmd.subtype).ok()? {
        AlterTableType::AtAddColumn => match def {
            Some(NodeEnum::ColumnDef(c)) => Some(Op::AddColumn(new_column(table, c))),
            _ => None,
        },
        AlterTableType::AtDropColumn => Some(Op::DropColumn { table, column }),
        AlterTableType::AtAlterColumnType => {
            let new_type = match def {
                Some(NodeEnum::ColumnDef(c)) => type_name(c.type_name.as_ref()),
                _ => String::new(),
            };
            Some(Op::ChangeColumnType {
                table,
                column,
                new_type,
                not_null: None,
            })
        }
        AlterTableType::AtSetNotNull => Some(Op::SetNotNull { table, column }),
        AlterTableType::AtDropNotNull => Some(Op::DropNotNull { table, column }),
        AlterTableType::AtAddConstraint => match def {
            Some(NodeEnum::Constraint(c)) => Some(Op::AddConstraint {
                table,
                name: (!c.conname.is_empty()).then(|| c.conname.clone()),
                kind: constraint_kind(c.contype),
                not_valid: c.skip_validation,
                using_index: !c.indexname.is_empty(),
                not_null_of: not_null_check(c),
            }),
            _ => None,
        },
        AlterTableType::AtValidateConstraint => Some(Op::ValidateConstraint {
            table,
            name: column,
        }),
        _ => None,
    }
}

/// The column of `CHECK (column IS NOT NULL)`.
fn not_null_check(c: &protobuf::Constraint) -> Option<String> {
    if ConstrType::try_from(c.contype) != Ok(ConstrType::ConstrCheck) {
        return None;
    }
    let Some(NodeEnum::NullTest(test)) = c.raw_expr.as_ref().and_then(|e| e.node.as_ref()) else {
        return None;
    };
    if protobuf::NullTestType::try_from(test.nulltesttype) != Ok(protobuf::NullTestType::IsNotNull)
    {
        return None;
    }
    match test.arg.as_ref().and_then(|a| a.node.as_ref()) {
        Some(NodeEnum::ColumnRef(r)) if r.fields.len() == 1 => match r.fields[0].node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn constraint_kind(contype: i32) -> ConstraintKind {
    match ConstrType::try_from(contype) {
        Ok(ConstrType::ConstrCheck) => ConstraintKind::Check,
        Ok(ConstrType::ConstrForeign) => ConstraintKind::ForeignKey,
        Ok(ConstrType::ConstrUnique) => ConstraintKind::Unique,
        Ok(ConstrType::ConstrPrimary) => ConstraintKind::PrimaryKey,
        Ok(ConstrType::ConstrExclusion) => ConstraintKind::Exclusion,
        Ok(ConstrType::ConstrNotnull) => ConstraintKind::NotNull,
        _ => ConstraintKind::Other,
    }
}

fn new_column(table: String, c: &protobuf::ColumnDef) -> NewColumn {
    let type_name = type_name(c.type_name.as_ref());
    let mut column = NewColumn {
        table,
        column: c.colname.clone(),
        ty: type_name.clone(),
        default: DefaultKind::None,
        not_null: c.is_not_null,
        generated: None,
        references: false,
        primary_key: false,
        unique: false,
        check: false,
    };
    if matches!(
        type_name.as_str(),
        "serial" | "bigserial" | "smallserial" | "serial2" | "serial4" | "serial8"
    ) {
        column.generated = Some(Generated::Serial);
    }
    if let Some(expr) = c.raw_default.as_ref().and_then(|d| d.node.as_ref()) {
        column.default = default_kind(expr);
    }
    for constraint in &c.constraints {
        let Some(NodeEnum::Constraint(k)) = constraint.node.as_ref() else {
            continue;
        };
        match ConstrType::try_from(k.contype) {
            Ok(ConstrType::ConstrNotnull) => column.not_null = true,
            Ok(ConstrType::ConstrDefault) => {
                if let Some(expr) = k.raw_expr.as_ref().and_then(|e| e.node.as_ref()) {
                    column.default = default_kind(expr);
                }
            }
            Ok(ConstrType::ConstrIdentity) => column.generated = Some(Generated::Identity),
            // PostgreSQL 18 adds virtual generated columns, computed on read: no rewrite.
            Ok(ConstrType::ConstrGenerated) if k.generated_kind != "v" => {
                column.generated = Some(Generated::Stored)
            }
            Ok(ConstrType::ConstrPrimary) => column.primary_key = true,
            Ok(ConstrType::ConstrUnique) => column.unique = true,
            Ok(ConstrType::ConstrForeign) => column.references = true,
            Ok(ConstrType::ConstrCheck) => column.check = true,
            _ => {}
        }
    }
    column
}

/// Functions that give each row its own value. Unknown functions count as volatile too:
/// that is PostgreSQL's default for a function declared without a volatility.
const NON_VOLATILE: &[&str] = &[
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "current_setting",
    "lower",
    "upper",
    "btrim",
    "ltrim",
    "rtrim",
    "concat",
    "concat_ws",
    "length",
    "nullif",
    "abs",
    "round",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "to_timestamp",
    "to_date",
    "to_char",
    "to_number",
    "date_trunc",
    "timezone",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "array_fill",
    "current_database",
    "current_schema",
    "inet_client_addr",
    "version",
];

fn default_kind(expr: &NodeEnum) -> DefaultKind {
    let mut stable = false;
    for (node, ..) in expr.nodes() {
        match node {
            pg_query::NodeRef::FuncCall(f) => {
                let name = f
                    .funcname
                    .last()
                    .and_then(|n| match n.node.as_ref() {
                        Some(NodeEnum::String(s)) => Some(s.sval.to_lowercase()),
                        _ => None,
                    })
                    .unwrap_or_default();
                if NON_VOLATILE.contains(&name.as_str()) {
                    stable = true;
                } else {
                    return DefaultKind::Volatile(name);
                }
            }
            pg_query::NodeRef::SqlvalueFunction(_) => stable = true,
            _ => {}
        }
    }
    if stable {
        DefaultKind::Stable
    } else {
        DefaultKind::Constant
    }
}

/// A relation as written: `schema.name` when qualified, else the bare name.
fn created(kind: ObjectKind, name: String) -> Op {
    Op::CreateObject { kind, name }
}

/// A name given as a list of strings (`schema`, `name`), joined with dots.
fn dotted(parts: &[protobuf::Node]) -> String {
    parts.iter().map(object_name).collect::<Vec<_>>().join(".")
}

fn relname(relation: &Option<protobuf::RangeVar>) -> String {
    relation.as_ref().map(qualified).unwrap_or_default()
}

fn qualified(r: &protobuf::RangeVar) -> String {
    if r.schemaname.is_empty() {
        r.relname.clone()
    } else {
        format!("{}.{}", r.schemaname, r.relname)
    }
}

/// A name as written, qualified when it is: `public.users`.
fn object_name(node: &protobuf::Node) -> String {
    match node.node.as_ref() {
        Some(NodeEnum::List(list)) => list
            .items
            .iter()
            .map(object_name)
            .collect::<Vec<_>>()
            .join("."),
        Some(NodeEnum::String(s)) => s.sval.clone(),
        Some(NodeEnum::RangeVar(r)) => qualified(r),
        _ => String::new(),
    }
}

/// `varchar(40)`, `numeric(12,2)`, `int4[]`: the name without `pg_catalog`, its integer
/// modifiers (lengths, precision and scale) and its array bounds.
fn type_name(t: Option<&protobuf::TypeName>) -> String {
    t.map(|t| {
        let mut name = t
            .names
            .iter()
            .filter_map(|n| match n.node.as_ref() {
                Some(NodeEnum::String(s)) if s.sval != "pg_catalog" => Some(s.sval.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(".");
        let modifiers: Vec<String> = t
            .typmods
            .iter()
            .filter_map(|m| match m.node.as_ref() {
                Some(NodeEnum::AConst(c)) => match &c.val {
                    Some(protobuf::a_const::Val::Ival(i)) => Some(i.ival.to_string()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        if !modifiers.is_empty() {
            name.push_str(&format!("({})", modifiers.join(",")));
        }
        for _ in &t.array_bounds {
            name.push_str("[]");
        }
        name
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(sql: &str) -> Vec<Op> {
        let parsed = parse(sql);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        parsed.statements.into_iter().flat_map(|s| s.ops).collect()
    }

    fn default_of(sql: &str) -> DefaultKind {
        match &ops(sql)[0] {
            Op::AddColumn(c) => c.default.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn classifies_defaults() {
        let add = |d: &str| format!("ALTER TABLE t ADD COLUMN c timestamptz DEFAULT {d}");
        assert_eq!(default_of(&add("now()")), DefaultKind::Stable);
        assert_eq!(default_of(&add("CURRENT_TIMESTAMP")), DefaultKind::Stable);
        assert_eq!(
            default_of(&add("'2024-01-01'::timestamptz")),
            DefaultKind::Constant
        );
        assert_eq!(default_of(&add("42")), DefaultKind::Constant);
        assert_eq!(
            default_of(&add("clock_timestamp()")),
            DefaultKind::Volatile("clock_timestamp".into())
        );
        assert_eq!(
            default_of(&add("(random() * 10)::int")),
            DefaultKind::Volatile("random".into())
        );
        assert_eq!(
            default_of("ALTER TABLE t ADD COLUMN c int DEFAULT nextval('s')"),
            DefaultKind::Volatile("nextval".into())
        );
    }

    /// A file with one bad statement is split by PostgreSQL's own scanner: a multi-action rule
    /// body and a column named `begin` do not split wrong, the error is on its own line, and
    /// the statements after it are still read.
    #[test]
    fn a_broken_file_is_split_by_the_real_scanner() {
        let sql = "CREATE TABLE events (id int, begin int, note text);\n\
                   CREATE RULE log_events AS ON INSERT TO events DO ALSO (\n\
                   INSERT INTO audit VALUES (1);\n\
                   INSERT INTO audit VALUES (2)\n\
                   );\n\
                   SELEC 1;\n\
                   DROP TABLE old_stuff;\n";
        let parsed = parse(sql);
        assert_eq!(parsed.errors.len(), 1, "{:?}", parsed.errors);
        assert_eq!(parsed.errors[0].line, 6);
        assert!(parsed.statements.iter().any(|s| s.ops.iter().any(
            |op| matches!(op, Op::DropTable { tables } if tables == &["old_stuff".to_string()])
        )));
        assert_eq!(parsed.statements.len(), 3);
    }

    #[test]
    fn lowers_alter_table_commands() {
        let got = ops(
            "ALTER TABLE public.users ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES b (id) NOT VALID, VALIDATE CONSTRAINT fk, ALTER COLUMN email TYPE varchar(100), ALTER COLUMN email SET NOT NULL, DROP COLUMN age",
        );
        assert_eq!(got.len(), 5);
        assert!(matches!(
            &got[0],
            Op::AddConstraint { table, kind: ConstraintKind::ForeignKey, not_valid: true, using_index: false, .. } if table == "public.users"
        ));
        assert!(
            matches!(&got[2], Op::ChangeColumnType { new_type, .. } if new_type == "varchar(100)")
        );
    }

    #[test]
    fn positions_skip_leading_comments() {
        let sql = "CREATE TABLE a (id int);\n\n-- the next one\n  DROP TABLE b;";
        let parsed = parse(sql);
        assert_eq!(
            (parsed.statements[1].line, parsed.statements[1].column),
            (4, 3)
        );
    }

    #[test]
    fn a_bad_statement_is_pinned_and_the_rest_still_lowered() {
        let parsed = parse("DROP TABLE a;\nALTER TABLE b ADD COLUMN;\nTRUNCATE c;");
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].line, 2);
        assert_eq!(parsed.statements.len(), 2);
    }

    #[test]
    fn function_bodies_and_do_blocks_are_opaque() {
        let sql = "CREATE FUNCTION f() RETURNS void AS $$ DROP TABLE x; $$ LANGUAGE sql;\nDO $$ BEGIN TRUNCATE y; END $$;";
        // The function itself is created (what undoing it drops); its body is not read.
        assert_eq!(
            ops(sql),
            [Op::CreateObject {
                kind: ObjectKind::Function,
                name: "f()".into()
            }]
        );
    }
}
