//! Reading one runner.toml: values with `${VAR}` filled in, and every error pointing at the
//! line and column of the value it is about.

use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::file::Text;
use super::interpolate::{InterpolationError, interpolate};
use super::{ConfigError, Overrides};

/// Reads values out of one runner.toml, turning byte offsets into lines for errors.
pub(super) struct Reader<'a> {
    pub(super) path: Option<&'a Path>,
    pub(super) source: &'a str,
    pub(super) overrides: &'a Overrides,
}

impl Reader<'_> {
    pub(super) fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.source[..offset.min(self.source.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, column)
    }

    pub(super) fn error_at(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        let (line, column) = self.line_col(offset);
        let mut error = ConfigError::new(self.path, message);
        error.line = Some(line);
        error.column = Some(column);
        error
    }

    /// A string value with `${VAR}` filled in, and its line.
    pub(super) fn text(&self, value: &Text, key: &str) -> Result<(String, usize), ConfigError> {
        let lookup = |name: &str| self.overrides.vars.get(name).cloned();
        let filled = interpolate(value.get_ref(), &lookup).map_err(|e| {
            let mut error = self.error_at(value.span().start, format!("{key}: {e}"));
            error.missing_variable = matches!(e, InterpolationError::Missing(_));
            error
        })?;
        Ok((filled, self.line_col(value.span().start).0))
    }

    /// A string found inside a value without its own position, `${VAR}` filled in; errors
    /// point at `at`.
    pub(super) fn fill(&self, text: &str, at: usize, key: &str) -> Result<String, ConfigError> {
        let lookup = |name: &str| self.overrides.vars.get(name).cloned();
        interpolate(text, &lookup).map_err(|e| {
            let mut error = self.error_at(at, format!("{key}: {e}"));
            error.missing_variable = matches!(e, InterpolationError::Missing(_));
            error
        })
    }

    pub(super) fn duration(
        &self,
        value: &Text,
        key: &str,
    ) -> Result<Option<Duration>, ConfigError> {
        let (text, _) = self.text(value, key)?;
        if text == "off" {
            return Ok(None);
        }
        humantime::parse_duration(&text).map(Some).map_err(|e| {
            self.error_at(
                value.span().start,
                format!(
                    "{key}: `{text}` is not a duration ({e}); write e.g. \"5s\", \"2m\" or \"off\""
                ),
            )
        })
    }

    pub(super) fn argv(
        &self,
        value: &Spanned<Vec<Text>>,
        key: &str,
    ) -> Result<Vec<String>, ConfigError> {
        if value.get_ref().is_empty() || value.get_ref()[0].get_ref().trim().is_empty() {
            return Err(self.error_at(
                value.span().start,
                format!("{key}: give the command as a list, program first, e.g. [\"scripts/deploy.sh\", \"{{env}}\", \"{{version}}\"]"),
            ));
        }
        value
            .get_ref()
            .iter()
            .map(|arg| self.text(arg, key).map(|(s, _)| s))
            .collect()
    }
}
