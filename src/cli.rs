//! The command line: what each command takes, and the help a person reads.

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
4 health checks failed and the deploy was rolled back, 5 a rollback failed, 6 lock timeout,
7 the database could not be reached or the connection was lost, 8 interrupted (SIGINT/SIGTERM),
9 waiting (a canary paused, a flag ramp inconclusive: `runner wait`), 10 a pipeline deploy changed
earlier environments before a later one failed.

Examples:
  runner deploy --with-migrations --version 1.0.0 --approve   the whole pipeline
  runner check                      lint the migrations: the pre-deploy CI gate
  runner migrate --env staging      apply pending migrations behind a lock
  runner plan --env production      show what migrate would do
  runner verify                     prove every rollback on a scratch database
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
    help: stop using the column in the release, and mark this migration `-- runner:phase contract`: it then runs only once the previous release is stopped

  1 error, 0 warnings in 16 files

  $ runner check --since origin/main --format github    # the pull-request gate

With no PATH, checks the migrations folder of runner.toml; given files or folders it needs no
runner.toml. Exit 0 when no error remains (warnings allowed), 1 when errors remain, 2 on bad
usage. `runner explain` lists the rules; suppress one finding with
`-- runner:allow RULE REASON` above its statement.")]
    Check(CheckArgs),

    /// Deploy a release through the pipeline: gate, approval, lock, migrations, deploy hook,
    /// health checks, smoke hook; the previous version is put back automatically on failure.
    #[command(after_help = "\
Example:
  $ runner deploy --with-migrations --version 1.0.0 --approve
  deploy 1.0.0 to staging
    gate                   ok: 7 migration(s) to apply, no lint errors (9 ms)
    approval               not required (0 ms)
    lock                   taken (0 ms)
    migrations             ok: 7 applied (31 ms)
    deploy                 ok (118 ms)
    health                 healthy: after 2 checks in 0.5 s; database ping 0 ms (512 ms)
    smoke                  ok (14 ms)
  deployed 1.0.0 to staging in 0.7 s
  deploy 1.0.0 to production
    ...

With no --env, every environment of [deploy] pipeline in order, stopping at the first failure.
Production gets only a version that succeeded in the environment before it, and only migrations
applied there first. Exit 1 when the gate finds lint errors, 2 without approval, 3 when a
migration fails, 4 when health or smoke checks fail (the previous version was put back),
5 when putting it back failed too, 6 when the lock is not taken in time.")]
    Deploy(DeployArgs),

    /// Take a paused canary to its next step (--full: to 100 %); or, once a release serves
    /// all traffic, stop the previous release kept running and run the contract migrations.
    #[command(after_help = "\
Example:
  $ runner promote --env production
  promote of canary 1.4.0 from 5% to production
    traffic                ok: canary 25% to 1.4.0 on slot green: blue weight 243 ready -> 192 ready, green weight 13 ready -> 64 ready (4 ms)
    ...

A canary with pause = \"manual\" waits at each step for this command. Exit 4 when a step fails
(the stable release then gets all traffic back), 2 when nothing waits.")]
    Promote(PromoteArgs),

    /// Give all traffic of a paused canary back to the stable release, then drain and stop
    /// the canary.
    #[command(after_help = "\
Example:
  $ runner abort --env production
  abort of canary 1.4.0 at 25% to production
    traffic                ok: back to 1.3.0 on slot blue: ...
  aborted by ci at 25%: 1.3.0 serves all of production again")]
    Abort(AbortArgs),

    /// Wait for the rollout in progress in an environment (a paused canary, a deploy running)
    /// to end, and exit with its outcome: for CI jobs that deploy, then wait for a person or
    /// the analysis to promote or abort.
    #[command(after_help = "\
Example:
  $ runner deploy --env production --version 1.4.0 --approve   # exit 9: a canary waits at 5%
  $ runner wait --env production --timeout 2h
  production: canary 1.4.0 paused at 5% (deploy 19a2...); waiting up to 2h
  production: 1.4.0 serves all traffic (succeeded)

Exit 0 when the rollout succeeded (or nothing was in progress), 4 when it was aborted or rolled
back, 5 when putting the previous release back failed, 8 when its run died or was interrupted,
9 when the timeout ran out with the rollout still waiting. Reads only; takes no lock.")]
    Wait(WaitArgs),

    /// The post-deploy dashboard of an environment: versions, last deploy, servers, health,
    /// metrics against their thresholds, the post-deploy checklist, database, migrations, lock.
    #[command(after_help = "\
Example:
  $ runner status --env production
  $ runner status --env production --watch     # refreshed in place

Exit 1 when a health check fails or a metric breaches its threshold (for CI and cron), 0
otherwise; an inconclusive metric (no data, too few requests) is shown with ? and does not
fail it.")]
    Status(StatusArgs),

    /// Deploys and rollbacks of an environment, newest first.
    #[command(after_help = "\
Example:
  $ runner history --env production --limit 10")]
    History(HistoryArgs),

    /// Apply pending migrations to an environment, behind a lock, with full history.
    #[command(after_help = "\
Example:
  $ runner migrate --env staging
  applied V0006 index_orders_by_status (4 ms)
  applied V0007 create_order_totals_view (3 ms)
  2 migrations applied in 31 ms

Each file runs in one transaction with its history row, unless it holds CREATE/DROP INDEX
CONCURRENTLY or REINDEX CONCURRENTLY or says `-- runner:no-transaction`: then it runs
statement by statement, progress recorded after each. Every statement runs under lock_timeout;
a lock timeout is retried with backoff. Before production, every migration must have been
applied with the same checksums to the environment before it in [deploy] pipeline.
Exit 3 when a migration fails (its state is recorded), 6 when the lock is not taken in time.")]
    Migrate(MigrateArgs),

    /// Show what `runner migrate` would do, changing nothing.
    #[command(after_help = "\
Example:
  $ runner plan --env production
  plan for production (sqlite:///srv/shop/.runner/production.db)
  lock: ...
  2 pending:
    V0006 index_orders_by_status  transaction  1 statement  lint: ok

Exit 0 when migrate would run, 2 when it would refuse (the reasons are listed).")]
    Plan(PlanArgs),

    /// Prove each rollback undoes its migration, on a scratch database.
    #[command(after_help = "\
Example:
  $ runner verify
  ok        V0001 create_customers
  ok        V0002 create_products
  ...
  7 verified: 7 ok, 0 mismatch, 0 column-order, 0 failed, 0 skipped, 0 not run, 0 lossy (0.2 s)

For each migration in scope, on a scratch database: apply everything before it, snapshot the
schema, apply it, run its rollback, snapshot again and compare, then apply it again. SQLite uses
a temp file; PostgreSQL a database created on the server of --database-url (or --env) and
dropped afterwards, also on failure and Ctrl-C. Exit 1 when a rollback does not undo its
migration (each differing object is named), or with --strict when a migration is lossy.")]
    Verify(VerifyArgs),

    /// Roll back the application to an earlier release, or migrations with --to/--steps.
    #[command(after_help = "\
Example:
  $ runner rollback --env production                  # the app, to the release before the current
  $ runner rollback --env production --version 1.2.0  # to a release that succeeded there before
  $ runner rollback --env staging --to 5              # migrations newer than V5, newest first
  rolled back V0007 create_order_totals_view (3 ms)

The application rollback runs the rollback hook and is health-checked like a deploy; --force
skips the health checks after a typed confirmation (or --yes) and is recorded as forced.
Migration rollbacks run the rollback SQL stored at apply time, behind the migration lock, and
refuse to pass an irreversible migration. An environment with requires_approval needs
--approve, or typing its name at the prompt. Exit 5 when a rollback fails.")]
    Rollback(RollbackArgs),

    /// Take over another tool's history table (sqlx, Diesel, golang-migrate, dbmate, goose,
    /// Flyway, refinery, Prisma): each applied row mapped to its file, with proof.
    #[command(after_help = "\
Example:
  $ runner adopt --env staging
  adopt staging: _sqlx_migrations (sqlx) holds 12 applied migration(s)
    V20240101000000 users        <- _sqlx_migrations version 20240101000000 (users), checksum proven
    ...
  adopted 12 migration(s) from sqlx into runner's history (12 checksums proven); runner applies only what is pending

`runner migrate` stops before applying anything while a database holds another tool's history
that runner's does not: this command maps each row the tool applied to its file in the
migrations folder, checks the tool's own checksum where it keeps one (sqlx: SHA-384 of the
file; Flyway: its CRC32; refinery: its u64; Prisma: SHA-256), and refuses a dirty, failed or
rolled-back row, a row with no file and a checksum that differs, naming the file, the row and
the way out. Then it records the rows in runner's history as adopted (from which tool, when,
by whom), in one transaction, audited. The tool's table is left as it was: the tool can take
over again. --dry-run shows the mapping and changes nothing. Production needs --approve.")]
    Adopt(AdoptArgs),

    /// Every environment of the pipeline live in a browser: what serves, the rollout in flight,
    /// its metrics as charts, migrations, flags and the journal.
    #[command(after_help = "\
Example:
  $ runner dashboard
  runner dashboard on http://127.0.0.1:9187/ (read-only); Ctrl-C stops it

One page, a JSON API (/api/status, /api/history?env=E) and a live stream (/events, server-sent
events) from the data `runner status` and `runner history` read; the page updates without a
reload and works offline (its assets are in the binary). Read-only by default: with
--allow-actions, promote, abort and rollback can be run from the page, each with the token of
RUNNER_DASHBOARD_TOKEN (compared in constant time) and an approver's name, recorded as the CLI
records them and under the same rules. Listening on anything but loopback requires the token.")]
    Dashboard(DashboardArgs),

    /// Failed-migration recovery: explain what failed migrations left behind and act on it.
    #[command(after_help = "\
Example:
  $ runner recover --env staging
  recover staging (sqlite:///srv/shop/.runner/staging.db)
  V0012 add_region: failed_partial
    it stopped at statement 2 of 3: no such table: regions
    committed: statements 1 to 1: 1. ALTER TABLE orders ADD COLUMN region TEXT
    not committed: statements 2 to 3
    actions:
      `runner recover --env staging --resume 12`    continue at statement 2 once the cause is fixed ...
      `runner recover --env staging --rollback 12`  undo what it committed with the rollback stored when it ran

  $ runner recover --env staging --resume 12

With no action it explains each migration that did not end well, and on a terminal offers the
actions as a choice. Each action runs behind the migration lock, is recorded in the audit log and
runner history, needs --approve on an environment with requires_approval, and ends with the
state and the next command. --mark is for what a person fixed by hand: one version at a time,
with --reason. Exit 3 when the action's migration fails again, 5 when a rollback fails.")]
    Recover(RecoverArgs),

    /// See who holds the migration lock, or release it.
    #[command(
        subcommand,
        after_help = "\
Example:
  $ runner lock status --env staging
  $ runner lock release --env staging --force"
    )]
    Lock(LockCommand),

    /// Feature flags with a lifecycle, written in the OpenFeature flagd format: development,
    /// on in each environment of the pipeline in turn, the last one ramped 5 -> 50 -> 100 %,
    /// removed.
    #[command(
        subcommand,
        after_help = "\
Example:
  $ runner flag new new-checkout
  $ runner flag promote new-checkout --env staging
  $ runner flag promote new-checkout --env production --approve          # 5 %
  $ runner flag promote new-checkout --env production --auto --approve   # 50 %, 100 %, each step judged by the metrics
  $ runner flag list
  $ runner flag remove new-checkout

Each environment's flags are in [flags] dir (default flags/<env>.flagd.json), which any
OpenFeature SDK with the flagd provider in file mode reads. Every change is recorded in the
environment's audit log with who and why."
    )]
    Flag(FlagCommand),

    /// Print a lint rule's documentation, or list the rules.
    #[command(after_help = "\
Example:
  $ runner explain
  $ runner explain add-column-rewrite")]
    Explain(ExplainArgs),

    /// Start a project: write a commented runner.toml for the project in this folder.
    #[command(after_help = "\
Example:
  $ cd my-app && DATABASE_URL=postgres://localhost/app runner init
  found migrations/ (12 migrations in runner's layout); dialect postgres (from DATABASE_URL)
  wrote runner.toml: staging, then production (protected); their database URLs are
  ${STAGING_DATABASE_URL} and ${PRODUCTION_DATABASE_URL}
  next: `runner check`

It finds the migrations folder (migrations/, db/migrations/, sql/migrations/,
database/migrations/; created when there is none), reads the dialect from --dialect, else
DATABASE_URL's scheme, else takes PostgreSQL, and never overwrites a runner.toml.")]
    Init(InitArgs),

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

    /// Print a shell completion script, generated from runner's own command line.
    #[command(after_help = "\
Example:
  $ runner completions bash > ~/.local/share/bash-completion/completions/runner
  $ runner completions zsh > ~/.zfunc/_runner        # with fpath+=~/.zfunc in .zshrc
  $ runner completions fish > ~/.config/fish/completions/runner.fish")]
    Completions(CompletionsArgs),

    /// Print runner's man page (roff), generated from its command line.
    #[command(after_help = "\
Example:
  $ runner man > runner.1 && man ./runner.1
  $ runner man | sudo tee /usr/local/share/man/man1/runner.1 >/dev/null")]
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Migration files or folders to check. Default: the migrations folder of runner.toml.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// The SQL dialect. Default: RUNNER_DIALECT, else [migrations] dialect in runner.toml, else
    /// postgres.
    #[arg(long, value_enum)]
    pub dialect: Option<DialectArg>,

    #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
    pub format: CheckFormat,

    /// Lint only migrations added or changed since this git ref (the rest are already
    /// applied); layout problems are still reported for the whole folder.
    #[arg(long, value_name = "GIT_REF")]
    pub since: Option<String>,

    /// Also prove each rollback in scope on a scratch database (SQLite: always possible;
    /// PostgreSQL: needs --database-url).
    #[arg(long)]
    pub verify: bool,

    /// With --verify on PostgreSQL: the server to create the scratch database on.
    #[arg(long, value_name = "URL", requires = "verify")]
    pub database_url: Option<String>,

    /// With --verify: create the scratch database on this environment's server (its
    /// database_url); runner creates and drops its own database there.
    #[arg(
        long,
        value_name = "ENV",
        requires = "verify",
        conflicts_with = "database_url"
    )]
    pub env: Option<String>,
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

/// The environment a command works on.
#[derive(Debug, Clone, Args)]
pub struct EnvArgs {
    /// The environment, as named in runner.toml's [environments.NAME].
    #[arg(long, value_name = "ENV")]
    pub env: String,

    /// Override the environment's database URL (env RUNNER_DATABASE_URL).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// A migration version as runner prints it (`V0247`), or plain (`247`, `0247`).
pub fn migration_version(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['V', 'v']).unwrap_or(text);
    digits
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0 && !digits.starts_with('+'))
        .ok_or_else(|| {
            format!("`{text}` is not a migration version: write it as 247, 0247 or V0247")
        })
}

fn duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. 500ms, 5s, 2m"))
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Apply up to and including this version, no further.
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub target: Option<i64>,

    /// Admit this pending migration although a later one is already applied (repeatable).
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub allow_out_of_order: Vec<i64>,

    /// Record the database as already at VERSION without running anything (to adopt runner
    /// on a live database).
    #[arg(long, value_name = "VERSION", value_parser = migration_version, conflicts_with_all = ["target", "resume"])]
    pub baseline: Option<i64>,

    /// Continue a statement-mode migration that stopped part-way (failed_partial) from its
    /// first statement not committed.
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub resume: Option<i64>,

    /// Apply contract migrations (`-- runner:phase contract`) too. Without it, migrate stops
    /// before the first one: they remove what the previous release still uses, and run in
    /// `runner deploy` once it is stopped. Give it when no earlier release runs any more.
    #[arg(long)]
    pub contract: bool,

    /// How long to wait for the migration lock before giving up (exit 6).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub lock_wait: std::time::Duration,

    /// How long one statement may wait for a table lock before it is retried. Default: the
    /// environment's lock_timeout in runner.toml, else 5s.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub lock_timeout: Option<std::time::Duration>,

    /// How many times a statement that hit lock_timeout is retried. Default: the
    /// environment's lock_retries, else 5.
    #[arg(long, value_name = "N")]
    pub lock_retries: Option<u32>,

    /// How long one statement may run. Default: the environment's statement_timeout, else no limit.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub statement_timeout: Option<std::time::Duration>,

    /// The application release this migration ships with, recorded in the history.
    #[arg(long, value_name = "VERSION")]
    pub release: Option<String>,

    /// Approve the change of an environment with requires_approval without a prompt (who
    /// approved is recorded).
    #[arg(long)]
    pub approve: bool,

    #[arg(long, value_enum, default_value_t = ProgressFormat::Human)]
    pub format: ProgressFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressFormat {
    /// A progress bar on a terminal, plain lines otherwise.
    Human,
    /// One JSON event per line.
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Plan up to and including this version.
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub target: Option<i64>,

    /// As for migrate.
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub allow_out_of_order: Vec<i64>,

    /// As for migrate.
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub resume: Option<i64>,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Versions to verify. Default: every migration (see also --since).
    #[arg(value_name = "VERSION", value_parser = migration_version)]
    pub versions: Vec<i64>,

    /// Verify only migrations added or changed since this git ref.
    #[arg(long, value_name = "GIT_REF")]
    pub since: Option<String>,

    /// PostgreSQL: the server to create the scratch database on (any database of it).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// PostgreSQL: create the scratch database on this environment's server.
    #[arg(long, value_name = "ENV", conflicts_with = "database_url")]
    pub env: Option<String>,

    /// Treat lossy migrations (their forward script destroys data) as errors.
    #[arg(long)]
    pub strict: bool,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// A paused canary: straight to 100 %, skipping the steps left.
    #[arg(long)]
    pub full: bool,

    /// Approve, in an environment with requires_approval, without a prompt.
    #[arg(long)]
    pub approve: bool,

    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub lock_wait: std::time::Duration,

    #[arg(long, value_enum, default_value_t = ProgressFormat::Human)]
    pub format: ProgressFormat,
}

#[derive(Debug, Args)]
pub struct AbortArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Approve the abort on an environment with requires_approval without a prompt.
    #[arg(long)]
    pub approve: bool,

    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub lock_wait: std::time::Duration,

    #[arg(long, value_enum, default_value_t = ProgressFormat::Human)]
    pub format: ProgressFormat,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Migrations: roll back every applied migration newer than VERSION (VERSION stays
    /// applied; 0 rolls back everything).
    #[arg(long, value_name = "VERSION", value_parser = migration_version, conflicts_with_all = ["version", "force"])]
    pub to: Option<i64>,

    /// Migrations: roll back the newest N applied migrations.
    #[arg(long, value_name = "N", conflicts_with_all = ["to", "version", "force"])]
    pub steps: Option<usize>,

    /// Migrations: run the current .down.sql files instead of the rollbacks stored at apply
    /// time (a diff is shown when they differ).
    #[arg(long)]
    pub use_file: bool,

    /// Application: the release to go back to (one that succeeded in this environment before).
    /// Default: the release before the current one.
    #[arg(long, value_name = "RELEASE")]
    pub version: Option<String>,

    /// Application: skip the health checks (asks to confirm; recorded as forced).
    #[arg(long)]
    pub force: bool,

    /// Confirm --force without a prompt.
    #[arg(long)]
    pub yes: bool,

    /// Application: also roll back the migrations applied by the deploys being undone.
    #[arg(long)]
    pub with_migrations: bool,

    /// Approve a rollback of an environment with requires_approval, without a prompt.
    #[arg(long)]
    pub approve: bool,

    /// Show what the rollback would do (from which release to which, or which migrations,
    /// newest first) and change nothing: no lock, no row. Exit 2 when it would be refused.
    #[arg(long)]
    pub dry_run: bool,

    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub lock_wait: std::time::Duration,

    #[arg(long, value_enum, default_value_t = ProgressFormat::Human)]
    pub format: ProgressFormat,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Where to listen; anything but loopback requires RUNNER_DASHBOARD_TOKEN.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9187")]
    pub listen: String,

    /// Allow promote, abort and rollback from the page (each with the token and an approver).
    #[arg(long)]
    pub allow_actions: bool,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Show how each row maps to its file, and what stops the takeover, changing nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Approve, in an environment with requires_approval, without a prompt.
    #[arg(long)]
    pub approve: bool,

    /// How long to wait for the migration lock before giving up (exit 6).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub lock_wait: std::time::Duration,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("action").multiple(false).args(["retry", "resume", "rollback", "mark", "drop_invalid_index", "statement"])))]
pub struct RecoverArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// Run a failed_clean migration again (nothing of it was committed; the file may be edited).
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub retry: Option<i64>,

    /// Continue a failed_partial migration at its first statement not committed (refused, with
    /// a diff, when a committed statement was edited since).
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub resume: Option<i64>,

    /// Undo what a partial migration (or a stopped rollback) committed, with the rollback stored
    /// when it ran, or with --use-file the .down.sql on disk (shown as a diff first).
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub rollback: Option<i64>,

    /// With --rollback: run the .down.sql on disk instead of the stored rollback.
    #[arg(long, requires = "rollback")]
    pub use_file: bool,

    /// A person finished VERSION by hand: record it as `applied` or `rolled-back` (needs
    /// --reason; one version at a time).
    #[arg(long, num_args = 2, value_names = ["VERSION", "STATE"], requires = "reason")]
    pub mark: Vec<String>,

    /// Why --mark is true, recorded with who said it.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Drop the INVALID index a failed CREATE INDEX CONCURRENTLY of VERSION left.
    #[arg(long, value_name = "VERSION", value_parser = migration_version)]
    pub drop_invalid_index: Option<i64>,

    /// Say whether the statement in flight when a run (or a rollback) of VERSION stopped took
    /// effect: `done` or `not-done` (for statements whose effect the catalog cannot show).
    #[arg(long, num_args = 2, value_names = ["VERSION", "done|not-done"])]
    pub statement: Vec<String>,

    /// Approve an action on an environment with requires_approval without a prompt.
    #[arg(long)]
    pub approve: bool,

    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub lock_wait: std::time::Duration,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Deploy to this environment only. Default: every environment of [deploy] pipeline, in order.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// The release to deploy: letters, digits, `.`, `_` and `-`.
    #[arg(long, value_name = "RELEASE")]
    pub version: String,

    /// Apply pending migrations (behind the same lock) before the deploy hook.
    #[arg(long)]
    pub with_migrations: bool,

    /// Deploy although migrations are pending for the environment, without applying them
    /// (for a release that does not need them; recorded in the journal). Without it, a deploy
    /// with pending migrations and no --with-migrations is refused.
    #[arg(long, conflicts_with = "with_migrations")]
    pub allow_pending: bool,

    /// Approve environments with requires_approval without a prompt (who approved is recorded).
    #[arg(long)]
    pub approve: bool,

    /// Show, for each environment, what the deploy would do (the preflight's verdict, the
    /// migrations, the strategy's steps, the approval needed) and change nothing: no lock is
    /// taken, no row is written. Exit 0 when it would go ahead, 2 when it would be refused.
    #[arg(long)]
    pub dry_run: bool,

    /// When the deploy fails, also roll back the migrations it applied, if every one of them has
    /// a rollback that runner verify proves. Default: they stay (expand migrations are backward
    /// compatible), unless [deploy] rollback_migrations = true.
    #[arg(long)]
    pub rollback_migrations: bool,

    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub lock_wait: std::time::Duration,

    /// Once the release serves all traffic, watch it this long (health and metrics against
    /// their thresholds) before the previous release is retired; a breach puts the previous
    /// release back (exit 4). Default: [deploy] watch, else off.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub watch: Option<std::time::Duration>,

    #[arg(long, value_enum, default_value_t = ProgressFormat::Human)]
    pub format: ProgressFormat,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// How long to wait before giving up (exit 9, the rollout left as it is).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// How long the metrics are measured for (two scrapes this far apart; a Prometheus
    /// source uses its window).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration)]
    pub window: std::time::Duration,

    /// Refresh the dashboard in place (a terminal): for DURATION (as `deploy --watch` takes
    /// one: 90s, 10m), or until Ctrl-C when no duration is given.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, value_parser = duration)]
    pub watch: Option<Option<std::time::Duration>>,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// How many entries, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,

    /// One run in full: every phase with what it decided (weights before and after, drain
    /// waits, each server's health), hook output, error. ID from the table (a prefix is
    /// enough), or `last`.
    #[arg(long, value_name = "ID", alias = "deploy")]
    pub show: Option<String>,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum FlagCommand {
    /// A new flag, off in every environment (development).
    New(FlagNewArgs),
    /// The next stage in an environment: fully on (an environment before the last), or the
    /// next step of the ramp (the last one). --auto walks the rest of the ramp.
    Promote(FlagPromoteArgs),
    /// An exact percentage in an environment (0 or 100 before the last one).
    Set(FlagSetArgs),
    /// Back one stage in an environment, at once.
    Rollback(FlagChangeArgs),
    /// Every flag, its stage and its percentage per environment.
    #[command(alias = "status")]
    List(FlagListArgs),
    /// Removes a flag that is at 100 % everywhere; refused while the code still reads it.
    Remove(FlagRemoveArgs),
}

#[derive(Debug, Args)]
pub struct FlagNewArgs {
    pub key: String,
    /// Why, for the audit log.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct FlagChangeArgs {
    pub key: String,
    #[arg(long)]
    pub env: String,
    /// Why, for the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    /// Approve the change in an environment with requires_approval, without a prompt.
    #[arg(long)]
    pub approve: bool,
}

#[derive(Debug, Args)]
pub struct FlagPromoteArgs {
    #[command(flatten)]
    pub change: FlagChangeArgs,
    /// The last environment: walk the rest of the ramp, holding each step for [flags] pause
    /// while the metrics are judged; a breach puts the previous step back.
    #[arg(long)]
    pub auto: bool,
}

#[derive(Debug, Args)]
pub struct FlagSetArgs {
    #[command(flatten)]
    pub change: FlagChangeArgs,
    #[arg(long, value_name = "N")]
    pub percent: u32,
}

#[derive(Debug, Args)]
pub struct FlagListArgs {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct FlagRemoveArgs {
    pub key: String,
    /// Remove it although the code still reads it (the listed places then get the code's
    /// default value).
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub reason: Option<String>,
    /// Approve removing it from environments with requires_approval, without a prompt.
    #[arg(long)]
    pub approve: bool,
}

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Who holds the migration lock of an environment, if anyone.
    Status(LockStatusArgs),
    /// Free the lock. Refused while its holder is alive, unless --force, which ends the
    /// holder's session (PostgreSQL) or process (SQLite) and records it in the audit log.
    Release(LockReleaseArgs),
}

#[derive(Debug, Args)]
pub struct LockStatusArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct LockReleaseArgs {
    #[command(flatten)]
    pub env: EnvArgs,

    /// End the holder even though it is alive.
    #[arg(long)]
    pub force: bool,

    /// Approve a forced release on an environment with requires_approval without a prompt.
    #[arg(long)]
    pub approve: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A rule id, e.g. drop-column. Without it, every rule is listed.
    pub rule: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The SQL dialect. Default: DATABASE_URL's scheme when it is set, else postgres.
    #[arg(long, value_enum)]
    pub dialect: Option<DialectArg>,
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
