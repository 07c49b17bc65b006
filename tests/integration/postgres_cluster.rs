//! The test harness itself: one real PostgreSQL, a database of its own for each test.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::harness::postgres::{self, PASSWORD};

#[tokio::test]
async fn each_test_gets_its_own_empty_database() {
    let a = postgres::fresh_database().await;
    let b = postgres::fresh_database().await;
    assert_ne!(a.name, b.name);
    let mut conn_a = a.connect().await;
    sqlx::raw_sql("CREATE TABLE only_in_a (id int)")
        .execute(&mut conn_a)
        .await
        .unwrap();
    let mut conn_b = b.connect().await;
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_a'",
    )
    .fetch_one(&mut conn_b)
    .await
    .unwrap();
    assert_eq!(tables, 0);
    let (version,): (String,) = sqlx::query_as("SHOW server_version")
        .fetch_one(&mut conn_a)
        .await
        .unwrap();
    assert!(!version.is_empty());
}

#[tokio::test]
async fn the_server_checks_passwords() {
    let db = postgres::fresh_database().await;
    let wrong = db.url.replace(PASSWORD, "not-the-password");
    let Err(error) = PgConnection::connect(&wrong).await else {
        panic!("a wrong password was accepted");
    };
    assert!(
        error.to_string().contains("password authentication failed"),
        "{error}"
    );
}
