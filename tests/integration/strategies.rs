//! Blue-green, canary and rolling through a real HAProxy (runtime API on a unix socket) in
//! front of real demo app servers, with a load generator sending requests through the
//! frontend during each deploy and rollback.

use std::time::Instant;

use crate::harness::fleet::{Fleet, failures, share};

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
    f.run(&[
        "deploy",
        "--env",
        "production",
        "--version",
        "1.0.0",
        "--with-migrations",
    ])
    .expect_code(0)
    .stdout_has("switch to 1.0.0 on slot green");
    assert_eq!((f.weight("green"), f.weight("blue")), (256, 0));
    let load = f.load(4);
    let before = load.take(0, 200);
    assert_eq!(share(&before, "1.0.0"), 100.0, "{:?}", failures(&before));

    let out = f
        .run(&[
            "deploy",
            "--env",
            "production",
            "--version",
            "1.1.0",
            "--with-migrations",
        ])
        .expect_code(0);
    let _ = out
        .stdout_has("switch to 1.1.0 on slot blue")
        .stdout_has("kept running out of traffic until");
    let switched = load.count();
    let after = load.take(switched, 300);
    assert_eq!(share(&after, "1.1.0"), 100.0, "{:?}", failures(&after));

    let t = Instant::now();
    let back = f.run(&["rollback", "--env", "production"]).expect_code(0);
    let took = t.elapsed();
    let back = back.stdout_has("back to 1.0.0 on slot green");
    assert!(
        !back.stdout.contains("\n  deploy "),
        "a switch back, not a redeploy:\n{back}"
    );
    let rolled = load.count();
    let samples = load.take(rolled, 300);
    assert_eq!(share(&samples, "1.0.0"), 100.0, "{:?}", failures(&samples));
    let all = load.stop();
    assert!(all.len() > 1000, "{} requests", all.len());
    assert!(
        failures(&all).is_empty(),
        "{} failed: {:?}",
        failures(&all).len(),
        &failures(&all)[..failures(&all).len().min(5)]
    );
    assert!(took.as_secs_f64() < 5.0, "rollback took {took:?}");
    assert_eq!((f.weight("green"), f.weight("blue")), (256, 0));
}
