//! The serving release's queries prepared against the migrated schema by `runner check
//! --since REF --verify`, on a real PostgreSQL: after each pending migration, not only the last.

use std::path::Path;
use std::process::Command;

use crate::harness::postgres;
use crate::harness::project::Project;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.test"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(p: &Project, path: &str, text: &str) {
    let path = p.path().join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn the_migration_that_breaks_a_query_of_the_serving_release_is_named() {
    let db = postgres::fresh_database().await;
    let p = Project::new("postgres", &[("ci", &db.url, "")]);
    write(
        &p,
        "runner.toml",
        &format!(
            "{}\n[compat]\nqueries = [\"queries\"]\n",
            std::fs::read_to_string(p.path().join("runner.toml")).unwrap()
        ),
    );
    p.migration(
        "V1__users",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\nCREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL, total numeric NOT NULL);",
        Some("DROP TABLE orders;\nDROP TABLE users;"),
    );
    write(
        &p,
        "queries/app.sql",
        "-- the release's queries\nSELECT users.id, email FROM users JOIN orders ON orders.user_id = users.id WHERE created_at > $1;\n\nSELECT * FROM users WHERE id = $1;\n\nSELECT total FROM orders WHERE id = $1;\n",
    );
    // sqlx's offline data of the same release.
    write(
        &p,
        ".sqlx/query-0a.json",
        r#"{"db_name":"PostgreSQL","query":"SELECT email FROM users WHERE id = $1","describe":{"columns":[{"ordinal":0,"name":"email","type_info":"Text"}],"parameters":{"Left":["Int8"]},"nullable":[false]},"hash":"0a"}"#,
    );
    git(p.path(), &["init", "-q"]);
    git(p.path(), &["add", "-A"]);
    git(p.path(), &["commit", "-q", "-m", "the serving release"]);
    // The change: an expand step that makes created_at ambiguous, then a rename that would
    // hide it, a type change, and a nullable email.
    p.migration("V2__orders_created_at", "ALTER TABLE orders ADD COLUMN created_at timestamptz;\nALTER TABLE users ADD COLUMN nickname text;", Some("ALTER TABLE users DROP COLUMN nickname;\nALTER TABLE orders DROP COLUMN created_at;"));
    p.migration("V3__rename", "-- runner:allow-file rename-column the new release reads placed_at\nALTER TABLE orders RENAME COLUMN created_at TO placed_at;", Some("ALTER TABLE orders RENAME COLUMN placed_at TO created_at;"));
    p.migration("V4__total_text", "-- runner:allow-file change-column-type checked by hand\nALTER TABLE orders ALTER COLUMN total TYPE text;", Some("ALTER TABLE orders ALTER COLUMN total TYPE numeric USING total::numeric;"));
    p.migration(
        "V5__email_nullable",
        "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
        Some("ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
    );
    // The new release's query files changed too; the serving one's are read at the ref.
    write(&p, "queries/app.sql", "SELECT 1;\n");
    let out = p
        .run(&[
            "check",
            "--since",
            "HEAD",
            "--verify",
            "--database-url",
            &db.url,
            "--format",
            "json",
        ])
        .expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let findings: Vec<(String, String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["rule"].as_str().unwrap().starts_with("query-") || f["rule"] == "select-star-shape"
        })
        .map(|f| {
            (
                f["rule"].as_str().unwrap().into(),
                f["file"].as_str().unwrap().into(),
                f["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    let find = |rule: &str, file: &str, needle: &str| {
        assert!(
            findings
                .iter()
                .any(|(r, f, m)| r == rule && f.ends_with(file) && m.contains(needle)),
            "no {rule} on {file} with `{needle}` in {findings:#?}"
        );
    };
    find(
        "query-breaks",
        "V2__orders_created_at.sql",
        "queries/app.sql:2",
    );
    find(
        "query-breaks",
        "V2__orders_created_at.sql",
        "column reference \"created_at\" is ambiguous",
    );
    find(
        "select-star-shape",
        "V2__orders_created_at.sql",
        "cached plan must not change result type",
    );
    find(
        "query-shape-changed",
        "V4__total_text.sql",
        "`total` changed type from NUMERIC to TEXT",
    );
    find(
        "query-shape-changed",
        "V5__email_nullable.sql",
        "`email` may now be NULL",
    );
    find(
        "query-shape-changed",
        "V5__email_nullable.sql",
        ".sqlx/query-0a.json",
    );
    // Each query is reported once, on the migration that first broke it.
    assert_eq!(
        findings
            .iter()
            .filter(|(_, _, m)| m.contains("queries/app.sql:2"))
            .count(),
        1,
        "{findings:#?}"
    );
    // A reason in the migration suppresses it, as for lint rules.
    write(
        &p,
        "migrations/V2__orders_created_at.sql",
        "-- runner:allow-file query-breaks the serving release is stopped first\n-- runner:allow-file select-star-shape same\nALTER TABLE orders ADD COLUMN created_at timestamptz;\nALTER TABLE users ADD COLUMN nickname text;",
    );
    let out = p
        .run(&[
            "check",
            "--since",
            "HEAD",
            "--verify",
            "--database-url",
            &db.url,
        ])
        .expect_code(1);
    assert!(
        !out.stdout
            .contains("V2__orders_created_at.sql:1:1: error[query-breaks]"),
        "{out}"
    );
    out.stdout_has("error[query-shape-changed]");
}

/// On SQLite (no server: the scratch database is a file), with the queries found by default in
/// `.sqlx` beside runner.toml: a renamed table breaks the serving release's query.
#[test]
fn on_sqlite_a_renamed_table_breaks_the_serving_release() {
    let p = Project::new("sqlite", &[("dev", "sqlite://dev.db", "")]);
    p.migration(
        "V1__users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);",
        Some("DROP TABLE users;"),
    );
    write(
        &p,
        ".sqlx/query-1.json",
        r#"{"db_name":"SQLite","query":"SELECT email FROM users WHERE id = ?","describe":{"columns":[{"ordinal":0,"name":"email","type_info":"Text"}],"parameters":{"Right":1},"nullable":[false]},"hash":"1"}"#,
    );
    git(p.path(), &["init", "-q"]);
    git(p.path(), &["add", "-A"]);
    git(p.path(), &["commit", "-q", "-m", "serving"]);
    p.run(&["check", "--since", "HEAD", "--verify"])
        .expect_code(0);
    p.migration(
        "V2__accounts",
        "-- runner:allow-file rename-table the new release reads accounts\nALTER TABLE users RENAME TO accounts;",
        Some("ALTER TABLE accounts RENAME TO users;"),
    );
    p.run(&["check", "--since", "HEAD", "--verify"])
        .expect_code(1)
        .stdout_has("V2__accounts.sql:1:1: error[query-breaks] after V2 accounts, the serving release's query .sqlx/query-1.json (`SELECT email FROM users WHERE id = ?`) no longer prepares: no such table: users");
}

/// In a pipeline deploy: the queries of the release serving production are recorded when it is
/// deployed, and prepared on staging's migrated schema before production is touched.
#[test]
fn a_deploy_stops_before_production_when_staging_breaks_the_release_production_serves() {
    let p = Project::new(
        "sqlite",
        &[
            ("staging", "sqlite://staging.db", "deploy = [\"true\"]"),
            (
                "production",
                "sqlite://production.db",
                "deploy = [\"true\"]\nrequires_approval = true",
            ),
        ],
    );
    p.migration(
        "V1__users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);",
        Some("DROP TABLE users;"),
    );
    let query = |column: &str| {
        format!(
            r#"{{"db_name":"SQLite","query":"SELECT {column} FROM users WHERE id = ?","describe":{{"columns":[],"parameters":{{"Right":1}},"nullable":[]}},"hash":"1"}}"#
        )
    };
    write(&p, ".sqlx/query-1.json", &query("email"));
    p.run(&[
        "deploy",
        "--with-migrations",
        "--version",
        "1.0.0",
        "--approve",
    ])
    .expect_code(0);
    // Release 1.1.0 reads the renamed column; production still serves 1.0.0, which reads email.
    p.migration(
        "V2__rename_email",
        "-- runner:allow-file rename-column 1.1.0 reads address\nALTER TABLE users RENAME COLUMN email TO address;",
        Some("ALTER TABLE users RENAME COLUMN address TO email;"),
    );
    write(&p, ".sqlx/query-1.json", &query("address"));
    let out = p
        .run(&[
            "deploy",
            "--with-migrations",
            "--version",
            "1.1.0",
            "--approve",
        ])
        .expect_code(10);
    out.stderr_has("production serves 1.0.0, whose query .sqlx/query-1.json (`SELECT email FROM users WHERE id = ?`) breaks on staging's migrated schema: no longer prepares: no such column: email")
        .stderr_has("this run deployed 1.1.0 to staging before production failed");
    // Production was not touched: its migration is still pending.
    p.run(&["plan", "--env", "production"])
        .expect_code(0)
        .stdout_has("V2 rename_email");
}

/// The statements the production database has seen (pg_stat_statements) are queries of the
/// release it serves, dynamic SQL included: `check --env` prepares them too.
#[tokio::test]
async fn statements_the_database_has_seen_are_checked_too() {
    use sqlx::Connection;
    let db = postgres::fresh_database().await;
    let p = Project::new("postgres", &[("prod", &db.url, "")]);
    p.migration(
        "V1__users",
        "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);",
        Some("DROP TABLE users;"),
    );
    p.run(&["migrate", "--env", "prod"]).expect_code(0);
    let mut conn = db.connect().await;
    sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&mut conn)
        .await
        .unwrap();
    // The serving release at work, with a query built at run time.
    let table = "users";
    for id in 0..3_i64 {
        let _: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT email FROM {table} WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();
    git(p.path(), &["init", "-q"]);
    git(p.path(), &["add", "-A"]);
    git(p.path(), &["commit", "-q", "-m", "serving"]);
    p.run(&["check", "--since", "HEAD", "--verify", "--env", "prod"])
        .expect_code(0);
    p.migration(
        "V2__drop_email",
        "-- runner:allow-file drop-column the new release no longer reads it\nALTER TABLE users DROP COLUMN email;",
        Some("ALTER TABLE users ADD COLUMN email text;"),
    );
    p.run(&["check", "--since", "HEAD", "--verify", "--env", "prod"])
        .expect_code(1)
        .stdout_has("error[query-breaks] after V2 drop_email, the serving release's query pg_stat_statements")
        .stdout_has("SELECT email FROM users WHERE id = $1");
}
