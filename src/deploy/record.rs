//! What is serving an environment, derived from its journal and never guessed.
//!
//! Every deploy and application rollback writes its journal row before it touches anything
//! (release X replacing Y, who, the phase), moves the row's phase along as it works, and renews
//! a lease with a heartbeat while it runs. So when a run ends without saying how (SIGKILL, a
//! lost CI machine, a second Ctrl-C), the next command sees a row still `running` whose lock is
//! free (or whose lease ran out), and the phase it reached tells whether the app was touched:
//! if so, what serves is in doubt until a later run succeeds. This is deploy-rs's "magic
//! rollback" idea (the deployer must keep confirming) for a CLI without a daemon.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::Environment;
use crate::db::Conn;
use crate::engine::history::History;
use crate::engine::journal::{self, Entry, Kind, RunResult};
use crate::error::{Error, Result};

use crate::config::DEFAULT_LEASE;

/// What serves an environment, as far as the journal tells.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Serving {
    /// The release whose deploy or rollback last succeeded: what serves when `doubt` is
    /// `None`, and the last release known good otherwise.
    pub release: Option<String>,
    /// A later run ended without saying what serves.
    pub doubt: Option<Doubt>,
    /// A run in progress now (its lock held).
    pub running: Option<Running>,
    /// Where `runner rollback` without `--version` goes: the release before the serving one
    /// in deploy order, or, in doubt, the last release that succeeded.
    pub rollback_target: Option<String>,
    /// A canary held at a step: it serves its share, `release` the rest.
    pub paused: Option<Paused>,
}

/// A canary held at a step until `runner promote` or `runner abort`.
#[derive(Debug, Clone, Serialize)]
pub struct Paused {
    pub release: String,
    pub deploy_id: String,
    /// The share of traffic it has, in percent.
    pub percent: u32,
    pub actor: String,
}

/// The percentage a paused canary's row says it holds (its phase is `canary N%`).
pub fn paused_percent(entry: &Entry) -> u32 {
    entry
        .phase
        .as_deref()
        .and_then(|p| p.strip_prefix("canary "))
        .and_then(|p| p.strip_suffix('%'))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// A run that ended without saying what serves.
#[derive(Debug, Clone, Serialize)]
pub struct Doubt {
    /// The release that may be serving.
    pub release: String,
    pub deploy_id: String,
    pub kind: Kind,
    pub phase: String,
    pub result: RunResult,
    pub why: String,
}

impl std::fmt::Display for Doubt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, id, phase) = (self.kind.name(), &self.deploy_id, &self.phase);
        write!(f, "{} may be serving ({kind} {id} ", self.release)?;
        match self.result {
            RunResult::Running => write!(
                f,
                "stopped at phase {phase} without saying how it ended: {})",
                self.why
            ),
            RunResult::RollbackFailed => write!(
                f,
                "failed, and putting the previous release back failed too: {})",
                self.why
            ),
            _ => write!(f, "was stopped at phase {phase}: {})", self.why),
        }
    }
}

/// A run in progress.
#[derive(Debug, Clone, Serialize)]
pub struct Running {
    pub release: String,
    pub deploy_id: String,
    pub kind: Kind,
    pub phase: String,
    pub actor: String,
    /// Its lease ran out: it holds the lock but stopped renewing (a hung or lost machine).
    pub stale: bool,
}

/// Whether the run that wrote a `running` row still lives: the lock is held (by it, or by
/// whoever holds the lock now) and its lease is fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The migration lock is free: nobody runs, so a `running` row is a dead run's.
    LockFree,
    /// The lock is held by someone.
    LockHeld,
    /// The caller holds the lock itself: every `running` row is a dead run's.
    Ours,
}

/// Phases before which the app is untouched: a run that died there changed nothing serving.
fn touched_app(phase: Option<&str>) -> bool {
    !matches!(
        phase,
        None | Some("gate" | "approval" | "lock" | "migrations" | "intent")
    )
}

/// How long ago an RFC 3339 time was, by this machine's clock.
fn age(at: Option<&str>, now: SystemTime) -> Option<Duration> {
    let at = at?;
    let at = humantime::parse_rfc3339(at)
        .or_else(|_| humantime::parse_rfc3339_weak(at))
        .ok()?;
    now.duration_since(at).ok()
}

/// The lease of a row has run out: no heartbeat within it.
fn lease_expired(entry: &Entry, now: SystemTime) -> bool {
    let lease = entry
        .lease_ms
        .and_then(|ms| u64::try_from(ms).ok())
        .map_or(DEFAULT_LEASE, Duration::from_millis);
    age(entry.heartbeat_at.as_deref(), now).is_some_and(|a| a > lease)
}

/// What serves, from the journal (newest first) and whether a run holds the lock.
pub fn serving(entries: &[Entry], liveness: Liveness, now: SystemTime) -> Serving {
    let mut out = Serving::default();
    for e in entries.iter().filter(|e| e.kind.is_release()) {
        match e.result {
            RunResult::Running => {
                // A run whose lease ran out stopped confirming it is alive (hung, or its
                // machine lost with the database session still open): in doubt at once, even
                // while the lock stays held.
                let expired = lease_expired(e, now);
                let dead = match liveness {
                    Liveness::LockFree | Liveness::Ours => true,
                    Liveness::LockHeld => expired,
                };
                if !dead && out.running.is_none() && out.doubt.is_none() {
                    out.running = Some(Running {
                        release: e.version.clone(),
                        deploy_id: e.id.clone(),
                        kind: e.kind,
                        phase: e.phase.clone().unwrap_or_else(|| "starting".into()),
                        actor: e.actor.clone(),
                        stale: expired,
                    });
                } else if dead && touched_app(e.phase.as_deref()) && out.doubt.is_none() {
                    out.doubt = Some(Doubt {
                        release: e.version.clone(),
                        deploy_id: e.id.clone(),
                        kind: e.kind,
                        phase: e.phase.clone().unwrap_or_default(),
                        result: e.result,
                        why: if expired && liveness == Liveness::LockHeld {
                            "its lease ran out: the runner stopped renewing it (hung, or its machine lost)".into()
                        } else {
                            "killed, or its machine lost".into()
                        },
                    });
                }
            }
            RunResult::InDoubt | RunResult::RollbackFailed => {
                if out.doubt.is_none() {
                    out.doubt = Some(Doubt {
                        release: e.version.clone(),
                        deploy_id: e.id.clone(),
                        kind: e.kind,
                        phase: e.phase.clone().unwrap_or_default(),
                        result: e.result,
                        why: e.error.clone().unwrap_or_default(),
                    });
                }
            }
            RunResult::Succeeded => {
                out.release = Some(e.version.clone());
                break;
            }
            RunResult::Paused => {
                if out.paused.is_none() && out.doubt.is_none() && out.release.is_none() {
                    out.paused = Some(Paused {
                        release: e.version.clone(),
                        deploy_id: e.id.clone(),
                        percent: paused_percent(e),
                        actor: e.actor.clone(),
                    });
                }
            }
            RunResult::RolledBack | RunResult::Failed | RunResult::Interrupted => {}
        }
    }
    let stack = release_stack(entries);
    out.rollback_target = match &out.doubt {
        // In doubt, the last release known good is where a rollback goes.
        Some(_) => stack.last().cloned(),
        None => stack.len().checked_sub(2).map(|i| stack[i].clone()),
    };
    out
}

/// The release stack of an environment, oldest at the bottom, from its journal (newest
/// first): a deploy that succeeds pushes its release (unless it already serves), a rollback to
/// a release pops back down to it (or pushes it, when it had been popped off before). A
/// deploy that failed, was aborted, interrupted or rolled back is never on it, so `runner
/// rollback` without `--version` goes to the release the serving one replaced, and a second
/// rollback walks further back.
pub fn release_stack(entries: &[Entry]) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let done = |e: &&Entry| e.kind.is_release() && e.result == RunResult::Succeeded;
    for e in entries.iter().rev().filter(done) {
        match e.kind {
            Kind::Rollback => match stack.iter().rposition(|r| *r == e.version) {
                Some(at) => stack.truncate(at + 1),
                None => stack.push(e.version.clone()),
            },
            _ => {
                if stack.last() != Some(&e.version) {
                    stack.push(e.version.clone());
                }
            }
        }
    }
    stack
}

/// Whether `release` ever deployed successfully (or was rolled back to successfully).
pub fn ever_succeeded(entries: &[Entry], release: &str) -> bool {
    entries
        .iter()
        .any(|e| e.kind.is_release() && e.version == release && e.result == RunResult::Succeeded)
}

/// Closes the rows of runs that are gone (call with the lock held): `interrupted` when they
/// died before touching the app, `in_doubt` after. Returns what a person should know.
pub async fn close_dead_runs(
    conn: &mut Conn,
    history: &History,
    entries: &[Entry],
    at: crate::hints::At<'_>,
    command: &str,
) -> Vec<String> {
    let mut notes = Vec::new();
    for e in entries.iter().filter(|e| e.result == RunResult::Running) {
        let phase = e.phase.clone().unwrap_or_else(|| "starting".into());
        let (result, what) = if !e.kind.is_release() {
            // A migrate, a migrations rollback or a recover never touches the app: what it left
            // is about migrations, and `runner recover` explains it.
            (
                RunResult::Interrupted,
                format!(
                    "the app was not touched; `{}` shows what the migrations were left in",
                    crate::hints::recover(&e.environment)
                ),
            )
        } else if touched_app(Some(&phase)) {
            (
                RunResult::InDoubt,
                format!(
                    "{} may be serving: check the app, then `{}` puts back the last release that succeeded, or deploy again",
                    e.version,
                    crate::hints::rollback(at)
                ),
            )
        } else {
            (
                RunResult::Interrupted,
                "the app was not touched yet".to_string(),
            )
        };
        let error = format!(
            "the runner of this {} stopped at phase {phase} without saying how it ended (killed, or its machine lost); found by `{command}` at {}",
            e.kind.name(),
            crate::runtime::timestamp_now()
        );
        if journal::close_dead(conn, history, &e.id, result, &error)
            .await
            .is_ok()
        {
            notes.push(format!(
                "the {} of {} to {} ({}, by {}) stopped at phase {phase} without saying how it ended; recorded as {result}: {what}",
                e.kind.name(),
                e.version,
                e.environment,
                e.id,
                e.actor
            ));
        }
    }
    notes
}

/// The lease of a running deploy: a thread with its own connection renews the journal row's
/// heartbeat (with what the run wants the router to hold) until dropped. Best effort: a
/// heartbeat that cannot be written is tried again at the next beat, and never stops the run.
pub struct Lease {
    shared: Arc<(Mutex<Beat>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Beat {
    desired: Option<String>,
    stop: bool,
}

impl Lease {
    pub fn start(env: &Environment, prefix: &str, id: &str, lease: Duration) -> Lease {
        let shared = Arc::new((Mutex::new(Beat::default()), Condvar::new()));
        let beat = Arc::clone(&shared);
        let (env, prefix, id) = (env.clone(), prefix.to_string(), id.to_string());
        let every = (lease / 5).clamp(Duration::from_millis(200), Duration::from_secs(5));
        let thread = std::thread::Builder::new()
            .name("lease".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(renew(env, prefix, id, every, beat));
            })
            .ok();
        Lease { shared, thread }
    }
}

async fn renew(
    env: Environment,
    prefix: String,
    id: String,
    every: Duration,
    shared: Arc<(Mutex<Beat>, Condvar)>,
) {
    let mut conn: Option<Conn> = None;
    loop {
        let (desired, stop) = {
            let (lock, wake) = &*shared;
            let Ok(beat) = lock.lock() else { return };
            let Ok((mut beat, _)) = wake.wait_timeout(beat, every) else {
                return;
            };
            (beat.desired.take(), beat.stop)
        };
        if stop {
            break;
        }
        if conn.is_none() {
            conn = crate::engine::open(&env, "lease").await.ok();
        }
        if let Some(c) = conn.as_mut() {
            let history = History::new(&prefix, c.dialect());
            if journal::heartbeat(c, &history, &id, desired.as_deref())
                .await
                .is_err()
            {
                // Write it again at the next beat, on a fresh connection.
                if let Some(desired) = desired
                    && let Ok(mut beat) = shared.0.lock()
                {
                    beat.desired.get_or_insert(desired);
                }
                if let Some(c) = conn.take() {
                    c.close().await;
                }
            }
        }
    }
    if let Some(c) = conn {
        c.close().await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let (lock, wake) = &*self.shared;
        if let Ok(mut beat) = lock.lock() {
            beat.stop = true;
            wake.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Release versions: letters, digits, `.`, `_` and `-`, as DESIGN §6 requires (they reach
/// hooks and file names).
pub fn validate_version(version: &str) -> Result<()> {
    let ok = !version.is_empty()
        && version.len() <= 128
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "`{version}` is not a release version: use letters, digits, `.`, `_` and `-` (e.g. 1.4.2 or 2026-11-26.3)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: &str, kind: Kind, result: RunResult, phase: Option<&str>) -> Entry {
        let mut e = Entry::begin(&format!("id-{version}"), "production", kind, version, "ci");
        e.result = result;
        e.phase = phase.map(str::to_string);
        e
    }

    fn deployed(version: &str) -> Entry {
        entry(version, Kind::Deploy, RunResult::Succeeded, Some("smoke"))
    }

    fn rolled_back_to(version: &str) -> Entry {
        entry(
            version,
            Kind::Rollback,
            RunResult::Succeeded,
            Some("health"),
        )
    }

    fn now() -> SystemTime {
        SystemTime::now()
    }

    #[test]
    fn rolling_back_twice_walks_back_and_never_returns_to_the_bad_release() {
        // Newest first: 1.2.2, 1.2.3, 1.3.0 deployed; then a rollback to 1.2.3.
        let mut journal = vec![deployed("1.3.0"), deployed("1.2.3"), deployed("1.2.2")];
        let s = serving(&journal, Liveness::LockFree, now());
        assert_eq!(s.release.as_deref(), Some("1.3.0"));
        assert_eq!(s.rollback_target.as_deref(), Some("1.2.3"));
        journal.insert(0, rolled_back_to("1.2.3"));
        let s = serving(&journal, Liveness::LockFree, now());
        assert_eq!(s.release.as_deref(), Some("1.2.3"));
        assert_eq!(s.rollback_target.as_deref(), Some("1.2.2"));
        journal.insert(0, rolled_back_to("1.2.2"));
        let s = serving(&journal, Liveness::LockFree, now());
        assert_eq!(s.rollback_target, None);
    }

    #[test]
    fn a_deploy_after_a_rollback_replaces_the_release_rolled_back_to() {
        // 1.0.0, 1.1.0, rollback to 1.0.0, 1.4.0: 1.4.0 replaced 1.0.0, not 1.1.0.
        let journal = vec![
            deployed("1.4.0"),
            rolled_back_to("1.0.0"),
            deployed("1.1.0"),
            deployed("1.0.0"),
        ];
        let s = serving(&journal, Liveness::LockFree, now());
        assert_eq!(s.release.as_deref(), Some("1.4.0"));
        assert_eq!(s.rollback_target.as_deref(), Some("1.0.0"));
        assert_eq!(release_stack(&journal), ["1.0.0", "1.4.0"]);
    }

    #[test]
    fn a_release_that_never_succeeded_is_never_a_target() {
        let journal = vec![
            entry("1.6.0", Kind::Deploy, RunResult::RolledBack, Some("health")),
            deployed("1.5.0"),
            deployed("1.4.0"),
        ];
        let s = serving(&journal, Liveness::LockFree, now());
        assert_eq!(s.release.as_deref(), Some("1.5.0"));
        assert!(s.doubt.is_none());
        assert_eq!(s.rollback_target.as_deref(), Some("1.4.0"));
    }

    #[test]
    fn a_dead_run_that_touched_the_app_leaves_the_record_in_doubt() {
        let journal = vec![
            entry("1.6.0", Kind::Deploy, RunResult::Running, Some("health")),
            deployed("1.5.0"),
            deployed("1.4.0"),
        ];
        let s = serving(&journal, Liveness::LockFree, now());
        let doubt = s.doubt.expect("in doubt");
        assert_eq!(doubt.release, "1.6.0");
        assert_eq!(doubt.phase, "health");
        // The last release that succeeded is what `runner rollback` restores.
        assert_eq!(s.release.as_deref(), Some("1.5.0"));
        assert_eq!(s.rollback_target.as_deref(), Some("1.5.0"));
        // Alive (lock held): a deploy in progress, not a doubt.
        let s = serving(&journal, Liveness::LockHeld, now());
        assert!(s.doubt.is_none());
        assert_eq!(s.running.expect("running").phase, "health");
    }

    #[test]
    fn a_dead_run_before_the_app_was_touched_changes_nothing() {
        let journal = vec![
            entry(
                "1.6.0",
                Kind::Deploy,
                RunResult::Running,
                Some("migrations"),
            ),
            deployed("1.5.0"),
        ];
        let s = serving(&journal, Liveness::LockFree, now());
        assert!(s.doubt.is_none());
        assert_eq!(s.release.as_deref(), Some("1.5.0"));
    }

    #[test]
    fn a_failed_rollback_hook_is_in_doubt_until_a_run_succeeds() {
        let mut journal = vec![
            entry(
                "1.6.0",
                Kind::Deploy,
                RunResult::RollbackFailed,
                Some("rollback"),
            ),
            deployed("1.5.0"),
            deployed("1.4.0"),
        ];
        let s = serving(&journal, Liveness::LockFree, now());
        assert!(s.doubt.is_some());
        assert_eq!(s.rollback_target.as_deref(), Some("1.5.0"));
        journal.insert(0, rolled_back_to("1.5.0"));
        let s = serving(&journal, Liveness::LockFree, now());
        assert!(s.doubt.is_none());
        assert_eq!(s.release.as_deref(), Some("1.5.0"));
        assert_eq!(s.rollback_target.as_deref(), Some("1.4.0"));
    }

    #[test]
    fn a_running_deploy_whose_lease_ran_out_is_in_doubt_at_once() {
        let mut e = entry("2.0.0", Kind::Deploy, RunResult::Running, Some("health"));
        e.lease_ms = Some(1_000);
        e.heartbeat_at = Some(
            humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(5))
                .to_string(),
        );
        let journal = vec![e, deployed("1.0.0")];
        // The lock is still held (a lost machine's session stays open): in doubt all the same.
        let s = serving(&journal, Liveness::LockHeld, now());
        assert!(s.running.is_none());
        let doubt = s.doubt.expect("in doubt");
        assert!(doubt.why.contains("lease ran out"), "{}", doubt.why);
        assert_eq!(s.rollback_target.as_deref(), Some("1.0.0"));
    }

    #[test]
    fn a_lease_without_heartbeat_is_stale() {
        let mut e = entry("2.0.0", Kind::Deploy, RunResult::Running, Some("deploy"));
        e.lease_ms = Some(1_000);
        e.heartbeat_at = Some(
            humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(5))
                .to_string(),
        );
        assert!(lease_expired(&e, SystemTime::now()));
        e.heartbeat_at = Some(humantime::format_rfc3339_millis(SystemTime::now()).to_string());
        assert!(!lease_expired(&e, SystemTime::now()));
    }
}
