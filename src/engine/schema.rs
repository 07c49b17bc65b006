//! runner's own tables, defined once: `<prefix>migrations` (one row per version), `<prefix>events`
//! (the append-only audit log) and `<prefix>deploys` (the deploy journal). Each backend gives
//! the SQL types and the append-only guard; a table an older runner created gets the columns it
//! lacks.

use crate::db::{Backend, ColumnType, HistoryNames};

/// One column of runner's tables.
pub struct Column {
    pub name: &'static str,
    ty: ColumnType,
    not_null: bool,
    default: Default,
    key: bool,
}

#[derive(Clone, Copy)]
enum Default {
    None,
    Zero,
    Now,
    EmptyList,
}

const fn col(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        not_null: false,
        default: Default::None,
        key: false,
    }
}

impl Column {
    const fn not_null(self) -> Column {
        Column {
            not_null: true,
            ..self
        }
    }

    const fn default(self, default: Default) -> Column {
        Column { default, ..self }
    }

    const fn key(self) -> Column {
        Column { key: true, ..self }
    }

    /// `name type [PRIMARY KEY] [NOT NULL] [DEFAULT ...]` in the backend's dialect.
    pub fn sql(&self, backend: &dyn Backend) -> String {
        let ty = match self.ty {
            ColumnType::Text if self.key => backend.key_text_type(),
            ty => backend.column_type(ty),
        };
        let mut out = format!("{} {ty}", backend.ident(self.name));
        if self.key && !matches!(self.ty, ColumnType::Serial) {
            out.push_str(" PRIMARY KEY");
        }
        if self.not_null {
            out.push_str(" NOT NULL");
        }
        match self.default {
            Default::None => {}
            Default::Zero => out.push_str(" DEFAULT 0"),
            Default::Now => out.push_str(&format!(" DEFAULT ({})", backend.now_sql())),
            Default::EmptyList => out.push_str(" DEFAULT '[]'"),
        }
        out
    }
}

use ColumnType::{BigInt, Int, Serial, Text, Timestamp};

pub const MIGRATIONS: &[Column] = &[
    col("version", BigInt).key(),
    col("name", Text).not_null(),
    col("state", Text).not_null(),
    col("mode", Text).not_null(),
    col("sha256", Text).not_null(),
    col("normalized_sha256", Text).not_null(),
    col("refinery_checksum", Text).not_null(),
    col("applied_sql", Text).not_null(),
    col("rollback_sql", Text),
    col("statements_total", Int).not_null(),
    col("statements_done", Int)
        .not_null()
        .default(Default::Zero),
    col("error_statement", Int),
    col("error_sqlstate", Text),
    col("error_message", Text),
    col("attempts", Int).not_null().default(Default::Zero),
    col("started_at", Timestamp)
        .not_null()
        .default(Default::Now),
    col("finished_at", Timestamp),
    col("duration_ms", BigInt),
    col("deploy_id", Text),
    col("environment", Text).not_null(),
    col("release", Text),
    col("applied_by", Text).not_null(),
    col("in_flight", Int),
    col("rollback_done", Int).not_null().default(Default::Zero),
    col("rollback_total", Int),
    col("rollback_in_flight", Int),
    col("rollback_target", BigInt),
];

pub const EVENTS: &[Column] = &[
    col("id", Serial).key(),
    col("at", Timestamp).not_null().default(Default::Now),
    col("environment", Text).not_null(),
    col("deploy_id", Text),
    col("version", BigInt),
    col("kind", Text).not_null(),
    col("detail", Text).not_null(),
    col("actor", Text).not_null(),
];

pub const DEPLOYS: &[Column] = &[
    col("id", Text).key(),
    col("environment", Text).not_null(),
    col("kind", Text).not_null(),
    col("version", Text).not_null(),
    col("previous_version", Text),
    col("result", Text).not_null(),
    col("forced", Int).not_null().default(Default::Zero),
    col("approved_by", Text),
    col("actor", Text).not_null(),
    col("started_at", Timestamp)
        .not_null()
        .default(Default::Now),
    col("finished_at", Timestamp),
    col("duration_ms", BigInt),
    col("phases", Text).not_null().default(Default::EmptyList),
    col("hook_output", Text),
    col("error", Text),
    col("migrations", Text)
        .not_null()
        .default(Default::EmptyList),
    col("recovery_ms", BigInt),
    col("phase", Text),
    col("heartbeat_at", Text),
    col("lease_ms", BigInt),
    col("strategy", Text),
    col("desired", Text),
    col("held", Text),
    col("analysis", Text),
    // The release's queries and the result shapes it saw (JSON): `runner deploy` checks them
    // against the next environment's migrated schema before that environment serves them.
    col("queries", Text),
];

/// The tables with their column lists.
pub fn tables(names: &HistoryNames) -> [(&str, &'static [Column]); 3] {
    [
        (&names.migrations, MIGRATIONS),
        (&names.events, EVENTS),
        (&names.deploys, DEPLOYS),
    ]
}

/// `CREATE TABLE IF NOT EXISTS` for every table, and the audit log's append-only guard.
pub fn create_sql(backend: &dyn Backend, names: &HistoryNames) -> String {
    let mut sql = String::new();
    for (table, columns) in tables(names) {
        let columns: Vec<String> = columns.iter().map(|c| c.sql(backend)).collect();
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {table} ({}){};\n",
            columns.join(", "),
            backend.table_options()
        ));
    }
    sql.push_str(&backend.append_only_sql(&names.events));
    sql
}
