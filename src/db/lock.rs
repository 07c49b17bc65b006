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

use super::backoff::Backoff;
use super::{Conn, DbError, LockMethod};
use crate::config::{DatabaseUrl, Environment};
use crate::error::{Error, Result};
use crate::runtime::hostname;

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

/// A held lock. Dropping it frees a file lock; a session lock goes with the connection or
/// `release`.
pub enum Lock {
    Session { release_sql: String },
    File(File),
}

/// Who hears about the wait for the lock.
pub trait LockWatcher {
    fn lock_waiting(&mut self, _waited: Duration, _holder: Option<&Holder>) {}
    fn lock_taken(&mut self, _waited: Duration) {}
}

/// Nobody: the wait is only bounded, not shown.
impl LockWatcher for () {}

/// Takes the lock (waiting up to `wait`, telling `watcher` about it; `command` is what a
/// holder's record names), runs `work` with it, and frees it whatever `work` returned: the one
/// lock bracket of every command that changes a database.
pub async fn with_lock<T, W: LockWatcher + ?Sized>(
    conn: &mut Conn,
    env: &Environment,
    (wait, command): (Duration, &str),
    watcher: &mut W,
    work: impl AsyncFnOnce(&mut Conn, &mut W) -> Result<T>,
) -> Result<T> {
    let started = Instant::now();
    let url = &env.database_url.value;
    let lock = acquire(conn, url, wait, command, |waited, holder| {
        watcher.lock_waiting(waited, holder)
    })
    .await
    .map_err(|e| match e {
        Error::LockTimeout { waited, holder, .. } => Error::LockTimeout {
            waited,
            holder,
            environment: env.name.clone(),
        },
        other => other,
    })?;
    watcher.lock_taken(started.elapsed());
    let result = work(conn, watcher).await;
    release(conn, lock).await;
    result
}

/// What `acquire` tries: the file beside the database, or the session lock's SQL.
enum Target {
    File(File),
    Session {
        try_sql: String,
        release_sql: String,
    },
}

impl Target {
    fn of(conn: &Conn, url: &DatabaseUrl) -> Result<Target> {
        Ok(match conn.backend().lock() {
            LockMethod::File => Target::File(open_lock_file(url)?.0),
            LockMethod::Session {
                try_sql,
                release_sql,
                ..
            } => Target::Session {
                try_sql,
                release_sql,
            },
        })
    }

    /// One try: whether the lock is now ours.
    async fn try_take(&self, conn: &mut Conn) -> Result<bool> {
        let try_sql = match self {
            Target::File(file) => return Ok(file.try_lock().is_ok()),
            Target::Session { try_sql, .. } => try_sql,
        };
        let answer = conn
            .fetch_one_text(try_sql, Vec::new())
            .await
            .map_err(|e| db_error("take the migration lock", e))?;
        if answer.as_deref() == Some("error") {
            // MySQL's GET_LOCK answers NULL on an error: never read as "not taken".
            return Err(db_error(
                "take the migration lock",
                DbError::other(
                    "the server answered NULL to GET_LOCK (an error: out of memory, or the session killed)",
                ),
            ));
        }
        Ok(answer.is_some_and(|t| matches!(t.as_str(), "true" | "t" | "1")))
    }
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
    let target = Target::of(conn, url)?;
    loop {
        if target.try_take(conn).await? {
            return Ok(match target {
                Target::File(mut file) => {
                    write_holder(&mut file, command);
                    Lock::File(file)
                }
                Target::Session { release_sql, .. } => Lock::Session { release_sql },
            });
        }
        if crate::runtime::interrupted() {
            return Err(Error::Interrupted {
                message: format!(
                    "stopped waiting for the migration lock ({command}); nothing was done"
                ),
            });
        }
        let holder = holder(conn, url).await.ok().flatten();
        let waited = started.elapsed();
        if waited >= wait {
            return Err(Error::LockTimeout {
                waited: wait,
                holder: holder.map(|h| h.to_string()),
                environment: String::new(),
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
        Lock::Session { release_sql } => {
            let _ = conn.execute(&release_sql).await;
        }
        Lock::File(file) => {
            let _ = file.set_len(0);
            let _ = file.unlock();
        }
    }
}

/// Who holds the lock now, if anyone (and not this connection).
pub async fn holder(conn: &mut Conn, url: &DatabaseUrl) -> Result<Option<Holder>> {
    match conn.backend().lock() {
        LockMethod::Session { holder_sql, .. } => {
            let rows = conn
                .fetch_text(&holder_sql, Vec::new())
                .await
                .map_err(|e| db_error("look up the lock holder", e))?;
            Ok(rows.into_iter().next().map(|row| {
                let mut cells = row.into_iter();
                let mut next = || cells.next().flatten();
                let pid = next().and_then(|p| p.parse().ok()).unwrap_or(0);
                let who = next().filter(|w| !w.is_empty());
                Holder {
                    pid,
                    who: who.unwrap_or_else(|| "no application_name".into()),
                    host: next(),
                    state: next(),
                    query: next(),
                    since: next(),
                }
            }))
        }
        LockMethod::File => {
            let (file, _) = open_lock_file(url)?;
            if file.try_lock().is_ok() {
                let _ = file.unlock();
                return Ok(None);
            }
            Ok(Some(read_holder(file)))
        }
    }
}

/// Ends the holder's session (a session lock) or process (a file lock, same host only), which
/// frees the lock. Returns who was removed.
pub async fn force_release(conn: &mut Conn, url: &DatabaseUrl) -> Result<Option<Holder>> {
    let Some(holder) = holder(conn, url).await? else {
        return Ok(None);
    };
    match conn.backend().lock() {
        LockMethod::Session { terminate_sql, .. } => {
            conn.execute(&terminate_sql(holder.pid))
                .await
                .map_err(|e| db_error("end the lock holder's session", e))?;
        }
        LockMethod::File => {
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
    let since = crate::runtime::timestamp_now();
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
