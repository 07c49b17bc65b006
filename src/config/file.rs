//! The shape of runner.toml as written, before interpolation and validation.
//!
//! Every table denies unknown keys, and string values keep their position in the file so an
//! error can name the line. Validation into the `Config` that commands use lives in `resolve`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type Text = Spanned<String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub migrations: MigrationsTable,
    #[serde(default)]
    pub lint: LintTable,
    #[serde(default)]
    pub deploy: DeployTable,
    #[serde(default)]
    pub history: HistoryTable,
    #[serde(default)]
    pub notify: NotifyTable,
    #[serde(default)]
    pub flags: FlagsTable,
    #[serde(default)]
    pub compat: CompatTable,
    #[serde(default)]
    pub environments: BTreeMap<String, Spanned<EnvironmentTable>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationsTable {
    pub dir: Option<Text>,
    pub dialect: Option<Text>,
    pub layout: Option<Text>,
    pub mirror: Option<Text>,
}

/// `[compat]`: where the serving release's queries are (`runner check --verify`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompatTable {
    pub sqlx: Option<Text>,
    #[serde(default)]
    pub queries: Vec<Text>,
    pub enabled: Option<bool>,
    pub statistics: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintTable {
    #[serde(default)]
    pub disable: Vec<Text>,
    pub postgres_version: Option<Spanned<u32>>,
    pub mysql_version: Option<Text>,
    pub search_path: Option<Spanned<Vec<Text>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryTable {
    pub prefix: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployTable {
    pub pipeline: Option<Spanned<Vec<Text>>>,
    pub rollback_migrations: Option<bool>,
    pub hook_timeout: Option<Text>,
    pub lease: Option<Text>,
    pub watch: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyTable {
    #[serde(default)]
    pub webhooks: Vec<WebhookTable>,
    pub timeout: Option<Text>,
    pub retries: Option<Spanned<u32>>,
    pub events: Option<Spanned<Vec<Text>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagsTable {
    pub dir: Option<Text>,
    pub steps: Option<Spanned<Vec<Spanned<u32>>>>,
    pub pause: Option<Text>,
    pub stale_after: Option<Text>,
    pub search: Option<Spanned<Vec<Text>>>,
    pub pattern: Option<Text>,
    pub push: Option<Spanned<Vec<Text>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTable {
    pub url: Text,
    pub format: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentTable {
    pub database_url: Text,
    #[serde(default)]
    pub requires_approval: bool,
    pub lock_timeout: Option<Text>,
    pub statement_timeout: Option<Text>,
    pub lock_retries: Option<Spanned<u32>>,
    pub gap_wait: Option<Text>,
    pub deploy: Option<Spanned<Vec<Text>>>,
    pub rollback: Option<Spanned<Vec<Text>>>,
    pub smoke: Option<Spanned<Vec<Text>>>,
    pub health: Option<HealthTable>,
    /// A Prometheus text URL, or a table (`config::metrics`).
    pub metrics: Option<Spanned<toml::Value>>,
    pub strategy: Option<Text>,
    /// A hook run per server to stop the release it runs (after it was drained).
    pub stop: Option<Spanned<Vec<Text>>>,
    pub servers: Option<Spanned<Vec<ServerTable>>>,
    pub router: Option<RouterTable>,
    pub rollout: Option<RolloutTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTable {
    pub name: Text,
    pub address: Text,
    pub slot: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterTable {
    pub kind: Text,
    /// HAProxy: the runtime API's socket and the backend.
    pub socket: Option<Text>,
    pub backend: Option<Text>,
    /// nginx: the upstream file runner writes, the upstream's name, how to test and reload
    /// the configuration, and nginx's pid file.
    pub file: Option<Text>,
    pub upstream: Option<Text>,
    pub test: Option<Spanned<Vec<Text>>>,
    pub reload: Option<Spanned<Vec<Text>>>,
    pub pid: Option<Text>,
    pub start: Option<Spanned<Vec<Text>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutTable {
    pub steps: Option<Spanned<Vec<Spanned<u32>>>>,
    pub pause: Option<Text>,
    pub batch: Option<Spanned<BatchValue>>,
    pub drain_timeout: Option<Text>,
    pub keep_previous: Option<Text>,
}

/// `batch = 2` (servers) or `batch = "25%"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum BatchValue {
    Servers(u32),
    Percent(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthTable {
    pub url: Text,
    pub timeout: Option<Text>,
    pub interval: Option<Text>,
    pub healthy_after: Option<Spanned<u32>>,
    pub unhealthy_after: Option<Spanned<u32>>,
    pub max_db_latency: Option<Text>,
}
