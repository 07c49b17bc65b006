//! `runner check`: exit codes, every output format (snapshots), `--since` on a real git
//! repository, suppressions, and working without a runner.toml.

use std::path::Path;
use std::process::Command;

use crate::harness::cli::{Output, Runner, repo_root};

const MIXED: &str = "fixtures/lint/postgres_mixed";

fn check(args: &[&str]) -> Output {
    Runner::new(repo_root()).args(["check"]).args(args).run()
}

#[test]
fn human_output_lists_each_finding_with_help_and_a_summary() {
    let out = check(&["--dialect", "postgres", MIXED]).expect_code(1);
    insta::assert_snapshot!("check_human", out.stdout);
}

#[test]
fn json_output_follows_the_documented_schema_and_agrees_with_the_exit_code() {
    let out = check(&["--dialect", "postgres", "--format", "json", MIXED]).expect_code(1);
    insta::assert_snapshot!("check_json", out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["files_checked"], 13);
    let findings = doc["findings"].as_array().unwrap();
    for f in findings {
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "column", "file", "help", "line", "message", "rule", "severity"
            ]
        );
    }
    assert!(findings.iter().any(|f| f["severity"] == "error"));
}

#[test]
fn github_output_is_workflow_annotations() {
    let out = check(&["--dialect", "postgres", "--format", "github", MIXED]).expect_code(1);
    insta::assert_snapshot!("check_github", out.stdout);
    assert!(
        out.stdout
            .lines()
            .all(|l| l.starts_with("::error ") || l.starts_with("::warning "))
    );
    out.stderr_has("10 errors, 0 warnings in 13 files");
}

#[test]
fn the_example_project_passes_the_gate() {
    check(&[])
        .expect_code(0)
        .stdout_has("ok: 14 files checked, no problems");
}

#[test]
fn warnings_alone_exit_zero_and_catalog_problems_exit_one() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("V1__a.sql"),
        "-- runner:allow-file truncate not needed\nSELECT 1;\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("V1__a.down.sql"), "SELECT 1;\n").unwrap();
    Runner::new(tmp.path())
        .args(["check", "."])
        .run()
        .expect_code(0)
        .stdout_has("warning[unused-suppression]")
        .stdout_has("0 errors, 1 warning in 2 files");
    // The catalog's layout problems are findings of the process rules.
    check(&["fixtures/catalog/undo_prefix"])
        .expect_code(1)
        .stdout_has("error[invalid-migration-name] a `U` prefix is not supported");
    check(&["fixtures/catalog/duplicate_version"])
        .expect_code(1)
        .stdout_has("error[duplicate-version]");
}

#[test]
fn a_single_file_is_checked_without_a_runner_toml() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("V1__drop.sql"),
        "ALTER TABLE users DROP COLUMN email;\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("V1__drop.down.sql"),
        "ALTER TABLE users ADD COLUMN email text;\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("V2__ok.sql"), "SELECT 1;\n").unwrap();
    Runner::new(tmp.path())
        .args(["check", "V1__drop.sql"])
        .run()
        .expect_code(1)
        .stdout_has("./V1__drop.sql:1:1: error[drop-column]")
        .stdout_has("in 2 files");
}

#[test]
fn usage_errors_exit_two() {
    check(&["no/such/folder"])
        .expect_code(2)
        .stderr_has("no/such/folder");
    let tmp = tempfile::tempdir().unwrap();
    Runner::new(tmp.path())
        .args(["check"])
        .run()
        .expect_code(2)
        .stderr_has("no runner.toml");
    check(&["--dialect", "oracle", MIXED]).expect_code(2);
}

#[test]
fn lint_disable_in_runner_toml_turns_rules_off_and_rejects_unknown_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("V1__t.sql"), "TRUNCATE sessions;\n").unwrap();
    std::fs::write(dir.join("V1__t.down.sql"), "SELECT 1;\n").unwrap();
    let toml = |disable: &str| format!("[lint]\ndisable = [{disable}]\n");
    std::fs::write(tmp.path().join("runner.toml"), toml("\"truncate\"")).unwrap();
    Runner::new(tmp.path()).args(["check"]).run().expect_code(0);
    std::fs::write(tmp.path().join("runner.toml"), toml("\"truncates\"")).unwrap();
    Runner::new(tmp.path())
        .args(["check"])
        .run()
        .expect_code(2)
        .stderr_has("runner.toml:2:12: lint.disable: unknown rule `truncates`");
}

#[test]
fn lint_mysql_version_decides_which_column_additions_are_instant() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("V1__t.sql"), "CREATE TABLE t (id INT);\n").unwrap();
    std::fs::write(dir.join("V1__t.down.sql"), "DROP TABLE t;\n").unwrap();
    std::fs::write(
        dir.join("V2__note.sql"),
        "ALTER TABLE t ADD COLUMN note TEXT FIRST;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("V2__note.down.sql"),
        "ALTER TABLE t DROP COLUMN note;\n",
    )
    .unwrap();
    let toml = |version: &str| {
        format!("[migrations]\ndialect = \"mysql\"\n[lint]\nmysql_version = \"{version}\"\n")
    };
    std::fs::write(tmp.path().join("runner.toml"), toml("mariadb 10.11")).unwrap();
    Runner::new(tmp.path()).args(["check"]).run().expect_code(0);
    std::fs::write(tmp.path().join("runner.toml"), toml("8.0.28")).unwrap();
    Runner::new(tmp.path())
        .args(["check"])
        .run()
        .expect_code(1)
        .stdout_has("mysql-table-copy")
        .stdout_has("adds column note FIRST (MySQL 8.0.28 adds a column instantly only at the end");
    std::fs::write(tmp.path().join("runner.toml"), toml("eight")).unwrap();
    Runner::new(tmp.path())
        .args(["check"])
        .run()
        .expect_code(2)
        .stderr_has(
            "runner.toml:4:17: lint.mysql_version: `eight` is not a MySQL or MariaDB version",
        );
}

#[test]
fn suppressions_silence_one_statement_and_need_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("V1__a.sql"),
        "-- runner:allow truncate sessions are disposable\nTRUNCATE sessions;\nTRUNCATE carts;\n-- runner:allow drop-column\nALTER TABLE users DROP COLUMN x;\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("V1__a.down.sql"), "SELECT 1;\n").unwrap();
    let out = Runner::new(tmp.path())
        .args(["check", "."])
        .run()
        .expect_code(1);
    assert!(
        out.stdout
            .contains("./V1__a.sql:3:1: error[truncate] truncates carts"),
        "{out}"
    );
    assert!(!out.stdout.contains("truncates sessions"), "{out}");
    assert!(
        out.stdout
            .contains("./V1__a.sql:4:1: error[invalid-suppression]"),
        "{out}"
    );
    assert!(out.stdout.contains("error[drop-column]"), "{out}");
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

#[test]
fn since_lints_only_what_changed_since_the_ref() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dir = root.join("migrations");
    std::fs::create_dir(&dir).unwrap();
    // Already applied: dangerous but merged long ago.
    std::fs::write(dir.join("V1__old.sql"), "TRUNCATE sessions;\n").unwrap();
    std::fs::write(dir.join("V1__old.down.sql"), "SELECT 1;\n").unwrap();
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "base"]);
    // The pull request: one committed change, one untracked file.
    std::fs::write(
        dir.join("V2__new.sql"),
        "ALTER TABLE users DROP COLUMN email;\n",
    )
    .unwrap();
    std::fs::write(dir.join("V2__new.down.sql"), "SELECT 1;\n").unwrap();
    git(
        root,
        &[
            "add",
            "migrations/V2__new.sql",
            "migrations/V2__new.down.sql",
        ],
    );
    git(root, &["commit", "-q", "-m", "pr"]);
    std::fs::write(dir.join("V3__wip.sql"), "UPDATE orders SET a = 1;\n").unwrap();
    std::fs::write(dir.join("V3__wip.down.sql"), "SELECT 1;\n").unwrap();

    let out = Runner::new(root)
        .args(["check", "migrations", "--since", "HEAD~1"])
        .run()
        .expect_code(1);
    assert!(out.stdout.contains("error[drop-column]"), "{out}");
    assert!(out.stdout.contains("error[unbatched-backfill]"), "{out}");
    assert!(!out.stdout.contains("error[truncate]"), "{out}");
    assert!(out.stdout.contains("in 4 files"), "{out}");

    Runner::new(root)
        .args(["check", "migrations", "--since", "no-such-ref"])
        .run()
        .expect_code(2)
        .stderr_has("--since no-such-ref: not a commit");
}

#[test]
fn sqlite_pragmas_and_triggers_are_not_parse_errors() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("V1__a.sql"),
        "PRAGMA foreign_keys = ON;\nCREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER);\nCREATE TRIGGER a_n AFTER INSERT ON a BEGIN UPDATE a SET n = 1 WHERE id = NEW.id; END;\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("V1__a.down.sql"), "DROP TABLE a;\n").unwrap();
    Runner::new(tmp.path())
        .args(["check", "--dialect", "sqlite", "."])
        .run()
        .expect_code(0);
}

#[test]
fn runner_dialect_applies_without_a_runner_toml() {
    // MySQL's DELIMITER lines: a file only runner's MySQL splitter reads.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("V1__p.sql"),
        "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; END //\nDELIMITER ;\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("V1__p.down.sql"), "DROP PROCEDURE p;\n").unwrap();
    let run = |vars: &[(&str, &str)]| {
        let mut runner = Runner::new(tmp.path()).args(["check", "."]);
        for (k, v) in vars {
            runner = runner.env(k, v);
        }
        runner.run()
    };
    let as_postgres = run(&[]);
    assert_ne!(as_postgres.code, 0, "{}", as_postgres.all());
    run(&[("RUNNER_DIALECT", "mysql")]).expect_code(0);
    // The flag wins over the variable.
    let flagged = Runner::new(tmp.path())
        .args(["check", "--dialect", "postgres", "."])
        .env("RUNNER_DIALECT", "mysql")
        .run();
    assert_ne!(flagged.code, 0, "{}", flagged.all());
    run(&[("RUNNER_DIALECT", "oracle")])
        .expect_code(2)
        .stderr_has("RUNNER_DIALECT");
}
