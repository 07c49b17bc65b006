//! Splits SQL text into statements at top-level semicolons, for the statements a parser could
//! not read as a whole: each piece is then parsed alone, so an error is pinned to its statement
//! and the statements around it are still linted.
//!
//! Semicolons inside quotes, comments and dollar quotes do not split, nor do those inside a
//! `BEGIN ... END` body of a trigger or a `BEGIN ATOMIC` function.

use crate::catalog::sql_text::{Piece, pieces};

/// A statement's text: from its first token to its terminating semicolon (excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Byte offset of the first token in the whole text.
    pub offset: usize,
    pub text: &'a str,
}

pub fn split<'a>(sql: &'a str) -> Vec<Chunk<'a>> {
    let base = sql.as_ptr() as usize;
    let mut chunks = Vec::new();
    let mut start: Option<usize> = None;
    let mut first_word: Option<String> = None;
    let mut depth = 0usize;
    let close = |chunks: &mut Vec<Chunk<'a>>, start: &mut Option<usize>, end: usize| {
        if let Some(s) = start.take() {
            chunks.push(Chunk {
                offset: s,
                text: sql[s..end].trim_end(),
            });
        }
    };
    for piece in pieces(sql) {
        let (text, is_code) = match piece {
            Piece::Code(t) => (t, true),
            Piece::Quoted(t) => (t, false),
            Piece::Space(_) | Piece::LineComment { .. } | Piece::BlockComment(_) => continue,
        };
        let piece_offset = text.as_ptr() as usize - base;
        if !is_code {
            start.get_or_insert(piece_offset);
            continue;
        }
        // Walk words and semicolons inside the code piece.
        let mut word_start: Option<usize> = None;
        for (i, c) in text
            .char_indices()
            .chain(std::iter::once((text.len(), ' ')))
        {
            let is_word = c.is_alphanumeric() || c == '_';
            if is_word {
                word_start.get_or_insert(i);
                start.get_or_insert(piece_offset + i);
                continue;
            }
            if let Some(ws) = word_start.take() {
                let word = text[ws..i].to_ascii_uppercase();
                track_block(&word, &mut first_word, &mut depth);
            }
            if i == text.len() {
                break;
            }
            if c == ';' && depth == 0 {
                close(&mut chunks, &mut start, piece_offset + i);
                first_word = None;
            } else if !c.is_whitespace() {
                start.get_or_insert(piece_offset + i);
            }
        }
    }
    close(&mut chunks, &mut start, sql.len());
    chunks
}

/// MySQL files as the `mysql` client reads them: a line `DELIMITER x` (not a statement
/// itself) makes `x` end statements until the next one, so that stored code with `;` in its
/// body can be written (`DELIMITER //` ... `END //` ... `DELIMITER ;`). Where the delimiter
/// is `;`, `split` applies.
pub fn split_mysql<'a>(sql: &'a str) -> Vec<Chunk<'a>> {
    let base = sql.as_ptr() as usize;
    let mut chunks = Vec::new();
    let mut delimiter = ";";
    let mut region = 0;
    let flush = |from: usize, to: usize, delimiter: &str, chunks: &mut Vec<Chunk<'a>>| {
        let text = &sql[from..to];
        let found = if delimiter == ";" {
            split(text)
        } else {
            split_at(text, delimiter)
        };
        chunks.extend(found.into_iter().map(|c| Chunk {
            offset: c.text.as_ptr() as usize - base,
            text: c.text,
        }));
    };
    let mut at = 0;
    for line in sql.split_inclusive('\n') {
        if let Some(next) = delimiter_directive(line) {
            flush(region, at, delimiter, &mut chunks);
            delimiter = next;
            region = at + line.len();
        }
        at += line.len();
    }
    flush(region, sql.len(), delimiter, &mut chunks);
    chunks
}

/// `DELIMITER x` on a line of its own: `x`.
fn delimiter_directive(line: &str) -> Option<&str> {
    let t = line.trim();
    let (word, rest) = t.split_once(char::is_whitespace)?;
    if !word.eq_ignore_ascii_case("DELIMITER") {
        return None;
    }
    let d = rest.trim();
    (!d.is_empty() && !d.contains(char::is_whitespace)).then_some(d)
}

/// Splits at `delimiter` outside MySQL quotes ('...', "...", `...`) and comments (`-- `, `#`,
/// `/* */`).
fn split_at<'a>(sql: &'a str, delimiter: &str) -> Vec<Chunk<'a>> {
    let bytes = sql.as_bytes();
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |chunks: &mut Vec<Chunk<'a>>, from: usize, to: usize| {
        let text = skip_comments(sql[from..to].trim());
        if !text.is_empty() {
            chunks.push(Chunk {
                offset: text.as_ptr() as usize - sql.as_ptr() as usize,
                text,
            });
        }
    };
    while i < bytes.len() {
        let rest = &sql[i..];
        let c = bytes[i];
        if rest.starts_with(delimiter) {
            push(&mut chunks, start, i);
            i += delimiter.len();
            start = i;
            continue;
        }
        match c {
            b'\'' | b'"' | b'`' => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == c {
                        // A doubled quote is one quote inside.
                        if bytes.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'#' => i += rest.find('\n').unwrap_or(rest.len()),
            b'-' if rest.starts_with("-- ") || rest.starts_with("--\t") || rest == "--" => {
                i += rest.find('\n').unwrap_or(rest.len());
            }
            b'/' if rest.starts_with("/*") => {
                i += rest[2..].find("*/").map_or(rest.len(), |e| e + 4);
            }
            _ => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    push(&mut chunks, start, sql.len().min(bytes.len()));
    chunks
}

/// `text` from its first token: leading MySQL comments skipped.
fn skip_comments(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        let end = if text.starts_with('#') || text.starts_with("-- ") || text.starts_with("--\n") {
            text.find('\n').map_or(text.len(), |e| e + 1)
        } else if text.starts_with("/*") && !text.starts_with("/*!") {
            text[2..].find("*/").map_or(text.len(), |e| e + 4)
        } else {
            return text;
        };
        text = &text[end..];
    }
}

/// Tracks `BEGIN ... END` bodies of CREATE statements (triggers, `BEGIN ATOMIC` functions),
/// where `CASE ... END` nests too. A statement starting with BEGIN is a transaction, not a body.
fn track_block(word: &str, first_word: &mut Option<String>, depth: &mut usize) {
    let first = first_word.get_or_insert_with(|| word.to_string());
    if first != "CREATE" {
        return;
    }
    match word {
        "BEGIN" => *depth += 1,
        "CASE" if *depth > 0 => *depth += 1,
        "END" if *depth > 0 => *depth -= 1,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql).into_iter().map(|c| c.text).collect()
    }

    #[test]
    fn splits_at_top_level_semicolons_only() {
        assert_eq!(
            texts("SELECT ';'; -- a; b\nSELECT $$;$$ ;\n/* ; */ SELECT 3"),
            ["SELECT ';'", "SELECT $$;$$", "SELECT 3"]
        );
    }

    #[test]
    fn offsets_point_at_the_first_token() {
        let sql = "SELECT 1;\n  -- note\n  UPDATE t SET a = 1;";
        let chunks = split(sql);
        assert_eq!(&sql[chunks[1].offset..chunks[1].offset + 6], "UPDATE");
    }

    #[test]
    fn trigger_bodies_and_begin_atomic_stay_whole() {
        let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET n = CASE WHEN 1 THEN 2 END; DELETE FROM c; END; SELECT 1;";
        assert_eq!(texts(sql).len(), 2);
        let sql = "BEGIN; CREATE TABLE t (id int); COMMIT;";
        assert_eq!(texts(sql), ["BEGIN", "CREATE TABLE t (id int)", "COMMIT"]);
    }

    #[test]
    fn mysql_delimiter_lines_change_what_ends_a_statement() {
        let sql = "CREATE TABLE t (id INT);\nDELIMITER $$\n# the procedure\nCREATE PROCEDURE p()\nBEGIN\n  INSERT INTO t VALUES (1); -- one; two $$ no\n  SELECT '$$;';\nEND $$\ndelimiter ;\nCALL p();\nDROP PROCEDURE p;\n";
        let chunks = split_mysql(sql);
        let texts: Vec<&str> = chunks.iter().map(|c| c.text).collect();
        assert_eq!(
            texts,
            [
                "CREATE TABLE t (id INT)",
                "CREATE PROCEDURE p()\nBEGIN\n  INSERT INTO t VALUES (1); -- one; two $$ no\n  SELECT '$$;';\nEND",
                "CALL p()",
                "DROP PROCEDURE p",
            ]
        );
        assert_eq!(&sql[chunks[1].offset..chunks[1].offset + 6], "CREATE");
        assert_eq!(&sql[chunks[2].offset..chunks[2].offset + 4], "CALL");
        // Without DELIMITER lines it is `split`.
        assert_eq!(
            split_mysql("SELECT 1; SELECT 2"),
            split("SELECT 1; SELECT 2")
        );
    }

    #[test]
    fn empty_statements_are_dropped() {
        assert_eq!(texts(";;  ; SELECT 1;;"), ["SELECT 1"]);
    }
}
