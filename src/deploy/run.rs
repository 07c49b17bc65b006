//! One run of a deploy, an automatic recovery or an application rollback: its journal row, its
//! phases (each timed, shown and recorded the same way), its hooks and its audit events.

use std::time::{Duration, Instant};

use super::health::Probe;
use super::hooks::{HookContext, HookResult, HookRunner, Secrets, Server};
use crate::config::{Config, Environment};
use crate::db::Conn;
use crate::engine::history::History;
use crate::engine::journal::{self, Entry, Kind, PhaseRecord, RunResult};
use crate::error::{Error, Result};
use crate::runtime::RunInfo;

/// What a run shows while it works; `report::deploy` prints it for people or as JSON.
pub trait Reporter {
    fn begin(&mut self, env: &str, what: &str);
    fn phase(&mut self, phase: &PhaseRecord);
    fn findings(&mut self, report: &crate::lint::Report);
    fn probe(&mut self, probe: &Probe);
    /// Prints each line of hook output as it arrives.
    fn hook_echo(&self) -> Box<dyn Fn(&str) + Sync>;
    /// Where the migrations of a deploy report, nested under its phase.
    fn migrations(&self) -> Box<dyn crate::engine::Reporter>;
    /// Something a person should know that is not a phase.
    fn note(&mut self, message: &str);
    fn success(&mut self, env: &str, version: &str, took: Duration);
}

/// The phases of a run, in the order a deploy goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Gate,
    Approval,
    Lock,
    Migrations,
    Deploy,
    Health,
    Smoke,
    Rollback,
    HealthAfterRollback,
    MigrationsRollback,
    /// The router's weights changed (a switch, a canary step, a batch back in).
    Traffic,
    /// Servers taken out of traffic, their requests finished.
    Drain,
    /// The release of servers out of traffic stopped (the stop hook).
    Stop,
    /// A canary step held, its servers watched.
    Pause,
    /// Contract migrations, once the previous release is stopped.
    Contract,
    /// The new release watched after it took all traffic (`--watch`).
    Watch,
    /// Webhooks told of the run.
    Notify,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Gate => "gate",
            Phase::Approval => "approval",
            Phase::Lock => "lock",
            Phase::Migrations => "migrations",
            Phase::Deploy => "deploy",
            Phase::Health => "health",
            Phase::Smoke => "smoke",
            Phase::Rollback => "rollback",
            Phase::HealthAfterRollback => "health after rollback",
            Phase::MigrationsRollback => "migrations rollback",
            Phase::Traffic => "traffic",
            Phase::Drain => "drain",
            Phase::Stop => "stop",
            Phase::Pause => "pause",
            Phase::Contract => "contract",
            Phase::Watch => "watch",
            Phase::Notify => "notify",
        }
    }
}

/// How a phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Failed,
    Approved,
    NotRequired,
    Taken,
    Healthy,
    Unhealthy,
    TimedOut,
    Skipped,
    SkippedForced,
    NotConfigured,
    Interrupted,
    /// Held until `runner promote` or `runner abort`.
    Paused,
    /// Contract migrations waiting for the previous release to stop.
    Held,
    /// Out of traffic, still running for an instant rollback.
    Kept,
    /// Nothing failed, but the metrics never passed (no data, too few requests).
    Inconclusive,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Approved => "approved",
            Status::NotRequired => "not required",
            Status::Taken => "taken",
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
            Status::TimedOut => "timed out",
            Status::Skipped => "skipped",
            Status::SkippedForced => "skipped (forced)",
            Status::NotConfigured => "not configured",
            Status::Interrupted => "interrupted",
            Status::Paused => "paused",
            Status::Held => "held",
            Status::Kept => "kept",
            Status::Inconclusive => "inconclusive",
        }
    }
}

/// A run: who, where, its journal row as it goes, and where it reports.
pub struct Run<'a> {
    pub config: &'a Config,
    pub env: &'a Environment,
    pub entry: Entry,
    pub started: Instant,
    pub info: RunInfo,
    pub history: History,
    pub out: &'a mut dyn Reporter,
    secrets: Secrets,
    notifier: super::notify::Notifier,
}

impl<'a> Run<'a> {
    /// A run of `kind` on `version` ("" when the run finds it), recorded in `env`'s journal.
    pub fn new(
        (config, env): (&'a Config, &'a Environment),
        (kind, version): (Kind, &str),
        dialect: crate::config::Dialect,
        out: &'a mut dyn Reporter,
    ) -> Run<'a> {
        let info = crate::runtime::run_info(&env.name, Some(version.to_string()));
        let mut entry = Entry::begin(&info.deploy_id, &env.name, kind, version, &info.actor);
        entry.lease_ms = i64::try_from(config.lease.as_millis()).ok();
        Run {
            config,
            env,
            entry,
            started: Instant::now(),
            history: History::new(&config.history_prefix, dialect),
            secrets: Secrets::of(config),
            notifier: super::notify::Notifier::new(&config.notify),
            info,
            out,
        }
    }

    /// With the lock held: the history tables ready, the journal read, the rows of runs that
    /// died closed (and said), and what serves derived from it.
    pub async fn reconcile(
        &mut self,
        conn: &mut Conn,
        command: &str,
    ) -> Result<(Vec<Entry>, super::record::Serving)> {
        self.history
            .ensure(conn)
            .await
            .map_err(|e| crate::engine::db("create the history tables", e))?;
        let entries = journal::entries(conn, &self.history, &self.env.name)
            .await
            .map_err(|e| crate::engine::db("read the deploy journal", e))?;
        for note in super::record::close_dead_runs(
            conn,
            &self.history,
            &entries,
            crate::hints::At::of(self.env),
            command,
        )
        .await
        {
            self.out.note(&note);
        }
        let serving = super::record::serving(
            &entries,
            super::record::Liveness::Ours,
            std::time::SystemTime::now(),
        );
        Ok((entries, serving))
    }

    /// Writes the journal row: the intent, before anything is touched.
    pub async fn begin(&mut self, conn: &mut Conn) -> Result<()> {
        journal::start(conn, &self.history, &self.entry)
            .await
            .map_err(|e| crate::engine::db("write the deploy journal", e))
    }

    /// Moves the row to `phase` before the phase acts, so a run that dies in it is known to
    /// have reached it.
    pub async fn enter(&mut self, conn: &mut Conn, phase: Phase) -> Result<Instant> {
        self.entry.phase = Some(phase.name().to_string());
        journal::progress(conn, &self.history, &self.entry)
            .await
            .map_err(|e| crate::engine::db("record the deploy's phase", e))?;
        Ok(Instant::now())
    }

    /// Records the run's evaluations so far (best effort: the row's end records them too).
    pub async fn record_progress(&self, conn: &mut Conn) {
        let _ = journal::progress(conn, &self.history, &self.entry).await;
    }

    /// Shows a phase that ended and adds it to the journal row.
    pub fn phase(&mut self, phase: Phase, status: Status, since: Instant, detail: String) {
        let p = PhaseRecord {
            phase: phase.name().into(),
            status: status.name().into(),
            duration_ms: since.elapsed().as_millis() as u64,
            detail,
        };
        self.out.phase(&p);
        self.entry.phases.push(p);
    }

    /// Runs a hook of this environment with the hook contract; its last lines are kept for
    /// the journal. `interrupt_at` signals end it early (`usize::MAX`: never).
    pub fn hook(
        &mut self,
        (argv, phase): (&[String], Phase),
        (version, previous): (&str, &str),
        server: Option<&Server<'_>>,
        interrupt_at: usize,
    ) -> HookResult {
        let ctx = HookContext {
            environment: &self.env.name,
            version,
            previous_version: previous,
            deploy_id: &self.entry.id,
            phase: phase.name(),
            server,
        };
        let echo = self.out.hook_echo();
        let runner = HookRunner {
            cwd: &self.config.root,
            secrets: &self.secrets,
            timeout: self.config.hook_timeout,
            echo: &echo,
        };
        let result = runner.run(argv, &ctx, interrupt_at);
        let mut kept = self.entry.hook_output.take().unwrap_or_default();
        if !kept.is_empty() && !kept.ends_with('\n') {
            kept.push('\n');
        }
        for line in &result.last_lines {
            kept.push_str(&format!("[{}] {line}\n", phase.name()));
        }
        let tail: Vec<&str> = kept.lines().collect();
        let start = tail.len().saturating_sub(60);
        self.entry.hook_output = Some(tail[start..].join("\n"));
        result
    }

    /// Appends to the audit log, best effort (`History::audit` says why).
    pub async fn event(&self, conn: &mut Conn, kind: &str, detail: &str) {
        self.history
            .audit(conn, &self.info, None, kind, detail)
            .await;
    }

    /// Tells the `[notify]` webhooks of `event` (in the background; never fails the run).
    pub fn notify(&mut self, event: &str, detail: &str) {
        let e = self.event_of(event, detail);
        self.notifier.send(&e);
    }

    fn event_of(&self, event: &str, detail: &str) -> super::notify::Event {
        super::notify::Event {
            event: event.to_string(),
            environment: self.env.name.clone(),
            kind: self.entry.kind.name().to_string(),
            version: self.entry.version.clone(),
            previous_version: self.entry.previous_version.clone(),
            deploy_id: self.entry.id.clone(),
            actor: self.entry.actor.clone(),
            strategy: self.entry.strategy.clone(),
            detail: detail.to_string(),
        }
    }

    /// Ends the run: how, with what error, recorded in the journal and the audit log.
    pub async fn finish(
        &mut self,
        conn: &mut Conn,
        result: RunResult,
        error: Option<String>,
        event: &str,
    ) {
        self.entry.result = result;
        self.entry.error = error.map(|e| crate::config::redact_text(&e));
        // On-call hears how it ended; the deliveries are part of the record.
        let outcome = match result {
            RunResult::Succeeded => Some("deploy_succeeded"),
            RunResult::RolledBack => Some("deploy_rolled_back"),
            RunResult::Paused | RunResult::Running => None,
            _ => Some("deploy_failed"),
        };
        if let Some(outcome) = outcome
            && self.entry.kind.is_release()
        {
            let detail = self.entry.error.clone().unwrap_or_default();
            self.notify(outcome, &detail);
        }
        let t = Instant::now();
        if let Some((delivered, detail)) = self.notifier.settle() {
            let status = if delivered {
                Status::Ok
            } else {
                Status::Failed
            };
            self.phase(Phase::Notify, status, t, detail);
        }
        if self.entry.kind.is_release() {
            let e = self.event_of("", "");
            super::notify::github_summary(&e, result.name(), &self.entry.phases);
        }
        // From the row's start: a canary paused, then promoted or aborted by a later command,
        // counts its pause too.
        let since_start =
            humantime::parse_rfc3339_weak(self.entry.started_at.trim_end_matches('Z'))
                .ok()
                .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
        self.entry.duration_ms = Some(since_start.max(self.started.elapsed()).as_millis() as i64);
        let _ = journal::finish(conn, &self.history, &self.entry).await;
        let detail = self.entry.error.clone().unwrap_or_else(|| {
            format!(
                "{} {} {}",
                self.entry.kind.name(),
                self.entry.version,
                result.name()
            )
        });
        self.event(conn, event, &detail).await;
    }

    /// Ends a run that stopped before it touched the app, and returns `error`.
    pub async fn fail<T>(&mut self, conn: &mut Conn, result: RunResult, error: Error) -> Result<T> {
        let text = error.to_string();
        self.finish(conn, result, Some(text), "deploy_failed").await;
        Err(error)
    }
}
