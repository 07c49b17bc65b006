//! A snapshot of a database's schema, to prove that a rollback undoes its migration: every
//! object becomes one `key -> description` entry, and two snapshots are compared entry by
//! entry.
//!
//! PostgreSQL: tables, columns (type, nullability, default), indexes (definition: columns,
//! uniqueness, predicate; validity), constraints (kind, definition, validity), views and
//! materialized views (definition), sequences, enum types and their labels, functions and
//! triggers by signature. SQLite: tables, columns, indexes, views and triggers from
//! sqlite_master and the table_xinfo pragma.

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;

use super::conn::{Conn, DbError};
use crate::catalog::checksum::normalize;
use crate::on_conn;

pub type Snapshot = BTreeMap<String, String>;

/// One object that differs between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    pub object: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        write!(
            f,
            "{}: before {}, after {}",
            self.object,
            show(&self.before),
            show(&self.after)
        )
    }
}

pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<Difference> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| Difference {
            object: k.clone(),
            before: before.get(k).cloned(),
            after: after.get(k).cloned(),
        })
        .collect()
}

/// Schemas of the user's objects (not the system's).
const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'";

/// `(key, description)` queries for PostgreSQL; each row is one object.
fn postgres_queries() -> Vec<String> {
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
        format!("SELECT 'trigger ' || n.nspname || '.' || c.relname || '.' || tg.tgname, pg_get_triggerdef(tg.oid)
                 FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE NOT tg.tgisinternal AND {USER_SCHEMAS}"),
        "SELECT 'schema ' || n.nspname, '' FROM pg_namespace n WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'public') AND n.nspname NOT LIKE 'pg_%'".to_string(),
    ]
}

/// Everything in the database's schema.
pub async fn take(conn: &mut Conn) -> Result<Snapshot, DbError> {
    let mut snapshot = Snapshot::new();
    match conn {
        Conn::Postgres(_) => {
            for sql in postgres_queries() {
                let rows: Vec<(Option<String>, Option<String>)> = on_conn!(conn, c =>
                    sqlx::query_as(AssertSqlSafe(sql)).fetch_all(c).await)
                .map_err(|e| DbError::from_sqlx(&e))?;
                for (key, value) in rows {
                    snapshot.insert(key.unwrap_or_default(), value.unwrap_or_default());
                }
            }
        }
        Conn::Sqlite(_) => {
            let objects: Vec<(String, String, String, Option<String>)> = on_conn!(conn, c =>
                sqlx::query_as("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetch_all(c).await)
            .map_err(|e| DbError::from_sqlx(&e))?;
            for (kind, name, table, sql) in objects {
                let sql = sql.as_deref().map(normalize).unwrap_or_default();
                snapshot.insert(format!("{kind} {name}"), sql);
                if kind == "table" {
                    let pragma = format!(
                        "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo('{}')",
                        table.replace('\'', "''")
                    );
                    let columns: Vec<(String, String, i64, Option<String>, i64, i64)> =
                        on_conn!(conn, c =>
                        sqlx::query_as(AssertSqlSafe(pragma)).fetch_all(c).await)
                        .map_err(|e| DbError::from_sqlx(&e))?;
                    for (column, ty, not_null, default, pk, hidden) in columns {
                        let mut d =
                            format!("{ty}{}", if not_null == 1 { " not null" } else { " null" });
                        if let Some(default) = default {
                            d.push_str(&format!(" default {default}"));
                        }
                        if pk > 0 {
                            d.push_str(" primary key");
                        }
                        if hidden > 0 {
                            d.push_str(" generated");
                        }
                        snapshot.insert(format!("column {table}.{column}"), d);
                    }
                }
            }
        }
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_names_each_changed_added_and_removed_object() {
        let before = Snapshot::from([
            ("column t.a".to_string(), "int null".to_string()),
            (
                "index t_a".to_string(),
                "CREATE INDEX t_a ON t (a)".to_string(),
            ),
        ]);
        let after = Snapshot::from([
            ("column t.a".to_string(), "int not null".to_string()),
            ("column t.b".to_string(), "text null".to_string()),
        ]);
        let diff = compare(&before, &after);
        assert_eq!(diff.len(), 3);
        assert_eq!(
            diff[0].to_string(),
            "column t.a: before int null, after int not null"
        );
        assert_eq!(
            diff[1].to_string(),
            "column t.b: before (absent), after text null"
        );
        assert_eq!(diff[2].object, "index t_a");
    }
}
