//! `runner config`: the resolved configuration, each setting with where it came from.

use crate::cli::{ConfigArgs, Format};
use crate::config::{Config, Environment};
use crate::error::{ExitCode, Result};
use crate::report::table::Table;

pub fn run(config: &Config, args: &ConfigArgs) -> Result<ExitCode> {
    let environments: Vec<&Environment> = match &args.env {
        Some(name) => vec![config.environment(name)?],
        None => config.environments.values().collect(),
    };
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "file": config.file,
                "root": config.root,
                "migrations_dir": config.migrations_dir,
                "dialect": config.dialect,
                "lint_disable": config.lint_disable,
                "pipeline": config.pipeline,
                "environments": environments,
                "unresolved": config.unresolved.iter().filter(|(n, _)| args.env.is_none() || args.env.as_ref() == Some(n)).map(|(n, e)| (n.clone(), e.to_string())).collect::<std::collections::BTreeMap<_, _>>(),
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Table => {
            print_table(config, &environments);
            if args.env.is_none() {
                for (name, error) in &config.unresolved {
                    println!("{name}: not usable here: {error}");
                }
            }
        }
    }
    Ok(ExitCode::Success)
}

fn print_table(config: &Config, environments: &[&Environment]) {
    let mut t = Table::new(["SETTING", "VALUE", "FROM"]);
    let file = config
        .file
        .as_ref()
        .map_or("(none)".to_string(), |f| f.display().to_string());
    t.row(["config file".into(), file, String::new()]);
    t.row([
        "migrations dir".into(),
        config.migrations_dir.value.display().to_string(),
        config.migrations_dir.source.to_string(),
    ]);
    t.row([
        "dialect".into(),
        config.dialect.value.name().into(),
        config.dialect.source.to_string(),
    ]);
    t.row([
        "pipeline".into(),
        config.pipeline.value.join(" -> "),
        config.pipeline.source.to_string(),
    ]);
    for env in environments {
        let key = |k: &str| format!("{}.{k}", env.name);
        t.row([
            key("database_url"),
            env.database_url.value.redacted(),
            env.database_url.source.to_string(),
        ]);
        t.row([
            key("requires_approval"),
            env.requires_approval.to_string(),
            String::new(),
        ]);
        t.row([
            key("lock_timeout"),
            humantime::format_duration(env.lock_timeout).to_string(),
            String::new(),
        ]);
        for (name, hook) in [
            ("deploy", &env.deploy),
            ("rollback", &env.rollback),
            ("smoke", &env.smoke),
        ] {
            if let Some(argv) = hook {
                t.row([key(name), argv.join(" "), String::new()]);
            }
        }
        if let Some(h) = &env.health {
            t.row([key("health.url"), h.url.clone(), String::new()]);
        }
    }
    print!("{}", t.render());
}
