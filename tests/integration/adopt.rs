//! Another tool's history taken over with proof (`runner adopt`), and written beside runner's
//! during a trial (`[migrations] mirror`): against sqlx-cli and dbmate themselves (installed by
//! scripts/peer-tools/install), and against the other tools' documented table definitions,
//! each named where it is created.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::harness::cli::repo_root;
use crate::harness::postgres::{self, TestDatabase};
use crate::harness::project::Project;

fn peer_tool(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: run scripts/peer-tools/install (scripts/test does)",
        path.display()
    );
    path
}

fn sqlx_cli() -> PathBuf {
    let tools = std::env::var("RUNNER_PEER_TOOLS").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/runner-peer-tools"),
        PathBuf::from,
    );
    peer_tool(tools.join("sqlx-cli-0.9.0/bin/sqlx"))
}

fn dbmate() -> PathBuf {
    peer_tool(repo_root().join("scripts/peer-tools/node_modules/.bin/dbmate"))
}

/// Runs a peer tool in `dir` and returns its stdout; fails the test when it fails.
fn tool(program: &Path, dir: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {args:?}: {text}",
        program.display()
    );
    text
}

fn write(project: &Project, name: &str, text: &str) {
    let path = project.migrations().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn set_toml(project: &Project, migrations_lines: &str) {
    let path = project.path().join("runner.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        path,
        toml.replace(
            "[migrations]\n",
            &format!("[migrations]\n{migrations_lines}\n"),
        ),
    )
    .unwrap();
}

async fn scalar(conn: &mut PgConnection, sql: &str) -> String {
    let row: (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.0
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n";
const ORDERS: &str = "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);\n";
const PHONE: &str = "ALTER TABLE users ADD COLUMN phone text;\n";

fn sqlx_project(db: &TestDatabase) -> Project {
    let p = Project::new("postgres", &[("staging", &db.url, "")]);
    write(&p, "20240101000000_users.up.sql", USERS);
    write(&p, "20240101000000_users.down.sql", "DROP TABLE users;\n");
    write(&p, "20240102000000_orders.up.sql", ORDERS);
    write(&p, "20240102000000_orders.down.sql", "DROP TABLE orders;\n");
    p
}

#[tokio::test]
async fn sqlx_history_is_taken_over_with_its_checksums_and_nothing_runs_twice() {
    let db = postgres::fresh_database().await;
    let p = sqlx_project(&db);
    let sqlx = sqlx_cli();
    tool(&sqlx, p.path(), &["migrate", "run"], &db.url);
    write(&p, "20240103000000_phone.up.sql", PHONE);
    write(
        &p,
        "20240103000000_phone.down.sql",
        "ALTER TABLE users DROP COLUMN phone;\n",
    );

    // migrate stops before applying anything, and says how to go on.
    p.run(&["migrate", "--env", "staging"])
        .expect_code(2)
        .stderr_has("this database holds sqlx's history (_sqlx_migrations): it applied 2 migration(s) runner's history does not have (V20240101000000, V20240102000000)")
        .stderr_has("`runner adopt --env staging` takes that history over with proof");
    let mut conn = db.connect().await;
    assert_eq!(scalar(&mut conn, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'runner_migrations' AND EXISTS (SELECT 1 FROM runner_migrations)").await, "0");

    // A file edited after sqlx applied it is refused, naming the file, the row and the way out.
    write(
        &p,
        "20240101000000_users.up.sql",
        &USERS.replace("email text", "email varchar(200)"),
    );
    p.run(&["adopt", "--env", "staging"])
        .expect_code(2)
        .stderr_has("20240101000000_users.up.sql: sqlx recorded checksum")
        .stderr_has("for version 20240101000000 (users) when it applied it")
        .stderr_has("restore it as applied");
    write(&p, "20240101000000_users.up.sql", USERS);

    p.run(&["adopt", "--env", "staging", "--dry-run"])
        .expect_code(0)
        .stdout_has("dry run: 2 migration(s) would be adopted, 2 checksum(s) of the tool proven");
    p.run(&["migrate", "--env", "staging"]).expect_code(2);
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("V20240101000000 users   _sqlx_migrations version 20240101000000 (users)")
        .stdout_has("adopted 2 migration(s) into runner's history");
    assert_eq!(
        scalar(&mut conn, "SELECT string_agg(version || ' ' || mode || ' ' || state, ', ' ORDER BY version) FROM runner_migrations").await,
        "20240101000000 adopted applied, 20240102000000 adopted applied"
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT detail || ' by ' || actor FROM runner_events WHERE kind = 'history_adopted'"
        )
        .await,
        format!(
            "2 migration(s) taken over from _sqlx_migrations by {}",
            scalar(
                &mut conn,
                "SELECT actor FROM runner_events WHERE kind = 'history_adopted'"
            )
            .await
        )
    );
    // Only what is pending runs; a second adopt has nothing to do.
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("applied V20240103000000 phone");
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("nothing to adopt in staging");
    assert_eq!(
        scalar(&mut conn, "SELECT count(*)::text FROM runner_migrations").await,
        "3"
    );
}

#[tokio::test]
async fn beside_sqlx_the_old_tool_sees_what_runner_did_and_can_take_over_again() {
    let db = postgres::fresh_database().await;
    let p = sqlx_project(&db);
    set_toml(&p, "mirror = \"sqlx\"");
    let sqlx = sqlx_cli();
    tool(
        &sqlx,
        p.path(),
        &["migrate", "run", "--target-version", "20240101000000"],
        &db.url,
    );
    p.run(&["adopt", "--env", "staging"]).expect_code(0);
    write(&p, "20240103000000_phone.up.sql", PHONE);
    write(
        &p,
        "20240103000000_phone.down.sql",
        "ALTER TABLE users DROP COLUMN phone;\n",
    );
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    let info = tool(&sqlx, p.path(), &["migrate", "info"], &db.url);
    for version in ["20240101000000", "20240102000000", "20240103000000"] {
        assert!(info.contains(&format!("{version}/installed")), "{info}");
    }
    // sqlx-cli's own checks agree: it has nothing to run.
    let run = tool(&sqlx, p.path(), &["migrate", "run"], &db.url);
    assert!(!run.contains("Applied"), "{run}");

    p.run(&["rollback", "--env", "staging", "--steps", "1"])
        .expect_code(0);
    let info = tool(&sqlx, p.path(), &["migrate", "info"], &db.url);
    assert!(info.contains("20240103000000/pending"), "{info}");
    assert!(info.contains("20240102000000/installed"), "{info}");

    // The way back: sqlx applies it again, and runner takes that row over instead of applying
    // the migration a second time.
    tool(&sqlx, p.path(), &["migrate", "run"], &db.url);
    p.run(&["migrate", "--env", "staging"])
        .expect_code(2)
        .stderr_has("(V20240103000000)");
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("adopted 1 migration(s)");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("nothing to apply: the database is up to date");
}

#[tokio::test]
async fn dbmate_history_is_taken_over_and_mirrored_for_dbmate_status() {
    let db = postgres::fresh_database().await;
    let p = Project::new("postgres", &[("staging", &db.url, "")]);
    let url = format!("{}?sslmode=disable", db.url);
    for (version, name, up, down) in [
        ("20240101000000", "users", USERS, "DROP TABLE users;"),
        ("20240102000000", "orders", ORDERS, "DROP TABLE orders;"),
    ] {
        write(
            &p,
            &format!("{version}_{name}.sql"),
            &format!("-- migrate:up\n{up}\n-- migrate:down\n{down}\n"),
        );
    }
    let dbmate = dbmate();
    let dir = p.migrations().display().to_string();
    let args = |command: &'static str| {
        vec![
            "--migrations-dir",
            dir.as_str(),
            "--no-dump-schema",
            command,
        ]
    };
    tool(&dbmate, p.path(), &args("up"), &url);
    set_toml(&p, "mirror = \"dbmate\"");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(2)
        .stderr_has("holds dbmate's history (schema_migrations)");
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("schema_migrations (dbmate) applied 2 migration(s)");
    write(
        &p,
        "20240103000000_phone.sql",
        &format!("-- migrate:up\n{PHONE}\n-- migrate:down\nALTER TABLE users DROP COLUMN phone;\n"),
    );
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    let status = tool(&dbmate, p.path(), &args("status"), &url);
    assert!(status.contains("[X] 20240103000000_phone.sql"), "{status}");
    assert!(status.contains("Pending: 0"), "{status}");
    p.run(&["rollback", "--env", "staging", "--steps", "1"])
        .expect_code(0);
    let status = tool(&dbmate, p.path(), &args("status"), &url);
    assert!(status.contains("[ ] 20240103000000_phone.sql"), "{status}");
    // dbmate itself takes over again from there.
    tool(&dbmate, p.path(), &args("up"), &url);
    let mut conn = db.connect().await;
    assert_eq!(scalar(&mut conn, "SELECT count(*)::text FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'phone'").await, "1");
}

/// A project whose migrations folder is laid out by `layout`, with the database given the
/// tool's own history table (`ddl`, from the tool's source as named by the caller) and rows.
async fn with_table(files: &[(&str, &str)], ddl: &str) -> (TestDatabase, Project, PgConnection) {
    let db = postgres::fresh_database().await;
    let p = Project::new("postgres", &[("staging", &db.url, "")]);
    for (name, text) in files {
        write(&p, name, text);
    }
    let mut conn = db.connect().await;
    exec(&mut conn, ddl).await;
    (db, p, conn)
}

#[tokio::test]
async fn golang_migrate_dirty_version_is_refused_and_a_clean_one_covers_every_file_up_to_it() {
    // golang-migrate's database/postgres driver: ensureVersionTable.
    let (_db, p, mut conn) = with_table(
        &[
            ("000001_users.up.sql", USERS),
            ("000001_users.down.sql", "DROP TABLE users;\n"),
            ("000002_orders.up.sql", ORDERS),
            ("000002_orders.down.sql", "DROP TABLE orders;\n"),
            ("000003_phone.up.sql", PHONE),
            ("000003_phone.down.sql", "ALTER TABLE users DROP COLUMN phone;\n"),
        ],
        &format!("CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null); INSERT INTO schema_migrations VALUES (2, true); {USERS} {ORDERS}"),
    )
    .await;
    set_toml(&p, "layout = \"golang-migrate\"");
    p.run(&["adopt", "--env", "staging"])
        .expect_code(2)
        .stderr_has("golang-migrate marks version 2 dirty: it failed part-way")
        .stderr_has("`migrate force VERSION`");
    exec(&mut conn, "UPDATE schema_migrations SET dirty = false").await;
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("V1 users")
        .stdout_has("V2 orders")
        .stdout_has("adopted 2 migration(s)");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("applied V3 phone");
}

#[tokio::test]
async fn goose_rows_read_as_goose_does_a_rolled_back_version_stays_pending() {
    // goose's dialect query for PostgreSQL: CreateVersionTable.
    let (_db, p, _conn) = with_table(
        &[
            ("00001_users.sql", &format!("-- +goose Up\n{USERS}-- +goose Down\nDROP TABLE users;\n")),
            ("00002_orders.sql", &format!("-- +goose Up\n{ORDERS}-- +goose Down\nDROP TABLE orders;\n")),
        ],
        &format!("CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id)); \
         INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (2, false); {USERS}"),
    )
    .await;
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("V1 users")
        .stdout_has("adopted 1 migration(s)");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("applied V2 orders");
}

#[tokio::test]
async fn flyway_checksums_are_proven_and_a_failed_row_is_refused() {
    // Flyway's createMetaDataTable.sql for PostgreSQL. The checksums were computed apart from
    // runner (Python's zlib.crc32 over the file's lines, as Flyway reads them).
    let (_db, p, mut conn) = with_table(
        &[
            ("V1__users.sql", USERS),
            ("U1__users.sql", "DROP TABLE users;\n"),
            ("V1.1__orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);\n-- the second line\n"),
            ("U1.1__orders.sql", "DROP TABLE orders;\n"),
            ("V2__phone.sql", PHONE),
            ("U2__phone.sql", "ALTER TABLE users DROP COLUMN phone;\n"),
        ],
        &format!("CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INTEGER, installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(), execution_time INTEGER NOT NULL, success BOOLEAN NOT NULL); \
         INSERT INTO flyway_schema_history VALUES (1, '1', 'users', 'SQL', 'V1__users.sql', 1522480202, 'app', now(), 5, true), (2, '1.1', 'orders', 'SQL', 'V1.1__orders.sql', -1434368572, 'app', now(), 5, false); {USERS}"),
    )
    .await;
    p.run(&["adopt", "--env", "staging"])
        .expect_code(2)
        .stderr_has("Flyway recorded version 1.1 (V1.1__orders.sql) as failed")
        .stderr_has("`flyway repair`");
    exec(
        &mut conn,
        &format!(
            "UPDATE flyway_schema_history SET success = true WHERE installed_rank = 2; {ORDERS}"
        ),
    )
    .await;
    p.run(&["adopt", "--env", "staging", "--dry-run"])
        .expect_code(0)
        .stdout_has("2 migration(s) would be adopted, 2 checksum(s) of the tool proven");
    exec(
        &mut conn,
        "UPDATE flyway_schema_history SET checksum = 42 WHERE installed_rank = 1",
    )
    .await;
    p.run(&["adopt", "--env", "staging"])
        .expect_code(2)
        .stderr_has("V1__users.sql: Flyway recorded checksum 42 for version 1 (V1__users.sql) when it applied it; the file's is now 1522480202");
    exec(
        &mut conn,
        "UPDATE flyway_schema_history SET checksum = 1522480202 WHERE installed_rank = 1",
    )
    .await;
    p.run(&["adopt", "--env", "staging"]).expect_code(0);
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("phone");
}

#[tokio::test]
async fn prisma_checksums_are_proven_and_a_failed_migration_is_refused() {
    // Prisma's migration engine: the _prisma_migrations table for PostgreSQL. The checksum is
    // `sha256sum` of the file, computed apart from runner.
    let (_db, p, mut conn) = with_table(
        &[
            ("20240101000000_users/migration.sql", USERS),
            ("20240101000000_users/down.sql", "DROP TABLE users;\n"),
            ("20240102000000_orders/migration.sql", ORDERS),
            ("20240102000000_orders/down.sql", "DROP TABLE orders;\n"),
            ("migration_lock.toml", "provider = \"postgresql\"\n"),
        ],
        &format!("CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY NOT NULL, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ, migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ, started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INTEGER NOT NULL DEFAULT 0); \
         INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count) VALUES ('a', '4080d474aec016a02e6fac41e775989afa5d6461707f05519c866d0e0cf5e3ad', now(), '20240101000000_users', 1), ('b', '00', NULL, '20240102000000_orders', 0); {USERS}"),
    )
    .await;
    p.run(&["adopt", "--env", "staging"])
        .expect_code(2)
        .stderr_has("Prisma recorded 20240102000000_orders as failed (no finished_at)")
        .stderr_has("npx prisma migrate resolve --applied 20240102000000_orders");
    exec(&mut conn, "DELETE FROM _prisma_migrations WHERE id = 'b'").await;
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("1 checksum(s) of the tool proven");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("applied V20240102000000 orders");
}

#[tokio::test]
async fn diesel_and_refinery_rows_map_to_their_files() {
    // diesel_migrations' setup_migration_table (PostgreSQL).
    let (_db, p, _conn) = with_table(
        &[
            ("2019-02-26-002946_create_users/up.sql", USERS),
            ("2019-02-26-002946_create_users/down.sql", "DROP TABLE users;\n"),
            ("2019-03-01-000000_create_orders/up.sql", ORDERS),
            ("2019-03-01-000000_create_orders/down.sql", "DROP TABLE orders;\n"),
        ],
        &format!("CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); INSERT INTO __diesel_schema_migrations (version) VALUES ('20190226002946'); {USERS}"),
    )
    .await;
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has(
            "V20190226002946 create_users  __diesel_schema_migrations version 20190226002946",
        );
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("applied V20190301000000 create_orders");

    // refinery-core's ASSERT_MIGRATIONS_TABLE; the checksum comes from the refinery crate.
    let checksum = refinery::Migration::unapplied("V1__users", USERS)
        .unwrap()
        .checksum();
    let (_db, p, mut conn) = with_table(
        &[("V1__users.sql", USERS), ("V1__users.down.sql", "DROP TABLE users;\n")],
        &format!("CREATE TABLE IF NOT EXISTS refinery_schema_history (version int4 PRIMARY KEY, name VARCHAR(255), applied_on VARCHAR(255), checksum VARCHAR(255)); INSERT INTO refinery_schema_history VALUES (1, 'users', '2024-01-01T00:00:00Z', '{}'); {USERS}", checksum + 1),
    )
    .await;
    p.run(&["adopt", "--env", "staging"])
        .expect_code(2)
        .stderr_has("V1__users.sql: refinery recorded checksum");
    exec(
        &mut conn,
        &format!("UPDATE refinery_schema_history SET checksum = '{checksum}'"),
    )
    .await;
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("1 checksum(s) of the tool proven");
}

#[tokio::test]
async fn a_row_without_its_file_and_a_protected_environment_are_refused() {
    let db = postgres::fresh_database().await;
    let p = Project::new(
        "postgres",
        &[("production", &db.url, "requires_approval = true")],
    );
    write(&p, "V1__users.sql", USERS);
    write(&p, "V1__users.down.sql", "DROP TABLE users;\n");
    let mut conn = db.connect().await;
    exec(&mut conn, "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); INSERT INTO __diesel_schema_migrations (version) VALUES ('1'), ('7')").await;
    p.run(&["migrate", "--env", "production", "--approve"])
        .expect_code(2)
        .stderr_has("`runner adopt --env production --approve` takes that history over");
    p.run(&["adopt", "--env", "production", "--approve"])
        .expect_code(2)
        .stderr_has("__diesel_schema_migrations version 7: Diesel applied it, but no file in")
        .stderr_has("Restore the file");
    exec(
        &mut conn,
        "DELETE FROM __diesel_schema_migrations WHERE version = '7'",
    )
    .await;
    p.runner()
        .args(["adopt", "--env", "production"])
        .run()
        .expect_code(2)
        .stderr_has("--approve");
    p.run(&["adopt", "--env", "production", "--approve"])
        .expect_code(0);
    let _ = conn.close().await;
}

/// A pipeline deploy is refused before staging is touched when production holds another
/// tool's history runner has not taken over; `plan` shows the same refusal.
#[test]
fn a_deploy_is_refused_before_staging_when_production_holds_another_tools_history() {
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
    write(
        &p,
        "20240101000000_users.up.sql",
        "CREATE TABLE users (id INTEGER PRIMARY KEY);\n",
    );
    write(&p, "20240101000000_users.down.sql", "DROP TABLE users;\n");
    let url = format!("sqlite://{}/production.db", p.path().display());
    let sqlx = sqlx_cli();
    tool(&sqlx, p.path(), &["database", "create"], &url);
    tool(&sqlx, p.path(), &["migrate", "run"], &url);
    p.run(&[
        "deploy",
        "--with-migrations",
        "--version",
        "1.0.0",
        "--approve",
    ])
    .expect_code(2)
    .stderr_has("production: this database holds sqlx's history (_sqlx_migrations)");
    assert!(!p.path().join("staging.db").exists(), "staging was touched");
    p.run(&["plan", "--env", "production"])
        .expect_code(2)
        .stdout_has("`runner adopt --env production --approve`");
    p.run(&["adopt", "--env", "production", "--approve"])
        .expect_code(0);
    p.run(&[
        "deploy",
        "--with-migrations",
        "--version",
        "1.0.0",
        "--approve",
    ])
    .expect_code(0);
}

/// On MariaDB: sqlx's MySQL table (sqlx-mysql's migrate.rs, checksum BLOB) taken over with its
/// SHA-384 proven, and mirrored back with the checksum sqlx would write; goose's MySQL table
/// read with its booleans as MySQL stores them.
#[tokio::test]
async fn sqlx_and_goose_histories_on_mariadb() {
    use sha2::{Digest, Sha384};
    let db = crate::harness::mariadb::fresh_database().await;
    let p = Project::new("mysql", &[("staging", &db.url, "")]);
    let users = "CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(200));\n";
    write(&p, "20240101000000_users.up.sql", users);
    write(&p, "20240101000000_users.down.sql", "DROP TABLE users;\n");
    write(
        &p,
        "20240102000000_phone.up.sql",
        "ALTER TABLE users ADD COLUMN phone VARCHAR(40);\n",
    );
    write(
        &p,
        "20240102000000_phone.down.sql",
        "ALTER TABLE users DROP COLUMN phone;\n",
    );
    let hex: String = Sha384::digest(users.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut conn = db.connect().await;
    for sql in [
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)".to_string(),
        format!("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (20240101000000, 'users', TRUE, X'{hex}', 1)"),
        users.to_string(),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
    }
    set_toml(&p, "mirror = \"sqlx\"");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(2)
        .stderr_has("holds sqlx's history (_sqlx_migrations)");
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("1 checksum(s) of the tool proven");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("applied V20240102000000 phone");
    let phone =
        std::fs::read_to_string(p.migrations().join("20240102000000_phone.up.sql")).unwrap();
    let expected: String = Sha384::digest(phone.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (checksum, success): (String, bool) = sqlx::query_as(
        "SELECT LOWER(HEX(checksum)), success FROM _sqlx_migrations WHERE version = 20240102000000",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((checksum, success), (expected, true));

    // goose's MySQL table (its dialect query): a version goose rolled back stays pending.
    let db = crate::harness::mariadb::fresh_database().await;
    let p = Project::new("mysql", &[("staging", &db.url, "")]);
    write(
        &p,
        "00001_users.sql",
        &format!("-- +goose Up\n{users}-- +goose Down\nDROP TABLE users;\n"),
    );
    write(
        &p,
        "00002_orders.sql",
        "-- +goose Up\nCREATE TABLE orders (id BIGINT PRIMARY KEY);\n-- +goose Down\nDROP TABLE orders;\n",
    );
    let mut conn = db.connect().await;
    for sql in [
        "CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id))",
        "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1), (1, 1), (2, 1), (2, 0)",
        users,
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    p.run(&["adopt", "--env", "staging"])
        .expect_code(0)
        .stdout_has("adopted 1 migration(s)");
    p.run(&["migrate", "--env", "staging"])
        .expect_code(0)
        .stdout_has("applied V2 orders");
}
