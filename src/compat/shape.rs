//! A query's result shape, as the database describes it when it prepares the query (never
//! runs it), and what a change of shape means for the release that prepared it before.

use sqlx::{
    AssertSqlSafe, Column as _, Executor as _, SqlSafeStr as _, Statement as _, TypeInfo as _,
};

use super::sources::Query;
use crate::db::{Conn, DbError, Driver};

/// One result column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    pub name: String,
    pub type_name: String,
    /// Whether the column it reads is declared NOT NULL (`None`: an expression, or unknown).
    pub not_null: Option<bool>,
}

/// The result columns of a prepared query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shape {
    pub columns: Vec<Column>,
}

/// sqlx's names for PostgreSQL types, as PostgreSQL names them, for a typed PREPARE.
fn pg_type(sqlx_name: &str) -> Option<&'static str> {
    const NAMES: [(&str, &str); 26] = [
        ("bool", "bool"),
        ("int2", "int2"),
        ("int4", "int4"),
        ("int8", "int8"),
        ("float4", "float4"),
        ("float8", "float8"),
        ("numeric", "numeric"),
        ("text", "text"),
        ("varchar", "varchar"),
        ("bpchar", "bpchar"),
        ("name", "name"),
        ("bytea", "bytea"),
        ("uuid", "uuid"),
        ("json", "json"),
        ("jsonb", "jsonb"),
        ("date", "date"),
        ("time", "time"),
        ("timetz", "timetz"),
        ("timestamp", "timestamp"),
        ("timestamptz", "timestamptz"),
        ("interval", "interval"),
        ("inet", "inet"),
        ("oid", "oid"),
        ("int8array", "_int8"),
        ("int4array", "_int4"),
        ("textarray", "_text"),
    ];
    let lower = sqlx_name.to_ascii_lowercase();
    NAMES.iter().find(|(s, _)| *s == lower).map(|(_, pg)| *pg)
}

impl Column {
    /// A prepared statement's result column, with what is known of its nullability.
    fn of(column: &impl sqlx::Column, not_null: Option<bool>) -> Column {
        Column {
            name: column.name().to_string(),
            type_name: column.type_info().name().to_string(),
            not_null,
        }
    }
}

/// Prepares `query` on `conn` and describes its result columns; the database's error when it
/// does not prepare.
pub async fn describe(conn: &mut Conn, query: &Query) -> Result<Shape, DbError> {
    let sql = AssertSqlSafe(query.sql.clone());
    let map = |e: sqlx::Error| DbError::from_sqlx(&e);
    match &mut conn.driver {
        Driver::Postgres(c) => describe_postgres(c, query).await,
        Driver::Sqlite(c) => describe_sqlite(c, sql).await,
        Driver::Mysql(c) => {
            let statement = c.prepare(sql.into_sql_str()).await.map_err(map)?;
            let columns = statement
                .columns()
                .iter()
                .map(|column| Column::of(column, None))
                .collect();
            Ok(Shape { columns })
        }
    }
}

/// PostgreSQL: each column's nullability read from pg_attribute where it comes from a table.
async fn describe_postgres(c: &mut sqlx::PgConnection, query: &Query) -> Result<Shape, DbError> {
    let map = |e: sqlx::Error| DbError::from_sqlx(&e);
    // The parameter types the source gives, up to the first runner cannot name (a custom
    // type): PostgreSQL infers the rest, as it would for the release.
    let types: Vec<sqlx::postgres::PgTypeInfo> = query
        .params
        .iter()
        .map_while(|p| pg_type(p).map(sqlx::postgres::PgTypeInfo::with_name))
        .collect();
    let sql = AssertSqlSafe(query.sql.clone());
    let statement = c
        .prepare_with(sql.into_sql_str(), &types)
        .await
        .map_err(map)?;
    let mut columns = Vec::new();
    for column in statement.columns() {
        let not_null = match (column.relation_id(), column.relation_attribute_no()) {
            (Some(table), Some(attnum)) => {
                let row: Option<(bool,)> = sqlx::query_as(
                    "SELECT attnotnull FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attnum = $2",
                )
                .bind(table)
                .bind(attnum)
                .fetch_optional(&mut *c)
                .await
                .map_err(map)?;
                row.map(|r| r.0)
            }
            _ => None,
        };
        columns.push(Column::of(column, not_null));
    }
    Ok(Shape { columns })
}

/// SQLite: each column's nullability read from its table's pragma_table_info.
async fn describe_sqlite(
    c: &mut sqlx::SqliteConnection,
    sql: AssertSqlSafe<String>,
) -> Result<Shape, DbError> {
    let map = |e: sqlx::Error| DbError::from_sqlx(&e);
    let statement = c.prepare(sql.into_sql_str()).await.map_err(map)?;
    let mut columns = Vec::new();
    for column in statement.columns() {
        let not_null = match column.origin() {
            sqlx::ColumnOrigin::Table(t) => {
                let pragma = format!(
                    "SELECT \"notnull\" FROM pragma_table_info('{}') WHERE name = '{}'",
                    t.table.replace('\'', "''"),
                    t.name.replace('\'', "''")
                );
                let row: Option<(i64,)> = sqlx::query_as(AssertSqlSafe(pragma))
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(map)?;
                row.map(|r| r.0 != 0)
            }
            _ => None,
        };
        columns.push(Column::of(column, not_null));
    }
    Ok(Shape { columns })
}

/// What changed for the release that prepared the query against `before`: an error for a
/// column it reads that is gone, changed its type, or may now be NULL; for `SELECT *`, a
/// warning for a changed column list. `None` when nothing it relies on changed.
pub fn compare(before: &Shape, after: &Shape, selects_star: bool) -> Option<(bool, String)> {
    let mut errors = Vec::new();
    for old in &before.columns {
        match after.columns.iter().find(|c| c.name == old.name) {
            None => errors.push(format!("its result column `{}` is gone", old.name)),
            Some(new) if new.type_name != old.type_name => errors.push(format!(
                "its result column `{}` changed type from {} to {}",
                old.name, old.type_name, new.type_name
            )),
            Some(new) if old.not_null == Some(true) && new.not_null == Some(false) => errors
                .push(format!(
                    "its result column `{}` may now be NULL (it was NOT NULL): code that reads it as a value fails on the first NULL",
                    old.name
                )),
            Some(_) => {}
        }
    }
    if !errors.is_empty() {
        return Some((true, errors.join("; ")));
    }
    let names = |s: &Shape| s.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    if selects_star && names(before) != names(after) {
        return Some((
            false,
            format!(
                "it reads `*`, and its result columns change from ({}) to ({}): statements the serving release already prepared on its pooled connections fail with \"cached plan must not change result type\" until they are prepared again",
                names(before).join(", "),
                names(after).join(", ")
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(cols: &[(&str, &str, Option<bool>)]) -> Shape {
        Shape {
            columns: cols
                .iter()
                .map(|(n, t, nn)| Column {
                    name: n.to_string(),
                    type_name: t.to_string(),
                    not_null: *nn,
                })
                .collect(),
        }
    }

    #[test]
    fn a_removed_or_retyped_column_is_an_error_and_a_wider_star_a_warning() {
        let before = shape(&[("id", "INT8", Some(true)), ("email", "TEXT", Some(true))]);
        assert_eq!(compare(&before, &before, true), None);
        let gone = shape(&[("id", "INT8", Some(true))]);
        assert!(
            compare(&before, &gone, false)
                .unwrap()
                .1
                .contains("`email` is gone")
        );
        let retyped = shape(&[("id", "INT4", Some(true)), ("email", "TEXT", Some(true))]);
        assert!(
            compare(&before, &retyped, false)
                .unwrap()
                .1
                .contains("from INT8 to INT4")
        );
        let nullable = shape(&[("id", "INT8", Some(true)), ("email", "TEXT", Some(false))]);
        assert!(compare(&before, &nullable, false).unwrap().0);
        let wider = shape(&[
            ("id", "INT8", Some(true)),
            ("email", "TEXT", Some(true)),
            ("age", "INT4", None),
        ]);
        assert_eq!(compare(&before, &wider, false), None);
        let (error, why) = compare(&before, &wider, true).unwrap();
        assert!(
            !error && why.contains("cached plan must not change result type"),
            "{why}"
        );
    }
}
