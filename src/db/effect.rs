//! What a statement run outside a transaction leaves behind, so that a run that stopped while
//! it ran can read from the catalog whether it took effect. Each backend says which of its
//! statements need this (`Backend::outside_transaction`).

/// What a statement that must run outside a transaction leaves behind, so that a run that
/// stopped while it ran can read from the catalog whether it took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `CREATE INDEX CONCURRENTLY`: done when the index (schema-qualified when its table is)
    /// exists and is valid.
    CreatesIndex(String),
    /// `DROP INDEX CONCURRENTLY`: done when none of the indexes exists any more.
    DropsIndexes(Vec<String>),
    /// Running it again is harmless: `REINDEX CONCURRENTLY`, `VACUUM`, `ALTER SYSTEM`, a pragma.
    Repeatable,
    /// MySQL DDL (each statement commits by itself, atomically): done when the catalog shows
    /// every one of these (a table created, a column added, an index dropped...).
    Schema(Vec<Expect>),
    /// Its effect cannot be read back (a procedure that commits, `CREATE DATABASE`): a person
    /// must say whether it ran.
    Unknown,
}

/// What the catalog shows once a DDL statement took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub table: String,
    /// A column or an index of `table`; `None` for the table itself.
    pub part: Option<Part>,
    /// Whether it exists afterwards.
    pub present: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Column(String),
    Index(String),
}
