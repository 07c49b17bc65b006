//! Where the serving release's queries come from: sqlx's offline data and plain SQL files, read
//! from the working tree or from a git ref.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::config::Dialect;
use crate::error::{Error, Result};

/// One query of the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Its file, relative to the project root.
    pub source: String,
    /// The line of the file it starts on (1 for sqlx's data).
    pub line: usize,
    pub sql: String,
    /// Parameter types, as the source names them (sqlx's `Int8`, `Text`, ...); empty when the
    /// database is to infer them.
    pub params: Vec<String>,
}

impl Query {
    /// `src/x.sql:12` or `.sqlx/query-ab12.json`, and the query's first line.
    pub fn shown(&self) -> String {
        let first = self
            .sql
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let first: String = first.trim().chars().take(80).collect();
        match self.line {
            0 | 1 if self.source.ends_with(".json") => format!("{} (`{first}`)", self.source),
            line => format!("{}:{line} (`{first}`)", self.source),
        }
    }

    /// Whether the query reads `*` (its result shape follows the table's).
    pub fn selects_star(&self) -> bool {
        let lower = self.sql.to_ascii_lowercase();
        let compact: String = lower.split_whitespace().collect::<Vec<_>>().join(" ");
        compact.contains("select *") || compact.contains(".*") || compact.contains("returning *")
    }
}

/// `[compat]`: where the queries are; both found by default.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Settings {
    /// sqlx's offline data folder; default `.sqlx` beside runner.toml, else beside the
    /// nearest Cargo.toml above it.
    pub sqlx: Option<PathBuf>,
    /// Files or folders of `.sql` statements, relative to runner.toml.
    pub queries: Vec<PathBuf>,
    /// Turns the check off (`enabled = false`).
    pub disabled: bool,
    /// The environment whose database statistics (`pg_stat_statements`, MySQL's digests)
    /// add the statements it has seen; default: `check --env`'s.
    pub statistics: Option<String>,
}

/// Which version of the files: the working tree, or a git ref.
#[derive(Debug, Clone, Copy)]
pub enum Tree<'a> {
    Working,
    At(&'a str),
}

/// sqlx's `query-*.json`.
#[derive(Deserialize)]
struct SqlxQuery {
    query: String,
    #[serde(default)]
    describe: Option<SqlxDescribe>,
}

#[derive(Deserialize)]
struct SqlxDescribe {
    #[serde(default)]
    parameters: Option<serde_json::Value>,
}

/// The queries of the project at `root`, as they are in `tree`.
pub fn load(
    root: &Path,
    settings: &Settings,
    dialect: Dialect,
    tree: Tree<'_>,
) -> Result<Vec<Query>> {
    if settings.disabled {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let sqlx = match &settings.sqlx {
        Some(dir) => Some(root.join(dir)),
        None => default_sqlx_dir(root),
    };
    if let Some(dir) = sqlx {
        for (name, text) in files(root, &dir, tree, |n| {
            n.starts_with("query-") && n.ends_with(".json")
        })? {
            let parsed: SqlxQuery = serde_json::from_str(&text).map_err(|e| {
                Error::Usage(format!("{name}: not sqlx offline data ({e}); regenerate it with `cargo sqlx prepare`, or set [compat] sqlx"))
            })?;
            let params = parsed
                .describe
                .and_then(|d| d.parameters)
                .and_then(|p| p.get("Left").cloned())
                .and_then(|l| l.as_array().cloned())
                // Positional: a custom type (an object in sqlx's data) keeps its name, for the
                // database to infer.
                .map(|types| {
                    types
                        .iter()
                        .map(|t| match t {
                            serde_json::Value::String(s) => s.clone(),
                            other => other
                                .pointer("/Custom/name")
                                .and_then(|n| n.as_str())
                                .unwrap_or_default()
                                .to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Query {
                source: name,
                line: 1,
                sql: parsed.query,
                params,
            });
        }
    }
    for path in &settings.queries {
        let path = root.join(path);
        for (name, text) in files(root, &path, tree, |n| n.ends_with(".sql"))? {
            out.extend(statements(&name, &text, dialect));
        }
    }
    out.sort_by(|a, b| (&a.source, a.line).cmp(&(&b.source, b.line)));
    Ok(out)
}

/// The statements the database itself has seen (`pg_stat_statements`; MySQL's statement
/// digests), normalized to parameters: the queries of whatever release serves it, dynamic SQL
/// included. Empty when the extension or table is not there.
pub async fn from_statistics(
    conn: &mut crate::db::Conn,
) -> std::result::Result<Vec<Query>, crate::db::DbError> {
    let (present, sql) = match conn.dialect() {
        Dialect::Postgres => (
            "SELECT CAST(count(*) AS TEXT) FROM pg_catalog.pg_extension WHERE extname = 'pg_stat_statements'",
            "SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) AND toplevel ORDER BY calls DESC LIMIT 5000",
        ),
        Dialect::Mysql => (
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.tables WHERE table_schema = 'performance_schema' AND table_name = 'events_statements_summary_by_digest'",
            "SELECT CAST(DIGEST_TEXT AS CHAR) FROM performance_schema.events_statements_summary_by_digest WHERE SCHEMA_NAME = DATABASE() AND DIGEST_TEXT IS NOT NULL ORDER BY COUNT_STAR DESC LIMIT 5000",
        ),
        Dialect::Sqlite => return Ok(Vec::new()),
    };
    if conn
        .fetch_one_text(present, Vec::new())
        .await?
        .as_deref()
        .unwrap_or("0")
        == "0"
    {
        return Ok(Vec::new());
    }
    let source = match conn.dialect() {
        Dialect::Postgres => "pg_stat_statements",
        _ => "performance_schema.events_statements_summary_by_digest",
    };
    let rows = match conn.fetch_text(sql, Vec::new()).await {
        Ok(rows) => rows,
        // Installed but not loaded (shared_preload_libraries), or no privilege: nothing seen.
        Err(_) => return Ok(Vec::new()),
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter(|q| is_application_query(q))
        .enumerate()
        .map(|(i, sql)| Query {
            source: source.to_string(),
            line: i + 1,
            sql,
            params: Vec::new(),
        })
        .collect())
}

/// A statement of the application: data access, not runner's own, the catalog's, a
/// transaction's control or a truncated digest.
fn is_application_query(sql: &str) -> bool {
    let lower = sql.trim_start().to_ascii_lowercase();
    let verb_ok = ["select", "insert", "update", "delete", "with"]
        .iter()
        .any(|v| lower.starts_with(v));
    verb_ok
        && !lower.contains("runner_")
        && !lower.contains("pg_catalog")
        && !lower.contains("pg_stat_statements")
        && !lower.contains("information_schema")
        && !lower.contains("performance_schema")
        && !lower.ends_with("...")
}

/// `.sqlx` beside runner.toml (`root`), else beside the nearest Cargo.toml above it.
fn default_sqlx_dir(root: &Path) -> Option<PathBuf> {
    let here = root.join(".sqlx");
    if here.is_dir() {
        return Some(here);
    }
    root.ancestors()
        .skip(1)
        .find(|d| d.join("Cargo.toml").is_file())
        .map(|d| d.join(".sqlx"))
        .filter(|d| d.is_dir())
}

/// The statements of a SQL file, each with its line.
fn statements(name: &str, text: &str, dialect: Dialect) -> Vec<Query> {
    let chunks = match dialect {
        Dialect::Mysql => crate::lint::split::split_mysql(text),
        _ => crate::lint::split::split(text),
    };
    chunks
        .into_iter()
        .filter(|c| !c.text.trim().is_empty())
        .map(|c| Query {
            source: name.to_string(),
            line: text[..c.offset].matches('\n').count() + 1,
            sql: c.text.to_string(),
            params: Vec::new(),
        })
        .collect()
}

/// The files under `path` (a file or a folder) whose names `keep` accepts, as (name relative to
/// `root`, text), from the working tree or a git ref.
fn files(
    root: &Path,
    path: &Path,
    tree: Tree<'_>,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<(String, String)>> {
    let relative = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let keep_path = |p: &str| keep(p.rsplit('/').next().unwrap_or(p));
    match tree {
        Tree::Working => {
            let mut found = Vec::new();
            let paths: Vec<PathBuf> = if path.is_dir() {
                let mut entries: Vec<PathBuf> = walk(path);
                entries.sort();
                entries
            } else if path.is_file() {
                vec![path.to_path_buf()]
            } else {
                return Ok(Vec::new());
            };
            for p in paths.iter().filter(|p| keep_path(&p.display().to_string())) {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                found.push((relative(p), text));
            }
            Ok(found)
        }
        Tree::At(reference) => {
            let listing = git(
                root,
                &[
                    "ls-tree",
                    "-r",
                    "--name-only",
                    "--full-name",
                    reference,
                    "--",
                    &path.display().to_string(),
                ],
            )?;
            let top = git(root, &["rev-parse", "--show-toplevel"])?;
            let top = PathBuf::from(top.trim());
            let mut found = Vec::new();
            for name in listing.lines().filter(|n| keep_path(n)) {
                let text = git(root, &["show", &format!("{reference}:{name}")])?;
                found.push((relative(&top.join(name)), text));
            }
            Ok(found)
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| {
            Error::Usage(format!(
                "reading the queries at a git ref needs git, which could not run: {e}"
            ))
        })?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sqlx_data_and_sql_files_with_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".sqlx")).unwrap();
        std::fs::write(
            dir.path().join(".sqlx/query-ab.json"),
            r#"{"db_name":"PostgreSQL","query":"SELECT id FROM users WHERE id = $1","describe":{"columns":[{"ordinal":0,"name":"id","type_info":"Int8"}],"parameters":{"Left":["Int8"]},"nullable":[false]},"hash":"ab"}"#,
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("queries")).unwrap();
        std::fs::write(
            dir.path().join("queries/a.sql"),
            "-- users\nSELECT 1;\n\nSELECT *\nFROM users;\n",
        )
        .unwrap();
        let settings = Settings {
            queries: vec!["queries".into()],
            ..Settings::default()
        };
        let q = load(dir.path(), &settings, Dialect::Postgres, Tree::Working).unwrap();
        assert_eq!(q.len(), 3, "{q:?}");
        assert_eq!(q[0].source, ".sqlx/query-ab.json");
        assert_eq!(q[0].params, ["Int8"]);
        assert_eq!((q[1].source.as_str(), q[1].line), ("queries/a.sql", 2));
        assert_eq!(q[2].line, 4);
        assert!(q[2].selects_star() && !q[1].selects_star());
    }
}
