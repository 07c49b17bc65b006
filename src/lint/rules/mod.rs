//! The rules: one file each, holding its documentation, its check and its tests. The `Rule`
//! enum below is the registry; rule ids are a public contract (suppressions and runner.toml
//! name them).

use std::collections::{HashMap, HashSet};

use crate::config::Dialect;
use crate::lint::finding::Severity;
use crate::lint::model::Op;
use crate::lint::schema::Schema;

#[cfg(test)]
mod testing;

/// Everything a rule may know about a statement's surroundings: its file, and the schema the
/// migrations before it built.
#[derive(Debug, Default)]
pub struct Context {
    pub dialect: Option<Dialect>,
    /// What the migrations before this statement built, with the tables created earlier in
    /// the same file marked new: changing them locks nobody and breaks no release.
    pub schema: Schema,
    /// Tables this file rebuilds as SQLite documents (copy, drop, rename): no rows are lost.
    pub rebuilt: HashSet<String>,
    /// The PostgreSQL version the migrations run on (`[lint] postgres_version`).
    pub postgres_version: u32,
    /// The MySQL or MariaDB server the migrations run on (`[lint] mysql_version`).
    pub mysql_version: crate::lint::MysqlVersion,
    /// Indexes created earlier in this file.
    pub created_indexes: HashSet<String>,
    /// Constraints added NOT VALID earlier in the file, keyed by (table, name), with the
    /// transaction they were added in.
    pub not_valid: HashMap<(String, String), usize>,
    /// The transaction the current statement runs in (see `in_transaction`).
    pub transaction: usize,
    /// Whether the current statement runs inside a transaction with others: runner's own
    /// transaction around the file, or an explicit BEGIN block.
    pub in_transaction: bool,
    /// Whether an explicit BEGIN is open.
    pub explicit_transaction: bool,
    /// Whether runner wraps the whole file in one transaction.
    pub file_transaction: bool,
    /// The current MySQL ALTER TABLE asks for an online algorithm (`Op::AlterAlgorithm`).
    pub online_alter: bool,
    /// The file is `-- runner:phase contract`: it runs only once the previous release is
    /// stopped, so removing what only that release used breaks nothing.
    pub contract: bool,
}

impl Context {
    pub fn is_new(&self, table: &str) -> bool {
        self.schema.is_new(table)
    }
}

/// What a rule reports: the message names the objects; the help says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub message: String,
    pub help: String,
}

impl Hit {
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> Option<Hit> {
        Some(Hit {
            message: message.into(),
            help: help.into(),
        })
    }
}

pub type StatementCheck = fn(&Op, &Context) -> Option<Hit>;

/// How a rule finds its cases.
#[derive(Clone, Copy)]
pub enum Check {
    /// Over each operation of each statement.
    Statement(StatementCheck),
    /// From the migrations folder, its files and suppressions, not from one statement.
    File,
}

pub struct RuleDef {
    pub id: &'static str,
    pub severity: Severity,
    pub dialects: &'static [Dialect],
    /// One line for `runner explain`'s list.
    pub summary: &'static str,
    /// What it catches, why it is dangerous, the safe alternative, an example.
    pub doc: &'static str,
    pub check: Check,
}

pub const ALL_DIALECTS: &[Dialect] = &[Dialect::Postgres, Dialect::Sqlite, Dialect::Mysql];
pub const POSTGRES: &[Dialect] = &[Dialect::Postgres];
pub const MYSQL: &[Dialect] = &[Dialect::Mysql];
pub const SQLITE: &[Dialect] = &[Dialect::Sqlite];

macro_rules! registry {
    ($($variant:ident => $module:ident,)*) => {
        $(mod $module;)*

        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $($variant,)*
        }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            pub fn def(self) -> &'static RuleDef {
                match self {
                    $(Rule::$variant => &$module::RULE,)*
                }
            }
        }
    };
}

registry! {
    // Backward compatibility: the release still serving traffic must keep working.
    DropColumn => drop_column,
    DropTable => drop_table,
    DropSchema => drop_schema,
    RenameColumn => rename_column,
    RenameTable => rename_table,
    ChangeColumnType => change_column_type,
    AddRequiredColumn => add_required_column,
    SetNotNull => set_not_null,
    Truncate => truncate,
    // Locking and rewrites (PostgreSQL).
    CreateIndexWithoutConcurrently => create_index_without_concurrently,
    DropIndexWithoutConcurrently => drop_index_without_concurrently,
    ReindexWithoutConcurrently => reindex_without_concurrently,
    AddForeignKeyWithoutNotValid => add_foreign_key_without_not_valid,
    AddCheckWithoutNotValid => add_check_without_not_valid,
    ValidateInSameTransaction => validate_in_same_transaction,
    AddUniqueConstraint => add_unique_constraint,
    AddPrimaryKey => add_primary_key,
    AddColumnRewrite => add_column_rewrite,
    UnbatchedBackfill => unbatched_backfill,
    ConcurrentlyInTransaction => concurrently_in_transaction,
    TransactionControl => transaction_control,
    // Locking (MySQL).
    MysqlTableCopy => mysql_table_copy,
    // SQLite.
    SqliteUnsupportedAlter => sqlite_unsupported_alter,
    // Process and files.
    MissingRollback => missing_rollback,
    OrphanRollback => orphan_rollback,
    DuplicateVersion => duplicate_version,
    InvalidMigrationName => invalid_migration_name,
    InvalidFile => invalid_file,
    EmptyMigration => empty_migration,
    InvalidDirective => invalid_directive,
    NotAMigration => not_a_migration,
    ParseError => parse_error,
    InvalidSuppression => invalid_suppression,
    UnusedSuppression => unused_suppression,
    // Feature flags (runner flag).
    StaleFlag => stale_flag,
    UnknownFlag => unknown_flag,
    // Rollback verification (runner verify, runner check --verify).
    RollbackMismatch => rollback_mismatch,
    LossyMigration => lossy_migration,
    // The serving release's queries, prepared (runner check --verify).
    QueryBreaks => query_breaks,
    QueryShapeChanged => query_shape_changed,
    SelectStarShape => select_star_shape,
}

impl Rule {
    pub fn id(self) -> &'static str {
        self.def().id
    }

    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }

    pub fn severity(self) -> Severity {
        self.def().severity
    }

    pub fn applies_to(self, dialect: Dialect) -> bool {
        self.def().dialects.contains(&dialect)
    }

    /// The rule a catalog layout problem is reported under.
    pub fn for_problem(kind: crate::catalog::ProblemKind) -> Rule {
        use crate::catalog::ProblemKind as K;
        match kind {
            K::InvalidName | K::Subfolder => Rule::InvalidMigrationName,
            K::DuplicateVersion => Rule::DuplicateVersion,
            K::OrphanRollback => Rule::OrphanRollback,
            K::NotUtf8 | K::EmptyFile | K::Unreadable => Rule::InvalidFile,
            K::InvalidDirective | K::IrreversibleWithRollback => Rule::InvalidDirective,
            K::NotSql => Rule::NotAMigration,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_documented() {
        let mut seen = HashSet::new();
        for rule in Rule::ALL {
            let def = rule.def();
            assert!(seen.insert(def.id), "duplicate id {}", def.id);
            assert!(
                def.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                def.id
            );
            for section in ["## What it does", "## Why", "## Example"] {
                assert!(def.doc.contains(section), "{} lacks {section}", def.id);
            }
            assert!(!def.dialects.is_empty(), "{}", def.id);
        }
    }

    #[test]
    fn every_catalog_problem_has_a_rule_with_the_same_id() {
        use crate::catalog::ProblemKind as K;
        for kind in [
            K::InvalidName,
            K::Subfolder,
            K::DuplicateVersion,
            K::OrphanRollback,
            K::NotUtf8,
            K::EmptyFile,
            K::Unreadable,
            K::InvalidDirective,
            K::IrreversibleWithRollback,
            K::NotSql,
        ] {
            assert_eq!(Rule::for_problem(kind).id(), kind.id());
        }
    }
}

#[cfg(test)]
mod documented_examples {
    //! Each statement rule's documentation is a test (as squawk's are): the SQL under
    //! "## Example" fires the rule, the SQL under "## Use instead" does not, and the finding
    //! the example produces is a snapshot of what a person reads.

    use super::{Check, Rule};
    use crate::catalog::directives::{self, FileRole};
    use crate::config::Dialect;
    use crate::lint::{Finding, lint_text};

    /// The ```sql blocks of the section `heading` of a rule's doc.
    fn sql_blocks(doc: &str, heading: &str) -> Vec<String> {
        let Some(start) = doc.find(heading) else {
            return Vec::new();
        };
        let rest = &doc[start + heading.len()..];
        let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
        section
            .split("```sql\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .map(str::to_string)
            .collect()
    }

    /// `rule`'s findings on `sql` as a migration file (its `-- runner:` directives read).
    fn of(rule: Rule, dialect: Dialect, sql: &str) -> Vec<Finding> {
        let (directives, _) = directives::parse(sql, FileRole::Forward);
        lint_text("example.sql", sql, dialect, &directives)
            .into_iter()
            .filter(|f| f.rule == rule)
            .collect()
    }

    #[test]
    fn every_statement_rule_fires_on_its_example_and_not_on_what_it_recommends() {
        let mut checked = 0;
        let mut rendered = String::new();
        for &rule in Rule::ALL {
            let def = rule.def();
            if !matches!(def.check, Check::Statement(_)) {
                continue;
            }
            let dialect = def.dialects[0];
            let examples = sql_blocks(def.doc, "## Example");
            assert!(
                !examples.is_empty(),
                "{}: its doc has no ```sql example",
                def.id
            );
            for example in &examples {
                let found = of(rule, dialect, example);
                assert!(
                    !found.is_empty(),
                    "{}: its documented example does not fire it:\n{example}",
                    def.id
                );
                for f in found {
                    rendered.push_str(&format!("{}: {}\n  help: {}\n", def.id, f.message, f.help));
                }
            }
            for instead in sql_blocks(def.doc, "## Use instead") {
                let found = of(rule, dialect, &instead);
                assert!(
                    found.is_empty(),
                    "{}: fires on what its doc recommends instead:\n{instead}\n{found:#?}",
                    def.id
                );
            }
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} statement rules checked");
        insta::assert_snapshot!("documented_examples", rendered);
    }
}
