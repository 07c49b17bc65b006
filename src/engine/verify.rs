//! `runner verify`: proves on a scratch database that each rollback undoes its migration.
//!
//! One pass in version order: a migration in scope is applied, rolled back, compared by schema
//! snapshot with the state before it, and applied again (which also proves the forward script
//! runs twice after a rollback); the others are just applied, to build the schema the next one
//! expects. The scratch database is always removed, also on failure and Ctrl-C.

use std::collections::HashSet;
use std::str::FromStr;

use serde::Serialize;

use super::history::Mode;
use super::statements::{Script, script};
use crate::catalog::{Catalog, Migration, Version};
use crate::config::{DatabaseUrl, Dialect};
use crate::db::snapshot::{self, Difference};
use crate::db::{Conn, DbError, Limits};
use crate::error::{Error, Result};
use crate::lint::model::Op;
use crate::lint::parse;

/// The verdict on one migration.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The rollback restores the schema, and the migration applies again.
    Ok,
    /// Only the order of a table's columns differs after the rollback (a rollback that adds a
    /// dropped column back puts it last): it matters for `SELECT *`, positional INSERT and
    /// COPY. `accepted` holds the reason a team gave to accept it.
    ColumnOrder {
        differences: Vec<Difference>,
        accepted: Option<String>,
    },
    /// The schema after the rollback differs from the schema before the migration (and the
    /// migration may then fail when applied again).
    Mismatch {
        differences: Vec<Difference>,
        reapply_error: Option<String>,
    },
    /// The rollback script failed.
    RollbackFailed { error: String },
    /// The migration failed when applied again after its rollback.
    ReapplyFailed { error: String },
    /// The migration itself fails on the scratch database.
    ForwardFailed { error: String },
    /// Marked irreversible: nothing to verify.
    Skipped { reason: String },
    /// Not verified: an earlier migration left the scratch database unusable.
    NotRun { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub version: Version,
    pub name: String,
    /// `V0003 add_email`, as the file names it.
    pub label: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Statements of the forward script that destroy data a rollback cannot bring back.
    pub lossy: Vec<Lossy>,
}

/// A statement that destroys data.
#[derive(Debug, Clone, Serialize)]
pub struct Lossy {
    pub line: usize,
    pub what: String,
}

impl std::fmt::Display for Lossy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl Verified {
    pub fn failed(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::ColumnOrder { accepted: None, .. }
                | Outcome::Mismatch { .. }
                | Outcome::RollbackFailed { .. }
                | Outcome::ReapplyFailed { .. }
                | Outcome::ForwardFailed { .. }
        )
    }
}

/// What the caller hears as verification goes.
pub trait VerifyProgress {
    fn total(&mut self, in_scope: usize);
    fn verified(&mut self, result: &Verified);
}

/// A listener that hears nothing, for callers that only want the results.
pub struct Quiet;

impl VerifyProgress for Quiet {
    fn total(&mut self, _: usize) {}
    fn verified(&mut self, _: &Verified) {}
}

/// A database made for the run and removed after it.
pub struct Scratch {
    pub conn: Conn,
    server: Option<(Conn, String)>,
    _dir: Option<tempfile::TempDir>,
    /// How it was made, to make it again empty (`reset`).
    dialect: Dialect,
    origin: Option<DatabaseUrl>,
}

impl Scratch {
    /// SQLite: a file in a temp folder. PostgreSQL: a new database on the server of `server`.
    pub async fn create(dialect: Dialect, server: Option<&DatabaseUrl>) -> Result<Scratch> {
        let backend = crate::db::backend(dialect);
        let Some(needs_server) = backend.scratch_needs_server() else {
            let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let path = dir.path().join("verify.db");
            let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display()), dir.path())
                .map_err(Error::Usage)?;
            let conn = Conn::open(&url, "runner verify").await?;
            return Ok(Scratch {
                conn,
                server: None,
                _dir: Some(dir),
                dialect,
                origin: None,
            });
        };
        let Some(server) = server.filter(|s| s.dialect() == dialect) else {
            return Err(Error::Usage(needs_server.into()));
        };
        let mut admin = Conn::open(server, "runner verify").await?;
        // Named after the database it was made from, so a person (or a test) can tell whose
        // it is.
        let source: String = url::Url::from_str(server.expose())
            .ok()
            .map(|u| u.path().trim_start_matches('/').to_ascii_lowercase())
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(20)
            .collect();
        let name = format!(
            "runner_verify_{source}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        admin
            .execute(&backend.create_database_sql(&name))
            .await
            .map_err(|e| Error::Database {
                context: format!(
                    "could not create the scratch database {name} on {}",
                    server.redacted()
                ),
                source: e,
            })?;
        let url = with_database(server, &name)?;
        match Conn::open(&url, "runner verify").await {
            Ok(conn) => Ok(Scratch {
                conn,
                server: Some((admin, name)),
                _dir: None,
                dialect,
                origin: Some(server.clone()),
            }),
            Err(e) => {
                let _ = admin.execute(&backend.drop_database_sql(&name)).await;
                Err(e)
            }
        }
    }

    /// Replaces the scratch database by an empty one.
    pub async fn reset(&mut self) -> Result<()> {
        let fresh = Scratch::create(self.dialect, self.origin.as_ref()).await?;
        let old = std::mem::replace(self, fresh);
        old.remove().await;
        Ok(())
    }

    /// Removes the scratch database.
    pub async fn remove(self) {
        self.conn.close().await;
        if let Some((mut admin, name)) = self.server {
            let drop = crate::db::backend(self.dialect).drop_database_sql(&name);
            let _ = admin.execute(&drop).await;
            admin.close().await;
        }
    }
}

/// The same server and credentials, another database.
fn with_database(url: &DatabaseUrl, name: &str) -> Result<DatabaseUrl> {
    let mut parsed = url::Url::from_str(url.expose())
        .map_err(|e| Error::Usage(format!("{}: {e}", url.redacted())))?;
    parsed.set_path(&format!("/{name}"));
    DatabaseUrl::parse(parsed.as_str(), std::path::Path::new(".")).map_err(Error::Usage)
}

/// Creates a scratch database, verifies `scope` on it, and removes it whatever happens,
/// SIGINT and SIGTERM included (when the command watches for them).
pub async fn on_scratch(
    dialect: Dialect,
    server: Option<&DatabaseUrl>,
    catalog: &Catalog,
    scope: Option<&HashSet<Version>>,
    progress: &mut dyn VerifyProgress,
) -> Result<Vec<Verified>> {
    let mut scratch = Scratch::create(dialect, server).await?;
    let result = tokio::select! {
        r = verify(&mut scratch, catalog, scope, progress) => r,
        _ = crate::runtime::interrupts_reach(1) => Err(Error::Interrupted {
            message: "verify stopped; its scratch database is removed, and nothing else was changed".into(),
        }),
    };
    scratch.remove().await;
    result
}

/// Runs a script on the scratch database, in a transaction or statement by statement.
pub async fn execute(conn: &mut Conn, script: &Script) -> std::result::Result<(), DbError> {
    if script.mode == Mode::Statement {
        for statement in &script.statements {
            conn.execute(statement).await?;
        }
        return Ok(());
    }
    // As an environment runs it: one transaction (SQLite: foreign keys off, checked at commit).
    conn.begin(&Limits::default()).await?;
    for statement in &script.statements {
        if let Err(e) = conn.execute(statement).await {
            conn.rollback().await;
            return Err(e);
        }
    }
    conn.commit().await
}

/// Verifies the migrations in `scope` (all when `None`), in one pass on the scratch
/// database. A failure never stops the pass silently: the scratch database is rebuilt up to
/// the migration that failed (applied), and the later ones are verified from there; when even
/// that is impossible, each later one is listed as not run, with the reason.
pub async fn verify(
    scratch: &mut Scratch,
    catalog: &Catalog,
    scope: Option<&HashSet<Version>>,
    progress: &mut dyn VerifyProgress,
) -> Result<Vec<Verified>> {
    let dialect = scratch.conn.dialect();
    let in_scope = |m: &Migration| scope.is_none_or(|s| s.contains(&m.version));
    progress.total(catalog.migrations.iter().filter(|m| in_scope(m)).count());
    let mut results = Vec::new();
    // Why the scratch database no longer holds what the next migration expects.
    let mut broken: Option<String> = None;
    for (index, m) in catalog.migrations.iter().enumerate() {
        let verdict = |outcome: Outcome| Verified {
            version: m.version,
            name: m.name.clone(),
            label: m.label(),
            outcome,
            lossy: lossy_statements(m, dialect),
        };
        if let Some(reason) = &broken {
            if in_scope(m) {
                let result = verdict(Outcome::NotRun {
                    reason: reason.clone(),
                });
                progress.verified(&result);
                results.push(result);
            }
            continue;
        }
        let outcome = match verify_one(&mut scratch.conn, m, in_scope(m), dialect).await? {
            Step::Applied => continue,
            Step::Verified(outcome) => outcome,
        };
        // After a failure the scratch database is not "this migration applied": make it so.
        let rebuild = matches!(
            outcome,
            Outcome::RollbackFailed { .. }
                | Outcome::ReapplyFailed { .. }
                | Outcome::Mismatch {
                    reapply_error: Some(_),
                    ..
                }
        );
        if let Outcome::ForwardFailed { error } = &outcome {
            broken = Some(format!(
                "{} fails on the scratch database, so the migrations after it cannot be applied ({error})",
                m.label()
            ));
        } else if rebuild && let Err(why) = replay(scratch, &catalog.migrations[..=index]).await {
            broken = Some(format!(
                "the scratch database could not be rebuilt after {} failed ({why})",
                m.label()
            ));
        }
        if in_scope(m) {
            let result = verdict(outcome);
            progress.verified(&result);
            results.push(result);
        }
    }
    Ok(results)
}

/// What one migration's turn did.
enum Step {
    /// Applied only (not in scope): the next one expects it.
    Applied,
    Verified(Outcome),
}

/// Applies `m`, and when it is in scope and has a rollback, proves the rollback.
async fn verify_one(
    conn: &mut Conn,
    m: &Migration,
    in_scope: bool,
    dialect: Dialect,
) -> Result<Step> {
    let forward = match script(&m.forward, dialect) {
        Ok(s) => s,
        Err(why) => {
            return Ok(Step::Verified(Outcome::ForwardFailed {
                error: format!("{} cannot be parsed: {why}", m.forward.file_name),
            }));
        }
    };
    let forward_failed = |e: DbError| Outcome::ForwardFailed {
        error: e.to_string(),
    };
    let rollback = match (&m.rollback, in_scope) {
        (Some(r), true) => r,
        (None, true) => {
            return Ok(Step::Verified(match execute(conn, &forward).await {
                Err(e) => forward_failed(e),
                Ok(()) => Outcome::Skipped {
                    reason: m
                        .directives()
                        .irreversible
                        .clone()
                        .unwrap_or_else(|| "no rollback script".into()),
                },
            }));
        }
        (_, false) => {
            return Ok(match execute(conn, &forward).await {
                Ok(()) => Step::Applied,
                Err(e) => Step::Verified(forward_failed(e)),
            });
        }
    };
    let rollback_script = match script(rollback, dialect) {
        Ok(s) => s,
        Err(why) => {
            return Ok(Step::Verified(Outcome::RollbackFailed {
                error: format!("{} cannot be parsed: {why}", rollback.file_name),
            }));
        }
    };
    let snap = |e: DbError| Error::Database {
        context: "could not read the scratch database's schema".into(),
        source: e,
    };
    let before = snapshot::take(conn).await.map_err(snap)?;
    if let Err(e) = execute(conn, &forward).await {
        return Ok(Step::Verified(forward_failed(e)));
    }
    if let Err(e) = execute(conn, &rollback_script).await {
        return Ok(Step::Verified(Outcome::RollbackFailed {
            error: e.to_string(),
        }));
    }
    let after = snapshot::take(conn).await.map_err(snap)?;
    let differences = snapshot::compare(&before, &after);
    let reapply = execute(conn, &forward).await.err().map(|e| e.to_string());
    Ok(Step::Verified(match (differences.is_empty(), reapply) {
        (true, None) => Outcome::Ok,
        (true, Some(error)) => Outcome::ReapplyFailed { error },
        (false, None) if snapshot::only_column_order(&differences) => Outcome::ColumnOrder {
            differences,
            accepted: accepted_column_order(m),
        },
        (false, reapply_error) => Outcome::Mismatch {
            differences,
            reapply_error,
        },
    }))
}

/// The reason a migration's files accept a rollback that only reorders columns:
/// `-- runner:allow-file rollback-mismatch <reason>` in the migration or its rollback.
fn accepted_column_order(m: &Migration) -> Option<String> {
    let rule = crate::lint::Rule::RollbackMismatch;
    crate::lint::suppress::file_allowance(&m.forward.sql, rule).or_else(|| {
        m.rollback
            .as_ref()
            .and_then(|r| crate::lint::suppress::file_allowance(&r.sql, rule))
    })
}

/// Makes the scratch database hold exactly `migrations` applied.
async fn replay(scratch: &mut Scratch, migrations: &[Migration]) -> Result<()> {
    scratch.reset().await?;
    let dialect = scratch.conn.dialect();
    for m in migrations {
        let forward = script(&m.forward, dialect)
            .map_err(|why| Error::Usage(format!("{} cannot be parsed: {why}", m.label())))?;
        execute(&mut scratch.conn, &forward)
            .await
            .map_err(|e| Error::Usage(format!("{}: {e}", m.label())))?;
    }
    Ok(())
}

/// The statements of a forward script that destroy data: its rollback can restore the schema,
/// never the rows.
pub fn lossy_statements(m: &Migration, dialect: Dialect) -> Vec<Lossy> {
    let parsed = parse::parse(&m.forward.sql, dialect);
    let rebuilt =
        crate::lint::schema::rebuilt_tables(parsed.statements.iter().flat_map(|s| &s.ops));
    let mut out = Vec::new();
    for statement in &parsed.statements {
        for op in &statement.ops {
            let what = match op {
                Op::DropColumn { table, column } => format!("drops column {table}.{column}"),
                // A table rebuilt the way SQLite documents keeps its rows.
                Op::DropTable { tables } if tables.iter().all(|t| rebuilt.contains(t)) => continue,
                Op::DropTable { tables } => format!("drops table {}", tables.join(", ")),
                Op::Truncate { tables } => format!("truncates {}", tables.join(", ")),
                Op::ChangeColumnType {
                    table,
                    column,
                    new_type,
                    ..
                } => {
                    format!(
                        "changes {table}.{column} to {new_type}, which may narrow or convert its values"
                    )
                }
                Op::Delete { table, .. } => format!("deletes rows of {table}"),
                Op::DropSchema { names } => format!("drops schema {}", names.join(", ")),
                _ => continue,
            };
            out.push(Lossy {
                line: statement.line,
                what,
            });
        }
    }
    out
}
