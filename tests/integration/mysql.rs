//! runner on a real MariaDB (the distribution's 10.11, started by the harness on a unix
//! socket): migrate statement by statement (DDL commits by itself there), concurrency, the
//! named lock, verify and rollback (a SIGKILL mid-file: `sigkill.rs`).

use std::process::Stdio;

use sqlx::mysql::MySqlConnection;

use crate::harness::mariadb::{self, TestDatabase};
use crate::harness::project::Project;

fn project_on(db: &TestDatabase, extra: &str) -> Project {
    Project::new("mysql", &[("ci", &db.url, extra)])
}

async fn history(conn: &mut MySqlConnection) -> Vec<(i64, String, String, i32)> {
    sqlx::query_as(
        "SELECT version, name, state, statements_done FROM runner_migrations ORDER BY version",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

async fn tables(conn: &mut MySqlConnection) -> Vec<String> {
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name NOT LIKE 'runner_%'",
    )
    .fetch_all(conn)
    .await
    .unwrap();
    names.sort();
    names
}

#[tokio::test]
async fn migrate_applies_statement_by_statement_and_records_history() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "");
    p.migration(
        "V1__customers",
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(200) NOT NULL);\nCREATE INDEX customers_email ON customers (email);",
        Some("DROP TABLE customers;"),
    )
    .migration(
        "V2__seed",
        "INSERT INTO customers (id, email) VALUES (1, 'a@example.com');",
        Some("DELETE FROM customers WHERE id = 1;"),
    );
    p.run(&["plan", "--env", "ci"])
        .expect_code(0)
        .stdout_has("V1 customers  statement  2 statements")
        .stdout_has("named lock runner:<database>");
    p.run(&["migrate", "--env", "ci"])
        .expect_code(0)
        .stdout_has("applied V2 seed");
    let mut conn = db.connect().await;
    let rows = history(&mut conn).await;
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].2.as_str(), rows[0].3), ("applied", 2), "{rows:?}");
    p.run(&["status", "--env", "ci"])
        .expect_code(0)
        .stdout_has("2 applied, 0 pending");
    p.run(&["history", "--env", "ci"])
        .expect_code(0)
        .stdout_has("migrate");
    // A failure at statement 2 of 3 leaves statement 1 committed: failed_partial, exactly.
    p.migration(
        "V3__half",
        "CREATE TABLE h1 (id INT);\nALTER TABLE nope ADD COLUMN x INT;\nCREATE TABLE h2 (id INT);",
        Some("DROP TABLE h2;\nDROP TABLE h1;"),
    );
    p.run(&["migrate", "--env", "ci"])
        .expect_code(3)
        .stderr_has("V3 half failed at statement 2 of 3")
        .stderr_has("MySQL error 1146");
    let rows = history(&mut conn).await;
    assert_eq!(
        (rows[2].2.as_str(), rows[2].3),
        ("failed_partial", 1),
        "{rows:?}"
    );
    assert!(tables(&mut conn).await.contains(&"h1".to_string()));
    // Fixed, and resumed from statement 2: statement 1 is not run again.
    p.migration(
        "V3__half",
        "CREATE TABLE h1 (id INT);\nCREATE TABLE nope (id INT);\nCREATE TABLE h2 (id INT);",
        Some("DROP TABLE h2;\nDROP TABLE nope;\nDROP TABLE h1;"),
    );
    p.run(&["migrate", "--env", "ci", "--resume", "3"])
        .expect_code(0);
    let rows = history(&mut conn).await;
    assert_eq!((rows[2].2.as_str(), rows[2].3), ("applied", 3), "{rows:?}");
}

#[tokio::test]
async fn eight_runners_at_once_apply_each_of_fifty_migrations_exactly_once() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "");
    for i in 1..=50 {
        p.migration(
            &format!("V{i}__t{i}"),
            &format!("CREATE TABLE t{i} (id INT);\nINSERT INTO t{i} VALUES ({i});"),
            Some(&format!("DROP TABLE t{i};")),
        );
    }
    let children: Vec<_> = (0..8)
        .map(|_| {
            p.command(&["migrate", "--env", "ci", "--lock-wait", "120s"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut conn = db.connect().await;
    let rows = history(&mut conn).await;
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|r| r.2 == "applied"));
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM runner_events WHERE kind = 'migration_applied'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(applied, 50);
    // Each INSERT ran once.
    for i in [1, 25, 50] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM t{i}")))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}

#[tokio::test]
async fn a_held_lock_times_out_naming_the_holder_and_can_be_forced() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "");
    p.migration("V1__a", "CREATE TABLE a (id INT);", Some("DROP TABLE a;"));
    let mut holder = db.connect().await;
    let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(CONCAT('runner:', DATABASE()), 0)")
        .fetch_one(&mut holder)
        .await
        .unwrap();
    assert_eq!(got, Some(1));
    p.run(&["migrate", "--env", "ci", "--lock-wait", "1s"])
        .expect_code(6)
        .stderr_has("could not take the migration lock within 1s: it is held by pid")
        .stderr_has("root");
    p.run(&["lock", "status", "--env", "ci"])
        .expect_code(0)
        .stdout_has("held by pid");
    p.run(&["lock", "release", "--env", "ci", "--force"])
        .expect_code(0)
        .stdout_has("released the migration lock of ci");
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
}

#[tokio::test]
async fn verify_catches_a_column_left_behind_and_a_changed_type_and_rollback_undoes_the_newest() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "");
    p.migration(
        "V1__orders",
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, total INT NOT NULL);",
        Some("DROP TABLE orders;"),
    )
    .migration(
        "V2__note",
        "ALTER TABLE orders ADD COLUMN note VARCHAR(100);",
        // Forgets the column.
        Some("SELECT 1;"),
    )
    .migration(
        "V3__total",
        "-- runner:allow change-column-type the test table has no release reading it\n-- runner:allow mysql-table-copy the test table is small\nALTER TABLE orders MODIFY total BIGINT NOT NULL;",
        // Puts back the wrong type.
        Some("ALTER TABLE orders MODIFY total SMALLINT NOT NULL;"),
    )
    .migration(
        "V4__region",
        "ALTER TABLE orders ADD COLUMN region VARCHAR(20) NOT NULL DEFAULT 'eu';",
        Some("ALTER TABLE orders DROP COLUMN region;"),
    );
    let out = p.run(&["verify", "--database-url", &db.url]).expect_code(1);
    let out = out
        .stdout_has("MISMATCH  V2 note")
        .stdout_has("column orders.note: before (absent), after varchar(100) null")
        .stdout_has("MISMATCH  V3 total")
        .stdout_has("column orders.total: before int(11) not null, after smallint(6) not null");
    assert!(out.stdout.contains("ok        V4 region"), "{out}");
    // No scratch database of this one is left behind (other tests verify on the same server
    // at the same time: their scratch databases are named after theirs).
    let mut conn = db.connect().await;
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.schemata
         WHERE LEFT(schema_name, LENGTH(CONCAT('runner_verify_', DATABASE(), '_'))) = CONCAT('runner_verify_', DATABASE(), '_')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(left, 0);
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    p.run(&["rollback", "--env", "ci", "--steps", "1"])
        .expect_code(0)
        .stdout_has("rolled back V4 region");
    let cols: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'orders' ORDER BY ordinal_position",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(cols, ["id", "total", "note"]);
}

/// A shop written for MySQL (foreign keys, a view, a trigger, a function, dynamic SQL with
/// `PREPARE ... FROM @sql`, `ALGORITHM = INSTANT`, a procedure and a trigger with several
/// statements written between `DELIMITER $$` lines), applied from empty, verified, and rolled
/// all the way back.
#[tokio::test]
async fn the_mysql_shop_corpus_applies_verifies_and_rolls_back() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "");
    let fixture = crate::harness::cli::fixture("mysql_shop");
    let mut count = 0;
    for entry in std::fs::read_dir(&fixture).unwrap().flatten() {
        std::fs::copy(entry.path(), p.migrations().join(entry.file_name())).unwrap();
        count += 1;
    }
    assert_eq!(count, 22);
    p.run(&["check"]).expect_code(0);
    let verified = p.run(&["verify", "--database-url", &db.url]).expect_code(0);
    verified.stdout_has("11 verified: 11 ok, 0 mismatch");
    p.run(&["migrate", "--env", "ci"])
        .expect_code(0)
        .stdout_has("applied V10 shipping_addresses")
        .stdout_has("applied V11 order_procedures");
    let mut conn = db.connect().await;
    assert_eq!(
        tables(&mut conn).await,
        [
            "customers",
            "order_audit",
            "order_items",
            "order_totals",
            "orders",
            "products",
            "shipping_addresses"
        ]
    );
    // The trigger and the function work.
    sqlx::raw_sql("INSERT INTO orders (customer_id) VALUES (1); UPDATE orders SET status = 'paid' WHERE id = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM order_audit")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    let orders: i32 = sqlx::query_scalar("SELECT customer_order_count(1)")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(orders, 1);
    // The DELIMITER file's procedure and trigger, each whole.
    let refused = sqlx::raw_sql("UPDATE orders SET status = 'lost' WHERE id = 1")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("unknown order status"),
        "{refused}"
    );
    sqlx::raw_sql("INSERT INTO orders (customer_id) VALUES (1)")
        .execute(&mut conn)
        .await
        .unwrap();
    let cancelled: i32 = sqlx::query_scalar("CALL cancel_unpaid_orders(1)")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(cancelled, 1);
    sqlx::raw_sql("DELETE FROM orders")
        .execute(&mut conn)
        .await
        .unwrap();
    p.run(&["rollback", "--env", "ci", "--to", "0"])
        .expect_code(0)
        .stdout_has("rolled back V1 customers");
    assert!(tables(&mut conn).await.is_empty());
}

/// sqlparser is not MySQL's grammar: a statement MySQL accepts that it cannot read is a
/// warning in check, and migrate sends it to MySQL.
#[tokio::test]
async fn a_statement_only_runners_parser_cannot_read_is_mysqls_to_judge() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "");
    p.migration(
        "V1__ids",
        "CREATE TABLE ids (identifier VARCHAR(100) NOT NULL);\nALTER TABLE ids MODIFY COLUMN identifier VARCHAR(255) BINARY;",
        Some("DROP TABLE ids;"),
    );
    p.run(&["check"])
        .expect_code(0)
        .stdout_has("warning[parse-error] runner's MySQL parser cannot read this statement, so it was not linted");
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let mut conn = db.connect().await;
    let collation: String = sqlx::query_scalar(
        "SELECT CAST(collation_name AS CHAR) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'ids'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(collation.ends_with("_bin"), "{collation}");
}

#[tokio::test]
async fn deploy_with_migrations_on_mariadb() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "deploy = [\"true\"]\nrollback = [\"true\"]");
    p.migration("V1__a", "CREATE TABLE a (id INT);", Some("DROP TABLE a;"));
    p.run(&[
        "deploy",
        "--env",
        "ci",
        "--version",
        "1.0.0",
        "--with-migrations",
    ])
    .expect_code(0)
    .stdout_has("deployed 1.0.0 to ci");
    p.run(&["status", "--env", "ci"])
        .expect_code(0)
        .stdout_has("version:     1.0.0")
        .stdout_has("1 applied, 0 pending");
    p.run(&["history", "--env", "ci", "--show", "last"])
        .expect_code(0)
        .stdout_has("deploy of 1.0.0 in ci");
}

#[tokio::test]
async fn text_beyond_latin1_is_kept_exactly_and_an_older_latin1_history_is_converted() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "");
    p.migration("V1__a", "CREATE TABLE a (id INT);", Some("DROP TABLE a;"));
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let mut conn = db.connect().await;
    // As an older runner left them: in the server's default character set (latin1 here),
    // which refuses Cyrillic, CJK and emoji.
    for table in ["runner_migrations", "runner_events", "runner_deploys"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {table} CONVERT TO CHARACTER SET latin1"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    // Each file's start is written by the previous file's last transaction: V3's with V2's
    // end, V4's with V3's; V4 then fails at its first statement.
    p.migration(
        "V2__b",
        "-- Привет, 世界 😀\nCREATE TABLE b (id INT, note VARCHAR(20));",
        Some("-- ☃\nDROP TABLE b;"),
    )
    .migration(
        "V3__c",
        "CREATE TABLE c (id INT);\nINSERT INTO c VALUES (1);",
        Some("DROP TABLE c;"),
    )
    .migration("V4__d", "CREATE TABLE a (id INT);", Some("DROP TABLE a;"));
    p.run(&["migrate", "--env", "ci"])
        .expect_code(3)
        .stderr_has("V4 d failed at statement 1 of 1")
        .stderr_has("nothing of V4 d is committed (state failed_clean)");
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT applied_sql, rollback_sql FROM runner_migrations WHERE version = 2")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(stored[0].0.contains("-- Привет, 世界 😀\n"), "{stored:?}");
    assert!(stored[0].1.contains("-- ☃\n"), "{stored:?}");
    let rows = history(&mut conn).await;
    let states: Vec<(i64, &str, i32)> = rows.iter().map(|r| (r.0, r.2.as_str(), r.3)).collect();
    assert_eq!(
        states,
        [
            (1, "applied", 1),
            (2, "applied", 1),
            (3, "applied", 2),
            (4, "failed_clean", 0)
        ]
    );
    let narrow: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name LIKE 'runner_%' AND character_set_name IS NOT NULL AND character_set_name <> 'utf8mb4'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(narrow, 0);
    // Fixed, V4 applies; the stored rollback of V2 (its text exact) undoes V2 after V4 and V3.
    p.migration("V4__d", "CREATE TABLE d (id INT);", Some("DROP TABLE d;"));
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    p.run(&["rollback", "--env", "ci", "--to", "1"])
        .expect_code(0);
    assert_eq!(tables(&mut conn).await, ["a"]);
}

/// On MySQL a migration's end and the next one's start are one two-row statement in the
/// last transaction: each row must keep its own start, attempts and duration.
#[tokio::test]
async fn each_row_keeps_its_own_start_and_attempts_when_the_next_start_rides_on_its_end() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "");
    p.migration(
        "V1__a",
        "CREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);",
        Some("DROP TABLE a;"),
    )
    .migration(
        "V2__b",
        "CREATE TABLE b (id INT);\nDO SLEEP(0.3);\nINSERT INTO b VALUES (1);",
        Some("DROP TABLE b;"),
    )
    .migration(
        "V3__c",
        "CREATE TABLE c (id INT);\nINSERT INTO c VALUES (1);",
        Some("DROP TABLE c;"),
    );
    let rows = async |conn: &mut MySqlConnection| -> Vec<(i64, String, i32, i64, i64, i32)> {
        sqlx::query_as(
            "SELECT version, CAST(state AS CHAR), attempts, duration_ms,
                    CAST(TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) DIV 1000 AS SIGNED),
                    rollback_done
             FROM runner_migrations ORDER BY version",
        )
        .fetch_all(conn)
        .await
        .unwrap()
    };
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let mut conn = db.connect().await;
    let first = rows(&mut conn).await;
    for (version, state, attempts, duration, span, _) in &first {
        assert_eq!((state.as_str(), *attempts), ("applied", 1), "{first:?}");
        // The row's span on the server's clock is its duration (a reset start would make it 0).
        assert!((span - duration).abs() < 150, "V{version}: {first:?}");
    }
    assert!(first[1].3 >= 300 && first[1].4 >= 300, "{first:?}");
    p.run(&["rollback", "--env", "ci", "--to", "1"])
        .expect_code(0);
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let again = rows(&mut conn).await;
    // V3's old row (rolled back) is started again by V2's end: a second attempt, its
    // rollback progress cleared.
    let attempts: Vec<_> = again
        .iter()
        .map(|r| (r.0, r.1.as_str(), r.2, r.5))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, "applied", 1, 0),
            (2, "applied", 2, 0),
            (3, "applied", 2, 0)
        ],
        "{again:?}"
    );
    for (version, _, _, duration, span, _) in &again {
        assert!((span - duration).abs() < 150, "V{version}: {again:?}");
    }
}

/// A rollback killed while MySQL ran `DROP INDEX i ON t` (DDL commits by itself, before runner
/// could record it done): the catalog says the index is gone, so the next run counts the
/// statement done and finishes, where it once asked a person and printed a command that ran
/// the DROP INDEX again and failed on the missing index, forever (found by the fault suite).
#[tokio::test]
async fn a_drop_index_in_flight_at_a_crash_is_settled_from_the_catalog() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "");
    p.migration(
        "V1__t",
        "CREATE TABLE t (tag VARCHAR(10));",
        Some("DROP TABLE t;"),
    )
    .migration(
        "V2__indexed",
        "INSERT INTO t VALUES ('a');\nCREATE INDEX t_tag ON t (tag);",
        Some("DELETE FROM t;\nDROP INDEX t_tag ON t;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let mut conn = db.connect().await;
    // What a SIGKILL during the rollback's second statement leaves: the DELETE committed with
    // its mark, the DROP INDEX done by the server (or not yet), its own mark never written.
    let killed_in_flight = async |conn: &mut MySqlConnection, dropped: bool| {
        let drop = if dropped {
            "DROP INDEX t_tag ON t;"
        } else {
            ""
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DELETE FROM t; {drop}
             UPDATE runner_migrations SET state = 'rolling_back', rollback_done = 1,
                    rollback_total = 2, rollback_in_flight = 2, rollback_target = 1
             WHERE version = 2"
        )))
        .execute(conn)
        .await
        .unwrap();
    };
    killed_in_flight(&mut conn, true).await;
    p.run(&["rollback", "--env", "ci", "--to", "1"])
        .expect_code(0)
        .stderr_has("statement 2 (`DROP INDEX t_tag ON t`) was running when the run stopped; the catalog shows what it does: it completed, and counts as done");
    let rows = history(&mut conn).await;
    assert_eq!(rows[1].2, "rolled_back", "{rows:?}");
    // The other way: the index still there, so the DROP INDEX did not run, and runs now.
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    killed_in_flight(&mut conn, false).await;
    p.run(&["rollback", "--env", "ci", "--to", "1"])
        .expect_code(0)
        .stderr_has("the catalog shows none of what it does: it did not take effect");
    let indexes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = 't_tag'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(indexes, 0);
    assert_eq!(history(&mut conn).await[1].2, "rolled_back");
}

/// Runs `sql` in a transaction on a connection of its own, on a thread of its own, and
/// commits 2.5 s after it returns: what it locks stays locked meanwhile.
fn hold(url: &str, sql: &'static str) -> std::thread::JoinHandle<()> {
    use sqlx::Connection;
    let (url, (held, is_held)) = (url.to_string(), std::sync::mpsc::channel());
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut conn = MySqlConnection::connect(&url).await.unwrap();
            sqlx::raw_sql("START TRANSACTION")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            held.send(()).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
            sqlx::raw_sql("COMMIT").execute(&mut conn).await.unwrap();
        });
    });
    is_held.recv().unwrap();
    thread
}

/// On MySQL a file whose DDL statement comes last or just before the last statement is sent
/// in one query with the rest of it (its own transaction and the row's end). Each statement
/// must still be retried after a lock timeout, reported by number when it fails, and timed.
#[tokio::test]
async fn a_file_sent_in_one_query_still_retries_reports_and_times_each_statement() {
    let db = mariadb::fresh_database().await;
    let p = project_on(&db, "lock_retries = 20");
    p.migration(
        "V1__busy",
        "CREATE TABLE busy (id INT PRIMARY KEY, x INT);\nINSERT INTO busy VALUES (5, 0);",
        Some("DROP TABLE busy;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let mut conn = db.connect().await;
    // A reader's open transaction holds busy's metadata lock: the ALTER (sent with the
    // INSERT after it) times out until the reader ends, 2.5 s later.
    let release = hold(&db.url, "SELECT * FROM busy");
    p.migration(
        "V2__alter",
        "ALTER TABLE busy ADD COLUMN y INT;\nINSERT INTO busy (id, x, y) VALUES (6, 0, 0);",
        Some("DELETE FROM busy WHERE id = 6;\nALTER TABLE busy DROP COLUMN y;"),
    );
    p.run(&["migrate", "--env", "ci"])
        .expect_code(0)
        .stderr_has("V2 alter hit a lock timeout")
        .stdout_has("applied V2 alter");
    release.join().unwrap();
    // A writer holds row 5: the UPDATE after the CREATE TABLE times out (the table stays),
    // and only the UPDATE is tried again.
    let release = hold(&db.url, "UPDATE busy SET x = 1 WHERE id = 5");
    p.migration(
        "V3__touch",
        "CREATE TABLE touched (id INT);\nUPDATE busy SET x = x + 10 WHERE id = 5;",
        Some("UPDATE busy SET x = x - 10 WHERE id = 5;\nDROP TABLE touched;"),
    );
    p.run(&["migrate", "--env", "ci"])
        .expect_code(0)
        .stderr_has("V3 touch hit a lock timeout")
        .stdout_has("applied V3 touch");
    release.join().unwrap();
    let x: i32 = sqlx::query_scalar("SELECT x FROM busy WHERE id = 5")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(x, 11, "the writer's change and V3's, each once");
    // The statement after the DDL fails: the DDL stays done, the failure names statement 2,
    // and a resume runs statement 2 only.
    p.migration(
        "V4__dup",
        "CREATE TABLE dup (id INT PRIMARY KEY);\nINSERT INTO dup VALUES (1), (1);",
        Some("DROP TABLE dup;"),
    );
    p.run(&["migrate", "--env", "ci"])
        .expect_code(3)
        .stderr_has("V4 dup failed at statement 2 of 2")
        .stderr_has("Duplicate entry");
    let rows = history(&mut conn).await;
    assert_eq!(
        (rows[3].2.as_str(), rows[3].3),
        ("failed_partial", 1),
        "{rows:?}"
    );
    p.migration(
        "V4__dup",
        "CREATE TABLE dup (id INT PRIMARY KEY);\nINSERT INTO dup VALUES (1), (2);",
        Some("DROP TABLE dup;"),
    );
    p.run(&["migrate", "--env", "ci", "--resume", "4"])
        .expect_code(0);
    // A file that is one DDL statement that fails: nothing committed, statement 1 named.
    p.migration(
        "V5__missing",
        "ALTER TABLE nope ADD COLUMN y INT;",
        Some("ALTER TABLE nope DROP COLUMN y;"),
    );
    p.run(&["migrate", "--env", "ci"])
        .expect_code(3)
        .stderr_has("V5 missing failed at statement 1 of 1");
    let rows = history(&mut conn).await;
    assert_eq!(
        (rows[4].2.as_str(), rows[4].3),
        ("failed_clean", 0),
        "{rows:?}"
    );
    p.migration(
        "V5__missing",
        "CREATE TABLE nope (id INT);",
        Some("DROP TABLE nope;"),
    );
    // The duration holds the statements that ran in the query with the row's end.
    p.migration(
        "V6__slow",
        "CREATE TABLE slow (id INT);\nINSERT INTO slow SELECT SLEEP(0.4);",
        Some("DROP TABLE slow;"),
    );
    p.run(&["migrate", "--env", "ci"]).expect_code(0);
    let (duration, detail): (i64, String) = sqlx::query_as(
        "SELECT m.duration_ms, CAST(e.detail AS CHAR) FROM runner_migrations m
         JOIN runner_events e ON e.version = m.version AND e.kind = 'migration_applied'
         WHERE m.version = 6",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(duration >= 400, "{duration} {detail}");
    assert!(
        detail.contains(&format!("applied in {duration} ms")),
        "{detail}"
    );
}
