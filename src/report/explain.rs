//! `runner explain [RULE]`: the rules as a table, and one rule's documentation.

use crate::lint::Rule;
use crate::report::table::Table;

/// Every rule: id, severity, dialects, what it catches; then how to read one.
pub fn rules() -> String {
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
    format!(
        "{}\n`runner explain RULE` prints a rule's documentation.\n",
        table.render()
    )
}

/// One rule's documentation, under a heading with its severity and dialects.
pub fn rule(rule: Rule) -> String {
    let def = rule.def();
    format!(
        "# {} ({}; {})\n\n{}\n",
        def.id,
        def.severity.name(),
        dialects(rule),
        def.doc.trim_end()
    )
}

fn dialects(rule: Rule) -> String {
    rule.def()
        .dialects
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>()
        .join(", ")
}
