//! Output for people: aligned tables now; progress bars arrive with the commands that do long work.

pub mod findings;
pub mod progress;
pub mod table;

use std::path::Path;

/// A path as a person wants to read it: relative to the current folder when it lies below it.
pub fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}
