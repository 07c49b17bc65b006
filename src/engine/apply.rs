//! Runs one migration: in a transaction with its history row, or statement by statement with
//! progress recorded after each; every statement under `lock_timeout`, and a lock timeout
//! retried with backoff and jitter, session settings reset each time.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use super::gap::{self, Holder};
use super::history::{Failure, History, Mark, Mode, NewRow, RunInfo, State};
use super::plan::Step;
use super::statements::outside_transaction;
use crate::config::Dialect;
use crate::db::Effect;
use crate::db::backoff::Backoff;
use crate::db::{Conn, DbError, IndexState, Limits, index_state};

/// What the caller hears while a migration runs.
pub trait Progress {
    fn statement_done(&mut self, step: &Step<'_>, done: usize, total: usize);
    fn retrying(&mut self, step: &Step<'_>, attempt: u32, delay: Duration, error: &DbError);
    /// A session holds a lock the migration would queue behind: it waits for a gap.
    fn waiting_for_gap(&mut self, _step: &Step<'_>, _holder: &Holder, _waited: Duration) {}
}

/// What a statement waits for before it runs.
pub enum Wait<'a> {
    /// A lock timeout, retried after `delay`.
    Retry {
        attempt: u32,
        delay: Duration,
        error: &'a DbError,
    },
    /// A session holding a conflicting lock, waited out.
    Gap {
        holder: &'a Holder,
        waited: Duration,
    },
}

/// A migration that stopped, with everything the caller must report.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub state: State,
    pub failure: Failure,
    pub statement_text: String,
    /// A hint about what the failure left behind (an INVALID index).
    pub leftover: Option<String>,
    /// A signal stopped it at a statement boundary; `failure.error` says so.
    pub interrupted: bool,
}

/// The error a signal leaves in place of a database's, inside this module only.
const INTERRUPTED: &str = "interrupted";

fn interrupted_error() -> DbError {
    DbError {
        code: Some(INTERRUPTED.into()),
        ..DbError::other("stopped by a signal at a statement boundary")
    }
}

/// Where a migration sits in its run: whether the previous one's last transaction already
/// wrote its row's start (`Applied::next_started`), and the one after it, whose start this
/// one's last transaction may write.
#[derive(Clone, Copy, Default)]
pub struct Chain<'a> {
    pub started: bool,
    pub next: Option<&'a Step<'a>>,
}

/// A migration applied: how long it took, and whether its last transaction also wrote the
/// next migration's start (pass that on as `Chain::started`).
#[derive(Debug, Clone, Copy)]
pub struct Applied {
    pub took: Duration,
    pub next_started: bool,
}

/// Where and how a run records what it applies: its history tables, the run, and the limits
/// each statement runs under.
#[derive(Clone, Copy)]
pub struct Recorded<'a> {
    pub history: &'a History,
    pub run: &'a RunInfo,
    pub limits: &'a Limits,
}

pub async fn apply(
    conn: &mut Conn,
    recorded: Recorded<'_>,
    step: &Step<'_>,
    chain: Chain<'_>,
    progress: &mut dyn Progress,
) -> Result<Applied, Stopped> {
    let Recorded {
        history,
        run,
        limits,
    } = recorded;
    let row = new_row(step);
    let started = Instant::now();
    let job = Job {
        history,
        run,
        step,
        row: &row,
        limits,
        chain,
    };
    let result = match step.script.mode {
        Mode::Statement => statement_mode(conn, &job, progress).await,
        _ => transaction_mode(conn, &job, progress).await.map(|()| false),
    };
    result.map(|next_started| Applied {
        took: started.elapsed(),
        next_started,
    })
}

fn new_row<'a>(step: &'a Step<'a>) -> NewRow<'a> {
    let m = step.migration;
    NewRow {
        version: m.version,
        name: &m.name,
        mode: step.script.mode,
        sha256: &m.forward.checksums.sha256,
        normalized_sha256: &m.forward.checksums.normalized_sha256,
        refinery_checksum: m.refinery_checksum,
        applied_sql: &m.forward.sql,
        rollback_sql: m.rollback.as_ref().map(|r| r.sql.as_str()),
        statements_total: step.script.statements.len() as i64,
    }
}

/// MySQL: whether a statement-mode migration that begins at its first statement may have its
/// row's start written by the previous migration's last transaction (`NextStart`), with the
/// first statement's in-flight mark when that statement runs outside a transaction (as
/// `statement_mode` writes it itself). `None` where the start is written otherwise (other
/// dialects, transaction mode, a resume, an empty file).
fn chained_start(step: &Step<'_>, dialect: Dialect) -> Option<Option<i64>> {
    if step.script.statements.is_empty()
        || crate::db::backend(dialect).transactional_ddl()
        || step.script.mode != Mode::Statement
        || step.resume_from > 0
    {
        return None;
    }
    Some(step.script.effects()[0].as_ref().map(|_| 1))
}

/// MySQL: the next migration's start, written in this one's last transaction.
#[derive(Clone, Copy)]
pub(super) struct NextStart<'a> {
    row: &'a NewRow<'a>,
    in_flight: Option<i64>,
}

impl<'a> NextStart<'a> {
    /// The start of `next` (whose row is `row`), where it may ride on this one's end: then it
    /// costs no commit of its own. A run that dies before the next one's first statement
    /// leaves the state a death just after that start leaves anyway (settled from the
    /// catalog, recorded failed_clean, applied again by the next run).
    fn of(next: &Step<'_>, row: &'a NewRow<'a>, dialect: Dialect) -> Option<Self> {
        chained_start(next, dialect).map(|in_flight| NextStart { row, in_flight })
    }

    /// `of` the job's next migration, whose row is `row`.
    fn after(job: &Job<'_>, row: Option<&'a NewRow<'a>>, dialect: Dialect) -> Option<Self> {
        let (next, row) = job.chain.next.zip(row)?;
        Self::of(next, row, dialect)
    }
}

/// One migration to apply, and where it is recorded.
struct Job<'a> {
    history: &'a History,
    run: &'a RunInfo,
    step: &'a Step<'a>,
    row: &'a NewRow<'a>,
    limits: &'a Limits,
    chain: Chain<'a>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The whole file, its history row and its audit event in one transaction: one commit, as
/// cheap as applying the file by hand, and a crash leaves nothing half-done. A lock timeout
/// anywhere rolls it back and retries the file.
async fn transaction_mode(
    conn: &mut Conn,
    job: &Job<'_>,
    progress: &mut dyn Progress,
) -> Result<(), Stopped> {
    let (history, run, step, row, limits) = (job.history, job.run, job.step, job.row, job.limits);
    let started = Instant::now();
    let mut backoff = Backoff::new(limits.retry_delay, Duration::from_secs(10));
    let mut attempt: u32 = 0;
    let targets = &step.script.locks;
    let until = Instant::now() + limits.gap_wait;
    loop {
        attempt += 1;
        let gap = gap::wait_for_gap(conn, targets, limits, until, &mut |holder, waited| {
            progress.waiting_for_gap(step, holder, waited)
        })
        .await;
        let result = match gap {
            Ok(_) => transaction_attempt(conn, job, progress, i64::from(attempt), started).await,
            Err(error) => Err((1, error)),
        };
        let (statement, error) = match result {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        if !error.connection_lost {
            conn.rollback().await;
        }
        let interrupted = error.code.as_deref() == Some(INTERRUPTED);
        if !interrupted && conn.backend().is_lock_timeout(&error) && attempt <= limits.retries {
            let delay = backoff.next_delay();
            progress.retrying(step, attempt, delay, &error);
            tokio::time::sleep(delay).await;
            continue;
        }
        let stopped = Stopped {
            state: State::FailedClean,
            failure: Failure {
                statement: statement as i64,
                statements_done: 0,
                error,
                duration_ms: ms(started.elapsed()),
            },
            statement_text: step
                .script
                .statements
                .get(statement.saturating_sub(1))
                .cloned()
                .unwrap_or_default(),
            leftover: None,
            interrupted,
        };
        if interrupted {
            // Rolled back: nothing of it happened, and there is nothing to record.
            return Err(stopped);
        }
        // The transaction took its row with it: record the failure on its own.
        let _ = history
            .start(conn, row, run, State::FailedClean, i64::from(attempt))
            .await;
        let _ = history
            .fail(conn, row.version, State::FailedClean, &stopped.failure)
            .await;
        return Err(stopped);
    }
}

/// One try of a transactional file; the error carries the 1-based statement (0: before the
/// first statement, or the history writes around them).
async fn transaction_attempt(
    conn: &mut Conn,
    job: &Job<'_>,
    progress: &mut dyn Progress,
    attempts: i64,
    started: Instant,
) -> Result<(), (usize, DbError)> {
    let (history, run, step, row) = (job.history, job.run, job.step, job.row);
    let total = step.script.statements.len();
    // Where the server can time the last statement, the row, its event and the COMMIT go in
    // one query with it: the database stops at the first error, nothing of the transaction
    // is then committed, and the caller's ROLLBACK ends it.
    let (before, after) = applied_detail_parts(step);
    let call = |sent: Instant| {
        history.applied_with_last_statement(
            row,
            run,
            attempts,
            ms(sent - started),
            (&before, &after),
        )
    };
    if let Some(call) = call(started) {
        // Prepared once per session, outside any transaction.
        conn.prepare_once(&call).await.map_err(|e| (0, e))?;
    }
    let tail = |sent: Instant| call(sent).map(|c| format!("{};\nCOMMIT", c.execute));
    for (index, statement) in step.script.statements.iter().enumerate() {
        if crate::runtime::interrupted() {
            return Err((index + 1, interrupted_error()));
        }
        let last = (index + 1 == total).then(|| tail(Instant::now())).flatten();
        let sql = match &last {
            // After a newline: the statement may end in a line comment.
            Some(tail) => Cow::Owned(format!("{statement}\n;\n{tail}")),
            None => Cow::Borrowed(statement.as_str()),
        };
        // The transaction opens with its first statement: one round trip for both.
        let ran = match index {
            0 => conn.begin_with(job.limits, &sql).await,
            _ => conn.execute(&sql).await,
        };
        ran.map_err(|e| (index + 1, e))?;
        progress.statement_done(step, index + 1, total);
        if last.is_some() {
            return Ok(());
        }
    }
    if step.script.statements.is_empty() {
        conn.begin(job.limits).await.map_err(|e| (0, e))?;
        if let Some(tail) = tail(Instant::now()) {
            return conn.execute(&tail).await.map_err(|e| (0, e));
        }
    }
    let took = ms(started.elapsed());
    // The row is written once, finished: inside this transaction nobody could see it
    // `applying`, and a crash takes it with everything else.
    let detail = applied_detail(step, took);
    history
        .applied_in_transaction(conn, row, run, (attempts, took), &detail)
        .await
        .map_err(|e| (total, e))?;
    conn.commit().await.map_err(|e| (total, e))
}

fn applied_detail(step: &Step<'_>, took_ms: i64) -> String {
    let (before, after) = applied_detail_parts(step);
    format!("{before}{took_ms}{after}")
}

/// The `migration_applied` event's detail, before and after its duration in ms.
fn applied_detail_parts(step: &Step<'_>) -> (String, String) {
    (
        format!("{} applied in ", step.label()),
        format!(" ms ({})", step.script.mode.name()),
    )
}

/// One statement at a time, each committed on its own. A statement that can run in a
/// transaction commits in one transaction with its progress row, so both happen or neither
/// does: a run killed at any point never leaves a committed statement unrecorded, and a
/// resume never runs it twice. A statement that cannot (CREATE INDEX CONCURRENTLY...) is
/// recorded as in flight before it runs; after a crash the catalog tells whether it took
/// effect (`settle`). A lock timeout retries the statement. On MySQL the file's last DDL
/// statement goes in one query with what follows it (`rest_of_file`).
/// Returns whether its last transaction wrote the next migration's start.
async fn statement_mode(
    conn: &mut Conn,
    job: &Job<'_>,
    progress: &mut dyn Progress,
) -> Result<bool, Stopped> {
    let (history, run, step, row) = (job.history, job.run, job.step, job.row);
    let stop_at = StopAt {
        step,
        started: Instant::now(),
    };
    let stop =
        |index: usize, error: DbError, leftover: Option<String>| stop_at.at(index, error, leftover);
    let total = step.script.statements.len();
    let dialect = conn.dialect();
    let effects = step.script.effects();
    let (mut prefix, mut announced) = open_row(conn, job, effects)
        .await
        .map_err(|e| stop(step.resume_from, e, None))?;
    let next_row = job.chain.next.map(new_row);
    let finish = Finish {
        run,
        step,
        row,
        started: stop_at.started,
        next_start: NextStart::after(job, next_row.as_ref(), dialect),
    };
    let mut finished = false;
    // The next statement's first attempt, when it ran in this one's query and failed.
    let mut ran = None;
    let mut index = step.resume_from;
    while index < total {
        if crate::runtime::interrupted() {
            return Err(stop_at.by_signal(conn, job, index).await);
        }
        if ran.is_none()
            && let Some(rest) = rest_of_file(conn, job, effects, (index, announced), &finish)
        {
            match send_with_rest(conn, job, (index, prefix.as_deref()), rest, progress).await {
                AfterRest::Applied => return Ok(finish.next_start.is_some()),
                AfterRest::EndFailed(error) => return Err(stop(total, error, None)),
                // Statement `at` runs as if alone, its first attempt known.
                AfterRest::Again { at, ran: error } => {
                    if at > index {
                        (prefix, announced) = (None, false);
                    }
                    (index, ran) = (at, Some(error));
                    continue;
                }
            }
        }
        finished = index + 1 == total && effects[index].is_none();
        let marks = Marks {
            effect: Some(effects[index].clone()),
            prefix: prefix.take(),
            announced,
            defer_done: effects[index].is_some(),
            finish: finished.then_some(finish),
            ran: ran.take(),
        };
        run_alone(conn, job, (index, marks), progress, &stop_at).await?;
        let (mark, next_announced) = done_mark(effects, index);
        announced = next_announced;
        if let Some(mark) = mark {
            history
                .mark(conn, row.version, mark)
                .await
                .map_err(|e| stop(index + 1, e, None))?;
        }
        progress.statement_done(step, index + 1, total);
        index += 1;
    }
    if finished {
        // The last statement's transaction wrote the row's end and its event (and, on MySQL,
        // the next one's start).
        return Ok(finish.next_start.is_some());
    }
    close_row(conn, history, &finish)
        .await
        .map_err(|e| stop(total, e, None))
}

/// MySQL: the rest of a file, sent in the same query after one of its statements.
enum Rest {
    /// The last statement in its own transaction, with the row's end.
    Last(String),
    /// The row's end, after the last statement.
    End(String),
}

/// MySQL: the rest of the file, to send in the same query after statement `index` so that
/// the file costs one round trip where it cost two: the last statement in its own
/// transaction with the row's end, when that statement comes next; the row's end, when
/// `index` is the last. Only after a statement announced in flight whose effect the catalog
/// shows (a DDL statement: one result, and its done mark may ride on the next write): a
/// crash between the two is settled from the catalog as when they were two queries, and
/// MySQL stops a query at its first error, so nothing after a failed statement runs.
fn rest_of_file(
    conn: &Conn,
    job: &Job<'_>,
    effects: &[Option<Effect>],
    (index, announced): (usize, bool),
    finish: &Finish<'_>,
) -> Option<Rest> {
    let statements = &job.step.script.statements;
    if conn.backend().transactional_ddl()
        || !announced
        || !matches!(effects[index], Some(Effect::Schema(_)))
    {
        return None;
    }
    let last = match statements.len() - index {
        1 => None,
        2 if effects[index + 1].is_none() => Some(statements[index + 1].as_str()),
        _ => return None,
    };
    let sql = finish.mysql_transaction(job.history, last);
    Some(match last {
        Some(_) => Rest::Last(sql),
        None => Rest::End(sql),
    })
}

/// How a statement sent with the rest of its file went.
enum WithRest {
    Done,
    /// The statement failed (or the row's start before it): nothing after it ran.
    StatementFailed(DbError),
    /// The statement took effect and the rest failed (its transaction rolled back).
    RestFailed(DbError),
}

/// Where a file sent with its rest (`rest_of_file`) goes on.
enum AfterRest {
    Applied,
    /// The row's end failed after the last statement took effect.
    EndFailed(DbError),
    /// Statement `at` (the one sent with the rest, or the last one) failed in that query: it
    /// runs again as if alone, `ran` its first attempt's outcome.
    Again {
        at: usize,
        ran: DbError,
    },
}

/// Statement `index` with the rest of its file in one query (`with_rest`), its progress
/// reported.
async fn send_with_rest(
    conn: &mut Conn,
    job: &Job<'_>,
    (index, prefix): (usize, Option<&str>),
    rest: Rest,
    progress: &mut dyn Progress,
) -> AfterRest {
    let (step, total) = (job.step, job.step.script.statements.len());
    let statement = &step.script.statements[index];
    match with_rest(conn, (prefix, statement), &rest, job.limits).await {
        WithRest::Done => {
            progress.statement_done(step, index + 1, total);
            if let Rest::Last(_) = rest {
                progress.statement_done(step, total, total);
            }
            AfterRest::Applied
        }
        WithRest::StatementFailed(ran) => AfterRest::Again { at: index, ran },
        WithRest::RestFailed(error) => {
            progress.statement_done(step, index + 1, total);
            match rest {
                Rest::End(_) => AfterRest::EndFailed(error),
                Rest::Last(_) => AfterRest::Again {
                    at: index + 1,
                    ran: error,
                },
            }
        }
    }
}

/// Statement (after `prefix`, the row's start, when it goes in the same query) and `rest`
/// in one query.
async fn with_rest(
    conn: &mut Conn,
    (prefix, statement): (Option<&str>, &str),
    rest: &Rest,
    limits: &Limits,
) -> WithRest {
    if let Err(error) = conn.set_limits(limits, false).await {
        return WithRest::StatementFailed(error);
    }
    let (Rest::Last(rest) | Rest::End(rest)) = rest;
    let sql = match prefix {
        Some(prefix) => format!("{prefix};\n{statement}\n;\n{rest}"),
        None => format!("{statement}\n;\n{rest}"),
    };
    let before = usize::from(prefix.is_some());
    match conn.execute_counted(&sql).await {
        Ok(()) => WithRest::Done,
        Err((completed, error)) if completed <= before => WithRest::StatementFailed(error),
        Err((_, error)) => {
            if !error.connection_lost {
                conn.rollback().await;
            }
            WithRest::RestFailed(error)
        }
    }
}

/// `run_one`, its failure recorded where the statement stopped (unless the connection is
/// gone: the next run settles the row then).
async fn run_alone(
    conn: &mut Conn,
    job: &Job<'_>,
    (index, marks): (usize, Marks<'_>),
    progress: &mut dyn Progress,
    stop_at: &StopAt<'_>,
) -> Result<(), Stopped> {
    let Err(failed) = run_one(conn, job, (index, marks), progress).await else {
        return Ok(());
    };
    let stopped = stop_at.at(index, failed.error, failed.leftover);
    if stopped.failure.error.connection_lost {
        return Err(stopped);
    }
    Err(record_stop(conn, job.history, job.row.version, stopped).await)
}

/// Runs statement `index` of the job's file with its progress marks, saying on the progress
/// line when it waits (a retry, a gap).
async fn run_one(
    conn: &mut Conn,
    job: &Job<'_>,
    (index, marks): (usize, Marks<'_>),
    progress: &mut dyn Progress,
) -> Result<(), StatementFailed> {
    let at = At {
        history: job.history,
        counter: Counter::Forward(job.row.version),
        index,
        marks,
    };
    let step = job.step;
    let statement = &step.script.statements[index];
    run_statement(conn, at, statement, job.limits, &mut |wait| match wait {
        Wait::Retry {
            attempt,
            delay,
            error,
        } => progress.retrying(step, attempt, delay, error),
        Wait::Gap { holder, waited } => progress.waiting_for_gap(step, holder, waited),
    })
    .await
}

/// The `Stopped` of a statement-mode file stopped at statement `index` (0-based).
struct StopAt<'a> {
    step: &'a Step<'a>,
    started: Instant,
}

impl StopAt<'_> {
    /// A clean stop between two statements, before statement `index`: recorded like a
    /// failure there, so that `--resume` continues at this statement.
    async fn by_signal(&self, conn: &mut Conn, job: &Job<'_>, index: usize) -> Stopped {
        let stopped = Stopped {
            interrupted: true,
            ..self.at(index, interrupted_error(), None)
        };
        record_stop(conn, job.history, job.row.version, stopped).await
    }

    fn at(&self, index: usize, error: DbError, leftover: Option<String>) -> Stopped {
        Stopped {
            state: if index > 0 {
                State::FailedPartial
            } else {
                State::FailedClean
            },
            failure: Failure {
                statement: index as i64 + 1,
                statements_done: index as i64,
                error,
                duration_ms: ms(self.started.elapsed()),
            },
            statement_text: self
                .step
                .script
                .statements
                .get(index)
                .cloned()
                .unwrap_or_default(),
            leftover,
            interrupted: false,
        }
    }
}

/// Records where a statement-mode file stopped, best effort (the next run settles the row
/// from the catalog anyway), and hands the stop back.
async fn record_stop(
    conn: &mut Conn,
    history: &History,
    version: i64,
    stopped: Stopped,
) -> Stopped {
    let _ = conn.reset_limits().await;
    let _ = history
        .fail(conn, version, stopped.state, &stopped.failure)
        .await;
    stopped
}

/// The row's start (or, resuming, the count of statements already done) before the first
/// statement to run, with that statement's in-flight mark when it runs outside a
/// transaction. Returns the start as SQL to send with the first statement where it goes
/// there, and whether the first statement is announced in flight.
async fn open_row(
    conn: &mut Conn,
    job: &Job<'_>,
    effects: &[Option<Effect>],
) -> Result<(Option<String>, bool), DbError> {
    let (history, run, row) = (job.history, job.run, job.row);
    let first = job.step.resume_from;
    let announce_first = effects.get(first).is_some_and(Option::is_some);
    let in_flight = announce_first.then_some(first as i64 + 1);
    // The row's start: written by the previous migration's last transaction (`Chain`);
    // on MySQL from the first statement, DDL first, in the same query as that statement (it
    // commits before the DDL does, so a crash in between is settled from the catalog as
    // ever); elsewhere, its own write.
    let prefix = match in_flight {
        _ if job.chain.started || conn.backend().transactional_ddl() => None,
        Some(n) if first == 0 => Some(history.start_sql(row, run, Some(n))),
        _ => None,
    };
    if prefix.is_none() && !job.chain.started {
        history
            .start_in_flight(conn, row, run, State::Applying, (1, in_flight))
            .await?;
    }
    if first > 0 {
        let mark = match in_flight {
            Some(next) => Mark::DoneThenInFlight(first as i64, next),
            None => Mark::Done(first as i64),
        };
        history.mark(conn, row.version, mark).await?;
    }
    Ok((prefix, announce_first))
}

/// After statement `index` ran outside a transaction: the done mark it left to write, merged
/// with the next one's in-flight mark (then the next is announced: `true`); or none, when
/// the next statement's own transaction (which records it done too) or the row's end carries
/// it and the catalog can tell after a crash whether it took effect; or alone.
fn done_mark(effects: &[Option<Effect>], index: usize) -> (Option<Mark>, bool) {
    let Some(effect) = &effects[index] else {
        return (None, false);
    };
    let done = index as i64 + 1;
    if effects.get(index + 1).is_some_and(Option::is_some) {
        return (Some(Mark::DoneThenInFlight(done, done + 1)), true);
    }
    match effect {
        Effect::Unknown => (Some(Mark::Done(done)), false),
        _ => (None, false),
    }
}

/// The row's end and its `migration_applied` event, once the last statement ran outside a
/// transaction. MySQL: with the next migration's start, in one transaction and one query.
/// Returns whether that start was written.
async fn close_row(
    conn: &mut Conn,
    history: &History,
    finish: &Finish<'_>,
) -> Result<bool, DbError> {
    let version = finish.row.version;
    let total = finish.step.script.statements.len() as i64;
    if !conn.backend().transactional_ddl() {
        if let Err(e) = conn.execute(&finish.mysql_transaction(history, None)).await {
            if !e.connection_lost {
                conn.rollback().await;
            }
            return Err(e);
        }
        return Ok(finish.next_start.is_some());
    }
    let took = ms(finish.started.elapsed());
    history
        .finish(conn, version, State::Applied, total, took)
        .await?;
    history
        .audit(
            conn,
            finish.run,
            Some(version),
            "migration_applied",
            &applied_detail(finish.step, took),
        )
        .await;
    Ok(false)
}

/// Whose progress a statement advances: a migration's, or its rollback's.
#[derive(Debug, Clone, Copy)]
pub(super) enum Counter {
    Forward(i64),
    Rollback(i64),
}

impl Counter {
    async fn done(self, conn: &mut Conn, history: &History, done: i64) -> Result<(), DbError> {
        match self {
            Counter::Forward(v) => history.mark(conn, v, Mark::Done(done)).await,
            Counter::Rollback(v) => history.mark(conn, v, Mark::RollbackDone(done)).await,
        }
    }

    async fn in_flight(self, conn: &mut Conn, history: &History, n: i64) -> Result<(), DbError> {
        match self {
            Counter::Forward(v) => history.mark(conn, v, Mark::InFlight(n)).await,
            Counter::Rollback(v) => history.mark(conn, v, Mark::RollbackInFlight(n)).await,
        }
    }
}

/// A statement that failed, and what it left behind.
pub(super) struct StatementFailed {
    pub error: DbError,
    pub leftover: Option<String>,
}

/// PostgreSQL's `invalid_transaction_termination`: a procedure or DO block that commits
/// cannot run inside runner's transaction, so it runs outside one.
const INVALID_TRANSACTION_TERMINATION: &str = "2D000";

/// How a statement's progress writes merge with its neighbours' (each merge saves a commit;
/// none loses what a crash must find: see `statement_mode`).
#[derive(Clone, Default)]
pub(super) struct Marks<'a> {
    /// Whether it runs outside a transaction, and how its effect is read back, when the caller
    /// already knows (`outside_transaction`); worked out here otherwise.
    pub effect: Option<Option<Effect>>,
    /// Its in-flight mark is already written (with the row's start, or with the previous
    /// statement's done mark).
    pub announced: bool,
    /// Run outside a transaction, it leaves its done mark to the next write (the caller's),
    /// and returns; its effect can be read back from the catalog, so a crash before that write
    /// is settled like one during the statement.
    pub defer_done: bool,
    /// The last statement: its own transaction also finishes the row (applied) and writes the
    /// audit event.
    pub finish: Option<Finish<'a>>,
    /// SQL sent in the same query just before the statement (MySQL: the row's start, which
    /// the statement's own commit must follow).
    pub prefix: Option<String>,
    /// Its first attempt already ran, in the query of the statement before it
    /// (`rest_of_file`), and failed so: taken as that attempt's outcome (retried after a lock
    /// timeout, reported otherwise).
    pub ran: Option<DbError>,
}

/// The row's end, written in the last statement's transaction.
#[derive(Clone, Copy)]
pub(super) struct Finish<'a> {
    pub run: &'a RunInfo,
    pub step: &'a Step<'a>,
    /// The step's history row.
    pub row: &'a NewRow<'a>,
    pub started: Instant,
    /// MySQL: the next migration's start, written in the same transaction.
    pub next_start: Option<NextStart<'a>>,
}

impl Finish<'_> {
    /// MySQL: the transaction that ends the row, as one query's SQL with literals: BEGIN,
    /// `last` (the file's last statement, when it runs in this transaction), the row's end
    /// (every statement done, applied), its event, the next migration's start and the COMMIT.
    /// The duration is the server's, read when the row ends: the query may run the file's
    /// last statements first.
    fn mysql_transaction(&self, history: &History, last: Option<&str>) -> String {
        let version = self.row.version;
        let done = self.step.script.statements.len() as i64;
        let end = match self.next_start {
            None => history.finish_applied_sql(version, done),
            Some(next) => history.finish_then_start_sql(
                self.run,
                (self.row, done),
                (next.row, next.in_flight),
            ),
        };
        let (before, after) = applied_detail_parts(self.step);
        let event = history.applied_event_sql(self.run, version, (&before, &after));
        let begin = history.backend().begin_sql();
        match last {
            Some(statement) => format!("{begin};\n{statement}\n;\n{end};\n{event};\nCOMMIT"),
            None => format!("{begin};\n{end};\n{event};\nCOMMIT"),
        }
    }
}

/// Runs statement `index` (0-based) of a statement-mode script and records it done, with
/// lock-timeout retries.
pub(super) async fn run_statement(
    conn: &mut Conn,
    at: At<'_>,
    statement: &str,
    limits: &Limits,
    waiting: &mut dyn FnMut(Wait<'_>),
) -> Result<(), StatementFailed> {
    let dialect = conn.dialect();
    let mut effect = at
        .marks
        .effect
        .clone()
        .unwrap_or_else(|| outside_transaction(statement, dialect));
    let mut backoff = Backoff::new(limits.retry_delay, Duration::from_secs(10));
    let mut attempt = 0;
    let targets = gap::targets([statement], dialect);
    let until = Instant::now() + limits.gap_wait;
    let mut ran = at.marks.ran.clone();
    loop {
        let result = match ran.take() {
            Some(error) => Err(error),
            None => {
                if let Err(error) =
                    gap::wait_for_gap(conn, &targets, limits, until, &mut |holder, waited| {
                        waiting(Wait::Gap { holder, waited })
                    })
                    .await
                {
                    return Err(StatementFailed {
                        error,
                        leftover: None,
                    });
                }
                match &effect {
                    None => in_own_transaction(conn, &at, statement, limits).await,
                    Some(effect) => outside(conn, &at, statement, effect, limits).await,
                }
            }
        };
        let Err(error) = result else { return Ok(()) };
        if effect.is_none() && error.code.as_deref() == Some(INVALID_TRANSACTION_TERMINATION) {
            effect = Some(Effect::Unknown);
            continue;
        }
        if conn.backend().is_lock_timeout(&error) && attempt < limits.retries {
            attempt += 1;
            let delay = backoff.next_delay();
            waiting(Wait::Retry {
                attempt,
                delay,
                error: &error,
            });
            tokio::time::sleep(delay).await;
            continue;
        }
        let leftover = match &effect {
            Some(Effect::CreatesIndex(name)) if !error.connection_lost => {
                match index_state(conn, name).await {
                    Ok(IndexState::Invalid) => Some(format!(
                        "the failed CREATE INDEX CONCURRENTLY left the INVALID index {name} behind: drop it with `DROP INDEX CONCURRENTLY {name};`, or let `--resume` drop and rebuild it"
                    )),
                    _ => None,
                }
            }
            _ => None,
        };
        return Err(StatementFailed { error, leftover });
    }
}

/// Where a statement's progress is written.
pub(super) struct At<'a> {
    pub history: &'a History,
    pub counter: Counter,
    /// The statement's index in its script, 0-based.
    pub index: usize,
    pub marks: Marks<'a>,
}

/// The statement and its progress row in one transaction (for the last statement, the row's
/// end and its audit event too).
async fn in_own_transaction(
    conn: &mut Conn,
    at: &At<'_>,
    statement: &str,
    limits: &Limits,
) -> Result<(), DbError> {
    let (history, counter, done) = (at.history, at.counter, at.index as i64 + 1);
    let result = async {
        if let (Some(f), Counter::Forward(_), false) =
            (at.marks.finish, counter, conn.backend().transactional_ddl())
        {
            // The transaction, the statement, the row's end, its event (the next migration's
            // start) and the COMMIT in one query: MySQL stops at the first error, and nothing
            // of it is then committed.
            conn.set_limits(limits, false).await?;
            return conn
                .execute(&f.mysql_transaction(history, Some(statement)))
                .await;
        }
        // The transaction opens with the statement: one round trip for both.
        conn.begin_with(limits, statement).await?;
        match (at.marks.finish, counter) {
            (Some(f), Counter::Forward(version)) => {
                let took = ms(f.started.elapsed());
                history
                    .finish(conn, version, State::Applied, done, took)
                    .await?;
                history
                    .event(
                        conn,
                        f.run,
                        Some(version),
                        "migration_applied",
                        &applied_detail(f.step, took),
                    )
                    .await?;
            }
            _ => counter.done(conn, history, done).await?,
        }
        conn.commit().await
    }
    .await;
    if let Err(e) = result {
        if !e.connection_lost {
            conn.rollback().await;
        }
        return Err(e);
    }
    Ok(())
}

/// A statement that refuses a transaction: marked in flight, run, marked done (each mark
/// merged with a neighbour's write when `at.marks` says so).
async fn outside(
    conn: &mut Conn,
    at: &At<'_>,
    statement: &str,
    effect: &Effect,
    limits: &Limits,
) -> Result<(), DbError> {
    let (history, counter, index) = (at.history, at.counter, at.index);
    if let Effect::CreatesIndex(name) = effect
        && index_state(conn, name).await? == IndexState::Invalid
    {
        // A CREATE INDEX CONCURRENTLY that failed before left an INVALID index behind; drop
        // it so the build can start over.
        conn.execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {name}"))
            .await?;
    }
    if !at.marks.announced {
        counter.in_flight(conn, history, index as i64 + 1).await?;
    }
    // A CONCURRENTLY build or drop waits for older transactions without blocking anyone's
    // reads or writes: the short lock_timeout that protects live traffic would only make it
    // fail; it keeps the old default at least.
    let patient = Limits {
        lock_timeout: limits.lock_timeout.max(Duration::from_secs(5)),
        ..*limits
    };
    let limits = match effect {
        Effect::CreatesIndex(_) | Effect::DropsIndexes(_) => &patient,
        _ => limits,
    };
    conn.set_limits(limits, false).await?;
    match &at.marks.prefix {
        // The row's start (an idempotent upsert) in the same query, each attempt.
        Some(prefix) => conn.execute(&format!("{prefix};\n{statement}")).await?,
        None => conn.execute(statement).await?,
    }
    if at.marks.defer_done {
        return Ok(());
    }
    counter.done(conn, history, index as i64 + 1).await
}
