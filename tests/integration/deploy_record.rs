//! The deploy always knows what is serving: signals during a deploy, a runner killed mid-way,
//! failed rollback hooks, rollback targets, the order of `rollback --with-migrations`, and
//! pending migrations. Real runner processes, the real demo app, real SQLite files.

use std::process::{Child, Stdio};

use crate::harness::shop::{Shop, sqlite_shop};

fn deploy(shop: &Shop, version: &str) {
    shop.run(&[
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        version,
    ])
    .expect_code(0);
}

/// Starts a deploy of `version` that never answers its health checks (the demo app's
/// `down`), and waits until it is in its health phase.
fn deploy_hanging_in_health(shop: &Shop, version: &str) -> Child {
    let child = shop
        .command(&["deploy", "--env", "staging", "--version", version])
        .env("DEMO_BEHAVIOR", format!("{version}=down"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    shop.wait_for_phase("staging", "health");
    child
}

/// A second migration, V2, pending once written.
fn add_orders_migration(shop: &Shop) {
    let dir = shop.path().join("migrations");
    std::fs::write(
        dir.join("V2__orders.sql"),
        "CREATE TABLE orders (id INTEGER PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(dir.join("V2__orders.down.sql"), "DROP TABLE orders;\n").unwrap();
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, signal) };
}

fn status_json(shop: &Shop) -> serde_json::Value {
    let out = shop.run(&["status", "--env", "staging", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // Exit 1 exactly when a health check fails (or a metric breaches).
    let expected = if json["alarming"] == true { 1 } else { 0 };
    out.expect_code(expected);
    json
}

#[test]
fn sigterm_during_health_checks_puts_the_previous_release_back_and_exits_8() {
    let shop = sqlite_shop(false);
    deploy(&shop, "1.0.0");
    let child = deploy_hanging_in_health(&shop, "2.0.0");
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(
        stderr.contains("interrupted while 2.0.0 was being health-checked; 1.0.0 is serving again"),
        "{stderr}"
    );
    assert_eq!(shop.serving(0).as_deref(), Some("1.0.0"));
    let history = shop.history("staging");
    assert_eq!(history[0]["result"], "interrupted");
    assert_eq!(history[0]["version"], "2.0.0");
    let status = status_json(&shop);
    assert_eq!(status["current_version"], "1.0.0");
    assert!(status["in_doubt"].is_null(), "{status}");
}

#[test]
fn sigkill_during_health_checks_is_in_doubt_and_rollback_restores_the_last_good_release() {
    let shop = sqlite_shop(false);
    deploy(&shop, "1.4.0");
    deploy(&shop, "1.5.0");
    let mut child = deploy_hanging_in_health(&shop, "1.6.0");
    child.kill().unwrap();
    child.wait().unwrap();

    // The release in doubt hangs in its health checks: status says so, and exits 1.
    let status = shop.run(&["status", "--env", "staging"]).expect_code(1);
    let id = shop.history("staging")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    status
        .stdout_has("IN DOUBT: 1.6.0 may be serving")
        .stdout_has(&format!("deploy {id} stopped at phase health"))
        .stdout_has("last release that succeeded: 1.5.0");

    // Not 1.4.0, the release before the newest journal row's "previous": the last good one.
    shop.run(&["rollback", "--env", "staging"])
        .expect_code(0)
        .stderr_has("stopped at phase health without saying how it ended")
        .stdout_has("deployed 1.5.0 to staging");
    assert_eq!(shop.serving(0).as_deref(), Some("1.5.0"));
    let history = shop.history("staging");
    assert_eq!(history[1]["version"], "1.6.0");
    assert_eq!(history[1]["result"], "in_doubt");
    // Now certain again: asking for what serves is a no-op.
    shop.run(&["rollback", "--env", "staging", "--version", "1.5.0"])
        .expect_code(0)
        .stderr_has("1.5.0 is already serving staging; nothing to do");
}

#[test]
fn rolling_back_twice_never_redeploys_the_release_rolled_back_from() {
    let shop = sqlite_shop(false);
    for v in ["1.2.2", "1.2.3", "1.3.0"] {
        deploy(&shop, v);
    }
    shop.run(&["rollback", "--env", "staging"]).expect_code(0);
    assert_eq!(shop.serving(0).as_deref(), Some("1.2.3"));
    shop.run(&["rollback", "--env", "staging"])
        .expect_code(0)
        .stdout_has("1.2.2 (rollback from 1.2.3)");
    assert_eq!(shop.serving(0).as_deref(), Some("1.2.2"));
    shop.run(&["rollback", "--env", "staging"])
        .expect_code(2)
        .stderr_has("no release deployed before 1.2.2");
}

#[test]
fn after_a_failed_rollback_hook_the_last_good_release_can_be_put_back() {
    let shop = sqlite_shop(false);
    deploy(&shop, "1.4.0");
    deploy(&shop, "1.5.0");
    shop.fail_rollback(true);
    shop.runner(&["deploy", "--env", "staging", "--version", "1.6.0"])
        .env("DEMO_BEHAVIOR", "1.6.0=unhealthy")
        .run()
        .expect_code(5)
        .stderr_has("the rollback hook failed");
    let status = status_json(&shop);
    assert_eq!(status["in_doubt"]["release"], "1.6.0", "{status}");
    assert_eq!(status["previous_version"], "1.5.0", "{status}");
    shop.fail_rollback(false);
    // Not refused as "already serving": what serves is in doubt.
    shop.runner(&["rollback", "--env", "staging", "--version", "1.5.0"])
        .env("DEMO_BEHAVIOR", "1.6.0=unhealthy")
        .run()
        .expect_code(0);
    assert_eq!(shop.serving(0).as_deref(), Some("1.5.0"));

    // The same with a plain rollback: it goes to 1.5.0, not to 1.4.0.
    shop.fail_rollback(true);
    shop.runner(&["deploy", "--env", "staging", "--version", "1.7.0"])
        .env("DEMO_BEHAVIOR", "1.7.0=unhealthy")
        .run()
        .expect_code(5);
    shop.fail_rollback(false);
    shop.run(&["rollback", "--env", "staging"])
        .expect_code(0)
        .stdout_has("1.5.0 (rollback from 1.7.0)");
    assert_eq!(shop.serving(0).as_deref(), Some("1.5.0"));
}

#[test]
fn a_second_signal_stops_waiting_and_leaves_the_record_in_doubt() {
    let shop = sqlite_shop(false);
    deploy(&shop, "1.0.0");
    shop.slow_rollback(true);
    let child = deploy_hanging_in_health(&shop, "2.0.0");
    signal(&child, libc::SIGTERM);
    shop.wait_for_phase("staging", "rollback");
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("What serves is in doubt"), "{stderr}");
    let history = shop.history("staging");
    assert_eq!(history[0]["result"], "in_doubt");
    shop.run(&["status", "--env", "staging"])
        .expect_code(1)
        .stdout_has("IN DOUBT: 2.0.0 may be serving");
}

#[test]
fn rollback_with_migrations_restores_the_app_before_undoing_its_migrations() {
    let shop = sqlite_shop(false);
    deploy(&shop, "1.0.0");
    add_orders_migration(&shop);
    deploy(&shop, "1.1.0");
    shop.run(&["rollback", "--env", "staging", "--with-migrations"])
        .expect_code(0);
    assert_eq!(shop.serving(0).as_deref(), Some("1.0.0"));
    let history = shop.history("staging");
    let phases: Vec<&str> = history[0]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["rollback", "health", "migrations rollback"]);
    assert_eq!(history[0]["migrations"], serde_json::json!([2]));
    assert_eq!(status_json(&shop)["migrations"]["applied"], 1);
}

#[test]
fn a_deploy_with_pending_migrations_is_refused_unless_they_run_or_are_allowed() {
    let shop = sqlite_shop(false);
    deploy(&shop, "1.0.0");
    add_orders_migration(&shop);
    shop.run(&["deploy", "--env", "staging", "--version", "1.1.0"])
        .expect_code(2)
        .stderr_has("1 migration(s) are pending in staging (V2 orders)")
        .stderr_has("`runner deploy --env staging --version 1.1.0 --with-migrations`")
        .stderr_has("`runner deploy --env staging --version 1.1.0 --allow-pending`");
    assert_eq!(shop.serving(0).as_deref(), Some("1.0.0"));
    shop.run(&[
        "deploy",
        "--env",
        "staging",
        "--version",
        "1.1.0",
        "--allow-pending",
    ])
    .expect_code(0);
    assert_eq!(shop.serving(0).as_deref(), Some("1.1.0"));
    let history = shop.history("staging");
    assert!(
        history[0]["phases"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("deployed without them (--allow-pending): V2 orders"),
        "{:?}",
        history[0]
    );
    assert_eq!(status_json(&shop)["migrations"]["pending"], 1);
}
