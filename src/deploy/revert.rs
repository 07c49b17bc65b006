//! When a release fails after the app was touched: the previous release put back through the
//! strategy, optionally the deploy's migrations rolled back, and the run recorded as
//! rolled_back (exit 4), interrupted (exit 8), rollback_failed (exit 5), or in doubt when a
//! second signal stopped the putting back (exit 8).

use std::collections::HashSet;
use std::time::Instant;

use super::DeployOptions;
use super::run::{Phase, Run, Status};
use super::step::Failure;
use super::strategy::{AnyStrategy, Strategy};
use crate::catalog::Catalog;
use crate::db::Conn;
use crate::engine::journal::RunResult;
use crate::error::{Error, Result};

pub(super) async fn after_failure<T>(
    run: &mut Run<'_>,
    conn: &mut Conn,
    strategy: &mut AnyStrategy,
    catalog: &Catalog,
    options: &DeployOptions,
    failure: Failure,
) -> Result<T> {
    let env = run.env;
    let previous = run.entry.previous_version.clone();
    let from = options.version.clone();
    let mut problems = Vec::new();
    let mut stopped = false;
    match &previous {
        Some(to) => match strategy.revert(run, conn, to, &from).await {
            Ok(()) => {
                run.entry.recovery_ms = Some(failure.first_seen.elapsed().as_millis() as i64);
            }
            Err(f) => {
                stopped = f.interrupted;
                problems.push(f.why);
            }
        },
        None => run.phase(
            Phase::Rollback,
            Status::Skipped,
            Instant::now(),
            "no previous version to go back to".into(),
        ),
    }

    let rollback_migrations = options.rollback_migrations || run.config.rollback_migrations;
    if rollback_migrations && !run.entry.migrations.is_empty() && problems.is_empty() {
        let t = Instant::now();
        match rollback_migrations_of(run, conn, catalog).await {
            Ok(n) => run.phase(
                Phase::MigrationsRollback,
                Status::Ok,
                t,
                format!("{n} rolled back"),
            ),
            Err(e) => {
                run.phase(Phase::MigrationsRollback, Status::Failed, t, e.to_string());
                problems.push(format!(
                    "the migrations of this deploy could not be rolled back: {e}"
                ));
            }
        }
    }

    let migrations_note = if run.entry.migrations.is_empty() || rollback_migrations {
        String::new()
    } else {
        format!(
            "; the {} migration(s) it applied stay (expand migrations are backward compatible)",
            run.entry.migrations.len()
        )
    };
    let why = &failure.why;
    let status = format!("`runner status --env {}` shows what is recorded", env.name);
    if problems.is_empty() {
        let serving = match &previous {
            Some(p) => format!("{p} is serving again"),
            None => "there was no previous version to go back to".to_string(),
        };
        let message = format!(
            "deploying {from} to {} failed: {why}; {serving}{migrations_note}",
            env.name
        );
        if failure.interrupted {
            run.finish(
                conn,
                RunResult::Interrupted,
                Some(why.clone()),
                "deploy_interrupted",
            )
            .await;
            return Err(Error::Interrupted { message });
        }
        run.finish(
            conn,
            RunResult::RolledBack,
            Some(why.clone()),
            "deploy_rolled_back",
        )
        .await;
        return Err(Error::DeployRolledBack { message });
    }
    let problems = problems.join("; ");
    if stopped {
        run.finish(
            conn,
            RunResult::InDoubt,
            Some(format!("{why}; {problems}")),
            "deploy_in_doubt",
        )
        .await;
        return Err(Error::Interrupted {
            message: format!(
                "deploying {from} to {} stopped: {why}; {problems}. What serves is in doubt: {status}, and `{}` puts back {}",
                env.name,
                crate::hints::rollback(crate::hints::At::of(env)),
                previous
                    .as_deref()
                    .unwrap_or("the last release that succeeded")
            ),
        });
    }
    run.finish(
        conn,
        RunResult::RollbackFailed,
        Some(format!("{why}; {problems}")),
        "deploy_rollback_failed",
    )
    .await;
    Err(Error::RollbackFailed {
        message: format!(
            "deploying {from} to {} failed: {why}; and putting the previous version back failed: {problems}\n  next: check the app by hand; {status}, and `{}` tries again to put back {}",
            env.name,
            crate::hints::rollback(crate::hints::At::of(env)),
            previous
                .as_deref()
                .unwrap_or("the last release that succeeded")
        ),
    })
}

/// The migrations this deploy applied, rolled back newest first, when each has a rollback
/// that `runner verify` proves on a scratch database.
async fn rollback_migrations_of(
    run: &mut Run<'_>,
    conn: &mut Conn,
    catalog: &Catalog,
) -> Result<usize> {
    use crate::engine::verify::{self, Outcome};
    let versions: HashSet<crate::catalog::Version> = run.entry.migrations.iter().copied().collect();
    let results = verify::on_scratch(
        conn.dialect(),
        Some(&run.env.database_url.value),
        catalog,
        Some(&versions),
        &mut verify::Quiet,
    )
    .await?;
    if let Some(bad) = results.iter().find(|r| !matches!(r.outcome, Outcome::Ok)) {
        return Err(Error::Usage(format!(
            "{} has no verified rollback",
            bad.label
        )));
    }
    crate::engine::rollback::newest_locked(
        conn,
        run.config,
        run.env,
        catalog,
        versions.len(),
        &run.info,
    )
    .await
}
