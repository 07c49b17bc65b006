//! `runner explain [RULE]`: the rules and their documentation.

use crate::cli::ExplainArgs;
use crate::error::{Error, ExitCode, Result};
use crate::lint::Rule;
use crate::report::table::Table;

pub fn run(args: &ExplainArgs) -> Result<ExitCode> {
    let Some(id) = &args.rule else {
        let mut table = Table::new(["RULE", "SEVERITY", "DIALECTS", "WHAT IT CATCHES"]);
        for rule in Rule::ALL {
            let def = rule.def();
            table.row([
                def.id.to_string(),
                def.severity.name().to_string(),
                dialects(*rule),
                def.summary.to_string(),
            ]);
        }
        print!("{}", table.render());
        println!("\n`runner explain RULE` prints a rule's documentation.");
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
    let def = rule.def();
    println!(
        "# {} ({}; {})\n\n{}",
        def.id,
        def.severity.name(),
        dialects(rule),
        def.doc.trim_end()
    );
    Ok(ExitCode::Success)
}

fn dialects(rule: Rule) -> String {
    rule.def()
        .dialects
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>()
        .join(", ")
}
