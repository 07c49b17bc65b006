//! What `runner init` and `runner new` tell a person they made.

use std::path::Path;

use crate::catalog::{Layout, shown};
use crate::config::Dialect;

/// `runner init`: the folder found (or made), the dialect and why, the file written, and the
/// next step.
pub fn initialized(found: Option<(&str, usize, Layout)>, dialect: Dialect, why: &str) -> String {
    let folder = match found {
        Some((dir, count, layout)) => format!(
            "found {dir}/ ({count} migration(s) in {}'s layout); dialect {} ({why})",
            layout.name(),
            dialect.name()
        ),
        None => format!(
            "created migrations/ (no migrations folder was found); dialect {} ({why})",
            dialect.name()
        ),
    };
    format!(
        "{folder}\nwrote runner.toml: staging, then production (protected); their database URLs are ${{STAGING_DATABASE_URL}} and ${{PRODUCTION_DATABASE_URL}}\nnext: `runner check`\n"
    )
}

/// A folder `runner new` made.
pub fn created_dir(dir: &Path) -> String {
    format!("created {}/", shown(dir))
}

/// A file `runner new` wrote.
pub fn created_file(path: &Path) -> String {
    format!("created {}", shown(path))
}
