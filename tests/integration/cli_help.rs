//! `runner --help` explains what runner is; every command's help carries an example.

use crate::harness::cli::{Runner, repo_root};

#[test]
fn top_level_help_explains_runner_and_its_exit_codes() {
    Runner::new(repo_root())
        .args(["--help"])
        .run()
        .expect_code(0)
        .stdout_has("migration-aware deploy runner")
        .stdout_has("V{version}__{name}.down.sql")
        .stdout_has("Exit codes: 0 ok")
        .stdout_has("runner new add_customer_email");
}

#[test]
fn every_command_has_an_example() {
    for command in [
        "deploy", "rollback", "status", "history", "migrate", "plan", "verify", "lock", "check",
        "explain", "new", "catalog", "config",
    ] {
        Runner::new(repo_root())
            .args([command, "--help"])
            .run()
            .expect_code(0)
            .stdout_has("Example:")
            .stdout_has(&format!("$ runner {command}"));
    }
}

#[test]
fn an_unknown_command_or_flag_is_a_usage_error() {
    Runner::new(repo_root())
        .args(["deploy-everything"])
        .run()
        .expect_code(2)
        .stderr_has("unrecognized subcommand");
    Runner::new(repo_root())
        .args(["catalog", "--format", "yaml"])
        .run()
        .expect_code(2)
        .stderr_has("invalid value 'yaml'");
}

#[test]
fn explain_lists_every_rule_and_prints_each_documentation() {
    let list = Runner::new(repo_root())
        .args(["explain"])
        .run()
        .expect_code(0);
    for rule in runner::lint::Rule::ALL {
        assert!(
            list.stdout.contains(rule.id()),
            "{} missing from\n{list}",
            rule.id()
        );
        Runner::new(repo_root())
            .args(["explain", rule.id()])
            .run()
            .expect_code(0)
            .stdout_has(&format!("# {}", rule.id()))
            .stdout_has("## Why is this bad?")
            .stdout_has("## Example");
    }
    Runner::new(repo_root())
        .args(["explain", "drop-col"])
        .run()
        .expect_code(2)
        .stderr_has("no rule `drop-col` (did you mean drop-column?)");
}
