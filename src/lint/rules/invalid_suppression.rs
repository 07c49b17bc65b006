//! `invalid-suppression`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "invalid-suppression",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a runner:allow with an unknown rule id or no reason",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags `-- runner:allow <rule-id> <reason>` and `-- runner:allow-file <rule-id> <reason>`
comments that name a rule that does not exist or give no reason.

## Why is this bad?
A misspelt rule id suppresses nothing, so the finding it was meant for fails the gate anyway,
or, worse, someone later "fixes" it by disabling the rule. A suppression without a reason
leaves the next reader unable to tell a decision from a shortcut.

## Example
```sql
-- runner:allow drop-columns
ALTER TABLE users DROP COLUMN legacy_name;
```

## Use instead
```sql
-- runner:allow drop-column no release reads legacy_name since v42
ALTER TABLE users DROP COLUMN legacy_name;
```
"#;

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{findings, quiet};

    #[test]
    fn fires_on_an_unknown_id_and_a_missing_reason() {
        let found = findings(
            &RULE,
            Postgres,
            "-- runner:allow drop-columns old\n-- runner:allow-file truncate\nSELECT 1;",
        );
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("unknown rule `drop-columns`"));
        assert!(found[1].message.contains("needs a reason"));
    }

    #[test]
    fn quiet_on_a_complete_suppression() {
        quiet(&RULE, Postgres, "-- runner:allow truncate sessions are disposable\nTRUNCATE sessions;");
    }
}
