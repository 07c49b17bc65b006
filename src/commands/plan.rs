//! `runner plan --env E`: what migrate would do, changing nothing.

use std::collections::HashSet;

use serde_json::json;

use crate::catalog::Catalog;
use crate::cli::{Format, PlanArgs};
use crate::config::Config;
use crate::db::lock;
use crate::engine::history::{History, Mode};
use crate::engine::plan::{self, Request};
use crate::engine::{self, version_set};
use crate::error::{Error, ExitCode, Result};
use crate::lint::{self, Finding};

use crate::runtime::block_on;

pub fn run(config: &Config, args: &PlanArgs) -> Result<ExitCode> {
    let env = config.environment(&args.env.env)?;
    let catalog = Catalog::load(&config.migrations_dir.value)?;
    let request = Request {
        target: args.target,
        allow_out_of_order: version_set(&args.allow_out_of_order),
        resume: args.resume,
    };
    let (rows, holder, previous) = block_on(async {
        let previous = engine::previous_history(config, &env.name, &config.history_prefix).await?;
        if !crate::db::Conn::exists(&env.database_url.value) {
            return Ok((Vec::new(), None, previous));
        }
        let mut conn = engine::open(env, "plan").await?;
        let history = History::new(&config.history_prefix, conn.dialect());
        let rows = engine::read_rows(&mut conn, &history).await?;
        let holder = lock::holder(&mut conn, &env.database_url.value).await?;
        conn.close().await;
        Ok::<_, Error>((rows, holder, previous))
    })?;
    let dialect = env.database_url.value.dialect();
    let plan = plan::plan(
        &catalog,
        &rows,
        dialect,
        &request,
        &env.name,
        previous.as_ref(),
    );

    let pending: HashSet<String> = plan
        .steps
        .iter()
        .map(|s| s.migration.forward.file_name.clone())
        .collect();
    let lint = lint::check_catalog(
        &catalog,
        &lint::Options {
            dialect,
            disabled: lint::disabled_rules(config)?,
            scope: Some(pending),
        },
    );
    let findings_of = |file: &str| -> Vec<&Finding> {
        lint.findings
            .iter()
            .filter(|f| f.file.ends_with(&format!("/{file}")))
            .collect()
    };
    let lock_text = crate::db::backend(dialect).lock_description(&crate::db::Limits::of(env));
    let holder_text = holder
        .as_ref()
        .map_or("free now".to_string(), |h| format!("held now by {h}"));

    match args.format {
        Format::Json => {
            let steps: Vec<_> = plan
                .steps
                .iter()
                .map(|s| {
                    let findings = findings_of(&s.migration.forward.file_name);
                    json!({
                        "version": s.migration.version,
                        "name": s.migration.name,
                        "file": s.migration.forward.file_name,
                        "mode": s.script.mode,
                        "statements": s.script.statements.len(),
                        "outside_transaction": if s.script.mode == Mode::Statement { s.script.statements.clone() } else { Vec::new() },
                        "resume_from": s.resume_from,
                        "lint": findings,
                    })
                })
                .collect();
            let doc = json!({
                "environment": env.name,
                "database": env.database_url.value.redacted(),
                "lock": {"how": lock_text, "holder": holder},
                "pending": steps,
                "interrupted": plan.classified,
                "warnings": plan.warnings,
                "problems": plan.problems,
                "would_apply": plan.problems.is_empty(),
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Table => {
            println!(
                "plan for {} ({})",
                env.name,
                env.database_url.value.redacted()
            );
            println!("lock: {lock_text}; {holder_text}");
            if plan.steps.is_empty() {
                println!("nothing pending: the database is up to date");
            } else {
                println!("{} pending:", plan.steps.len());
            }
            for s in &plan.steps {
                let findings = findings_of(&s.migration.forward.file_name);
                let errors = findings.iter().filter(|f| f.is_error()).count();
                let verdict = match (errors, findings.len() - errors) {
                    (0, 0) => "lint: ok".to_string(),
                    (e, w) => format!("lint: {e} error(s), {w} warning(s)"),
                };
                let n = s.script.statements.len();
                println!(
                    "  {}  {}  {n} statement{}  {verdict}",
                    s.label(),
                    s.script.mode.name(),
                    if n == 1 { "" } else { "s" }
                );
                if s.script.mode == Mode::Statement {
                    println!("    outside a transaction, one by one:");
                    for (i, statement) in s.script.statements.iter().enumerate().skip(s.resume_from)
                    {
                        let one_line: String =
                            statement.split_whitespace().collect::<Vec<_>>().join(" ");
                        println!("      {}. {one_line}", i + 1);
                    }
                }
                for f in findings {
                    println!(
                        "    {}[{}] line {}: {}",
                        f.severity.name(),
                        f.rule.id(),
                        f.line,
                        f.message
                    );
                }
            }
            for c in &plan.classified {
                println!(
                    "interrupted: V{} {} was left applying by a run that died; migrate will record it as {} ({})",
                    c.version, c.name, c.state, c.reason
                );
            }
            for w in &plan.warnings {
                println!("warning: {w}");
            }
            if !plan.problems.is_empty() {
                println!("migrate would refuse:");
                for p in &plan.problems {
                    println!("  - {p}");
                }
            }
        }
    }
    Ok(if plan.problems.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Usage
    })
}
