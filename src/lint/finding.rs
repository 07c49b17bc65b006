//! A finding: one rule firing at one place, in the JSON shape of DESIGN §4.

use serde::Serialize;

pub use crate::catalog::Severity;
use crate::lint::rules::Rule;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(serialize_with = "rule_id")]
    pub rule: Rule,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
    /// Offset of the statement the finding is about, for `-- runner:allow`.
    #[serde(skip)]
    pub statement: Option<usize>,
}

fn rule_id<S: serde::Serializer>(rule: &Rule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(rule.id())
}

impl Finding {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
