//! `runner wait --env E [--timeout D]`: waits for the rollout in progress (a paused canary, a
//! deploy running) to end and exits with its outcome, so CI can tell done from waiting.
//! Reads the deploy record only: no lock, nothing written.

use std::time::{Duration, Instant, SystemTime};

use crate::cli::WaitArgs;
use crate::config::{Config, Environment};
use crate::db::{Conn, lock};
use crate::deploy::record::{self, Liveness, Serving};
use crate::engine::history::History;
use crate::engine::journal::{self, Entry, RunResult};
use crate::error::{ExitCode, Result};
use crate::runtime::block_on;

pub fn run(config: &Config, args: &WaitArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    crate::runtime::watch_interrupts()?;
    let (entries, serving) = block_on(read(config, env))?;
    let Some((id, what)) = in_progress(&serving) else {
        println!("{}", settled(env, &serving));
        return Ok(ExitCode::Success);
    };
    println!(
        "{}: {what} (deploy {id}); waiting up to {}",
        env.name,
        humantime::format_duration(args.timeout)
    );
    drop(entries);
    let started = Instant::now();
    loop {
        let (entries, serving) = block_on(read(config, env))?;
        let entry = entries.iter().find(|e| e.id == id);
        if let Some(code) = entry.and_then(|e| ended(env, e, &serving)) {
            return Ok(code);
        }
        if started.elapsed() >= args.timeout {
            println!(
                "{}: still waiting after {}: {what}; nothing was changed",
                env.name,
                humantime::format_duration(args.timeout)
            );
            return Ok(ExitCode::Waiting);
        }
        if crate::runtime::sleep_unless_interrupted(Duration::from_secs(1), 1) {
            return Ok(ExitCode::Interrupted);
        }
    }
}

async fn read(config: &Config, env: &Environment) -> Result<(Vec<Entry>, Serving)> {
    if !Conn::exists(&env.database_url.value) {
        return Ok((Vec::new(), Serving::default()));
    }
    let mut conn = crate::engine::open(env, "wait").await?;
    let history = History::new(&config.history_prefix, conn.dialect());
    let entries = journal::entries(&mut conn, &history, &env.name)
        .await
        .map_err(|e| crate::engine::db("read the deploy journal", e))?;
    let holder = lock::holder(&mut conn, &env.database_url.value).await?;
    conn.close().await;
    let liveness = match holder {
        Some(_) => Liveness::LockHeld,
        None => Liveness::LockFree,
    };
    let serving = record::serving(&entries, liveness, SystemTime::now());
    Ok((entries, serving))
}

/// The run to wait for, and what it is doing now.
fn in_progress(serving: &Serving) -> Option<(String, String)> {
    if let Some(r) = &serving.running {
        return Some((
            r.deploy_id.clone(),
            format!("{} of {} at phase {}", r.kind.name(), r.release, r.phase),
        ));
    }
    serving.paused.as_ref().map(|p| {
        (
            p.deploy_id.clone(),
            format!("canary {} paused at {}%", p.release, p.percent),
        )
    })
}

/// What serves when nothing is in progress.
fn settled(env: &Environment, serving: &Serving) -> String {
    match (&serving.doubt, &serving.release) {
        (Some(doubt), _) => format!("{}: nothing in progress; IN DOUBT: {doubt}", env.name),
        (None, Some(release)) => format!("{}: nothing in progress; {release} serves", env.name),
        (None, None) => format!("{}: nothing in progress; no release deployed yet", env.name),
    }
}

/// The exit code once the run `entry` ended; `None` while it is still paused or running.
fn ended(env: &Environment, entry: &Entry, serving: &Serving) -> Option<ExitCode> {
    let serves = serving.release.as_deref().unwrap_or("no release");
    let why = entry.error.as_deref().unwrap_or("");
    let (code, text) = match entry.result {
        RunResult::Paused => return None,
        // A row left running by a run that died is the record's doubt.
        RunResult::Running if serving.doubt.is_none() => return None,
        RunResult::Running | RunResult::InDoubt | RunResult::Interrupted => (
            ExitCode::Interrupted,
            format!(
                "its run stopped without finishing; {serves} was the last release that succeeded {why}"
            ),
        ),
        RunResult::Succeeded => (
            ExitCode::Success,
            format!("{} serves all traffic (succeeded)", entry.version),
        ),
        RunResult::RolledBack | RunResult::Failed => (
            ExitCode::DeployRolledBack,
            format!(
                "{} did not go on ({}): {serves} serves; {why}",
                entry.version, entry.result
            ),
        ),
        RunResult::RollbackFailed => (
            ExitCode::RollbackFailed,
            format!(
                "{} failed and putting the previous release back failed too: {why}",
                entry.version
            ),
        ),
    };
    println!("{}: {}", env.name, text.trim_end());
    Some(code)
}
