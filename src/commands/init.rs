//! `runner init`: a commented runner.toml for the project in the current folder, with its
//! migrations folder found, the dialect read from DATABASE_URL, staging then a protected
//! production, and the database URLs left to environment variables. It never overwrites.

use crate::cli::InitArgs;
use crate::config::Dialect;
use crate::error::{Error, ExitCode, Result};

/// Where projects keep their migrations, in the order they are looked for.
const FOLDERS: [&str; 4] = [
    "migrations",
    "db/migrations",
    "sql/migrations",
    "database/migrations",
];

pub fn run(args: &InitArgs) -> Result<ExitCode> {
    let root = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let file = root.join("runner.toml");
    if file.exists() {
        return Err(Error::Usage(format!(
            "{} already exists: runner init never overwrites it; edit it (`runner config` shows every setting), or move it away and run runner init again",
            file.display()
        )));
    }
    let found = FOLDERS.iter().find(|f| root.join(f).is_dir());
    let dir = found.copied().unwrap_or("migrations");
    let (layout, count) = match crate::catalog::Catalog::scan(&root.join(dir)) {
        Ok(catalog) => (catalog.layout, catalog.migrations.len()),
        Err(_) => (crate::catalog::Layout::Runner, 0),
    };
    let (dialect, why) = dialect(args);
    if found.is_none() {
        std::fs::create_dir_all(root.join(dir)).map_err(|e| Error::io(root.join(dir), e))?;
    }
    let text = template(dir, dialect, &why, count, layout);
    std::fs::write(&file, text).map_err(|e| Error::io(&file, e))?;
    crate::report::out::text(&crate::report::setup::initialized(
        found.map(|dir| (*dir, count, layout)),
        dialect,
        &why,
    ));
    Ok(ExitCode::Success)
}

/// The dialect, and why: --dialect, DATABASE_URL's scheme, or PostgreSQL.
fn dialect(args: &InitArgs) -> (Dialect, String) {
    if let Some(d) = args.dialect {
        return (Dialect::from(d), "from --dialect".into());
    }
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let from_url = match scheme.as_str() {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            "sqlite" => Some(Dialect::Sqlite),
            _ => None,
        };
        if let Some(d) = from_url {
            return (d, "from DATABASE_URL".into());
        }
    }
    (
        Dialect::Postgres,
        "the default; pass --dialect or set DATABASE_URL to choose".into(),
    )
}

fn template(
    dir: &str,
    dialect: Dialect,
    why: &str,
    count: usize,
    layout: crate::catalog::Layout,
) -> String {
    let layout_line = match layout {
        crate::catalog::Layout::Runner => "# layout = \"runner\"             # detected from the files; runner, sqlx, golang-migrate, diesel, dbmate, goose, flyway, prisma".to_string(),
        other => format!("layout = \"{}\"                 # detected from the files: read in place, nothing renamed", other.name()),
    };
    format!(
        r#"# runner.toml, written by `runner init`. `runner config` shows every setting and where it
# comes from; `runner COMMAND --help` explains each command.

[migrations]
dir = "{dir}"                  # {count} migration(s) found when this file was written
dialect = "{dialect}"              # {why}
{layout_line}

[deploy]
# A release reaches production only after it succeeded in staging, with the same migrations.
pipeline = ["staging", "production"]

[environments.staging]
# The URL comes from the environment: nothing secret is written here, and runner never prints
# a password. Set it, or pass --database-url (or RUNNER_DATABASE_URL) for one command.
database_url = "${{STAGING_DATABASE_URL}}"
# Safe defaults, shown to be changed knowingly: a statement waits for a gap in conflicting
# locks (gap_wait), then tries under a short lock_timeout, retried with backoff.
# lock_timeout = "100ms"
# lock_retries = 10
# gap_wait = "60s"
# How your app is deployed and checked (argv, no shell; {{env}}, {{version}} filled in):
# deploy = ["scripts/deploy.sh", "{{env}}", "{{version}}"]
# rollback = ["scripts/rollback.sh", "{{env}}", "{{previous_version}}"]
# health = {{ url = "http://127.0.0.1:8080/health", timeout = "60s", interval = "1s" }}

[environments.production]
database_url = "${{PRODUCTION_DATABASE_URL}}"
# Every change here needs --approve (or the environment's name typed at a terminal).
requires_approval = true
# deploy = ["scripts/deploy.sh", "{{env}}", "{{version}}"]
"#,
        dialect = dialect.name()
    )
}
