//! `-- runner:allow <rule> <reason>` (the next statement) and `-- runner:allow-file <rule>
//! <reason>` (the whole file). A suppression must name a known rule and give a reason; one that
//! suppresses nothing is reported, so a misplaced allow is noticed.

use crate::catalog::sql_text::{Piece, pieces};
use crate::lint::finding::Finding;
use crate::lint::model::LineIndex;
use crate::lint::rules::Rule;

struct Allow {
    rule: Rule,
    file_level: bool,
    offset: usize,
    line: usize,
    column: usize,
    used: bool,
}

/// Drops the findings that are suppressed, and adds `invalid-suppression` and
/// `unused-suppression` findings. `statement_offsets` are the starts of the file's statements
/// (and unparsable statements), in order.
pub fn apply(file: &str, sql: &str, statement_offsets: &[usize], findings: &mut Vec<Finding>) {
    let mut allows = read_allows(file, sql, findings);
    findings.retain(|f| {
        let suppressor = allows.iter_mut().find(|a| {
            a.rule == f.rule
                && (a.file_level
                    || f.statement.is_some() && target(a.offset, statement_offsets) == f.statement)
        });
        match suppressor {
            Some(a) => {
                a.used = true;
                false
            }
            None => true,
        }
    });
    report_unused(file, &allows, findings);
}

/// The file's valid allows; each invalid one (no rule, an unknown rule, no reason) becomes an
/// `invalid-suppression` finding.
fn read_allows(file: &str, sql: &str, findings: &mut Vec<Finding>) -> Vec<Allow> {
    let mut allows = Vec::new();
    let base = sql.as_ptr() as usize;
    let lines = LineIndex::new(sql);
    for piece in pieces(sql) {
        let Piece::LineComment { text, .. } = piece else {
            continue;
        };
        let Some((file_level, rest)) = allow_directive(text) else {
            continue;
        };
        let offset = text.as_ptr() as usize - base;
        let (line, column) = lines.line_col(offset);
        let mut words = rest.split_whitespace();
        let id = words.next().unwrap_or_default();
        let reason = words.next();
        let invalid = |message: String| Finding {
            rule: Rule::InvalidSuppression,
            severity: Rule::InvalidSuppression.severity(),
            file: file.to_string(),
            line,
            column,
            message,
            help: format!(
                "write `-- runner:{} <rule-id> <reason>`; `runner explain` lists the rule ids",
                if file_level { "allow-file" } else { "allow" }
            ),
            statement: None,
        };
        match (Rule::from_id(id), reason) {
            (None, _) if id.is_empty() => findings.push(invalid("the suppression names no rule".into())),
            (None, _) => findings.push(invalid(format!("unknown rule `{id}`"))),
            (Some(Rule::InvalidSuppression | Rule::UnusedSuppression), _) => {
                findings.push(invalid(format!("`{id}` cannot be suppressed")))
            }
            (Some(_), None) => findings.push(invalid(format!(
                "the suppression of `{id}` needs a reason, e.g. `-- runner:allow {id} reviewed in PR 123`"
            ))),
            (Some(rule), Some(_)) => allows.push(Allow {
                rule,
                file_level,
                offset,
                line,
                column,
                used: false,
            }),
        }
    }
    allows
}

/// A line comment's `runner:allow` (false) or `runner:allow-file` (true) directive, and the
/// text after it.
fn allow_directive(comment: &str) -> Option<(bool, &str)> {
    let body = comment
        .trim_start_matches('-')
        .trim_start()
        .strip_prefix("runner:")?;
    let (file_level, rest) = if let Some(rest) = body.strip_prefix("allow-file") {
        (true, rest)
    } else {
        (false, body.strip_prefix("allow")?)
    };
    // e.g. `runner:allowance`: an unknown directive, reported by the catalog.
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then_some((file_level, rest))
}

/// An `unused-suppression` finding for each allow that suppressed nothing.
fn report_unused(file: &str, allows: &[Allow], findings: &mut Vec<Finding>) {
    // Rules that `runner verify` checks (rollback-mismatch, lossy-migration) are not found by
    // reading the file: their allows are used there, never reported unused here.
    let read_elsewhere = |r: Rule| matches!(r.def().check, crate::lint::rules::Check::File);
    for a in allows.iter().filter(|a| !a.used && !read_elsewhere(a.rule)) {
        findings.push(Finding {
            rule: Rule::UnusedSuppression,
            severity: Rule::UnusedSuppression.severity(),
            file: file.to_string(),
            line: a.line,
            column: a.column,
            message: if a.file_level {
                format!(
                    "`allow-file {}` suppresses nothing: the rule does not fire in this file",
                    a.rule.id()
                )
            } else {
                format!(
                    "`allow {}` suppresses nothing: the next statement does not trigger it",
                    a.rule.id()
                )
            },
            help: "put the allow directly above the statement it is about, or delete it".into(),
            statement: None,
        });
    }
}

/// The reason of a `-- runner:allow-file <rule> <reason>` in `sql`, if it has one.
pub fn file_allowance(sql: &str, rule: Rule) -> Option<String> {
    pieces(sql)
        .into_iter()
        .find_map(|piece| {
            let Piece::LineComment { text, .. } = piece else {
                return None;
            };
            let rest = text
                .trim_start_matches('-')
                .trim_start()
                .strip_prefix("runner:allow-file")?;
            let mut words = rest.split_whitespace();
            (words.next()? == rule.id()).then(|| words.collect::<Vec<_>>().join(" "))
        })
        .filter(|reason| !reason.is_empty())
}

/// The statement a statement-level allow at `offset` applies to: the first one after it.
fn target(offset: usize, statement_offsets: &[usize]) -> Option<usize> {
    statement_offsets.iter().copied().find(|&s| s > offset)
}
