//! Never apply a statement twice, never claim one that did not run: statement-mode migrations
//! and rollbacks on a real PostgreSQL and real SQLite files, killed, cut off and edited.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnection;

use crate::harness::postgres::{self, TestDatabase};
use crate::harness::project::Project;

fn project_on(db: &TestDatabase) -> Project {
    Project::new("postgres", &[("ci", &db.url, "")])
}

async fn scalar_i64(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Waits until a session of the runner is running a statement that contains `needle`.
async fn wait_for_query(conn: &mut PgConnection, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND application_name LIKE 'runner %' AND query LIKE '%' || $1 || '%'",
        )
        .bind(needle)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        if n > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no runner session ran {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spawn(p: &Project, args: &[&str]) -> Child {
    p.command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

const FOUR_INSERTS: &str = "-- runner:no-transaction\n\
CREATE TABLE IF NOT EXISTS big (n int);\n\
INSERT INTO big SELECT g FROM generate_series(1, 200000) g;\n\
INSERT INTO big SELECT g FROM generate_series(1, 200000) g;\n\
INSERT INTO big SELECT g FROM generate_series(1, 200000) g;\n\
INSERT INTO big SELECT g FROM generate_series(1, 200000) g;\n";

/// PostgreSQL finishes a killed client's statement; runner used to record its progress only
/// after the statement returned, so a resume ran it again (1,000,000 rows instead of 800,000).
#[tokio::test]
async fn a_runner_killed_mid_statement_never_has_that_statement_applied_twice() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db);
    p.migration("V1__big", FOUR_INSERTS, Some("DROP TABLE big;"));
    let mut conn = db.connect().await;
    let mut child = spawn(&p, &["migrate", "--env", "ci"]);
    // Kill it while an INSERT runs, after at least one committed.
    crate::harness::wait_for_statements_done::<sqlx::Postgres>(&mut conn, 1, 2).await;
    wait_for_query(&mut conn, "INSERT INTO big").await;
    child.kill().unwrap();
    child.wait().unwrap();

    let out = p
        .run(&["migrate", "--env", "ci", "--lock-wait", "30s"])
        .expect_code(2);
    out.stderr_has("now failed_partial")
        .stderr_has("--resume 1");
    p.run(&["migrate", "--env", "ci", "--resume", "1"])
        .expect_code(0);
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) FROM big").await,
        800_000
    );
    assert_eq!(
        scalar_i64(&mut conn, "SELECT statements_done::bigint FROM runner_migrations WHERE version = 1 AND state = 'applied'").await,
        5
    );
}

/// The window between a CREATE INDEX CONCURRENTLY finishing and its progress being written is
/// closed by the in-flight mark: the catalog decides. Here the history is put in the state a
/// kill in that window leaves (statement 2 in flight, 1 done).
#[tokio::test]
async fn a_concurrent_index_in_flight_at_a_crash_is_settled_from_the_catalog() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db);
    p.migration(
        "V1__indexed",
        "CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a ON t (a);\nINSERT INTO t VALUES (1/0);",
        Some("DROP TABLE t;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(3);
    let mut conn = db.connect().await;
    let crash = "UPDATE runner_migrations SET state = 'applying', statements_done = 1, in_flight = 2, error_message = NULL WHERE version = 1";
    sqlx::raw_sql(crash).execute(&mut conn).await.unwrap();
    p.migration(
        "V1__indexed",
        "CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY t_a ON t (a);\nINSERT INTO t VALUES (1);",
        None,
    );
    // The index is there and valid: statement 2 completed, and is not run again (42P07).
    p.run(&["migrate", "--env", "ci"])
        .expect_code(2)
        .stderr_has("statement 2 (`CREATE INDEX CONCURRENTLY t_a ON t (a)`) was running when the run stopped; the index t_a exists and is valid")
        .stderr_has("after 2 of 3 statements");
    p.run(&["migrate", "--env", "ci", "--resume", "1"])
        .expect_code(0);
    assert_eq!(scalar_i64(&mut conn, "SELECT count(*) FROM t").await, 1);

    // The same crash, but the index never got built: it runs again.
    p.run(&["rollback", "--env", "ci", "--to", "0"])
        .expect_code(0);
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    sqlx::raw_sql(crash).execute(&mut conn).await.unwrap();
    sqlx::raw_sql("DROP INDEX t_a; DELETE FROM t")
        .execute(&mut conn)
        .await
        .unwrap();
    p.run(&["migrate", "--env", "ci", "--resume", "1"])
        .expect_code(0)
        .stderr_has("the index t_a does not exist: it did not take effect");
    let valid: bool =
        sqlx::query_scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_a'::regclass")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(valid);
    assert_eq!(scalar_i64(&mut conn, "SELECT count(*) FROM t").await, 1);
}

/// A server restart ends runner's session with 57P01: that is a lost connection, with its own
/// exit code and message, not a failed migration to fix.
#[tokio::test]
async fn a_lost_connection_is_not_a_failed_migration() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db);
    p.migration(
        "V1__steps",
        "-- runner:no-transaction\nCREATE TABLE s (n int);\nINSERT INTO s VALUES (1);\nSELECT pg_sleep(30);\nINSERT INTO s VALUES (2);",
        Some("DROP TABLE s;"),
    );
    let child = p
        .command(&["migrate", "--env", "ci"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut conn = db.connect().await;
    wait_for_query(&mut conn, "pg_sleep").await;
    sqlx::raw_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'runner migrate%'")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        stderr
            .contains("the connection to the database was lost during V1 steps (statement 3 of 4)"),
        "{stderr}"
    );
    assert!(!stderr.contains("failed_"), "{stderr}");
    assert!(!stderr.contains("fix "), "{stderr}");
    // The history says exactly what committed: two statements.
    assert_eq!(
        scalar_i64(&mut conn, "SELECT statements_done::bigint FROM runner_migrations WHERE version = 1 AND state = 'applying'").await,
        2
    );
    p.migration(
        "V1__steps",
        "-- runner:no-transaction\nCREATE TABLE s (n int);\nINSERT INTO s VALUES (1);\nSELECT pg_sleep(0);\nINSERT INTO s VALUES (2);",
        None,
    );
    p.run(&["migrate", "--env", "ci", "--resume", "1"])
        .expect_code(0);
    assert_eq!(scalar_i64(&mut conn, "SELECT count(*) FROM s").await, 2);
}

/// `--resume` after someone edited a statement that had already committed would record SQL
/// that never ran (history `region`, database `regoin`): it is refused with a diff.
#[tokio::test]
async fn resume_refuses_a_file_whose_committed_statements_were_edited() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ci.db", dir.path().display());
    let p = Project::new("sqlite", &[("ci", &url, "")]);
    p.migration(
        "V1__orders",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);\n",
        Some("DROP TABLE orders;"),
    )
    .migration(
        "V2__region",
        "-- runner:no-transaction\nALTER TABLE orders ADD COLUMN region TEXT;\nINSERT INTO missing VALUES (1);\n",
        Some("ALTER TABLE orders DROP COLUMN region;"),
    );
    p.run(&["migrate", "--env", "ci"])
        .expect_code(3)
        .stderr_has("statement 1 of V2 region is committed");
    p.run(&["status", "--env", "ci"])
        .expect_code(0)
        .stdout_has("V2 region: failed_partial (1 of 2 statements committed; statement 2 failed: no such table: missing)")
        .stdout_has("1 applied, 0 pending");
    p.migration(
        "V2__region",
        "-- runner:no-transaction\nALTER TABLE orders ADD COLUMN regoin TEXT;\nSELECT 1;\n",
        None,
    );
    p.run(&["migrate", "--env", "ci", "--resume", "2"])
        .expect_code(2)
        .stderr_has("statement 1 of V2 region committed in ci, and the file changed since")
        .stderr_has("-ALTER TABLE orders ADD COLUMN region TEXT;")
        .stderr_has("+ALTER TABLE orders ADD COLUMN regoin TEXT;");
    p.migration(
        "V2__region",
        "-- runner:no-transaction\nALTER TABLE orders ADD COLUMN region TEXT;\nSELECT 1;\n",
        None,
    );
    p.run(&["migrate", "--env", "ci", "--resume", "2"])
        .expect_code(0);
    let out = p.run(&["catalog", "--format", "json"]).expect_code(0);
    assert!(out.stdout.contains("V2__region"), "{out}");
}

/// `rollback --steps 3` that stops part-way, run again, goes to where the first run was going,
/// not three further.
#[test]
fn rollback_steps_rerun_after_a_partial_run_stops_at_the_first_runs_target() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ci.db", dir.path().display());
    let p = Project::new("sqlite", &[("ci", &url, "")]);
    for v in 1..=5 {
        p.migration(
            &format!("V{v}__t{v}"),
            &format!("CREATE TABLE t{v} (id INTEGER);\n"),
            Some(&format!("DROP TABLE t{v};\n")),
        );
    }
    p.migration(
        "V4__t4",
        "CREATE TABLE t4 (id INTEGER);\n",
        Some("DROP TABLE no_such_table;\n"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    p.run(&["rollback", "--env", "ci", "--steps", "3"])
        .expect_code(5)
        .stderr_has("`runner rollback --env ci --to 2 --use-file`");
    p.migration(
        "V4__t4",
        "CREATE TABLE t4 (id INTEGER);\n",
        Some("DROP TABLE t4;\n"),
    );
    p.run(&["rollback", "--env", "ci", "--to", "2", "--use-file"])
        .expect_code(0)
        .stdout_has("rolled back V4 t4")
        .stdout_has("rolled back V3 t3");
    let status = p
        .run(&["status", "--env", "ci", "--format", "json"])
        .expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["migrations"]["applied"], 2, "{status}");

    // The same with --steps: a stop after V5, then --steps 3 again rolls back V4 and V3 only.
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    p.migration(
        "V4__t4",
        "CREATE TABLE t4 (id INTEGER);\n",
        Some("DROP TABLE no_such_table;\n"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    p.run(&["rollback", "--env", "ci", "--steps", "3", "--use-file"])
        .expect_code(5);
    p.migration(
        "V4__t4",
        "CREATE TABLE t4 (id INTEGER);\n",
        Some("DROP TABLE t4;\n"),
    );
    p.run(&["rollback", "--env", "ci", "--steps", "3", "--use-file"])
        .expect_code(0)
        .stderr_has("--steps 3 continues it to V2");
    let status = p
        .run(&["status", "--env", "ci", "--format", "json"])
        .expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(doc["migrations"]["applied"], 2, "{status}");
}

/// A statement-mode rollback killed part-way continues where it stopped.
#[tokio::test]
async fn an_interrupted_statement_mode_rollback_continues_where_it_stopped() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db);
    p.migration(
        "V1__counted",
        "CREATE TABLE c (n int);\nCREATE INDEX c_n ON c (n);",
        Some("-- runner:no-transaction\nCREATE TABLE rb_marker (n int);\nSELECT pg_sleep(30);\nDROP TABLE c;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let mut child = spawn(&p, &["rollback", "--env", "ci", "--steps", "1"]);
    let mut conn = db.connect().await;
    wait_for_query(&mut conn, "pg_sleep").await;
    child.kill().unwrap();
    child.wait().unwrap();
    p.run(&["migrate", "--env", "ci", "--lock-wait", "30s"])
        .expect_code(2)
        .stderr_has("is rolling_back in ci: a rollback did not finish (1 of 3 rollback statements committed)")
        .stderr_has("`runner recover --env ci --rollback 1`");
    // Make the sleep short. Statement 1 committed: run again, it would fail (42P07).
    sqlx::raw_sql("UPDATE runner_migrations SET rollback_sql = replace(rollback_sql, 'pg_sleep(30)', 'pg_sleep(0)')")
        .execute(&mut conn)
        .await
        .unwrap();
    p.run(&["recover", "--env", "ci", "--rollback", "1"])
        .expect_code(0)
        .stdout_has("rolled back V1 counted");
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) FROM pg_class WHERE relname = 'c'"
        )
        .await,
        0
    );
}

/// The first Ctrl-C lets the running statement finish and stops at the boundary, recorded;
/// the command it prints continues the migration.
#[tokio::test]
async fn sigint_stops_migrate_at_a_statement_boundary_and_the_printed_command_continues() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db);
    p.migration(
        "V1__steps",
        "-- runner:no-transaction\nCREATE TABLE s (n int);\nSELECT pg_sleep(1.5);\nINSERT INTO s VALUES (1);",
        Some("DROP TABLE s;"),
    );
    let child = p
        .command(&["migrate", "--env", "ci"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut conn = db.connect().await;
    wait_for_query(&mut conn, "pg_sleep").await;
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    // The same command every other refusal of this state prints.
    let printed = "`runner recover --env ci --resume 1`";
    assert!(
        stderr.contains(&format!("V1 steps stopped after statement 2 of 3 (failed_partial, recorded); {printed} continues from statement 3")),
        "{stderr}"
    );
    assert_eq!(scalar_i64(&mut conn, "SELECT count(*) FROM s").await, 0);
    let args: Vec<&str> = printed
        .trim_matches('`')
        .split_whitespace()
        .skip(1)
        .collect();
    p.run(&args).expect_code(0);
    assert_eq!(scalar_i64(&mut conn, "SELECT count(*) FROM s").await, 1);
}

/// A SIGKILLed `runner migrate` never touched the app: the next command says its journal row
/// was interrupted and points at `runner recover`, never at an application rollback.
#[tokio::test]
async fn a_killed_migrate_is_not_a_deploy_and_points_at_recover() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db);
    p.migration(
        "V1__steps",
        "-- runner:no-transaction\nCREATE TABLE s (n int);\nSELECT pg_sleep(30);\nINSERT INTO s VALUES (1);",
        Some("DROP TABLE s;"),
    );
    let mut child = p
        .command(&["migrate", "--env", "ci"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut conn = db.connect().await;
    wait_for_query(&mut conn, "pg_sleep").await;
    child.kill().unwrap();
    child.wait().unwrap();
    let out = p.run(&["recover", "--env", "ci"]);
    let text = out.all();
    assert!(
        text.contains("recorded as interrupted: the app was not touched"),
        "{text}"
    );
    assert!(text.contains("`runner recover --env ci`"), "{text}");
    assert!(!text.contains("runner rollback"), "{text}");
    assert!(!text.contains("may be serving"), "{text}");
    // Times read back from PostgreSQL are ISO 8601 UTC, as on SQLite.
    let history = p.run(&["history", "--env", "ci", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let started = json[0]["started_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        started.len() == 24 && started.ends_with('Z') && started.as_bytes()[10] == b'T',
        "{started}"
    );
}
