//! The example project at the repository root: the README's main command runs on it.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use crate::harness::cli::{Runner, repo_root, table_row};

#[test]
fn the_example_catalog_is_valid_and_fully_paired() {
    let out = Runner::new(repo_root())
        .args(["catalog"])
        .run()
        .expect_code(0);
    assert!(
        out.stdout
            .contains("7 migrations: 7 paired, 0 irreversible, 0 missing a rollback"),
        "{out}"
    );
    assert!(out.stderr.is_empty(), "{out}");
}

#[test]
fn the_example_config_has_staging_then_production_on_sqlite() {
    let out = Runner::new(repo_root())
        .args(["config"])
        .run()
        .expect_code(0);
    assert_eq!(table_row(&out.stdout, "dialect")[1], "sqlite");
    assert_eq!(
        table_row(&out.stdout, "pipeline")[1],
        "staging -> production"
    );
    assert_eq!(
        table_row(&out.stdout, "production.requires_approval")[1],
        "true"
    );
}

/// Every forward script applies in order on a real SQLite file, and the rollbacks, newest
/// first, leave an empty schema. (`runner verify` will prove more; this guards the example.)
#[tokio::test]
async fn every_example_migration_applies_and_rolls_back_on_sqlite() {
    let catalog = runner::catalog::Catalog::load(&repo_root().join("migrations")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut conn: SqliteConnection = SqliteConnectOptions::new()
        .filename(tmp.path().join("example.db"))
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    for m in &catalog.migrations {
        sqlx::raw_sql(sqlx::AssertSqlSafe(m.forward.sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", m.forward.file_name));
    }
    assert!(schema_objects(&mut conn).await >= 7);
    for m in catalog.migrations.iter().rev() {
        let down = m
            .rollback
            .as_ref()
            .expect("every example migration is paired");
        sqlx::raw_sql(sqlx::AssertSqlSafe(down.sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", down.file_name));
    }
    assert_eq!(schema_objects(&mut conn).await, 0);
    conn.close().await.unwrap();
}

async fn schema_objects(conn: &mut SqliteConnection) -> usize {
    sqlx::query_as::<_, (String,)>("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        .fetch_all(conn)
        .await
        .unwrap()
        .len()
}
