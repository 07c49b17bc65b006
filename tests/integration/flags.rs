//! `runner flag`: the lifecycle through the pipeline in the OpenFeature flagd format, approval,
//! the audit log, the share of targeting keys the demo app serves, a ramp stopped by a metric
//! breach, and removal only once nothing reads the flag.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::cli::Output;
use crate::harness::flagd;
use crate::harness::project::Project;
use crate::harness::shop::{free_port, sqlite_shop};

fn project() -> Project {
    Project::new(
        "sqlite",
        &[
            ("staging", "sqlite://db/staging.db", ""),
            (
                "production",
                "sqlite://db/production.db",
                "requires_approval = true",
            ),
        ],
    )
}

/// A command line's words.
fn words(line: &str) -> Vec<&str> {
    line.split(' ').collect()
}

fn flag_path(p: &std::path::Path, env: &str) -> std::path::PathBuf {
    p.join("flags").join(format!("{env}.flagd.json"))
}

fn flag_file(p: &std::path::Path, env: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(flag_path(p, env)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn percent(p: &std::path::Path, env: &str, key: &str) -> Option<u64> {
    flag_file(p, env)["flags"][key]["metadata"]["percent"].as_u64()
}

fn events(p: &Project, env: &str) -> Vec<String> {
    let out = Command::new("sqlite3")
        .arg(p.path().join("db").join(format!("{env}.db")))
        .arg("SELECT kind || ' | ' || detail || ' | ' || actor FROM runner_events WHERE kind LIKE 'flag_%' ORDER BY id")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn the_lifecycle_goes_in_order_with_approval_and_an_audit_trail() {
    let p = project();
    std::fs::create_dir_all(p.path().join("src")).unwrap();
    std::fs::write(
        p.path().join("src/checkout.ts"),
        "if (await client.getBooleanValue(\"new-checkout\", false)) {\n  render(new Checkout());\n}\nconst dark = client.getBooleanValue('dark-mode', false);\n",
    )
    .unwrap();
    p.run(&["flag", "new", "new-checkout", "--reason", "PAY-12"])
        .expect_code(0)
        .stdout_has("off in staging, production (development)");
    assert_eq!(percent(p.path(), "production", "new-checkout"), Some(0));
    p.run(&["flag", "new", "new-checkout"])
        .expect_code(2)
        .stderr_has("exists already");
    // No production before staging.
    p.run(&words(
        "flag promote new-checkout --env production --approve",
    ))
    .expect_code(2)
    .stderr_has("staging has it at 0 %: turn it fully on there first");
    p.run(&["flag", "promote", "new-checkout", "--env", "staging"])
        .expect_code(0)
        .stdout_has("0 % -> 100 % (now on in staging)");
    // Production needs its approval; no 50 % before 5 %.
    p.run(&["flag", "promote", "new-checkout", "--env", "production"])
        .expect_code(2)
        .stderr_has("production requires approval");
    p.run(&words(
        "flag set new-checkout --env production --percent 50 --approve",
    ))
    .expect_code(2)
    .stderr_has("take 5 % first");
    p.run(&words(
        "flag promote new-checkout --env production --approve --reason canary",
    ))
    .expect_code(0)
    .stdout_has("0 % -> 5 % (now production 5 %)");
    p.run(&words(
        "flag promote new-checkout --env production --approve",
    ))
    .expect_code(0)
    .stdout_has("5 % -> 50 %");
    // Staging cannot turn it off while production serves it.
    p.run(&["flag", "rollback", "new-checkout", "--env", "staging"])
        .expect_code(2)
        .stderr_has("production still serves it at 50 %");
    p.run(&["flag", "rollback", "new-checkout", "--env", "production"])
        .expect_code(0)
        .stdout_has("50 % -> 5 %");
    flagd::assert_valid(&[
        flag_path(p.path(), "staging"),
        flag_path(p.path(), "production"),
    ]);
    let list = p.run(&["flag", "list"]).expect_code(0);
    list.stdout_has("new-checkout")
        .stdout_has("production 5 %")
        .stdout_has("unknown flag dark-mode read by the code at");
    // Removal: only at 100 % everywhere, and only once no code reads it.
    p.run(&["flag", "remove", "new-checkout"])
        .expect_code(2)
        .stderr_has("at 5 % in production");
    for _ in 0..2 {
        p.run(&words(
            "flag promote new-checkout --env production --approve",
        ))
        .expect_code(0);
    }
    assert_eq!(percent(p.path(), "production", "new-checkout"), Some(100));
    assert!(
        flag_file(p.path(), "production")["flags"]["new-checkout"]["metadata"]["fullSince"]
            .is_string()
    );
    p.run(&["flag", "remove", "new-checkout"])
        .expect_code(2)
        .stderr_has("still read by the code")
        .stderr_has("src/checkout.ts:1:");
    std::fs::write(
        p.path().join("src/checkout.ts"),
        "render(new Checkout());\n",
    )
    .unwrap();
    // Removing changes production too: approval, as for every other change there.
    p.run(&["flag", "remove", "new-checkout", "--reason", "shipped"])
        .expect_code(2)
        .stderr_has("production requires approval");
    assert_eq!(percent(p.path(), "production", "new-checkout"), Some(100));
    p.run(&words(
        "flag remove new-checkout --reason shipped --approve",
    ))
    .expect_code(0);
    assert!(
        flag_file(p.path(), "production")["flags"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    let audit = events(&p, "production");
    let kinds: Vec<&str> = audit
        .iter()
        .map(|e| e.split(" | ").next().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "flag_created",
            "flag_promoted",
            "flag_promoted",
            "flag_rolled_back",
            "flag_promoted",
            "flag_promoted",
            "flag_removed"
        ],
        "{audit:#?}"
    );
    assert!(
        audit[1].contains("new-checkout: 0 % -> 5 % by") && audit[1].contains("(why: canary)"),
        "{audit:#?}"
    );
    assert!(audit.last().unwrap().contains("(why: shipped)"));
}

/// The share of 1,000 targeting keys the demo app serves the new checkout to.
/// The checkout the demo app served each of customer-0 .. customer-999: a string of 1 (new)
/// and 0 (old).
fn served(port: u16) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    (0..1000)
        .map(|i| {
            let r = agent
                .get(&format!("http://127.0.0.1:{port}/"))
                .header("X-User", &format!("customer-{i}"))
                .call()
                .unwrap();
            match r.headers().get("X-Checkout").and_then(|v| v.to_str().ok()) {
                Some("new") => '1',
                _ => '0',
            }
        })
        .collect()
}

#[test]
fn the_demo_app_serves_each_step_to_its_share_of_a_thousand_keys() {
    let p = project();
    p.run(&["flag", "new", "new-checkout"]).expect_code(0);
    p.run(&["flag", "promote", "new-checkout", "--env", "staging"])
        .expect_code(0);
    let port = free_port();
    /// Stops the app however the test ends.
    struct App(std::process::Child);
    impl Drop for App {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _app = App(Command::new(env!("CARGO_BIN_EXE_runner-demo-app"))
        .env("VERSION", "1.0.0")
        .env("PORT", port.to_string())
        .env("FLAGS_FILE", p.path().join("flags/production.flagd.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let started = Instant::now();
    while ureq::get(&format!("http://127.0.0.1:{port}/health"))
        .call()
        .is_err()
    {
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    for step in [5.0, 50.0, 100.0] {
        p.run(&words(
            "flag promote new-checkout --env production --approve",
        ))
        .expect_code(0);
        let served = served(port);
        let share = served.matches('1').count() as f64 / 10.0;
        assert!(
            (share - step).abs() <= 3.0,
            "{share} % served the new checkout at {step} %"
        );
        // The same customers as an application with the OpenFeature flagd provider would
        // choose, reading the file runner wrote.
        let file = flag_path(p.path(), "production");
        flagd::assert_valid(std::slice::from_ref(&file));
        let reference = flagd::evaluate(&file, "new-checkout", "customer-", 1000);
        let differ = served
            .chars()
            .zip(reference.chars())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differ, 0,
            "{differ} of 1000 customers differ from flagd-core at {step} %"
        );
    }
}

#[test]
fn an_automatic_ramp_is_stopped_by_a_metric_breach() {
    let shop = sqlite_shop(false);
    let port = shop.port(1);
    // production is the last table of the shop's runner.toml.
    let toml = shop.path().join("runner.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(&format!(
        "metrics = \"http://127.0.0.1:{port}/metrics\"\n\n[flags]\npause = \"3s\"\n"
    ));
    std::fs::write(&toml, text).unwrap();
    shop.run(&words(
        "deploy --env staging --version 1.0.0 --with-migrations",
    ))
    .expect_code(0);
    // The release is healthy, but the new checkout answers a fifth of its requests with 500:
    // at 5 % that is 1 % of all requests, not above the threshold overall. The app labels
    // its requests by variant, so the ramp judges `on` against `off`.
    shop.runner(&[
        "deploy",
        "--env",
        "production",
        "--version",
        "1.0.0",
        "--with-migrations",
        "--approve",
    ])
    .env("DEMO_FLAG_BEHAVIOR", "errors:20")
    .run()
    .expect_code(0);
    shop.run(&["flag", "new", "new-checkout"]).expect_code(0);
    shop.run(&["flag", "promote", "new-checkout", "--env", "staging"])
        .expect_code(0);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let _ = ureq::get(&format!("http://127.0.0.1:{port}/?user=customer-{i}")).call();
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let out: Output = shop
        .run(&[
            "flag",
            "promote",
            "new-checkout",
            "--env",
            "production",
            "--auto",
            "--approve",
        ])
        .expect_code(4);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    traffic.join().unwrap();
    let out = out
        .stdout_has("0 % -> 5 %")
        .stderr_has("error rate of new-checkout=on (canary)")
        .stderr_has("set back to 0 %");
    assert!(
        !out.stderr.contains("error rate of new-checkout=off"),
        "{out}"
    );
    assert_eq!(percent(shop.path(), "production", "new-checkout"), Some(0));
}

#[test]
fn check_and_status_show_stale_and_unknown_flags() {
    let p = project();
    p.migration(
        "V1__a",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        Some("DROP TABLE a;"),
    );
    std::fs::create_dir_all(p.path().join("app")).unwrap();
    std::fs::write(
        p.path().join("app/main.py"),
        "if client.get_boolean_value(\"dark-mode\", False):\n    pass\n",
    )
    .unwrap();
    p.run(&["flag", "new", "old-search"]).expect_code(0);
    p.run(&["flag", "promote", "old-search", "--env", "staging"])
        .expect_code(0);
    for _ in 0..3 {
        p.run(&words("flag promote old-search --env production --approve"))
            .expect_code(0);
    }
    // It reached 100 % 45 days ago.
    for env in ["staging", "production"] {
        let path = p.path().join("flags").join(format!("{env}.flagd.json"));
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let then = humantime::format_rfc3339_seconds(
            std::time::SystemTime::now() - Duration::from_secs(45 * 86_400),
        );
        doc["flags"]["old-search"]["metadata"]["fullSince"] =
            serde_json::Value::String(then.to_string());
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    let check = p.run(&["check"]).expect_code(0);
    check
        .stdout_has("warning[stale-flag] flag old-search has been at 100 % everywhere for 45 days")
        .stdout_has("app/main.py:1:1: warning[unknown-flag] the code reads flag dark-mode, which no flag file defines");
    p.run(&["migrate", "--env", "staging"]).expect_code(0);
    p.run(&["status", "--env", "staging"])
        .expect_code(0)
        .stdout_has("flag debt:   old-search has been at 100 % everywhere for 45 days");
    p.run(&["flag", "list"])
        .expect_code(0)
        .stdout_has("45 d (stale: remove it)");
}

/// The reference validation is not vacuous: what the flagd schema forbids is refused.
#[test]
fn the_flagd_reference_refuses_what_the_schema_forbids() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.flagd.json");
    std::fs::write(
        &bad,
        r#"{"flags": {"a": {"state": "ON", "variants": {"on": true, "off": false}, "defaultVariant": "off",
            "targeting": {"fractional": [["on", 5], ["off", "95"]]}}}}"#,
    )
    .unwrap();
    let refused = std::panic::catch_unwind(|| flagd::assert_valid(std::slice::from_ref(&bad)));
    let why = *refused
        .expect_err("the schema allows no state ON")
        .downcast::<String>()
        .unwrap();
    assert!(why.contains("/flags/a/state"), "{why}");
}

/// A flag file others wrote or edited: runner manages its own flags in it and keeps the rest
/// (a flag with its own targeting, `$evaluators`, `metadata`) exactly, and refuses to touch a
/// flag it does not manage.
#[test]
fn flags_runner_does_not_manage_are_kept_and_left_alone() {
    let p = project();
    std::fs::create_dir_all(p.path().join("flags")).unwrap();
    let theirs = r#"{
  "$evaluators": {"staff": {"ends_with": [{"var": "email"}, "@example.com"]}},
  "metadata": {"owner": "web-team"},
  "flags": {
    "banner-color": {
      "state": "ENABLED",
      "variants": {"red": "red", "blue": "blue"},
      "defaultVariant": "red",
      "targeting": {"if": [{"$ref": "staff"}, "blue", null]}
    }
  }
}
"#;
    std::fs::write(flag_path(p.path(), "production"), theirs).unwrap();
    std::fs::create_dir_all(p.path().join("src")).unwrap();
    std::fs::write(
        p.path().join("src/app.js"),
        "client.getStringValue(\"banner-color\", \"red\");\nclient.getBooleanValue(\"new-checkout\", false);\nclient.getBooleanValue(\"dark-mode\", false);\n",
    )
    .unwrap();
    p.run(&["flag", "new", "new-checkout"]).expect_code(0);
    p.run(&["flag", "promote", "new-checkout", "--env", "staging"])
        .expect_code(0);
    p.run(&words(
        "flag promote new-checkout --env production --approve",
    ))
    .expect_code(0);
    let doc = flag_file(p.path(), "production");
    let before: serde_json::Value = serde_json::from_str(theirs).unwrap();
    assert_eq!(doc["$evaluators"], before["$evaluators"]);
    assert_eq!(doc["metadata"], before["metadata"]);
    assert_eq!(
        doc["flags"]["banner-color"],
        before["flags"]["banner-color"]
    );
    assert_eq!(doc["flags"]["new-checkout"]["metadata"]["percent"], 5);
    flagd::assert_valid(&[flag_path(p.path(), "production")]);
    let list = p.run(&["flag", "list"]).expect_code(0);
    let list = list.stdout_has("flag banner-color in");
    assert!(list.stdout.contains("is not managed by runner"), "{list}");
    // Known, though not runner's: only the flag no file defines is unknown.
    assert!(!list.stdout.contains("unknown flag banner-color"), "{list}");
    assert!(list.stdout.contains("unknown flag dark-mode"), "{list}");
    for args in [
        "flag promote banner-color --env staging",
        "flag new banner-color",
        "flag remove banner-color",
    ] {
        p.run(&words(args))
            .expect_code(2)
            .stderr_has("flag banner-color in")
            .stderr_has("is not one runner manages");
    }
    assert_eq!(
        flag_file(p.path(), "production")["flags"]["banner-color"],
        before["flags"]["banner-color"]
    );
}
