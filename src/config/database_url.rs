//! Database URLs: validated once, and never shown with their password.
//!
//! `DatabaseUrl` has no `Display` that reveals the secret: `Debug` and `redacted()` print `***`
//! in its place, and `redact_text` scrubs any text (an error from a parser or a driver) that
//! might quote a URL. Only `expose()` returns the real URL, for connecting.

use std::fmt;
use std::path::Path;

use serde::Serialize;

/// The SQL dialect of a database, which also decides the parser the linter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Sqlite,
    Mysql,
}

impl Dialect {
    pub const NAMES: &'static str = "postgres, sqlite or mysql";

    pub fn parse(name: &str) -> Option<Dialect> {
        match name {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "sqlite" => Some(Dialect::Sqlite),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
            Dialect::Mysql => "mysql",
        }
    }

    /// The product's name, as people write it.
    pub fn display_name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::Sqlite => "SQLite",
            Dialect::Mysql => "MySQL",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    dialect: Dialect,
}

const EXPECTED: &str =
    "expected postgres://user:password@host:5432/database or sqlite://path/to/file.db";

impl DatabaseUrl {
    /// Validates `raw`. A relative SQLite path is resolved against `root` (the folder of
    /// runner.toml), so runner finds the same file from any subfolder.
    pub fn parse(raw: &str, root: &Path) -> Result<DatabaseUrl, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(format!("is empty; {EXPECTED}"));
        }
        let Some((scheme, rest)) = raw.split_once(':') else {
            return Err(format!("`{}` is not a URL; {EXPECTED}", redact_text(raw)));
        };
        let dialect = Dialect::parse(scheme)
            .ok_or_else(|| format!("has the unsupported scheme `{scheme}:`; {EXPECTED}"))?;
        if dialect == Dialect::Sqlite {
            return Ok(DatabaseUrl {
                url: sqlite_url(rest, root)?,
                dialect,
            });
        }
        let parsed = url::Url::parse(raw).map_err(|e| {
            format!(
                "`{}` is not a valid URL ({e}); {EXPECTED}",
                redact_text(raw)
            )
        })?;
        let socket = parsed.query_pairs().any(|(k, _)| k == "host");
        if parsed.host_str().is_none_or(str::is_empty) && !socket {
            return Err(format!("`{}` names no host; {EXPECTED}", redact_text(raw)));
        }
        Ok(DatabaseUrl {
            url: raw.to_string(),
            dialect,
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The URL with its password, for the driver only. Never print it.
    pub fn expose(&self) -> &str {
        &self.url
    }

    pub fn redacted(&self) -> String {
        redact_text(&self.url)
    }
}

fn sqlite_url(rest: &str, root: &Path) -> Result<String, String> {
    let body = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = body
        .split_once('?')
        .map_or((body, None), |(p, q)| (p, Some(q)));
    if path.is_empty() {
        return Err(format!("names no SQLite file; {EXPECTED}"));
    }
    let path = if path == ":memory:" || Path::new(path).is_absolute() {
        path.to_string()
    } else {
        root.join(path).display().to_string()
    };
    Ok(match query {
        Some(q) => format!("sqlite://{path}?{q}"),
        None => format!("sqlite://{path}"),
    })
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

/// Replaces every password in `text` with `***`: the `user:password@` of any `scheme://` URL,
/// and the value of any `password=` parameter.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (before, after) = rest.split_at(pos + 3);
        out.push_str(before);
        // Up to the next space or quote, not the next `/`: an unencoded `/` or `?` in a
        // password must not end the scan early. Hiding too much is harmless; too little is not.
        let authority_len = after
            .find(|c: char| matches!(c, '"' | '\'' | '`') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_len];
        match authority.rfind('@').and_then(|at| {
            let colon = authority[..at].find(':')?;
            Some((colon, at))
        }) {
            Some((colon, at)) => {
                out.push_str(&authority[..=colon]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_len..];
    }
    out.push_str(rest);
    redact_password_params(&out)
}

fn redact_password_params(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("password=") {
        let value_start = search + found + "password=".len();
        let value_len = text[value_start..]
            .find(|c: char| matches!(c, '&' | '"' | '\'' | '`' | ';') || c.is_whitespace())
            .unwrap_or(text.len() - value_start);
        out.push_str(&text[copied..value_start]);
        out.push_str("***");
        copied = value_start + value_len;
        search = copied;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls_and_parameters() {
        assert_eq!(
            redact_text("postgres://app:s3cr%40t@db:5432/shop"),
            "postgres://app:***@db:5432/shop"
        );
        assert_eq!(
            redact_text("invalid type: string \"mysql://u:p@h/d\", expected a table"),
            "invalid type: string \"mysql://u:***@h/d\", expected a table"
        );
        assert_eq!(
            redact_text("postgres://db/shop?user=a&password=hunter2&sslmode=require"),
            "postgres://db/shop?user=a&password=***&sslmode=require"
        );
        assert_eq!(
            redact_text("postgres://app@db/shop"),
            "postgres://app@db/shop"
        );
        assert_eq!(
            redact_text("postgres://u:pa/ss@db/x"),
            "postgres://u:***@db/x"
        );
        assert_eq!(
            redact_text("a postgres://u:pw@h/d and mysql://v:pw2@i/e"),
            "a postgres://u:***@h/d and mysql://v:***@i/e"
        );
    }

    #[test]
    fn a_password_with_an_at_sign_is_hidden_whole() {
        assert_eq!(
            redact_text("postgres://app:p@ss@db/shop"),
            "postgres://app:***@db/shop"
        );
    }

    #[test]
    fn sqlite_paths_are_resolved_against_the_project_root() {
        let url = DatabaseUrl::parse("sqlite://.runner/staging.db", Path::new("/srv/app")).unwrap();
        assert_eq!(url.expose(), "sqlite:///srv/app/.runner/staging.db");
        assert_eq!(url.dialect(), Dialect::Sqlite);
        let url = DatabaseUrl::parse("sqlite::memory:", Path::new("/x")).unwrap();
        assert_eq!(url.expose(), "sqlite://:memory:");
    }

    #[test]
    fn bad_urls_are_explained_without_their_password() {
        let err = DatabaseUrl::parse("postgres://u:topsecret@", Path::new("/")).unwrap_err();
        assert!(!err.contains("topsecret"), "{err}");
        let err = DatabaseUrl::parse("oracle://u:topsecret@h/db", Path::new("/")).unwrap_err();
        assert!(err.contains("unsupported scheme `oracle:`"), "{err}");
        assert!(DatabaseUrl::parse("localhost", Path::new("/")).is_err());
        let debug = format!(
            "{:?}",
            DatabaseUrl::parse("postgres://u:topsecret@h/db", Path::new("/")).unwrap()
        );
        assert!(!debug.contains("topsecret"), "{debug}");
    }
}
