//! What a run will do, decided before it changes anything: which migrations are pending, in
//! which order and mode, and every reason to refuse (DESIGN §3, "Validation before any change").
//!
//! This is a pure function of the catalog and the history, so every rule here is unit-tested.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use similar::TextDiff;

use super::history::{HistoryRow, Mode, State};
use super::statements::{Script, changed_prefix, script};
use crate::catalog::{Catalog, Migration, Version};
use crate::config::Dialect;
use crate::hints::{self, At};

/// What the run was asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Stop after this version.
    pub target: Option<Version>,
    /// Pending versions below the highest applied one that may run anyway.
    pub allow_out_of_order: HashSet<Version>,
    /// A failed_partial statement-mode migration to continue from its first statement not done.
    pub resume: Option<Version>,
    /// Whether contract migrations may run.
    pub contract: Contract,
}

/// Whether a run may apply contract migrations (`-- runner:phase contract`), which remove
/// what the previous release still uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Contract {
    /// Everything pending runs: the previous release is stopped, or a person said so.
    #[default]
    Run,
    /// The run stops before the first contract migration that is not in the set (the
    /// serving release's own contract migrations, allowed once the release before it is
    /// stopped); it and every migration after it are held back.
    Hold(HashSet<Version>),
}

/// The history of the environment before this one in the pipeline, for the
/// staging-before-production rule.
#[derive(Debug, Clone)]
pub struct Previous {
    pub environment: String,
    pub rows: Vec<HistoryRow>,
}

/// One migration the run will apply.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub migration: &'a Migration,
    pub script: Script,
    /// Statement-mode migrations resumed after a partial failure start here (0-based).
    pub resume_from: usize,
}

impl Step<'_> {
    pub fn label(&self) -> String {
        self.migration.label()
    }
}

/// An `applying` row left by a run that died: what it is now known to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classified {
    pub version: i64,
    pub name: String,
    pub state: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Plan<'a> {
    pub steps: Vec<Step<'a>>,
    pub warnings: Vec<String>,
    /// Reasons to refuse the whole run. Any problem: nothing is applied.
    pub problems: Vec<String>,
    pub classified: Vec<Classified>,
    /// Pending migrations held back (`Contract::Hold`): a contract migration and the ones
    /// after it, as (version, label).
    pub held: Vec<(i64, String)>,
}

pub fn plan<'a>(
    (catalog, rows): (&'a Catalog, &[HistoryRow]),
    dialect: Dialect,
    request: &Request,
    at: At<'_>,
    previous: Option<&Previous>,
) -> Plan<'a> {
    let environment = at.env;
    let mut plan = Plan::default();
    let by_version: BTreeMap<i64, &Migration> =
        catalog.migrations.iter().map(|m| (m.version, m)).collect();
    let history = read_rows(&mut plan, rows, &by_version, (request, dialect, at));
    if let Some(v) = request.resume
        && !history.resumable.contains_key(&v)
        && !plan.problems.iter().any(|p| p.starts_with("--resume"))
    {
        plan.problems.push(format!(
            "--resume {v}: V{v} is not a partially applied statement-mode migration in {environment}"
        ));
    }
    if let Some(t) = request.target
        && !by_version.contains_key(&t)
    {
        plan.problems.push(format!(
            "--target {t}: there is no migration with version {t}"
        ));
    }
    for m in &catalog.migrations {
        pending_step(&mut plan, m, &history, request, (dialect, environment));
    }
    if let Contract::Hold(allowed) = &request.contract
        && let Some(first) = plan.steps.iter().position(|s| {
            s.migration.directives().phase == Some(crate::catalog::Phase::Contract)
                && !allowed.contains(&s.migration.version)
        })
    {
        plan.held = plan
            .steps
            .split_off(first)
            .iter()
            .map(|s| (s.migration.version, s.label()))
            .collect();
    }
    if let Some(previous) = previous {
        require_previous(&mut plan, previous, environment);
    }
    plan
}

/// What the history says of the catalog: the versions applied, the newest of them, and the
/// partially applied ones a run may continue (version, statements done).
#[derive(Default)]
struct Read {
    done: HashSet<i64>,
    max_applied: Option<i64>,
    resumable: BTreeMap<i64, usize>,
}

/// Reads each history row into `Read`, classifying the rows of runs that died and adding
/// to the plan's problems what must be settled first.
fn read_rows(
    plan: &mut Plan<'_>,
    rows: &[HistoryRow],
    by_version: &BTreeMap<i64, &Migration>,
    (request, dialect, at): (&Request, Dialect, At<'_>),
) -> Read {
    let environment = at.env;
    let mut read = Read::default();
    for row in rows {
        let file = by_version.get(&row.version).copied();
        let label = file.map_or_else(|| format!("V{} {}", row.version, row.name), |m| m.label());
        let found = Found {
            row,
            file,
            label: &label,
        };
        let mut resume = |plan: &mut Plan<'_>| match partial(request, &found, dialect, at) {
            Ok(done) => {
                read.resumable.insert(row.version, done);
            }
            Err(problem) => plan.problems.push(problem),
        };
        match row.state {
            State::Applied => {
                read.done.insert(row.version);
                read.max_applied = read.max_applied.max(Some(row.version));
                match file {
                    None => plan.problems.push(format!(
                        "{label} is applied in {environment} but its file is missing from the migrations folder: restore it (its SQL is kept in the history), or the folder is not the one this database was migrated from"
                    )),
                    Some(m) => compare_applied(plan, m, row, &label, environment),
                }
            }
            State::Applying => {
                let state = classify_interrupted(plan, row);
                if state == State::FailedPartial || row.in_flight.is_some() {
                    resume(plan);
                }
            }
            State::FailedClean | State::RolledBack => {}
            State::FailedPartial => resume(plan),
            State::RollingBack | State::RollbackFailed if row.rollback_in_flight.is_some() => {
                plan.problems.push(format!(
                    "{label} is {} in {environment}: its rollback stopped while rollback statement {} ran outside a transaction, and whether it took effect cannot be read from the catalog; check the database, then say which: `{}` or `{}` (then `{}` shows how to finish the rollback)",
                    row.state,
                    row.rollback_in_flight.unwrap_or(0),
                    hints::statement_outcome(at, row.version, true),
                    hints::statement_outcome(at, row.version, false),
                    hints::recover(environment)
                ))
            }
            State::RollingBack | State::RollbackFailed => plan.problems.push(format!(
                "{label} is {} in {environment}: a rollback did not finish ({} of {} rollback statements committed{}); finish it with `{}` (add --use-file to run a corrected .down.sql) before anything else runs",
                row.state,
                row.rollback_done,
                row.rollback_total.map_or("?".to_string(), |t| t.to_string()),
                row.error_message.as_deref().map(|m| format!("; it failed with: {m}")).unwrap_or_default(),
                hints::recover_rollback(at, row.version)
            )),
        }
    }
    read
}

/// A row still `applying`: we hold the lock, so the run that wrote it is gone. Classified as
/// it stopped (in the plan), and that state returned.
fn classify_interrupted(plan: &mut Plan<'_>, row: &HistoryRow) -> State {
    let (state, reason) = match row.mode {
        Mode::Statement if row.statements_done > 0 => (
            State::FailedPartial,
            format!(
                "interrupted after {} of {} statements",
                row.statements_done, row.statements_total
            ),
        ),
        Mode::Statement => (
            State::FailedClean,
            "interrupted before its first statement committed".to_string(),
        ),
        _ => (
            State::FailedClean,
            "interrupted inside its transaction, which the database rolled back".to_string(),
        ),
    };
    plan.classified.push(Classified {
        version: row.version,
        name: row.name.clone(),
        state: state.name(),
        reason,
    });
    state
}

/// Adds `m` to the plan's steps when it is pending (and not beyond `--target`), or the reason
/// it cannot run to its problems (out of order, unparsable).
fn pending_step<'a>(
    plan: &mut Plan<'a>,
    m: &'a Migration,
    history: &Read,
    request: &Request,
    (dialect, environment): (Dialect, &str),
) {
    let v = m.version;
    if history.done.contains(&v) || request.target.is_some_and(|t| m.version > t) {
        return;
    }
    if let Some(max) = history.max_applied
        && v < max
        && !request.allow_out_of_order.contains(&m.version)
        && !history.resumable.contains_key(&v)
    {
        plan.problems.push(format!(
            "{} is pending but older than V{max}, already applied in {environment}: it is out of order. If it is independent of the later ones, admit it: `runner migrate --env {environment} --allow-out-of-order {}`",
            m.label(),
            m.version
        ));
        return;
    }
    match script(&m.forward, dialect) {
        Ok(script) => plan.steps.push(Step {
            migration: m,
            script,
            resume_from: history.resumable.get(&v).copied().unwrap_or(0),
        }),
        Err(why) => plan.problems.push(format!(
            "{} cannot be parsed ({}): the database would reject it; `runner check` shows the details",
            m.forward.file_name, why
        )),
    }
}

/// A history row of the catalog's migration (its file, when the folder holds it) and its
/// label.
struct Found<'a> {
    row: &'a HistoryRow,
    file: Option<&'a Migration>,
    label: &'a str,
}

/// A partially applied statement-mode migration: `Ok(statements done)` when this run resumes
/// it (`--resume`), else the problem that stops the run, with the ways out.
fn partial(
    request: &Request,
    found: &Found<'_>,
    dialect: Dialect,
    at: At<'_>,
) -> Result<usize, String> {
    let (row, label, environment) = (found.row, found.label, at.env);
    if let Some(statement) = row.in_flight {
        return Err(format!(
            "{label}: statement {statement} was running outside a transaction when the run stopped in {environment}, and whether it took effect cannot be read from the catalog; check the database, then say which: `{}` or `{}`",
            hints::statement_outcome(at, row.version, true),
            hints::statement_outcome(at, row.version, false)
        ));
    }
    if request.resume == Some(row.version) {
        let done = usize::try_from(row.statements_done).unwrap_or(0);
        if let Some(m) = found.file
            && let Some(diff) = changed_prefix(&row.applied_sql, &m.forward.sql, done, dialect)
        {
            return Err(format!(
                "--resume {}: {} of {label} committed in {environment}, and the file changed since; a resume would record SQL that never ran. Put the committed SQL back as it ran (fix only statements after {done}):\n{diff}",
                row.version,
                crate::engine::statements::first_statements("", done)
            ));
        }
        return Ok(done);
    }
    Err(format!(
        "{label} stopped in {environment} after {} of {} statements (failed_partial{}): fix what failed, then `{}` continues it (`{}` shows the other ways out)",
        row.statements_done,
        row.statements_total,
        row.error_message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default(),
        hints::resume(at, row.version),
        hints::recover(environment)
    ))
}

fn compare_applied(
    plan: &mut Plan<'_>,
    m: &Migration,
    row: &HistoryRow,
    label: &str,
    environment: &str,
) {
    let sums = &m.forward.checksums;
    if sums.sha256 == row.sha256 {
        return;
    }
    if sums.normalized_sha256 == row.normalized_sha256 {
        plan.warnings.push(format!(
            "{} changed since it was applied in {environment}, but only in comments or whitespace",
            m.forward.file_name
        ));
        return;
    }
    let diff = TextDiff::from_lines(row.applied_sql.as_str(), m.forward.sql.as_str())
        .unified_diff()
        .context_radius(2)
        .header("applied", "on disk")
        .to_string();
    plan.problems.push(format!(
        "{label} was edited after it was applied in {environment}; an applied migration never changes. Revert the edit and put the change in a new migration (`runner new NAME` writes one).\n{}",
        diff.trim_end()
    ));
}

fn require_previous(plan: &mut Plan<'_>, previous: &Previous, environment: &str) {
    let applied: BTreeMap<i64, &HistoryRow> = previous
        .rows
        .iter()
        .filter(|r| r.state == State::Applied)
        .map(|r| (r.version, r))
        .collect();
    for step in &plan.steps {
        let m = step.migration;
        match applied.get(&m.version) {
            None => plan.problems.push(format!(
                "{} has not been applied to {} (the environment before {environment} in the pipeline): run `runner migrate --env {}` first",
                m.label(),
                previous.environment,
                previous.environment
            )),
            Some(row) if row.sha256 != m.forward.checksums.sha256
                && row.normalized_sha256 != m.forward.checksums.normalized_sha256 =>
            {
                plan.problems.push(format!(
                    "{} was applied to {} with different content than the file now holds: {environment} must get exactly what {} got",
                    m.label(),
                    previous.environment,
                    previous.environment
                ))
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
