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

/// Puts the previous release back after `failure`, rolls back the deploy's migrations when
/// asked, records how the run ended, and returns the error that says so.
pub(super) async fn after_failure<T>(
    run: &mut Run<'_>,
    conn: &mut Conn,
    strategy: &mut AnyStrategy,
    (catalog, options): (&Catalog, &DeployOptions),
    failure: Failure,
) -> Result<T> {
    let mut problems = Vec::new();
    let mut stopped = false;
    if let Some(f) = put_back(run, conn, strategy, &options.version, &failure).await {
        stopped = f.interrupted;
        problems.push(f.why);
    }
    let rollback_migrations = options.rollback_migrations || run.config.rollback_migrations;
    if rollback_migrations && !run.entry.migrations.is_empty() && problems.is_empty() {
        problems.extend(undo_migrations(run, conn, catalog).await);
    }
    let ended = Ended {
        from: &options.version,
        failure: &failure,
        rollback_migrations,
    };
    Err(if problems.is_empty() {
        ended.put_back(run, conn).await
    } else {
        ended
            .not_put_back(run, conn, &problems.join("; "), stopped)
            .await
    })
}

/// The previous release back in place of `from`, through the strategy; the revert's own
/// failure when it could not be.
async fn put_back(
    run: &mut Run<'_>,
    conn: &mut Conn,
    strategy: &mut AnyStrategy,
    from: &str,
    failure: &Failure,
) -> Option<Failure> {
    let Some(to) = run.entry.previous_version.clone() else {
        run.phase(
            Phase::Rollback,
            Status::Skipped,
            Instant::now(),
            "no previous version to go back to".into(),
        );
        return None;
    };
    match strategy.revert(run, conn, &to, from).await {
        Ok(()) => {
            run.entry.recovery_ms = Some(failure.first_seen.elapsed().as_millis() as i64);
            None
        }
        Err(f) => Some(f),
    }
}

/// The deploy's migrations rolled back, as a phase; the problem when they could not be.
async fn undo_migrations(run: &mut Run<'_>, conn: &mut Conn, catalog: &Catalog) -> Option<String> {
    let t = Instant::now();
    match rollback_migrations_of(run, conn, catalog).await {
        Ok(n) => {
            run.phase(
                Phase::MigrationsRollback,
                Status::Ok,
                t,
                format!("{n} rolled back"),
            );
            None
        }
        Err(e) => {
            run.phase(Phase::MigrationsRollback, Status::Failed, t, e.to_string());
            Some(format!(
                "the migrations of this deploy could not be rolled back: {e}"
            ))
        }
    }
}

/// How a failed deploy ended, to record and to say.
struct Ended<'a> {
    /// The release that failed.
    from: &'a str,
    failure: &'a Failure,
    rollback_migrations: bool,
}

impl Ended<'_> {
    /// The previous release serves again (or there was none): rolled back, or interrupted
    /// when a signal caused the failure.
    async fn put_back(&self, run: &mut Run<'_>, conn: &mut Conn) -> Error {
        let env = run.env;
        let migrations_note = if run.entry.migrations.is_empty() || self.rollback_migrations {
            String::new()
        } else {
            format!(
                "; the {} migration(s) it applied stay (expand migrations are backward compatible)",
                run.entry.migrations.len()
            )
        };
        let serving = match &run.entry.previous_version {
            Some(p) => format!("{p} is serving again"),
            None => "there was no previous version to go back to".to_string(),
        };
        let why = &self.failure.why;
        let message = format!(
            "deploying {} to {} failed: {why}; {serving}{migrations_note}",
            self.from, env.name
        );
        if self.failure.interrupted {
            run.finish(
                conn,
                RunResult::Interrupted,
                Some(why.clone()),
                "deploy_interrupted",
            )
            .await;
            return Error::Interrupted { message };
        }
        run.finish(
            conn,
            RunResult::RolledBack,
            Some(why.clone()),
            "deploy_rolled_back",
        )
        .await;
        Error::DeployRolledBack { message }
    }

    /// Putting the previous release back failed (`problems`), or a second signal stopped it
    /// (`stopped`: what serves is then in doubt).
    async fn not_put_back(
        &self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        problems: &str,
        stopped: bool,
    ) -> Error {
        let env = run.env;
        let why = &self.failure.why;
        let from = self.from;
        let status = format!("`runner status --env {}` shows what is recorded", env.name);
        let rollback = crate::hints::rollback(crate::hints::At::of(env));
        let previous = run
            .entry
            .previous_version
            .clone()
            .unwrap_or_else(|| "the last release that succeeded".into());
        if stopped {
            run.finish(
                conn,
                RunResult::InDoubt,
                Some(format!("{why}; {problems}")),
                "deploy_in_doubt",
            )
            .await;
            return Error::Interrupted {
                message: format!(
                    "deploying {from} to {} stopped: {why}; {problems}. What serves is in doubt: {status}, and `{rollback}` puts back {previous}",
                    env.name
                ),
            };
        }
        run.finish(
            conn,
            RunResult::RollbackFailed,
            Some(format!("{why}; {problems}")),
            "deploy_rollback_failed",
        )
        .await;
        Error::RollbackFailed {
            message: format!(
                "deploying {from} to {} failed: {why}; and putting the previous version back failed: {problems}\n  next: check the app by hand; {status}, and `{rollback}` tries again to put back {previous}",
                env.name
            ),
        }
    }
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
        (run.config, run.env, catalog),
        versions.len(),
        &run.info,
    )
    .await
}
