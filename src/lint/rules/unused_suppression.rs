//! `unused-suppression`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "unused-suppression",
    severity: Severity::Warning,
    dialects: ALL_DIALECTS,
    summary: "a runner:allow that suppresses nothing (warning)",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Warns about a `-- runner:allow <rule-id> <reason>` whose next statement does not trigger that
rule, or a `-- runner:allow-file` whose rule fires nowhere in the file.

## Why is this bad?
It is usually in the wrong place (above a comment block or the wrong statement) and so is not
suppressing what its author meant; or the statement changed and the suppression is stale.

## Example
```sql
-- runner:allow drop-column legacy_name is unused since v42
ALTER TABLE users ADD COLUMN nickname text;
```

## Use instead
Put it directly above the statement it is about, or delete it.
"#;

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn warns_when_nothing_is_suppressed() {
        fires(&RULE, Postgres, "-- runner:allow drop-column stale\nALTER TABLE users ADD COLUMN n text;");
        fires(&RULE, Postgres, "-- runner:allow-file truncate stale\nSELECT 1;");
    }

    #[test]
    fn quiet_when_the_suppression_is_used() {
        quiet(&RULE, Postgres, "-- runner:allow drop-column unused since v42\nALTER TABLE users DROP COLUMN legacy;");
    }
}
