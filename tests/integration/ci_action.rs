//! The repository's GitHub Action (action.yml): its check step, run as GitHub runs it, turns
//! findings into annotations; the example workflow uses it and names no placeholder.

use crate::harness::cli::{fixture, repo_root};

/// The `run: |` script of the step named `name` in action.yml.
fn step_script(action: &str, name: &str) -> String {
    let start = action
        .find(&format!("- name: {name}\n"))
        .unwrap_or_else(|| panic!("action.yml has no step {name}"));
    let run = start + action[start..].find("run: |\n").unwrap() + "run: |\n".len();
    action[run..]
        .lines()
        .take_while(|l| l.starts_with("        ") || l.is_empty())
        .map(|l| l.get(8..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_actions_check_step_annotates_findings_and_fails_the_job() {
    let action = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    let script = step_script(&action, "runner check").replace(
        "${{ steps.install.outputs.runner }}",
        env!("CARGO_BIN_EXE_runner"),
    );
    assert!(!script.contains("${{"), "{script}");
    let run = |paths: &str, args: &str| {
        std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(repo_root())
            .env("RUNNER_CHECK_PATHS", paths)
            .env("RUNNER_CHECK_SINCE", "")
            .env("RUNNER_CHECK_ARGS", args)
            .output()
            .unwrap()
    };
    let bad = fixture("lint/postgres_mixed").display().to_string();
    let out = run(&bad, "--dialect postgres");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("::error file="), "{stdout}");
    // A path with a glob character is a word, not a pattern.
    let out = run("fixtures/catalog/valid*", "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clean = tempfile::tempdir().unwrap();
    std::fs::write(
        clean.path().join("V1__t.sql"),
        "CREATE TABLE t (id bigint);\n",
    )
    .unwrap();
    std::fs::write(clean.path().join("V1__t.down.sql"), "DROP TABLE t;\n").unwrap();
    let out = run(&clean.path().display().to_string(), "--dialect postgres");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_example_workflow_uses_the_action_and_names_no_placeholder() {
    let workflow =
        std::fs::read_to_string(repo_root().join(".github/workflows/deploy.yml")).unwrap();
    assert!(workflow.contains("uses: ./"), "{workflow}");
    for placeholder in ["OWNER", "your-org", "<", "example.com/", "@v1"] {
        assert!(
            !workflow.contains(placeholder),
            "the workflow names {placeholder}"
        );
    }
}
