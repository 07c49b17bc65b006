//! runner.toml: where it is found, what it may hold, and how flags and the environment
//! override it.
//!
//! # Precedence
//!
//! For every setting, the first of these that is given wins:
//!
//! | setting | flag | environment variable | runner.toml | default |
//! |---|---|---|---|---|
//! | config file | `--config` | `RUNNER_CONFIG` | | `runner.toml` in the cwd or the nearest parent |
//! | migrations folder | `--migrations-dir` | `RUNNER_MIGRATIONS_DIR` | `[migrations] dir` | `migrations` |
//! | SQL dialect | | `RUNNER_DIALECT` | `[migrations] dialect` | the scheme of the environments' URLs, else `postgres` |
//! | database URL of `--env E` | `--database-url` | `RUNNER_DATABASE_URL` | `[environments.E] database_url` | |
//!
//! Relative paths in runner.toml are relative to the folder that holds it; paths given by flag
//! or environment variable are relative to the current directory. `resolve::pick` is the one
//! place that applies this order.

mod database_url;
mod file;
mod flags;
mod interpolate;
mod metrics;
mod notify;
mod reader;
mod resolve;
mod rollout;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use crate::catalog::Layout;
pub use database_url::{DatabaseUrl, Dialect, redact_text};
pub use metrics::{MetricName, Metrics, MetricsSource, Unit};
pub use resolve::{Overrides, dialect_given};

/// The dialect when nothing names one: no `[migrations] dialect`, no database URL, no
/// `--dialect`.
pub const DEFAULT_DIALECT: Dialect = Dialect::Postgres;
pub use rollout::{Batch, NginxControl, Pause, Rollout, Router, RouterKind, Server, StrategyKind};

pub const FILE_NAME: &str = "runner.toml";

/// The configuration every command works from.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// runner.toml, when one was found.
    pub file: Option<PathBuf>,
    /// The folder relative paths in runner.toml start from.
    pub root: PathBuf,
    pub migrations_dir: Setting<PathBuf>,
    pub dialect: Setting<Dialect>,
    /// `[migrations] layout`: the folder's layout; `None`: detected from its files.
    pub layout: Option<Layout>,
    /// `[migrations] mirror`: the tool whose history table runner also writes, so a team can
    /// go back to that tool during a trial.
    pub mirror: Option<Layout>,
    /// `[lint] disable`, validated by the linter (`lint::disabled_rules`), which owns the ids.
    pub lint_disable: Vec<Positioned>,
    /// `[lint] postgres_version`: the server version migrations run on (some locks depend on
    /// it); `None`: the linter's default.
    pub postgres_version: Option<u32>,
    /// `[lint] mysql_version`, validated by the linter (`lint::MysqlVersion`).
    pub mysql_version: Option<Positioned>,
    /// `[lint] search_path`: the schema unqualified names live in (its first entry).
    pub default_schema: Option<String>,
    pub pipeline: Setting<Vec<String>>,
    pub environments: BTreeMap<String, Environment>,
    /// Environments that use a `${VAR}` that is not set: unusable, but only a command that
    /// uses one of them fails, naming the variable (a staging CI job need not have
    /// production's secrets).
    #[serde(skip)]
    pub unresolved: BTreeMap<String, ConfigError>,
    /// The variables any environment's database URL is built from: hooks never see them.
    #[serde(skip)]
    pub secret_vars: Vec<String>,
    /// History tables are `<prefix>migrations`, `<prefix>events`, `<prefix>deploys`.
    pub history_prefix: String,
    /// Whether a failed deploy also rolls back the migrations it applied (when every one of
    /// them has a verified rollback).
    pub rollback_migrations: bool,
    /// How long a deploy, rollback or smoke hook may run.
    #[serde(with = "humantime_serde")]
    pub hook_timeout: Duration,
    /// How long a running deploy's lease lasts without a heartbeat before the next command
    /// may call it lost.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// `[deploy] watch`: how long a deploy watches the new release after it took all traffic
    /// (`None`: off).
    #[serde(with = "humantime_serde_opt")]
    pub watch: Option<Duration>,
    /// `[notify]`: who hears of deploys.
    pub notify: Notify,
    /// `[flags]`: feature flags and their lifecycle.
    pub flags: Flags,
    /// `[compat]`: the serving release's queries, prepared by `runner check --verify`.
    pub compat: crate::compat::Settings,
}

/// `[flags]`: where the flagd files go and how flags move through the pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct Flags {
    /// One flagd file per environment: `<dir>/<env>.flagd.json`.
    pub dir: PathBuf,
    /// The percentages of the last environment's ramp, the last one 100.
    pub steps: Vec<u32>,
    /// How long `runner flag promote --auto` holds each step.
    #[serde(with = "humantime_serde")]
    pub pause: Duration,
    /// A flag at 100 % everywhere for longer than this is debt: remove it.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
    /// Where the code that reads flags lives (searched for references).
    pub search: Vec<PathBuf>,
    /// How a flag read looks in the code: a regex whose first group is the flag key.
    pub pattern: String,
    /// Run after a flag file is written (`{env}`, `{file}`), to publish it.
    pub push: Option<Vec<String>>,
}

/// OpenFeature SDKs' flag reads: `getBooleanValue("key", ...)`, `get_boolean_details('key')`...
pub const DEFAULT_FLAG_PATTERN: &str = r#"(?i)get_?(?:boolean|string|number|integer|float|object)_?(?:value|details)\(\s*["']([A-Za-z0-9_.:-]+)["']"#;

/// `[notify]`: webhooks told of deploys; never blocking or failing one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Notify {
    pub webhooks: Vec<Webhook>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub retries: u32,
    /// The events sent (all of `NOTIFY_EVENTS` by default).
    pub events: Vec<String>,
}

/// The events a webhook can hear of.
pub const NOTIFY_EVENTS: [&str; 5] = [
    "deploy_started",
    "deploy_succeeded",
    "deploy_failed",
    "deploy_rolled_back",
    "metric_breach",
];

#[derive(Debug, Clone, Serialize)]
pub struct Webhook {
    /// Never printed whole: it often holds a token.
    #[serde(skip)]
    pub url: String,
    /// scheme://host/… for display.
    pub shown: String,
    pub format: WebhookFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// runner's JSON event.
    Json,
    /// `{"text": "..."}`, as Slack's incoming webhooks (and Mattermost, Rocket.Chat) take.
    Slack,
}

pub const DEFAULT_HISTORY_PREFIX: &str = "runner_";

/// How long a running deploy may go without a heartbeat before the next command calls it
/// lost (`[deploy] lease`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// A value and where it came from, so `runner config` can say why a setting is what it is.
#[derive(Debug, Clone, Serialize)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// A value of runner.toml with where it is written, for errors found after loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positioned {
    pub value: String,
    pub line: usize,
    pub column: usize,
}

impl Serialize for Positioned {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    File(usize),
    Default,
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::File(line) => write!(f, "{FILE_NAME} line {line}"),
            Source::Default => write!(f, "default"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub name: String,
    pub database_url: Setting<DatabaseUrl>,
    pub requires_approval: bool,
    /// How long one migration statement may wait for a lock before it is retried.
    #[serde(with = "humantime_serde")]
    pub lock_timeout: Duration,
    /// How long one migration statement may run; `None` is no limit.
    #[serde(with = "humantime_serde_opt")]
    pub statement_timeout: Option<Duration>,
    /// How many times a statement (or transactional file) that hit lock_timeout is retried.
    pub lock_retries: u32,
    /// How long a statement waits for sessions holding a conflicting lock to end before it
    /// is tried anyway (`engine::gap`): waiting, it queues nobody behind it.
    #[serde(with = "humantime_serde")]
    pub gap_wait: Duration,
    pub deploy: Option<Vec<String>>,
    pub rollback: Option<Vec<String>>,
    pub smoke: Option<Vec<String>>,
    pub health: Option<Health>,
    /// Where the release's measurements come from and their thresholds (`analysis`).
    pub metrics: Option<Metrics>,
    /// Runs per server to stop the release it runs, after it was drained (routed strategies).
    pub stop: Option<Vec<String>>,
    /// How a release reaches traffic: the strategy, servers, router and their options.
    pub rollout: Rollout,
}

impl Environment {
    pub fn strategy(&self) -> StrategyKind {
        self.rollout.strategy
    }
}

/// Short, so a statement that must wait for a table lock never holds live queries behind it
/// for long; runner waits for a gap first (`DEFAULT_GAP_WAIT`), and retries.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_millis(100);
pub const DEFAULT_LOCK_RETRIES: u32 = 10;
pub const DEFAULT_GAP_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub url: String,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    pub healthy_after: u32,
    pub unhealthy_after: u32,
    /// A database ping slower than this fails the health check.
    #[serde(with = "humantime_serde")]
    pub max_db_latency: Duration,
}

/// A runner.toml that cannot be used, located to the line where that is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", location(.file, *.line, *.column), .message)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// A `${VAR}` that is not set: an environment using it is unusable, the rest are fine.
    pub missing_variable: bool,
}

fn location(file: &Option<PathBuf>, line: Option<usize>, column: Option<usize>) -> String {
    match (file, line, column) {
        (Some(f), Some(l), Some(c)) => format!("{}:{l}:{c}: ", f.display()),
        (Some(f), Some(l), None) => format!("{}:{l}: ", f.display()),
        (Some(f), None, _) => format!("{}: ", f.display()),
        (None, _, _) => String::new(),
    }
}

impl ConfigError {
    /// An error with no position. The message is scrubbed of passwords.
    pub fn new(file: Option<&Path>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.map(Path::to_path_buf),
            line: None,
            column: None,
            message: redact_text(&message.into()),
            missing_variable: false,
        }
    }
}

impl Config {
    /// Finds and reads runner.toml, then applies flags and environment variables.
    pub fn load(overrides: &Overrides) -> Result<Config, ConfigError> {
        if let Some(config) = Config::load_optional(overrides)? {
            return Ok(config);
        }
        let cwd = current_dir()?;
        if overrides.migrations_dir_given() {
            return resolve::resolve(None, "", &cwd, overrides);
        }
        Err(ConfigError::new(
            None,
            format!(
                "no {FILE_NAME} in {} or any parent folder: run runner from your project, pass --config FILE, or pass --migrations-dir DIR",
                cwd.display()
            ),
        ))
    }

    /// Like `load`, but `None` when there is no runner.toml to read (commands that can work
    /// without one, such as `runner check PATH`).
    pub fn load_optional(overrides: &Overrides) -> Result<Option<Config>, ConfigError> {
        let cwd = current_dir()?;
        let Some(path) = overrides.config_file()?.or_else(|| discover(&cwd)) else {
            return Ok(None);
        };
        let source = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::new(Some(&path), format!("cannot be read: {e}")))?;
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| cwd.clone());
        resolve::resolve(Some(&path), &source, &root, overrides).map(Some)
    }

    /// Parses runner.toml text; used by `load` and by tests.
    pub fn from_toml(
        path: &Path,
        source: &str,
        root: &Path,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        resolve::resolve(Some(path), source, root, overrides)
    }

    /// An error at a position of this runner.toml.
    pub fn error_at(&self, line: usize, column: usize, message: impl Into<String>) -> ConfigError {
        let mut error = ConfigError::new(self.file.as_deref(), message);
        error.line = Some(line);
        error.column = Some(column);
        error
    }

    /// The environment called `name`, or an error listing those that exist.
    pub fn environment(&self, name: &str) -> Result<&Environment, ConfigError> {
        if let Some(error) = self.unresolved.get(name) {
            return Err(error.clone());
        }
        self.environments.get(name).ok_or_else(|| {
            let known: Vec<&str> = self
                .environments
                .keys()
                .chain(self.unresolved.keys())
                .map(String::as_str)
                .collect();
            // A name that comes from the default pipeline, not from the person.
            let pipeline = match self.pipeline.source {
                Source::Default if self.pipeline.value.iter().any(|p| p == name) => format!(
                    "; the pipeline is the default ({}): set [deploy] pipeline to your environments in deploy order, e.g. pipeline = [\"{}\"]",
                    self.pipeline.value.join(" -> "),
                    known.join("\", \"")
                ),
                _ => String::new(),
            };
            ConfigError::new(
                self.file.as_deref(),
                format!(
                    "no environment `{name}`; {}{pipeline}",
                    if known.is_empty() {
                        "add an [environments.NAME] table".to_string()
                    } else {
                        format!("configured: {}", known.join(", "))
                    }
                ),
            )
        })
    }
}

fn current_dir() -> Result<PathBuf, ConfigError> {
    std::env::current_dir()
        .map_err(|e| ConfigError::new(None, format!("cannot read the current directory: {e}")))
}

/// `runner.toml` in `start` or the nearest parent folder.
pub fn discover(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

mod humantime_serde {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

mod humantime_serde_opt {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_str("off"),
        }
    }
}
