//! `runner recover --env E [ACTION]`: failed-migration recovery, guided and audited.

use std::io::{BufRead, IsTerminal};
use std::time::SystemTime;

use crate::catalog::Catalog;
use crate::cli::{Format, RecoverArgs, migration_version};
use crate::config::{Config, Environment};
use crate::db::{Conn, lock};
use crate::deploy::approval;
use crate::deploy::record::{self, Liveness};
use crate::engine::history::History;
use crate::engine::journal::{self, CommandRecord, Kind};
use crate::engine::plan::{self, Request};
use crate::engine::recover::{self, Action, Context, Marked, Problem};
use crate::engine::{self, db};
use crate::error::{Error, ExitCode, Result};
use crate::report::out;
use crate::report::progress::{MigrateOutput, Style};
use crate::report::recover::{self as printer, RecoverView};
use crate::report::rollback::RollbackOutput;
use crate::runtime::{block_on, run_info};

pub fn run(config: &Config, args: &RecoverArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::of_config(config)?;
    let action = action_of(args)?;
    let approved_by = match &action {
        Some(_) => approval::require(env, args.approve, "recover")?,
        None => None,
    };
    crate::runtime::watch_interrupts()?;
    crate::runtime::exit_at_signal(2);
    block_on(async {
        let mut conn = engine::open(env, "recover").await?;
        let command = format!("runner recover --env {}", env.name);
        let result = lock::with_lock(
            &mut conn,
            env,
            (args.lock_wait, &command),
            &mut (),
            async |conn, _| {
                let recovery = Recovery {
                    config,
                    env,
                    catalog: &catalog,
                    args,
                };
                recovery
                    .recover_with_lock_held(conn, action, approved_by)
                    .await
            },
        )
        .await;
        conn.close().await;
        result
    })
}

/// The action the flags ask for, if any.
fn action_of(args: &RecoverArgs) -> Result<Option<Action>> {
    let v = i64::from;
    if let Some(version) = args.retry {
        return Ok(Some(Action::Retry {
            version: v(version),
        }));
    }
    if let Some(version) = args.resume {
        return Ok(Some(Action::Resume {
            version: v(version),
        }));
    }
    if let Some(version) = args.rollback {
        return Ok(Some(Action::Rollback {
            version: v(version),
            use_file: args.use_file,
        }));
    }
    if let Some(version) = args.drop_invalid_index {
        return Ok(Some(Action::DropInvalidIndex {
            version: v(version),
        }));
    }
    if let [version, state] = args.mark.as_slice() {
        let state = match state.as_str() {
            "applied" => Marked::Applied,
            "rolled-back" | "rolled_back" => Marked::RolledBack,
            other => {
                return Err(Error::Usage(format!(
                    "--mark {version} {other}: the state is `applied` or `rolled-back`"
                )));
            }
        };
        return Ok(Some(Action::Mark {
            version: v(migration_version(version).map_err(Error::Usage)?),
            state,
            reason: args.reason.clone().unwrap_or_default(),
        }));
    }
    if let [version, ran] = args.statement.as_slice() {
        let ran = match ran.as_str() {
            "done" => true,
            "not-done" => false,
            other => {
                return Err(Error::Usage(format!(
                    "--statement {version} {other}: say `done` (it took effect) or `not-done`"
                )));
            }
        };
        return Ok(Some(Action::Statement {
            version: v(migration_version(version).map_err(Error::Usage)?),
            ran,
        }));
    }
    Ok(None)
}

struct Recovery<'a> {
    config: &'a Config,
    env: &'a Environment,
    catalog: &'a Catalog,
    args: &'a RecoverArgs,
}

impl Recovery<'_> {
    fn style(&self) -> Style {
        match self.args.format {
            Format::Table => Style::Human,
            Format::Json => Style::Json,
        }
    }

    /// What failed migrations left, after recording what dead runs left `applying`.
    async fn problems(&self, conn: &mut Conn) -> Result<(Vec<Problem>, usize)> {
        let history = History::new(&self.config.history_prefix, conn.dialect());
        history
            .ensure(conn)
            .await
            .map_err(|e| db("create the history tables", e))?;
        let mut notes = Vec::new();
        let rows =
            engine::read_settled(conn, &history, &mut |s| notes.push(s.detail.clone())).await?;
        for note in notes {
            out::note(note);
        }
        let plan = plan::plan(
            (self.catalog, &rows),
            conn.dialect(),
            &Request::default(),
            crate::hints::At::of(self.env),
            None,
        );
        let info = run_info(&self.env.name, None);
        engine::record_interrupted(conn, &history, &info, &plan.classified).await?;
        let rows = engine::read_rows(conn, &history).await?;
        let problems = recover::diagnose(conn, self.catalog, self.env, &rows).await?;
        let pending = plan
            .steps
            .iter()
            .filter(|s| !problems.iter().any(|p| p.version == s.migration.version))
            .count();
        Ok((problems, pending))
    }

    /// The deploy record, when what serves is in doubt: in words, and the release to put back.
    async fn doubt(&self, conn: &mut Conn) -> Result<Option<(String, Option<String>)>> {
        let history = History::new(&self.config.history_prefix, conn.dialect());
        let entries = journal::entries(conn, &history, &self.env.name)
            .await
            .map_err(|e| db("read the deploy journal", e))?;
        for note in record::close_dead_runs(
            conn,
            &history,
            &entries,
            crate::hints::At::of(self.env),
            "runner recover",
        )
        .await
        {
            out::note(note);
        }
        let serving = record::serving(&entries, Liveness::Ours, SystemTime::now());
        Ok(serving
            .doubt
            .map(|d| (d.to_string(), serving.rollback_target.clone())))
    }

    fn print(&self, problems: &[Problem], doubt: Option<(String, Option<String>)>, pending: usize) {
        let view = RecoverView {
            protected: self.env.requires_approval,
            environment: &self.env.name,
            database: self.env.database_url.value.redacted(),
            problems,
            doubt,
            pending,
        };
        match self.args.format {
            Format::Json => out::json(&printer::json(&view)),
            Format::Table => out::text(&printer::human(&view)),
        }
    }

    async fn recover_with_lock_held(
        &self,
        conn: &mut Conn,
        action: Option<Action>,
        approved_by: Option<String>,
    ) -> Result<ExitCode> {
        let (problems, pending) = self.problems(conn).await?;
        let doubt = self.doubt(conn).await?;
        let (action, approved_by) = match action {
            Some(action) => (action, approved_by),
            None => {
                let chosen = self.choose(&problems);
                self.print(&problems, doubt, pending);
                match chosen? {
                    Some(action) => {
                        let approved_by = approval::require(self.env, false, "recover")?;
                        (action, approved_by)
                    }
                    None => return Ok(ExitCode::Success),
                }
            }
        };
        self.act(conn, &action, approved_by).await
    }

    /// On a terminal, the offers as a numbered choice; elsewhere none (the explanation is the
    /// answer).
    fn choose(&self, problems: &[Problem]) -> Result<Option<Action>> {
        let offers: Vec<_> = problems.iter().flat_map(|p| &p.offers).collect();
        if offers.is_empty()
            || self.args.format == Format::Json
            || !std::io::stdin().is_terminal()
            || !std::io::stderr().is_terminal()
        {
            return Ok(None);
        }
        out::aside(printer::menu(&offers));
        out::prompt("choose an action by number, or press Enter to do nothing: ");
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::io("stdin", e))?;
        match line.trim() {
            "" => Ok(None),
            n => match n
                .parse::<usize>()
                .ok()
                .and_then(|i| offers.get(i.wrapping_sub(1)))
            {
                Some(o) => Ok(Some(o.action.clone())),
                None => Err(Error::Usage(format!(
                    "`{n}` is not one of the actions; nothing was done"
                ))),
            },
        }
    }

    /// Runs the action, recorded in the journal and the audit log; then the state and the
    /// next command.
    async fn act(
        &self,
        conn: &mut Conn,
        action: &Action,
        approved_by: Option<String>,
    ) -> Result<ExitCode> {
        let history = History::new(&self.config.history_prefix, conn.dialect());
        let info = run_info(&self.env.name, None);
        let rows = engine::read_rows(conn, &history).await?;
        let what = action.command(crate::hints::At::of(self.env));
        let record = CommandRecord::begin(
            conn,
            &history,
            (Kind::Recover, &format!("V{}", action.version())),
            &info,
            approved_by.clone(),
        )
        .await
        .map_err(|e| db("write the journal", e))?;
        let cx = Context {
            config: self.config,
            env: self.env,
            catalog: self.catalog,
            run: &info,
            lock_wait: self.args.lock_wait,
        };
        let mut migrate_out = MigrateOutput::new(self.style());
        let mut rollback_out = RollbackOutput::new(self.style());
        let reporters = (
            &mut migrate_out as &mut dyn crate::engine::Reporter,
            &mut rollback_out as &mut dyn crate::engine::rollback::RollbackReporter,
        );
        let result = recover::act(conn, &cx, &rows, action, reporters).await;
        record
            .end(conn, &history, &result, vec![action.version()])
            .await;
        let detail = match &result {
            Ok(outcome) => format!("`{what}`: {outcome}"),
            Err(e) => format!("`{what}` failed: {e}"),
        };
        let detail = match (&approved_by, action) {
            (_, Action::Mark { reason, .. }) => format!("{detail}; reason: {reason}"),
            _ => detail,
        };
        history
            .audit(conn, &info, Some(action.version()), "recover", &detail)
            .await;
        let outcome = result?;
        let (problems, pending) = self.problems(conn).await?;
        let doubt = self.doubt(conn).await?;
        let view = RecoverView {
            protected: self.env.requires_approval,
            environment: &self.env.name,
            database: self.env.database_url.value.redacted(),
            problems: &problems,
            doubt,
            pending,
        };
        match self.args.format {
            Format::Json => out::json_line(&printer::recovered_json(&outcome, &view)),
            Format::Table => out::text(&printer::recovered(&outcome, &view)),
        }
        Ok(ExitCode::Success)
    }
}
