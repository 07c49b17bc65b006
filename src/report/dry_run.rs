//! `--dry-run` of deploy and rollback: what would happen, per environment, changing nothing.

use crate::cli::RollbackArgs;
use crate::config::Environment;
use crate::deploy::DeployOptions;
use crate::deploy::preflight::Preview;

fn approval(env: &Environment, approve: bool) -> &'static str {
    match (env.requires_approval, approve) {
        (false, _) => "not required",
        (true, true) => "required: given with --approve",
        (true, false) => "required: pass --approve, or type the environment's name at the prompt",
    }
}

pub fn deploy(options: &DeployOptions, previews: &[Preview]) -> String {
    let mut out = format!(
        "dry run of deploy {}{}: nothing was changed, no lock was taken\n",
        options.version,
        if options.with_migrations {
            " with migrations"
        } else {
            ""
        }
    );
    for p in previews {
        match p.problems.is_empty() {
            true => out.push_str(&format!("{}: would go ahead\n", p.environment)),
            false => {
                out.push_str(&format!("{}: would be REFUSED\n", p.environment));
                for problem in &p.problems {
                    out.push_str(&format!("  - {problem}\n"));
                }
            }
        }
        out.push_str(&format!("  approval: {}\n", p.approval));
        match (p.migrations.is_empty(), options.with_migrations) {
            (true, _) => out.push_str("  migrations: none pending\n"),
            (false, true) => out.push_str(&format!(
                "  migrations to apply: {}\n",
                p.migrations.join(", ")
            )),
            (false, false) => out.push_str(&format!(
                "  migrations pending (not applied without --with-migrations): {}\n",
                p.migrations.join(", ")
            )),
        }
        out.push_str("  steps:\n");
        for (i, step) in p.steps.iter().enumerate() {
            out.push_str(&format!("    {}. {step}\n", i + 1));
        }
    }
    let refused = previews.iter().filter(|p| !p.problems.is_empty()).count();
    out.push_str(&match refused {
        0 => "the deploy would go ahead in every environment\n".to_string(),
        n => format!(
            "the deploy would be refused ({n} environment(s)) before anything changes (exit 2)\n"
        ),
    });
    out
}

pub fn migrations_rollback(env: &Environment, undo: &[String], stop: i64, approve: bool) -> String {
    let mut out = format!(
        "dry run of a migrations rollback in {}: nothing was changed, no lock was taken\n  approval: {}\n",
        env.name,
        approval(env, approve)
    );
    if undo.is_empty() {
        out.push_str("  nothing to roll back\n");
        return out;
    }
    out.push_str("  would undo, newest first, with the rollback stored when each was applied:\n");
    for label in undo {
        out.push_str(&format!("    {label}\n"));
    }
    out.push_str(&format!(
        "  and stop at {} (it stays applied)\n",
        crate::catalog::label(stop)
    ));
    out
}

pub fn app_rollback(
    env: &Environment,
    plan: Option<&(String, String, Vec<i64>)>,
    args: &RollbackArgs,
) -> String {
    let mut out = format!(
        "dry run of an application rollback in {}: nothing was changed, no lock was taken\n  approval: {}\n",
        env.name,
        approval(env, args.approve)
    );
    let Some((current, target, undone)) = plan else {
        out.push_str(&format!(
            "  {} already serves {}: nothing to do\n",
            args.version.clone().unwrap_or_default(),
            env.name
        ));
        return out;
    };
    out.push_str(&format!(
        "  would put {target} back in place of {current} ({})\n",
        match (env.strategy().routed(), args.force) {
            (_, true) => "forced: no health checks",
            (true, false) => "through the router, health-checked",
            (false, false) => "with the rollback hook, health-checked",
        }
    ));
    if args.with_migrations {
        match undone.is_empty() {
            true => out.push_str("  migrations to undo: none\n"),
            false => {
                let labels: Vec<String> = undone
                    .iter()
                    .rev()
                    .map(|v| crate::catalog::label(*v))
                    .collect();
                out.push_str(&format!(
                    "  then undo its migrations, newest first: {}\n",
                    labels.join(", ")
                ));
            }
        }
    }
    out
}
