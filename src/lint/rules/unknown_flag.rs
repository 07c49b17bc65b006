//! `unknown-flag`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "unknown-flag",
    severity: Severity::Warning,
    dialects: ALL_DIALECTS,
    summary: "the code reads a feature flag that no flag file defines",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Flags a read of a feature flag in the code (`[flags] pattern`, by default the OpenFeature SDKs'
`getBooleanValue("key", ...)` and friends, searched in `[flags] search`) whose key is in no
environment's flag file.

## Why is this bad?
The read always returns the code's default: the feature can never be turned on (or off) by a
flag change, and nobody sees that until it matters. Often it is a typo, or a flag removed while
the code still reads it.

## Example
```ts
if (await client.getBooleanValue("new-chekout", false)) { ... }
```

## Use instead
Create the flag (`runner flag new new-checkout`), or fix the key, or remove the read.
"#;
