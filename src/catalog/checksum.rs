//! The checksums runner keeps for every migration file.
//!
//! - `sha256`: of the bytes on disk. Any edit changes it.
//! - `normalized_sha256`: of the text with the BOM, carriage returns, comments and insignificant
//!   whitespace removed (outside string literals, quoted identifiers and dollar quotes). An edit
//!   that changes only these is cosmetic: a warning, not a refusal, when the file was applied.
//! - refinery's u64 (SipHasher13 of name, version and text), computed by refinery itself, so a
//!   database first migrated by refinery can be adopted.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::sql_text::{Piece, pieces};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checksums {
    pub sha256: String,
    pub normalized_sha256: String,
}

impl Checksums {
    pub fn of(text: &str) -> Self {
        Checksums {
            sha256: sha256_hex(text.as_bytes()),
            normalized_sha256: sha256_hex(normalize(text).as_bytes()),
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The text whose hash decides whether two versions of a file mean the same thing.
///
/// Whitespace runs become one space, and disappear next to `( ) , ;` where they can never
/// separate two tokens. Quoted pieces are kept byte for byte.
pub fn normalize(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for piece in pieces(text) {
        let token = match piece {
            Piece::Space(_) | Piece::LineComment { .. } | Piece::BlockComment(_) => {
                pending_space = true;
                continue;
            }
            Piece::Code(s) | Piece::Quoted(s) => s,
        };
        if pending_space && !out.is_empty() && !touches_separator(&out, token) {
            out.push(' ');
        }
        pending_space = false;
        out.push_str(token);
    }
    out
}

fn touches_separator(before: &str, token: &str) -> bool {
    let is_sep = |c: char| matches!(c, '(' | ')' | ',' | ';');
    before.ends_with(is_sep) || token.starts_with(is_sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        Checksums::of(a).normalized_sha256 == Checksums::of(b).normalized_sha256
    }

    #[test]
    fn cosmetic_edits_keep_the_normalized_checksum() {
        let original = "CREATE TABLE t (id int, name text);\n";
        let edited = "\u{feff}-- a comment\r\nCREATE  TABLE t(\r\n  id int ,\r\n  name text /* why */\r\n) ;";
        assert!(same(original, edited));
        assert_ne!(Checksums::of(original).sha256, Checksums::of(edited).sha256);
    }

    #[test]
    fn edits_inside_literals_change_the_normalized_checksum() {
        assert!(!same("SELECT 'a  b';", "SELECT 'a b';"));
        assert!(!same("SELECT '-- x';", "SELECT '';"));
        assert!(!same(
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 -- one\n $$ LANGUAGE sql;",
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1\n $$ LANGUAGE sql;"
        ));
    }

    #[test]
    fn semantic_edits_change_the_normalized_checksum() {
        assert!(!same(
            "ALTER TABLE t ADD c int;",
            "ALTER TABLE t ADD c bigint;"
        ));
        assert!(!same("SELECT a b;", "SELECT ab;"));
        assert!(!same("SELECT 1 - -1;", "SELECT 1 -  1;"));
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
