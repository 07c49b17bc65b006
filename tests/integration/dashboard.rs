//! `runner dashboard` in a real browser (Debian's chromium, headless, driven by puppeteer-core
//! from scripts/dashboard-test): both environments and their releases, a paused canary's share;
//! a promotion from the CLI shows on the open page within 2 s without a reload; an action
//! without --allow-actions or its token is refused and changes nothing.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::harness::cli::{Runner, repo_root};
use crate::harness::fleet::Fleet;

/// A child process killed when the test ends, passed or failed.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `runner dashboard --listen 127.0.0.1:PORT ARGS` in the fleet's project, with `token` in
/// RUNNER_DASHBOARD_TOKEN (or none): the server, its address and the line it printed at start.
fn dashboard(f: &Fleet, args: &[&str], token: Option<&str>) -> (Killed, String, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut runner = Runner::new(f.path())
        .args(["dashboard", "--listen", &listen])
        .args(args);
    if let Some(token) = token {
        runner = runner.env("RUNNER_DASHBOARD_TOKEN", token);
    }
    let mut child = runner.spawn_piped();
    let mut started = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut started)
        .unwrap();
    (Killed(child), listen, started)
}

/// The seams tests' pipeline (staging, then a manual canary in production), with 1.0.0
/// everywhere and a canary of 1.1.0 paused at 50 % in production.
fn pipeline_with_a_paused_canary() -> Fleet {
    let f = crate::seams::pipeline();
    f.run(&["deploy", "--version", "1.0.0", "--with-migrations"])
        .expect_code(0);
    f.run(&["deploy", "--version", "1.1.0"]).expect_code(9);
    f
}

#[test]
fn the_page_shows_every_environment_and_follows_a_promotion_live() {
    let node_modules = repo_root().join("scripts/dashboard-test/node_modules/puppeteer-core");
    assert!(
        node_modules.is_dir(),
        "puppeteer-core is missing: run scripts/setup-tests"
    );
    let f = pipeline_with_a_paused_canary();
    let (_dashboard, listen, started) = dashboard(&f, &[], None);
    assert!(
        started.contains(&format!("http://{listen}/")) && started.contains("read-only"),
        "{started}"
    );

    let shots = std::env::var("RUNNER_DASHBOARD_SHOTS").unwrap_or_default();
    let mut browser = Command::new("node")
        .arg(repo_root().join("scripts/dashboard-test/check.mjs"))
        .args([&format!("http://{listen}/"), "1.1.0", "1.1.0", &shots])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(browser.stdout.take().unwrap());
    let mut input = browser.stdin.take().unwrap();
    let _browser = Killed(browser);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("READY") && line.contains("50%"), "{line}");

    f.run(&["promote", "--env", "production"]).expect_code(0);
    writeln!(input, "PROMOTED").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    // The page saw it without a reload, and the read-only dashboard refused the action.
    assert!(
        line.starts_with("UPDATED") && line.contains("ACTION 403"),
        "{line}"
    );
    // Nothing was rolled back: production serves the promoted release.
    let status = f.run(&["status", "--env", "production", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(json["current_version"], "1.1.0", "{status}");
}

#[test]
fn actions_need_the_flag_and_the_token_and_other_addresses_need_the_token() {
    let f = pipeline_with_a_paused_canary();
    f.run(&["dashboard", "--listen", "0.0.0.0:0"])
        .expect_code(2)
        .stderr_has("set RUNNER_DASHBOARD_TOKEN");
    f.run(&["dashboard", "--allow-actions"])
        .expect_code(2)
        .stderr_has("--allow-actions needs RUNNER_DASHBOARD_TOKEN");
    let (dashboard, listen, _started) = dashboard(&f, &["--allow-actions"], Some("s3cret-token"));
    let post = |body: &str, bearer: &str| {
        let mut request = ureq::post(&format!("http://{listen}/api/action"));
        if !bearer.is_empty() {
            request = request.header("Authorization", &format!("Bearer {bearer}"));
        }
        match request.send(body) {
            Ok(r) => r.status().as_u16(),
            Err(ureq::Error::StatusCode(code)) => code,
            Err(e) => panic!("{e}"),
        }
    };
    let get = |path: &str| match ureq::get(&format!("http://{listen}{path}")).call() {
        Ok(r) => r.status().as_u16(),
        Err(ureq::Error::StatusCode(code)) => code,
        Err(e) => panic!("{e}"),
    };
    // With a token, the API needs it; the page and its assets load, and ask for it.
    assert_eq!(get("/api/status"), 401);
    assert_eq!(get("/"), 200);
    assert_eq!(get("/api/status?token=s3cret-token"), 200);
    let action = r#"{"action":"abort","env":"production","approver":"alice","token":"wrong"}"#;
    assert_eq!(post(action, "s3cret-token"), 401);
    // The canary still waits at 50 %.
    let status = f.run(&["status", "--env", "production", "--format", "json"]);
    assert!(status.stdout.contains("\"percent\": 50"), "{status}");
    let action =
        r#"{"action":"abort","env":"production","approver":"alice","token":"s3cret-token"}"#;
    assert_eq!(post(action, "s3cret-token"), 200);
    drop(dashboard);
    let history = f
        .run(&["history", "--env", "production", "--format", "json"])
        .expect_code(0);
    assert!(
        history.stdout.contains("alice (dashboard)"),
        "the abort is audited with its approver: {history}"
    );
}
