//! `orphan-rollback`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "orphan-rollback",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a rollback script with no forward migration",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags a `V{n}__{name}.down.sql` with no `V{n}__{name}.sql` of the same stem.

## Why is this bad?
Usually the forward file was renamed and its rollback was not: the migration now has no
rollback (and `runner rollback` would run nothing for it), while a stray script sits in the
folder waiting to be mistaken for the real one.

## Example
```
migrations/V0042__add_status.sql
migrations/V0042__add_state.down.sql
```

## Use instead
Give the rollback the same stem as its forward file:
```
migrations/V0042__add_status.down.sql
```
"#;

#[cfg(test)]
mod tests {
    use crate::lint::rules::testing::folder_findings;

    #[test]
    fn fires_on_a_rollback_without_its_forward_file() {
        assert_eq!(folder_findings("orphan_rollback", "orphan-rollback").len(), 2);
    }

    #[test]
    fn quiet_when_every_rollback_has_its_migration() {
        assert!(folder_findings("valid", "orphan-rollback").is_empty());
    }
}
