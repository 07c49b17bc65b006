//! `${VAR}` in runner.toml values, filled from the environment.
//!
//! `$${` writes a literal `${`. A variable that is not set is an error naming it: a deploy tool
//! must never connect to a database built from half a URL.

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    Missing(String),
    Unterminated,
    BadName(String),
}

impl std::fmt::Display for InterpolationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpolationError::Missing(name) => write!(
                f,
                "environment variable {name} is not set; export it, or write the value in runner.toml"
            ),
            InterpolationError::Unterminated => {
                write!(
                    f,
                    "`${{` is not closed with `}}` (write `$${{` for a literal `${{`)"
                )
            }
            InterpolationError::BadName(name) => write!(
                f,
                "`${{{name}}}` is not a variable name: use letters, digits and underscores"
            ),
        }
    }
}

pub fn interpolate(
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or(InterpolationError::Unterminated)?;
            let name = &tail[..end];
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(InterpolationError::BadName(name.to_string()));
            }
            let found =
                lookup(name).ok_or_else(|| InterpolationError::Missing(name.to_string()))?;
            out.push_str(&found);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "DB_PASS").then(|| "pa$$".to_string())
    }

    #[test]
    fn fills_variables_and_keeps_escapes_and_lone_dollars() {
        assert_eq!(
            interpolate("postgres://app:${DB_PASS}@h/$db $${X}", &env).unwrap(),
            "postgres://app:pa$$@h/$db ${X}"
        );
    }

    #[test]
    fn names_the_missing_variable() {
        assert_eq!(
            interpolate("${STAGING_URL}", &env),
            Err(InterpolationError::Missing("STAGING_URL".into()))
        );
        assert_eq!(
            interpolate("${A", &env),
            Err(InterpolationError::Unterminated)
        );
        assert_eq!(
            interpolate("${1A}", &env),
            Err(InterpolationError::BadName("1A".into()))
        );
    }
}
