//! The release stack, model-based: a small reference model of what `runner rollback` returns
//! to (a deploy that succeeds pushes its release, a rollback pops back to the release the
//! serving one replaced; failed, aborted, killed and rolled-back deploys are never targets),
//! and seeded random sequences of operations run against a real demo-app fleet behind a real
//! HAProxy, comparing what serves through the router and what `runner status` says with the
//! model after every step. `RUNNER_MODEL_STEPS` and `RUNNER_MODEL_SEED` make a longer run
//! (`scripts/model-rollback.sh`).

use std::time::{Duration, Instant};

use crate::harness::fleet::Fleet;

/// The reference: what serves and what a rollback returns to, with nothing of runner's code.
#[derive(Debug, Default, Clone)]
struct Model {
    /// Releases that succeeded, oldest first; the last serves.
    stack: Vec<String>,
    /// A canary held at a step, serving its share beside the stack's top.
    paused: Option<String>,
    /// A deploy killed after it touched the app: it may be serving.
    doubt: Option<String>,
    /// Every release that ever succeeded (what `rollback --version` accepts).
    succeeded: Vec<String>,
}

impl Model {
    fn top(&self) -> Option<&String> {
        self.stack.last()
    }

    /// Where `runner rollback` goes: in doubt, the last release known good; otherwise the
    /// release the serving one replaced.
    fn target(&self) -> Option<&String> {
        match self.doubt {
            Some(_) => self.top(),
            None => self.stack.len().checked_sub(2).map(|i| &self.stack[i]),
        }
    }

    fn succeed(&mut self, release: &str) {
        if self.top().map(String::as_str) != Some(release) {
            self.stack.push(release.to_string());
        }
        if !self.succeeded.iter().any(|r| r == release) {
            self.succeeded.push(release.to_string());
        }
        self.doubt = None;
    }

    fn rolled_back_to(&mut self, release: &str) {
        match self.stack.iter().rposition(|r| r == release) {
            Some(at) => self.stack.truncate(at + 1),
            None => self.stack.push(release.to_string()),
        }
        self.doubt = None;
    }
}

#[derive(Debug, Clone)]
enum Op {
    Deploy(String),
    DeployUnhealthy(String),
    Promote,
    Abort,
    Rollback,
    RollbackTo(String),
    Kill(String),
    /// A feature flag created and turned up in production: it never changes what serves.
    Flag(String),
}

/// A small deterministic generator (xorshift64*), so a failing seed replays exactly.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The next operation: mostly ones that apply to the state, sometimes ones that must be refused.
fn choose(model: &Model, rng: &mut Seeded, fresh: &mut u32) -> Op {
    let mut release = || {
        *fresh += 1;
        format!("2.{fresh}.0")
    };
    if model.stack.is_empty() {
        return Op::Deploy(release());
    }
    if model.paused.is_some() {
        return match rng.below(10) {
            0..=3 => Op::Promote,
            4..=6 => Op::Abort,
            7 => Op::Rollback,
            _ => Op::Deploy(release()),
        };
    }
    match rng.below(20) {
        0..=6 => Op::Deploy(release()),
        7..=8 => Op::DeployUnhealthy(release()),
        9..=12 => Op::Rollback,
        13..=14 => {
            let pick = model.succeeded[rng.below(model.succeeded.len())].clone();
            Op::RollbackTo(pick)
        }
        15 => Op::Abort,
        16 => Op::Kill(release()),
        17 => Op::Flag(format!("flag-{}", release().replace('.', "-"))),
        _ => Op::Deploy(release()),
    }
}

/// Runs `op` and advances the model; the exit code is part of what is compared.
fn step(f: &Fleet, model: &mut Model, op: &Op) {
    let prod = ["--env", "production"];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&prod);
        f.run(&all)
    };
    match op {
        Op::Deploy(v) => {
            let out = run(&["deploy", "--version", v, "--with-migrations"]);
            match (&model.paused, model.stack.is_empty()) {
                (Some(_), _) => {
                    out.expect_code(2);
                }
                // The first release takes all traffic at once.
                (None, true) => {
                    out.expect_code(0);
                    model.succeed(v);
                }
                (None, false) => {
                    out.expect_code(9);
                    model.paused = Some(v.clone());
                }
            }
        }
        Op::DeployUnhealthy(v) => {
            let out = f
                .runner(&["deploy", "--version", v, "--env", "production"])
                .env("DEMO_BEHAVIOR", &format!("{v}=unhealthy"))
                .run();
            out.expect_code(4);
        }
        Op::Promote => {
            run(&["promote"]).expect_code(0);
            let v = model.paused.take().unwrap();
            model.succeed(&v);
        }
        Op::Abort => {
            let out = run(&["abort"]);
            match model.paused.take() {
                Some(_) => out.expect_code(0),
                None => out.expect_code(2).stderr_has("no canary is paused"),
            };
        }
        Op::Rollback => {
            let out = run(&["rollback"]);
            match (&model.paused, model.target().cloned()) {
                (Some(_), _) => {
                    out.expect_code(2).stderr_has("is paused");
                }
                (None, Some(target)) => {
                    out.expect_code(0);
                    model.rolled_back_to(&target);
                }
                (None, None) => {
                    out.expect_code(2);
                }
            }
        }
        Op::RollbackTo(v) => {
            let out = run(&["rollback", "--version", v]);
            if model.top() == Some(v) && model.doubt.is_none() {
                out.expect_code(0).stderr_has("nothing to do");
            } else {
                out.expect_code(0);
                model.rolled_back_to(v);
            }
        }
        Op::Kill(v) => {
            let mut child = f
                .runner(&["deploy", "--version", v, "--env", "production"])
                .env("DEMO_BEHAVIOR", &format!("{v}=down"))
                .spawn();
            wait_for_health_phase(f);
            child.kill().unwrap();
            child.wait().unwrap();
            model.doubt = Some(v.clone());
        }
        Op::Flag(key) => {
            f.run(&["flag", "new", key]).expect_code(0);
            f.run(&["flag", "promote", key, "--env", "production"])
                .expect_code(0);
        }
    }
}

fn status(f: &Fleet) -> serde_json::Value {
    let out = f.run(&["status", "--env", "production", "--format", "json"]);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn wait_for_health_phase(f: &Fleet) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = status(f);
        if s["running"]["phase"] == "health" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the deploy never reached health: {s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What `status` says and what answers through the router agree with the model.
fn compare(f: &Fleet, model: &Model, history: &str) {
    let s = status(f);
    let top = model.top().cloned();
    assert_eq!(
        s["current_version"].as_str(),
        top.as_deref(),
        "{history}\n{s}"
    );
    assert_eq!(
        s["previous_version"].as_str(),
        model.target().map(String::as_str),
        "rollback target\n{history}\n{s}"
    );
    assert_eq!(
        s["paused"]["release"].as_str(),
        model.paused.as_deref(),
        "{history}\n{s}"
    );
    assert_eq!(
        s["in_doubt"]["release"].as_str(),
        model.doubt.as_deref(),
        "{history}\n{s}"
    );
    // Through HAProxy: the stack's top, or the paused canary beside it. A deploy killed in
    // its health checks never took traffic.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    for _ in 0..4 {
        let body = agent
            .get(&format!("http://127.0.0.1:{}/", f.frontend))
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
            .unwrap_or_else(|e| panic!("a request through the router failed: {e}\n{history}"));
        let answered = body.trim().trim_start_matches("version ").to_string();
        let allowed = [top.as_ref(), model.paused.as_ref()];
        assert!(
            allowed.contains(&Some(&answered)),
            "{answered} answered; the model has {top:?} (paused {:?})\n{history}",
            model.paused
        );
    }
}

fn steps() -> usize {
    std::env::var("RUNNER_MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(250)
}

#[test]
fn rollback_follows_the_release_stack_through_random_sequences() {
    let seed: u64 = std::env::var("RUNNER_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    let f = Fleet::new(
        "canary",
        &[("blue", Some("blue")), ("green", Some("green"))],
        "[environments.production.rollout]\nsteps = [50, 100]\npause = \"manual\"\n",
    );
    let mut rng = Seeded(seed | 1);
    let mut model = Model::default();
    let mut fresh = 0;
    let mut history = format!("seed {seed}:");
    for i in 0..steps() {
        let op = choose(&model, &mut rng, &mut fresh);
        history.push_str(&format!("\n  {i}: {op:?}"));
        step(&f, &mut model, &op);
        compare(&f, &model, &history);
    }
}

/// The case that broke: 1.0.0, 1.1.0, rollback (1.0.0), 1.4.0, rollback: 1.0.0, not 1.1.0.
#[test]
fn a_rollback_after_a_deploy_that_followed_a_rollback_returns_to_the_release_it_replaced() {
    let f = Fleet::new(
        "canary",
        &[("blue", Some("blue")), ("green", Some("green"))],
        "[environments.production.rollout]\nsteps = [100]\n",
    );
    let mut model = Model::default();
    for op in [
        Op::Deploy("1.0.0".into()),
        Op::Deploy("1.1.0".into()),
        Op::Rollback,
        Op::Deploy("1.4.0".into()),
        Op::Rollback,
    ] {
        // One step of 100 %: every deploy succeeds at once.
        match &op {
            Op::Deploy(v) => {
                f.run(&[
                    "deploy",
                    "--version",
                    v,
                    "--env",
                    "production",
                    "--with-migrations",
                ])
                .expect_code(0);
                model.succeed(v);
            }
            other => step(&f, &mut model, other),
        }
        compare(&f, &model, &format!("{op:?}"));
    }
    assert_eq!(model.top().map(String::as_str), Some("1.0.0"));
}

/// Waiting is not success: a deploy that leaves a canary paused exits 9, and `runner wait`
/// waits for its outcome (0 once promoted, 4 once aborted, 9 when its timeout runs out).
#[test]
fn a_paused_canary_exits_9_and_runner_wait_returns_its_outcome() {
    let f = Fleet::new(
        "canary",
        &[("blue", Some("blue")), ("green", Some("green"))],
        "[environments.production.rollout]\nsteps = [50, 100]\npause = \"manual\"\n",
    );
    f.deploy_first();
    let prod = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--env", "production"]);
        f.run(&all)
    };
    prod(&["deploy", "--version", "1.1.0"]).expect_code(9);
    prod(&["wait", "--timeout", "1s"])
        .expect_code(9)
        .stdout_has("canary 1.1.0 paused at 50%")
        .stdout_has("still waiting after 1s");
    let waiter = std::thread::spawn({
        let runner = f.runner(&["wait", "--env", "production", "--timeout", "60s"]);
        move || runner.run()
    });
    std::thread::sleep(Duration::from_millis(500));
    prod(&["promote"]).expect_code(0);
    waiter
        .join()
        .unwrap()
        .expect_code(0)
        .stdout_has("1.1.0 serves all traffic (succeeded)");
    prod(&["deploy", "--version", "1.2.0"]).expect_code(9);
    let waiter = std::thread::spawn({
        let runner = f.runner(&["wait", "--env", "production", "--timeout", "60s"]);
        move || runner.run()
    });
    std::thread::sleep(Duration::from_millis(500));
    std::thread::sleep(Duration::from_millis(1000));
    prod(&["abort"]).expect_code(0);
    waiter
        .join()
        .unwrap()
        .expect_code(4)
        .stdout_has("1.2.0 did not go on (rolled_back): 1.1.0 serves");
    // The journal's duration of the aborted canary covers its pause (over 1.5 s here), and its
    // times are ISO 8601 UTC.
    let history = prod(&["history", "--format", "json"]).expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let aborted = json
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["version"] == "1.2.0")
        .unwrap();
    assert!(
        aborted["duration_ms"].as_i64().unwrap() >= 1500,
        "{aborted}"
    );
    let started = aborted["started_at"].as_str().unwrap();
    assert!(started.ends_with('Z') && started.contains('T'), "{started}");
    prod(&["wait"])
        .expect_code(0)
        .stdout_has("nothing in progress; 1.1.0 serves");
}
