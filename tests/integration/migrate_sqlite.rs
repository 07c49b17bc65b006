//! `runner migrate` and `runner plan` on SQLite files: validation before any change, the
//! staging-before-production rule, failures, the file lock, baselines.

use std::process::Command;

use crate::harness::project::Project;

fn shop() -> Project {
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
    p.migration(
        "V1__customers",
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);\n",
        Some("DROP TABLE customers;\n"),
    )
    .migration(
        "V2__orders",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);\n",
        Some("DROP TABLE orders;\n"),
    );
    p
}

fn sqlite(p: &Project, db: &str, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(p.path().join("db").join(db))
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

#[test]
fn production_is_refused_until_staging_has_the_same_migrations() {
    let p = shop();
    p.run(&["migrate", "--env", "production", "--approve"])
        .expect_code(2)
        .stderr_has("V1 customers has not been applied to staging (the environment before production in the pipeline)");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("2 migrations applied");
    p.run(&["migrate", "--env", "production", "--approve"])
        .expect_code(0);
    assert_eq!(
        sqlite(
            &p,
            "production.db",
            "SELECT group_concat(version || ':' || state) FROM runner_migrations"
        ),
        "1:applied,2:applied"
    );
}

#[test]
fn an_edited_applied_file_is_refused_with_a_diff_and_a_cosmetic_edit_is_a_warning() {
    let p = shop();
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    p.migration(
        "V1__customers",
        "-- who buys\nCREATE TABLE customers (id INTEGER PRIMARY KEY,   email TEXT);\n",
        None,
    );
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stderr_has("warning: V1__customers.sql changed since it was applied in staging, but only in comments or whitespace");
    p.migration(
        "V1__customers",
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n",
        None,
    );
    p.run(&["migrate", "--env", "staging"])
        .expect_code(2)
        .stderr_has("V1 customers was edited after it was applied in staging")
        .stderr_has("-CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);")
        .stderr_has("+CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL);");
}

#[test]
fn an_out_of_order_migration_is_refused_then_admitted_by_name() {
    let p = shop();
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    p.migration(
        "V3__later",
        "CREATE TABLE later (id INTEGER);\n",
        Some("DROP TABLE later;\n"),
    );
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    // A branch merged late brings a migration numbered below the newest applied one.
    p.migration(
        "V0__early",
        "CREATE TABLE early (id INTEGER);\n",
        Some("DROP TABLE early;\n"),
    );
    p.run(&["migrate", "--env", "staging"])
        .expect_code(2)
        .stderr_has(
            "V0 early is pending but older than V3, already applied in staging: it is out of order",
        )
        .stderr_has("--allow-out-of-order 0");
    p.run(&["migrate", "--env", "staging", "--allow-out-of-order", "0"])
        .expect_code(0)
        .stdout_has("applied V0 early");
}

#[test]
fn a_failing_migration_exits_3_and_leaves_nothing_of_itself() {
    let p = shop();
    p.migration(
        "V3__broken",
        "CREATE TABLE half (id INTEGER);\nINSERT INTO nowhere VALUES (1);\n",
        Some("DROP TABLE half;\n"),
    );
    p.run(&["migrate", "--env", "staging"])
        .expect_code(3)
        .stderr_has("V3 broken failed at statement 2 of 2: no such table: nowhere")
        .stderr_has("state failed_clean");
    assert_eq!(
        sqlite(
            &p,
            "staging.db",
            "SELECT group_concat(version || ':' || state) FROM runner_migrations"
        ),
        "1:applied,2:applied,3:failed_clean"
    );
    assert_eq!(
        sqlite(
            &p,
            "staging.db",
            "SELECT count(*) FROM sqlite_master WHERE name = 'half'"
        ),
        "0"
    );
}

#[test]
fn a_held_file_lock_times_out_with_exit_6_naming_its_holder() {
    let p = shop();
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    let lock_path = p.path().join("db/staging.db.runner-lock");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    file.lock().unwrap();
    std::fs::write(
        &lock_path,
        format!(
            "{}\nsomehost\n2026-01-01T00:00:00Z\ntest holder\n",
            std::process::id()
        ),
    )
    .unwrap();
    p.run(&["migrate", "--env", "staging", "--lock-wait", "300ms"])
        .expect_code(6)
        .stderr_has(&format!(
            "held by pid {} on somehost (test holder)",
            std::process::id()
        ));
    p.run(&["lock", "status", "--env", "staging"])
        .expect_code(0)
        .stdout_has("held by pid");
    p.run(&["lock", "release", "--env", "staging"])
        .expect_code(2);
    file.unlock().unwrap();
    p.run(&["lock", "status", "--env", "staging"])
        .expect_code(0)
        .stdout_has("is free");
}

#[test]
fn a_baseline_records_without_running_and_migrate_continues_from_it() {
    let p = shop();
    p.migration(
        "V3__more",
        "CREATE TABLE more (id INTEGER);\n",
        Some("DROP TABLE more;\n"),
    );
    p.run(&["migrate", "--env", "staging", "--baseline", "2"])
        .expect_code(0)
        .stdout_has("recorded V1 customers as applied (baseline, not run)");
    assert_eq!(
        sqlite(
            &p,
            "staging.db",
            "SELECT count(*) FROM sqlite_master WHERE name IN ('customers', 'orders')"
        ),
        "0"
    );
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("applied V3 more");
    p.run(&["migrate", "--env", "staging", "--baseline", "2"])
        .expect_code(2)
        .stderr_has("already has 3 row(s)");
}

#[test]
fn plan_changes_nothing_and_describes_each_step() {
    let p = shop();
    let out = p
        .run(&["plan", "--env", "staging", "--format", "json"])
        .expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["pending"].as_array().unwrap().len(), 2);
    assert_eq!(doc["pending"][0]["mode"], "transaction");
    assert_eq!(doc["would_apply"], true);
    assert!(
        !p.path().join("db/staging.db").exists(),
        "plan must not create the database"
    );
    p.run(&["plan", "--env", "production"])
        .expect_code(2)
        .stdout_has("migrate would refuse:");
    p.migration(
        "V3__nt",
        "-- runner:no-transaction\nCREATE TABLE x (id INTEGER);\nCREATE INDEX x_id ON x (id);\n",
        Some("DROP TABLE x;\n"),
    );
    p.run(&["plan", "--env", "staging"])
        .expect_code(0)
        .stdout_has("V3 nt  statement  2 statements")
        .stdout_has("outside a transaction, one by one:")
        .stdout_has("2. CREATE INDEX x_id ON x (id)");
}

#[test]
fn the_example_project_migrates_staging_then_production() {
    let tmp = tempfile::tempdir().unwrap();
    let root = crate::harness::cli::repo_root();
    std::fs::copy(root.join("runner.toml"), tmp.path().join("runner.toml")).unwrap();
    let dir = tmp.path().join("migrations");
    std::fs::create_dir(&dir).unwrap();
    for entry in std::fs::read_dir(root.join("migrations")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let run = |args: &[&str]| {
        crate::harness::cli::Runner::new(tmp.path())
            .args(args)
            .run()
    };
    run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("7 migrations applied");
    run(&["migrate", "--env", "production", "--approve"])
        .expect_code(0)
        .stdout_has("7 migrations applied");
    run(&["migrate", "--env", "production", "--approve"])
        .expect_code(0)
        .stdout_has("nothing to apply");
}

/// On a terminal runner draws an indicatif progress bar; results still reach stdout. `script`
/// (util-linux) gives the process a pseudo-terminal.
#[test]
fn on_a_terminal_migrate_draws_progress_and_prints_results() {
    let p = shop();
    let command = format!("{} migrate --env staging", env!("CARGO_BIN_EXE_runner"));
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(p.path())
        .env("TERM", "xterm")
        .output()
        .expect("script(1) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("applied V1 customers"), "{text}");
    assert!(text.contains("2 migrations applied"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

/// Tables written by the first release of runner lack the columns of statement progress and
/// of the deploy record: reading commands read them as they are, and the next command that
/// holds the lock adds the columns.
#[test]
fn history_tables_of_an_older_runner_are_read_and_upgraded() {
    let p = shop();
    std::fs::create_dir_all(p.path().join("db")).unwrap();
    sqlite(
        &p,
        "staging.db",
        "CREATE TABLE runner_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL,
            mode TEXT NOT NULL, sha256 TEXT NOT NULL, normalized_sha256 TEXT NOT NULL,
            refinery_checksum TEXT NOT NULL, applied_sql TEXT NOT NULL, rollback_sql TEXT,
            statements_total INTEGER NOT NULL, statements_done INTEGER NOT NULL DEFAULT 0,
            error_statement INTEGER, error_sqlstate TEXT, error_message TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, started_at TEXT NOT NULL DEFAULT 'x',
            finished_at TEXT, duration_ms INTEGER, deploy_id TEXT,
            environment TEXT NOT NULL, release TEXT, applied_by TEXT NOT NULL);
         CREATE TABLE runner_deploys (
            id TEXT PRIMARY KEY, environment TEXT NOT NULL, kind TEXT NOT NULL,
            version TEXT NOT NULL, previous_version TEXT, result TEXT NOT NULL,
            forced INTEGER NOT NULL DEFAULT 0, approved_by TEXT, actor TEXT NOT NULL,
            started_at TEXT NOT NULL DEFAULT 'x', finished_at TEXT, duration_ms INTEGER,
            phases TEXT NOT NULL DEFAULT '[]', hook_output TEXT, error TEXT,
            migrations TEXT NOT NULL DEFAULT '[]', recovery_ms INTEGER);
         INSERT INTO runner_deploys (id, environment, kind, version, result, actor)
            VALUES ('old-1', 'staging', 'deploy', '0.9.0', 'succeeded', 'someone');",
    );
    p.run(&["status", "--env", "staging"])
        .expect_code(0)
        .stdout_has("version:     0.9.0")
        .stdout_has("0 applied, 2 pending");
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    let columns = sqlite(
        &p,
        "staging.db",
        "SELECT group_concat(name) FROM pragma_table_info('runner_migrations')",
    );
    assert!(columns.contains("in_flight,rollback_done"), "{columns}");
    p.run(&["status", "--env", "staging"])
        .expect_code(0)
        .stdout_has("2 applied, 0 pending");
}

/// SQLite's own procedure for a table rebuild (create new, copy, drop old, rename) needs
/// foreign keys off for its transaction; runner turns them off and checks them before commit,
/// so a rebuild applies and a migration that leaves a dangling reference does not.
#[test]
fn a_table_rebuild_applies_with_foreign_keys_off_and_checked_before_commit() {
    let p = shop();
    p.migration(
        "V3__items",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id));\n\
         INSERT INTO customers (id, email) VALUES (1, 'a@example.com');\n\
         INSERT INTO items (id, customer_id) VALUES (10, 1);\n",
        Some("DROP TABLE items;\n"),
    )
    .migration(
        "V4__rebuild_customers",
        "CREATE TABLE customers_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL DEFAULT '');\n\
         INSERT INTO customers_new (id, email) SELECT id, coalesce(email, '') FROM customers;\n\
         DROP TABLE customers;\n\
         ALTER TABLE customers_new RENAME TO customers;\n",
        Some("SELECT 1;\n"),
    );
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    assert_eq!(sqlite(&p, "staging.db", "SELECT count(*) FROM items"), "1");
    assert_eq!(sqlite(&p, "staging.db", "PRAGMA foreign_key_check"), "");

    p.migration(
        "V5__orphan",
        "DELETE FROM customers WHERE id = 1;\n",
        Some("SELECT 1;\n"),
    );
    p.run(&["migrate", "--env", "staging"])
        .expect_code(3)
        .stderr_has("FOREIGN KEY constraint failed at commit: 1 violation(s): items row 10 references a missing row of customers");
    assert_eq!(
        sqlite(&p, "staging.db", "SELECT count(*) FROM customers"),
        "1"
    );
}

/// Every change of a protected environment needs approval, and shows in `runner history`
/// with who approved: migrate, a migrations rollback, a forced lock release.
#[test]
fn changes_of_a_protected_environment_need_approval_and_are_in_its_history() {
    let p = shop();
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    p.run(&["migrate", "--env", "production"])
        .expect_code(2)
        .stderr_has("production requires approval: pass --approve");
    p.runner()
        .args(["migrate", "--env", "production", "--approve"])
        .env("RUNNER_APPROVED_BY", "alice")
        .run()
        .expect_code(0);
    p.run(&["rollback", "--env", "production", "--steps", "1"])
        .expect_code(2)
        .stderr_has("production requires approval");
    p.run(&["lock", "release", "--env", "production", "--force"])
        .expect_code(2)
        .stderr_has("production requires approval");
    p.run(&[
        "lock",
        "release",
        "--env",
        "production",
        "--force",
        "--approve",
    ])
    .expect_code(0)
    .stdout_has("free: nothing to release");
    p.runner()
        .args([
            "rollback",
            "--env",
            "production",
            "--steps",
            "1",
            "--approve",
        ])
        .env("RUNNER_APPROVED_BY", "bob")
        .run()
        .expect_code(0);
    let out = p
        .run(&["history", "--env", "production", "--format", "json"])
        .expect_code(0);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows[0]["kind"], "migrations_rollback", "{rows}");
    assert_eq!(rows[0]["approved_by"], "bob");
    assert_eq!(rows[1]["kind"], "migrate");
    assert_eq!(rows[1]["approved_by"], "alice");
    assert_eq!(rows[1]["migrations"], serde_json::json!([1, 2]));
    p.run(&["history", "--env", "production"])
        .expect_code(0)
        .stdout_has("migrations_rollback")
        .stdout_has("(approved by bob)");
}

#[test]
fn migrate_stops_before_a_contract_migration_unless_told() {
    let p = shop();
    p.migration(
        "V3__drop_email",
        "-- runner:phase contract\nALTER TABLE customers DROP COLUMN email;\n",
        Some("ALTER TABLE customers ADD COLUMN email TEXT;\n"),
    )
    .migration(
        "V4__notes",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY);\n",
        Some("DROP TABLE notes;\n"),
    );
    p.run(&["plan", "--env", "staging"])
        .expect_code(0)
        .stdout_has("held back: V3 drop_email, V4 notes");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stderr_has("V3 drop_email is a contract migration")
        .stderr_has("`runner migrate --env staging --contract`");
    assert_eq!(
        sqlite(
            &p,
            "staging.db",
            "SELECT count(*) FROM pragma_table_info('customers') WHERE name = 'email'"
        ),
        "1"
    );
    p.run(&["migrate", "--env", "staging", "--contract"])
        .expect_code(0);
    assert_eq!(
        sqlite(
            &p,
            "staging.db",
            "SELECT count(*) FROM pragma_table_info('customers') WHERE name = 'email'"
        ),
        "0"
    );
    assert_eq!(
        sqlite(
            &p,
            "staging.db",
            "SELECT count(*) FROM sqlite_master WHERE name = 'notes'"
        ),
        "1"
    );
}
