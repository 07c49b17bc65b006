//! Strategies through a real nginx (the distribution's package, started here on loopback),
//! which runner drives by rewriting the upstream file it includes, testing the configuration
//! and reloading it gracefully, with a load generator sending requests through nginx.

use crate::harness::fleet::{Fleet, assert_none_failed, switch_and_back};

fn two_slots(strategy: &str, extra: &str) -> Fleet {
    Fleet::nginx(
        strategy,
        &[("blue", Some("blue")), ("green", Some("green"))],
        extra,
    )
}

#[test]
fn nginx_blue_green_switches_and_rolls_back_with_no_failed_request() {
    let f = two_slots("blue-green", "");
    f.deploy_first();
    assert_eq!((f.weight("green"), f.weight("blue")), (256, 0));
    // runner's file, with its intent beside each server, while 1.1.0 serves.
    let upstream_after_switch = || {
        let upstream = f.upstream();
        assert!(
            upstream.contains("weight=256; # runner: blue weight 256 ready"),
            "{upstream}"
        );
        assert!(
            upstream.contains("down; # runner: green weight 0 maint"),
            "{upstream}"
        );
    };
    let (deployed, back) = switch_and_back(&f, "1.1.0", "1.0.0", &upstream_after_switch);
    let _ = deployed
        .stdout_has("switch to 1.1.0 on slot blue")
        .stdout_has("drain                  ok: green: drained in");
    let _ = back.stdout_has("back to 1.0.0 on slot green");
    f.run(&["status", "--env", "production"])
        .expect_code(0)
        .stdout_has("version:     1.0.0")
        .stdout_has("green (slot green) 1.0.0  weight 256 ready");
}

#[test]
fn nginx_canary_split_matches_each_step_and_abort_gives_all_back() {
    let f = two_slots(
        "canary",
        "[environments.production.rollout]\nsteps = [5, 25, 100]\npause = \"manual\"\n",
    );
    f.deploy_first();
    let load = f.load(4);
    load.take(0, 50);
    // Paused: not done and not failed (exit 9).
    f.run(&["deploy", "--env", "production", "--version", "1.1.0"])
        .expect_code(9)
        .stdout_has("canary 5% to 1.1.0");
    let measure = |target: f64| load.assert_share("1.1.0", target);
    measure(5.0);
    f.run(&["promote", "--env", "production"])
        .expect_code(9)
        .stdout_has("canary 25% to 1.1.0");
    measure(25.0);
    f.run(&["abort", "--env", "production"])
        .expect_code(0)
        .stdout_has("back to 1.0.0");
    measure(0.0);
    let all = load.stop();
    assert_none_failed(&all);
}

#[test]
fn nginx_not_running_or_refusing_the_change_is_said_and_nothing_is_left_half_written() {
    let mut f = two_slots("blue-green", "");
    f.deploy_first();
    let before = f.upstream();
    // A configuration nginx refuses: the file is put back as it was, every time (the
    // rollback cannot move traffic either: exit 5, and 1.0.0 still serves all of it).
    let conf = f.path().join("nginx/nginx.conf");
    let good = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(
        &conf,
        good.replace(
            "worker_processes 1;",
            "worker_processes 1;\nnot_a_directive;",
        ),
    )
    .unwrap();
    f.run(&["deploy", "--env", "production", "--version", "1.1.0"])
        .expect_code(5)
        .stdout_has("the new configuration fails its test")
        .stdout_has("upstream.conf is back as it was")
        .stdout_has("unknown directive \"not_a_directive\"");
    assert_eq!(f.upstream(), before);
    std::fs::write(&conf, good).unwrap();
    // nginx gone: said, with the pid file.
    f.stop_router();
    f.run(&["deploy", "--env", "production", "--version", "1.2.0"])
        .expect_code(2)
        .stderr_has("nginx is not running (no live process in its pid file");
}
