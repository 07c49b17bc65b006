//! The one error type of runner and the exit codes it maps to.
//!
//! Exit codes are a contract with CI scripts and people: they are listed in the README and
//! defined only here. Every variant carries the file, line, setting or version involved, so
//! `main` can print it once, to stderr, and exit with the right code.

use std::path::PathBuf;

use crate::catalog::CatalogError;
use crate::config::ConfigError;

/// The process exit codes of runner (README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything asked for was done.
    Success = 0,
    /// `runner check` found error-severity findings.
    CheckFailed = 1,
    /// Bad usage, configuration or input: nothing was changed.
    Usage = 2,
    /// A migration failed; its state is recorded in the history.
    MigrationFailed = 3,
    /// Health or smoke checks failed and the deploy was rolled back.
    DeployRolledBack = 4,
    /// A rollback failed and a person must act.
    RollbackFailed = 5,
    /// The migration lock could not be taken in time.
    LockTimeout = 6,
    /// The database stopped answering mid-run (server restart, network): what committed is
    /// recorded; run the command again once it answers.
    ConnectionLost = 7,
    /// SIGINT or SIGTERM stopped the run; what it did is recorded.
    Interrupted = 8,
    /// Not done and not failed: a canary paused at a step waits for `runner promote` or
    /// `runner abort`, a flag ramp waits for a verdict. `runner wait` waits for the outcome.
    Waiting = 9,
    /// A pipeline deploy changed earlier environments, then a later one refused or failed
    /// before it was touched: the message names which environments got the release.
    PartlyDeployed = 10,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The migrations folder cannot be used; each problem names its file.
    #[error(transparent)]
    Catalog(#[from] CatalogError),

    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// SIGINT or SIGTERM: the work stopped at a safe point; what was done is recorded.
    #[error("interrupted: {message}")]
    Interrupted { message: String },

    /// A bad argument that clap could not catch, e.g. a migration name with capitals.
    #[error("{0}")]
    Usage(String),

    /// The database refused or could not be reached; nothing was changed by this error.
    #[error("{context}: {source}")]
    Database { context: String, source: DbError },

    /// Validation found reasons not to run; nothing was applied.
    #[error("nothing was applied to {environment}:\n  - {}", .problems.join("\n  - "))]
    Refused {
        environment: String,
        problems: Vec<String>,
    },

    /// A migration failed; its state is recorded in the history.
    #[error("{message}")]
    MigrationFailed { message: String },

    /// A later environment of a pipeline deploy failed after earlier ones changed.
    #[error("{message}")]
    PartlyDeployed { message: String },

    /// A rollback failed; its state is recorded and a person must act.
    #[error("{message}")]
    RollbackFailed { message: String },

    /// The deploy gate (`runner check`) found errors in the migrations to apply.
    #[error(
        "{environment}: the lint gate stopped {errors} error(s) in the migrations to apply (listed above); nothing was changed. Fix them, or suppress one with `-- runner:allow <rule> <reason>` before its statement"
    )]
    GateFailed { environment: String, errors: usize },

    /// Health or smoke checks failed after the deploy hook ran, and the previous version was
    /// put back.
    #[error("{message}")]
    DeployRolledBack { message: String },

    /// The connection was lost mid-run: not a failed migration. What committed is in the
    /// history, because each commit carries its own record.
    #[error("the connection to the database was lost during {during}: {error}\n  next: {next}")]
    ConnectionLost {
        during: String,
        error: DbError,
        next: String,
    },

    /// The migration lock could not be taken in time.
    #[error("could not take the migration lock within {}: {}", humantime::format_duration(*.waited), match .holder {
        Some(h) => format!("it is held by {h}. Wait for that run to finish; if it is stuck, `runner lock release --env {} --force` ends it", .environment),
        None => "it was held, and its holder could not be identified".to_string(),
    })]
    LockTimeout {
        waited: std::time::Duration,
        holder: Option<String>,
        environment: String,
    },
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(_)
            | Error::Catalog(_)
            | Error::Io { .. }
            | Error::Usage(_)
            | Error::Refused { .. } => ExitCode::Usage,
            Error::Database { source, .. } if source.connection_lost => ExitCode::ConnectionLost,
            Error::Database { .. } => ExitCode::Usage,
            Error::Interrupted { .. } => ExitCode::Interrupted,
            Error::MigrationFailed { .. } => ExitCode::MigrationFailed,
            Error::RollbackFailed { .. } => ExitCode::RollbackFailed,
            Error::GateFailed { .. } => ExitCode::CheckFailed,
            Error::DeployRolledBack { .. } => ExitCode::DeployRolledBack,
            Error::LockTimeout { .. } => ExitCode::LockTimeout,
            Error::ConnectionLost { .. } => ExitCode::ConnectionLost,
            Error::PartlyDeployed { .. } => ExitCode::PartlyDeployed,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A database error with the parts runner records: SQLSTATE (or SQLite's result code) and
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    pub code: Option<String>,
    /// MySQL's error number (1205: lock wait timeout...), beside its SQLSTATE in `code`.
    pub number: Option<u32>,
    pub message: String,
    /// The connection itself is gone (server restart, network): nothing more can be read or
    /// recorded on it, and whatever was not committed was rolled back by the server.
    pub connection_lost: bool,
}

impl DbError {
    pub fn from_sqlx(e: &sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned());
                let number = db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(|m| u32::from(m.number()));
                DbError {
                    connection_lost: code.as_deref().is_some_and(is_connection_sqlstate)
                        || number.is_some_and(is_connection_number),
                    code,
                    number,
                    message: db.message().to_string(),
                }
            }
            other => DbError {
                code: None,
                number: None,
                message: other.to_string(),
                connection_lost: matches!(
                    other,
                    sqlx::Error::Io(_)
                        | sqlx::Error::Tls(_)
                        | sqlx::Error::Protocol(_)
                        | sqlx::Error::WorkerCrashed
                        | sqlx::Error::PoolClosed
                ),
            },
        }
    }

    /// An error that is not the database's: runner's own (a file that cannot be parsed...).
    pub fn other(message: impl Into<String>) -> Self {
        DbError {
            code: None,
            number: None,
            message: message.into(),
            connection_lost: false,
        }
    }
}

/// SQLSTATEs that mean the session is gone: class 08 (connection exception) and the server's
/// shutdown and restart codes (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
/// now).
fn is_connection_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// MySQL and MariaDB error numbers that mean the session is gone: the server shut down (1053),
/// the connection was killed (1927) or lost (2006, 2013).
fn is_connection_number(number: u32) -> bool {
    matches!(number, 1053 | 1927 | 2006 | 2013)
}

impl std::error::Error for DbError {}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, self.number) {
            (Some(code), Some(n)) => {
                write!(f, "{} (MySQL error {n}, SQLSTATE {code})", self.message)
            }
            (None, Some(n)) => write!(f, "{} (MySQL error {n})", self.message),
            _ => self.fmt_code(f),
        }
    }
}

impl DbError {
    fn fmt_code(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            // PostgreSQL's SQLSTATEs have five characters; SQLite's result codes are numbers.
            Some(code) if code.len() == 5 => write!(f, "{} (SQLSTATE {code})", self.message),
            Some(code) => write!(f, "{} (SQLite error {code})", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}
