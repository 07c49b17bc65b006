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

/// A column of a CREATE TABLE, as the schema model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    /// The type as written, lower case (`integer`, `varchar(20)`).
    pub ty: String,
    pub not_null: bool,
}

/// A column added by ADD COLUMN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewColumn {
    pub table: String,
    pub column: String,
    /// The type as written, lower case.
    pub ty: String,
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

/// One operation a statement performs. Table names are as written: `schema.table` when
/// qualified, bare otherwise (the schema model resolves them with the search path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// An object other than a table or an index (PostgreSQL): what undoing it drops.
    CreateObject {
        kind: ObjectKind,
        /// Qualified when written so; a function's or procedure's with its argument types,
        /// `name(int, text)`, as DROP FUNCTION needs.
        name: String,
    },
    CreateTable {
        table: String,
        columns: Vec<ColumnSpec>,
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
        /// MySQL's `DROP INDEX name ON table`.
        table: Option<String>,
    },
    Reindex {
        concurrently: bool,
        /// `INDEX orders_pkey`, `TABLE orders`...
        target: String,
    },
    AddConstraint {
        table: String,
        name: Option<String>,
        kind: ConstraintKind,
        not_valid: bool,
        using_index: bool,
        /// The column of a `CHECK (column IS NOT NULL)`, which lets PostgreSQL 12+ set NOT
        /// NULL without a scan once validated.
        not_null_of: Option<String>,
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
        /// MySQL's CHANGE/MODIFY restate the whole column: its nullability too.
        not_null: Option<bool>,
    },
    SetNotNull {
        table: String,
        column: String,
    },
    DropNotNull {
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
    /// `INSERT INTO table ... SELECT ... FROM from...`: rows copied between tables.
    InsertSelect {
        table: String,
        from: Vec<String>,
    },
    Transaction(TransactionKind),
    /// A MySQL `ALTER TABLE`'s `ALGORITHM` and `LOCK` clauses (given before its other
    /// operations): `online` when they ask for INSTANT, or INPLACE with LOCK=NONE, so the
    /// server refuses the change rather than copy the table or block writes.
    AlterAlgorithm {
        table: String,
        online: bool,
    },
    /// A MySQL `ALTER TABLE` operation that copies the table (rebuilds it with writes
    /// blocked) unless an online algorithm is asked for.
    TableCopy {
        table: String,
        /// What copies it: `drops the primary key`, `adds AUTO_INCREMENT column id`...
        what: String,
    },
    /// A MySQL `ADD COLUMN`: instant on recent servers, a rebuild of the table on older
    /// ones (or anywhere but at the end, on some).
    MysqlAddColumn {
        table: String,
        column: String,
        /// `AFTER x` or `FIRST`; `None` at the end.
        position: Option<String>,
    },
}

/// The kinds of `Op::CreateObject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    View,
    MaterializedView,
    Sequence,
    Type,
    Function,
    Procedure,
    Schema,
}

impl ObjectKind {
    /// The words of its DROP statement.
    pub fn sql(self) -> &'static str {
        match self {
            ObjectKind::View => "VIEW",
            ObjectKind::MaterializedView => "MATERIALIZED VIEW",
            ObjectKind::Sequence => "SEQUENCE",
            ObjectKind::Type => "TYPE",
            ObjectKind::Function => "FUNCTION",
            ObjectKind::Procedure => "PROCEDURE",
            ObjectKind::Schema => "SCHEMA",
        }
    }
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
    /// The database would reject it too: PostgreSQL's own grammar said so, or the text is
    /// not SQL at all (a NUL byte). False where only runner's MySQL parser (sqlparser, not
    /// MySQL's grammar) cannot read it: MySQL may well accept it.
    pub certain: bool,
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
                } | Op::Reindex {
                    concurrently: true,
                    ..
                }
            )
        })
    }
}

/// Line starts of a text, to turn byte offsets into 1-based lines and columns in
/// O(log n): a file of 60,000 statements must not cost 60,000 scans from its start.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::LineIndex;

    #[test]
    fn lines_and_columns_are_one_based_and_count_characters() {
        let index = LineIndex::new("ab\nçd\n\nx");
        assert_eq!(index.line_col(0), (1, 1));
        assert_eq!(index.line_col(2), (1, 3));
        assert_eq!(index.line_col(3), (2, 1));
        assert_eq!(index.line_col(5), (2, 2));
        assert_eq!(index.line_col(8), (4, 1));
        assert_eq!(index.line_col(99), (4, 2));
    }
}
