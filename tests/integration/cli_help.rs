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

/// Completions and the man page come from the command line itself: every subcommand is in
/// them, and bash accepts the script.
#[test]
fn completions_and_the_man_page_are_generated_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let bash = Runner::new(dir.path())
        .args(["completions", "bash"])
        .run()
        .expect_code(0);
    for sub in ["deploy", "rollback", "recover", "wait", "flag"] {
        assert!(bash.stdout.contains(sub), "bash completions lack {sub}");
    }
    let script = dir.path().join("runner.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(syntax.success(), "bash -n rejects the completion script");
    for shell in ["zsh", "fish"] {
        let out = Runner::new(dir.path())
            .args(["completions", shell])
            .run()
            .expect_code(0);
        assert!(out.stdout.contains("deploy"), "{shell}: {out}");
    }
    Runner::new(dir.path())
        .args(["completions", "tcsh"])
        .run()
        .expect_code(2);
    let man = Runner::new(dir.path()).args(["man"]).run().expect_code(0);
    assert!(man.stdout.contains(".TH runner 1"), "{man}");
    assert!(man.stdout.contains("deploy"), "{man}");
}
