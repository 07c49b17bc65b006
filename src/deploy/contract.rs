//! Expand and contract, tied to traffic. Expand migrations (the default) run before any
//! traffic moves. Contract migrations (`-- runner:phase contract`) remove what the previous
//! release still uses, so they run only once the new release serves all traffic and the
//! previous one is drained and stopped. A deploy that does not get there (a canary paused or
//! aborted, a blue-green slot kept warm) holds them back and records them as its contract
//! debt; `runner promote` or the next deploy pays it, once the release before is stopped.

use std::collections::HashSet;
use std::time::Duration;

use super::run::{Phase, Run, Status};
use crate::catalog::{Catalog, Version};
use crate::db::{Conn, Limits};
use crate::engine::journal::{Entry, Kind, RunResult};
use crate::engine::plan::{Contract, Previous, Request};
use crate::engine::{self, Applied, MigrateOptions};
use crate::error::Result;

/// The contract debt of the serving release: the contract migrations its deploy held back
/// (newest successful deploy of `release`).
pub fn debt(entries: &[Entry], release: &str) -> Vec<i64> {
    entries
        .iter()
        .find(|e| {
            e.kind == Kind::Deploy && e.version == release && e.result == RunResult::Succeeded
        })
        .map(|e| e.held.clone())
        .unwrap_or_default()
}

/// The contract migrations waiting in an environment: those a paused canary's deploy held
/// back, else the serving release's debt.
pub fn waiting(entries: &[Entry], serving: &super::record::Serving) -> Vec<i64> {
    if let Some(p) = &serving.paused {
        return entries
            .iter()
            .find(|e| e.id == p.deploy_id)
            .map(|e| e.held.clone())
            .unwrap_or_default();
    }
    serving
        .release
        .as_deref()
        .map(|r| debt(entries, r))
        .unwrap_or_default()
}

/// Applies pending migrations under `contract` as the phase `phase`; the versions applied go
/// to the run's journal row.
pub async fn migrate(
    run: &mut Run<'_>,
    conn: &mut Conn,
    (catalog, previous): (&Catalog, Option<&Previous>),
    contract: Contract,
    phase: Phase,
) -> Result<Applied> {
    let t = run.enter(conn, phase).await?;
    let options = MigrateOptions {
        request: Request {
            target: None,
            contract,
            ..Request::default()
        },
        baseline: None,
        lock_wait: Duration::ZERO,
        limits: Limits::of(run.env),
        run: run.info.clone(),
        approved_by: run.entry.approved_by.clone(),
    };
    let mut reporter = run.out.migrations();
    let target = engine::Target {
        env: run.env,
        catalog,
        previous,
        prefix: &run.config.history_prefix,
    };
    let result = engine::migrate_locked(conn, target, &options, reporter.as_mut()).await;
    match &result {
        Ok(applied) => {
            run.entry
                .migrations
                .extend(applied.versions.iter().copied());
            let mut detail = format!("{} applied", applied.versions.len());
            if let Some((_, label)) = applied.held.first() {
                detail.push_str(&format!(
                    "; {} held back from {label} (contract: after the previous release stops)",
                    applied.held.len()
                ));
            }
            run.phase(phase, Status::Ok, t, detail);
        }
        Err(e) => {
            let status = match e {
                crate::error::Error::Interrupted { .. } => Status::Interrupted,
                _ => Status::Failed,
            };
            run.phase(phase, status, t, String::new());
        }
    }
    result
}

/// The expand phase of a deploy: everything pending up to the first contract migration that
/// is not the serving release's debt (payable when the release before it is stopped).
pub fn expand_policy(debt: &[i64], serving_alone: bool) -> Contract {
    let allowed: HashSet<Version> = if serving_alone {
        debt.iter()
            .filter_map(|v| Version::try_from(*v).ok())
            .collect()
    } else {
        HashSet::new()
    };
    Contract::Hold(allowed)
}

/// Records contract migrations still held after the deploy, as its debt.
pub fn hold(run: &mut Run<'_>, held: &[(i64, String)], why: &str) {
    if held.is_empty() {
        return;
    }
    run.entry.held = held.iter().map(|(v, _)| *v).collect();
    let labels: Vec<&str> = held.iter().map(|(_, l)| l.as_str()).collect();
    run.phase(
        Phase::Contract,
        Status::Held,
        std::time::Instant::now(),
        format!("{} ({why})", labels.join(", ")),
    );
}
