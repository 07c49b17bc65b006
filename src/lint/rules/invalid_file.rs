//! `invalid-file`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "invalid-file",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a migration file that is empty, unreadable or not UTF-8",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags migration files that cannot be applied as written: not UTF-8 (with the line of the first
bad byte), empty, or unreadable.

## Why is this bad?
An empty migration is recorded as applied while doing nothing; a file in another encoding
applies different text than the one reviewed, or fails half-way.

## Example
```
migrations/V0042__add_status.sql   (0 bytes)
```

## Use instead
Write the migration, save it as UTF-8, or delete the file.
"#;

#[cfg(test)]
mod tests {
    use crate::lint::rules::testing::folder_findings;

    #[test]
    fn fires_on_empty_and_non_utf8_files() {
        assert_eq!(folder_findings("empty_file", "invalid-file").len(), 1);
        assert_eq!(folder_findings("not_utf8", "invalid-file").len(), 2);
    }

    #[test]
    fn quiet_on_readable_files() {
        assert!(folder_findings("valid", "invalid-file").is_empty());
    }
}
