//! MySQL and MariaDB: a named lock (`GET_LOCK`, polled with a zero timeout, its answer checked:
//! 1 taken, 0 held by another, NULL an error) that dies with its connection; limits as
//! `lock_wait_timeout` and `innodb_lock_wait_timeout` (and MariaDB's `max_statement_time`);
//! error numbers; the catalog read from `information_schema`. DDL commits by itself here, so
//! every migration runs statement by statement (`engine::statements`).

use super::snapshot::COLUMN_ORDER;
use super::{
    Backend, ColumnType, DbError, Effect, Expect, Limits, LockMethod, Part, SnapshotQuery,
};
use crate::config::Dialect;
use crate::lint::model::Op;
use crate::lint::{parse, split};

pub struct Mysql;

/// The lock's name: one per database of the server (GET_LOCK is server-wide).
const LOCK_NAME: &str = "CONCAT('runner:', DATABASE())";

/// The user's objects: those of the connection's database.
const SCHEMA: &str = "DATABASE()";

impl Backend for Mysql {
    fn split(&self, sql: &str) -> Result<Vec<String>, String> {
        Ok(split::split_mysql(sql)
            .into_iter()
            .map(|c| c.text.to_string())
            .collect())
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

    fn outside_transaction(&self, statement: &str) -> Option<Effect> {
        // DDL commits by itself: it runs outside runner's transaction, marked in flight.
        // Data changes run in a transaction with their progress row, atomically.
        let first = super::first_word(statement);
        match first.as_str() {
            "INSERT" | "UPDATE" | "DELETE" | "REPLACE" => None,
            // No lasting effect: running it again is harmless.
            "SELECT" | "DO" | "SET" => Some(Effect::Repeatable),
            _ => Some(expectations(statement).map_or(Effect::Unknown, Effect::Schema)),
        }
    }

    fn scratch_needs_server(&self) -> Option<&'static str> {
        Some(
            "verifying MySQL migrations needs a server for the scratch database: pass --database-url mysql://... (a user allowed to CREATE and DROP DATABASE; runner creates and drops its own) or --env ENV",
        )
    }

    fn lock(&self) -> LockMethod {
        LockMethod::Session {
            // NULL is an error (out of memory, the thread killed), never "not taken".
            try_sql: format!("SELECT COALESCE(CAST(GET_LOCK({LOCK_NAME}, 0) AS CHAR), 'error')"),
            release_sql: format!("DO RELEASE_LOCK({LOCK_NAME})"),
            holder_sql: format!(
                "SELECT CAST(p.id AS CHAR), CONCAT(p.user, ' (', COALESCE(p.db, ''), ')'), p.host,
                        CONCAT(p.command, COALESCE(CONCAT(': ', p.state), '')), p.info,
                        DATE_FORMAT(DATE_SUB(UTC_TIMESTAMP(), INTERVAL p.time SECOND), '%Y-%m-%dT%H:%i:%s.000Z')
                 FROM information_schema.processlist p
                 WHERE p.id = IS_USED_LOCK({LOCK_NAME}) AND p.id <> CONNECTION_ID()"
            ),
            terminate_sql: |id| format!("KILL {id}"),
        }
    }

    fn lock_description(&self, limits: &Limits) -> String {
        format!(
            "named lock runner:<database> (GET_LOCK with a zero timeout, polled), then each statement committed by itself under lock_wait_timeout and innodb_lock_wait_timeout {} with up to {} retries",
            humantime::format_duration(limits.lock_timeout),
            limits.retries
        )
    }

    fn limits_sql(&self, limits: &Limits, _in_transaction: bool) -> String {
        // Whole seconds, at least one (MySQL has no finer lock wait).
        let lock_s = limits.lock_timeout.as_secs().max(1);
        let statement_s = limits.statement_timeout.map_or(0.0, |d| d.as_secs_f64());
        format!(
            "SET SESSION lock_wait_timeout = {lock_s}, innodb_lock_wait_timeout = {lock_s}; /*M! SET SESSION max_statement_time = {statement_s} */"
        )
    }

    fn reset_limits_sql(&self) -> Option<&'static str> {
        Some(
            "SET SESSION lock_wait_timeout = DEFAULT, innodb_lock_wait_timeout = DEFAULT; /*M! SET SESSION max_statement_time = DEFAULT */",
        )
    }

    fn begin_sql(&self) -> &'static str {
        "START TRANSACTION"
    }

    fn limits_before_begin(&self) -> bool {
        true
    }

    fn text_literal(&self, text: &str) -> String {
        // A hex literal in utf8mb4: exact in every sql_mode (NO_BACKSLASH_ESCAPES or not).
        let mut digits = vec![0; text.len() * 2];
        let _ = hex::encode_to_slice(text, &mut digits);
        let mut literal = String::with_capacity(digits.len() + 12);
        literal.push_str("_utf8mb4 X'");
        literal.push_str(std::str::from_utf8(&digits).unwrap_or_default());
        literal.push('\'');
        literal
    }

    fn now_sql(&self) -> &'static str {
        // The session's time zone is UTC (`Conn::open`).
        "NOW(3)"
    }

    fn column_type(&self, column: ColumnType) -> &'static str {
        match column {
            ColumnType::Int => "INT",
            ColumnType::BigInt => "BIGINT",
            ColumnType::Text => "LONGTEXT",
            ColumnType::Timestamp => "DATETIME(3)",
            ColumnType::Serial => "BIGINT AUTO_INCREMENT PRIMARY KEY",
        }
    }

    fn key_text_type(&self) -> &'static str {
        "VARCHAR(191)"
    }

    fn append_only_sql(&self, e: &str) -> String {
        // MySQL has no TRUNCATE trigger: updates and deletes are refused.
        format!(
            "DROP TRIGGER IF EXISTS {e}_no_update;
             CREATE TRIGGER {e}_no_update BEFORE UPDATE ON {e} FOR EACH ROW
                 SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{e} is append-only';
             DROP TRIGGER IF EXISTS {e}_no_delete;
             CREATE TRIGGER {e}_no_delete BEFORE DELETE ON {e} FOR EACH ROW
                 SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{e} is append-only';"
        )
    }

    fn columns_sql(&self) -> &'static str {
        "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_name = $1 AND table_schema = DATABASE()"
    }

    fn table_options(&self) -> &'static str {
        // MariaDB and MySQL 5.7 create latin1 tables by default, which refuse most of Unicode.
        " DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    }

    fn narrow_text(&self) -> Option<(&'static str, &'static str)> {
        Some((
            "SELECT count(*) FROM information_schema.columns WHERE table_name = $1 AND table_schema = DATABASE() AND character_set_name IS NOT NULL AND character_set_name <> 'utf8mb4'",
            "ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        ))
    }

    fn index_exists_sql(&self) -> &'static str {
        "SELECT count(*) FROM information_schema.statistics WHERE index_name = $1 AND table_name = $2 AND table_schema = DATABASE()"
    }

    fn if_not_exists_index(&self) -> &'static str {
        // MySQL has no CREATE INDEX IF NOT EXISTS (MariaDB has): index_exists_sql asks first.
        ""
    }

    fn index_column(&self, column: &str) -> String {
        format!("{}(64)", self.ident(column))
    }

    fn table_exists_sql(&self) -> &'static str {
        "SELECT count(*) FROM information_schema.tables WHERE table_name = $1 AND table_schema = DATABASE()"
    }

    fn as_text(&self, column: &str) -> String {
        // ISO 8601 in UTC with milliseconds (the session's time zone is UTC), as every
        // backend reads its times back.
        format!(
            "CONCAT(DATE_FORMAT({column}, '%Y-%m-%dT%H:%i:%s.'), LPAD(FLOOR(MICROSECOND({column}) / 1000), 3, '0'), 'Z') AS {column}"
        )
    }

    fn as_bigint(&self, column: &str) -> String {
        format!("CAST({column} AS SIGNED) AS {column}")
    }

    fn cast_text(&self) -> &'static str {
        "CHAR"
    }

    fn on_conflict(&self, _key: &str) -> String {
        "ON DUPLICATE KEY UPDATE".into()
    }

    fn excluded(&self, column: &str) -> String {
        format!("VALUES({})", self.ident(column))
    }

    fn ident(&self, name: &str) -> String {
        // RELEASE is a reserved word of MySQL (RELEASE SAVEPOINT).
        if name == "release" {
            format!("`{name}`")
        } else {
            name.to_string()
        }
    }

    fn is_lock_timeout(&self, error: &DbError) -> bool {
        // 1205: a row or metadata lock wait timed out.
        error.number == Some(1205)
    }

    fn snapshot_queries(&self) -> Vec<SnapshotQuery> {
        [
            format!("SELECT CONCAT('table ', table_name), CONCAT(LOWER(engine), ' ', COALESCE(table_collation, ''))
                     FROM information_schema.tables WHERE table_schema = {SCHEMA} AND table_type = 'BASE TABLE'"),
            format!("SELECT CONCAT('column ', table_name, '.', column_name),
                        CONCAT(column_type, IF(is_nullable = 'YES', ' null', ' not null'),
                               COALESCE(CONCAT(' default ', column_default), ''),
                               IF(extra <> '', CONCAT(' ', extra), ''),
                               COALESCE(CONCAT(' collate ', collation_name), ''))
                     FROM information_schema.columns WHERE table_schema = {SCHEMA}"),
            format!("SELECT CONCAT('{COLUMN_ORDER}', table_name), GROUP_CONCAT(column_name ORDER BY ordinal_position SEPARATOR ', ')
                     FROM information_schema.columns c WHERE table_schema = {SCHEMA}
                       AND EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE')
                     GROUP BY table_name"),
            format!("SELECT CONCAT('index ', table_name, '.', index_name),
                        CONCAT(IF(non_unique = 0, 'unique ', ''), LOWER(index_type), ' (',
                               GROUP_CONCAT(CONCAT(column_name, COALESCE(CONCAT('(', sub_part, ')'), '')) ORDER BY seq_in_index SEPARATOR ', '), ')')
                     FROM information_schema.statistics WHERE table_schema = {SCHEMA}
                     GROUP BY table_name, index_name, non_unique, index_type"),
            format!("SELECT CONCAT('foreign key ', k.table_name, '.', k.constraint_name),
                        CONCAT('(', GROUP_CONCAT(k.column_name ORDER BY k.ordinal_position SEPARATOR ', '), ') references ',
                               k.referenced_table_name, ' (', GROUP_CONCAT(k.referenced_column_name ORDER BY k.ordinal_position SEPARATOR ', '), ')',
                               ' on update ', r.update_rule, ' on delete ', r.delete_rule)
                     FROM information_schema.key_column_usage k
                     JOIN information_schema.referential_constraints r
                       ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name AND r.table_name = k.table_name
                     WHERE k.table_schema = {SCHEMA} AND k.referenced_table_name IS NOT NULL
                     GROUP BY k.table_name, k.constraint_name, k.referenced_table_name, r.update_rule, r.delete_rule"),
            format!("SELECT CONCAT('check ', table_name, '.', constraint_name), check_clause
                     FROM information_schema.check_constraints WHERE constraint_schema = {SCHEMA}"),
            format!("SELECT CONCAT('trigger ', event_object_table, '.', trigger_name),
                        CONCAT(action_timing, ' ', event_manipulation, ' for each ', LOWER(action_orientation), ': ', action_statement)
                     FROM information_schema.triggers WHERE trigger_schema = {SCHEMA}"),
            format!("SELECT CONCAT(LOWER(routine_type), ' ', routine_name),
                        CONCAT(COALESCE(dtd_identifier, ''), ' ', routine_definition)
                     FROM information_schema.routines WHERE routine_schema = {SCHEMA}"),
        ]
        .into_iter()
        .map(SnapshotQuery::canonical)
        .chain(std::iter::once(SnapshotQuery {
            // A view's definition as the server rewrote it, compared with whitespace normalized.
            sql: format!(
                "SELECT CONCAT('view ', table_name), view_definition FROM information_schema.views WHERE table_schema = {SCHEMA}"
            ),
            normalize: true,
        }))
        .collect()
    }

    fn index_validity_sql(&self) -> Option<&'static str> {
        None
    }
}

/// What a MySQL DDL statement leaves in the catalog, when every one of its operations says;
/// `None` for one whose effect cannot be read back (a view, a procedure, a type change).
fn expectations(statement: &str) -> Option<Vec<Expect>> {
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
            // `DROP INDEX i ON t`: the index is gone from its table afterwards.
            Op::DropIndex {
                names,
                table: Some(t),
                ..
            } => out.extend(names.iter().map(|name| Expect {
                table: t.clone(),
                part: Some(Part::Index(name.clone())),
                present: false,
            })),
            // They come with the operations above and change nothing of their own.
            Op::AlterAlgorithm { .. } | Op::TableCopy { .. } => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}
