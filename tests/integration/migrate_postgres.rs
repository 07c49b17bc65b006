//! `runner migrate` on a real PostgreSQL: concurrency, crashes, failures, lock timeouts.

use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::harness::postgres::{self, TestDatabase};
use crate::harness::project::Project;

async fn project_on(db: &TestDatabase, extra: &str) -> Project {
    Project::new("postgres", &[("ci", &db.url, extra)])
}

async fn history(conn: &mut PgConnection) -> Vec<(i64, String, String, i32, i32, Option<String>)> {
    sqlx::query_as(
        "SELECT version, name, state, attempts, statements_done, error_sqlstate FROM runner_migrations ORDER BY version",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

async fn events(conn: &mut PgConnection, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM runner_events WHERE kind = $1")
        .bind(kind)
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn applies_in_order_and_records_everything() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db, "").await;
    p.migration("V0001__create_orders", "CREATE TABLE orders (id bigint PRIMARY KEY, status text);", Some("DROP TABLE orders;"))
        .migration(
            "V0002__index_status",
            "CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);\nCOMMENT ON TABLE orders IS 'x';",
            Some("DROP INDEX CONCURRENTLY orders_status_idx;"),
        );
    let out = p
        .run(&["migrate", "--env", "ci", "--release", "v1.2.3"])
        .expect_code(0);
    assert!(out.stdout.contains("applied V1 create_orders ("), "{out}");
    assert!(out.stdout.contains("applied V2 index_status ("), "{out}");

    let mut conn = db.connect().await;
    let rows = history(&mut conn).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.2 == "applied" && r.3 == 1));
    let (mode, total, rollback, release): (String, i32, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT mode, statements_total, rollback_sql, release FROM runner_migrations WHERE version = 2",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((mode.as_str(), total), ("statement", 2));
    assert_eq!(
        rollback.as_deref(),
        Some("DROP INDEX CONCURRENTLY orders_status_idx;")
    );
    assert_eq!(release.as_deref(), Some("v1.2.3"));
    assert_eq!(events(&mut conn, "migration_applied").await, 2);
    // The audit log is append-only.
    let err = sqlx::raw_sql("DELETE FROM runner_events")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");

    p.run(&["migrate", "--env", "ci"])
        .expect_code(0)
        .stdout_has("nothing to apply");
}

/// A transactional file's row, its event and the COMMIT go in one query with the row's text
/// as literals: the text must read back byte for byte, backslashes included, whatever the
/// database's `standard_conforming_strings`.
#[tokio::test]
async fn history_text_sent_as_literals_reads_back_exactly() {
    for conforming in ["on", "off"] {
        literals_read_back(conforming).await;
    }
}

async fn literals_read_back(conforming: &str) {
    let db = postgres::fresh_database().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} SET standard_conforming_strings = {conforming}",
        db.name
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    let p = project_on(&db, "").await;
    let up = "CREATE TABLE notes (id bigint PRIMARY KEY, body text);\n\
              -- a comment with 'quotes', $1, $$ and a backslash \\ at the end \\\n\
              INSERT INTO notes VALUES (1, E'tab\\there ''q'' \\\\ done'), (2, $$$1 ' \\ $$), (3, 'Привет, 世界 🎉');\n";
    let down = "DROP TABLE notes; -- 'it''s' \\\\ \\n";
    p.migration("V0001__notes", up, Some(down));
    // Its last (only) statement goes in one query with the row: the server times it.
    p.migration(
        "V0002__slow",
        "CREATE TABLE later (id bigint);\nSELECT pg_sleep(0.4) -- a comment at the end",
        Some("DROP TABLE later;"),
    );
    p.run(&["migrate", "--env", "ci", "--release", "it's \\ v1"])
        .expect_code(0);
    let mut conn = db.connect().await;
    let (applied, rollback, release, state): (String, Option<String>, Option<String>, String) =
        sqlx::query_as(
            "SELECT applied_sql, rollback_sql, release, state FROM runner_migrations WHERE version = 1",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(applied, up, "standard_conforming_strings = {conforming}");
    assert_eq!(rollback.as_deref(), Some(down));
    assert_eq!(release.as_deref(), Some("it's \\ v1"));
    assert_eq!(state, "applied");
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM runner_events WHERE kind = 'migration_applied' AND version = 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(detail.starts_with("V1 notes applied in "), "{detail}");
    let (duration, detail): (i64, String) = sqlx::query_as(
        "SELECT m.duration_ms, e.detail FROM runner_migrations m JOIN runner_events e
           ON e.version = m.version AND e.kind = 'migration_applied' WHERE m.version = 2",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!((400..5000).contains(&duration), "{duration} {detail}");
    assert_eq!(
        detail,
        format!("V2 slow applied in {duration} ms (transaction)")
    );
    // A row written once, finished, says when it finished (it did not before).
    let unfinished: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM runner_migrations WHERE finished_at IS NULL OR duration_ms IS NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(unfinished, 0);
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM notes ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        bodies,
        ["tab\there 'q' \\ done", "$1 ' \\ ", "Привет, 世界 🎉"]
    );
    // The stored text proves the file unchanged: nothing to apply, no drift.
    p.run(&["migrate", "--env", "ci"])
        .expect_code(0)
        .stdout_has("nothing to apply");
}

#[tokio::test]
async fn eight_runners_at_once_apply_each_of_fifty_migrations_exactly_once() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db, "").await;
    for v in 1..=50 {
        p.migration(
            &format!("V{v:03}__step_{v}"),
            &format!("CREATE TABLE t{v} (id int);\nINSERT INTO t{v} VALUES ({v});"),
            Some(&format!("DROP TABLE t{v};")),
        );
    }
    let children: Vec<_> = (0..8)
        .map(|_| {
            p.command(&["migrate", "--env", "ci", "--format", "json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied_lines = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || (code == 6 && stderr.contains("migration lock")),
            "exit {code}\n{stdout}\n{stderr}"
        );
        applied_lines += stdout
            .lines()
            .filter(|l| l.contains("\"event\":\"applied\""))
            .count();
    }
    assert_eq!(
        applied_lines, 50,
        "each migration applied by exactly one runner"
    );
    let mut conn = db.connect().await;
    let rows = history(&mut conn).await;
    assert_eq!(rows.len(), 50);
    assert!(
        rows.iter().all(|r| r.2 == "applied" && r.3 == 1),
        "{rows:?}"
    );
    assert_eq!(events(&mut conn, "migration_applied").await, 50);
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename ~ '^t[0-9]+$'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(tables, 50);
}

#[tokio::test]
async fn a_waiting_runner_does_not_deadlock_with_the_holders_create_index_concurrently() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db, "").await;
    p.migration("V1__table", "CREATE TABLE big (id int); INSERT INTO big SELECT generate_series(1, 1000);", Some("DROP TABLE big;"))
        .migration(
            "V2__slow_index",
            "-- runner:no-transaction\nSELECT pg_sleep(1.5);\nCREATE INDEX CONCURRENTLY big_id_idx ON big (id);",
            Some("DROP INDEX CONCURRENTLY big_id_idx;"),
        );
    let first = p
        .command(&["migrate", "--env", "ci"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let second = p
        .command(&["migrate", "--env", "ci"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut conn = db.connect().await;
    let valid: bool = sqlx::query_scalar(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_id_idx'::regclass",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(valid);
}

#[tokio::test]
async fn sigkill_in_a_transaction_frees_the_lock_and_the_next_run_applies_it() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db, "").await;
    p.migration(
        "V1__slow",
        "SELECT pg_sleep(3);\nCREATE TABLE after_sleep (id int);",
        Some("DROP TABLE after_sleep;"),
    );
    let mut child = p
        .command(&["migrate", "--env", "ci"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut conn = db.connect().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // The row is written inside the migration's transaction: watch the server instead.
        let running: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'runner migrate%' AND query LIKE '%SELECT pg_sleep%'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if running > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the migration never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The server notices the dead client within a second (client_connection_check_interval),
    // rolls its transaction back and frees the lock.
    let started = Instant::now();
    p.run(&["migrate", "--env", "ci", "--lock-wait", "30s"])
        .expect_code(0);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "waited {:?}",
        started.elapsed()
    );
    let rows = history(&mut conn).await;
    assert_eq!(
        (rows[0].2.as_str(), rows[0].3),
        ("applied", 1),
        "the killed attempt left no row: {rows:?}"
    );
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('after_sleep') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(exists);
}

#[tokio::test]
async fn a_failing_migration_exits_3_records_its_error_and_stops_the_run() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db, "").await;
    p.migration("V1__ok", "CREATE TABLE a (id int);", Some("DROP TABLE a;"))
        .migration(
            "V2__bad",
            "CREATE TABLE b (id int);\nINSERT INTO missing_table VALUES (1);",
            Some("DROP TABLE b;"),
        )
        .migration(
            "V3__later",
            "CREATE TABLE c (id int);",
            Some("DROP TABLE c;"),
        );
    let out = p.run(&["migrate", "--env", "ci"]).expect_code(3);
    out.stderr_has("V2 bad failed at statement 2 of 2: relation \"missing_table\" does not exist (SQLSTATE 42P01)")
        .stderr_has("committed: nothing of V2 bad: its transaction was rolled back (state failed_clean); the 1 migration(s) before it in this run stay applied; 1 later migration(s) not attempted")
        .stderr_has("next: fix V2__bad.sql or the cause, then `runner recover --env ci --retry 2` runs it again");
    let mut conn = db.connect().await;
    let rows = history(&mut conn).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].2, "applied");
    assert_eq!(
        (rows[1].2.as_str(), rows[1].5.as_deref()),
        ("failed_clean", Some("42P01"))
    );
    let b_exists: bool = sqlx::query_scalar("SELECT to_regclass('b') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!b_exists, "the failed transaction left nothing behind");
}

#[tokio::test]
async fn a_failed_concurrent_index_is_reported_and_rebuilt_on_resume() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db, "").await;
    p.migration(
        "V1__data",
        "CREATE TABLE u (email text); INSERT INTO u VALUES ('a'), ('a');",
        Some("DROP TABLE u;"),
    )
    .migration(
        "V2__unique",
        "CREATE TABLE audit (id int);\nCREATE UNIQUE INDEX CONCURRENTLY u_email_key ON u (email);",
        Some("DROP INDEX CONCURRENTLY u_email_key;\nDROP TABLE audit;"),
    );
    let out = p.run(&["migrate", "--env", "ci"]).expect_code(3);
    out.stderr_has("V2 unique failed at statement 2 of 2")
        .stderr_has("statement 1 of V2 unique is committed (state failed_partial)")
        .stderr_has("left behind: the failed CREATE INDEX CONCURRENTLY left the INVALID index u_email_key behind")
        .stderr_has("--resume 2");
    // Without --resume, the next run refuses.
    p.run(&["migrate", "--env", "ci"])
        .expect_code(2)
        .stderr_has("stopped in ci after 1 of 2 statements");
    let mut conn = db.connect().await;
    sqlx::raw_sql("DELETE FROM u WHERE ctid <> (SELECT min(ctid) FROM u)")
        .execute(&mut conn)
        .await
        .unwrap();
    p.run(&["migrate", "--env", "ci", "--resume", "2"])
        .expect_code(0);
    let valid: bool = sqlx::query_scalar(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'u_email_key'::regclass",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(valid);
    let rows = history(&mut conn).await;
    assert_eq!((rows[1].2.as_str(), rows[1].4), ("applied", 2));
}

/// A blocker holds ACCESS SHARE on a hot table; the migration needs ACCESS EXCLUSIVE. With
/// lock_timeout the migration gives up quickly and retries, so readers arriving meanwhile
/// never queue behind it for longer than lock_timeout.
#[tokio::test]
async fn lock_timeouts_retry_without_holding_readers_up() {
    let db = postgres::fresh_database().await;
    // Without the wait for a gap: each attempt queues, for lock_timeout at most.
    let p = project_on(
        &db,
        "lock_timeout = \"200ms\"\nlock_retries = 20\ngap_wait = \"0s\"",
    )
    .await;
    p.migration(
        "V1__hot",
        "CREATE TABLE hot (id int); INSERT INTO hot VALUES (1);",
        Some("DROP TABLE hot;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    p.migration(
        "V2__add_column",
        "ALTER TABLE hot ADD COLUMN note text;",
        Some("ALTER TABLE hot DROP COLUMN note;"),
    );

    let mut blocker = db.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE hot IN ACCESS SHARE MODE;")
        .execute(&mut blocker)
        .await
        .unwrap();
    let migrate = p
        .command(&["migrate", "--env", "ci"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Readers: each SELECT on its own connection, for 2.5 s, while the blocker holds on.
    let url = db.url.clone();
    let reader = tokio::spawn(async move {
        let mut conn = PgConnection::connect(&url).await.unwrap();
        let mut worst = Duration::ZERO;
        let until = Instant::now() + Duration::from_millis(2500);
        while Instant::now() < until {
            let t = Instant::now();
            let _: i64 = sqlx::query_scalar("SELECT count(*) FROM hot")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            worst = worst.max(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worst
    });
    let worst = reader.await.unwrap();
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let out = migrate.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("hit a lock timeout"), "{stderr}");
    assert!(
        worst < Duration::from_millis(1000),
        "a reader waited {worst:?} behind the migration"
    );

    let mut conn = db.connect().await;
    let attempts: i32 =
        sqlx::query_scalar("SELECT attempts FROM runner_migrations WHERE version = 2")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(attempts > 1, "attempts {attempts}");
}

/// With the defaults, a migration that needs a lock a long transaction holds waits for a gap
/// instead of queueing: it says whom it waits for, readers never queue behind it, and it
/// applies once the holder ends, with no lock timeout at all.
#[tokio::test]
async fn with_the_defaults_a_migration_waits_for_a_gap_and_names_the_holder() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db, "").await;
    p.migration(
        "V1__hot",
        "CREATE TABLE hot3 (id int); INSERT INTO hot3 VALUES (1);",
        Some("DROP TABLE hot3;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    p.migration(
        "V2__add_column",
        "ALTER TABLE hot3 ADD COLUMN note text;",
        Some("ALTER TABLE hot3 DROP COLUMN note;"),
    );
    let mut blocker = db.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE hot3 IN ACCESS SHARE MODE;")
        .execute(&mut blocker)
        .await
        .unwrap();
    // Older than lock_timeout: a long transaction, not a quick query.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let migrate = p
        .command(&["migrate", "--env", "ci"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = db.connect().await;
    let until = Instant::now() + Duration::from_millis(1500);
    let mut worst = Duration::ZERO;
    while Instant::now() < until {
        let t = Instant::now();
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM hot3")
            .fetch_one(&mut reader)
            .await
            .unwrap();
        worst = worst.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let out = migrate.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("V2 add_column waits for a gap"), "{stderr}");
    assert!(
        stderr.contains("holds AccessShareLock on public.hot3"),
        "{stderr}"
    );
    assert!(!stderr.contains("hit a lock timeout"), "{stderr}");
    // Not a timing goal (that is scripts/bench-lock-impact.sh): a reader that queued behind
    // the ALTER would have waited the whole 1.5 s.
    assert!(
        worst < Duration::from_millis(1000),
        "a reader waited {worst:?}"
    );
}

#[tokio::test]
async fn retries_run_out_cleanly_with_exit_3() {
    let db = postgres::fresh_database().await;
    let p = project_on(
        &db,
        "lock_timeout = \"100ms\"\nlock_retries = 2\ngap_wait = \"0s\"",
    )
    .await;
    p.migration(
        "V1__hot",
        "CREATE TABLE hot2 (id int);",
        Some("DROP TABLE hot2;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    p.migration(
        "V2__alter",
        "ALTER TABLE hot2 ADD COLUMN n int;",
        Some("ALTER TABLE hot2 DROP COLUMN n;"),
    );
    let mut blocker = db.connect().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE hot2 IN ACCESS SHARE MODE;")
        .execute(&mut blocker)
        .await
        .unwrap();
    let out = p.run(&["migrate", "--env", "ci"]).expect_code(3);
    out.stderr_has("(SQLSTATE 55P03)")
        .stderr_has("another session held a lock on the table through every retry");
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    let mut conn = db.connect().await;
    let (state, attempts): (String, i32) =
        sqlx::query_as("SELECT state, attempts FROM runner_migrations WHERE version = 2")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("failed_clean", 3));
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
}

#[tokio::test]
async fn a_held_lock_times_out_with_exit_6_naming_the_holder_and_can_be_forced() {
    let db = postgres::fresh_database().await;
    let p = project_on(&db, "").await;
    p.migration("V1__a", "CREATE TABLE a (id int);", Some("DROP TABLE a;"));
    let mut holder = db.connect().await;
    sqlx::raw_sql(
        "SET application_name = 'stuck deploy'; SELECT pg_advisory_lock(8247619713026359297)",
    )
    .execute(&mut holder)
    .await
    .unwrap();
    let out = p
        .run(&["migrate", "--env", "ci", "--lock-wait", "1s"])
        .expect_code(6);
    out.stderr_has("could not take the migration lock within 1s: it is held by pid")
        .stderr_has("(stuck deploy), idle since");
    p.run(&["lock", "status", "--env", "ci"])
        .expect_code(0)
        .stdout_has("held by pid");
    p.run(&["lock", "release", "--env", "ci"])
        .expect_code(2)
        .stderr_has("which is alive");
    p.run(&["lock", "release", "--env", "ci", "--force"])
        .expect_code(0)
        .stdout_has("released the migration lock of ci");
    p.run(&["lock", "status", "--env", "ci"])
        .expect_code(0)
        .stdout_has("is free");
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let mut conn = db.connect().await;
    assert_eq!(events(&mut conn, "lock_forced_release").await, 1);
}
