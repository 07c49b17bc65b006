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
use crate::hints::{self, At};

/// Checks every environment of `environments` (in pipeline order) and refuses with all the
/// reasons found, each naming its environment, before the first one is touched.
pub async fn check(
    config: &Config,
    catalog: &Catalog,
    environments: &[String],
    options: &DeployOptions,
) -> Result<()> {
    let problems: Vec<String> = preview(config, catalog, environments, options)
        .await?
        .into_iter()
        .flat_map(|p| p.problems)
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Refused {
        environment: environments.join(" or "),
        problems,
    })
}

/// What a deploy would do in one environment (`runner deploy --dry-run`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preview {
    pub environment: String,
    /// Why the deploy would be refused here; empty when it would go ahead.
    pub problems: Vec<String>,
    /// The migrations it would apply (with --with-migrations), or that hold it back.
    pub migrations: Vec<String>,
    /// The strategy's steps, in words.
    pub steps: Vec<String>,
    /// Whether it needs approval, and how it has it.
    pub approval: String,
}

/// The preflight of every environment of `environments`, in pipeline order: what refuses the
/// deploy there and what it would do. Only reads.
pub async fn preview(
    config: &Config,
    catalog: &Catalog,
    environments: &[String],
    options: &DeployOptions,
) -> Result<Vec<Preview>> {
    let mut out = Vec::new();
    for (i, name) in environments.iter().enumerate() {
        let env = config.environment(name)?;
        let later = i > 0;
        let (mut problems, migrations) = environment(config, catalog, env, options, later).await;
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
        out.push(Preview {
            environment: env.name.clone(),
            problems,
            migrations,
            steps: steps(env, options, config.watch),
            approval: match (env.requires_approval, options.approve) {
                (false, _) => "not required".into(),
                (true, true) => "required: given with --approve".into(),
                (true, false) => {
                    "required: pass --approve, or type the environment's name at the prompt".into()
                }
            },
        });
    }
    Ok(out)
}

/// What the strategy of `env` would do with the release, step by step.
fn steps(
    env: &Environment,
    options: &DeployOptions,
    watch: Option<std::time::Duration>,
) -> Vec<String> {
    use crate::config::StrategyKind;
    let v = &options.version;
    let rollout = &env.rollout;
    let servers: Vec<&str> = rollout.servers.iter().map(|s| s.name.as_str()).collect();
    let mut steps = Vec::new();
    if options.with_migrations {
        steps.push(
            "take the migration lock, apply the pending migrations (contract ones wait)".into(),
        );
    }
    match env.strategy() {
        StrategyKind::AllAtOnce => {
            steps.push(format!("run the deploy hook for {v}"));
            steps.push("health checks, then the smoke hook".into());
        }
        StrategyKind::BlueGreen => {
            steps.push(format!(
                "start {v} on the idle slot of {}, health-check it there",
                servers.join(", ")
            ));
            steps.push(
                "switch all traffic to it through the router; keep the previous slot warm".into(),
            );
        }
        StrategyKind::Canary => {
            steps.push(format!(
                "start {v} on the idle slot of {}, health-check it there",
                servers.join(", ")
            ));
            let pause = match rollout.pause {
                crate::config::Pause::Manual => {
                    "waiting for `runner promote` at each step".to_string()
                }
                crate::config::Pause::For(d) => format!(
                    "analysing metrics for {} at each step",
                    humantime::format_duration(d)
                ),
            };
            let weights: Vec<String> = rollout.steps.iter().map(|p| format!("{p}%")).collect();
            steps.push(format!("shift traffic {}, {pause}", weights.join(" -> ")));
        }
        StrategyKind::Rolling => {
            steps.push(format!(
                "replace {} in batches of {}: drain, deploy {v}, health-check, back in",
                servers.join(", "),
                rollout.batch.size(servers.len())
            ));
        }
    }
    if let Some(w) = options.watch.or(watch) {
        steps.push(format!(
            "watch the release for {}",
            humantime::format_duration(w)
        ));
    }
    steps
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
) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let pending =
        |g: &gate::Gate<'_>| -> Vec<String> { g.plan.steps.iter().map(|s| s.label()).collect() };
    if env.requires_approval && !options.approve && !std::io::stdin().is_terminal() {
        problems.push(format!(
            "{} requires approval: pass --approve (who approved is recorded: RUNNER_APPROVED_BY or your login name); this session has no terminal to confirm in",
            env.name
        ));
    }
    if !Conn::exists(&env.database_url.value) {
        // A database not created yet: its first deploy creates it; the gate lints all files.
        let mut migrations = Vec::new();
        if let Ok(g) = gate::gate(None, (config, env, catalog), &Request::default(), None).await {
            problems.extend(gate_problems(&g, env, options));
            migrations = pending(&g);
        }
        return (problems, migrations);
    }
    let mut conn = match engine::open(env, "preflight").await {
        Ok(conn) => conn,
        Err(e) => {
            problems.push(format!("{}: its database cannot be reached: {e}", env.name));
            return (problems, Vec::new());
        }
    };
    let mut migrations = Vec::new();
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
        (config, env, catalog),
        &Request::default(),
        None,
    )
    .await
    {
        Ok(g) => {
            problems.extend(gate_problems(&g, env, options));
            migrations = pending(&g);
        }
        Err(e) => problems.push(e.to_string()),
    }
    conn.close().await;
    (problems, migrations)
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
        problems.push(paused_refusal(p, env));
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
        problems.push(pending_refusal(env, &labels, options));
    }
    problems
}

/// Why a deploy is refused while a canary waits in `env`, with the two ways on.
pub fn paused_refusal(paused: &record::Paused, env: &Environment) -> String {
    format!(
        "a canary of {} is paused at {}% in {} (deploy {}): finish it first with `{}`, or give the traffic back with `{}`",
        paused.release,
        paused.percent,
        env.name,
        paused.deploy_id,
        hints::promote(At::of(env)),
        hints::abort(At::of(env))
    )
}

/// Why a deploy without `--with-migrations` is refused while migrations are pending, and the
/// two commands that go on (the approval flag included where the environment needs it).
pub fn pending_refusal(env: &Environment, labels: &[String], options: &DeployOptions) -> String {
    format!(
        "{} migration(s) are pending in {} ({}), and release {} may need them. Deploy with them: `{}`; or, when this release does not need them, deploy without them: `{}` (recorded in the journal)",
        labels.len(),
        env.name,
        labels.join(", "),
        options.version,
        hints::deploy_with_migrations(At::of(env), &options.version),
        hints::deploy_allow_pending(At::of(env), &options.version)
    )
}
