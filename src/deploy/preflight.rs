//! Preflight: before a deploy touches anything, everything that can refuse it is checked in
//! every environment it will touch, so that a refusal (exit 2) means nothing changed anywhere.
//! A pipeline deploy used to deploy staging and then find production's paused canary; now
//! that is found first. Only reads: no lock is taken, no row is written.

use std::io::IsTerminal;
use std::time::SystemTime;

use super::DeployOptions;
use super::pipeline;
use super::record::{self, Liveness};
use crate::catalog::Catalog;
use crate::config::{Config, Environment};
use crate::db::{Conn, lock};
use crate::engine::history::History;
use crate::engine::journal;
use crate::engine::plan::Request;
use crate::engine::{self, gate};
use crate::error::{Error, Result};
use crate::hints;

/// Checks every environment of `environments` (in pipeline order) and refuses with all the
/// reasons found, each naming its environment, before the first one is touched.
pub async fn check(
    config: &Config,
    catalog: &Catalog,
    environments: &[String],
    options: &DeployOptions,
) -> Result<()> {
    let mut problems = Vec::new();
    for (i, name) in environments.iter().enumerate() {
        let env = config.environment(name)?;
        let later = i > 0;
        problems.extend(environment(config, catalog, env, options, later).await);
        // The release must have reached the environment before this one, unless this run
        // deploys that one first.
        if !later && let Some(prev) = pipeline::previous_environment(config, name) {
            let prefix = &config.history_prefix;
            if let Err(e) =
                pipeline::require_deployed_before(config, &prev, &options.version, prefix).await
            {
                problems.push(refusal_text(e));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Refused {
        environment: environments.join(" or "),
        problems,
    })
}

/// The text of a refusal, without the "nothing was applied" header.
fn refusal_text(e: Error) -> String {
    match e {
        Error::Refused { problems, .. } => problems.join("; "),
        other => other.to_string(),
    }
}

/// What refuses a deploy to one environment. `later`: an earlier environment of this run is
/// deployed first (its lock may then be busy for reasons of its own, which is worth refusing
/// now rather than after the earlier one changed).
async fn environment(
    config: &Config,
    catalog: &Catalog,
    env: &Environment,
    options: &DeployOptions,
    later: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    if env.requires_approval && !options.approve && !std::io::stdin().is_terminal() {
        problems.push(format!(
            "{} requires approval: pass --approve (who approved is recorded: RUNNER_APPROVED_BY or your login name); this session has no terminal to confirm in",
            env.name
        ));
    }
    if !Conn::exists(&env.database_url.value) {
        // A database not created yet: its first deploy creates it; the gate lints all files.
        if let Ok(g) = gate::gate(None, config, env, catalog, &Request::default(), None).await {
            problems.extend(gate_problems(&g, env, options));
        }
        return problems;
    }
    let mut conn = match engine::open(env, "preflight").await {
        Ok(conn) => conn,
        Err(e) => {
            problems.push(format!("{}: its database cannot be reached: {e}", env.name));
            return problems;
        }
    };
    problems.extend(record_problems(&mut conn, config, env, later).await);
    let history = crate::engine::history::History::new(&config.history_prefix, conn.dialect());
    let rows = engine::read_rows(&mut conn, &history)
        .await
        .unwrap_or_default();
    match crate::engine::adopt::untaken(&mut conn, catalog, &rows, crate::hints::At::of(env)).await
    {
        Ok(Some(problem)) => problems.push(format!("{}: {problem}", env.name)),
        Ok(None) => {}
        Err(e) => problems.push(format!(
            "{}: could not read other tools' history tables: {e}",
            env.name
        )),
    }
    match gate::gate(
        Some(&mut conn),
        config,
        env,
        catalog,
        &Request::default(),
        None,
    )
    .await
    {
        Ok(g) => problems.extend(gate_problems(&g, env, options)),
        Err(e) => problems.push(e.to_string()),
    }
    conn.close().await;
    problems
}

/// A paused canary or a run in progress in the deploy record, and a held lock.
async fn record_problems(
    conn: &mut Conn,
    config: &Config,
    env: &Environment,
    later: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let holder = lock::holder(conn, &env.database_url.value)
        .await
        .ok()
        .flatten();
    let history = History::new(&config.history_prefix, conn.dialect());
    let entries = match journal::entries(conn, &history, &env.name).await {
        Ok(entries) => entries,
        Err(e) => {
            return vec![format!(
                "{}: its deploy journal cannot be read: {e}",
                env.name
            )];
        }
    };
    let liveness = match holder {
        Some(_) => Liveness::LockHeld,
        None => Liveness::LockFree,
    };
    let serving = record::serving(&entries, liveness, SystemTime::now());
    if let Some(p) = &serving.paused {
        problems.push(super::paused_refusal(p, env));
    }
    // In the first environment a run in progress is waited for, as the lock is (exit 6 when it
    // does not end in time); in a later one it would refuse after the earlier ones changed.
    if let Some(r) = serving.running.as_ref().filter(|_| later) {
        problems.push(format!(
            "{}: a {} of {} is in progress (phase {}, by {}): wait for it to end (`{}` shows it)",
            env.name,
            r.kind.name(),
            r.release,
            r.phase,
            r.actor,
            hints::status(&env.name)
        ));
    } else if later && let Some(h) = holder {
        problems.push(format!(
            "{}: the migration lock is held by {h}: wait for that run to finish, then deploy again",
            env.name
        ));
    }
    problems
}

/// Lint errors in the migrations to apply, and pending migrations a deploy without
/// `--with-migrations` would refuse.
fn gate_problems(g: &gate::Gate<'_>, env: &Environment, options: &DeployOptions) -> Vec<String> {
    let mut problems: Vec<String> = g.plan.problems.clone();
    if g.lint.errors() > 0 {
        problems.push(format!(
            "{}: {} lint error(s) in the migrations to apply (`runner plan --env {}` lists them)",
            env.name,
            g.lint.errors(),
            env.name
        ));
    }
    let needed = g.needed();
    if !needed.is_empty() && !options.with_migrations && !options.allow_pending {
        let labels: Vec<String> = g
            .plan
            .steps
            .iter()
            .take(needed.len())
            .map(|s| s.label())
            .collect();
        problems.push(super::pending_refusal(env, &labels, options));
    }
    problems
}
