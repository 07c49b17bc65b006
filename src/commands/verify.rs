//! `runner verify`: prove each rollback on a scratch database.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::catalog::{Catalog, Version};
use crate::cli::{Format, VerifyArgs};
use crate::config::{Config, DatabaseUrl, Dialect};
use crate::engine::verify::{self, Outcome, Verified, VerifyProgress};
use crate::error::{Error, ExitCode, Result};

use super::since;
use crate::runtime::block_on;

pub fn run(config: &Config, args: &VerifyArgs) -> Result<ExitCode> {
    let catalog = Catalog::load(&config.migrations_dir.value)?;
    let dialect = config.dialect.value;
    let server = server_url(config, args.database_url.as_deref(), args.env.as_deref())?;
    let mut scope: Option<HashSet<Version>> =
        (!args.versions.is_empty()).then(|| args.versions.iter().copied().collect());
    for v in args.versions.iter() {
        if !catalog.migrations.iter().any(|m| m.version == *v) {
            return Err(Error::Usage(format!(
                "there is no migration with version {v}"
            )));
        }
    }
    if let Some(reference) = &args.since {
        let changed = since::changed_since(&catalog.dir, reference)?;
        let versions: HashSet<Version> = catalog
            .migrations
            .iter()
            .filter(|m| {
                changed.contains(&m.forward.file_name)
                    || m.rollback
                        .as_ref()
                        .is_some_and(|r| changed.contains(&r.file_name))
            })
            .map(|m| m.version)
            .collect();
        scope = Some(match scope {
            Some(s) => s.intersection(&versions).copied().collect(),
            None => versions,
        });
    }
    let started = Instant::now();
    let mut output = VerifyOutput::new(args.format);
    let results = run_verify(
        dialect,
        server.as_ref(),
        &catalog,
        scope.as_ref(),
        &mut output,
    )?;
    output.finish(&results, args.strict, started.elapsed());
    let failed = results.iter().any(Verified::failed)
        || (args.strict && results.iter().any(|r| !r.lossy.is_empty()));
    Ok(if failed {
        ExitCode::CheckFailed
    } else {
        ExitCode::Success
    })
}

/// The server for a PostgreSQL scratch database: --database-url, else --env's URL.
pub fn server_url(
    config: &Config,
    database_url: Option<&str>,
    env: Option<&str>,
) -> Result<Option<DatabaseUrl>> {
    if let Some(raw) = database_url {
        let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
        return DatabaseUrl::parse(raw, &cwd)
            .map(Some)
            .map_err(|why| Error::Usage(format!("--database-url {why}")));
    }
    match env {
        Some(name) => Ok(Some(config.environment(name)?.database_url.value.clone())),
        None => Ok(None),
    }
}

/// Verifies on a scratch database, removed whatever happens, Ctrl-C included.
pub fn run_verify(
    dialect: Dialect,
    server: Option<&DatabaseUrl>,
    catalog: &Catalog,
    scope: Option<&HashSet<Version>>,
    progress: &mut dyn VerifyProgress,
) -> Result<Vec<Verified>> {
    crate::runtime::watch_interrupts()?;
    block_on(verify::on_scratch(
        dialect, server, catalog, scope, progress,
    ))
}

struct VerifyOutput {
    format: Format,
    bar: Option<ProgressBar>,
}

impl VerifyOutput {
    fn new(format: Format) -> Self {
        VerifyOutput { format, bar: None }
    }

    fn finish(&mut self, results: &[Verified], strict: bool, took: std::time::Duration) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let count = |f: &dyn Fn(&Verified) -> bool| results.iter().filter(|r| f(r)).count();
        let ok = count(&|r| matches!(r.outcome, Outcome::Ok));
        let failed = count(&|r| r.failed());
        let skipped = count(&|r| matches!(r.outcome, Outcome::Skipped { .. }));
        let lossy = count(&|r| !r.lossy.is_empty());
        match self.format {
            Format::Json => {
                let doc = serde_json::json!({
                    "verified": results,
                    "ok": ok, "failed": failed, "skipped": skipped, "lossy": lossy,
                    "strict": strict, "duration_ms": took.as_millis() as u64,
                });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            }
            Format::Table => {
                println!(
                    "{} verified: {ok} ok, {failed} failed, {skipped} skipped, {lossy} lossy ({:.1} s)",
                    results.len(),
                    took.as_secs_f64()
                );
                let skipped: Vec<String> = results
                    .iter()
                    .filter(|r| matches!(r.outcome, Outcome::Skipped { .. }))
                    .map(|r| r.label.clone())
                    .collect();
                if !skipped.is_empty() {
                    println!("skipped (irreversible): {}", skipped.join(", "));
                }
            }
        }
    }
}

impl VerifyProgress for VerifyOutput {
    fn total(&mut self, in_scope: usize) {
        if self.format == Format::Table && std::io::stderr().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(in_scope as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("verifying [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            self.bar = Some(bar);
        }
    }

    fn verified(&mut self, r: &Verified) {
        if self.format != Format::Table {
            return;
        }
        let mut text = match &r.outcome {
            Outcome::Ok => format!("ok        {}", r.label),
            Outcome::Skipped { reason } => {
                format!("skipped   {} (irreversible: {reason})", r.label)
            }
            Outcome::Mismatch {
                differences,
                reapply_error,
            } => {
                let mut t = format!(
                    "MISMATCH  {}: its rollback does not restore the schema",
                    r.label
                );
                for d in differences {
                    t.push_str(&format!("\n    {d}"));
                }
                if let Some(error) = reapply_error {
                    t.push_str(&format!(
                        "\n    and applied again after its rollback, it fails: {error}"
                    ));
                }
                t
            }
            Outcome::RollbackFailed { error } => {
                format!("FAILED    {}: its rollback failed: {error}", r.label)
            }
            Outcome::ReapplyFailed { error } => format!(
                "FAILED    {}: applied again after its rollback, it fails: {error}",
                r.label
            ),
        };
        for l in &r.lossy {
            text.push_str(&format!(
                "\n    lossy: {l} (the rollback cannot bring the data back)"
            ));
        }
        match &self.bar {
            Some(bar) => {
                bar.suspend(|| println!("{text}"));
                bar.inc(1);
            }
            None => println!("{text}"),
        }
    }
}
