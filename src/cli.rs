//! The command line: what each command takes, and the help a person reads.
//!
//! Only commands that work are listed; `migrate`, `plan`, `verify`, `rollback`, `deploy` and
//! `recover` arrive with their issues.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "A migration-aware deploy runner: ships schema migrations and application code together, safely.";

const LONG_ABOUT: &str = "\
runner is a migration-aware deploy runner: it ships schema migrations and application code together, safely.

It makes the path from a merged migration to production safe and boring. It knows your
migrations (V{version}__{name}.sql, each paired with V{version}__{name}.down.sql), lints them
for changes that break the release still serving traffic or lock hot tables, applies them behind
a lock with a full history, proves each rollback works, and deploys your app with health checks
and automatic rollback.

Configuration lives in runner.toml, found in the current folder or the nearest parent.";

const AFTER_HELP: &str = "\
Settings: a flag beats an environment variable (RUNNER_CONFIG, RUNNER_MIGRATIONS_DIR,
RUNNER_DIALECT, RUNNER_DATABASE_URL), which beats runner.toml, which beats the default.
`runner config` shows each setting and where it came from.

Exit codes: 0 ok, 1 check found errors, 2 usage/config/input error, 3 a migration failed,
4 health checks failed and the deploy was rolled back, 5 a rollback failed, 6 lock timeout.

Examples:
  runner check                      lint the migrations: the pre-deploy CI gate
  runner new add_customer_email     create the next migration and its rollback
  runner catalog                    list migrations with their rollbacks and checksums
  runner config --env staging       show the resolved configuration of one environment";

#[derive(Debug, Parser)]
#[command(name = "runner", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalOptions {
    /// Path to runner.toml (env RUNNER_CONFIG). Default: runner.toml in the current folder or
    /// the nearest parent.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The migrations folder (env RUNNER_MIGRATIONS_DIR). Default: [migrations] dir in
    /// runner.toml, else `migrations` beside it.
    #[arg(long, global = true, value_name = "DIR")]
    pub migrations_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint migrations: backward compatibility, locks and rewrites, rollback pairing, file layout.
    #[command(after_help = "\
Example:
  $ runner check
  migrations/V0008__drop_phone.sql:1:1: error[drop-column] drops column customers.phone, which the release now serving traffic may still read or write
    help: stop using the column in a release first, then drop it in a later contract migration with `-- runner:allow drop-column <reason>`

  1 error, 0 warnings in 16 files

  $ runner check --since origin/main --format github    # the pull-request gate

With no PATH, checks the migrations folder of runner.toml; given files or folders it needs no
runner.toml. Exit 0 when no error remains (warnings allowed), 1 when errors remain, 2 on bad
usage. `runner explain` lists the rules; suppress one finding with
`-- runner:allow RULE REASON` above its statement.")]
    Check(CheckArgs),

    /// Print a lint rule's documentation, or list the rules.
    #[command(after_help = "\
Example:
  $ runner explain
  $ runner explain add-column-rewrite")]
    Explain(ExplainArgs),

    /// Create the next migration and its rollback script.
    #[command(after_help = "\
Example:
  $ runner new add_customer_email
  created migrations/V0008__add_customer_email.sql
  created migrations/V0008__add_customer_email.down.sql

The version is one past the highest in the folder, zero-padded like the existing files
(4 digits in a new folder).")]
    New(NewArgs),

    /// List the migrations: version, name, transaction mode, phase, rollback pairing and checksums.
    #[command(after_help = "\
Example:
  $ runner catalog
  VERSION  NAME              MODE         PHASE   ROLLBACK  SHA256        NORMALIZED    REFINERY
  V0001    create_customers  transaction  expand  paired    1f0c3a9e4b2d  8e21d0c7aa41  5c0b8d1e...

Every file runner will not run is reported by name with the reason; then runner exits 2.
With --format json the full checksums are printed, and the problems too.")]
    Catalog(CatalogArgs),

    /// Show the resolved configuration: every setting, its value and where it came from.
    #[command(after_help = "\
Example:
  $ runner config --env staging
  config file     /srv/shop/runner.toml
  migrations dir  /srv/shop/migrations    (runner.toml line 2)
  ...

Database passwords are always shown as ***.")]
    Config(ConfigArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Migration files or folders to check. Default: the migrations folder of runner.toml.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The SQL dialect. Default: [migrations] dialect in runner.toml, else postgres.
    #[arg(long, value_enum)]
    pub dialect: Option<DialectArg>,

    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,

    /// Lint only migrations added or changed since this git ref (the rest are already
    /// applied); layout problems are still reported for the whole folder.
    #[arg(long, value_name = "GIT_REF")]
    pub since: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// file:line:col, rule, message and help, then a summary line.
    Human,
    /// {"files_checked": N, "findings": [{rule, severity, file, line, column, message, help}]}
    Json,
    /// GitHub Actions workflow annotations.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DialectArg {
    Postgres,
    Sqlite,
    Mysql,
}

impl From<DialectArg> for crate::config::Dialect {
    fn from(d: DialectArg) -> Self {
        match d {
            DialectArg::Postgres => crate::config::Dialect::Postgres,
            DialectArg::Sqlite => crate::config::Dialect::Sqlite,
            DialectArg::Mysql => crate::config::Dialect::Mysql,
        }
    }
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A rule id, e.g. drop-column. Without it, every rule is listed.
    pub rule: Option<String>,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The migration's name: lower-case letters, digits and underscores, e.g. add_customer_email.
    pub name: String,

    /// Create no rollback file and mark the migration irreversible, with this reason.
    #[arg(long, value_name = "REASON")]
    pub irreversible: Option<String>,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Show only this environment, with --database-url and RUNNER_DATABASE_URL applied to it.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// Override the database URL of --env (env RUNNER_DATABASE_URL).
    #[arg(long, value_name = "URL", requires = "env")]
    pub database_url: Option<String>,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON document for programs.
    Json,
}
