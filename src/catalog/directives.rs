//! `-- runner:...` directives: comments at the top of a migration file that change how runner
//! treats it.
//!
//! | directive | meaning |
//! |---|---|
//! | `-- runner:irreversible <reason>` | the migration has no rollback, on purpose |
//! | `-- runner:phase expand\|contract` | which half of an expand/contract change this is |
//! | `-- runner:no-transaction` | run statement by statement, outside a transaction |
//! | `-- runner:allow-file <rule> <reason>` | lint suppression for the whole file (checked by `runner check`) |
//! | `-- runner:allow <rule> <reason>` | lint suppression for the next statement; may stand anywhere |

use serde::Serialize;

use super::sql_text::{Piece, pieces};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Expand,
    Contract,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Contract => "contract",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Directives {
    /// The reason given with `-- runner:irreversible`.
    pub irreversible: Option<String>,
    pub phase: Option<Phase>,
    pub no_transaction: bool,
}

/// A directive that cannot be honoured, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveError {
    pub line: usize,
    pub message: String,
}

/// Which kind of file the directives are read from: a rollback cannot be irreversible or
/// carry a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    Forward,
    Rollback,
}

const HEADER_ONLY: [&str; 4] = ["irreversible", "phase", "no-transaction", "allow-file"];

pub fn parse(sql: &str, role: FileRole) -> (Directives, Vec<DirectiveError>) {
    let mut directives = Directives::default();
    let mut errors = Vec::new();
    let mut in_header = true;
    for piece in pieces(sql.strip_prefix('\u{feff}').unwrap_or(sql)) {
        let (text, line) = match piece {
            Piece::LineComment { text, line } => (text, line),
            Piece::Code(_) | Piece::Quoted(_) => {
                in_header = false;
                continue;
            }
            Piece::Space(_) | Piece::BlockComment(_) => continue,
        };
        let Some(body) = text
            .trim_start_matches('-')
            .trim_start()
            .strip_prefix("runner:")
        else {
            continue;
        };
        let (name, args) = body
            .split_once(char::is_whitespace)
            .map_or((body.trim(), ""), |(n, a)| (n, a.trim()));
        let mut fail = |message: String| errors.push(DirectiveError { line, message });
        if !in_header && HEADER_ONLY.contains(&name) {
            fail(format!(
                "`runner:{name}` must be at the top of the file, before the first statement"
            ));
            continue;
        }
        match (name, role) {
            ("irreversible" | "phase", FileRole::Rollback) => fail(format!(
                "`runner:{name}` belongs in the forward migration, not in its rollback"
            )),
            ("irreversible", _) if args.is_empty() => fail(
                "`runner:irreversible` needs a reason, e.g. `-- runner:irreversible drops the legacy audit table`"
                    .into(),
            ),
            ("irreversible", _) if directives.irreversible.is_some() => {
                fail("`runner:irreversible` is given twice".into())
            }
            ("irreversible", _) => directives.irreversible = Some(args.to_string()),
            ("phase", _) => match (args, directives.phase) {
                (_, Some(_)) => fail("`runner:phase` is given twice".into()),
                ("expand", None) => directives.phase = Some(Phase::Expand),
                ("contract", None) => directives.phase = Some(Phase::Contract),
                (other, None) => fail(format!(
                    "`runner:phase` takes `expand` or `contract`, not `{other}`"
                )),
            },
            ("no-transaction", _) if !args.is_empty() => {
                fail(format!("`runner:no-transaction` takes no argument, got `{args}`"))
            }
            ("no-transaction", _) => directives.no_transaction = true,
            // Suppressions are read and checked by the linter, which knows the rule ids.
            ("allow" | "allow-file", _) => {}
            (other, _) => fail(format!(
                "unknown directive `runner:{other}`; known: irreversible, phase, no-transaction, allow, allow-file"
            )),
        }
    }
    (directives, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_directives() {
        let sql = "-- runner:phase contract\n--runner:no-transaction\n-- runner:irreversible  drops old data \nDROP TABLE t;";
        let (d, errors) = parse(sql, FileRole::Forward);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(d.phase, Some(Phase::Contract));
        assert!(d.no_transaction);
        assert_eq!(d.irreversible.as_deref(), Some("drops old data"));
    }

    #[test]
    fn irreversible_without_reason_is_an_error() {
        let (_, errors) = parse("-- runner:irreversible\nDROP TABLE t;", FileRole::Forward);
        assert_eq!(errors[0].line, 1);
        assert!(errors[0].message.contains("needs a reason"));
    }

    #[test]
    fn header_directive_after_a_statement_is_an_error() {
        let (d, errors) = parse("SELECT 1;\n-- runner:no-transaction\n", FileRole::Forward);
        assert!(!d.no_transaction);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("top of the file"));
    }

    #[test]
    fn unknown_and_misplaced_directives_are_errors() {
        let (_, errors) = parse(
            "-- runner:phase sideways\n-- runner:nope\n",
            FileRole::Forward,
        );
        assert_eq!(errors.len(), 2);
        assert!(
            errors[1]
                .message
                .contains("unknown directive `runner:nope`")
        );
        let (_, errors) = parse("-- runner:irreversible x\n", FileRole::Rollback);
        assert!(errors[0].message.contains("not in its rollback"));
    }

    #[test]
    fn statement_suppressions_may_stand_anywhere_and_strings_are_not_comments() {
        let sql = "SELECT '-- runner:nope';\n-- runner:allow drop-column kept for one release\nALTER TABLE t DROP COLUMN c;";
        let (_, errors) = parse(sql, FileRole::Forward);
        assert!(errors.is_empty(), "{errors:?}");
    }
}
