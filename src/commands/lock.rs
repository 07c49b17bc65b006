//! `runner lock status|release --env E`.

use crate::cli::{Format, LockCommand};
use crate::config::Config;
use crate::db::lock;
use crate::engine;
use crate::engine::history::History;
use crate::engine::journal::{CommandRecord, Kind};
use crate::error::{Error, ExitCode, Result};
use crate::report::{lock as report, out};

use crate::runtime::{block_on, run_info};

pub fn run(config: &Config, command: &LockCommand) -> Result<ExitCode> {
    match command {
        LockCommand::Status(args) => {
            let env = config.environment(&args.env.env)?;
            let holder = block_on(async {
                let mut conn = engine::open(env, "lock-status").await?;
                let holder = lock::holder(&mut conn, &env.database_url.value).await;
                conn.close().await;
                holder
            })?;
            match args.format {
                Format::Json => out::json_line(&report::status_json(&env.name, holder.as_ref())),
                Format::Table => out::line(report::status(&env.name, holder.as_ref())),
            }
            Ok(ExitCode::Success)
        }
        LockCommand::Release(args) => {
            let env = config.environment(&args.env.env)?;
            let approved_by = match args.force {
                true => crate::deploy::approval::require(env, args.approve, "force the lock of")?,
                false => None,
            };
            block_on(async {
                let mut conn = engine::open(env, "lock-release").await?;
                let result = release(&mut conn, config, env, args.force, approved_by).await;
                conn.close().await;
                result
            })?;
            Ok(ExitCode::Success)
        }
    }
}

async fn release(
    conn: &mut crate::db::Conn,
    config: &Config,
    env: &crate::config::Environment,
    force: bool,
    approved_by: Option<String>,
) -> Result<()> {
    let url = &env.database_url.value;
    let Some(holder) = lock::holder(conn, url).await? else {
        out::line(report::nothing_to_release(&env.name));
        return Ok(());
    };
    if !force {
        return Err(Error::Usage(format!(
            "the migration lock of {} is held by {holder}, which is alive: a lock is freed when its holder ends. If it is stuck, `runner lock release --env {} --force` ends it",
            env.name, env.name
        )));
    }
    let removed = lock::force_release(conn, url).await?;
    let history = History::new(&config.history_prefix, conn.dialect());
    let detail = format!(
        "forced release of the migration lock: ended {}",
        removed
            .as_ref()
            .map_or("a holder that was already gone".to_string(), |h| h
                .to_string())
    );
    let run = run_info(&env.name, None);
    let record = |e| Error::Database {
        context: "could not record the forced release".into(),
        source: e,
    };
    history.ensure(conn).await.map_err(record)?;
    history
        .event(conn, &run, None, "lock_forced_release", &detail)
        .await
        .map_err(record)?;
    let row = CommandRecord::begin(conn, &history, (Kind::LockRelease, "-"), &run, approved_by)
        .await
        .map_err(record)?;
    row.end(conn, &history, &Ok::<_, Error>(()), Vec::new())
        .await;
    out::line(report::released(&env.name, &detail));
    Ok(())
}
