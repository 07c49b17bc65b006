//! Metrics that act, against real sources: the demo app's Prometheus text scraped directly from
//! each server, and a real Prometheus server scraping them; a real HAProxy in front; a load
//! generator sending requests through it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::harness::fleet::{Fleet, assert_none_failed, failures, share};
use crate::harness::prometheus::Prometheus;
use crate::harness::shop::free_port;

fn two_slots(strategy: &str, extra: &str) -> Fleet {
    Fleet::new(
        strategy,
        &[("blue", Some("blue")), ("green", Some("green"))],
        extra,
    )
}

const SCRAPE: &str =
    "[environments.production.metrics]\nscrape = \"http://{address}/metrics\"\nwindow = \"3s\"\n";

fn deploy(f: &Fleet, version: &str, behavior: &str, more: &[&str]) -> crate::harness::cli::Output {
    let mut args = vec![
        "deploy",
        "--env",
        "production",
        "--version",
        version,
        "--with-migrations",
    ];
    args.extend_from_slice(more);
    f.runner(&args).env("DEMO_BEHAVIOR", behavior).run()
}

#[test]
fn a_canary_with_a_5_percent_error_rate_is_aborted_at_its_first_step_naming_the_metric() {
    let f = two_slots(
        "canary",
        &format!("[environments.production.rollout]\npause = \"3s\"\n{SCRAPE}"),
    );
    deploy(&f, "1.0.0", "", &[]).expect_code(0);
    let load = f.load(4);
    load.take(0, 100);
    let t = Instant::now();
    let out = deploy(&f, "1.1.0", "1.1.0=errors:5", &[]).expect_code(4);
    let took = t.elapsed();
    let out = out
        .stdout_has("canary 5% to 1.1.0")
        .stderr_has("error rate of 1.1.0 (canary): ")
        .stderr_has("> 1 % threshold")
        .stdout_has("back to 1.0.0 on slot");
    assert!(!out.stdout.contains("canary 25%"), "{out}");
    let from = load.count();
    let after = load.take(from, 300);
    assert_eq!(share(&after, "1.0.0"), 100.0, "{:?}", failures(&after));
    let all = load.stop();
    // Only the canary's own 500s, at 5 % of its 5 %.
    let failed = failures(&all);
    assert!(failed.iter().all(|f| f.contains("HTTP 500")), "{failed:?}");
    assert!(
        (failed.len() as f64) < all.len() as f64 * 0.01,
        "{} of {}",
        failed.len(),
        all.len()
    );
    eprintln!("canary with 5 % errors: deploy to 100 % on 1.0.0 again in {took:?}");
    // The record names every measurement.
    f.run(&["history", "--env", "production", "--deploy", "last"])
        .expect_code(0)
        .stdout_has("analysis 1")
        .stdout_has("error rate    canary 1.1.0")
        .stdout_has("fail");
}

/// Verdicts as fast as the evidence: with a 30 s window, a canary failing 5 % of its requests
/// is failed as soon as the evidence is decisive, not at the window's end (the record says
/// how long it had been measured).
#[test]
fn a_failing_canary_is_judged_before_its_window_ends() {
    let f = two_slots(
        "canary",
        "[environments.production.rollout]\npause = \"30s\"\n[environments.production.metrics]\nscrape = \"http://{address}/metrics\"\nwindow = \"30s\"\n",
    );
    deploy(&f, "1.0.0", "", &[]).expect_code(0);
    let load = f.load(4);
    load.take(0, 100);
    deploy(&f, "1.1.0", "1.1.0=errors:5", &[])
        .expect_code(4)
        .stderr_has("error rate of 1.1.0 (canary): ")
        .stderr_has("decided before the window's end")
        .stdout_has("back to 1.0.0 on slot");
    load.stop();
    let history = f
        .run(&["history", "--env", "production", "--format", "json"])
        .expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let window_ms = json[0]["analysis"][0]["window_ms"].as_u64().unwrap();
    eprintln!("a canary failing 5 % was judged after {window_ms} ms of a 30 s window");
    assert!(
        window_ms < 30_000,
        "judged after {window_ms} ms of a 30 s window"
    );
}

#[test]
fn a_healthy_canary_is_promoted_on_prometheus_data() {
    let f = two_slots(
        "canary",
        "[environments.production.rollout]\nsteps = [10, 100]\npause = \"4s\"\n",
    );
    let prometheus = Prometheus::start(&f.addresses());
    f.append_config(&format!(
        "[environments.production.metrics]\nprometheus = \"{}\"\nwindow = \"4s\"\n",
        prometheus.url
    ));
    deploy(&f, "1.0.0", "", &[]).expect_code(0);
    let load = f.load(4);
    load.take(0, 200);
    let out = deploy(&f, "1.1.0", "", &[]).expect_code(0);
    let out = out
        .stdout_has("canary 10% to 1.1.0")
        .stdout_has("canary 100% to 1.1.0");
    assert!(out.stdout.contains("within their thresholds"), "{out}");
    let all = load.stop();
    assert_none_failed(&all);
    f.run(&["history", "--env", "production", "--show", "last"])
        .expect_code(0)
        .stdout_has("[prometheus http://127.0.0.1:")
        .stdout_has("http_requests_total{version=\"1.1.0\"");
}

#[test]
fn no_data_is_inconclusive_and_the_canary_waits_for_a_person() {
    let f = two_slots(
        "canary",
        &format!("[environments.production.rollout]\npause = \"2s\"\n{SCRAPE}"),
    );
    deploy(&f, "1.0.0", "", &[]).expect_code(0);
    // No traffic at all: nothing to judge the canary by. Waiting is not success: exit 9.
    let out = deploy(&f, "1.1.0", "", &[]).expect_code(9);
    out.stdout_has("inconclusive")
        .stdout_has("fewer than 20 requests in the window");
    f.run(&["status", "--env", "production"])
        .expect_code(0)
        .stdout_has("1.1.0 PAUSED at 5%");
}

#[test]
fn a_breach_in_the_watch_window_puts_the_previous_release_back() {
    let f = two_slots(
        "blue-green",
        "[environments.production.metrics]\nscrape = \"http://{address}/metrics\"\nwindow = \"2s\"\n",
    );
    deploy(&f, "1.0.0", "", &[]).expect_code(0);
    let load = f.load(4);
    load.take(0, 100);
    let out = deploy(&f, "1.1.0", "1.1.0=errors:20", &["--watch", "8s"]).expect_code(4);
    out.stdout_has("switch to 1.1.0")
        .stdout_has("watch")
        .stderr_has("error rate of 1.1.0 (release): ")
        .stderr_has("1.0.0 is serving again");
    let from = load.count();
    let after = load.take(from, 300);
    assert_eq!(share(&after, "1.0.0"), 100.0, "{:?}", failures(&after));
    load.stop();
}

#[test]
fn status_exits_1_on_a_breach_and_shows_the_dashboard() {
    let f = two_slots(
        "blue-green",
        "[environments.production.metrics]\nscrape = \"http://{address}/metrics\"\nmemory_limit = \"1GiB\"\n",
    );
    deploy(&f, "1.0.0", "", &[]).expect_code(0);
    let load = f.load(2);
    load.take(0, 50);
    let healthy = f.run(&["status", "--env", "production"]).expect_code(0);
    healthy
        .stdout_has("✓ error rate")
        .stdout_has("post-deploy checklist")
        .stdout_has("✓ health passing");
    load.stop();
    // A release that answers half its requests with 500 (its health checks pass).
    let f = two_slots(
        "blue-green",
        "[environments.production.metrics]\nscrape = \"http://{address}/metrics\"\n",
    );
    deploy(&f, "2.0.0", "2.0.0=errors:50", &[]).expect_code(0);
    let load = f.load(2);
    load.take(0, 50);
    let out = f
        .run(&["status", "--env", "production", "--format", "json"])
        .expect_code(1);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["alarming"], true);
    let error_rate = json["analysis"]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "error_rate")
        .unwrap()
        .clone();
    assert_eq!(error_rate["verdict"], "fail", "{error_rate}");
    assert!(
        (error_rate["value"].as_f64().unwrap() - 0.5).abs() < 0.05,
        "{error_rate}"
    );
    f.run(&["status", "--env", "production"])
        .expect_code(1)
        .stdout_has("✗ error rate");
    load.stop();
}

/// A webhook receiver on loopback: the bodies it was sent.
fn receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let mut stream = stream;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (port, bodies)
}

#[test]
fn webhooks_hear_of_the_deploy_and_a_dead_one_fails_nothing() {
    let f = two_slots("blue-green", "");
    let (port, bodies) = receiver();
    let dead = free_port();
    f.append_config(&format!(
        "\n[notify]\nwebhooks = [{{ url = \"http://127.0.0.1:{port}/hook?token=s3cret\" }}, {{ url = \"http://127.0.0.1:{dead}/gone\", format = \"slack\" }}]\ntimeout = \"1s\"\nretries = 1\n"
    ));
    let out = deploy(&f, "1.0.0", "", &[]).expect_code(0);
    let out = out.stdout_has("notify").stdout_has("2 of 4 delivered");
    assert!(
        !out.stdout.contains("s3cret") && !out.stderr.contains("s3cret"),
        "{out}"
    );
    let bodies = bodies.lock().unwrap().clone();
    let events: Vec<serde_json::Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["deploy_started", "deploy_succeeded"], "{bodies:?}");
    assert_eq!(events[1]["environment"], "production");
    assert_eq!(events[1]["version"], "1.0.0");
    assert_eq!(events[1]["strategy"], "blue-green");
    f.run(&["status", "--env", "production"])
        .expect_code(0)
        .stdout_has("on-call notified");
}
