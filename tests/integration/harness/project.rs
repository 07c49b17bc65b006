//! A throwaway runner project: runner.toml, a migrations folder, and the runner binary run in it.

use std::path::{Path, PathBuf};

use super::cli::{Output, Runner};

pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project whose environments are given as `(name, database_url, extra toml lines)`.
    pub fn new(dialect: &str, environments: &[(&str, &str, &str)]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = environments
            .iter()
            .map(|(n, ..)| format!("\"{n}\""))
            .collect();
        let mut toml = format!(
            "[migrations]\ndialect = \"{dialect}\"\n\n[deploy]\npipeline = [{}]\n",
            names.join(", ")
        );
        for (name, url, extra) in environments {
            toml.push_str(&format!(
                "\n[environments.{name}]\ndatabase_url = \"{url}\"\n{extra}\n"
            ));
        }
        std::fs::write(dir.path().join("runner.toml"), toml).unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    /// Writes `migrations/NAME` (a rollback too when `down` is given).
    pub fn migration(&self, stem: &str, up: &str, down: Option<&str>) -> &Self {
        std::fs::write(self.migrations().join(format!("{stem}.sql")), up).unwrap();
        if let Some(down) = down {
            std::fs::write(self.migrations().join(format!("{stem}.down.sql")), down).unwrap();
        }
        self
    }

    pub fn runner(&self) -> Runner {
        Runner::new(self.path())
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.runner().args(args).run()
    }

    /// A `std::process::Command` for the runner binary in this project, for runs that must be
    /// started in the background, several at once, or killed.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_runner"));
        command.current_dir(self.path()).args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("RUNNER_") {
                command.env_remove(key);
            }
        }
        command
    }
}
