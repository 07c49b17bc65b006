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
    fn empty_statements_are_dropped() {
        assert_eq!(texts(";;  ; SELECT 1;;"), ["SELECT 1"]);
    }
}
