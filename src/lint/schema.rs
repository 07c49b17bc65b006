//! What the migrations before a statement built: tables (by schema) with their columns in
//! order, type and nullability, and the NOT NULL checks PostgreSQL can use. The linter replays
//! each migration's operations into it, so a rule knows what exists: a column already NOT
//! NULL, a CHANGE COLUMN that only renames, a table created earlier in the same file.
//!
//! Names are resolved with their schema: an unqualified name is in the first schema of the
//! search path (`public` unless `[lint] search_path` says otherwise); SQLite and MySQL names
//! are compared as written.

use std::collections::{HashMap, HashSet};

use super::model::{ColumnSpec, Op};

#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// The schema unqualified names live in; `None` for dialects without schemas.
    default_schema: Option<String>,
    tables: HashMap<String, Table>,
    /// Tables created by the file being read (keys): nothing uses them yet. Kept apart from
    /// the tables so that moving on to the next file costs what that file created, not what
    /// the whole catalog holds.
    new_tables: HashSet<String>,
    /// While a rollback file is read against the schema its migration built: every table as
    /// it was before its first change, to put back afterwards (`begin_trial`, `end_trial`).
    /// A rollback file costs what it touches, not a copy of the catalog.
    trial: Option<Trial>,
}

#[derive(Debug, Clone, Default)]
struct Trial {
    saved: HashMap<String, Option<Table>>,
    new_tables: HashSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<ColumnSpec>,
    /// Whether the columns are known (a table created by a migration runner read); a table
    /// it never saw created may have any columns.
    pub known: bool,
    /// Columns with a `CHECK (column IS NOT NULL)`: `true` once validated.
    pub not_null_checks: HashMap<String, bool>,
    /// Constraint names of those checks, to follow VALIDATE CONSTRAINT.
    check_names: HashMap<String, String>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl Schema {
    /// A model whose unqualified names live in `default_schema` (PostgreSQL's search path).
    pub fn new(default_schema: Option<&str>) -> Schema {
        Schema {
            default_schema: default_schema.map(str::to_string),
            ..Schema::default()
        }
    }

    /// A table name as the model keys it: qualified with the search path's schema.
    pub fn resolve(&self, name: &str) -> String {
        match &self.default_schema {
            Some(schema) if !name.contains('.') => format!("{schema}.{name}"),
            _ => name.to_string(),
        }
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(&self.resolve(name))
    }

    fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        let key = self.resolve(name);
        self.save(&key);
        self.tables.get_mut(&key)
    }

    /// During a trial, remembers `key` as it was before its first change.
    fn save(&mut self, key: &str) {
        if let Some(trial) = &mut self.trial
            && !trial.saved.contains_key(key)
        {
            trial
                .saved
                .insert(key.to_string(), self.tables.get(key).cloned());
        }
    }

    fn insert(&mut self, key: String, table: Table) {
        self.save(&key);
        self.tables.insert(key, table);
    }

    fn remove(&mut self, key: &str) -> Option<Table> {
        self.save(key);
        self.tables.remove(key)
    }

    /// Whether `name` was created by the file being read.
    pub fn is_new(&self, name: &str) -> bool {
        self.new_tables.contains(&self.resolve(name))
    }

    /// Forgets which tables are new: the file that made them may be applied from here on.
    pub fn settle(&mut self) {
        self.new_tables.clear();
    }

    /// Starts reading a file whose changes are to be undone afterwards (a rollback file, read
    /// against the schema its migration built).
    pub fn begin_trial(&mut self) {
        self.trial = Some(Trial {
            saved: HashMap::new(),
            new_tables: self.new_tables.clone(),
        });
    }

    /// Puts back every table the trial changed, as it was at `begin_trial`.
    pub fn end_trial(&mut self) {
        let Some(trial) = self.trial.take() else {
            return;
        };
        for (key, before) in trial.saved {
            match before {
                Some(table) => self.tables.insert(key, table),
                None => self.tables.remove(&key),
            };
        }
        self.new_tables = trial.new_tables;
    }

    /// Replays one operation. `new`: the migration it belongs to has not run anywhere yet.
    pub fn apply(&mut self, op: &Op, new: bool) {
        match op {
            Op::CreateTable { table, columns } => {
                let key = self.resolve(table);
                if new {
                    self.new_tables.insert(key.clone());
                } else {
                    self.new_tables.remove(&key);
                }
                self.insert(
                    key,
                    Table {
                        columns: columns.clone(),
                        known: true,
                        ..Table::default()
                    },
                );
            }
            Op::RenameTable { from, to } => {
                let from_key = self.resolve(from);
                if let Some(t) = self.remove(&from_key) {
                    // A renamed table stays in its schema.
                    let to = match from_key.rsplit_once('.') {
                        Some((schema, _)) if !to.contains('.') => format!("{schema}.{to}"),
                        _ => self.resolve(to),
                    };
                    if self.new_tables.remove(&from_key) {
                        self.new_tables.insert(to.clone());
                    }
                    self.insert(to, t);
                }
            }
            Op::DropTable { tables } => {
                for table in tables {
                    let key = self.resolve(table);
                    self.new_tables.remove(&key);
                    self.remove(&key);
                }
            }
            other => {
                if let Some(t) = column_op_table(other).and_then(|table| self.table_mut(table)) {
                    t.apply(other);
                }
            }
        }
    }
}

/// The table an operation on a table's columns or checks changes (`Table::apply`).
fn column_op_table(op: &Op) -> Option<&str> {
    match op {
        Op::AddColumn(c) => Some(&c.table),
        Op::DropColumn { table, .. }
        | Op::RenameColumn { table, .. }
        | Op::ChangeColumnType { table, .. }
        | Op::SetNotNull { table, .. }
        | Op::DropNotNull { table, .. }
        | Op::AddConstraint {
            table,
            not_null_of: Some(_),
            ..
        }
        | Op::ValidateConstraint { table, .. } => Some(table),
        _ => None,
    }
}

impl Table {
    /// Replays an operation on this table's columns or NOT NULL checks.
    fn apply(&mut self, op: &Op) {
        match op {
            Op::AddColumn(c) => {
                self.columns.retain(|x| x.name != c.column);
                self.columns.push(ColumnSpec {
                    name: c.column.clone(),
                    ty: c.ty.clone(),
                    not_null: c.not_null || c.primary_key,
                });
            }
            Op::DropColumn { column, .. } => {
                self.columns.retain(|c| &c.name != column);
                self.not_null_checks.remove(column);
            }
            Op::RenameColumn { from, to, .. } => {
                for c in self.columns.iter_mut().filter(|c| &c.name == from) {
                    c.name = to.clone();
                }
                if let Some(v) = self.not_null_checks.remove(from) {
                    self.not_null_checks.insert(to.clone(), v);
                }
            }
            Op::ChangeColumnType {
                column,
                new_type,
                not_null,
                ..
            } => {
                if let Some(c) = self.columns.iter_mut().find(|c| &c.name == column) {
                    c.ty = new_type.clone();
                    if let Some(not_null) = not_null {
                        c.not_null = *not_null;
                    }
                }
            }
            Op::SetNotNull { column, .. } | Op::DropNotNull { column, .. } => {
                let set = matches!(op, Op::SetNotNull { .. });
                if let Some(c) = self.columns.iter_mut().find(|c| &c.name == column) {
                    c.not_null = set;
                }
            }
            Op::AddConstraint {
                name,
                not_valid,
                not_null_of: Some(column),
                ..
            } => {
                self.not_null_checks.insert(column.clone(), !not_valid);
                if let Some(name) = name {
                    self.check_names.insert(name.clone(), column.clone());
                }
            }
            Op::ValidateConstraint { name, .. } => {
                if let Some(column) = self.check_names.get(name).cloned() {
                    self.not_null_checks.insert(column, true);
                }
            }
            _ => {}
        }
    }
}

/// Tables a file rebuilds the way SQLite documents (create the new table, copy the rows from
/// the old one, drop the old, rename the new to the old name): dropping them loses no rows.
pub fn rebuilt_tables<'a>(ops: impl Iterator<Item = &'a Op> + Clone) -> HashSet<String> {
    let mut copied: HashMap<String, HashSet<String>> = HashMap::new();
    for op in ops.clone() {
        if let Op::InsertSelect { table, from } = op {
            copied
                .entry(table.clone())
                .or_default()
                .extend(from.iter().cloned());
        }
    }
    let mut rebuilt = HashSet::new();
    for op in ops {
        if let Op::RenameTable { from, to } = op
            && copied.get(from).is_some_and(|sources| sources.contains(to))
        {
            rebuilt.insert(to.clone());
        }
    }
    rebuilt
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dialect;
    use crate::lint::parse::parse;

    fn replay(schema: &mut Schema, sql: &str, dialect: Dialect) {
        for s in parse(sql, dialect).statements {
            for op in &s.ops {
                schema.apply(op, false);
            }
        }
    }

    #[test]
    fn a_trial_puts_back_every_table_it_changed() {
        let mut schema = Schema::new(Some("public"));
        replay(
            &mut schema,
            "CREATE TABLE a (id int NOT NULL, x text); CREATE TABLE b (id int);",
            Dialect::Postgres,
        );
        schema.settle();
        for s in parse("CREATE TABLE fresh (id int);", Dialect::Postgres).statements {
            schema.apply(&s.ops[0], true);
        }
        let before = format!("{:?}", {
            let mut t: Vec<_> = schema.tables.iter().collect();
            t.sort_by_key(|(k, _)| (*k).clone());
            t
        });
        schema.begin_trial();
        replay(
            &mut schema,
            "DROP TABLE b; ALTER TABLE a DROP COLUMN x; ALTER TABLE a RENAME TO c; DROP TABLE fresh; CREATE TABLE d (id int);",
            Dialect::Postgres,
        );
        assert!(schema.table("b").is_none() && schema.table("c").is_some());
        schema.end_trial();
        let after = format!("{:?}", {
            let mut t: Vec<_> = schema.tables.iter().collect();
            t.sort_by_key(|(k, _)| (*k).clone());
            t
        });
        assert_eq!(before, after);
        assert!(schema.is_new("fresh") && !schema.is_new("a"));
    }

    #[test]
    fn names_are_resolved_with_their_schema() {
        let mut schema = Schema::new(Some("public"));
        replay(
            &mut schema,
            "CREATE TABLE tenant_new.orders (id int); CREATE TABLE orders (id int NOT NULL, note text);",
            Dialect::Postgres,
        );
        assert!(schema.table("tenant_new.orders").is_some());
        assert!(schema.table("tenant_old.orders").is_none());
        assert!(schema.table("public.orders").is_some());
        let orders = schema.table("orders").unwrap();
        assert!(orders.column("id").unwrap().not_null);
        assert!(!orders.column("note").unwrap().not_null);
    }

    #[test]
    fn nullability_and_not_null_checks_follow_the_ddl() {
        let mut schema = Schema::new(Some("public"));
        replay(
            &mut schema,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID;",
            Dialect::Postgres,
        );
        assert_eq!(
            schema.table("t").unwrap().not_null_checks.get("a"),
            Some(&false)
        );
        replay(
            &mut schema,
            "ALTER TABLE t VALIDATE CONSTRAINT a_nn;",
            Dialect::Postgres,
        );
        assert_eq!(
            schema.table("t").unwrap().not_null_checks.get("a"),
            Some(&true)
        );
        replay(
            &mut schema,
            "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
            Dialect::Postgres,
        );
        assert!(schema.table("t").unwrap().column("a").unwrap().not_null);
        replay(
            &mut schema,
            "ALTER TABLE t RENAME COLUMN a TO b; ALTER TABLE t RENAME TO u;",
            Dialect::Postgres,
        );
        assert!(schema.table("u").unwrap().column("b").unwrap().not_null);
    }

    #[test]
    fn the_sqlite_rebuild_is_recognized() {
        let sql = "CREATE TABLE customers_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n\
                   INSERT INTO customers_new (id, email) SELECT id, email FROM customers;\n\
                   DROP TABLE customers;\n\
                   ALTER TABLE customers_new RENAME TO customers;";
        let parsed = parse(sql, Dialect::Sqlite);
        let rebuilt = rebuilt_tables(parsed.statements.iter().flat_map(|s| &s.ops));
        assert!(rebuilt.contains("customers"), "{rebuilt:?}");
        let not_copied = "CREATE TABLE c2 (id INTEGER);\nDROP TABLE customers;\nALTER TABLE c2 RENAME TO customers;";
        let parsed = parse(not_copied, Dialect::Sqlite);
        assert!(rebuilt_tables(parsed.statements.iter().flat_map(|s| &s.ops)).is_empty());
    }
}
