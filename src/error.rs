//! The one error type of runner and the exit codes it maps to.
//!
//! Exit codes are a contract with CI scripts and people: they are listed in the README and
//! defined only here. Every variant carries the file, line, setting or version involved, so
//! `main` can print it once, to stderr, and exit with the right code.

use std::path::PathBuf;

use crate::catalog::Problem;
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

    /// The migrations folder has layout problems; each names its file.
    #[error("{}", render_problems(.dir, .problems))]
    Catalog {
        dir: PathBuf,
        problems: Vec<Problem>,
    },

    #[error("migrations folder {}: {reason}", .dir.display())]
    MigrationsDir { dir: PathBuf, reason: String },

    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Ctrl-C: the work stopped where it was; what was done is recorded.
    #[error("interrupted")]
    Interrupted,

    /// A bad argument that clap could not catch, e.g. a migration name with capitals.
    #[error("{0}")]
    Usage(String),

    /// The database refused or could not be reached; nothing was changed by this error.
    #[error("{context}: {source}")]
    Database {
        context: String,
        source: crate::engine::conn::DbError,
    },

    /// Validation found reasons not to run; nothing was applied.
    #[error("nothing was applied to {environment}:\n  - {}", .problems.join("\n  - "))]
    Refused {
        environment: String,
        problems: Vec<String>,
    },

    /// A migration failed; its state is recorded in the history.
    #[error("{message}")]
    MigrationFailed { message: String },

    /// A rollback failed; its state is recorded and a person must act.
    #[error("{message}")]
    RollbackFailed { message: String },

    /// The deploy gate (`runner check`) found errors in the migrations to apply.
    #[error(
        "the deploy to {environment} stopped at the gate: {errors} lint error(s) in the migrations to apply (listed above); nothing was changed"
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
        error: crate::engine::conn::DbError,
        next: String,
    },

    /// The migration lock could not be taken in time.
    #[error("could not take the migration lock within {}: {}", humantime::format_duration(*.waited), match .holder {
        Some(h) => format!("it is held by {h}. Wait for that run to finish; if it is stuck, `runner lock release --force` ends it"),
        None => "it was held, and its holder could not be identified".to_string(),
    })]
    LockTimeout {
        waited: std::time::Duration,
        holder: Option<String>,
    },
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(_)
            | Error::Catalog { .. }
            | Error::MigrationsDir { .. }
            | Error::Io { .. }
            | Error::Usage(_)
            | Error::Refused { .. } => ExitCode::Usage,
            Error::Database { source, .. } if source.connection_lost => ExitCode::ConnectionLost,
            Error::Database { .. } => ExitCode::Usage,
            Error::Interrupted => ExitCode::Interrupted,
            Error::MigrationFailed { .. } => ExitCode::MigrationFailed,
            Error::RollbackFailed { .. } => ExitCode::RollbackFailed,
            Error::GateFailed { .. } => ExitCode::CheckFailed,
            Error::DeployRolledBack { .. } => ExitCode::DeployRolledBack,
            Error::LockTimeout { .. } => ExitCode::LockTimeout,
            Error::ConnectionLost { .. } => ExitCode::ConnectionLost,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

fn render_problems(dir: &std::path::Path, problems: &[Problem]) -> String {
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let mut out = format!(
        "the migrations folder {} has {} problem{}:",
        dir.display(),
        errors,
        if errors == 1 { "" } else { "s" }
    );
    for problem in problems.iter().filter(|p| p.is_error()) {
        out.push_str("\n  ");
        out.push_str(&problem.to_string());
    }
    out
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
