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
use crate::report::{out, wait as report};
use crate::runtime::block_on;

pub fn run(config: &Config, args: &WaitArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    crate::runtime::watch_interrupts()?;
    let (entries, serving) = block_on(read(config, env))?;
    let Some((id, what)) = in_progress(&serving) else {
        out::line(report::settled(&env.name, &serving));
        return Ok(ExitCode::Success);
    };
    out::line(report::waiting(&env.name, &what, &id, args.timeout));
    drop(entries);
    let started = Instant::now();
    loop {
        let (entries, serving) = block_on(read(config, env))?;
        let entry = entries.iter().find(|e| e.id == id);
        if let Some(code) = entry.and_then(|e| ended(env, e, &serving)) {
            return Ok(code);
        }
        if started.elapsed() >= args.timeout {
            out::line(report::timed_out(&env.name, &what, args.timeout));
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

/// The exit code once the run `entry` ended; `None` while it is still paused or running.
fn ended(env: &Environment, entry: &Entry, serving: &Serving) -> Option<ExitCode> {
    let code = match entry.result {
        RunResult::Paused => return None,
        // A row left running by a run that died is the record's doubt.
        RunResult::Running if serving.doubt.is_none() => return None,
        RunResult::Running | RunResult::InDoubt | RunResult::Interrupted => ExitCode::Interrupted,
        RunResult::Succeeded => ExitCode::Success,
        RunResult::RolledBack | RunResult::Failed => ExitCode::DeployRolledBack,
        RunResult::RollbackFailed => ExitCode::RollbackFailed,
    };
    out::line(report::ended(&env.name, entry, serving));
    Some(code)
}
