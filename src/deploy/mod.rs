//! `runner deploy`: the main job. For each environment of the pipeline: gate, approval, lock,
//! migrations, deploy hook, health checks, smoke hook, success, each phase timed and recorded
//! in the deploy journal and the audit log. A failure after the deploy hook ran puts the
//! previous version back through the rollback hook, waits for health again, and exits 4.

pub mod app_rollback;
pub mod approval;
pub mod health;
pub mod hooks;
pub mod journal;
pub mod output;
mod pipeline;
mod recover;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::catalog::Catalog;
use crate::config::{Config, Environment};
use crate::db::Conn;
use crate::db::Limits;
use crate::db::lock;
use crate::engine::history::{History, RunInfo};
use crate::engine::plan::{self, Request};
use crate::engine::{self, MigrateOptions};
use crate::error::{Error, Result};
use crate::lint;
use health::Verdict;
use hooks::{HookContext, Secrets};
use journal::Entry;
use output::DeployOutput;

#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub version: String,
    pub with_migrations: bool,
    pub approve: bool,
    pub rollback_migrations: bool,
    pub lock_wait: Duration,
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

/// Deploys to each environment in turn, stopping at the first failure.
pub fn deploy(
    config: &Config,
    catalog: &Catalog,
    environments: &[String],
    options: &DeployOptions,
    out: &mut DeployOutput,
) -> Result<()> {
    validate_version(&options.version)?;
    for name in environments {
        let env = config.environment(name)?;
        if env.deploy.is_none() {
            return Err(Error::Usage(format!(
                "environments.{name}.deploy is not set in runner.toml: runner needs a deploy hook, e.g. deploy = [\"scripts/deploy.sh\", \"{{env}}\", \"{{version}}\"]"
            )));
        }
    }
    for name in environments {
        let env = config.environment(name)?;
        crate::runtime::block_on(deploy_env(config, catalog, env, options, out))?;
    }
    Ok(())
}

/// What a deploy run knows as it goes.
pub(crate) struct Run<'a> {
    pub(crate) config: &'a Config,
    pub(crate) env: &'a Environment,
    pub(crate) entry: Entry,
    pub(crate) started: Instant,
    pub(crate) secrets: Secrets,
    pub(crate) info: RunInfo,
}

impl Run<'_> {
    fn phase(
        &mut self,
        out: &mut DeployOutput,
        phase: &str,
        status: &str,
        since: Instant,
        detail: String,
    ) {
        out.record(&mut self.entry, phase, status, since, detail);
    }

    fn hook(
        &mut self,
        out: &mut DeployOutput,
        argv: &[String],
        phase: &str,
        version: &str,
        previous: &str,
    ) -> hooks::HookResult {
        let ctx = HookContext {
            environment: &self.env.name,
            version,
            previous_version: previous,
            deploy_id: &self.entry.id,
            phase,
        };
        let echo = out.hook_echo();
        let result = hooks::run(
            argv,
            &ctx,
            &self.config.root,
            &self.secrets,
            self.config.hook_timeout,
            &echo,
        );
        let mut kept = self.entry.hook_output.take().unwrap_or_default();
        for line in &result.last_lines {
            kept.push_str(&format!("[{phase}] {line}\n"));
        }
        let tail: Vec<&str> = kept.lines().collect();
        let start = tail.len().saturating_sub(60);
        self.entry.hook_output = Some(tail[start..].join("\n"));
        result
    }
}

async fn deploy_env(
    config: &Config,
    catalog: &Catalog,
    env: &Environment,
    options: &DeployOptions,
    out: &mut DeployOutput,
) -> Result<()> {
    let info = crate::runtime::run_info(&env.name, Some(options.version.clone()));
    let prefix = config.history_prefix.clone();
    let mut run = Run {
        config,
        env,
        entry: Entry::begin(
            &info.deploy_id,
            &env.name,
            "deploy",
            &options.version,
            &info.actor,
        ),
        started: Instant::now(),
        secrets: Secrets::of(config),
        info,
    };
    out.begin(&env.name, &options.version);

    // Production gets only what the environment before it got.
    let previous_env = pipeline::previous_environment(config, &env.name);
    let previous_history = engine::previous_history(config, &env.name, &prefix).await?;
    if let Some(prev) = &previous_env {
        pipeline::require_deployed_before(config, prev, &options.version, &prefix).await?;
    }

    // 1. gate: runner check on the migrations this deploy would apply.
    let t = Instant::now();
    let mut conn = engine::open(env, "deploy").await?;
    let history = History::new(&prefix, conn.dialect());
    let rows = engine::read_rows(&mut conn, &history).await?;
    let dialect = conn.dialect();
    let pending = plan::plan(
        catalog,
        &rows,
        dialect,
        &Request::default(),
        &env.name,
        None,
    );
    let files: HashSet<String> = pending
        .steps
        .iter()
        .map(|s| s.migration.forward.file_name.clone())
        .collect();
    let report = lint::check_catalog(
        catalog,
        &lint::Options {
            dialect,
            disabled: lint::disabled_rules(config)?,
            scope: Some(files),
        },
    );
    if report.errors() > 0 {
        run.phase(
            out,
            "gate",
            "failed",
            t,
            format!("{} lint error(s)", report.errors()),
        );
        out.findings(&report);
        conn.close().await;
        return Err(Error::GateFailed {
            environment: env.name.clone(),
            errors: report.errors(),
        });
    }
    let gate_detail = format!(
        "{} migration(s) to apply, no lint errors",
        pending.steps.len()
    );
    run.phase(out, "gate", "ok", t, gate_detail);

    // 2. approval.
    let t = Instant::now();
    if env.requires_approval {
        if let Err(e) = approval::approve(env, options.approve, "deploy to") {
            conn.close().await;
            return Err(e);
        }
        let who = approval::approver(&run.info.actor);
        run.entry.approved_by = Some(who.clone());
        run.phase(out, "approval", "approved", t, format!("by {who}"));
    } else {
        run.phase(out, "approval", "not required", t, String::new());
    }

    // 3. lock, held for the whole deploy.
    let t = Instant::now();
    let command = format!(
        "runner deploy --env {} --version {}",
        env.name, options.version
    );
    let held = match lock::acquire(
        &mut conn,
        &env.database_url.value,
        options.lock_wait,
        &command,
        |_, _| {},
    )
    .await
    {
        Ok(l) => l,
        Err(e) => {
            conn.close().await;
            return Err(e);
        }
    };
    run.phase(out, "lock", "taken", t, String::new());

    let result = deploy_locked(
        &mut run,
        &mut conn,
        catalog,
        options,
        previous_history.as_ref(),
        out,
    )
    .await;
    lock::release(&mut conn, held).await;
    conn.close().await;
    result
}

async fn deploy_locked(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
    options: &DeployOptions,
    previous_history: Option<&plan::Previous>,
    out: &mut DeployOutput,
) -> Result<()> {
    let env = run.env;
    let config = run.config;
    let history = History::new(&config.history_prefix, conn.dialect());
    history
        .ensure(conn)
        .await
        .map_err(|e| engine::db("create the history tables", e))?;
    let entries = journal::entries(conn, &history, &env.name)
        .await
        .map_err(|e| engine::db("read the deploy journal", e))?;
    let previous_version = journal::current_version(&entries).map(|e| e.version.clone());
    run.entry.previous_version = previous_version.clone();
    journal::start(conn, &history, &run.entry)
        .await
        .map_err(|e| engine::db("write the deploy journal", e))?;
    let _ = history
        .event(
            conn,
            &run.info,
            None,
            "deploy_started",
            &format!(
                "deploy {} (previous {})",
                options.version,
                previous_version.as_deref().unwrap_or("none")
            ),
        )
        .await;

    // 4. migrations.
    if options.with_migrations {
        let t = Instant::now();
        let migrate = MigrateOptions {
            request: Request::default(),
            baseline: None,
            lock_wait: options.lock_wait,
            limits: Limits::of(env),
            run: run.info.clone(),
        };
        let mut quiet = out.migrate_reporter();
        match engine::migrate_locked(
            conn,
            env,
            catalog,
            &migrate,
            previous_history,
            &config.history_prefix,
            &mut quiet,
        )
        .await
        {
            Ok(applied) => {
                run.entry.migrations = applied.clone();
                run.phase(
                    out,
                    "migrations",
                    "ok",
                    t,
                    format!("{} applied", applied.len()),
                );
            }
            Err(e) => {
                run.phase(out, "migrations", "failed", t, String::new());
                return fail(run, conn, &history, "failed", e).await;
            }
        }
    }

    // 5-7. deploy hook, health checks, smoke hook: a failure puts the previous version back.
    let previous = previous_version.clone().unwrap_or_default();
    if let Err((why, first_failure)) = release_and_check(run, conn, options, &previous, out).await {
        return recover::recover(
            run,
            conn,
            &history,
            catalog,
            options,
            &why,
            first_failure,
            out,
        )
        .await;
    }

    // 8. success.
    run.entry.result = "succeeded".into();
    run.entry.duration_ms = Some(run.started.elapsed().as_millis() as i64);
    journal::finish(conn, &history, &run.entry)
        .await
        .map_err(|e| engine::db("write the deploy journal", e))?;
    let _ = history
        .event(
            conn,
            &run.info,
            None,
            "deploy_succeeded",
            &format!("{} deployed", options.version),
        )
        .await;
    out.success(&env.name, &options.version, run.started.elapsed());
    Ok(())
}

/// Records a deploy that failed before the app was touched.
async fn fail(
    run: &mut Run<'_>,
    conn: &mut Conn,
    history: &History,
    result: &str,
    error: Error,
) -> Result<()> {
    run.entry.result = result.into();
    run.entry.error = Some(crate::config::redact_text(&error.to_string()));
    run.entry.duration_ms = Some(run.started.elapsed().as_millis() as i64);
    let _ = journal::finish(conn, history, &run.entry).await;
    let _ = history
        .event(
            conn,
            &run.info,
            None,
            "deploy_failed",
            run.entry.error.as_deref().unwrap_or(""),
        )
        .await;
    Err(error)
}

/// Round trip of `SELECT 1` on the environment's connection.
pub async fn ping(conn: &mut Conn) -> std::result::Result<Duration, String> {
    let t = Instant::now();
    conn.execute("SELECT 1").await.map_err(|e| e.to_string())?;
    Ok(t.elapsed())
}

/// The deploy hook, the health checks (with a database ping) and the smoke hook. Err: why the
/// release failed, and when it was first seen failing.
async fn release_and_check(
    run: &mut Run<'_>,
    conn: &mut Conn,
    options: &DeployOptions,
    previous: &str,
    out: &mut DeployOutput,
) -> std::result::Result<(), (String, Instant)> {
    let env = run.env;
    let t = Instant::now();
    let argv = env.deploy.clone().unwrap_or_default();
    let hook = run.hook(out, &argv, "deploy", &options.version, previous);
    if !hook.success {
        run.phase(out, "deploy", "failed", t, hook.status.clone());
        return Err((
            format!("the deploy hook failed ({})", hook.status),
            Instant::now(),
        ));
    }
    run.phase(out, "deploy", "ok", t, String::new());

    if let Some(h) = &env.health {
        let t = Instant::now();
        let mut checks = 0;
        let verdict = health::wait(h, Some(&options.version), &mut |p| {
            checks += 1;
            out.probe(p);
        });
        match verdict {
            Verdict::Healthy { after } => {
                let detail = match ping(conn).await {
                    Ok(latency) if latency <= h.max_db_latency => {
                        format!("database ping {} ms", latency.as_millis())
                    }
                    Ok(latency) => {
                        let why = format!(
                            "database ping {} ms, above max_db_latency {}",
                            latency.as_millis(),
                            humantime::format_duration(h.max_db_latency)
                        );
                        run.phase(out, "health", "failed", t, why.clone());
                        return Err((why, Instant::now()));
                    }
                    Err(e) => {
                        let why = format!("database ping failed: {e}");
                        run.phase(out, "health", "failed", t, why.clone());
                        return Err((why, Instant::now()));
                    }
                };
                let detail = format!(
                    "after {checks} checks in {:.1} s; {detail}",
                    after.as_secs_f64()
                );
                run.phase(out, "health", "healthy", t, detail);
            }
            Verdict::Unhealthy {
                reason,
                first_failure,
            } => {
                run.phase(out, "health", "unhealthy", t, reason.clone());
                let why = format!("{} is unhealthy: {reason}", options.version);
                return Err((why, t + first_failure));
            }
            Verdict::TimedOut { last } => {
                let why = format!(
                    "{} never became healthy within {} (last: {last})",
                    options.version,
                    humantime::format_duration(h.timeout)
                );
                run.phase(out, "health", "timed out", t, last);
                return Err((why, Instant::now()));
            }
        }
    }

    if let Some(argv) = env.smoke.clone() {
        let t = Instant::now();
        let hook = run.hook(out, &argv, "smoke", &options.version, previous);
        if !hook.success {
            run.phase(out, "smoke", "failed", t, hook.status.clone());
            return Err((
                format!("the smoke hook failed ({})", hook.status),
                Instant::now(),
            ));
        }
        run.phase(out, "smoke", "ok", t, String::new());
    }
    Ok(())
}
