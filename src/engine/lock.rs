//! The migration lock: one runner at a time per database.
//!
//! PostgreSQL: a session advisory lock, taken with `pg_try_advisory_lock` polled with backoff
//! and jitter on the migrating connection, never the blocking `pg_advisory_lock` (a blocked
//! waiter would deadlock with the holder's CREATE INDEX CONCURRENTLY, which waits for every
//! open transaction). It dies with its connection, so a crashed holder frees it.
//!
//! SQLite: an OS file lock on `<database>.runner-lock` beside the database, holding who took
//! it; the OS frees it when the holder's process ends. Migrations then run in
//! `BEGIN IMMEDIATE` transactions.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sqlx::AssertSqlSafe;

use super::backoff::Backoff;
use super::conn::{Conn, DbError};
use crate::config::DatabaseUrl;
use crate::error::{Error, Result};
use crate::on_conn;
use crate::runtime::hostname;

/// The advisory lock key: "runner" in ASCII, then 1.
pub const LOCK_KEY: i64 = 0x7275_6e6e_6572_0001;

/// Who holds the lock, as far as runner can tell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    pub pid: i64,
    /// PostgreSQL: the holder's application_name; SQLite: the command that took it.
    pub who: String,
    pub host: Option<String>,
    /// PostgreSQL: active, idle, idle in transaction...
    pub state: Option<String>,
    pub query: Option<String>,
    pub since: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if let Some(host) = &self.host {
            write!(f, " on {host}")?;
        }
        write!(f, " ({})", self.who)?;
        if let Some(state) = &self.state {
            write!(f, ", {state}")?;
        }
        if let Some(since) = &self.since {
            write!(f, " since {since}")?;
        }
        if let Some(query) = self.query.as_deref().filter(|q| !q.is_empty()) {
            let query: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
            let short: String = query.chars().take(120).collect();
            write!(f, ", running `{short}`")?;
        }
        Ok(())
    }
}

/// A held lock. Dropping it frees a SQLite lock; PostgreSQL's goes with the connection or
/// `release`.
pub enum Lock {
    Postgres,
    Sqlite { file: File, path: PathBuf },
}

/// Takes the lock, polling until `wait` runs out. `waiting` is told how long it has waited,
/// after each failed try.
pub async fn acquire(
    conn: &mut Conn,
    url: &DatabaseUrl,
    wait: Duration,
    command: &str,
    mut waiting: impl FnMut(Duration, Option<&Holder>),
) -> Result<Lock> {
    let started = Instant::now();
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(1));
    let sqlite_file = match conn {
        Conn::Sqlite(_) => Some(open_lock_file(url)?),
        Conn::Postgres(_) => None,
    };
    loop {
        let taken = match &sqlite_file {
            Some((file, _)) => file.try_lock().is_ok(),
            None => try_advisory(conn)
                .await
                .map_err(|e| db_error("take the migration lock", e))?,
        };
        if taken {
            return Ok(match sqlite_file {
                Some((mut file, path)) => {
                    write_holder(&mut file, command);
                    Lock::Sqlite { file, path }
                }
                None => Lock::Postgres,
            });
        }
        let holder = holder(conn, url).await.ok().flatten();
        let waited = started.elapsed();
        if waited >= wait {
            return Err(Error::LockTimeout {
                waited: wait,
                holder: holder.map(|h| h.to_string()),
            });
        }
        waiting(waited, holder.as_ref());
        let delay = backoff.next_delay().min(wait.saturating_sub(waited));
        tokio::time::sleep(delay).await;
    }
}

/// Frees a lock this run holds.
pub async fn release(conn: &mut Conn, lock: Lock) {
    match lock {
        Lock::Postgres => {
            let _ = conn
                .execute(&format!("SELECT pg_advisory_unlock({LOCK_KEY})"))
                .await;
        }
        Lock::Sqlite { file, .. } => {
            let _ = file.set_len(0);
            let _ = file.unlock();
        }
    }
}

async fn try_advisory(conn: &mut Conn) -> std::result::Result<bool, DbError> {
    let sql = format!("SELECT pg_try_advisory_lock({LOCK_KEY})");
    on_conn!(conn, c => sqlx::query_scalar::<_, bool>(AssertSqlSafe(sql)).fetch_one(c).await)
        .map_err(|e| DbError::from_sqlx(&e))
}

/// Who holds the lock now, if anyone (and not this connection).
pub async fn holder(conn: &mut Conn, url: &DatabaseUrl) -> Result<Option<Holder>> {
    match conn {
        Conn::Postgres(c) => {
            let sql = format!(
                "SELECT a.pid::bigint, coalesce(a.application_name, ''), a.client_addr::text,
                        a.state, a.query, a.backend_start::text
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.classid = {} AND l.objid = {} AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND a.pid <> pg_backend_pid()",
                LOCK_KEY >> 32,
                LOCK_KEY & 0xffff_ffff
            );
            type Row = (
                i64,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let row: Option<Row> = sqlx::query_as(AssertSqlSafe(sql))
                .fetch_optional(c)
                .await
                .map_err(|e| db_error("look up the lock holder", DbError::from_sqlx(&e)))?;
            Ok(row.map(|(pid, who, host, state, query, since)| Holder {
                pid,
                who: if who.is_empty() {
                    "no application_name".into()
                } else {
                    who
                },
                host,
                state,
                query,
                since,
            }))
        }
        Conn::Sqlite(_) => {
            let (file, _) = open_lock_file(url)?;
            if file.try_lock().is_ok() {
                let _ = file.unlock();
                return Ok(None);
            }
            Ok(Some(read_holder(file)))
        }
    }
}

/// Ends the holder's session (PostgreSQL) or process (SQLite, same host only), which frees
/// the lock. Returns who was removed.
pub async fn force_release(conn: &mut Conn, url: &DatabaseUrl) -> Result<Option<Holder>> {
    let Some(holder) = holder(conn, url).await? else {
        return Ok(None);
    };
    match conn {
        Conn::Postgres(_) => {
            conn.execute(&format!("SELECT pg_terminate_backend({})", holder.pid))
                .await
                .map_err(|e| db_error("end the lock holder's session", e))?;
        }
        Conn::Sqlite(_) => {
            if holder.host.as_deref() != Some(hostname().as_str()) {
                return Err(Error::Usage(format!(
                    "the lock is held by {holder}, on another host: stop that process there"
                )));
            }
            let pid = i32::try_from(holder.pid).unwrap_or(0);
            // SAFETY: kill(2) with a plain pid and signal; no memory is involved.
            if pid <= 1 || unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
                return Err(Error::Usage(format!(
                    "could not end {holder}: {}",
                    std::io::Error::last_os_error()
                )));
            }
        }
    }
    // Wait (briefly) until the lock is really free.
    for _ in 0..50 {
        if holder_gone(conn, url).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Some(holder))
}

async fn holder_gone(conn: &mut Conn, url: &DatabaseUrl) -> bool {
    matches!(holder(conn, url).await, Ok(None))
}

fn open_lock_file(url: &DatabaseUrl) -> Result<(File, PathBuf)> {
    let db = url
        .expose()
        .strip_prefix("sqlite://")
        .unwrap_or(url.expose())
        .split('?')
        .next()
        .unwrap_or_default();
    let path = PathBuf::from(format!("{db}.runner-lock"));
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    Ok((file, path))
}

fn write_holder(file: &mut File, command: &str) {
    let since = super::timestamp_now();
    let text = format!(
        "{}\n{}\n{}\n{}\n",
        std::process::id(),
        hostname(),
        since,
        command
    );
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(text.as_bytes());
    let _ = file.sync_data();
}

fn read_holder(mut file: File) -> Holder {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let mut lines = text.lines();
    Holder {
        pid: lines.next().and_then(|p| p.parse().ok()).unwrap_or(0),
        host: lines.next().map(String::from),
        since: lines.next().map(String::from),
        who: lines.next().unwrap_or("unknown").to_string(),
        state: None,
        query: None,
    }
}

fn db_error(what: &str, e: DbError) -> Error {
    Error::Database {
        context: format!("could not {what}"),
        source: e,
    }
}
