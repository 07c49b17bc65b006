//! PostgreSQL: a session advisory lock polled with `pg_try_advisory_lock` (never the blocking
//! form: a blocked waiter deadlocks with the holder's CREATE INDEX CONCURRENTLY), limits as
//! `lock_timeout` / `statement_timeout`, SQLSTATE classes, and the catalog read from
//! `pg_catalog`.

use super::snapshot::COLUMN_ORDER;
use super::{Backend, Call, ColumnType, DbError, Effect, Limits, LockMethod, SnapshotQuery, Value};

/// The advisory lock key: "runner" in ASCII, then 1.
pub const LOCK_KEY: i64 = 0x7275_6e6e_6572_0001;

pub struct Postgres;

/// Schemas of the user's objects (not the system's).
const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'";

impl Backend for Postgres {
    fn split(&self, sql: &str) -> Result<Vec<String>, String> {
        Ok(pg_query::split_with_parser(sql)
            .map_err(|e| match e {
                pg_query::Error::Split(m) | pg_query::Error::Parse(m) => m,
                other => other.to_string(),
            })?
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    }

    fn outside_transaction(&self, statement: &str) -> Option<Effect> {
        outside_transaction(statement)
    }

    fn reads_table_locks(&self) -> bool {
        true
    }

    fn bool_literal(&self, value: bool) -> &'static str {
        if value { "TRUE" } else { "FALSE" }
    }

    fn bytes_literal(&self, bytes: &[u8]) -> String {
        format!("decode('{}', 'hex')", hex::encode(bytes))
    }

    fn hex_of(&self, expr: &str) -> String {
        format!("encode({expr}, 'hex')")
    }

    fn scratch_needs_server(&self) -> Option<&'static str> {
        Some(
            "verifying PostgreSQL migrations needs a server for the scratch database: pass --database-url postgres://... (any database on it; runner creates and drops its own) or --env ENV",
        )
    }

    fn drop_database_sql(&self, name: &str) -> String {
        // Sessions still on it (a killed statement's) are ended with it.
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    }

    fn lock(&self) -> LockMethod {
        LockMethod::Session {
            try_sql: format!("SELECT pg_try_advisory_lock({LOCK_KEY})::text"),
            release_sql: format!("SELECT pg_advisory_unlock({LOCK_KEY})"),
            holder_sql: format!(
                "SELECT a.pid::text, coalesce(a.application_name, ''), a.client_addr::text,
                        a.state, a.query, to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.classid = {} AND l.objid = {} AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND a.pid <> pg_backend_pid()",
                LOCK_KEY >> 32,
                LOCK_KEY & 0xffff_ffff
            ),
            terminate_sql: |pid| format!("SELECT pg_terminate_backend({pid})"),
        }
    }

    fn lock_description(&self, limits: &Limits) -> String {
        format!(
            "PostgreSQL advisory lock {LOCK_KEY} (pg_try_advisory_lock, polled), then each statement under lock_timeout {} with up to {} retries",
            humantime::format_duration(limits.lock_timeout),
            limits.retries
        )
    }

    fn limits_sql(&self, limits: &Limits, in_transaction: bool) -> String {
        let scope = if in_transaction { "LOCAL " } else { "" };
        let lock_ms = limits.lock_timeout.as_millis();
        let statement_ms = limits.statement_timeout.map_or(0, |d| d.as_millis());
        format!(
            "RESET lock_timeout; RESET statement_timeout; SET {scope}lock_timeout = {lock_ms}; SET {scope}statement_timeout = {statement_ms}"
        )
    }

    fn reset_limits_sql(&self) -> Option<&'static str> {
        Some("RESET lock_timeout; RESET statement_timeout")
    }

    fn begin_sql(&self) -> &'static str {
        "BEGIN"
    }

    fn limits_before_begin(&self) -> bool {
        false
    }

    fn query_elapsed_ms(&self) -> Option<&'static str> {
        // statement_timestamp(): when the query message arrived, for every statement in it.
        Some("CAST(EXTRACT(EPOCH FROM clock_timestamp() - statement_timestamp()) * 1000 AS bigint)")
    }

    fn prepared_call(&self, name: &str, sql: &str, values: &[Value]) -> Option<Call> {
        // The types the values would be bound with, so the statement means what it does
        // with bound parameters.
        let types: Vec<&str> = values
            .iter()
            .map(|v| match v {
                Value::Int(_) => "bigint",
                Value::Text(_) => "text",
            })
            .collect();
        let arguments: Vec<String> = values.iter().map(|v| super::literal(self, v)).collect();
        Some(Call {
            name: name.to_string(),
            prepare: format!("PREPARE {name} ({}) AS {sql}", types.join(", ")),
            execute: format!("EXECUTE {name} ({})", arguments.join(", ")),
        })
    }

    fn text_literal(&self, text: &str) -> String {
        // An escape string: read the same with standard_conforming_strings on or off.
        format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
    }

    fn now_sql(&self) -> &'static str {
        "clock_timestamp()"
    }

    fn column_type(&self, column: ColumnType) -> &'static str {
        match column {
            ColumnType::Int => "integer",
            ColumnType::BigInt => "bigint",
            ColumnType::Text => "text",
            ColumnType::Timestamp => "timestamptz",
            ColumnType::Serial => "bigserial PRIMARY KEY",
        }
    }

    fn append_only_sql(&self, e: &str) -> String {
        format!(
            "CREATE OR REPLACE FUNCTION {e}_append_only() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION '{e} is append-only'; END $$;
            CREATE OR REPLACE TRIGGER {e}_no_change BEFORE UPDATE OR DELETE ON {e}
                FOR EACH ROW EXECUTE FUNCTION {e}_append_only();
            CREATE OR REPLACE TRIGGER {e}_no_truncate BEFORE TRUNCATE ON {e}
                FOR EACH STATEMENT EXECUTE FUNCTION {e}_append_only();"
        )
    }

    fn columns_sql(&self) -> &'static str {
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()"
    }

    fn table_exists_sql(&self) -> &'static str {
        "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = $1 AND schemaname = ANY (current_schemas(false))"
    }

    fn as_text(&self, column: &str) -> String {
        // ISO 8601 in UTC with milliseconds, as every backend reads its times back.
        format!(
            "to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS {column}"
        )
    }

    fn as_bigint(&self, column: &str) -> String {
        format!("{column}::bigint AS {column}")
    }

    fn is_lock_timeout(&self, error: &DbError) -> bool {
        error.code.as_deref() == Some("55P03")
    }

    fn snapshot_queries(&self) -> Vec<SnapshotQuery> {
        object_queries()
            .into_iter()
            .chain(setting_queries())
            .map(SnapshotQuery::canonical)
        .chain(std::iter::once(SnapshotQuery {
            // Whole definitions, bodies included, compared with whitespace and comments
            // normalized: `RETURN 1` and `RETURN 3` differ.
            sql: format!("SELECT 'definition of ' || CASE p.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                              pg_get_functiondef(p.oid)
                         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                         LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
                         WHERE p.prokind IN ('f', 'p') AND {USER_SCHEMAS} AND d.objid IS NULL"),
            normalize: true,
        }))
        .collect()
    }

    fn index_validity_sql(&self) -> Option<&'static str> {
        Some(
            "SELECT i.indisvalid::text FROM pg_catalog.pg_index i WHERE i.indexrelid = to_regclass($1)",
        )
    }
}

/// `Backend::outside_transaction` for PostgreSQL: read from the statement's parse tree.
fn outside_transaction(statement: &str) -> Option<Effect> {
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

/// The snapshot's canonical rows of schema objects: tables, columns, indexes, constraints,
/// views, sequences, enums, functions, and each table's column order.
fn object_queries() -> Vec<String> {
    vec![
        format!("SELECT 'table ' || n.nspname || '.' || c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS}"),
        format!("SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname,
                    format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE ' null' END
                    || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
                    || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
                    || CASE WHEN a.attgenerated <> '' THEN ' generated ' || a.attgenerated::text ELSE '' END
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm') AND {USER_SCHEMAS}"),
        format!("SELECT 'index ' || n.nspname || '.' || c.relname,
                    pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE {USER_SCHEMAS}"),
        format!("SELECT 'constraint ' || n.nspname || '.' || coalesce(t.relname, y.typname, '') || '.' || con.conname,
                    con.contype::text || ' ' || pg_get_constraintdef(con.oid) || CASE WHEN con.convalidated THEN '' ELSE ' (NOT VALID)' END
                 FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
                 LEFT JOIN pg_class t ON t.oid = con.conrelid LEFT JOIN pg_type y ON y.oid = con.contypid
                 WHERE {USER_SCHEMAS}"),
        format!("SELECT CASE c.relkind WHEN 'v' THEN 'view ' ELSE 'materialized view ' END || n.nspname || '.' || c.relname,
                    pg_get_viewdef(c.oid)
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMAS}"),
        format!("SELECT 'sequence ' || n.nspname || '.' || c.relname, format_type(s.seqtypid, NULL)
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
                 WHERE {USER_SCHEMAS}"),
        format!("SELECT 'enum ' || n.nspname || '.' || t.typname, string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
                 WHERE {USER_SCHEMAS} GROUP BY n.nspname, t.typname"),
        format!("SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                    pg_get_function_result(p.oid)
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
                 WHERE {USER_SCHEMAS} AND d.objid IS NULL"),
        // The order of a table's columns: `SELECT *`, positional INSERT and COPY see it.
        format!("SELECT '{COLUMN_ORDER}' || n.nspname || '.' || c.relname, string_agg(a.attname, ', ' ORDER BY a.attnum)
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND {USER_SCHEMAS}
                 GROUP BY n.nspname, c.relname"),
    ]
}

/// The snapshot's canonical rows of what sits on the objects: sequence settings, row
/// security, comments, grants, triggers, schemas.
fn setting_queries() -> Vec<String> {
    vec![
        format!("SELECT 'sequence settings ' || n.nspname || '.' || c.relname,
                    'start ' || s.seqstart || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax
                    || ' cache ' || s.seqcache || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid
                 WHERE {USER_SCHEMAS}"),
        format!("SELECT 'policy ' || schemaname || '.' || tablename || '.' || policyname,
                    permissive || ' ' || cmd || ' to ' || array_to_string(roles, ',') || coalesce(' using ' || qual, '')
                    || coalesce(' with check ' || with_check, '')
                 FROM pg_policies n WHERE {}", USER_SCHEMAS.replace("n.nspname", "n.schemaname")),
        format!("SELECT 'row security ' || n.nspname || '.' || c.relname,
                    CASE WHEN c.relrowsecurity THEN 'enabled' ELSE 'disabled' END || CASE WHEN c.relforcerowsecurity THEN ', forced' ELSE '' END
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relkind IN ('r', 'p') AND (c.relrowsecurity OR c.relforcerowsecurity) AND {USER_SCHEMAS}"),
        format!("SELECT 'comment on ' || CASE WHEN d.objsubid > 0 THEN 'column ' ELSE 'relation ' END || n.nspname || '.' || c.relname
                    || coalesce('.' || a.attname, ''), d.description
                 FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
                 WHERE {USER_SCHEMAS}"),
        format!("SELECT 'comment on function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', d.description
                 FROM pg_description d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_SCHEMAS}"),
        format!("SELECT 'grants on ' || n.nspname || '.' || c.relname, array_to_string(ARRAY(SELECT x::text FROM unnest(c.relacl) x ORDER BY 1), ', ')
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {USER_SCHEMAS}"),
        format!("SELECT 'grants on function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                    array_to_string(ARRAY(SELECT x::text FROM unnest(p.proacl) x ORDER BY 1), ', ')
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proacl IS NOT NULL AND {USER_SCHEMAS}"),
        format!("SELECT 'trigger ' || n.nspname || '.' || c.relname || '.' || tg.tgname, pg_get_triggerdef(tg.oid)
                 FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE NOT tg.tgisinternal AND {USER_SCHEMAS}"),
        "SELECT 'schema ' || n.nspname, '' FROM pg_namespace n WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'public') AND n.nspname NOT LIKE 'pg_%'".to_string(),
    ]
}
