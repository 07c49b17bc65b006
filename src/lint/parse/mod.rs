//! From a migration's text to the operation model, by dialect.

mod postgres;
mod sqlite_syntax;
mod sqlparser_front;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use crate::catalog::sql_text::{Piece, pieces};
use crate::catalog::{Catalog, SqlFile};
use crate::config::Dialect;
use crate::lint::model::{ParseError, ParsedFile, Statement};
use crate::lint::split::{Chunk, split};

/// `parse` of a migration file, kept for the rest of the process by its exact text: the
/// gate's lint, its plan and the plan under the migration lock each read every pending file,
/// and parsing is most of their work. A file another thread is parsing is waited for, not
/// parsed twice.
pub fn parse_file(file: &SqlFile, dialect: Dialect) -> Arc<ParsedFile> {
    type Parsed = HashMap<(Dialect, String), Arc<OnceLock<Arc<ParsedFile>>>>;
    static PARSED: LazyLock<Mutex<Parsed>> = LazyLock::new(Default::default);
    let key = (dialect, file.checksums.sha256.clone());
    let slot = match PARSED.lock() {
        Ok(mut all) => Arc::clone(all.entry(key).or_default()),
        Err(_) => Arc::default(),
    };
    Arc::clone(slot.get_or_init(|| Arc::new(parse(&file.sql, dialect))))
}

/// Parses every forward file of `catalog` into `parse_file`'s store, on every core: started
/// beside the work that waits for the database (connecting, the lock, the history tables), so
/// the gate finds its parses done.
pub fn warm(catalog: &Catalog, dialect: Dialect) {
    crate::runtime::in_parallel(&catalog.migrations, |m| {
        parse_file(&m.forward, dialect);
    });
}

pub fn parse(sql: &str, dialect: Dialect) -> ParsedFile {
    // Blank a byte-order mark rather than drop it, so offsets still match the file.
    let blanked;
    let sql = match sql.strip_prefix('\u{feff}') {
        Some(rest) => {
            blanked = format!("   {rest}");
            blanked.as_str()
        }
        None => sql,
    };
    let parsed = match dialect {
        Dialect::Postgres => postgres::parse(sql),
        Dialect::Sqlite | Dialect::Mysql => sqlparser_front::parse(sql, dialect),
    };
    debug_assert!(
        parsed
            .statements
            .windows(2)
            .all(|w| w[0].offset <= w[1].offset)
    );
    parsed
}

/// Offset of the first token (not whitespace, not a comment) in `text`.
pub(crate) fn first_token(text: &str) -> Option<usize> {
    let base = text.as_ptr() as usize;
    pieces(text).into_iter().find_map(|p| match p {
        Piece::Code(t) | Piece::Quoted(t) => Some(t.as_ptr() as usize - base),
        _ => None,
    })
}

/// Splits `sql` into statements with `chunks` and parses each alone with
/// `parse_one(text, offset)`, so that each statement the parser rejects becomes its own error
/// and the others are kept.
fn parse_in_chunks(
    chunks: Vec<Chunk<'_>>,
    parse_one: impl Fn(&str, usize) -> Result<Vec<Statement>, ParseError>,
) -> ParsedFile {
    let mut parsed = ParsedFile::default();
    for chunk in chunks {
        match parse_one(chunk.text, chunk.offset) {
            Ok(statements) => parsed.statements.extend(statements),
            Err(error) => parsed.errors.push(error),
        }
    }
    parsed
}

/// A parser message short enough for one line: a file of garbage makes the parser quote a
/// token thousands of characters long.
pub(crate) fn clip(message: &str) -> String {
    const MAX: usize = 160;
    match message.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &message[..cut]),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Checksums, Directives};

    fn file(name: &str, sql: &str) -> SqlFile {
        SqlFile {
            file_name: name.into(),
            path: name.into(),
            sql: sql.into(),
            checksums: Checksums::of(sql),
            directives: Directives::default(),
            first_line: 1,
        }
    }

    #[test]
    fn a_file_is_parsed_once_per_text_and_dialect() {
        let sql = "CREATE TABLE kept_once (id int);";
        let first = parse_file(&file("V1__a.sql", sql), Dialect::Postgres);
        // Another file of the same text (a copy, another folder) shares the parse.
        let again = parse_file(&file("V9__b.sql", sql), Dialect::Postgres);
        assert!(Arc::ptr_eq(&first, &again));
        // A changed text, or another dialect, is parsed anew.
        let edited = parse_file(
            &file("V1__a.sql", "DROP TABLE kept_once;"),
            Dialect::Postgres,
        );
        assert!(!Arc::ptr_eq(&first, &edited));
        assert!(matches!(
            edited.statements[0].ops[0],
            crate::lint::model::Op::DropTable { .. }
        ));
        let sqlite = parse_file(&file("V1__a.sql", sql), Dialect::Sqlite);
        assert!(!Arc::ptr_eq(&first, &sqlite));
    }

    /// Threads asking for the same text at once get one parse: the second waits for the
    /// first rather than parsing again.
    #[test]
    fn a_file_asked_for_by_several_threads_at_once_is_parsed_once() {
        let sql = "CREATE TABLE asked_at_once (id int);\nCREATE INDEX ON asked_at_once (id);";
        let parses: Vec<Arc<ParsedFile>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    scope.spawn(move || {
                        parse_file(&file(&format!("V{i}__x.sql"), sql), Dialect::Postgres)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(parses.iter().all(|p| Arc::ptr_eq(p, &parses[0])));
        assert_eq!(parses[0].statements.len(), 2);
    }
}
