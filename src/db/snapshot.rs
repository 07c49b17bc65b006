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
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<Difference> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| Difference {
            object: k.clone(),
            before: before.get(k).cloned(),
            after: after.get(k).cloned(),
        })
        .collect()
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
}
