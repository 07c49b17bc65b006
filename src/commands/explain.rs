//! `runner explain [RULE]`: the rules and their documentation.

use crate::cli::ExplainArgs;
use crate::error::{Error, ExitCode, Result};
use crate::lint::Rule;
use crate::report::{explain, out};

pub fn run(args: &ExplainArgs) -> Result<ExitCode> {
    let Some(id) = &args.rule else {
        out::text(&explain::rules());
        return Ok(ExitCode::Success);
    };
    let Some(rule) = Rule::from_id(id) else {
        let near: Vec<&str> = Rule::ALL
            .iter()
            .map(|r| r.id())
            .filter(|r| r.contains(id.as_str()) || id.contains(r))
            .collect();
        return Err(Error::Usage(format!(
            "no rule `{id}`{}; `runner explain` lists them all",
            if near.is_empty() {
                String::new()
            } else {
                format!(" (did you mean {}?)", near.join(", "))
            }
        )));
    };
    out::text(&explain::rule(rule));
    Ok(ExitCode::Success)
}
