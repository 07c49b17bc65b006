//! A small SQL lexer that knows only what the catalog needs: where comments, string literals,
//! quoted identifiers and dollar quotes begin and end.
//!
//! It is not a parser (the linter uses the real PostgreSQL grammar). It exists so that the
//! normalized checksum and the directive scan never mistake `--` inside a string for a comment,
//! or whitespace inside `$$ ... $$` for insignificant whitespace.

/// One piece of SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Keywords, identifiers, numbers and punctuation.
    Code(&'a str),
    /// A run of whitespace (including newlines).
    Space(&'a str),
    /// `-- ...` up to (not including) the newline; `line` is 1-based.
    LineComment { text: &'a str, line: usize },
    /// `/* ... */`, nested as PostgreSQL nests them.
    BlockComment(&'a str),
    /// A string literal, quoted identifier or dollar-quoted body, quotes included.
    Quoted(&'a str),
}

/// Splits `sql` into pieces. Unterminated quotes or comments run to the end of the text: the
/// database will reject them, and the checksum still covers every byte of them.
pub fn pieces<'a>(sql: &'a str) -> Vec<Piece<'a>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let mut code_start: Option<usize> = None;

    let flush_code = |out: &mut Vec<Piece<'a>>, start: &mut Option<usize>, end: usize| {
        if let Some(s) = start.take() {
            out.push(Piece::Code(&sql[s..end]));
        }
    };

    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        let end = if c.is_ascii_whitespace() {
            let end = scan_while(bytes, i, |b| b.is_ascii_whitespace());
            flush_code(&mut out, &mut code_start, i);
            out.push(Piece::Space(&sql[i..end]));
            end
        } else if c == b'-' && next == Some(b'-') {
            let end = scan_while(bytes, i, |b| b != b'\n');
            flush_code(&mut out, &mut code_start, i);
            out.push(Piece::LineComment {
                text: &sql[i..end],
                line,
            });
            end
        } else if c == b'/' && next == Some(b'*') {
            let end = block_comment_end(bytes, i);
            flush_code(&mut out, &mut code_start, i);
            out.push(Piece::BlockComment(&sql[i..end]));
            end
        } else if let Some(end) = quoted_end(bytes, i) {
            // An E'...' prefix belongs to the literal.
            let start = match (code_start, c) {
                (Some(s), b'\'') if s + 1 == i && is_escape_prefix(bytes[s]) => {
                    code_start = None;
                    s
                }
                _ => {
                    flush_code(&mut out, &mut code_start, i);
                    i
                }
            };
            out.push(Piece::Quoted(&sql[start..end]));
            end
        } else {
            code_start.get_or_insert(i);
            i + utf8_len(c)
        };
        line += sql[i..end].matches('\n').count();
        i = end;
    }
    flush_code(&mut out, &mut code_start, bytes.len());
    out
}

fn is_escape_prefix(b: u8) -> bool {
    b == b'E' || b == b'e'
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn scan_while(bytes: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| !keep(b))
        .map_or(bytes.len(), |n| from + n)
}

fn block_comment_end(bytes: &[u8], from: usize) -> usize {
    let mut depth = 0usize;
    let mut i = from;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// If a quoted piece starts at `i`, returns where it ends.
fn quoted_end(bytes: &[u8], i: usize) -> Option<usize> {
    let prev_is_word = i > 0 && is_word(bytes[i - 1]);
    match bytes[i] {
        b'\'' => {
            let backslash =
                i > 0 && is_escape_prefix(bytes[i - 1]) && (i < 2 || !is_word(bytes[i - 2]));
            Some(quote_end(bytes, i, b'\'', backslash))
        }
        b'"' => Some(quote_end(bytes, i, b'"', false)),
        b'`' => Some(quote_end(bytes, i, b'`', false)),
        b'$' if !prev_is_word => dollar_quote_end(bytes, i),
        _ => None,
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// End of a quote opened at `open`; a doubled quote is an escaped quote.
fn quote_end(bytes: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        let b = bytes[i];
        if backslash_escapes && b == b'\\' {
            i += 2;
        } else if b == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// `$tag$ ... $tag$` with an empty or identifier tag; `$1` (a parameter) is not a quote.
fn dollar_quote_end(bytes: &[u8], open: usize) -> Option<usize> {
    let tag_len = bytes[open + 1..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80))?;
    let tag_end = open + 1 + tag_len;
    if bytes.get(tag_end) != Some(&b'$') || bytes.get(open + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let tag = &bytes[open..=tag_end];
    let body = tag_end + 1;
    let close = bytes[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(bytes.len(), |n| body + n + tag.len());
    Some(close)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<String> {
        pieces(sql)
            .into_iter()
            .map(|p| match p {
                Piece::Code(s) => format!("C[{s}]"),
                Piece::Space(_) => "_".into(),
                Piece::LineComment { text, line } => format!("L{line}[{text}]"),
                Piece::BlockComment(s) => format!("B[{s}]"),
                Piece::Quoted(s) => format!("Q[{s}]"),
            })
            .collect()
    }

    #[test]
    fn comment_markers_inside_strings_are_not_comments() {
        assert_eq!(
            kinds("SELECT '--x', \"/*y*/\";"),
            [
                "C[SELECT]",
                "_",
                "Q['--x']",
                "C[,]",
                "_",
                "Q[\"/*y*/\"]",
                "C[;]"
            ]
        );
    }

    #[test]
    fn dollar_quotes_with_and_without_tags() {
        assert_eq!(
            kinds("AS $fn$ a -- b $fn$; $$x$$"),
            ["C[AS]", "_", "Q[$fn$ a -- b $fn$]", "C[;]", "_", "Q[$$x$$]"]
        );
    }

    #[test]
    fn parameters_and_identifiers_with_dollars_are_code() {
        assert_eq!(kinds("a$b $1"), ["C[a$b]", "_", "C[$1]"]);
    }

    #[test]
    fn escape_strings_take_backslashes() {
        assert_eq!(kinds(r"E'it\'s' x"), [r"Q[E'it\'s']", "_", "C[x]"]);
        assert_eq!(kinds("'it''s'"), ["Q['it''s']"]);
    }

    #[test]
    fn nested_block_comments_and_line_numbers() {
        assert_eq!(
            kinds("/* a /* b */ c */\n-- two\nx"),
            ["B[/* a /* b */ c */]", "_", "L2[-- two]", "_", "C[x]"]
        );
    }

    #[test]
    fn unterminated_quote_runs_to_the_end() {
        assert_eq!(kinds("x 'abc"), ["C[x]", "_", "Q['abc]"]);
    }
}
