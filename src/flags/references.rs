//! Where the code reads flags: a search of the project's files (`[flags] search`, skipping
//! `.git`, `target`, `node_modules` and hidden folders, files over 1 MiB and binary files) for
//! a flag's key, and for every key the configured pattern captures.

use std::path::{Path, PathBuf};

use regex::Regex;

/// `path:line: text` of one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub path: PathBuf,
    pub line: usize,
    pub text: String,
    /// The flag key it reads.
    pub key: String,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.text)
    }
}

const MAX_FILE: u64 = 1024 * 1024;

/// Every text file under `roots`, except `skip` (the flag files themselves).
fn files(roots: &[PathBuf], skip: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = roots.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let skipped = (name.starts_with('.') && name.len() > 1)
                || matches!(name, "target" | "node_modules")
                || p == skip;
            if skipped && !roots.contains(&p) {
                continue;
            }
            if let Ok(entries) = std::fs::read_dir(&p) {
                let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                children.sort();
                stack.extend(children.into_iter().rev());
            }
        } else if meta.len() <= MAX_FILE && !p.starts_with(skip) {
            out.push(p);
        }
    }
    out
}

fn lines(path: &Path) -> Vec<(usize, String)> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    if bytes.contains(&0) {
        return Vec::new();
    }
    String::from_utf8_lossy(&bytes)
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().chars().take(160).collect()))
        .collect()
}

/// The lines that name `key` as a string literal ("key", 'key' or `key`).
pub fn of_key(roots: &[PathBuf], skip: &Path, key: &str) -> Vec<Reference> {
    let quoted = [format!("\"{key}\""), format!("'{key}'"), format!("`{key}`")];
    files(roots, skip)
        .into_iter()
        .flat_map(|path| {
            lines(&path)
                .into_iter()
                .filter(|(_, l)| quoted.iter().any(|q| l.contains(q.as_str())))
                .map(|(line, text)| Reference {
                    path: path.clone(),
                    line,
                    text,
                    key: key.to_string(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every flag read the pattern finds, with its key.
pub fn all(roots: &[PathBuf], skip: &Path, pattern: &str) -> Result<Vec<Reference>, String> {
    let re = Regex::new(pattern).map_err(|e| format!("flags.pattern: {e}"))?;
    Ok(files(roots, skip)
        .into_iter()
        .flat_map(|path| {
            lines(&path)
                .into_iter()
                .flat_map(|(line, text)| {
                    re.captures_iter(&text)
                        .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
                        .map(|key| Reference {
                            path: path.clone(),
                            line,
                            text: text.clone(),
                            key,
                        })
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .collect())
}
