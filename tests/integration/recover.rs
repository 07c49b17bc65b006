//! `runner recover` and the `next:` lines: every hint runner prints after a failure is a
//! command that works, run here verbatim, on SQLite files and a real PostgreSQL.

use sqlx::postgres::PgConnection;

use crate::harness::cli::Output;
use crate::harness::postgres::{self, TestDatabase};
use crate::harness::project::Project;

/// The backticked `runner ...` command of the output's `next:` line.
fn hint(out: &Output) -> String {
    let text = out.all();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("next:"))
        .unwrap_or_else(|| panic!("no next: line in\n{out}"));
    let start = line
        .find("`runner ")
        .unwrap_or_else(|| panic!("no command in {line:?}"));
    let rest = &line[start + 1..];
    rest[..rest.find('`').unwrap()].to_string()
}

/// Runs a printed command as a shell would split it (double quotes group words).
fn run_printed(p: &Project, command: &str) -> Output {
    let words = crate::harness::printed::words(command);
    assert_eq!(words[0], "runner", "{command}");
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    p.run(&args)
}

/// `sql` run by the sqlite3 shell on `db`; its output, trimmed.
fn sqlite3(db: &std::path::Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sqlite_project(dir: &tempfile::TempDir) -> Project {
    let staging = format!("sqlite://{}/staging.db", dir.path().display());
    let production = format!("sqlite://{}/production.db", dir.path().display());
    Project::new(
        "sqlite",
        &[
            ("staging", &staging, ""),
            ("production", &production, "requires_approval = true"),
        ],
    )
}

const ORDERS: &str = "CREATE TABLE orders (id INTEGER PRIMARY KEY);\n";
const PARTIAL: &str = "-- runner:no-transaction\nALTER TABLE orders ADD COLUMN region TEXT;\nINSERT INTO regions VALUES (1);\nSELECT 1;\n";
const PARTIAL_FIXED: &str = "-- runner:no-transaction\nALTER TABLE orders ADD COLUMN region TEXT;\nCREATE TABLE regions (id INTEGER);\nSELECT 1;\n";

/// A staging on SQLite where V2 stopped at its second statement, the first committed
/// (`failed_partial`), with the failed migrate's output.
fn partially_applied(dir: &tempfile::TempDir) -> (Project, Output) {
    let p = sqlite_project(dir);
    p.migration("V0001__orders", ORDERS, Some("DROP TABLE orders;\n"))
        .migration(
            "V0002__region",
            PARTIAL,
            Some("ALTER TABLE orders DROP COLUMN region;\n"),
        );
    let failed = p.run(&["migrate", "--env", "staging"]).expect_code(3);
    (p, failed)
}

#[test]
fn a_partial_migration_is_explained_and_the_printed_resume_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (p, failed) = partially_applied(&dir);
    assert_eq!(
        hint(&failed),
        "runner recover --env staging --resume 2",
        "{failed}"
    );
    p.run(&["recover", "--env", "staging"])
        .expect_code(0)
        .stdout_has("V2 region: failed_partial")
        .stdout_has("it stopped at statement 2 of 3: no such table: regions (SQLite error 1)")
        .stdout_has("committed: statement 1: 1. ALTER TABLE orders ADD COLUMN region TEXT")
        .stdout_has("`runner recover --env staging --rollback 2`")
        .stdout_has(
            "`runner recover --env staging --mark 2 applied --reason \"finished by hand\"`",
        );
    p.migration("V0002__region", PARTIAL_FIXED, None);
    let done = run_printed(&p, &hint(&failed)).expect_code(0);
    done.stdout_has("resumed: V2 region is applied")
        .stdout_has("nothing left to recover in staging");
    p.run(&["status", "--env", "staging"])
        .expect_code(0)
        .stdout_has("2 applied, 0 pending");
}

#[test]
fn rolling_back_what_a_partial_migration_committed_then_migrating_again() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = partially_applied(&dir);
    let out = p
        .run(&["recover", "--env", "staging", "--rollback", "V2"])
        .expect_code(0)
        .stdout_has("rolled back: V2 region is rolled_back");
    assert_eq!(hint(&out), "runner migrate --env staging", "{out}");
    p.migration("V0002__region", PARTIAL_FIXED, None);
    run_printed(&p, &hint(&out)).expect_code(0);
    p.run(&["status", "--env", "staging"])
        .expect_code(0)
        .stdout_has("2 applied, 0 pending");
}

#[test]
fn a_failed_clean_migration_is_retried_by_the_printed_command() {
    let dir = tempfile::tempdir().unwrap();
    let p = sqlite_project(&dir);
    p.migration("V0001__orders", ORDERS, Some("DROP TABLE orders;\n"))
        .migration(
            "V0002__bad",
            "CREATE TABLE audit (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n",
            Some("DROP TABLE audit;\n"),
        );
    let failed = p.run(&["migrate", "--env", "staging"]).expect_code(3);
    assert_eq!(hint(&failed), "runner recover --env staging --retry 2");
    p.run(&["recover", "--env", "staging"])
        .expect_code(0)
        .stdout_has("V2 bad: failed_clean")
        .stdout_has("nothing of it is committed");
    p.migration("V0002__bad", "CREATE TABLE audit (id INTEGER);\n", None);
    run_printed(&p, &hint(&failed))
        .expect_code(0)
        .stdout_has("retried: 1 migration(s) applied");
}

/// A migration that staging applied fails only in production (its data): the hint keeps the
/// file as staging ran it, and works once production's data is fixed.
#[test]
fn a_failure_only_in_production_is_retried_without_touching_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = sqlite_project(&dir);
    p.migration(
        "V0001__orders",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, code TEXT);\n",
        Some("DROP TABLE orders;\n"),
    )
    .migration(
        "V0002__unique_code",
        "CREATE UNIQUE INDEX orders_code ON orders (code);\n",
        Some("DROP INDEX orders_code;\n"),
    );
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    p.run(&[
        "migrate",
        "--env",
        "production",
        "--approve",
        "--target",
        "1",
    ])
    .expect_code(0);
    let prod = dir.path().join("production.db");
    let sqlite = |sql: &str| sqlite3(&prod, sql);
    sqlite("INSERT INTO orders (code) VALUES ('a'), ('a')");
    let failed = p
        .run(&["migrate", "--env", "production", "--approve"])
        .expect_code(3)
        .stderr_has("the file must stay as staging ran it");
    let printed = hint(&failed);
    // Protected: the printed command carries the approval it needs, and works as printed.
    assert_eq!(
        printed,
        "runner recover --env production --retry 2 --approve"
    );
    sqlite("DELETE FROM orders WHERE rowid > 1");
    run_printed(&p, &printed).expect_code(0);
    let history = p
        .run(&["history", "--env", "production", "--format", "json"])
        .expect_code(0);
    let rows: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(rows[0]["kind"], "recover");
    assert_eq!(rows[0]["result"], "succeeded");
    assert!(rows[0]["approved_by"].is_string(), "{rows}");
}

#[test]
fn marking_by_hand_needs_a_reason_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = partially_applied(&dir);
    p.run(&["recover", "--env", "staging", "--mark", "2", "applied"])
        .expect_code(2)
        .stderr_has("--reason");
    p.migration("V0002__region", PARTIAL_FIXED, None);
    p.runner()
        .args([
            "recover",
            "--env",
            "staging",
            "--mark",
            "2",
            "applied",
            "--reason",
            "ran statements 2 and 3 by hand after creating regions",
        ])
        .env("RUNNER_APPLIED_BY", "carol")
        .run()
        .expect_code(0)
        .stdout_has("marked: V2 region is applied by hand");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("nothing to apply");
    let events = std::process::Command::new("sqlite3")
        .arg(dir.path().join("staging.db"))
        .arg("SELECT actor || ': ' || detail FROM runner_events WHERE kind = 'recover'")
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&events.stdout);
    assert!(
        events.contains("carol: `runner recover --env staging --mark 2 applied --reason \"ran statements 2 and 3 by hand after creating regions\"`: marked"),
        "{events}"
    );
    assert!(
        events.contains("reason: ran statements 2 and 3 by hand"),
        "{events}"
    );
}

#[test]
fn a_deploy_after_a_failed_migration_points_at_recover_and_the_hint_works() {
    let shop = crate::harness::shop::sqlite_shop(false);
    shop.run(&[
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        "1.0.0",
    ])
    .expect_code(0);
    let migrations = shop.path().join("migrations");
    std::fs::write(
        migrations.join("V2__region.sql"),
        PARTIAL.replace("orders", "customers"),
    )
    .unwrap();
    std::fs::write(
        migrations.join("V2__region.down.sql"),
        "ALTER TABLE customers DROP COLUMN region;\n",
    )
    .unwrap();
    let deploy = [
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        "1.1.0",
    ];
    let failed = shop.run(&deploy).expect_code(3);
    let printed = hint(&failed);
    assert_eq!(
        printed, "runner recover --env staging --resume 2",
        "{failed}"
    );
    // Deploying again without recovering is refused, and says how.
    shop.run(&deploy)
        .expect_code(2)
        .stderr_has("`runner recover --env staging --resume 2` continues it");
    std::fs::write(
        migrations.join("V2__region.sql"),
        PARTIAL_FIXED.replace("orders", "customers"),
    )
    .unwrap();
    let args: Vec<&str> = printed.split_whitespace().skip(1).collect();
    shop.run(&args).expect_code(0);
    shop.run(&deploy).expect_code(0);
    assert_eq!(shop.serving(0).as_deref(), Some("1.1.0"));
}

async fn pg_project(db: &TestDatabase) -> Project {
    Project::new("postgres", &[("ci", &db.url, "")])
}

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(conn)
        .await
        .unwrap()
}

/// A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an INVALID index: recover names it,
/// drops it on request, and the resume it prints builds it once the data is fixed.
#[tokio::test]
async fn on_postgres_an_invalid_index_is_named_dropped_and_the_resume_rebuilds_it() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db).await;
    p.migration(
        "V1__data",
        "CREATE TABLE u (email text); INSERT INTO u VALUES ('a'), ('a');",
        Some("DROP TABLE u;"),
    )
    .migration(
        "V2__unique",
        "CREATE TABLE audit (id int);\nCREATE UNIQUE INDEX CONCURRENTLY u_email_key ON u (email);",
        Some("DROP INDEX CONCURRENTLY IF EXISTS u_email_key;\nDROP TABLE audit;"),
    );
    let failed = p.run(&["migrate", "--env", "ci"]).expect_code(3);
    p.run(&["recover", "--env", "ci"])
        .expect_code(0)
        .stdout_has("the database now has the INVALID index u_email_key")
        .stdout_has("`runner recover --env ci --drop-invalid-index 2`");
    p.run(&["recover", "--env", "ci", "--drop-invalid-index", "2"])
        .expect_code(0)
        .stdout_has("dropped the INVALID index u_email_key");
    let mut conn = db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM pg_class WHERE relname = 'u_email_key'"
        )
        .await,
        0
    );
    sqlx::raw_sql("DELETE FROM u WHERE ctid <> (SELECT min(ctid) FROM u)")
        .execute(&mut conn)
        .await
        .unwrap();
    run_printed(&p, &hint(&failed)).expect_code(0);
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM pg_index WHERE indexrelid = 'u_email_key'::regclass AND indisvalid").await,
        1
    );
}

/// A statement-mode rollback that fails prints the command that finishes it; with a corrected
/// .down.sql it continues after what committed (statement 1 is not run again).
#[tokio::test]
async fn on_postgres_a_failed_rollback_continues_with_a_corrected_file() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db).await;
    p.migration(
        "V1__orders",
        "CREATE TABLE orders (id int);\nCREATE INDEX CONCURRENTLY orders_id ON orders (id);",
        Some("DROP INDEX CONCURRENTLY orders_id;\nDROP TABLE ordrs;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let failed = p
        .run(&["rollback", "--env", "ci", "--steps", "1"])
        .expect_code(5);
    let printed = hint(&failed);
    assert_eq!(
        printed, "runner rollback --env ci --to 0 --use-file",
        "{failed}"
    );
    p.migration(
        "V1__orders",
        "CREATE TABLE orders (id int);\nCREATE INDEX CONCURRENTLY orders_id ON orders (id);",
        Some("DROP INDEX CONCURRENTLY orders_id;\nDROP TABLE orders;"),
    );
    run_printed(&p, &printed)
        .expect_code(0)
        .stdout_has("rolled back V1 orders");
    let mut conn = db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM pg_class WHERE relname = 'orders'"
        )
        .await,
        0
    );
}

/// A statement whose effect the catalog cannot show (a DO block that commits) in flight at a
/// crash: a person says whether it ran.
#[tokio::test]
async fn on_postgres_a_statement_in_doubt_is_settled_by_a_person() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db).await;
    p.migration(
        "V1__steps",
        "-- runner:no-transaction\nCREATE TABLE s (n int);\nCREATE DATABASE never_created_here TEMPLATE no_such_template;\nINSERT INTO s VALUES (1);",
        Some("DROP TABLE s;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(3);
    let mut conn = db.connect().await;
    // The state a kill during statement 2 leaves.
    sqlx::raw_sql("UPDATE runner_migrations SET state = 'applying', statements_done = 1, in_flight = 2, error_message = NULL WHERE version = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = p.run(&["migrate", "--env", "ci"]).expect_code(2);
    out.stderr_has("whether it took effect cannot be read from the catalog")
        .stderr_has("`runner recover --env ci --statement 1 done`");
    p.run(&["recover", "--env", "ci", "--statement", "1", "done"])
        .expect_code(0)
        .stdout_has("took effect; statements 1 to 2 are committed");
    p.run(&["recover", "--env", "ci", "--resume", "1"])
        .expect_code(0);
    assert_eq!(count(&mut conn, "SELECT count(*) FROM s").await, 1);
}

/// `--use-file` is about rollback scripts: without --to or --steps it is refused, never read
/// as an application rollback.
#[test]
fn rollback_use_file_never_means_the_application() {
    let dir = tempfile::tempdir().unwrap();
    let p = sqlite_project(&dir);
    p.migration("V0001__orders", ORDERS, Some("DROP TABLE orders;\n"));
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    let out = p
        .run(&["rollback", "--env", "staging", "--use-file"])
        .expect_code(2)
        .stderr_has("--use-file runs .down.sql files");
    assert!(!out.all().contains("rollback from"), "{out}");
    run_printed(&p, "runner rollback --env staging --steps 1 --use-file")
        .expect_code(0)
        .stdout_has("rolled back V1 orders");
}

/// `runner recover` on a terminal (a pseudo-terminal from util-linux `script`), answered as a
/// person would: the offers are numbered, Enter does nothing, a number runs that action.
#[test]
fn on_a_terminal_recover_offers_numbered_actions_and_runs_the_one_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let (p, _) = partially_applied(&dir);
    let on_terminal = |answer: &str| -> (i32, String) {
        use std::io::Write;
        let command = format!("{} recover --env staging", env!("CARGO_BIN_EXE_runner"));
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(p.path())
            .env_remove("RUNNER_CONFIG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("script runs (util-linux)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).replace('\r', ""),
        )
    };
    // Enter: the offers are shown and nothing is done.
    let (code, menu) = on_terminal("\n");
    assert_eq!(code, 0, "{menu}");
    assert!(menu.contains("choose an action by number"), "{menu}");
    let rollback = menu
        .lines()
        .find_map(|l| {
            let (n, rest) = l.trim().split_once(") ")?;
            rest.contains("--rollback 2").then(|| n.to_string())
        })
        .unwrap_or_else(|| panic!("no rollback offer in\n{menu}"));
    // Not a number on the list: refused, nothing done.
    let (code, refused) = on_terminal("9\n");
    assert_eq!(code, 2, "{refused}");
    assert!(
        refused.contains("`9` is not one of the actions; nothing was done"),
        "{refused}"
    );
    p.run(&["status", "--env", "staging"])
        .expect_code(0)
        .stdout_has("1 applied");
    // Its number: the statements V2 committed are undone.
    let (code, done) = on_terminal(&format!("{rollback}\n"));
    assert_eq!(code, 0, "{done}");
    assert!(
        done.contains("rolled back: V2 region is rolled_back"),
        "{done}"
    );
}

/// A statement-mode file of three statements whose second failed: `--rollback` undoes exactly
/// the one that committed (shown first), where running the whole .down.sql would also drop
/// the table statement 3 never created, and fail.
#[tokio::test]
async fn on_postgres_rollback_of_a_partial_migration_undoes_exactly_what_committed() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db).await;
    p.migration(
        "V1__base",
        "CREATE TABLE base (id int);",
        Some("DROP TABLE base;"),
    );
    p.migration(
        "V2__three",
        "-- runner:no-transaction\nCREATE TABLE a3 (id int);\nINSERT INTO missing VALUES (1);\nCREATE TABLE b3 (id int);",
        Some("DROP TABLE b3;\nDROP TABLE a3;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(3);
    let shown = p.run(&["recover", "--env", "ci"]).expect_code(0);
    shown.stdout_has("undo exactly the 1 statement(s) that committed: DROP TABLE \"a3\";");
    p.run(&["recover", "--env", "ci", "--rollback", "2"])
        .expect_code(0)
        .stderr_has("runner undoes exactly that with:");
    let mut conn = db.connect().await;
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('a3', 'b3')"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM runner_migrations WHERE version = 2 AND state = 'rolled_back'"
        )
        .await,
        1
    );

    // A committed statement with no inverse is named, with the way out; no rollback offered.
    let db = postgres::fresh_database().await;
    let p = pg_project(&db).await;
    p.migration(
        "V1__base",
        "CREATE TABLE base (id int);",
        Some("DROP TABLE base;"),
    );
    p.migration(
        "V2__data",
        "-- runner:no-transaction\nUPDATE base SET id = 1 WHERE id IS NULL;\nINSERT INTO missing VALUES (1);",
        Some("UPDATE base SET id = NULL;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(3);
    let shown = p.run(&["recover", "--env", "ci"]).expect_code(0);
    let shown = shown
        .stdout_has("statement 1 (UPDATE base SET id = 1 WHERE id IS NULL) has no inverse runner can derive")
        .stdout_has("`runner recover --env ci --rollback 2 --use-file`");
    assert!(!shown.stdout.contains("--rollback 2`"), "{shown}");
    p.run(&["recover", "--env", "ci", "--rollback", "2"])
        .expect_code(2)
        .stderr_has("has no inverse runner can derive");
}

/// A CREATE INDEX CONCURRENTLY found complete after its run died is the last statement done:
/// the migration is recorded applied, not failed_partial "after 1 of 1 statements".
#[tokio::test]
async fn on_postgres_a_concurrent_index_found_complete_after_a_kill_is_recorded_applied() {
    let db = postgres::fresh_database().await;
    let p = pg_project(&db).await;
    p.migration("V1__t", "CREATE TABLE t (a int);", Some("DROP TABLE t;"));
    p.migration(
        "V2__idx",
        "CREATE INDEX CONCURRENTLY t_a ON t (a);",
        Some("DROP INDEX CONCURRENTLY t_a;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let mut conn = db.connect().await;
    // The state a kill leaves after the index completed and before its progress was written.
    sqlx::raw_sql("UPDATE runner_migrations SET state = 'applying', statements_done = 0, in_flight = 1 WHERE version = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let out = out
        .stderr_has("counts as done")
        .stderr_has("recorded applied");
    assert!(!out.all().contains("failed_partial"), "{out}");
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM runner_migrations WHERE version = 2 AND state = 'applied'"
        )
        .await,
        1
    );
    p.run(&["recover", "--env", "ci"])
        .expect_code(0)
        .stdout_has("nothing left to recover");
}

/// A rollback stopped while a statement outside a transaction ran, whose effect the catalog
/// cannot show (SQLite: a DROP TABLE of a no-transaction rollback; here it took effect): nothing
/// runs it again until a person says whether it did. The plan, the diagnosis and a direct
/// rollback all say so with the command to run; run as printed, it counts the statement, and the
/// rollback continues after it.
#[test]
fn a_rollback_statement_of_unknown_effect_is_not_run_again_until_a_person_says() {
    let dir = tempfile::tempdir().unwrap();
    let p = sqlite_project(&dir);
    p.migration("V0001__orders", ORDERS, Some("DROP TABLE orders;\n"))
        .migration(
            "V0002__items",
            "CREATE TABLE items (id INTEGER);\n",
            Some("-- runner:no-transaction\nDROP TABLE items;\nCREATE TABLE items_gone (id INTEGER);\n"),
        );
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    let db = dir.path().join("staging.db");
    let sqlite = |sql: &str| sqlite3(&db, sql);
    // The state a run killed during the rollback's first statement leaves, that statement
    // having completed.
    sqlite(
        "DROP TABLE items; UPDATE runner_migrations SET state = 'rolling_back', rollback_total = 2, rollback_done = 0, rollback_in_flight = 1 WHERE version = 2",
    );
    let done = "runner recover --env staging --statement 2 done";
    p.run(&["migrate", "--env", "staging"])
        .expect_code(2)
        .stderr_has("rollback statement 1 ran outside a transaction")
        .stderr_has(done);
    let diagnosis = p.run(&["recover", "--env", "staging"]);
    let text = diagnosis.all();
    assert!(
        text.contains("rollback statement 1 (`DROP TABLE items"),
        "{text}"
    );
    assert!(text.contains(done), "{text}");
    assert!(
        text.contains("no rollback statement is committed"),
        "{text}"
    );
    assert!(
        text.contains("runner recover --env staging --statement 2 not-done"),
        "{text}"
    );
    // Continuing the rollback now would run DROP TABLE items again: refused, nothing run.
    let refused = p
        .run(&["recover", "--env", "staging", "--rollback", "2"])
        .expect_code(2)
        .stderr_has(done);
    // Said once, though recover and the rollback it runs each read the history.
    let said = "statement 1 (`DROP TABLE items`) was running when the run stopped";
    assert_eq!(refused.all().matches(said).count(), 1, "{}", refused.all());
    assert_eq!(
        sqlite(
            "SELECT state, rollback_done, rollback_in_flight FROM runner_migrations WHERE version = 2"
        ),
        "rolling_back|0|1"
    );
    run_printed(&p, done).expect_code(0);
    assert_eq!(
        sqlite(
            "SELECT state, rollback_done, COALESCE(rollback_in_flight, 'none') FROM runner_migrations WHERE version = 2"
        ),
        "rolling_back|1|none"
    );
    p.run(&["recover", "--env", "staging", "--rollback", "2"])
        .expect_code(0);
    assert_eq!(
        sqlite("SELECT state FROM runner_migrations WHERE version = 2"),
        "rolled_back"
    );
    assert_eq!(
        sqlite("SELECT count(*) FROM sqlite_master WHERE name = 'items_gone'"),
        "1"
    );
}
