//! What `runner check` checks and how: the dialect, the rules turned off, the files in scope,
//! and the server versions and schema the rules judge against (`[lint]` in runner.toml).

use std::collections::HashSet;

use super::Rule;
use crate::config::{Config, ConfigError, Dialect};

/// What to check and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub dialect: Dialect,
    /// Rules turned off in runner.toml (`[lint] disable`).
    pub disabled: HashSet<Rule>,
    /// File names to lint; `None` lints every migration. A migration is in scope when its
    /// forward file or its rollback is named. The migrations in scope are taken as not yet
    /// applied: a table one of them creates is new to the ones after it.
    pub scope: Option<HashSet<String>>,
    /// The PostgreSQL version the migrations will run on: some locks depend on it.
    pub postgres_version: u32,
    /// The schema unqualified names live in (PostgreSQL).
    pub default_schema: String,
    /// The MySQL or MariaDB server the migrations will run on: which ALTERs are instant
    /// depends on it.
    pub mysql_version: MysqlVersion,
    /// Keep each forward file's parse for the rest of the process (`parse::parse_file`): the
    /// gate sets it, since its plans read the same files again; `runner check` does not, so
    /// it holds no parse longer than it needs it.
    pub keep_parses: bool,
}

/// A MySQL or MariaDB server version (`[lint] mysql_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MysqlVersion {
    pub mariadb: bool,
    pub version: (u32, u32, u32),
}

impl Default for MysqlVersion {
    /// MySQL 8.4 (the long-term release), which adds columns instantly anywhere, as MariaDB
    /// 10.4 and later do.
    fn default() -> Self {
        MysqlVersion {
            mariadb: false,
            version: (8, 4, 0),
        }
    }
}

impl std::fmt::Display for MysqlVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b, c) = self.version;
        let name = if self.mariadb { "MariaDB" } else { "MySQL" };
        write!(f, "{name} {a}.{b}.{c}")
    }
}

impl MysqlVersion {
    /// `8.0.28`, `mysql 8.0.28`, `mariadb 10.3`, `10.11.6-MariaDB` (what `SELECT VERSION()`
    /// says). MariaDB's numbers (10.x, 11.x) are MariaDB without saying so.
    pub fn parse(text: &str) -> Option<MysqlVersion> {
        let lower = text.trim().to_ascii_lowercase();
        let said_mariadb = lower.contains("mariadb");
        let said_mysql = lower.starts_with("mysql");
        let digits = lower
            .trim_start_matches("mariadb")
            .trim_start_matches("mysql")
            .trim_start_matches([' ', '-']);
        let number: String = digits
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = number.split('.').filter(|p| !p.is_empty());
        let major: u32 = parts.next()?.parse().ok()?;
        let minor: u32 = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch: u32 = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let mariadb = said_mariadb || (!said_mysql && (10..=12).contains(&major));
        let known = if mariadb {
            (5..=12).contains(&major)
        } else {
            (5..=9).contains(&major)
        };
        known.then_some(MysqlVersion {
            mariadb,
            version: (major, minor, patch),
        })
    }

    /// Adds a column instantly at any position (MySQL 8.0.29, MariaDB 10.4).
    pub fn instant_add_anywhere(self) -> bool {
        if self.mariadb {
            self.version >= (10, 4, 0)
        } else {
            self.version >= (8, 0, 29)
        }
    }

    /// Adds a column instantly at the end (MySQL 8.0.12, MariaDB 10.3).
    pub fn instant_add_at_end(self) -> bool {
        if self.mariadb {
            self.version >= (10, 3, 0)
        } else {
            self.version >= (8, 0, 12)
        }
    }
}

/// PostgreSQL's version when runner.toml does not say (`[lint] postgres_version`).
pub const DEFAULT_POSTGRES_VERSION: u32 = 15;

/// The rules `[lint] disable` turns off, or an error naming the line of an unknown id.
pub fn disabled_rules(config: &Config) -> Result<HashSet<Rule>, ConfigError> {
    config
        .lint_disable
        .iter()
        .map(|id| {
            Rule::from_id(&id.value).ok_or_else(|| {
                config.error_at(
                    id.line,
                    id.column,
                    format!(
                        "lint.disable: unknown rule `{}`; `runner explain` lists the rules",
                        id.value
                    ),
                )
            })
        })
        .collect()
}

impl Options {
    /// The options runner.toml gives (rules disabled, PostgreSQL version, search path), for
    /// the files in `scope`.
    pub fn from_config(
        config: &Config,
        dialect: Dialect,
        scope: Option<HashSet<String>>,
    ) -> Result<Options, ConfigError> {
        Ok(Options {
            disabled: disabled_rules(config)?,
            scope,
            postgres_version: config.postgres_version.unwrap_or(DEFAULT_POSTGRES_VERSION),
            default_schema: config
                .default_schema
                .clone()
                .unwrap_or_else(|| "public".into()),
            mysql_version: match &config.mysql_version {
                None => MysqlVersion::default(),
                Some(v) => MysqlVersion::parse(&v.value).ok_or_else(|| {
                    config.error_at(
                        v.line,
                        v.column,
                        format!(
                            "lint.mysql_version: `{}` is not a MySQL or MariaDB version; write e.g. \"8.0.28\" or \"mariadb 10.11\" (what SELECT VERSION() says)",
                            v.value
                        ),
                    )
                })?,
            },
            ..Options::new(dialect)
        })
    }

    pub fn new(dialect: Dialect) -> Self {
        Options {
            dialect,
            disabled: HashSet::new(),
            scope: None,
            postgres_version: DEFAULT_POSTGRES_VERSION,
            default_schema: "public".into(),
            mysql_version: MysqlVersion::default(),
            keep_parses: false,
        }
    }
}
