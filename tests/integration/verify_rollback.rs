//! `runner verify` (rollbacks proven on a scratch database) and `runner rollback` (migrations
//! undone in an environment), on a real PostgreSQL and on SQLite.

use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnection;

use crate::harness::cli::{Runner, repo_root};
use crate::harness::postgres::{self, TestDatabase};
use crate::harness::project::Project;

/// The scratch databases runner made from this test's database (tests run at once).
async fn scratch_databases(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'runner_verify_' || current_database() || '_%'",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

fn pg_project(db: &TestDatabase) -> Project {
    Project::new("postgres", &[("ci", &db.url, "")])
}

const BASE: &str = "CREATE TABLE orders (id bigint PRIMARY KEY, status text DEFAULT 'new', total int, created_at timestamptz);\nALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);";

#[test]
fn the_example_project_round_trips_on_sqlite() {
    let out = Runner::new(repo_root())
        .args(["verify"])
        .run()
        .expect_code(0);
    assert!(
        out.stdout.contains(
            "7 verified: 7 ok, 0 mismatch, 0 column-order, 0 failed, 0 skipped, 0 not run, 0 lossy"
        ),
        "{out}"
    );
}

#[tokio::test]
async fn each_broken_rollback_is_caught_and_the_differing_object_named() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db);
    p.migration("V1__orders", BASE, Some("DROP TABLE orders;"))
        // Forgets to drop the index.
        .migration(
            "V2__index",
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_created_at_idx ON orders (created_at);\nALTER TABLE orders ADD COLUMN note text;",
            Some("ALTER TABLE orders DROP COLUMN note;"),
        )
        // Drops the wrong column.
        .migration(
            "V3__add_email",
            "ALTER TABLE orders ADD COLUMN IF NOT EXISTS email text;",
            Some("ALTER TABLE orders DROP COLUMN note;"),
        )
        // Leaves a constraint NOT VALID.
        .migration(
            "V4__drop_check",
            "ALTER TABLE orders DROP CONSTRAINT orders_total_positive;",
            Some("ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;"),
        )
        // Changes a default.
        .migration(
            "V5__default",
            "ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'draft';",
            Some("ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;"),
        );
    let out = p.run(&["verify", "--env", "ci"]).expect_code(1);
    // Each migration is judged on its own round trip.
    let out = out
        .stdout_has("ok        V1 orders")
        .stdout_has("MISMATCH  V2 index: its rollback does not restore the schema")
        .stdout_has("index public.orders_created_at_idx: before (absent), after CREATE INDEX orders_created_at_idx ON public.orders USING btree (created_at)");
    out.stdout_has("MISMATCH  V3 add_email")
        .stdout_has("column public.orders.note: before text null, after (absent)")
        .stdout_has("MISMATCH  V4 drop_check")
        .stdout_has("(NOT VALID)")
        .stdout_has("MISMATCH  V5 default")
        .stdout_has(
            "column public.orders.status: before text null default 'new'::text, after text null",
        );
    let mut conn = db.connect().await;
    assert_eq!(
        scratch_databases(&mut conn).await,
        0,
        "the scratch database is dropped after a failure"
    );
}

#[tokio::test]
async fn a_forward_script_that_fails_on_its_second_run_is_caught() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db);
    p.migration("V1__orders", BASE, Some("DROP TABLE orders;"))
        .migration(
            "V2__audit",
            "CREATE TABLE audit (id int);\nCREATE INDEX orders_status_idx ON orders (status);",
            Some("DROP TABLE audit;"),
        );
    p.run(&["verify", "--database-url", &db.url])
        .expect_code(1)
        .stdout_has("MISMATCH  V2 audit: its rollback does not restore the schema")
        .stdout_has("index public.orders_status_idx: before (absent), after CREATE INDEX orders_status_idx")
        .stdout_has("and applied again after its rollback, it fails: relation \"orders_status_idx\" already exists (SQLSTATE 42P07)");
}

#[tokio::test]
async fn lossy_migrations_are_reported_and_irreversible_ones_skipped() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db);
    p.migration("V1__orders", BASE, Some("DROP TABLE orders;"))
        .migration("V2__drop_total", "ALTER TABLE orders DROP COLUMN total;", Some("-- runner:allow-file rollback-mismatch total comes back last; no query depends on the order\nALTER TABLE orders ADD COLUMN total int;\nALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);"))
        .migration("V3__purge", "-- runner:irreversible purged for good\nDROP TABLE orders;", None);
    let out = p.run(&["verify", "--env", "ci"]).expect_code(0);
    out.stdout_has("accepted  V2 drop_total")
        .stdout_has(
            "lossy: line 1: drops column orders.total (the rollback cannot bring the data back)",
        )
        .stdout_has("skipped   V3 purge (irreversible: purged for good)")
        .stdout_has(
            "3 verified: 1 ok, 0 mismatch, 1 column-order, 0 failed, 1 skipped, 0 not run, 2 lossy",
        )
        .stdout_has("skipped (irreversible): V3 purge");
    p.run(&["verify", "--env", "ci", "--strict"]).expect_code(1);
    p.run(&["verify", "--env", "ci", "2", "--format", "json"])
        .expect_code(0)
        .stdout_has("\"result\": \"column_order\"");
}

#[tokio::test]
async fn the_scratch_database_is_dropped_after_success_and_after_sigint() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db);
    p.migration("V1__orders", BASE, Some("DROP TABLE orders;"));
    p.run(&["verify", "--env", "ci"]).expect_code(0);
    let mut conn = db.connect().await;
    assert_eq!(scratch_databases(&mut conn).await, 0);

    p.migration("V2__slow", "SELECT pg_sleep(20);", Some("SELECT 1;"));
    let child = p
        .command(&["verify", "--env", "ci"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while scratch_databases(&mut conn).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the scratch database never appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(8),
        "an interrupted run exits 8\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert_eq!(
        scratch_databases(&mut conn).await,
        0,
        "the scratch database is dropped after SIGINT"
    );
}

#[tokio::test]
async fn rollback_on_postgres_runs_stored_scripts_newest_first_including_concurrently() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db);
    p.migration("V1__orders", BASE, Some("DROP TABLE orders;"))
        .migration(
            "V2__index",
            "CREATE INDEX CONCURRENTLY orders_status_idx ON orders (status);",
            Some("DROP INDEX CONCURRENTLY orders_status_idx;"),
        )
        .migration(
            "V3__note",
            "ALTER TABLE orders ADD COLUMN note text;",
            Some("ALTER TABLE orders DROP COLUMN note;"),
        );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    // The file on disk changes after apply: the stored rollback is what runs.
    p.migration(
        "V3__note",
        "ALTER TABLE orders ADD COLUMN note text;",
        Some("SELECT 1/0;"),
    );
    let out = p
        .run(&["rollback", "--env", "ci", "--to", "1"])
        .expect_code(0);
    let v3 = out.stdout.find("rolled back V3 note").unwrap();
    let v2 = out.stdout.find("rolled back V2 index").unwrap();
    assert!(v3 < v2, "newest first\n{out}");
    let mut conn = db.connect().await;
    let states: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, state FROM runner_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        states,
        [
            (1, "applied".into()),
            (2, "rolled_back".into()),
            (3, "rolled_back".into())
        ]
    );
    let index: bool = sqlx::query_scalar("SELECT to_regclass('orders_status_idx') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!index);
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM runner_events WHERE kind = 'rolled_back'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(events, 2);
    // Rolled back migrations are pending again.
    p.migration(
        "V3__note",
        "ALTER TABLE orders ADD COLUMN note text;",
        Some("ALTER TABLE orders DROP COLUMN note;"),
    );
    p.run(&["migrate", "--env", "ci"])
        .expect_code(0)
        .stdout_has("2 migrations applied");
}

#[tokio::test]
async fn a_failing_rollback_exits_5_with_its_state_recorded() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db);
    p.migration("V1__orders", BASE, Some("DROP TABLE orders;"))
        .migration(
            "V2__note",
            "ALTER TABLE orders ADD COLUMN note text;",
            Some("ALTER TABLE orders DROP COLUMN nope;"),
        );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    p.run(&["rollback", "--env", "ci", "--steps", "1"])
        .expect_code(5)
        .stderr_has("the rollback of V2 note failed at statement 1: column \"nope\" of relation \"orders\" does not exist (SQLSTATE 42703)")
        .stderr_has("state: V2 note is rollback_failed; nothing of its rollback is committed")
        .stderr_has("next: ");
    let mut conn = db.connect().await;
    let (state, code): (String, Option<String>) =
        sqlx::query_as("SELECT state, error_sqlstate FROM runner_migrations WHERE version = 2")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        (state.as_str(), code.as_deref()),
        ("rollback_failed", Some("42703"))
    );
    // Nothing else runs until a person has looked.
    p.run(&["migrate", "--env", "ci"])
        .expect_code(2)
        .stderr_has("rollback_failed");
}

fn sqlite_shop() -> Project {
    let p = Project::new(
        "sqlite",
        &[
            ("staging", "sqlite://db/staging.db", ""),
            (
                "production",
                "sqlite://db/production.db",
                "requires_approval = true",
            ),
        ],
    );
    p.migration("V1__customers", "CREATE TABLE customers (id INTEGER PRIMARY KEY);\n", Some("DROP TABLE customers;\n"))
        .migration("V2__phone", "ALTER TABLE customers ADD COLUMN phone TEXT;\n", Some("ALTER TABLE customers DROP COLUMN phone;\n"))
        .migration("V3__legacy", "-- runner:irreversible drops nothing, but cannot be undone by policy\nCREATE TABLE audit (id INTEGER);\n", None)
        .migration("V4__email", "ALTER TABLE customers ADD COLUMN email TEXT;\n", Some("ALTER TABLE customers DROP COLUMN email;\n"));
    p
}

#[test]
fn rollback_on_sqlite_refuses_to_pass_an_irreversible_migration() {
    let p = sqlite_shop();
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    p.run(&["rollback", "--env", "staging", "--to", "1"])
        .expect_code(2)
        .stderr_has(
            "V3 legacy cannot be rolled back: it was applied without a rollback (irreversible)",
        );
    p.run(&["rollback", "--env", "staging", "--to", "3"])
        .expect_code(0)
        .stdout_has("rolled back V4 email");
}

#[test]
fn production_rollback_needs_approval_and_records_who_gave_it() {
    let p = sqlite_shop();
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    p.run(&["migrate", "--env", "production", "--approve"])
        .expect_code(0);
    p.run(&["rollback", "--env", "production", "--steps", "1"])
        .expect_code(2)
        .stderr_has("production requires approval: pass --approve");
    p.runner()
        .args([
            "rollback",
            "--env",
            "production",
            "--steps",
            "1",
            "--approve",
        ])
        .env("RUNNER_APPROVED_BY", "alice")
        .run()
        .expect_code(0)
        .stdout_has("rolled back V4 email");
    let out = std::process::Command::new("sqlite3")
        .arg(p.path().join("db/production.db"))
        .arg("SELECT detail FROM runner_events WHERE kind = 'rollback_approved'")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "rollback of 1 migration(s) approved by alice"
    );
}

#[test]
fn check_verify_reports_a_broken_rollback_as_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("V1__a.sql"),
        "CREATE TABLE a (id INTEGER);\nCREATE INDEX a_id ON a (id);\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("V1__a.down.sql"), "DROP INDEX a_id;\n").unwrap();
    Runner::new(tmp.path())
        .args(["check", "--dialect", "sqlite", "--verify", "."])
        .run()
        .expect_code(1)
        .stdout_has("./V1__a.down.sql:1:1: error[rollback-mismatch] the rollback of V1 a does not restore the schema: column a.id: before (absent), after INTEGER null; column order a: before (absent), after id; table a: before (absent)");
}

/// A rollback that adds a dropped column back puts it last: pg_dump shows the difference, and
/// so does verify, as its own kind that a team can accept with a reason.
#[tokio::test]
async fn a_column_restored_at_the_end_is_a_column_order_difference() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db);
    p.migration(
        "V1__customers",
        "CREATE TABLE customers (id int, phone text, email text);",
        Some("DROP TABLE customers;"),
    )
    .migration(
        "V2__drop_phone",
        "ALTER TABLE customers DROP COLUMN phone;",
        Some("ALTER TABLE customers ADD COLUMN phone text;"),
    );
    // One environment in runner.toml: verify uses its server without --env.
    p.run(&["verify"])
        .expect_code(1)
        .stdout_has("ORDER     V2 drop_phone: its rollback restores the schema but for the order of columns")
        .stdout_has("column order public.customers: before id, phone, email, after id, email, phone")
        .stdout_has("1 column-order");
    p.migration(
        "V2__drop_phone",
        "-- runner:allow drop-column phone is unused since 1.4\nALTER TABLE customers DROP COLUMN phone;",
        Some("-- runner:allow-file rollback-mismatch nobody selects * from customers\nALTER TABLE customers ADD COLUMN phone text;"),
    );
    p.run(&["verify", "V0002"])
        .expect_code(0)
        .stdout_has("accepted  V2 drop_phone")
        .stdout_has("(nobody selects * from customers)");
    // The allow is used by verify: check does not call it unused.
    let out = p.run(&["check"]).expect_code(0);
    assert!(!out.stdout.contains("unused-suppression"), "{out}");
}

/// Function bodies, comments, sequence settings, policies and grants are compared too; a
/// long definition is shown as a diff.
#[tokio::test]
async fn the_whole_catalog_is_compared() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db);
    p.migration(
        "V1__base",
        "CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\nCREATE SEQUENCE ids;\nCREATE TABLE t (id int);",
        Some("DROP TABLE t;\nDROP SEQUENCE ids;\nDROP FUNCTION answer();"),
    )
    .migration(
        "V2__answer",
        "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;",
        Some("CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 3 $$;"),
    )
    .migration(
        "V3__details",
        "COMMENT ON TABLE t IS 'things';\nALTER SEQUENCE ids INCREMENT BY 10;\nALTER TABLE t ENABLE ROW LEVEL SECURITY;\nCREATE POLICY mine ON t USING (id > 0);\nGRANT SELECT ON t TO PUBLIC;",
        Some("DROP POLICY mine ON t;"),
    );
    let out = p.run(&["verify", "--format", "json"]).expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let objects = |v: usize| -> Vec<String> {
        doc["verified"][v]["differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["object"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(doc["verified"][1]["result"], "mismatch");
    assert_eq!(objects(1), ["definition of function public.answer()"]);
    let v3 = objects(2);
    for object in [
        "comment on relation public.t",
        "grants on public.t",
        "row security public.t",
        "sequence settings public.ids",
    ] {
        assert!(v3.iter().any(|o| o == object), "{object} not in {v3:?}");
    }
    p.run(&["verify", "2"])
        .expect_code(1)
        .stdout_has("definition of function public.answer(): changed:")
        .stdout_has("$function$ SELECT [-1-]{+3+} $function$");
}

/// A rollback that fails midway does not end the run: the migrations after it are verified
/// from the state the failure left (the migration applied), and listed.
#[tokio::test]
async fn a_failing_rollback_does_not_stop_the_run() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db);
    p.migration("V1__orders", BASE, Some("DROP TABLE orders;"))
        .migration(
            "V2__broken_down",
            "ALTER TABLE orders ADD COLUMN note text;",
            Some("ALTER TABLE orders DROP COLUMN nope;"),
        )
        .migration(
            "V3__later",
            "ALTER TABLE orders ADD COLUMN later int;",
            Some("ALTER TABLE orders DROP COLUMN later;"),
        )
        .migration(
            "V4__needs_note",
            "CREATE INDEX orders_note ON orders (note);",
            Some("DROP INDEX orders_note;"),
        );
    let out = p.run(&["verify", "--format", "json"]).expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let results: Vec<(&str, &str)> = doc["verified"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["label"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            ("V1 orders", "ok"),
            ("V2 broken_down", "rollback_failed"),
            ("V3 later", "ok"),
            ("V4 needs_note", "ok")
        ]
    );
    assert_eq!(doc["failed"], 1);
    // A forward migration that fails makes the later ones "not run", with the reason.
    p.migration(
        "V3__later",
        "ALTER TABLE orders ADD COLUMN note int;",
        Some("SELECT 1;"),
    );
    let out = p.run(&["verify"]).expect_code(1);
    out.stdout_has("FAILED    V3 later: the migration itself fails")
        .stdout_has("not run   V4 needs_note: V3 later fails on the scratch database")
        .stdout_has("1 not run");
}

#[test]
fn a_scratch_server_of_another_dialect_is_refused_by_name() {
    // The project says SQLite; a PostgreSQL server for the scratch database would parse and run
    // its migrations in the wrong dialect.
    let p = sqlite_shop();
    p.run(&[
        "verify",
        "--database-url",
        "postgres://runner@127.0.0.1:9/none",
    ])
    .expect_code(2)
    .stderr_has("the scratch server is a postgres database, but the migrations are sqlite")
    .stderr_has("leave out --database-url");
}

#[test]
fn versions_are_taken_as_printed_v0002_and_plain() {
    let p = sqlite_shop();
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    for v in ["V0002", "0002", "2"] {
        p.run(&["verify", v])
            .expect_code(0)
            .stdout_has("1 verified: 1 ok");
    }
    p.run(&["rollback", "--env", "staging", "--to", "V0003"])
        .expect_code(0)
        .stdout_has("rolled back V4 email");
    p.run(&["verify", "V00x2"])
        .expect_code(2)
        .stderr_has("write it as 247, 0247 or V0247");
}
