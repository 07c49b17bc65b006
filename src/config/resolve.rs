//! From runner.toml text, flags and environment variables to a validated `Config`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::file::{EnvironmentTable, FileConfig, HealthTable, Text};
use super::flags::flags;
use super::notify::notify;
use super::reader::Reader;
use super::rollout::Rollout;
use super::{
    Config, ConfigError, DEFAULT_GAP_WAIT, DEFAULT_HISTORY_PREFIX, DEFAULT_LOCK_RETRIES,
    DEFAULT_LOCK_TIMEOUT, DatabaseUrl, Dialect, Environment, Health, Layout, Positioned, Setting,
    Source,
};

/// What the command line and the process environment say. Flags are filled by the CLI;
/// `vars` is a snapshot of the process environment (tests pass their own).
#[derive(Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub migrations_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    /// The environment the command works on: `--database-url` and `RUNNER_DATABASE_URL` apply to it.
    pub env: Option<String>,
    pub vars: HashMap<String, String>,
}

impl Overrides {
    pub fn with_process_env(mut self) -> Self {
        self.vars = std::env::vars().collect();
        self
    }

    fn var(&self, name: &'static str) -> Option<(String, &'static str)> {
        self.vars
            .get(name)
            .filter(|v| !v.is_empty())
            .map(|v| (v.clone(), name))
    }

    pub(super) fn config_file(&self) -> Result<Option<PathBuf>, ConfigError> {
        let given = self.config.clone().map(|p| (p, "--config")).or_else(|| {
            self.var("RUNNER_CONFIG")
                .map(|(v, n)| (PathBuf::from(v), n))
        });
        match given {
            Some((path, _)) if path.is_file() => Ok(Some(path)),
            Some((path, from)) => Err(ConfigError::new(
                Some(&path),
                format!("does not exist (given by {from}); check the path"),
            )),
            None => Ok(None),
        }
    }

    pub(super) fn migrations_dir_given(&self) -> bool {
        self.migrations_dir.is_some() || self.var("RUNNER_MIGRATIONS_DIR").is_some()
    }
}

/// The one place that applies flag > environment variable > file > default.
fn pick<T>(
    flag: Option<(T, &'static str)>,
    env: Option<(T, &'static str)>,
    file: Option<(T, usize)>,
    default: impl FnOnce() -> T,
) -> Setting<T> {
    let (value, source) = match (flag, env, file) {
        (Some((v, name)), _, _) => (v, Source::Flag(name)),
        (None, Some((v, name)), _) => (v, Source::Env(name)),
        (None, None, Some((v, line))) => (v, Source::File(line)),
        (None, None, None) => (default(), Source::Default),
    };
    Setting { value, source }
}

pub(super) fn resolve(
    path: Option<&Path>,
    source: &str,
    root: &Path,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let reader = Reader {
        path,
        source,
        overrides,
    };
    let parsed: FileConfig = toml::from_str(source).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let message = e.message().trim().replace('\n', "; ");
        reader.error_at(offset, message)
    })?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| root.to_path_buf());

    let migrations_dir = migrations_dir(&reader, &parsed, root, &cwd)?;
    let (mut environments, unresolved, secret_vars) = environments(&reader, &parsed, root)?;
    apply_database_url_override(&mut environments, &unresolved, overrides, &cwd)?;

    let dialect = dialect(&reader, &parsed, &environments)?;
    let (layout, mirror) = layouts(&reader, &parsed)?;
    let names: Vec<&String> = parsed.environments.keys().collect();
    let pipeline = pipeline(&reader, &parsed, &names)?;
    let lint = lint(&reader, &parsed.lint)?;
    let history_prefix = history_prefix(&reader, &parsed)?;
    let (lease, hook_timeout, watch) = deploy(&reader, &parsed)?;
    let notify = notify(&reader, &parsed.notify)?;
    let flags = flags(&reader, &parsed.flags, root)?;
    let compat = compat(&reader, &parsed)?;

    Ok(Config {
        watch,
        notify,
        flags,
        compat,
        history_prefix,
        rollback_migrations: parsed.deploy.rollback_migrations.unwrap_or(false),
        hook_timeout,
        lease,
        file: path.map(Path::to_path_buf),
        root: root.to_path_buf(),
        migrations_dir,
        dialect,
        layout,
        mirror,
        lint_disable: lint.disable,
        postgres_version: lint.postgres_version,
        mysql_version: lint.mysql_version,
        default_schema: lint.default_schema,
        pipeline,
        environments,
        unresolved,
        secret_vars,
    })
}

/// `[migrations] dir`: --migrations-dir > RUNNER_MIGRATIONS_DIR > the file > `migrations/`.
fn migrations_dir(
    reader: &Reader<'_>,
    parsed: &FileConfig,
    root: &Path,
    cwd: &Path,
) -> Result<Setting<PathBuf>, ConfigError> {
    let overrides = reader.overrides;
    let file_dir = parsed
        .migrations
        .dir
        .as_ref()
        .map(|d| reader.text(d, "migrations.dir"))
        .transpose()?
        .map(|(d, line)| (root.join(d), line));
    Ok(pick(
        overrides
            .migrations_dir
            .clone()
            .map(|d| (cwd.join(d), "--migrations-dir")),
        overrides
            .var("RUNNER_MIGRATIONS_DIR")
            .map(|(d, n)| (cwd.join(d), n)),
        file_dir,
        || root.join("migrations"),
    ))
}

/// The environments that resolve, those that need a variable not set here (kept to say
/// so when one is used), and the variables their URLs name (kept secret in output).
#[allow(clippy::type_complexity)]
fn environments(
    reader: &Reader<'_>,
    parsed: &FileConfig,
    root: &Path,
) -> Result<
    (
        BTreeMap<String, Environment>,
        BTreeMap<String, ConfigError>,
        Vec<String>,
    ),
    ConfigError,
> {
    let overrides = reader.overrides;
    let mut environments = BTreeMap::new();
    let mut unresolved = BTreeMap::new();
    let mut secret_vars = Vec::new();
    // --database-url / RUNNER_DATABASE_URL replace the URL of --env: its runner.toml value,
    // and the variable it names, are then not needed (CI sets one secret per environment).
    let url_override = overrides
        .database_url
        .clone()
        .or_else(|| overrides.var("RUNNER_DATABASE_URL").map(|(u, _)| u));
    for (name, table) in &parsed.environments {
        secret_vars.extend(variables_in(table.get_ref().database_url.get_ref()));
        let replaced = url_override
            .as_deref()
            .filter(|_| overrides.env.as_deref() == Some(name.as_str()));
        match environment(reader, name, table, root, replaced) {
            Ok(env) => {
                environments.insert(name.clone(), env);
            }
            Err(e) if e.missing_variable => {
                unresolved.insert(name.clone(), e);
            }
            Err(e) => return Err(e),
        }
    }
    Ok((environments, unresolved, secret_vars))
}

/// `[migrations] layout` and `mirror` (a mirror only of a tool whose history runner writes).
fn layouts(
    reader: &Reader<'_>,
    parsed: &FileConfig,
) -> Result<(Option<Layout>, Option<Layout>), ConfigError> {
    let layout = layout_setting(reader, &parsed.migrations.layout, "migrations.layout")?;
    let mirror = layout_setting(reader, &parsed.migrations.mirror, "migrations.mirror")?;
    if let (Some(m), Some(t)) = (&parsed.migrations.mirror, mirror)
        && !crate::engine::adopt::Tool::mirrors(t)
    {
        return Err(reader.error_at(
            m.span().start,
            format!(
                "migrations.mirror: runner does not write {}'s history; it mirrors {}",
                t.name(),
                crate::engine::adopt::Tool::MIRRORED
            ),
        ));
    }
    Ok((layout, mirror))
}

/// The `[lint]` table as read.
struct LintSettings {
    disable: Vec<Positioned>,
    mysql_version: Option<Positioned>,
    postgres_version: Option<u32>,
    default_schema: Option<String>,
}

fn lint(reader: &Reader<'_>, table: &super::file::LintTable) -> Result<LintSettings, ConfigError> {
    let mut lint_disable = Vec::new();
    for rule in &table.disable {
        let (value, _) = reader.text(rule, "lint.disable")?;
        let (line, column) = reader.line_col(rule.span().start);
        lint_disable.push(Positioned {
            value,
            line,
            column,
        });
    }

    let mysql_version = match &table.mysql_version {
        Some(v) => {
            let (value, _) = reader.text(v, "lint.mysql_version")?;
            let (line, column) = reader.line_col(v.span().start);
            Some(Positioned {
                value,
                line,
                column,
            })
        }
        None => None,
    };
    let postgres_version = match &table.postgres_version {
        Some(v) if !(9..=30).contains(v.get_ref()) => {
            return Err(reader.error_at(
                v.span().start,
                format!(
                    "lint.postgres_version: {} is not a PostgreSQL major version; write e.g. 15",
                    v.get_ref()
                ),
            ));
        }
        v => v.as_ref().map(|v| *v.get_ref()),
    };
    let default_schema = match &table.search_path {
        Some(list) => match list.get_ref().first() {
            Some(first) => Some(reader.text(first, "lint.search_path")?.0),
            None => {
                return Err(reader.error_at(
                    list.span().start,
                    "lint.search_path is empty; list the schemas, e.g. [\"app\", \"public\"]",
                ));
            }
        },
        None => None,
    };
    Ok(LintSettings {
        disable: lint_disable,
        mysql_version,
        postgres_version,
        default_schema,
    })
}

/// `[history] prefix`: runner's table names, checked to be a safe identifier.
fn history_prefix(reader: &Reader<'_>, parsed: &FileConfig) -> Result<String, ConfigError> {
    Ok(match &parsed.history.prefix {
        None => DEFAULT_HISTORY_PREFIX.to_string(),
        Some(p) => {
            let (prefix, _) = reader.text(p, "history.prefix")?;
            let valid = prefix.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && prefix.len() <= 40;
            if !valid {
                return Err(reader.error_at(
                    p.span().start,
                    format!("history.prefix: `{prefix}` must be lower-case letters, digits and underscores, starting with a letter or `_`"),
                ));
            }
            prefix
        }
    })
}

/// `[deploy]`: the lease, the hook timeout and the watch window.
fn deploy(
    reader: &Reader<'_>,
    parsed: &FileConfig,
) -> Result<(Duration, Duration, Option<Duration>), ConfigError> {
    let lease = match &parsed.deploy.lease {
        Some(t) => reader
            .duration(t, "deploy.lease")?
            .filter(|d| *d >= Duration::from_secs(1))
            .ok_or_else(|| {
                reader.error_at(
                    t.span().start,
                    "deploy.lease must be at least 1s: it is how long a running deploy may go without a heartbeat before it is called lost",
                )
            })?,
        None => crate::config::DEFAULT_LEASE,
    };
    let hook_timeout = match &parsed.deploy.hook_timeout {
        Some(t) => reader
            .duration(t, "deploy.hook_timeout")?
            .unwrap_or(Duration::from_secs(600)),
        None => Duration::from_secs(600),
    };

    let watch = match &parsed.deploy.watch {
        Some(t) => reader.duration(t, "deploy.watch")?,
        None => None,
    };
    Ok((lease, hook_timeout, watch))
}

/// `[compat]`: where the serving release's queries are, and the environment whose
/// statistics judge them.
fn compat(
    reader: &Reader<'_>,
    parsed: &FileConfig,
) -> Result<crate::compat::Settings, ConfigError> {
    let mut compat = crate::compat::Settings {
        disabled: parsed.compat.enabled == Some(false),
        ..Default::default()
    };
    if let Some(dir) = &parsed.compat.sqlx {
        compat.sqlx = Some(PathBuf::from(reader.text(dir, "compat.sqlx")?.0));
    }
    for q in &parsed.compat.queries {
        compat
            .queries
            .push(PathBuf::from(reader.text(q, "compat.queries")?.0));
    }
    if let Some(env) = &parsed.compat.statistics {
        let (name, _) = reader.text(env, "compat.statistics")?;
        if !parsed.environments.contains_key(&name) {
            return Err(reader.error_at(
                env.span().start,
                format!("compat.statistics: `{name}` is not an environment of this runner.toml"),
            ));
        }
        compat.statistics = Some(name);
    }
    Ok(compat)
}

fn environment(
    reader: &Reader<'_>,
    name: &str,
    table: &Spanned<EnvironmentTable>,
    root: &Path,
    url_override: Option<&str>,
) -> Result<Environment, ConfigError> {
    let key = |k: &str| format!("environments.{name}.{k}");
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(reader.error_at(
            table.span().start,
            format!("environment name `{name}` may hold only letters, digits, `-` and `_`"),
        ));
    }
    let t = table.get_ref();
    let (database_url, url_line) = database_url(reader, t, name, root, url_override)?;
    let gap_wait = match &t.gap_wait {
        Some(v) => reader
            .duration(v, &key("gap_wait"))?
            .unwrap_or(Duration::ZERO),
        None => DEFAULT_GAP_WAIT,
    };
    let lock_timeout = match &t.lock_timeout {
        Some(v) => reader
            .duration(v, &key("lock_timeout"))?
            .unwrap_or(Duration::ZERO),
        None => DEFAULT_LOCK_TIMEOUT,
    };
    let statement_timeout = match &t.statement_timeout {
        Some(v) => reader.duration(v, &key("statement_timeout"))?,
        None => None,
    };
    let rollout = super::rollout::rollout(reader, name, t, root)?;
    let health = t
        .health
        .as_ref()
        .map(|h| health(reader, h, &key("health")))
        .transpose()?;
    if let (Some(h), Some(table)) = (&health, &t.health) {
        health_names_the_server(reader, (h, table), &rollout, &key("health.url"))?;
    }
    let hook = |value: &Option<Spanned<Vec<Text>>>, k: &str| {
        value.as_ref().map(|v| reader.argv(v, &key(k))).transpose()
    };
    Ok(Environment {
        name: name.to_string(),
        database_url: Setting {
            value: database_url,
            source: Source::File(url_line),
        },
        requires_approval: t.requires_approval,
        lock_timeout,
        statement_timeout,
        gap_wait,
        lock_retries: t
            .lock_retries
            .as_ref()
            .map_or(DEFAULT_LOCK_RETRIES, |n| *n.get_ref()),
        deploy: hook(&t.deploy, "deploy")?,
        rollback: hook(&t.rollback, "rollback")?,
        smoke: hook(&t.smoke, "smoke")?,
        health,
        metrics: t
            .metrics
            .as_ref()
            .map(|m| super::metrics::metrics(reader, name, m))
            .transpose()?,
        stop: hook(&t.stop, "stop")?,
        rollout,
    })
}

/// The environment's database URL and the line it is on: `--database-url` (or
/// RUNNER_DATABASE_URL) where given, else runner.toml's.
fn database_url(
    reader: &Reader<'_>,
    t: &EnvironmentTable,
    name: &str,
    root: &Path,
    url_override: Option<&str>,
) -> Result<(DatabaseUrl, usize), ConfigError> {
    let key = format!("environments.{name}.database_url");
    let Some(raw) = url_override else {
        let (raw_url, url_line) = reader.text(&t.database_url, &key)?;
        let url = DatabaseUrl::parse(&raw_url, root)
            .map_err(|why| reader.error_at(t.database_url.span().start, format!("{key}: {why}")))?;
        return Ok((url, url_line));
    };
    // Replaced once the environments are read (apply_database_url_override), with its
    // source; here it only stands in for a value that may not be readable.
    let url = DatabaseUrl::parse(raw, root).map_err(|why| {
        ConfigError::new(
            None,
            format!("the database URL given by --database-url or RUNNER_DATABASE_URL {why}"),
        )
    })?;
    Ok((url, reader.line_col(t.database_url.span().start).0))
}

/// With a routed strategy each server is checked directly before it takes traffic, so the
/// health URL must name the server.
fn health_names_the_server(
    reader: &Reader<'_>,
    (h, table): (&Health, &HealthTable),
    rollout: &Rollout,
    key: &str,
) -> Result<(), ConfigError> {
    if rollout.strategy.routed()
        && !["{address}", "{host}", "{port}"]
            .iter()
            .any(|p| h.url.contains(p))
    {
        return Err(reader.error_at(
            table.url.span().start,
            format!(
                "{key}: with strategy {}, each server is checked directly before it takes traffic; name the server in the URL, e.g. \"http://{{address}}/health\"",
                rollout.strategy.name()
            ),
        ));
    }
    Ok(())
}

fn health(reader: &Reader<'_>, h: &HealthTable, key: &str) -> Result<Health, ConfigError> {
    let (url, _) = reader.text(&h.url, &format!("{key}.url"))?;
    // Per-server placeholders are filled in at check time; check the URL with a sample.
    let sample = url
        .replace("{address}", "127.0.0.1:1")
        .replace("{host}", "127.0.0.1")
        .replace("{port}", "1");
    let parsed = url::Url::parse(&sample)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    if parsed.is_none() {
        return Err(reader.error_at(
            h.url.span().start,
            format!("{key}.url: `{url}` is not an http(s) URL; write e.g. \"http://127.0.0.1:8080/health\""),
        ));
    }
    let duration = |v: &Option<Text>, k: &str, default: u64| -> Result<Duration, ConfigError> {
        Ok(match v {
            Some(v) => reader
                .duration(v, &format!("{key}.{k}"))?
                .unwrap_or(Duration::ZERO),
            None => Duration::from_secs(default),
        })
    };
    let count = |v: &Option<Spanned<u32>>, k: &str, default: u32| match v {
        Some(n) if *n.get_ref() == 0 => {
            Err(reader.error_at(n.span().start, format!("{key}.{k} must be at least 1")))
        }
        Some(n) => Ok(*n.get_ref()),
        None => Ok(default),
    };
    Ok(Health {
        url,
        timeout: duration(&h.timeout, "timeout", 60)?,
        interval: duration(&h.interval, "interval", 1)?,
        healthy_after: count(&h.healthy_after, "healthy_after", 2)?,
        unhealthy_after: count(&h.unhealthy_after, "unhealthy_after", 3)?,
        max_db_latency: duration(&h.max_db_latency, "max_db_latency", 1)?,
    })
}

fn apply_database_url_override(
    environments: &mut BTreeMap<String, Environment>,
    unresolved: &BTreeMap<String, ConfigError>,
    overrides: &Overrides,
    cwd: &Path,
) -> Result<(), ConfigError> {
    let given = overrides
        .database_url
        .clone()
        .map(|u| (u, "--database-url"))
        .or_else(|| overrides.var("RUNNER_DATABASE_URL"));
    let (Some((raw, from)), Some(env)) = (given, &overrides.env) else {
        return Ok(());
    };
    if let Some(error) = unresolved.get(env) {
        // Its other settings could not be read either: say which variable is missing.
        return Err(error.clone());
    }
    let url = DatabaseUrl::parse(&raw, cwd)
        .map_err(|why| ConfigError::new(None, format!("the database URL given by {from} {why}")))?;
    let source = if from.starts_with("--") {
        Source::Flag(from)
    } else {
        Source::Env(from)
    };
    let setting = Setting { value: url, source };
    match environments.get_mut(env) {
        Some(e) => e.database_url = setting,
        None => {
            environments.insert(
                env.clone(),
                Environment {
                    name: env.clone(),
                    database_url: setting,
                    requires_approval: false,
                    lock_timeout: DEFAULT_LOCK_TIMEOUT,
                    gap_wait: DEFAULT_GAP_WAIT,
                    statement_timeout: None,
                    lock_retries: DEFAULT_LOCK_RETRIES,
                    deploy: None,
                    rollback: None,
                    smoke: None,
                    health: None,
                    metrics: None,
                    stop: None,
                    rollout: Default::default(),
                },
            );
        }
    }
    Ok(())
}

/// `[migrations] layout` or `mirror`: a layout name.
fn layout_setting(
    reader: &Reader<'_>,
    value: &Option<super::file::Text>,
    key: &str,
) -> Result<Option<Layout>, ConfigError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let (text, _) = reader.text(v, key)?;
    match Layout::parse(&text) {
        Some(layout) => Ok(Some(layout)),
        None => Err(reader.error_at(
            v.span().start,
            format!(
                "{key}: `{text}` is not a layout; use one of {}",
                Layout::NAMES
            ),
        )),
    }
}

/// The dialect of a command that also runs without runner.toml (`runner check PATH...`):
/// `--dialect`, else the configuration's (itself RUNNER_DIALECT > file > the environments'
/// URLs > default), else RUNNER_DIALECT, else the default, through `pick`.
pub fn dialect_given(
    flag: Option<Dialect>,
    config: Option<&super::Config>,
    overrides: &Overrides,
) -> Result<Dialect, ConfigError> {
    let flag = flag.map(|d| (d, "--dialect"));
    if let Some(config) = config {
        return Ok(pick(flag, None, None, || config.dialect.value).value);
    }
    let env = match overrides.var("RUNNER_DIALECT") {
        Some((text, name)) => Some((dialect_of_var(&text, name)?, name)),
        None => None,
    };
    Ok(pick(flag, env, None, || super::DEFAULT_DIALECT).value)
}

fn dialect_of_var(text: &str, name: &str) -> Result<Dialect, ConfigError> {
    Dialect::parse(text).ok_or_else(|| {
        ConfigError::new(
            None,
            format!("{name}: `{text}` is not a dialect; use {}", Dialect::NAMES),
        )
    })
}

fn dialect(
    reader: &Reader<'_>,
    parsed: &FileConfig,
    environments: &BTreeMap<String, Environment>,
) -> Result<Setting<Dialect>, ConfigError> {
    let parse = |text: String, at: usize, key: &str| {
        Dialect::parse(&text).ok_or_else(|| {
            reader.error_at(
                at,
                format!("{key}: `{text}` is not a dialect; use {}", Dialect::NAMES),
            )
        })
    };
    let file = match &parsed.migrations.dialect {
        Some(d) => {
            let (text, line) = reader.text(d, "migrations.dialect")?;
            Some((parse(text, d.span().start, "migrations.dialect")?, line))
        }
        None => None,
    };
    let env = match reader.overrides.var("RUNNER_DIALECT") {
        Some((text, name)) => Some((dialect_of_var(&text, name)?, name)),
        None => None,
    };
    let mut url_dialects = environments
        .values()
        .map(|e| e.database_url.value.dialect());
    let inferred = url_dialects
        .next()
        .filter(|first| url_dialects.all(|d| d == *first));
    let setting = pick(None, env, file, || {
        inferred.unwrap_or(super::DEFAULT_DIALECT)
    });
    for e in environments.values() {
        let url_dialect = e.database_url.value.dialect();
        if url_dialect != setting.value {
            let message = format!(
                "environments.{}.database_url is a {} database, but the dialect is {} ({}); make them agree",
                e.name,
                url_dialect.name(),
                setting.value.name(),
                setting.source
            );
            let mut error = ConfigError::new(reader.path, message);
            if let Source::File(line) = e.database_url.source {
                error.line = Some(line);
            }
            return Err(error);
        }
    }
    Ok(setting)
}

fn pipeline(
    reader: &Reader<'_>,
    parsed: &FileConfig,
    environments: &[&String],
) -> Result<Setting<Vec<String>>, ConfigError> {
    let Some(list) = &parsed.deploy.pipeline else {
        return Ok(Setting {
            value: default_pipeline(environments),
            source: Source::Default,
        });
    };
    if list.get_ref().is_empty() {
        return Err(reader.error_at(
            list.span().start,
            "deploy.pipeline is empty; list the environments in deploy order, e.g. [\"staging\", \"production\"]",
        ));
    }
    let mut names: Vec<String> = Vec::new();
    for item in list.get_ref() {
        let (name, _) = reader.text(item, "deploy.pipeline")?;
        if !environments.contains(&&name) {
            let known: Vec<&str> = environments.iter().map(|n| n.as_str()).collect();
            return Err(reader.error_at(
                item.span().start,
                format!(
                    "deploy.pipeline names the environment `{name}`, which is not configured; configured: {}",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
            ));
        }
        if names.contains(&name) {
            return Err(reader.error_at(
                item.span().start,
                format!("deploy.pipeline lists `{name}` twice"),
            ));
        }
        names.push(name);
    }
    Ok(Setting {
        value: names,
        source: Source::File(reader.line_col(list.span().start).0),
    })
}

/// The pipeline when runner.toml names none: staging then production, those of them that are
/// configured; the one environment when it is neither; else staging then production, which
/// `Config::environment` then refuses, pointing at `[deploy] pipeline`.
fn default_pipeline(environments: &[&String]) -> Vec<String> {
    let known: Vec<String> = ["staging", "production"]
        .into_iter()
        .filter(|n| environments.iter().any(|e| e.as_str() == *n))
        .map(String::from)
        .collect();
    match (known.is_empty(), environments) {
        (false, _) => known,
        (true, [only]) => vec![only.to_string()],
        (true, _) => vec!["staging".into(), "production".into()],
    }
}

/// The names of the `${VAR}`s in a value.
fn variables_in(value: &str) -> Vec<String> {
    value
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}
