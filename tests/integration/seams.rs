//! Where commands meet: a pipeline deploy refused anywhere changes nothing anywhere, approval
//! is asked the same way by every command that changes a protected environment, and `plan`,
//! `migrate` and `check` apply one lint gate.

use crate::harness::fleet::Fleet;
use crate::harness::postgres;
use crate::harness::project::Project;

/// A fleet whose pipeline is staging (a hook with no app), then production (a manual canary
/// through HAProxy).
pub(crate) fn pipeline() -> Fleet {
    let f = Fleet::new(
        "canary",
        &[("blue", Some("blue")), ("green", Some("green"))],
        "[environments.production.rollout]\nsteps = [50, 100]\npause = \"manual\"\n",
    );
    let path = f.path().join("runner.toml");
    let toml = std::fs::read_to_string(&path).unwrap().replace(
        "pipeline = [\"production\"]",
        "pipeline = [\"staging\", \"production\"]",
    );
    std::fs::write(&path, toml).unwrap();
    f.append_config(&format!(
        "\n[environments.staging]\ndatabase_url = \"sqlite://{}/db/staging.db\"\ndeploy = [\"true\"]\n",
        f.path().display()
    ));
    f
}

fn staging_release(f: &Fleet) -> String {
    let out = f
        .run(&["status", "--env", "staging", "--format", "json"])
        .expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    json["current_version"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_pipeline_deploy_refused_in_production_changes_nothing_in_staging() {
    let f = pipeline();
    f.run(&["deploy", "--version", "1.0.0", "--with-migrations"])
        .expect_code(0);
    // Staging, then production's canary waits at 50 %.
    f.run(&["deploy", "--version", "1.1.0"]).expect_code(9);
    assert_eq!(staging_release(&f), "1.1.0");
    // Production is refused before staging is touched: exit 2 means nothing changed.
    let refused = f.run(&["deploy", "--version", "1.3.0"]).expect_code(2);
    refused
        .stderr_has("a canary of 1.1.0 is paused at 50% in production")
        .stderr_has("`runner promote --env production`");
    assert_eq!(staging_release(&f), "1.1.0");
    let history = f
        .run(&["history", "--env", "staging", "--format", "json"])
        .expect_code(0);
    assert!(!history.stdout.contains("1.3.0"), "{history}");

    // A failure that could not be known in advance says which environments changed.
    f.run(&["abort", "--env", "production"]).expect_code(0);
    f.fail_deploy("blue", "1.4.0");
    f.fail_deploy("green", "1.4.0");
    let out = f.run(&["deploy", "--version", "1.4.0"]).expect_code(4);
    out.stderr_has("this run deployed 1.4.0 to staging before production failed");
    assert_eq!(staging_release(&f), "1.4.0");
}

/// `--approve` is accepted, and required, by every command that changes a protected
/// environment; the approver recorded is a person's login, never `unknown@`.
#[test]
fn every_change_of_a_protected_environment_takes_and_needs_approve() {
    let f = Fleet::new(
        "canary",
        &[("blue", Some("blue")), ("green", Some("green"))],
        "requires_approval = true\n[environments.production.rollout]\nsteps = [50, 100]\npause = \"manual\"\n",
    );
    let prod = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--env", "production"]);
        // No USER or LOGNAME: the login name comes from the password database.
        f.runner(&all).env("USER", "").env("LOGNAME", "").run()
    };
    prod(&["deploy", "--version", "1.0.0", "--with-migrations"])
        .expect_code(2)
        .stderr_has("production requires approval: pass --approve");
    prod(&[
        "deploy",
        "--version",
        "1.0.0",
        "--with-migrations",
        "--approve",
    ])
    .expect_code(0);
    prod(&["deploy", "--version", "1.1.0", "--approve"]).expect_code(9);
    prod(&["abort"])
        .expect_code(2)
        .stderr_has("production requires approval");
    prod(&["abort", "--approve"]).expect_code(0);
    let history = prod(&["history", "--format", "json"]).expect_code(0);
    assert!(!history.stdout.contains("unknown@"), "{history}");
    let json: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let approver = json[0]["approved_by"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!approver.is_empty() && approver != "unknown", "{history}");
}

/// `plan`, `migrate` and `check` show the same findings: a CREATE INDEX without CONCURRENTLY
/// that check refuses is refused by migrate before anything is applied (exit 1), and an
/// untouched `runner new` template is an error, not a no-op recorded as applied.
#[tokio::test]
async fn plan_migrate_and_check_apply_one_lint_gate() {
    let db = postgres::fresh_database().await;
    let p = Project::new("postgres", &[("ci", &db.url, "")]);
    p.migration("V1__t", "CREATE TABLE t (a int);", Some("DROP TABLE t;"));
    p.migration(
        "V2__idx",
        "CREATE INDEX t_a ON t (a);",
        Some("DROP INDEX t_a;"),
    );
    let check = p.run(&["check"]).expect_code(1);
    assert!(
        check.stdout.contains("create-index-without-concurrently"),
        "{check}"
    );
    let plan = p.run(&["plan", "--env", "ci"]);
    assert!(
        plan.stdout.contains("create-index-without-concurrently"),
        "{plan}"
    );
    p.run(&["migrate", "--env", "ci"])
        .expect_code(1)
        .stdout_has("create-index-without-concurrently")
        .stderr_has("nothing was changed");
    let mut conn = db.connect().await;
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 't'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(tables, 0, "nothing applied");
    // Suppressed with its reason, it goes through.
    p.migration(
        "V2__idx",
        "-- runner:allow create-index-without-concurrently t is empty in every environment\nCREATE INDEX t_a ON t (a);",
        Some("DROP INDEX t_a;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    // An untouched template: refused by check and migrate alike.
    p.run(&["new", "add_status"]).expect_code(0);
    p.run(&["check"])
        .expect_code(1)
        .stdout_has("error[empty-migration]");
    p.run(&["migrate", "--env", "ci"])
        .expect_code(1)
        .stdout_has("empty-migration");
}

/// `--dry-run` of deploy and rollback says, per environment, what would happen, and changes
/// nothing: no database is created, no journal entry or history row is written.
#[test]
fn dry_runs_say_what_would_happen_and_change_nothing() {
    let p = Project::new(
        "sqlite",
        &[
            (
                "staging",
                "sqlite://staging.db",
                "deploy = [\"true\"]\nrollback = [\"true\"]",
            ),
            (
                "production",
                "sqlite://production.db",
                "deploy = [\"true\"]\nrollback = [\"true\"]\nrequires_approval = true",
            ),
        ],
    );
    p.migration(
        "V1__users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE users;"),
    );
    p.migration(
        "V2__phone",
        "ALTER TABLE users ADD COLUMN phone TEXT;",
        Some("ALTER TABLE users DROP COLUMN phone;"),
    );
    let refused = p
        .run(&[
            "deploy",
            "--with-migrations",
            "--version",
            "1.0.0",
            "--dry-run",
        ])
        .expect_code(2);
    refused
        .stdout_has("staging: would go ahead")
        .stdout_has("production: would be REFUSED")
        .stdout_has("production requires approval: pass --approve")
        .stdout_has("migrations to apply: V1 users, V2 phone")
        .stdout_has("1. take the migration lock");
    p.run(&[
        "deploy",
        "--with-migrations",
        "--version",
        "1.0.0",
        "--dry-run",
        "--approve",
    ])
    .expect_code(0)
    .stdout_has("the deploy would go ahead in every environment");
    assert!(
        !p.path().join("staging.db").exists(),
        "a dry run created staging's database"
    );

    p.run(&[
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        "1.0.0",
    ])
    .expect_code(0);
    p.run(&["deploy", "--env", "staging", "--version", "1.1.0"])
        .expect_code(0);
    let journal = || {
        p.run(&["history", "--env", "staging", "--format", "json"])
            .expect_code(0)
            .stdout
    };
    let before = journal();
    p.run(&["rollback", "--env", "staging", "--dry-run"])
        .expect_code(0)
        .stdout_has(
            "would put 1.0.0 back in place of 1.1.0 (with the rollback hook, health-checked)",
        );
    p.run(&["rollback", "--env", "staging", "--steps", "1", "--dry-run"])
        .expect_code(0)
        .stdout_has("V2 phone")
        .stdout_has("and stop at V1");
    p.run(&["rollback", "--env", "staging", "--to", "9", "--dry-run"])
        .expect_code(2)
        .stderr_has("V9");
    assert_eq!(journal(), before);
    p.run(&["status", "--env", "staging"])
        .expect_code(0)
        .stdout_has("1.1.0");
    p.run(&["plan", "--env", "staging"])
        .expect_code(0)
        .stdout_has("nothing pending");
}
