//! Hostile input gets a clear result from `runner check`, never a panic or a hang: binary
//! files, non-UTF-8 text, NUL bytes, a 10 MB migration, a file of only comments, nesting deeper
//! than any parser allows.

use crate::harness::cli::{Output, Runner};

fn check_file(dialect: &str, name: &str, bytes: &[u8]) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join(name), bytes).unwrap();
    let down = name.replace(".sql", ".down.sql");
    std::fs::write(tmp.path().join(down), "SELECT 1;\n").unwrap();
    let out = Runner::new(tmp.path())
        .args(["check", "--dialect", dialect, "."])
        .run();
    assert!(!out.stderr.contains("panicked"), "{out}");
    out
}

/// Deterministic pseudo-random bytes (an LCG), so a failure can be replayed.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn a_binary_file_is_an_invalid_file() {
    for dialect in ["postgres", "sqlite", "mysql"] {
        check_file(dialect, "V1__blob.sql", &noise(64 * 1024))
            .expect_code(1)
            .stdout_has("error[invalid-file] is not UTF-8");
    }
}

#[test]
fn a_nul_byte_is_a_parse_error_with_its_position() {
    for dialect in ["postgres", "sqlite"] {
        check_file(dialect, "V1__nul.sql", b"SELECT 1;\nSELECT \0;\n")
            .expect_code(1)
            .stdout_has("V1__nul.sql:2:1: error[parse-error] the statement contains a NUL byte");
    }
}

#[test]
fn a_file_of_only_comments_is_an_empty_migration_not_a_no_op() {
    check_file(
        "postgres",
        "V1__notes.sql",
        b"-- nothing yet\n/* still\n nothing */\n",
    )
    .expect_code(1)
    .stdout_has("error[empty-migration]")
    .stdout_has("holds no statement");
}

#[test]
fn nesting_deeper_than_the_parser_allows_is_a_parse_error() {
    let deep = format!("SELECT {}1{};", "(".repeat(50_000), ")".repeat(50_000));
    check_file("postgres", "V1__deep.sql", deep.as_bytes())
        .expect_code(1)
        .stdout_has("error[parse-error]");
    // The SQLite runner runs (bundled, its parser stack grown as needed) accepts it: runner's
    // own parser gives up without crashing, and says it did not lint the statement.
    check_file("sqlite", "V1__deep.sql", deep.as_bytes())
        .expect_code(0)
        .stdout_has("warning[parse-error] runner's SQLite parser cannot read this statement");
}

#[test]
fn a_ten_megabyte_migration_is_checked_with_its_findings_located() {
    let mut sql = String::with_capacity(10 << 20);
    let mut n = 0;
    while sql.len() < 10 << 20 {
        sql.push_str(&format!(
            "CREATE TABLE t{n} (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'x');\n"
        ));
        n += 1;
    }
    sql.push_str("ALTER TABLE users DROP COLUMN email;\n");
    let out = check_file("postgres", "V1__huge.sql", sql.as_bytes()).expect_code(1);
    let expected = format!("V1__huge.sql:{}:1: error[drop-column]", n + 1);
    assert!(
        out.stdout.contains(&expected),
        "{}",
        &out.stdout[..out.stdout.len().min(2000)]
    );
}
