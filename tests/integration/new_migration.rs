//! `runner new NAME` creates the next migration and its rollback, padded like its neighbours.

use std::path::Path;

use crate::harness::cli::{Output, Runner};

fn project(files: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("runner.toml"),
        "[environments.staging]\ndatabase_url = \"sqlite://staging.db\"\n",
    )
    .unwrap();
    let dir = tmp.path().join("migrations");
    std::fs::create_dir(&dir).unwrap();
    for f in files {
        std::fs::write(dir.join(f), "SELECT 1;\n").unwrap();
    }
    tmp
}

fn new(root: &Path, args: &[&str]) -> Output {
    Runner::new(root).args(["new"]).args(args).run()
}

fn listing(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_first_migration_gets_four_digits_and_a_rollback() {
    let p = project(&[]);
    new(p.path(), &["create_users"])
        .expect_code(0)
        .stdout_has("created ")
        .stdout_has("V0001__create_users.down.sql");
    assert_eq!(
        listing(p.path()),
        ["V0001__create_users.down.sql", "V0001__create_users.sql"]
    );
    // The scaffold is a valid, paired catalog entry.
    Runner::new(p.path())
        .args(["catalog"])
        .run()
        .expect_code(0)
        .stdout_has("paired");
}

#[test]
fn the_next_version_is_padded_like_the_existing_files() {
    let p = project(&[
        "V001__a.sql",
        "V001__a.down.sql",
        "V002__b.sql",
        "V002__b.down.sql",
    ]);
    new(p.path(), &["add_email"]).expect_code(0);
    assert!(listing(p.path()).contains(&"V003__add_email.sql".to_string()));

    let p = project(&["V9__a.sql", "V9__a.down.sql"]);
    new(p.path(), &["b"]).expect_code(0);
    assert!(listing(p.path()).contains(&"V10__b.down.sql".to_string()));
}

#[test]
fn a_name_outside_lowercase_digits_and_underscores_is_refused() {
    let p = project(&[]);
    new(p.path(), &["Add-Email"])
        .expect_code(2)
        .stderr_has("`Add-Email` is not a migration name: use lower-case letters, digits and underscores, e.g. `add_email`");
    new(p.path(), &["add email"]).expect_code(2);
    new(p.path(), &[""]).expect_code(2);
    assert!(listing(p.path()).is_empty());
}

#[test]
fn irreversible_creates_no_rollback_and_records_the_reason() {
    let p = project(&[]);
    new(
        p.path(),
        &["drop_legacy", "--irreversible", "legacy rows were archived"],
    )
    .expect_code(0);
    assert_eq!(listing(p.path()), ["V0001__drop_legacy.sql"]);
    Runner::new(p.path())
        .args(["catalog"])
        .run()
        .expect_code(0)
        .stdout_has("irreversible: legacy rows were archived");
}

#[test]
fn a_folder_with_problems_must_be_fixed_first() {
    // A lone `U` file reads as a Flyway undo with no versioned migration.
    let p = project(&["U0001__undo.sql"]);
    new(p.path(), &["next"])
        .expect_code(2)
        .stderr_has("U0001__undo.sql: has no versioned migration V0001__undo.sql");
    assert_eq!(listing(p.path()), ["U0001__undo.sql"]);
}

#[test]
fn a_missing_migrations_folder_is_created() {
    let p = project(&[]);
    std::fs::remove_dir(p.path().join("migrations")).unwrap();
    new(p.path(), &["first"]).expect_code(0);
    assert_eq!(listing(p.path()).len(), 2);
}

/// `runner init` in a project folder: its migrations folder found, the dialect read from
/// DATABASE_URL, a commented runner.toml that `check` and `config` then use; never overwritten.
#[test]
fn init_writes_a_runner_toml_that_check_and_config_use_and_never_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("db/migrations")).unwrap();
    std::fs::write(
        dir.path().join("db/migrations/V1__users.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("db/migrations/V1__users.down.sql"),
        "DROP TABLE users;\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Runner::new(dir.path())
            .args(args)
            .env("DATABASE_URL", "postgresql://app@localhost/app")
            .run()
    };
    run(&["init"])
        .expect_code(0)
        .stdout_has("found db/migrations/ (1 migration(s)")
        .stdout_has("dialect postgres (from DATABASE_URL)");
    let toml = std::fs::read_to_string(dir.path().join("runner.toml")).unwrap();
    assert!(toml.contains("dir = \"db/migrations\""), "{toml}");
    assert!(toml.contains("requires_approval = true"), "{toml}");
    run(&["init"])
        .expect_code(2)
        .stderr_has("runner init never overwrites it");
    run(&["check"]).expect_code(0).stdout_has("2 files checked");
    Runner::new(dir.path())
        .args(["config"])
        .env("STAGING_DATABASE_URL", "postgres://app@localhost/staging")
        .env(
            "PRODUCTION_DATABASE_URL",
            "postgres://app@localhost/production",
        )
        .run()
        .expect_code(0)
        .stdout_has("production.requires_approval  true")
        .stdout_has("runner.toml line");
    // Without the variables, config says what cannot be used, and fails.
    run(&["config"])
        .expect_code(2)
        .stderr_has("STAGING_DATABASE_URL is not set");
}
