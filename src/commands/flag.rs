//! `runner flag new|promote|set|rollback|list|remove`: feature flags through the pipeline, in
//! the OpenFeature flagd format, every change approved where the environment requires it and
//! recorded in its audit log.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cli::{FlagChangeArgs, FlagCommand, Format};
use crate::config::{Config, Environment};
use crate::deploy::approval;
use crate::engine::history::History;
use crate::error::{Error, ExitCode, Result};
use crate::flags::debt::{full_for, protected_environments, stale, unknown_in_code};
use crate::flags::flagd::Flag;
use crate::flags::judge::{Judged, judge};
use crate::flags::{Move, Store, references, validate_key};
use crate::report::{flag as report, out};
use crate::runtime::block_on;

pub fn run(config: &Config, command: &FlagCommand) -> Result<ExitCode> {
    if config.pipeline.value.is_empty() {
        return Err(Error::Usage(
            "flags move through [deploy] pipeline, which is empty".into(),
        ));
    }
    let store = Store { config };
    match command {
        FlagCommand::New(a) => new(&store, &a.key, a.reason.as_deref()),
        FlagCommand::Promote(a) if a.auto => auto(&store, &a.change),
        FlagCommand::Promote(a) => {
            change(&store, &a.change, Move::Promote).map(|_| ExitCode::Success)
        }
        FlagCommand::Set(a) => {
            change(&store, &a.change, Move::To(a.percent)).map(|_| ExitCode::Success)
        }
        FlagCommand::Rollback(a) => change(&store, a, Move::Back).map(|_| ExitCode::Success),
        FlagCommand::List(a) => list(&store, a.format),
        FlagCommand::Remove(a) => remove(&store, a),
    }
}

fn usage(e: String) -> Error {
    Error::Usage(e)
}

/// Appends to `env`'s audit log (runner_events in its database). A change that cannot be
/// recorded is not made.
fn audit(config: &Config, env: &Environment, kind: &str, detail: &str) -> Result<()> {
    block_on(async {
        let mut conn = crate::engine::open(env, "flag").await?;
        let history = History::new(&config.history_prefix, conn.dialect());
        history
            .ensure(&mut conn)
            .await
            .map_err(|e| crate::engine::db("create the history tables", e))?;
        let info = crate::runtime::run_info(&env.name, None);
        let result = history
            .event(&mut conn, &info, None, kind, detail)
            .await
            .map_err(|e| crate::engine::db("record the flag change in the audit log", e));
        conn.close().await;
        result
    })
}

/// `[flags] push`, after a file changed.
fn push(config: &Config, env: &str, path: &std::path::Path) -> Result<()> {
    let Some(argv) = &config.flags.push else {
        return Ok(());
    };
    let args: Vec<String> = argv
        .iter()
        .map(|a| {
            a.replace("{env}", env)
                .replace("{file}", &path.display().to_string())
        })
        .collect();
    let program = if args[0].contains('/') && std::path::Path::new(&args[0]).is_relative() {
        config.root.join(&args[0])
    } else {
        std::path::PathBuf::from(&args[0])
    };
    let status = std::process::Command::new(&program)
        .args(&args[1..])
        .current_dir(&config.root)
        .status()
        .map_err(|e| {
            Error::Usage(format!(
                "[flags] push: cannot run {}: {e}",
                program.display()
            ))
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "[flags] push failed ({status}) for {env}: the file {} is written, but not published; run the push again",
            path.display()
        )))
    }
}

fn with_reason(detail: String, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("{detail} (why: {r})"),
        None => detail,
    }
}

fn new(store: &Store<'_>, key: &str, reason: Option<&str>) -> Result<ExitCode> {
    validate_key(key).map_err(usage)?;
    let config = store.config;
    store.refuse_foreign(key).map_err(usage)?;
    if store.rollouts().map_err(usage)?.contains_key(key) {
        return Err(Error::Usage(format!(
            "flag {key} exists already: `runner flag list` shows it"
        )));
    }
    for name in &config.pipeline.value {
        let env = config.environment(name)?;
        audit(
            config,
            env,
            "flag_created",
            &with_reason(format!("{key}: off (development)"), reason),
        )?;
        let mut flags = store.read(name).map_err(usage)?;
        let mut flag = Flag::new(key, 0);
        flag.metadata
            .insert("createdAt".into(), crate::runtime::timestamp_now());
        flags.insert(key.to_string(), flag);
        let path = store.write(name, &flags).map_err(usage)?;
        push(config, name, &path)?;
    }
    out::line(report::created(key, &config.pipeline.value));
    Ok(ExitCode::Success)
}

/// Moves `key` in one environment; returns (from, to).
fn change(store: &Store<'_>, a: &FlagChangeArgs, m: Move) -> Result<(u32, u32)> {
    let config = store.config;
    // A key defined by hand in any environment's file is left alone everywhere: writing
    // runner's flag there would replace that definition.
    store.refuse_foreign(&a.key).map_err(usage)?;
    let rollouts = store.rollouts().map_err(usage)?;
    let Some((rollout, _)) = rollouts.get(&a.key) else {
        return Err(Error::Usage(format!(
            "there is no flag {}: create it with `runner flag new {}`",
            a.key, a.key
        )));
    };
    let env = config.environment(&a.env)?;
    let protected = protected_environments(config);
    let to = rollout
        .next(&a.key, &a.env, m, &config.flags.steps, &protected)
        .map_err(|why| Error::Usage(format!("flag {} in {}: {why}", a.key, a.env)))?;
    let from = rollout.percent(&a.env);
    // Going up needs the environment's approval; going back is always allowed.
    if to > from {
        approval::approve(env, a.approve, &format!("turn flag {} up in", a.key))?;
    }
    set(
        store,
        env,
        &a.key,
        (from, to),
        (a.reason.as_deref(), kind_of(m)),
    )?;
    let after = store.rollouts().map_err(usage)?;
    let stage = after
        .get(&a.key)
        .map(|(r, _)| r.stage())
        .unwrap_or_default();
    out::line(report::moved(&a.key, &a.env, from, to, &stage));
    Ok((from, to))
}

fn kind_of(m: Move) -> &'static str {
    match m {
        Move::Promote => "flag_promoted",
        Move::Back => "flag_rolled_back",
        Move::To(_) => "flag_set",
    }
}

/// Writes the new percentage (audited first, then written, then pushed).
fn set(
    store: &Store<'_>,
    env: &Environment,
    key: &str,
    (from, to): (u32, u32),
    (reason, kind): (Option<&str>, &str),
) -> Result<()> {
    let config = store.config;
    let by = approval::approver(&crate::runtime::actor());
    audit(
        config,
        env,
        kind,
        &with_reason(format!("{key}: {from} % -> {to} % by {by}"), reason),
    )?;
    let mut flags = store.read(&env.name).map_err(usage)?;
    let flag = flags
        .entry(key.to_string())
        .or_insert_with(|| Flag::new(key, 0));
    flag.percent = to;
    if to == 100 {
        flag.metadata
            .entry("fullSince".into())
            .or_insert_with(crate::runtime::timestamp_now);
    } else {
        flag.metadata.remove("fullSince");
    }
    let path = store.write(&env.name, &flags).map_err(usage)?;
    push(config, &env.name, &path)
}

/// The rest of the ramp in the last environment, each step held for [flags] pause and judged
/// by the metrics; a breach puts the previous step back (exit 4).
fn auto(store: &Store<'_>, a: &FlagChangeArgs) -> Result<ExitCode> {
    let config = store.config;
    let last = config.pipeline.value.last().cloned().unwrap_or_default();
    if a.env != last {
        return Err(Error::Usage(format!(
            "--auto ramps the last environment of the pipeline ({last}); in {} a flag is off or on: `runner flag promote {} --env {}`",
            a.env, a.key, a.env
        )));
    }
    let env = config.environment(&a.env)?;
    approval::approve(env, a.approve, &format!("ramp flag {} in", a.key))?;
    crate::runtime::watch_interrupts()?;
    loop {
        let approved = FlagChangeArgs {
            approve: true,
            ..clone_args(a)
        };
        let (from, to) = change(store, &approved, Move::Promote)?;
        if to == 100 {
            return Ok(ExitCode::Success);
        }
        match judge(config, env, &a.key, config.flags.pause)? {
            Judged::Pass(detail) => out::line(report::held(to, config.flags.pause, &detail)),
            Judged::Inconclusive(detail) => {
                let promote = crate::hints::flag_promote(crate::hints::At::of(env), &a.key, true);
                out::line(report::inconclusive(
                    to,
                    config.flags.pause,
                    &detail,
                    &promote,
                ));
                // Waiting is not success: CI tells a finished ramp from one that stopped.
                return Ok(ExitCode::Waiting);
            }
            Judged::Breach(why) => {
                set(
                    store,
                    env,
                    &a.key,
                    (to, from),
                    (Some(&why), "flag_rolled_back"),
                )?;
                let mut notifier = crate::deploy::notify::Notifier::new(&config.notify);
                notifier.send(&crate::deploy::notify::Event {
                    event: "metric_breach".into(),
                    environment: env.name.clone(),
                    kind: "flag".into(),
                    version: a.key.clone(),
                    previous_version: None,
                    deploy_id: String::new(),
                    actor: crate::runtime::actor(),
                    strategy: None,
                    detail: why.clone(),
                });
                let delivered = notifier
                    .settle()
                    .map(|(_, d)| format!("; notified: {d}"))
                    .unwrap_or_default();
                return Err(Error::DeployRolledBack {
                    message: format!(
                        "flag {} in {}: {why}; set back to {from} %{delivered}",
                        a.key, env.name
                    ),
                });
            }
        }
    }
}

fn clone_args(a: &FlagChangeArgs) -> FlagChangeArgs {
    FlagChangeArgs {
        key: a.key.clone(),
        env: a.env.clone(),
        reason: a.reason.clone(),
        approve: a.approve,
    }
}

fn list(store: &Store<'_>, format: Format) -> Result<ExitCode> {
    let config = store.config;
    let rollouts = store.rollouts().map_err(usage)?;
    let stale: BTreeMap<String, Duration> = stale(config).into_iter().collect();
    let unknown = unknown_in_code(config);
    let view = report::ListView {
        dir: &config.flags.dir,
        flags: rollouts
            .iter()
            .map(|(k, (r, by_env))| report::Listed {
                key: k.clone(),
                stage: r.stage(),
                percents: r.percents.clone(),
                full_for: full_for(by_env, r),
                stale: stale.contains_key(k),
            })
            .collect(),
        not_managed: store
            .foreign()
            .map_err(usage)?
            .into_iter()
            .map(|(k, (path, why))| (k, path, why))
            .collect(),
        unknown: &unknown,
    };
    match format {
        Format::Json => out::json(&report::list_json(&view)),
        Format::Table => out::text(&report::list_human(&view)),
    }
    Ok(ExitCode::Success)
}

fn remove(store: &Store<'_>, a: &crate::cli::FlagRemoveArgs) -> Result<ExitCode> {
    let (key, force, reason) = (a.key.as_str(), a.force, a.reason.as_deref());
    let config = store.config;
    store.refuse_foreign(key).map_err(usage)?;
    let rollouts = store.rollouts().map_err(usage)?;
    let Some((rollout, _)) = rollouts.get(key) else {
        return Err(Error::Usage(format!("there is no flag {key}")));
    };
    if let Some((env, p)) = rollout.percents.iter().find(|(_, p)| *p < 100) {
        return Err(Error::Usage(format!(
            "flag {key} is at {p} % in {env}: a flag is removed only once it is at 100 % everywhere (removing it now would turn the feature off there)"
        )));
    }
    let refs = references::of_key(&config.flags.search, &config.flags.dir, key);
    if !refs.is_empty() && !force {
        let list: Vec<String> = refs.iter().map(|r| format!("  {r}")).collect();
        return Err(Error::Usage(format!(
            "flag {key} is still read by the code; remove these reads first (the feature stays on), then remove the flag:\n{}\n(or --force: those places would then get the code's default value)",
            list.join("\n")
        )));
    }
    // Removing a flag changes every environment: each protected one needs its approval
    // before any file is written.
    for name in &config.pipeline.value {
        approval::approve(
            config.environment(name)?,
            a.approve,
            &format!("remove flag {key} from"),
        )?;
    }
    for name in &config.pipeline.value {
        let env = config.environment(name)?;
        audit(
            config,
            env,
            "flag_removed",
            &with_reason(format!("{key}: removed at 100 %"), reason),
        )?;
        let mut flags = store.read(name).map_err(usage)?;
        flags.remove(key);
        let path = store.write(name, &flags).map_err(usage)?;
        push(config, name, &path)?;
    }
    out::line(report::removed(key, &config.pipeline.value));
    Ok(ExitCode::Success)
}
