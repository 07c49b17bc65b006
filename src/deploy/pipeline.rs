//! The pipeline order: which environment comes before which, and what production requires of it.

use crate::config::Config;
use crate::db::Conn;
use crate::engine;
use crate::engine::history::History;
use crate::engine::journal::{self, Kind, RunResult};
use crate::error::{Error, Result};

pub fn previous_environment(config: &Config, env: &str) -> Option<String> {
    let pipeline = &config.pipeline.value;
    let index = pipeline.iter().position(|e| e == env)?;
    index.checked_sub(1).map(|i| pipeline[i].clone())
}

/// Production also requires that this version was deployed successfully to the environment
/// before it in the pipeline.
pub(super) async fn require_deployed_before(
    config: &Config,
    previous: &str,
    version: &str,
    prefix: &str,
) -> Result<()> {
    let prev_env = config.environment(previous).map_err(|e| {
        Error::Usage(format!(
            "a release reaches the next environment only after {previous}, so runner reads {previous}'s database to prove it got {version}, and cannot: {e}. Set it for this command too (a read: nothing is changed in {previous})"
        ))
    })?;
    let mut entries = Vec::new();
    if Conn::exists(&prev_env.database_url.value) {
        let mut conn = engine::open(prev_env, "check-previous").await?;
        let history = History::new(prefix, conn.dialect());
        entries = journal::entries(&mut conn, &history, previous)
            .await
            .map_err(|e| engine::db("read the deploy journal", e))?;
        conn.close().await;
    }
    if entries
        .iter()
        .any(|e| e.kind == Kind::Deploy && e.version == version && e.result == RunResult::Succeeded)
    {
        return Ok(());
    }
    Err(Error::Refused {
        environment: config
            .pipeline
            .value
            .iter()
            .skip_while(|e| *e != previous)
            .nth(1)
            .cloned()
            .unwrap_or_default(),
        problems: vec![format!(
            "version {version} has not been deployed successfully to {previous} (the environment before it in the pipeline): run `runner deploy --env {previous} --version {version}` first"
        )],
    })
}
