//! When a deploy fails after its deploy hook ran: the previous version back through the
//! rollback hook, health again, optionally the deploy's migrations rolled back, all recorded.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::health::{self, Verdict};
use super::journal;
use super::output::DeployOutput;
use super::{DeployOptions, Run};
use crate::catalog::Catalog;
use crate::db::Conn;
use crate::db::Limits;
use crate::engine::history::History;
use crate::error::{Error, Result};

/// After the deploy hook ran and something failed: the previous version back through the
/// rollback hook, health again, everything recorded; exit 4 (or 5 when that fails too).
#[allow(clippy::too_many_arguments)]
pub(super) async fn recover(
    run: &mut Run<'_>,
    conn: &mut Conn,
    history: &History,
    catalog: &Catalog,
    options: &DeployOptions,
    why: &str,
    first_failure: Instant,
    out: &mut DeployOutput,
) -> Result<()> {
    let env = run.env;
    let previous = run.entry.previous_version.clone();
    let t = Instant::now();
    let mut problems = Vec::new();
    match (&env.rollback, &previous) {
        (Some(argv), Some(prev)) => {
            let argv = argv.clone();
            let hook = run.hook(out, &argv, "rollback", &options.version, prev);
            if hook.success {
                run.phase(out, "rollback", "ok", t, format!("back to {prev}"));
            } else {
                run.phase(out, "rollback", "failed", t, hook.status.clone());
                problems.push(format!("the rollback hook failed ({})", hook.status));
            }
            if hook.success
                && let Some(h) = &env.health
            {
                let t = Instant::now();
                match health::wait(h, Some(prev), &mut |p| out.probe(p)) {
                    Verdict::Healthy { .. } => {
                        run.entry.recovery_ms = Some(first_failure.elapsed().as_millis() as i64);
                        run.phase(
                            out,
                            "health after rollback",
                            "healthy",
                            t,
                            format!("{prev} serving again"),
                        );
                    }
                    other => {
                        run.phase(
                            out,
                            "health after rollback",
                            "failed",
                            t,
                            format!("{other:?}"),
                        );
                        problems.push(format!("{prev} did not become healthy again"));
                    }
                }
            }
        }
        (None, _) => problems.push(format!(
            "environments.{}.rollback is not set: nothing could put the previous version back",
            env.name
        )),
        (Some(_), None) => {
            run.phase(
                out,
                "rollback",
                "skipped",
                t,
                "no previous version to go back to".into(),
            );
        }
    }

    let rollback_migrations = options.rollback_migrations || run.config.rollback_migrations;
    if rollback_migrations && !run.entry.migrations.is_empty() && problems.is_empty() {
        let t = Instant::now();
        match rollback_migrations_of(run, conn, catalog).await {
            Ok(n) => run.phase(
                out,
                "migrations rollback",
                "ok",
                t,
                format!("{n} rolled back"),
            ),
            Err(e) => {
                run.phase(out, "migrations rollback", "failed", t, e.to_string());
                problems.push(format!(
                    "the migrations of this deploy could not be rolled back: {e}"
                ));
            }
        }
    }

    run.entry.duration_ms = Some(run.started.elapsed().as_millis() as i64);
    let migrations_note = if run.entry.migrations.is_empty() || rollback_migrations {
        String::new()
    } else {
        format!(
            "; the {} migration(s) it applied stay (expand migrations are backward compatible)",
            run.entry.migrations.len()
        )
    };
    if problems.is_empty() {
        run.entry.result = "rolled_back".into();
        run.entry.error = Some(why.to_string());
        let _ = journal::finish(conn, history, &run.entry).await;
        let _ = history
            .event(conn, &run.info, None, "deploy_rolled_back", why)
            .await;
        Err(Error::DeployRolledBack {
            message: format!(
                "deploying {} to {} failed: {why}; {}{migrations_note}",
                options.version,
                env.name,
                match &previous {
                    Some(p) => format!("{p} is serving again"),
                    None => "there was no previous version to go back to".to_string(),
                }
            ),
        })
    } else {
        run.entry.result = "rollback_failed".into();
        run.entry.error = Some(format!("{why}; {}", problems.join("; ")));
        let _ = journal::finish(conn, history, &run.entry).await;
        let _ = history
            .event(
                conn,
                &run.info,
                None,
                "deploy_rollback_failed",
                run.entry.error.as_deref().unwrap_or(""),
            )
            .await;
        Err(Error::RollbackFailed {
            message: format!(
                "deploying {} to {} failed: {why}; and putting the previous version back failed: {}\n  next: check the app by hand; `runner status --env {}` shows what is recorded",
                options.version,
                env.name,
                problems.join("; "),
                env.name
            ),
        })
    }
}

/// The migrations this deploy applied, rolled back newest first, when each has a rollback
/// that `runner verify` proves on a scratch database.
async fn rollback_migrations_of(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
) -> Result<usize> {
    use crate::engine::rollback::{RollbackOptions, Target, rollback_locked};
    use crate::engine::verify::{Outcome, Scratch};
    let versions: HashSet<crate::catalog::Version> = run
        .entry
        .migrations
        .iter()
        .filter_map(|v| i32::try_from(*v).ok())
        .collect();
    let mut scratch = Scratch::create(conn.dialect(), Some(&run.env.database_url.value)).await?;
    let results = crate::engine::verify::verify(
        &mut scratch.conn,
        catalog,
        Some(&versions),
        &mut crate::engine::verify::Quiet,
    )
    .await;
    scratch.remove().await;
    let results = results?;
    if let Some(bad) = results.iter().find(|r| !matches!(r.outcome, Outcome::Ok)) {
        return Err(Error::Usage(format!(
            "{} has no verified rollback",
            bad.label
        )));
    }
    let options = RollbackOptions {
        target: Target::Steps(versions.len()),
        use_file: false,
        lock_wait: Duration::from_secs(1),
        limits: Limits::of(run.env),
        run: run.info.clone(),
        approved_by: None,
    };
    rollback_locked(
        conn,
        run.config,
        run.env,
        catalog,
        &options,
        &mut crate::engine::rollback::Silent,
    )
    .await
}
