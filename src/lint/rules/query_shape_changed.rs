//! `query-shape-changed`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "query-shape-changed",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a result column the serving release reads is gone, changed type, or may now be NULL (check --verify)",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
With `runner check --verify`, compares the result columns of each query of the serving release,
as the database describes them when it prepares the query, before and after each migration of
the change: a column gone, a type changed, or a column that was NOT NULL and may now be NULL is
reported on the migration that did it.

## Why is this bad?
The release decodes each column as the type it was built for: a changed type fails every row; a
column that may be NULL fails on the first NULL where the code expects a value.

## Example
```
ALTER TABLE users ALTER COLUMN id TYPE integer;  -- the release reads users.id as bigint
```

## Use instead
Add a new column beside the old one (expand), move the release to it, and remove the old one in
a contract migration.
"#;
