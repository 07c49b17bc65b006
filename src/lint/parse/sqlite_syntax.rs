//! SQLite's own parser as the judge of a statement sqlparser cannot read: SQLite's grammar is
//! looser (`varchar[10]` is a type, `[x]` a quoted name), so only SQLite can say the statement
//! is a syntax error.
//!
//! The statement is prepared, never run, on an empty in-memory database: a syntax error is
//! reported while parsing, before names are resolved, so "no such table" and its kind mean
//! the syntax was fine.

use std::ffi::{CStr, CString};

use libsqlite3_sys as ffi;

/// SQLite's syntax error for `sql`, or `None` when SQLite parses it.
pub fn error(sql: &str) -> Option<String> {
    let sql = CString::new(sql).ok()?;
    let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
    let memory = c":memory:";
    // SAFETY: a fresh in-memory database; `db` is closed below whatever happens.
    let opened = unsafe {
        ffi::sqlite3_open_v2(
            memory.as_ptr(),
            &mut db,
            ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_MEMORY,
            std::ptr::null(),
        )
    };
    if opened != ffi::SQLITE_OK {
        // SAFETY: sqlite3_close accepts the handle sqlite3_open_v2 gave, even on failure.
        unsafe { ffi::sqlite3_close(db) };
        return None;
    }
    let mut statement: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
    // SAFETY: `sql` is NUL-terminated and outlives the call; the statement is finalized.
    let rc = unsafe {
        ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut statement, std::ptr::null_mut())
    };
    let message = if rc == ffi::SQLITE_OK {
        None
    } else {
        // SAFETY: the message belongs to `db`, copied before it is closed.
        let text = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }
            .to_string_lossy()
            .into_owned();
        is_syntax(&text).then_some(text)
    };
    // SAFETY: both handles came from SQLite above; finalize accepts NULL.
    unsafe {
        ffi::sqlite3_finalize(statement);
        ffi::sqlite3_close(db);
    }
    message
}

/// SQLite's parse-time errors (its grammar and its parser's limits), as opposed to name
/// resolution on an empty database.
fn is_syntax(message: &str) -> bool {
    message.contains("syntax error")
        || message.contains("incomplete input")
        || message.contains("unrecognized token")
        || message.contains("parser stack overflow")
        || message.contains("Expression tree is too large")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_judges_its_own_grammar() {
        assert_eq!(
            error("ALTER TABLE performers ADD COLUMN circumcised varchar[10];"),
            None
        );
        assert_eq!(error("CREATE TABLE t (a int, b [weird type]);"), None);
        assert!(error("CREATE TABLE t (a int,);").is_some_and(|m| m.contains("syntax error")));
        assert!(error("SELECT * FROM").is_some());
        // The SQLite runner runs (bundled by sqlx) grows its parser stack as needed.
        let deep = format!("SELECT {}1{};", "(".repeat(50_000), ")".repeat(50_000));
        assert_eq!(error(&deep), None);
    }
}
