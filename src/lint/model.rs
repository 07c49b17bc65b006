//! The dialect-neutral model the rules read: each statement of a migration lowered to the
//! operations it performs. PostgreSQL (pg_query) and SQLite/MySQL (sqlparser) both produce it,
//! so a rule is written once and declares the dialects it applies to.

/// What a column default costs when added to an existing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultKind {
    None,
    /// A literal, or a cast of one: stored once in the catalog (PostgreSQL 11+), no rewrite.
    Constant,
    /// Stable or immutable, like `now()` or `CURRENT_TIMESTAMP`: evaluated once, no rewrite
    /// in PostgreSQL; SQLite still rejects it in ADD COLUMN.
    Stable,
    /// Volatile, like `clock_timestamp()` or `gen_random_uuid()`: every row gets its own value,
    /// so the table is rewritten under an ACCESS EXCLUSIVE lock. Holds the function's name.
    Volatile(String),
}

/// How a column's value is produced, when not by a plain default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    /// `serial`, `bigserial`, `smallserial`: a sequence default, filled row by row.
    Serial,
    /// `GENERATED ... AS IDENTITY`.
    Identity,
    /// `GENERATED ALWAYS AS (...) STORED`.
    Stored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Check,
    ForeignKey,
    Unique,
    PrimaryKey,
    Exclusion,
    NotNull,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    Begin,
    Commit,
    Rollback,
    /// SAVEPOINT, RELEASE, ROLLBACK TO: harmless inside runner's transaction.
    Savepoint,
}

/// A column added by ADD COLUMN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewColumn {
    pub table: String,
    pub column: String,
    pub default: DefaultKind,
    pub not_null: bool,
    pub generated: Option<Generated>,
    /// An inline REFERENCES.
    pub references: bool,
    pub primary_key: bool,
    pub unique: bool,
    /// An inline CHECK.
    pub check: bool,
}

/// One operation a statement performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    CreateTable {
        table: String,
    },
    AddColumn(NewColumn),
    CreateIndex {
        table: String,
        name: Option<String>,
        concurrently: bool,
        unique: bool,
    },
    DropIndex {
        names: Vec<String>,
        concurrently: bool,
    },
    ReindexConcurrently,
    AddConstraint {
        table: String,
        name: Option<String>,
        kind: ConstraintKind,
        not_valid: bool,
        using_index: bool,
    },
    ValidateConstraint {
        table: String,
        name: String,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    RenameTable {
        from: String,
        to: String,
    },
    DropColumn {
        table: String,
        column: String,
    },
    DropTable {
        tables: Vec<String>,
    },
    DropSchema {
        names: Vec<String>,
    },
    DropDatabase {
        name: String,
    },
    ChangeColumnType {
        table: String,
        column: String,
        new_type: String,
    },
    SetNotNull {
        table: String,
        column: String,
    },
    Truncate {
        tables: Vec<String>,
    },
    Update {
        table: String,
        has_where: bool,
    },
    Delete {
        table: String,
        has_where: bool,
    },
    Transaction(TransactionKind),
}

/// A statement of a migration file, where it starts, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Byte offset of the statement's first token in the file.
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub ops: Vec<Op>,
}

/// A statement the parser could not read. The database would reject it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A parsed file: its statements in order, and the pieces that could not be parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFile {
    pub statements: Vec<Statement>,
    pub errors: Vec<ParseError>,
}

impl ParsedFile {
    /// Whether runner must run this file statement by statement, outside a transaction:
    /// it holds a statement PostgreSQL refuses inside one.
    pub fn needs_statement_mode(&self) -> bool {
        self.statements.iter().flat_map(|s| &s.ops).any(|op| {
            matches!(
                op,
                Op::CreateIndex {
                    concurrently: true,
                    ..
                } | Op::DropIndex {
                    concurrently: true,
                    ..
                } | Op::ReindexConcurrently
            )
        })
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}
