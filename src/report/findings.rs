//! `runner check` output: `human` for people, `json` (DESIGN §4) for programs, `github` for
//! workflow annotations.

use serde::Serialize;

use crate::lint::{Finding, Report};

pub fn human(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        out.push_str(&format!(
            "{}:{}:{}: {}[{}] {}\n  help: {}\n",
            f.file,
            f.line,
            f.column,
            f.severity.name(),
            f.rule.id(),
            f.message,
            f.help
        ));
    }
    if !report.findings.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

pub fn summary(report: &Report) -> String {
    let files = plural(report.files_checked, "file");
    match (report.errors(), report.warnings()) {
        (0, 0) => format!("ok: {files} checked, no problems"),
        (e, w) => format!(
            "{}, {} in {files}",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

/// The documented schema, fields in the documented order.
#[derive(Serialize)]
struct JsonReport<'a> {
    files_checked: usize,
    findings: &'a [Finding],
}

pub fn json(report: &Report) -> String {
    let doc = JsonReport {
        files_checked: report.files_checked,
        findings: &report.findings,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// `::error file=...,line=...,col=...,title=...::message`, one line a finding.
pub fn github(report: &Report) -> String {
    report
        .findings
        .iter()
        .map(|f| {
            format!(
                "::{} file={},line={},col={},title={}::{}\n",
                f.severity.name(),
                escape_property(&f.file),
                f.line,
                f.column,
                escape_property(f.rule.id()),
                escape_data(&format!("{} (help: {})", f.message, f.help)),
            )
        })
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escapes_what_the_annotation_syntax_reserves() {
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(escape_data("one\ntwo"), "one%0Atwo");
    }
}
