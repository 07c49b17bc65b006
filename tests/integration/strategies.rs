//! Blue-green, canary and rolling through a real HAProxy (runtime API on a unix socket) in
//! front of real demo app servers, with a load generator sending requests through the
//! frontend during each deploy and rollback.

use crate::harness::fleet::{Fleet, assert_none_failed, failures, share, switch_and_back};

fn two_slots(strategy: &str, extra: &str) -> Fleet {
    Fleet::new(
        strategy,
        &[("blue", Some("blue")), ("green", Some("green"))],
        extra,
    )
}

#[test]
fn blue_green_switches_and_rolls_back_with_no_failed_request() {
    let f = two_slots("blue-green", "");
    f.deploy_first().stdout_has("switch to 1.0.0 on slot green");
    assert_eq!((f.weight("green"), f.weight("blue")), (256, 0));
    let (deployed, back) = switch_and_back(&f, "1.1.0", "1.0.0", &|| {});
    let _ = deployed
        .stdout_has("switch to 1.1.0 on slot blue")
        .stdout_has("kept running out of traffic until");
    let back = back.stdout_has("back to 1.0.0 on slot green");
    assert!(
        !back.stdout.contains("\n  deploy "),
        "a switch back, not a redeploy:\n{back}"
    );
    assert_eq!((f.weight("green"), f.weight("blue")), (256, 0));
    // Every decision is in the record: the weights before and after, the drain, the health.
    f.run(&["history", "--env", "production", "--show", "last"])
        .expect_code(0)
        .stdout_has("rollback of 1.0.0 in production (blue-green): succeeded")
        .stdout_has(
            "green weight 0 maint -> weight 256 ready, blue weight 256 ready -> weight 0 drain",
        )
        .stdout_has("health                 healthy: green 1.0.0 after")
        .stdout_has("drain                  ok: blue: drained in");
}

#[test]
fn rolling_over_four_servers_has_no_failed_request_and_stops_on_a_bad_release() {
    let f = Fleet::new(
        "rolling",
        &[
            ("app1", None),
            ("app2", None),
            ("app3", None),
            ("app4", None),
        ],
        "",
    );
    f.deploy_first().stdout_has("batch 4/4 back in with 1.0.0");
    let load = f.load(4);
    load.take(0, 100);
    let out = f
        .run(&["deploy", "--env", "production", "--version", "1.1.0"])
        .expect_code(0);
    for i in 1..=4 {
        assert!(
            out.stdout
                .contains(&format!("batch {i}/4 back in with 1.1.0")),
            "{out}"
        );
    }
    let from = load.count();
    let after = load.take(from, 200);
    assert_eq!(share(&after, "1.1.0"), 100.0, "{:?}", failures(&after));

    // A release whose deploy fails on the third server: the rollout stops there, and the
    // servers it reached are put back on 1.1.0; the fourth never left it.
    f.fail_deploy("app3", "1.2.0");
    let bad = f
        .run(&["deploy", "--env", "production", "--version", "1.2.0"])
        .expect_code(4);
    let bad = bad
        .stdout_has("batch 2/4 back in with 1.2.0")
        .stderr_has("the deploy hook failed on app3")
        .stderr_has("1.1.0 is serving again");
    assert!(
        !bad.stdout.contains("batch 3/4 back in with 1.2.0"),
        "{bad}"
    );
    assert!(
        bad.stdout.contains("batch 3/3 back in with 1.1.0"),
        "app1, app2 and app3 put back:\n{bad}"
    );
    let from = load.count();
    let after = load.take(from, 200);
    assert_eq!(share(&after, "1.1.0"), 100.0, "{:?}", failures(&after));
    let all = load.stop();
    assert_none_failed(&all);
    for s in ["app1", "app2", "app3", "app4"] {
        assert_eq!(f.weight(s), 64, "{:?}", f.weights());
    }
}

fn manual_canary() -> Fleet {
    two_slots(
        "canary",
        "[environments.production.rollout]\nsteps = [5, 25, 100]\npause = \"manual\"\n",
    )
}

#[test]
fn a_canary_split_matches_each_step_and_promotion_runs_the_held_contract_migrations() {
    let f = manual_canary();
    f.deploy_first();
    // The first deploy has no stable release to share with: no steps.
    f.migration(
        "V2__drop_email",
        "-- runner:phase contract\nALTER TABLE customers DROP COLUMN email;\n",
        Some("ALTER TABLE customers ADD COLUMN email TEXT;\n"),
    );
    let load = f.load(4);
    load.take(0, 50);
    let out = f
        .run(&[
            "deploy",
            "--env",
            "production",
            "--version",
            "1.1.0",
            "--with-migrations",
        ])
        .expect_code(9);
    let out = out
        .stdout_has("canary 5% to 1.1.0")
        .stdout_has("1 held back from V2 drop_email");
    assert!(!out.stdout.contains("canary 25%"), "{out}");
    let status = f.run(&["status", "--env", "production"]).expect_code(0);
    status
        .stdout_has("1.1.0 PAUSED at 5%")
        .stdout_has("contract debt")
        .stdout_has("V2 drop_email");

    let measure = |target: f64| load.assert_share("1.1.0", target);
    measure(5.0);
    // A deploy while a canary waits is refused.
    f.run(&["deploy", "--env", "production", "--version", "1.2.0"])
        .expect_code(2)
        .stderr_has("a canary of 1.1.0 is paused at 5%");
    f.run(&["promote", "--env", "production"])
        .expect_code(9)
        .stdout_has("canary 25% to 1.1.0");
    measure(25.0);
    let done = f.run(&["promote", "--env", "production"]).expect_code(0);
    done.stdout_has("canary 100% to 1.1.0")
        .stdout_has("contract")
        .stdout_has("1 applied");
    measure(100.0);
    let all = load.stop();
    assert_none_failed(&all);
    let history = f
        .run(&["history", "--env", "production", "--format", "json"])
        .expect_code(0);
    assert!(history.stdout.contains("succeeded"), "{history}");
    f.run(&["status", "--env", "production"])
        .expect_code(0)
        .stdout_has("version:     1.1.0");
}

#[test]
fn a_canary_that_fails_in_traffic_or_is_aborted_gives_all_traffic_back_to_stable() {
    let f = two_slots(
        "canary",
        "[environments.production.rollout]\nsteps = [10, 100]\npause = \"4s\"\n",
    );
    f.deploy_first();
    let load = f.load(2);
    load.take(0, 50);
    // 1.1.0 passes its checks, then turns unhealthy while it holds 10 %.
    let out = f
        .runner(&["deploy", "--env", "production", "--version", "1.1.0"])
        .env("DEMO_BEHAVIOR", "1.1.0=degrades")
        .run()
        .expect_code(4);
    let out = out
        .stdout_has("canary 10% to 1.1.0")
        .stdout_has("back to 1.0.0 on slot");
    assert!(!out.stdout.contains("canary 100%"), "{out}");
    let from = load.count();
    let after = load.take(from, 300);
    assert_eq!(share(&after, "1.0.0"), 100.0, "{:?}", failures(&after));
    load.stop();

    // A manual abort.
    let f = manual_canary();
    f.deploy_first().stderr_has("takes all traffic at once");
    f.run(&["deploy", "--env", "production", "--version", "1.1.0"])
        .expect_code(9);
    let load = f.load(2);
    f.run(&["abort", "--env", "production"])
        .expect_code(0)
        .stdout_has("back to 1.0.0");
    let from = load.count();
    let after = load.take(from, 300);
    assert_eq!(share(&after, "1.0.0"), 100.0, "{:?}", failures(&after));
    let all = load.stop();
    assert_none_failed(&all);
    f.run(&["status", "--env", "production"])
        .expect_code(0)
        .stdout_has("version:     1.0.0");
    f.run(&["abort", "--env", "production"])
        .expect_code(2)
        .stderr_has("no canary is paused");
}

#[test]
fn after_an_haproxy_reload_runner_re_applies_its_record() {
    let mut f = two_slots("blue-green", "");
    f.deploy_first();
    f.run(&["deploy", "--env", "production", "--version", "1.1.0"])
        .expect_code(0);
    // 1.1.0 serves from blue; green keeps 1.0.0 warm out of traffic.
    assert_eq!((f.weight("blue"), f.weight("green")), (256, 0));
    f.reload_haproxy();
    // The configuration's weights are back: blue 256, green 0, both ready.
    f.run(&["status", "--env", "production"])
        .expect_code(0)
        .stdout_has("DIFFERS from runner's record");
    f.run(&["promote", "--env", "production"])
        .expect_code(0)
        .stderr_has("did not hold what runner recorded")
        .stderr_has("re-applied runner's record");
    let seen = f.weights();
    let green = seen.iter().find(|w| w.0 == "green").unwrap();
    assert_eq!(green.1, 0, "{seen:?}");
    assert!(
        green.2 & 0x01 != 0,
        "green is in maintenance again: {seen:?}"
    );
}
