//! What the integration tests share: a throwaway PostgreSQL cluster and a runner process helper.

pub mod cli;
pub mod flagd;
pub mod fleet;
pub mod mariadb;
pub mod postgres;
pub mod printed;
pub mod project;
pub mod prometheus;
pub mod shop;

/// Waits until migration `version` of a statement-mode run has recorded at least `done`
/// statements in the history table, on any of the servers (a runner to kill mid-file).
pub async fn wait_for_statements_done<DB>(conn: &mut DB::Connection, version: i64, done: i32)
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    (i32,): for<'r> sqlx::FromRow<'r, DB::Row>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let sql = format!("SELECT statements_done FROM runner_migrations WHERE version = {version}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now: Option<i32> = sqlx::query_scalar::<DB, i32>(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_optional(&mut *conn)
            .await
            .unwrap_or(None);
        if now.is_some_and(|n| n >= done) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "migration {version} never reached {done} statements done"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
