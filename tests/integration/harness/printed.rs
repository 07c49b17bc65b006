//! Every command runner prints for a person to run must work exactly as printed. A hook on
//! every captured output (`Runner::run`) collects the backticked `runner ...` commands in it,
//! copies the situation that printed them (the project folder and its SQLite databases), runs
//! each one in the copy, and fails the test that printed it when the command is not accepted
//! (exit 2: bad usage, a refusal, approval missing) or is not a command at all.
//!
//! Projects whose state cannot be copied are skipped: PostgreSQL or MySQL databases, and
//! projects whose hooks start processes or drive a router (a copy would fight the original
//! for its ports). `RUNNER_PRINTED_LOG=FILE` appends every command tried and its exit code.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::cli::Output;

/// The backticked `runner ...` commands of a text, split into words as a shell would (double
/// quotes group words).
pub fn commands(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("`runner ") {
        let after = &rest[start + 1..];
        let Some(end) = after.find('`') else { break };
        let command = &after[..end];
        rest = &after[end + 1..];
        // A template to fill in (`runner new NAME`) is not a command to run as printed.
        let placeholder =
            |w: &str| w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        if command.contains('<') || command.contains("...") || command.split(' ').any(placeholder) {
            continue;
        }
        found.push(words(command));
    }
    found.dedup();
    found
}

/// A command's words as a shell splits them (double quotes group words).
pub fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in command.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The SQLite database paths a runner.toml names, or `None` when its state cannot be copied.
fn copyable(toml: &str) -> Option<Vec<String>> {
    let unsafe_to_copy = ["postgres://", "mysql://", "deploy =", "router", "servers ="];
    if unsafe_to_copy.iter().any(|u| toml.contains(u)) {
        return None;
    }
    let mut paths = Vec::new();
    let mut rest = toml;
    while let Some(at) = rest.find("sqlite://") {
        let after = &rest[at + "sqlite://".len()..];
        let end = after.find(['"', '?', '\n']).unwrap_or(after.len());
        paths.push(after[..end].to_string());
        rest = &after[end..];
    }
    Some(paths)
}

/// Copies `cwd` and the databases its runner.toml names into a fresh folder whose runner.toml
/// points at the copies.
fn copy_situation(cwd: &Path, databases: &[String]) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", cwd.display()))
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(status.success(), "cp -a {}", cwd.display());
    let mut toml = std::fs::read_to_string(cwd.join("runner.toml")).unwrap();
    for (i, path) in databases.iter().enumerate() {
        let original = PathBuf::from(path);
        let absolute = if original.is_absolute() {
            original
        } else {
            cwd.join(original)
        };
        let name = absolute
            .file_name()
            .map_or("db".into(), |n| n.to_string_lossy().into_owned());
        let target = copy.path().join(format!("copied-{i}-{name}"));
        for suffix in ["", "-wal", "-shm", ".runner-lock"] {
            let from = PathBuf::from(format!("{}{suffix}", absolute.display()));
            if from.exists() {
                std::fs::copy(&from, format!("{}{suffix}", target.display())).unwrap();
            }
        }
        toml = toml.replace(
            &format!("sqlite://{path}"),
            &format!("sqlite://{}", target.display()),
        );
    }
    toml = toml.replace(
        &cwd.display().to_string(),
        &copy.path().display().to_string(),
    );
    std::fs::write(copy.path().join("runner.toml"), toml).unwrap();
    copy
}

/// Runs each command `out` prints in a copy of the situation at `cwd`.
pub fn try_each(cwd: &Path, envs: &[(String, String)], args: &[String], out: &Output) {
    // `history` shows what was said at the time, not advice for now.
    if args.first().is_some_and(|a| a == "history") {
        return;
    }
    let printed = commands(&out.all());
    if printed.is_empty() {
        return;
    }
    let Ok(toml) = std::fs::read_to_string(cwd.join("runner.toml")) else {
        return;
    };
    let Some(databases) = copyable(&toml) else {
        return;
    };
    for command in printed {
        let copy = copy_situation(cwd, &databases);
        let result = super::cli::Runner::new(copy.path())
            .args(&command[1..])
            .envs(envs)
            .run_unhooked();
        if let Ok(log) = std::env::var("RUNNER_PRINTED_LOG") {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
            {
                let _ = writeln!(f, "{}\t{}", result.code, command.join(" "));
            }
        }
        assert!(
            result.code != 2 && !result.stderr.contains("error: unexpected argument"),
            "`runner {}` printed a command that does not work as printed: `{}`\n--- the output that printed it\n{out}\n--- the printed command, run in a copy of that situation\n{result}",
            args.join(" "),
            command.join(" ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticked_runner_commands_are_found_and_split() {
        let text = "next: `runner recover --env staging --retry 2` runs it; or `runner recover --env x --mark 2 applied --reason \"by hand\"`; see `runner new <name>`";
        assert_eq!(
            commands(text),
            [
                vec!["runner", "recover", "--env", "staging", "--retry", "2"],
                vec![
                    "runner", "recover", "--env", "x", "--mark", "2", "applied", "--reason",
                    "by hand"
                ],
            ]
        );
    }
}
