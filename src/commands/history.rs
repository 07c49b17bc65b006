//! `runner history --env E`: the deploy journal, newest first.

use crate::cli::{Format, HistoryArgs};
use crate::config::Config;
use crate::db::Conn;
use crate::engine::journal;
use crate::engine::{self, history::History};
use crate::error::{Error, ExitCode, Result};

use crate::runtime::block_on;

pub fn run(config: &Config, args: &HistoryArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let entries = block_on(async {
        if !Conn::exists(&env.database_url.value) {
            return Ok(Vec::new());
        }
        let mut conn = engine::open(env, "history").await?;
        let history = History::new(&config.history_prefix, conn.dialect());
        let entries = journal::entries(&mut conn, &history, &env.name)
            .await
            .map_err(|e| engine::db("read the deploy journal", e));
        conn.close().await;
        entries
    })?;
    if let Some(id) = &args.show {
        let found = entries
            .iter()
            .find(|e| id == "last" || e.id.starts_with(id.as_str()))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "no run {id} in the journal of {}; `runner history --env {}` lists them",
                    env.name, env.name
                ))
            })?;
        match args.format {
            Format::Json => crate::report::out::json(found),
            Format::Table => crate::report::out::text(&crate::report::history::detail(found)),
        }
        return Ok(ExitCode::Success);
    }
    let entries: Vec<_> = entries.into_iter().take(args.limit).collect();
    match args.format {
        Format::Json => crate::report::out::json(&entries),
        Format::Table => {
            crate::report::out::text(&crate::report::history::human(&env.name, &entries))
        }
    }
    Ok(ExitCode::Success)
}
