//! File names in the migrations folder: `V{version}__{name}.sql` and its `V{version}__{name}.down.sql`.
//!
//! refinery decides what a forward migration is; this module exists to say *why* every other
//! `.sql` name is rejected, since refinery skips what it does not match (and runs `U` files
//! forward), and a skipped migration is an outage waiting for its deploy.

/// What a file name in the migrations folder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// `V{version}__{name}.sql`; `stem` is the name without `.sql`.
    Forward { stem: String },
    /// `V{version}__{name}.down.sql`; `stem` is the forward file's stem.
    Rollback { stem: String },
    /// Not a `.sql` file.
    NotSql,
    /// A `.sql` file runner will not run, and why.
    Invalid(String),
}

pub const DOWN_SUFFIX: &str = ".down.sql";

pub fn classify(file_name: &str) -> FileName {
    if let Some(stem) = file_name.strip_suffix(DOWN_SUFFIX) {
        return match stem_problem(stem) {
            None => FileName::Rollback { stem: stem.into() },
            Some(why) => FileName::Invalid(why),
        };
    }
    if let Some(stem) = file_name.strip_suffix(".up.sql") {
        let hint = if stem_problem(stem).is_none() {
            format!("rename it to {stem}.sql")
        } else {
            "rename it to V{version}__{name}.sql".into()
        };
        return FileName::Invalid(format!(
            "`.up.sql` is not runner's naming: the forward file has no suffix and its rollback ends in .down.sql; {hint}"
        ));
    }
    let Some(stem) = file_name.strip_suffix(".sql") else {
        return FileName::NotSql;
    };
    match stem_problem(stem) {
        None => FileName::Forward { stem: stem.into() },
        Some(why) => FileName::Invalid(why),
    }
}

/// Why `stem` is not `V{digits}__{word}`, or `None` when it is.
fn stem_problem(stem: &str) -> Option<String> {
    let expected = "expected V{version}__{name}.sql, e.g. V0003__add_email.sql";
    let first = stem.chars().next()?;
    let rest = &stem[first.len_utf8()..];
    let digits_len = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let after_digits = &rest[digits_len..];
    match first {
        'U' if digits_len > 0 => {
            return Some(
                "a `U` prefix is not supported: refinery would run this file forward as an unversioned \
                 migration (a Flyway-style undo would be applied). Put the rollback in V{version}__{name}.down.sql"
                    .into(),
            );
        }
        'R' if rest.starts_with("__") => {
            return Some(
                "repeatable (`R__`) migrations are not supported: give the change a version, V{version}__{name}.sql"
                    .into(),
            );
        }
        'v' if digits_len > 0 => {
            return Some(format!(
                "the version prefix is an upper-case V: rename it to V{rest}.sql"
            ));
        }
        'V' => {}
        _ => return Some(format!("not a migration name: {expected}")),
    }
    if digits_len == 0 {
        return Some(format!(
            "the version after `V` must be a number: {expected}"
        ));
    }
    if let Some(fraction) = after_digits.strip_prefix('.') {
        let fraction_len = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        let version = &rest[..digits_len + 1 + fraction_len];
        return Some(format!(
            "versions are whole numbers; `{version}` is not: {expected}"
        ));
    }
    let Some(name) = after_digits.strip_prefix("__") else {
        return Some(format!(
            "separate the version from the name with two underscores: {expected}"
        ));
    };
    if name.is_empty() {
        return Some(format!("the migration has no name after `__`: {expected}"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || *c == '_')) {
        return Some(format!(
            "the name may hold only letters, digits and underscores, not {bad:?}: {expected}"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(name: &str) -> String {
        match classify(name) {
            FileName::Invalid(why) => why,
            other => panic!("{name} was accepted as {other:?}"),
        }
    }

    #[test]
    fn accepts_forward_and_rollback_names() {
        assert_eq!(
            classify("V0001__create_users.sql"),
            FileName::Forward {
                stem: "V0001__create_users".into()
            }
        );
        assert_eq!(
            classify("V12__x.down.sql"),
            FileName::Rollback {
                stem: "V12__x".into()
            }
        );
        assert_eq!(classify("README.md"), FileName::NotSql);
    }

    #[test]
    fn rejects_each_bad_name_with_its_own_reason() {
        assert!(why("U0001__undo.sql").contains("`U` prefix"));
        assert!(why("R__views.sql").contains("repeatable"));
        assert!(why("V0001__a.up.sql").contains("rename it to V0001__a.sql"));
        assert!(why("v1__a.sql").contains("upper-case V"));
        assert!(why("V1_a.sql").contains("two underscores"));
        assert!(why("V1.5__a.sql").contains("`1.5` is not"));
        assert!(why("V1__add-email.sql").contains("not '-'"));
        assert!(why("V__a.sql").contains("must be a number"));
        assert!(why("V1__.sql").contains("no name"));
        assert!(why("create_users.sql").contains("not a migration name"));
        assert!(why("U1__a.down.sql").contains("`U` prefix"));
    }
}
