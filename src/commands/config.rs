//! `runner config`: the resolved configuration, each setting with where it came from.

use crate::cli::{ConfigArgs, Format};
use crate::config::{Config, Environment};
use crate::error::{ExitCode, Result};

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
            crate::report::out::json(&doc);
        }
        Format::Table => {
            crate::report::out::text(&crate::report::config::human(config, &environments));
        }
    }
    // An environment runner cannot use here is an error to fix, not a note: non-zero, so a
    // CI step that checks the configuration fails.
    let unusable: Vec<_> = config
        .unresolved
        .iter()
        .filter(|(n, _)| args.env.is_none() || args.env.as_ref() == Some(*n))
        .collect();
    for (name, error) in &unusable {
        crate::report::out::error(format_args!(
            "environment {name} is not usable here: {error}"
        ));
    }
    Ok(if unusable.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::Usage
    })
}
