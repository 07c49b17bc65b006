//! SIGKILL in the middle of a statement-mode file, one scenario over each server database
//! (`Server`): the lock goes with the killed connection, the next run records the row as
//! failed_partial from the statements that committed, and `--resume` finishes it, each
//! statement run once.

use std::process::Stdio;

use sqlx::Connection;

use crate::harness::project::Project;
use crate::harness::{mariadb, postgres};

/// What the scenario needs of a database server.
trait Server {
    /// runner.toml's dialect.
    const DIALECT: &'static str;
    /// Three statements run one by one, the second sleeping 3 s.
    const STEPS: &'static str;
    async fn fresh() -> Self;
    fn url(&self) -> &str;
    /// Waits until the first statement of V1 is recorded done.
    async fn first_statement_done(&self);
    /// V1's state and statements done.
    async fn row(&self) -> (String, i32);
    /// How many audit events of `kind` there are.
    async fn events(&self, kind: &str) -> i64;
}

impl Server for postgres::TestDatabase {
    const DIALECT: &'static str = "postgres";
    const STEPS: &'static str = "-- runner:no-transaction\nCREATE TABLE s1 (id int);\nSELECT pg_sleep(3);\nCREATE TABLE s2 (id int);";
    async fn fresh() -> Self {
        postgres::fresh_database().await
    }
    fn url(&self) -> &str {
        &self.url
    }
    async fn first_statement_done(&self) {
        let mut conn = self.connect().await;
        crate::harness::wait_for_statements_done::<sqlx::Postgres>(&mut conn, 1, 1).await;
        conn.close().await.unwrap();
    }
    async fn row(&self) -> (String, i32) {
        let mut conn = self.connect().await;
        sqlx::query_as("SELECT state, statements_done FROM runner_migrations WHERE version = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }
    async fn events(&self, kind: &str) -> i64 {
        let mut conn = self.connect().await;
        sqlx::query_scalar("SELECT count(*) FROM runner_events WHERE kind = $1")
            .bind(kind)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }
}

impl Server for mariadb::TestDatabase {
    const DIALECT: &'static str = "mysql";
    const STEPS: &'static str =
        "CREATE TABLE s1 (id INT);\nSELECT SLEEP(3);\nCREATE TABLE s2 (id INT);";
    async fn fresh() -> Self {
        mariadb::fresh_database().await
    }
    fn url(&self) -> &str {
        &self.url
    }
    async fn first_statement_done(&self) {
        let mut conn = self.connect().await;
        crate::harness::wait_for_statements_done::<sqlx::MySql>(&mut conn, 1, 1).await;
        conn.close().await.unwrap();
    }
    async fn row(&self) -> (String, i32) {
        let mut conn = self.connect().await;
        sqlx::query_as(
            "SELECT CAST(state AS CHAR), CAST(statements_done AS SIGNED) FROM runner_migrations WHERE version = 1",
        )
        .fetch_one(&mut conn)
        .await
        .map(|(s, n): (String, i64)| (s, n as i32))
        .unwrap()
    }
    async fn events(&self, kind: &str) -> i64 {
        let mut conn = self.connect().await;
        sqlx::query_scalar("SELECT count(*) FROM runner_events WHERE kind = ?")
            .bind(kind)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    }
}

async fn killed_mid_file_is_classified_and_resumed<S: Server>() {
    let db = S::fresh().await;
    let p = Project::new(S::DIALECT, &[("ci", db.url(), "")]);
    p.migration(
        "V1__steps",
        S::STEPS,
        Some("DROP TABLE s2;\nDROP TABLE s1;"),
    );
    let mut child = p
        .command(&["migrate", "--env", "ci"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    db.first_statement_done().await;
    child.kill().unwrap();
    child.wait().unwrap();
    // The lock went with the killed connection: the next run takes it at once, and says
    // what the dead run left.
    p.run(&["migrate", "--env", "ci", "--lock-wait", "30s"])
        .expect_code(2)
        .stderr_has("V1 steps was found half-run by an earlier runner that died: now failed_partial (interrupted after 1 of 3 statements)")
        .stderr_has("--resume 1");
    assert_eq!(db.events("interrupted_run_classified").await, 1);
    assert_eq!(db.row().await, ("failed_partial".to_string(), 1));
    p.run(&["migrate", "--env", "ci", "--resume", "1"])
        .expect_code(0);
    assert_eq!(db.row().await, ("applied".to_string(), 3));
}

#[tokio::test]
async fn sigkill_mid_file_on_postgres() {
    killed_mid_file_is_classified_and_resumed::<postgres::TestDatabase>().await;
}

#[tokio::test]
async fn sigkill_mid_file_on_mariadb() {
    killed_mid_file_is_classified_and_resumed::<mariadb::TestDatabase>().await;
}
