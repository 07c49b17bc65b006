//! The serving release's queries prepared on a scratch database: on the schema before the
//! pending migrations, then after each one, so the migration that breaks a query is the one
//! named (even when a later step would hide it).

use std::collections::HashSet;

use sqlx::Connection as _;

use super::shape::{Shape, compare, describe};
use super::sources::Query;
use crate::catalog::{Catalog, Migration, Version};
use crate::config::{DatabaseUrl, Dialect};
use crate::db::{Conn, DbError, Driver};
use crate::engine::statements::script;
use crate::engine::verify::{Scratch, execute};
use crate::error::{Error, Result};
use crate::lint::{Finding, Rule, Severity};

/// Prepared statements are cached per connection: a schema change must be seen afresh.
async fn forget_prepared(conn: &mut Conn) {
    let _ = match &mut conn.driver {
        Driver::Postgres(c) => c.clear_cached_statements().await,
        Driver::Sqlite(c) => c.clear_cached_statements().await,
        Driver::Mysql(c) => c.clear_cached_statements().await,
    };
}

async fn apply(
    conn: &mut Conn,
    m: &Migration,
    dialect: Dialect,
) -> std::result::Result<(), String> {
    let script = script(&m.forward, dialect)?;
    execute(conn, &script)
        .await
        .map_err(|e: DbError| e.to_string())
}

fn finding(rule: Rule, severity: Severity, file: String, message: String, help: &str) -> Finding {
    Finding {
        rule,
        severity,
        file,
        line: 1,
        column: 1,
        message,
        help: help.to_string(),
        statement: None,
    }
}

/// `queries` prepared on the schema before the migrations in `scope` and after each of them
/// (`scope` `None`: every migration is new, and the queries are prepared on the last schema).
pub async fn on_scratch(
    dialect: Dialect,
    server: Option<&DatabaseUrl>,
    catalog: &Catalog,
    scope: Option<&HashSet<Version>>,
    queries: &[Query],
) -> Result<Vec<Finding>> {
    let mut scratch = Scratch::create(dialect, server).await?;
    let result = tokio::select! {
        r = check(&mut scratch.conn, dialect, catalog, scope, queries) => r,
        _ = crate::runtime::interrupts_reach(1) => Err(Error::Interrupted {
            message: "the query check stopped; its scratch database is removed, and nothing else was changed".into(),
        }),
    };
    scratch.remove().await;
    result
}

async fn check(
    conn: &mut Conn,
    dialect: Dialect,
    catalog: &Catalog,
    scope: Option<&HashSet<Version>>,
    queries: &[Query],
) -> Result<Vec<Finding>> {
    let prefix = crate::report::shown(&catalog.dir);
    let in_scope = |m: &Migration| scope.is_none_or(|s| s.contains(&m.version));
    let mut findings = Vec::new();
    // The schema the serving release runs on: every migration but the new ones.
    for m in catalog.migrations.iter().filter(|m| !in_scope(m)) {
        if apply(conn, m, dialect).await.is_err() {
            // `--verify` names a migration that does not apply; nothing to prepare on.
            return Ok(findings);
        }
    }
    let pending: Vec<&Migration> = catalog.migrations.iter().filter(|m| in_scope(m)).collect();
    let mut watch = Watch::start(conn, queries, scope.is_some()).await;
    for (step, m) in pending.iter().enumerate() {
        if apply(conn, m, dialect).await.is_err() {
            break;
        }
        // Without a serving release to compare with, the queries meet the last schema only.
        if scope.is_none() && step + 1 < pending.len() {
            continue;
        }
        watch
            .after(conn, m, format!("{prefix}/{}", m.forward.file_name))
            .await;
    }
    findings.extend(watch.findings);
    Ok(findings)
}

/// The serving release's queries, as each new migration lands: what each prepared to before
/// them (with a serving release to compare with), which already broke (reported once), and
/// the findings so far.
struct Watch<'q> {
    queries: &'q [Query],
    baseline: Vec<Option<Shape>>,
    broken: Vec<bool>,
    findings: Vec<Finding>,
}

impl<'q> Watch<'q> {
    /// Prepares each query on the schema the serving release runs on (`serving`), to compare
    /// with later; a query that does not prepare even there is a warning, and not followed.
    async fn start(conn: &mut Conn, queries: &'q [Query], serving: bool) -> Watch<'q> {
        let mut watch = Watch {
            queries,
            baseline: Vec::new(),
            broken: vec![false; queries.len()],
            findings: Vec::new(),
        };
        if !serving {
            return watch;
        }
        forget_prepared(conn).await;
        for (i, q) in queries.iter().enumerate() {
            match describe(conn, q).await {
                Ok(shape) => watch.baseline.push(Some(shape)),
                Err(e) => {
                    watch.findings.push(finding(
                        Rule::QueryBreaks,
                        Severity::Warning,
                        q.source.clone(),
                        format!("{} does not prepare even before this change's migrations: {e}", q.shown()),
                        "the query does not match the schema its release runs on: fix the query, or point [compat] at the queries that release runs",
                    ));
                    watch.baseline.push(None);
                    watch.broken[i] = true;
                }
            }
        }
        watch
    }

    /// Prepares each query still working after migration `m` (in `file`) and reports what it
    /// broke or changed, unless the file allows it.
    async fn after(&mut self, conn: &mut Conn, m: &Migration, file: String) {
        forget_prepared(conn).await;
        let allowed =
            |rule: Rule| crate::lint::suppress::file_allowance(&m.forward.sql, rule).is_some();
        for (i, q) in self.queries.iter().enumerate() {
            if self.broken[i] {
                continue;
            }
            match (
                describe(conn, q).await,
                self.baseline.get(i).cloned().flatten(),
            ) {
                (Err(e), _) => {
                    self.broken[i] = true;
                    if allowed(Rule::QueryBreaks) {
                        continue;
                    }
                    self.findings.push(finding(
                        Rule::QueryBreaks,
                        Severity::Error,
                        file.clone(),
                        format!("after {}, the serving release's query {} no longer prepares: {e}", m.label(), q.shown()),
                        "keep what the serving release reads until it is gone: add instead of change (expand), and remove in a contract migration once the release that reads it is stopped",
                    ));
                }
                (Ok(after), Some(before)) => {
                    let Some((error, why)) = compare(&before, &after, q.selects_star()) else {
                        continue;
                    };
                    let rule = if error {
                        Rule::QueryShapeChanged
                    } else {
                        Rule::SelectStarShape
                    };
                    self.broken[i] = error;
                    if allowed(rule) {
                        continue;
                    }
                    self.findings.push(finding(
                        rule,
                        rule.severity(),
                        file.clone(),
                        format!("after {}, the serving release's query {}: {why}", m.label(), q.shown()),
                        if error {
                            "keep the column as the serving release reads it (add a new one beside it), until that release is stopped"
                        } else {
                            "name the columns the query reads instead of `*`, or deploy the release that does before this migration"
                        },
                    ));
                }
                (Ok(_), None) => {}
            }
        }
    }
}
