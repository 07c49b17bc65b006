//! `parse-error`

use super::{ALL_DIALECTS, Check, RuleDef};
use crate::lint::finding::Severity;

pub const RULE: RuleDef = RuleDef {
    id: "parse-error",
    severity: Severity::Error,
    dialects: ALL_DIALECTS,
    summary: "a statement the database would reject",
    doc: DOC,
    check: Check::File,
};

const DOC: &str = r#"## What it does
Reports each statement the dialect's parser cannot read, with its line and the parser's
message. PostgreSQL uses the server's own grammar (libpg_query), so a parse error there is a
statement PostgreSQL rejects. For SQLite and MySQL, statements the databases accept but the
parser lacks (such as SQLite's `PRAGMA foreign_keys = ON`) are recognized, not reported.
MySQL's grammar is not available to runner (its parser is sqlparser's): a MySQL statement it
cannot read otherwise (a column attribute such as `VARCHAR(255) BINARY`) is a warning, not
linted, and `runner migrate` sends it to MySQL, which decides; `runner verify` runs it on a
scratch database first.

The other statements of the file are still linted.

## Why is this bad?
The migration fails on the first database it runs on, in the middle of a deploy. And a
statement that is not understood cannot be checked for anything else.

## Example
```sql
ALTER TABLE orders ADD COLUMN;
```

## Use instead
Fix the statement. If a parser gap makes runner reject SQL your database accepts, suppress it
with a reason and tell us:
```sql
-- runner:allow parse-error MySQL 9 syntax not yet in sqlparser
```
"#;

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::config::Dialect::*;
    use crate::lint::rules::testing::{fires, quiet};

    #[test]
    fn fires_with_the_line_of_the_bad_statement() {
        let msg = fires(&RULE, Postgres, "CREATE TABLE a (id int);\nALTER TABLE orders ADD COLUMN;\n");
        assert!(msg.contains("syntax error"), "{msg}");
        fires(&RULE, Sqlite, "CREATE TABLE (;");
    }

    #[test]
    fn a_mysql_statement_sqlparser_cannot_read_is_only_a_warning() {
        use crate::lint::finding::Severity;
        use crate::lint::rules::testing::findings;
        let found = findings(
            &RULE,
            Mysql,
            "ALTER TABLE t MODIFY COLUMN identifier VARCHAR(255) BINARY;",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].severity, Severity::Warning);
        assert!(found[0].message.contains("was not linted"), "{found:?}");
        // A NUL byte is not SQL in any dialect.
        let nul = findings(&RULE, Mysql, "SELECT \0;");
        assert_eq!(nul[0].severity, Severity::Error);
    }

    #[test]
    fn quiet_on_sql_the_database_accepts() {
        quiet(&RULE, Sqlite, "PRAGMA foreign_keys = ON;\nCREATE TABLE a (id INTEGER PRIMARY KEY);");
        quiet(&RULE, Postgres, "-- only a comment\n");
        quiet(&RULE, Postgres, "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;");
    }
}
