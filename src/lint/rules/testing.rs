//! Test helpers for rules: lint a snippet, keep one rule's findings.

use crate::catalog::Directives;
use crate::config::Dialect;
use crate::lint::{Finding, lint_text};

use super::RuleDef;

pub fn findings(rule: &RuleDef, dialect: Dialect, sql: &str) -> Vec<Finding> {
    findings_with(rule, dialect, sql, &Directives::default())
}

pub fn findings_with(
    rule: &RuleDef,
    dialect: Dialect,
    sql: &str,
    directives: &Directives,
) -> Vec<Finding> {
    lint_text("test.sql", sql, dialect, directives)
        .into_iter()
        .filter(|f| f.rule.id() == rule.id)
        .collect()
}

/// `rule`'s findings on `sql` with settings (`[lint]`).
pub fn findings_opts(rule: &RuleDef, options: &crate::lint::Options, sql: &str) -> Vec<Finding> {
    crate::lint::lint_text_with("test.sql", sql, options, &Directives::default())
        .into_iter()
        .filter(|f| f.rule.id() == rule.id)
        .collect()
}

/// Asserts that `rule` fires exactly once on `sql`, and returns the message.
#[track_caller]
pub fn fires(rule: &RuleDef, dialect: Dialect, sql: &str) -> String {
    let found = findings(rule, dialect, sql);
    assert_eq!(found.len(), 1, "{} on {sql:?}: {found:#?}", rule.id);
    found[0].message.clone()
}

#[track_caller]
pub fn quiet(rule: &RuleDef, dialect: Dialect, sql: &str) {
    let found = findings(rule, dialect, sql);
    assert!(found.is_empty(), "{} fired on {sql:?}: {found:#?}", rule.id);
}

/// One rule's findings on `sql`, run as the migration after `before` (an applied one): the
/// schema `before` built is known, and none of its tables is new.
pub fn findings_after(rule: &RuleDef, dialect: Dialect, before: &str, sql: &str) -> Vec<Finding> {
    let dir = tempfile::tempdir().expect("temp folder");
    let irreversible = "-- runner:irreversible test\n";
    std::fs::write(
        dir.path().join("V1__before.sql"),
        format!("{irreversible}{before}"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("V2__after.sql"),
        format!("{irreversible}{sql}"),
    )
    .expect("write");
    let catalog = crate::catalog::Catalog::scan(dir.path()).expect("folder reads");
    crate::lint::check_catalog(&catalog, &crate::lint::Options::new(dialect))
        .findings
        .into_iter()
        .filter(|f| f.rule.id() == rule.id && f.file.ends_with("V2__after.sql"))
        .collect()
}

#[track_caller]
pub fn fires_after(rule: &RuleDef, dialect: Dialect, before: &str, sql: &str) -> String {
    let found = findings_after(rule, dialect, before, sql);
    assert_eq!(
        found.len(),
        1,
        "{} on {sql:?} after {before:?}: {found:#?}",
        rule.id
    );
    found[0].message.clone()
}

#[track_caller]
pub fn quiet_after(rule: &RuleDef, dialect: Dialect, before: &str, sql: &str) {
    let found = findings_after(rule, dialect, before, sql);
    assert!(
        found.is_empty(),
        "{} fired on {sql:?} after {before:?}: {found:#?}",
        rule.id
    );
}

/// Checks a fixture folder under fixtures/catalog/ and keeps one rule's findings.
pub fn folder_findings(scenario: &str, rule_id: &str) -> Vec<Finding> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/catalog")
        .join(scenario);
    let catalog = crate::catalog::Catalog::scan(&dir).expect("fixture folder reads");
    crate::lint::check_catalog(&catalog, &crate::lint::Options::new(Dialect::Postgres))
        .findings
        .into_iter()
        .filter(|f| f.rule.id() == rule_id)
        .collect()
}
