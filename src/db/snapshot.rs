//! A snapshot of a database's schema, to prove that a rollback undoes its migration: every
//! object becomes one `key -> description` entry, and two snapshots are compared entry by
//! entry.
//!
//! PostgreSQL: tables, columns (type, nullability, default), indexes (definition: columns,
//! uniqueness, predicate; validity), constraints (kind, definition, validity), views and
//! materialized views (definition), sequences, enum types and their labels, functions and
//! triggers by signature. SQLite: tables, columns, indexes, views and triggers from
//! sqlite_master and the table_xinfo pragma.

use std::collections::BTreeMap;

use crate::catalog::checksum::normalize;
use crate::db::{Conn, DbError};

pub type Snapshot = BTreeMap<String, String>;

/// One object that differs between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    pub object: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// For a long or multi-line definition (a view, a function), the lines that differ as a
    /// short unified diff, instead of both whole definitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// Definitions longer than this are shown as a diff.
const LONG: usize = 100;
/// At most this many diff lines are shown.
const DIFF_LINES: usize = 14;

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(diff) = &self.diff {
            return write!(f, "{}: changed:\n{diff}", self.object);
        }
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        write!(
            f,
            "{}: before {}, after {}",
            self.object,
            show(&self.before),
            show(&self.after)
        )
    }
}

/// What differs between two definitions, short: for multi-line definitions (views) the lines
/// that differ with one line of context, at most `DIFF_LINES`; for one-line definitions
/// (function bodies, normalized) the words that differ, `[-removed-]{+added+}`, with a few
/// words of context.
fn short_diff(before: &str, after: &str) -> String {
    if !before.contains('\n') && !after.contains('\n') {
        return format!("      {}", word_diff(before, after));
    }
    let (before, after) = (format!("{before}\n"), format!("{after}\n"));
    let text = similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(1)
        .to_string();
    let body: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("@@") && !l.starts_with("---") && !l.starts_with("+++"))
        .collect();
    let mut out: Vec<String> = body
        .iter()
        .take(DIFF_LINES)
        .map(|l| format!("      {}", l.trim_end()))
        .collect();
    if body.len() > DIFF_LINES {
        out.push(format!(
            "      ... {} more line(s)",
            body.len() - DIFF_LINES
        ));
    }
    out.join("\n")
}

fn word_diff(before: &str, after: &str) -> String {
    use similar::ChangeTag;
    const CONTEXT: usize = 4;
    let diff = similar::TextDiff::from_words(before, after);
    let changes: Vec<(ChangeTag, &str)> = diff
        .iter_all_changes()
        .map(|c| (c.tag(), c.value()))
        .collect();
    let near_change = |i: usize| {
        let lo = i.saturating_sub(CONTEXT * 2);
        let hi = (i + CONTEXT * 2 + 1).min(changes.len());
        changes[lo..hi].iter().any(|(t, _)| *t != ChangeTag::Equal)
    };
    let mut out = String::new();
    let mut skipped = false;
    for (i, (tag, value)) in changes.iter().enumerate() {
        match tag {
            ChangeTag::Equal if !near_change(i) => {
                if !skipped {
                    out.push_str("... ");
                    skipped = true;
                }
            }
            ChangeTag::Equal => {
                out.push_str(value);
                skipped = false;
            }
            ChangeTag::Delete => out.push_str(&format!("[-{}-]", value.trim())),
            ChangeTag::Insert => out.push_str(&format!("{{+{}+}}", value.trim())),
        }
    }
    out.trim().to_string()
}

pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<Difference> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            let (b, a) = (before.get(k).cloned(), after.get(k).cloned());
            let diff = match (&b, &a) {
                (Some(b), Some(a))
                    if b.len() > LONG || a.len() > LONG || b.contains('\n') || a.contains('\n') =>
                {
                    Some(short_diff(b, a))
                }
                _ => None,
            };
            Difference {
                object: k.clone(),
                before: b,
                after: a,
                diff,
            }
        })
        .collect()
}

/// The key prefix of the column order of a table: only the order differs when these are the
/// only differences.
pub const COLUMN_ORDER: &str = "column order ";

/// Whether `differences` are only a table's columns in another order.
pub fn only_column_order(differences: &[Difference]) -> bool {
    !differences.is_empty()
        && differences.iter().all(|d| {
            d.object.starts_with(COLUMN_ORDER)
                && match (&d.before, &d.after) {
                    (Some(b), Some(a)) => {
                        let mut b: Vec<&str> = b.split(", ").collect();
                        let mut a: Vec<&str> = a.split(", ").collect();
                        b.sort_unstable();
                        a.sort_unstable();
                        a == b
                    }
                    _ => false,
                }
        })
}

/// Everything in the database's schema, from the backend's catalog queries.
pub async fn take(conn: &mut Conn) -> Result<Snapshot, DbError> {
    let mut snapshot = Snapshot::new();
    for query in conn.backend().snapshot_queries() {
        for row in conn.fetch_text(&query.sql, Vec::new()).await? {
            let mut cells = row.into_iter();
            let key = cells.next().flatten().unwrap_or_default();
            let value = cells.next().flatten().unwrap_or_default();
            let value = if query.normalize {
                normalize(&value)
            } else {
                value
            };
            snapshot.insert(key, value);
        }
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_names_each_changed_added_and_removed_object() {
        let before = Snapshot::from([
            ("column t.a".to_string(), "int null".to_string()),
            (
                "index t_a".to_string(),
                "CREATE INDEX t_a ON t (a)".to_string(),
            ),
        ]);
        let after = Snapshot::from([
            ("column t.a".to_string(), "int not null".to_string()),
            ("column t.b".to_string(), "text null".to_string()),
        ]);
        let diff = compare(&before, &after);
        assert_eq!(diff.len(), 3);
        assert_eq!(
            diff[0].to_string(),
            "column t.a: before int null, after int not null"
        );
        assert_eq!(
            diff[1].to_string(),
            "column t.b: before (absent), after text null"
        );
        assert_eq!(diff[2].object, "index t_a");
    }

    #[test]
    fn a_long_definition_shows_only_the_lines_that_differ() {
        let view: Vec<String> = (0..2000).map(|i| format!("  c{i},")).collect();
        let before = format!("SELECT\n{}\n  last FROM t", view.join("\n"));
        let after = before.replace("  c1000,", "  c1000 AS renamed,");
        let diff = short_diff(&before, &after);
        assert!(diff.lines().count() <= DIFF_LINES + 1, "{diff}");
        assert!(
            diff.contains("-  c1000,") && diff.contains("+  c1000 AS renamed,"),
            "{diff}"
        );
        assert!(!diff.contains("c1500"), "{diff}");
    }

    #[test]
    fn a_one_line_body_shows_the_words_that_differ() {
        let before = "BEGIN PERFORM a(); PERFORM b(); PERFORM c(); PERFORM d(); RETURN 1; END";
        let after = before.replace("RETURN 1", "RETURN 3");
        let diff = short_diff(before, &after);
        assert!(
            diff.contains("RETURN [-1;-]{+3;+}") || diff.contains("RETURN [-1-]{+3+}"),
            "{diff}"
        );
        assert!(diff.contains("..."), "far words are elided: {diff}");
    }
}
