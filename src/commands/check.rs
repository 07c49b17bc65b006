//! `runner check [PATH...]`: the pre-deploy CI gate.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::catalog::Catalog;
use crate::cli::{CheckArgs, CheckFormat};
use crate::config::{Config, Dialect};
use crate::error::{Error, ExitCode, Result};
use crate::lint::{Options, Report, Rule, check_catalog};
use crate::report::{findings, out};

use super::since;

/// What to check: a migrations folder, and optionally only some of its files.
struct Target {
    dir: PathBuf,
    files: Option<HashSet<String>>,
}

/// `dialect`: `config::dialect_given`'s answer (flag, configuration, environment, default).
pub fn run(config: Option<&Config>, dialect: Dialect, args: &CheckArgs) -> Result<ExitCode> {
    let targets = match (&args.paths[..], config) {
        ([], Some(config)) => vec![Target {
            dir: config.migrations_dir.value.clone(),
            files: None,
        }],
        ([], None) => {
            return Err(Error::Usage(
                "no path given and no runner.toml found: name the migrations to check, e.g. `runner check migrations/`".into(),
            ));
        }
        (paths, _) => group(paths.iter().map(|p| target(p)).collect::<Result<_>>()?),
    };

    let mut report = Report::default();
    for target in targets {
        // [migrations] layout is the configured folder's; another folder shows its own.
        let layout = config
            .filter(|c| c.migrations_dir.value == target.dir)
            .and_then(|c| c.layout);
        let catalog = Catalog::scan_as(&target.dir, layout)?;
        let mut scope = target.files;
        if let Some(reference) = &args.since {
            let changed = since::changed_since(&target.dir, reference)?;
            scope = Some(match scope {
                Some(files) => files.intersection(&changed).cloned().collect(),
                None => changed,
            });
        }
        let options = match config {
            Some(config) => Options::from_config(config, dialect, scope)?,
            None => Options {
                scope,
                ..Options::new(dialect)
            },
        };
        let in_scope = options
            .scope
            .as_ref()
            .map(|files| catalog.versions_of(files));
        report.merge(check_catalog(&catalog, &options));
        if args.verify && !catalog.has_errors() && !catalog.migrations.is_empty() {
            report.findings.extend(verify_findings(
                config,
                args,
                dialect,
                &catalog,
                in_scope.as_ref(),
            )?);
        }
    }

    // Flag debt, for a project's whole check (not for files given as arguments).
    if let (Some(config), true) = (config, args.paths.is_empty()) {
        report.findings.extend(flag_findings(config));
    }

    match args.format {
        CheckFormat::Human => out::text(&findings::human(&report)),
        CheckFormat::Json => out::text(&findings::json(&report)),
        CheckFormat::Github => {
            out::text(&findings::github(&report));
            out::aside(findings::summary(&report));
        }
    }
    Ok(if report.errors() > 0 {
        ExitCode::CheckFailed
    } else {
        ExitCode::Success
    })
}

/// Flags at 100 % everywhere for too long, and flags the code reads that no file defines.
fn flag_findings(config: &Config) -> Vec<crate::lint::Finding> {
    use crate::lint::{Finding, Rule};
    let last = config.pipeline.value.last().cloned().unwrap_or_default();
    let file = config.flags.dir.join(format!("{last}.flagd.json"));
    let shown = |p: &std::path::Path| {
        p.strip_prefix(&config.root)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let mut out: Vec<Finding> = crate::flags::debt::stale(config)
        .into_iter()
        .map(|(key, age)| Finding {
            rule: Rule::StaleFlag,
            severity: Rule::StaleFlag.severity(),
            file: shown(&file),
            line: 1,
            column: 1,
            message: format!(
                "flag {key} has been at 100 % everywhere for {} days",
                age.as_secs() / 86_400
            ),
            help: format!(
                "remove its reads from the code, then `{}`",
                crate::flags::debt::remove_command(config, &key)
            ),
            statement: None,
        })
        .collect();
    out.extend(
        crate::flags::debt::unknown_in_code(config)
            .into_iter()
            .map(|r| Finding {
                rule: Rule::UnknownFlag,
                severity: Rule::UnknownFlag.severity(),
                file: shown(&r.path),
                line: r.line,
                column: 1,
                message: format!("the code reads flag {}, which no flag file defines", r.key),
                help: format!(
                    "create it (`runner flag new {}`), fix the key, or remove the read",
                    r.key
                ),
                statement: None,
            }),
    );
    out
}

/// One target per folder: files given as arguments (what CI and pre-commit hooks pass) are
/// checked with their folder read once, not once per file.
fn group(targets: Vec<Target>) -> Vec<Target> {
    let mut grouped: Vec<Target> = Vec::new();
    for t in targets {
        let dir = t.dir.canonicalize().unwrap_or_else(|_| t.dir.clone());
        let same = grouped
            .iter_mut()
            .find(|g| g.dir.canonicalize().unwrap_or_else(|_| g.dir.clone()) == dir);
        match same {
            Some(g) => {
                g.files = match (g.files.take(), t.files) {
                    (Some(mut a), Some(b)) => {
                        a.extend(b);
                        Some(a)
                    }
                    _ => None,
                }
            }
            None => grouped.push(t),
        }
    }
    grouped
}

fn target(path: &Path) -> Result<Target> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Ok(Target {
            dir: path.to_path_buf(),
            files: None,
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(Target {
        dir,
        files: Some(HashSet::from([name])),
    })
}

/// `--verify`: the rollback round trip of the migrations in scope, as findings.
fn verify_findings(
    config: Option<&Config>,
    args: &CheckArgs,
    dialect: Dialect,
    catalog: &Catalog,
    scope: Option<&HashSet<crate::catalog::Version>>,
) -> Result<Vec<crate::lint::Finding>> {
    use crate::engine::verify::Quiet;
    let server = verify_server(config, args)?;
    let results = super::verify::run_verify(dialect, server.as_ref(), catalog, scope, &mut Quiet)?;
    let mut findings = rollback_findings(catalog, &results);
    findings.extend(compat_findings(
        config,
        args,
        (dialect, server.as_ref()),
        catalog,
        scope,
    )?);
    Ok(findings)
}

/// The serving release's queries (at `--since REF`, else as they are) prepared on the schema
/// before and after each migration in scope.
fn compat_findings(
    config: Option<&Config>,
    args: &CheckArgs,
    (dialect, server): (Dialect, Option<&crate::config::DatabaseUrl>),
    catalog: &Catalog,
    scope: Option<&HashSet<crate::catalog::Version>>,
) -> Result<Vec<crate::lint::Finding>> {
    use crate::compat::{Settings, Tree};
    let root = match config {
        Some(c) => c.root.clone(),
        None => std::env::current_dir().map_err(|e| Error::io(".", e))?,
    };
    let settings = config.map_or_else(Settings::default, |c| c.compat.clone());
    let tree = match &args.since {
        Some(reference) => Tree::At(reference),
        None => Tree::Working,
    };
    let mut queries = crate::compat::load(&root, &settings, dialect, tree)?;
    // What the database of the environment serving the release has seen.
    let statistics = settings.statistics.clone().or_else(|| args.env.clone());
    if let (Some(name), Some(config)) = (statistics, config)
        && !settings.disabled
    {
        let env = config.environment(&name)?;
        queries.extend(crate::runtime::block_on(async {
            let mut conn = crate::engine::open(env, "check").await?;
            let seen = crate::compat::sources::from_statistics(&mut conn).await;
            conn.close().await;
            seen.map_err(|e| {
                crate::engine::db(&format!("read the statement statistics of {name}"), e)
            })
        })?);
    }
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    crate::runtime::block_on(crate::compat::check::on_scratch(
        dialect, server, catalog, scope, &queries,
    ))
}

/// The server `--verify` makes its scratch databases on.
fn verify_server(
    config: Option<&Config>,
    args: &CheckArgs,
) -> Result<Option<crate::config::DatabaseUrl>> {
    Ok(match (args.database_url.as_deref(), config) {
        (_, Some(config)) => {
            super::verify::server_url(config, args.database_url.as_deref(), args.env.as_deref())?
        }
        (None, None) if args.env.is_some() => {
            return Err(Error::Usage(
                "--env needs a runner.toml that defines the environment: none was found (pass --config, or --database-url instead)".into(),
            ));
        }
        (Some(raw), None) => {
            let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
            Some(
                crate::config::DatabaseUrl::parse(raw, &cwd)
                    .map_err(|why| Error::Usage(format!("--database-url {why}")))?,
            )
        }
        (None, _) => None,
    })
}

/// Rollbacks that do not undo their migration, and lossy migrations, as findings.
fn rollback_findings(
    catalog: &Catalog,
    results: &[crate::engine::verify::Verified],
) -> Vec<crate::lint::Finding> {
    use crate::engine::verify::Outcome;
    let prefix = crate::report::shown(&catalog.dir);
    let mut findings = Vec::new();
    for r in results {
        let Some(m) = catalog.migrations.iter().find(|m| m.version == r.version) else {
            continue;
        };
        let file = |name: &str| format!("{prefix}/{name}");
        let down = m
            .rollback
            .as_ref()
            .map_or(m.forward.file_name.clone(), |d| d.file_name.clone());
        let problem = match &r.outcome {
            Outcome::Mismatch {
                differences,
                reapply_error,
            } => Some(format!(
                "the rollback of {} does not restore the schema: {}{}",
                r.label,
                differences
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                reapply_error
                    .as_ref()
                    .map(|e| format!("; applied again, it fails: {e}"))
                    .unwrap_or_default()
            )),
            Outcome::RollbackFailed { error } => {
                Some(format!("the rollback of {} fails: {error}", r.label))
            }
            Outcome::ReapplyFailed { error } => Some(format!(
                "{} fails when applied again after its rollback: {error}",
                r.label
            )),
            _ => None,
        };
        if let Some(message) = problem {
            findings.push(crate::lint::Finding {
                rule: Rule::RollbackMismatch,
                severity: Rule::RollbackMismatch.severity(),
                file: file(&down),
                line: 1,
                column: 1,
                message,
                help: "make the rollback undo exactly what the migration does; `runner verify` shows each difference".into(),
                statement: None,
            });
        }
        for l in &r.lossy {
            findings.push(crate::lint::Finding {
                rule: Rule::LossyMigration,
                severity: Rule::LossyMigration.severity(),
                file: file(&m.forward.file_name),
                line: l.line,
                column: 1,
                message: format!(
                    "{} {}: its rollback cannot bring the data back",
                    r.label, l.what
                ),
                help: "keep destructive steps in contract migrations, after a backup".into(),
                statement: None,
            });
        }
    }
    findings
}
