//! Feeds arbitrary bytes through everything `runner check` does with a migration's text:
//! directives, checksums, and the linter in every dialect. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runner::catalog::directives::{self, FileRole};
use runner::catalog::Checksums;
use runner::config::Dialect;
use runner::lint::lint_text;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let (forward, _) = directives::parse(sql, FileRole::Forward);
    let _ = directives::parse(sql, FileRole::Rollback);
    let _ = Checksums::of(sql);
    for dialect in [Dialect::Postgres, Dialect::Sqlite, Dialect::Mysql] {
        for finding in lint_text("fuzz.sql", sql, dialect, &forward) {
            assert!(finding.line >= 1 && finding.column >= 1);
        }
    }
});
