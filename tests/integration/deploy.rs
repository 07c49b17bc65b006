//! `runner deploy`, the application `runner rollback`, `runner history`: end to end through
//! the real binary, the demo app on 127.0.0.1 and real databases.

use std::process::Stdio;
use std::time::Duration;

use crate::harness::cli::repo_root;
use crate::harness::postgres::{self, PASSWORD};
use crate::harness::shop::{EnvSpec, Shop, free_port, sqlite_shop};

#[test]
fn the_happy_path_deploys_through_both_environments() {
    let shop = sqlite_shop(true);
    let out = shop
        .run(&[
            "deploy",
            "--with-migrations",
            "--version",
            "1.0.0",
            "--approve",
        ])
        .expect_code(0);
    for phase in [
        "gate",
        "approval",
        "lock",
        "migrations",
        "deploy",
        "health",
        "smoke",
    ] {
        assert!(
            out.stdout.contains(&format!("  {phase:<22} ")),
            "no {phase} phase\n{out}"
        );
    }
    assert!(out.stdout.contains("deployed 1.0.0 to staging"), "{out}");
    assert!(out.stdout.contains("deployed 1.0.0 to production"), "{out}");
    assert_eq!(shop.serving(0).as_deref(), Some("1.0.0"));
    assert_eq!(shop.serving(1).as_deref(), Some("1.0.0"));
    let production = shop.history("production");
    assert_eq!(production.len(), 1);
    assert_eq!(production[0]["result"], "succeeded");
    assert_eq!(production[0]["migrations"], serde_json::json!([1]));
    assert!(production[0]["approved_by"].is_string());
    let phases: Vec<&str> = production[0]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "gate",
            "approval",
            "lock",
            "migrations",
            "deploy",
            "health",
            "smoke"
        ]
    );
    shop.run(&["status", "--env", "production"])
        .expect_code(0)
        .stdout_has("version:     1.0.0");
}

#[test]
fn an_unhealthy_version_is_rolled_back_automatically_with_exit_4() {
    let shop = sqlite_shop(false);
    shop.run(&[
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        "1.0.0",
    ])
    .expect_code(0);
    shop.runner(&["deploy", "--env", "staging", "--version", "2.0.0"])
        .env("DEMO_BEHAVIOR", "2.0.0=unhealthy")
        .run()
        .expect_code(4)
        .stderr_has("deploying 2.0.0 to staging failed: 2.0.0 is unhealthy: 3 consecutive failures, last: HTTP 503 (unhealthy); 1.0.0 is serving again");
    assert_eq!(shop.serving(0).as_deref(), Some("1.0.0"));
    let history = shop.history("staging");
    assert_eq!(history[0]["version"], "2.0.0");
    assert_eq!(history[0]["result"], "rolled_back");
    assert!(history[0]["recovery_ms"].as_i64().unwrap() > 0);
    assert_eq!(history[1]["result"], "succeeded");
}

#[test]
fn a_failing_smoke_hook_rolls_back_too() {
    let shop = sqlite_shop(true);
    shop.run(&[
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        "1.0.0",
    ])
    .expect_code(0);
    // A smoke test that fails for the new release.
    let toml_path = shop.path().join("runner.toml");
    let toml = std::fs::read_to_string(&toml_path).unwrap();
    let smoke = repo_root().join("scripts/smoke.sh").display().to_string();
    let toml = toml.replacen(
        &format!("smoke = [\"{smoke}\""),
        "smoke = [\"false\", \"{version}\"",
        1,
    );
    std::fs::write(&toml_path, toml).unwrap();
    shop.run(&["deploy", "--env", "staging", "--version", "1.1.0"])
        .expect_code(4)
        .stderr_has("the smoke hook failed (exit status: 1); 1.0.0 is serving again");
    assert_eq!(shop.serving(0).as_deref(), Some("1.0.0"));
    assert_eq!(shop.history("staging")[0]["result"], "rolled_back");
}

#[test]
fn a_version_that_never_answers_times_out_and_is_rolled_back() {
    let shop = sqlite_shop(false);
    shop.run(&[
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        "1.0.0",
    ])
    .expect_code(0);
    shop.runner(&["deploy", "--env", "staging", "--version", "3.0.0"])
        .env("DEMO_BEHAVIOR", "3.0.0=down")
        .run()
        .expect_code(4)
        .stderr_has("3.0.0 never became healthy within 4s");
    assert_eq!(shop.serving(0).as_deref(), Some("1.0.0"));
}

#[test]
fn production_is_refused_before_staging_and_without_approval() {
    let shop = sqlite_shop(false);
    shop.run(&[
        "deploy",
        "--env",
        "production",
        "--with-migrations",
        "--version",
        "1.0.0",
        "--approve",
    ])
    .expect_code(2)
    .stderr_has("version 1.0.0 has not been deployed successfully to staging");
    shop.run(&[
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        "1.0.0",
    ])
    .expect_code(0);
    shop.run(&[
        "deploy",
        "--env",
        "production",
        "--with-migrations",
        "--version",
        "1.0.0",
    ])
    .expect_code(2)
    .stderr_has("production requires approval: pass --approve");
    shop.runner(&[
        "deploy",
        "--env",
        "production",
        "--with-migrations",
        "--version",
        "1.0.0",
        "--approve",
    ])
    .env("RUNNER_APPROVED_BY", "carol")
    .run()
    .expect_code(0);
    assert_eq!(shop.history("production")[0]["approved_by"], "carol");
}

#[test]
fn a_second_deploy_at_once_waits_then_fails_with_exit_6_naming_the_holder() {
    let shop = sqlite_shop(false);
    shop.run(&[
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        "1.0.0",
    ])
    .expect_code(0);
    // A slow deploy: the app of this version answers health checks only after 3 s each.
    let mut first = shop.command(&["deploy", "--env", "staging", "--version", "1.1.0"]);
    first
        .env("DEMO_BEHAVIOR", "1.1.0=slow")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut first = first.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    shop.run(&[
        "deploy",
        "--env",
        "staging",
        "--version",
        "1.2.0",
        "--lock-wait",
        "500ms",
    ])
    .expect_code(6)
    .stderr_has("could not take the migration lock within 500ms: it is held by pid")
    .stderr_has("runner deploy --env staging --version 1.1.0");
    let _ = first.wait();
}

#[tokio::test]
async fn on_postgres_hooks_get_the_contract_and_never_the_database_password() {
    let staging = postgres::fresh_database().await;
    let production = postgres::fresh_database().await;
    let shop = Shop::new(
        "postgres",
        &[
            EnvSpec {
                name: "staging",
                url: staging.url.clone(),
                extra: "",
            },
            EnvSpec {
                name: "production",
                url: "${PROD_DB}".into(),
                extra: "",
            },
        ],
        false,
    );
    // A deploy hook that records its environment, then deploys as usual.
    let dump = shop.path().join("hook-env.txt");
    let wrapper = shop.path().join("deploy-and-dump.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nenv > {}\nexec {} \"$@\"\n",
            dump.display(),
            repo_root().join("scripts/deploy.sh").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let toml = std::fs::read_to_string(shop.path().join("runner.toml")).unwrap();
    let toml = toml.replace(
        &repo_root().join("scripts/deploy.sh").display().to_string(),
        &wrapper.display().to_string(),
    );
    std::fs::write(shop.path().join("runner.toml"), toml).unwrap();

    let out = shop
        .runner(&["deploy", "--with-migrations", "--version", "1.0.0"])
        .env("PROD_DB", &production.url)
        .env("UNRELATED_SECRET_COPY", &format!("x{PASSWORD}x"))
        .run();
    let out = out.expect_code(0);
    assert!(!out.all().contains(PASSWORD), "{out}");
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(
        !env.contains(PASSWORD),
        "a hook saw the database password:\n{env}"
    );
    assert!(!env.contains("PROD_DB="), "{env}");
    for line in [
        "RUNNER_ENV=production",
        "RUNNER_VERSION=1.0.0",
        "RUNNER_PREVIOUS_VERSION=",
        "RUNNER_PHASE=deploy",
    ] {
        assert!(
            env.lines().any(|l| l == line || l.starts_with(line)),
            "missing {line} in\n{env}"
        );
    }
    assert!(
        env.lines().any(|l| l.starts_with("RUNNER_DEPLOY_ID=")),
        "{env}"
    );
    let mut conn = production.connect().await;
    let (result, migrations): (String, String) =
        sqlx::query_as("SELECT result, migrations FROM runner_deploys")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((result.as_str(), migrations.as_str()), ("succeeded", "[1]"));
}

#[test]
fn rollback_to_an_earlier_version_and_a_forced_rollback_are_recorded() {
    let shop = sqlite_shop(false);
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        shop.run(&[
            "deploy",
            "--env",
            "staging",
            "--with-migrations",
            "--version",
            v,
        ])
        .expect_code(0);
    }
    shop.run(&["rollback", "--env", "staging", "--version", "1.0.0"])
        .expect_code(0)
        .stdout_has("health                 healthy");
    assert_eq!(shop.serving(0).as_deref(), Some("1.0.0"));
    shop.run(&["rollback", "--env", "staging", "--version", "9.9.9"])
        .expect_code(2)
        .stderr_has("9.9.9 never ran successfully in staging");
    shop.run(&[
        "rollback",
        "--env",
        "staging",
        "--version",
        "1.1.0",
        "--force",
    ])
    .expect_code(2)
    .stderr_has("pass --yes to confirm");
    shop.run(&[
        "rollback",
        "--env",
        "staging",
        "--version",
        "1.1.0",
        "--force",
        "--yes",
    ])
    .expect_code(0)
    .stdout_has("skipped (forced)");
    let history = shop.history("staging");
    assert_eq!(
        (
            history[0]["kind"].as_str(),
            history[0]["version"].as_str(),
            history[0]["forced"].as_bool()
        ),
        (Some("rollback"), Some("1.1.0"), Some(true))
    );
    assert_eq!(
        (
            history[1]["kind"].as_str(),
            history[1]["version"].as_str(),
            history[1]["forced"].as_bool()
        ),
        (Some("rollback"), Some("1.0.0"), Some(false))
    );
    shop.run(&["history", "--env", "staging"])
        .expect_code(0)
        .stdout_has("succeeded (forced)");
    // The app rollback without --version goes to the release before the current one.
    shop.run(&["rollback", "--env", "staging"]).expect_code(0);
    assert_eq!(shop.serving(0).as_deref(), Some("1.0.0"));
}

#[test]
fn the_readme_main_command_runs_the_example_project() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo_root();
    for dir in ["migrations", "scripts"] {
        std::fs::create_dir(tmp.path().join(dir)).unwrap();
        for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), tmp.path().join(dir).join(entry.file_name())).unwrap();
            }
        }
    }
    // The example's ports are fixed (staging 18081; production's HAProxy 18080 in front of
    // 18083 and 18084); give this copy its own.
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let mut toml = std::fs::read_to_string(root.join("runner.toml")).unwrap();
    for (fixed, port) in ["18081", "18080", "18083", "18084"].iter().zip(&ports) {
        toml = toml.replace(fixed, &port.to_string());
    }
    std::fs::write(tmp.path().join("runner.toml"), toml).unwrap();
    let shop = Shop::adopt(tmp, vec![ports[0], ports[1]]);
    shop.run(&[
        "deploy",
        "--with-migrations",
        "--version",
        "1.0.0",
        "--approve",
    ])
    .expect_code(0)
    .stdout_has("deployed 1.0.0 to production");
    // Production answers through its HAProxy.
    assert_eq!(shop.serving(1).as_deref(), Some("1.0.0"));
    let status = shop.run(&["status", "--env", "production"]).expect_code(0);
    status.stdout_has("green (slot green) 1.0.0  weight 256 ready");
}

#[test]
fn json_output_is_one_event_per_line_and_status_reports_the_deploy() {
    let shop = sqlite_shop(false);
    let out = shop
        .run(&[
            "deploy",
            "--env",
            "staging",
            "--with-migrations",
            "--version",
            "1.0.0",
            "--format",
            "json",
        ])
        .expect_code(0);
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["event"], "deploy_started");
    assert_eq!(events.last().unwrap()["event"], "deploy_succeeded");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "applied" && e["version"] == 1)
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "phase" && e["phase"]["phase"] == "health")
    );
    let status = shop
        .run(&["status", "--env", "staging", "--format", "json"])
        .expect_code(0);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["current_version"], "1.0.0");
    assert_eq!(status["migrations"]["applied"], 1);
    assert_eq!(status["migrations"]["pending"], 0);
    assert_eq!(status["health"]["result"], "healthy");
}
