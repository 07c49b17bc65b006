//! `stale-flag`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "stale-flag",
    severity: Severity::Warning,
    dialects: ALL_DIALECTS,
    summary: "a feature flag at 100 % everywhere for longer than [flags] stale_after",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags a feature flag (`runner flag`) that has been fully on in every environment for longer
than `[flags] stale_after` (default 30 days) and still exists.

## Why is this bad?
A flag that is on everywhere is a branch the code no longer needs: every read is a lookup, every
`if` a path nobody tests, and the flag file a place where one edit turns the feature off. Removing
the flag is the step of the lifecycle that never happens unless someone is reminded.

## Example
```
flags/production.flagd.json: new-checkout at 100 % everywhere for 45 days
```

## Use instead
Remove the reads from the code, then the flag:
```
runner flag remove new-checkout
```
"#;
