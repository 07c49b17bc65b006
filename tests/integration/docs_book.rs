//! The book (`docs/`) and the README: every page is in the summary and every link resolves;
//! every `runner ...` command in a code block parses with runner's own command line, and the
//! read-only ones run on the example project; every runner.toml example, merged into a whole
//! configuration, is accepted by `runner config`.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::harness::cli::{Runner, repo_root};
use crate::harness::printed::words;

fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo_root().join("docs/src"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.push(repo_root().join("README.md"));
    pages
}

/// The code blocks of a Markdown text: (info string, body).
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) => {
                current = Some((line.trim_start()[3..].trim().to_string(), String::new()))
            }
            (Some(_), true) => out.extend(current.take()),
            (Some((_, body)), false) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, false) => {}
        }
    }
    out
}

/// The runner commands of a shell or console block, as words (comments and pipes cut off).
fn commands(body: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in body.lines() {
        let line = line.trim().trim_start_matches("$ ");
        let line = line
            .strip_prefix("cargo run -q -- ")
            .map(|rest| format!("runner {rest}"))
            .unwrap_or_else(|| line.to_string());
        let Some(start) = line.find("runner ").filter(|i| {
            // `runner ...` at the start, or after `&&` or an environment assignment.
            let before = line[..*i].trim_end();
            before.is_empty()
                || before.ends_with("&&")
                || before.split_whitespace().all(|w| w.contains('='))
        }) else {
            continue;
        };
        let command = &line[start..];
        let command = command.split(" #").next().unwrap_or(command);
        let command = command.split(['|', '>', '<']).next().unwrap_or(command);
        let command = command.split("&&").next().unwrap_or(command);
        out.push(words(command.trim()));
    }
    out
}

#[test]
fn every_page_is_in_the_summary_and_every_link_resolves() {
    let summary = std::fs::read_to_string(repo_root().join("docs/src/SUMMARY.md")).unwrap();
    for page in pages() {
        let name = page.file_name().unwrap().to_string_lossy().to_string();
        if page.parent() == Some(&repo_root().join("docs/src")) && name != "SUMMARY.md" {
            assert!(
                summary.contains(&format!("({name})")),
                "SUMMARY.md lacks {name}"
            );
        }
        let text = std::fs::read_to_string(&page).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            let target = &rest[at + 2..];
            let end = target.find(')').unwrap();
            let link = &target[..end];
            rest = &target[end..];
            if link.starts_with("http") || link.starts_with('#') {
                continue;
            }
            let path = page.parent().unwrap().join(link.split('#').next().unwrap());
            assert!(
                path.exists(),
                "{}: the link {link} leads nowhere",
                page.display()
            );
        }
    }
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.lines().count() <= 250,
        "the README has {} lines",
        readme.lines().count()
    );
}

#[test]
fn every_command_in_the_book_parses_and_the_read_only_ones_run() {
    let mut seen = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (info, body) in blocks(&text) {
            if !matches!(info.as_str(), "" | "sh" | "console" | "bash" | "shell") {
                continue;
            }
            for command in commands(&body) {
                seen += 1;
                if let Err(e) = runner::cli::Cli::try_parse_from(&command) {
                    panic!(
                        "{}: `{}` does not parse:\n{e}",
                        page.display(),
                        command.join(" ")
                    );
                }
                let read_only = ["explain", "catalog", "completions", "man"];
                if read_only.contains(&command[1].as_str()) {
                    let out = Runner::new(repo_root()).args(&command[1..]).run();
                    assert_eq!(
                        out.code,
                        0,
                        "{}: `{}`:\n{out}",
                        page.display(),
                        command.join(" ")
                    );
                }
            }
        }
    }
    assert!(seen > 40, "only {seen} commands found in the book");
}

/// Merges `snippet` into `base`, table by table.
fn merge(base: &mut toml::Table, snippet: toml::Table) {
    for (key, value) in snippet {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(s)) => merge(b, s),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn write_project(dir: &Path, config: &str) {
    std::fs::write(dir.join("runner.toml"), config).unwrap();
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
}

#[test]
fn every_runner_toml_example_is_a_configuration_runner_accepts() {
    let base: toml::Table = toml::from_str(
        "[environments.staging]\ndatabase_url = \"sqlite://staging.db\"\n[environments.production]\ndatabase_url = \"sqlite://production.db\"\n",
    )
    .unwrap();
    let mut seen = 0;
    let mut refused = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (info, body) in blocks(&text) {
            if info != "toml" {
                continue;
            }
            seen += 1;
            let snippet: toml::Table = toml::from_str(&body).unwrap_or_else(|e| {
                panic!(
                    "{}: a TOML example does not parse: {e}\n{body}",
                    page.display()
                )
            });
            // Flag files and rollout fragments are runner.toml too; a flagd file is not.
            if snippet.contains_key("flags") && snippet.contains_key("$schema") {
                continue;
            }
            // The environments' URLs of the example's dialect (runner config connects to none).
            let dialect = snippet
                .get("migrations")
                .and_then(|m| m.get("dialect"))
                .and_then(|d| d.as_str())
                .unwrap_or("sqlite")
                .to_string();
            let url = match dialect.as_str() {
                "postgres" => "postgres://app@127.0.0.1:9/app",
                "mysql" => "mysql://app@127.0.0.1:9/app",
                _ => "sqlite://x.db",
            };
            let mut config = base.clone();
            for env in ["staging", "production"] {
                config["environments"][env]["database_url"] = toml::Value::from(url);
            }
            merge(&mut config, snippet);
            let dir = tempfile::tempdir().unwrap();
            write_project(dir.path(), &toml::to_string(&config).unwrap());
            let mut runner = Runner::new(dir.path()).args(["config"]);
            // The variables an example names, set as a deploy would set them.
            let mut rest = body.as_str();
            while let Some(at) = rest.find("${") {
                let name = &rest[at + 2..rest[at..].find('}').map_or(rest.len(), |e| at + e)];
                let value = match name.ends_with("DATABASE_URL") {
                    true => url,
                    false => "http://127.0.0.1:9/hook",
                };
                runner = runner.env(name, value);
                rest = &rest[at + 2..];
            }
            for var in ["STAGING_DATABASE_URL", "PRODUCTION_DATABASE_URL"] {
                runner = runner.env(var, url);
            }
            let out = runner.run();
            if out.code != 0 {
                refused.push(format!("{}:\n{body}\n{}", page.display(), out.stderr));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "runner config refuses these examples:\n{}",
        refused.join("\n")
    );
    assert!(seen >= 5, "only {seen} runner.toml examples found");
}
