//! Runs the real `runner` binary, isolated from the caller's RUNNER_* variables.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Runner {
    cwd: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    pub fn stderr_has(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n{self}"
        );
        self
    }

    pub fn stdout_has(self, needle: &str) -> Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n{self}"
        );
        self
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The repository root, where the example project lives.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(path: &str) -> PathBuf {
    repo_root().join("fixtures").join(path)
}

impl Runner {
    pub fn new(cwd: impl AsRef<Path>) -> Self {
        Runner {
            cwd: cwd.as_ref().to_path_buf(),
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// The runner command, isolated from the caller's RUNNER_* variables.
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_runner"));
        command.current_dir(&self.cwd).args(&self.args);
        for (key, _) in std::env::vars() {
            if key.starts_with("RUNNER_") {
                command.env_remove(key);
            }
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Starts runner without waiting, for runs signalled mid-way (output discarded).
    pub fn spawn(self) -> std::process::Child {
        self.command()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the runner binary starts")
    }

    /// Starts runner without waiting, its output piped, for a server the test talks to.
    pub fn spawn_piped(self) -> std::process::Child {
        self.command()
            .stdout(std::process::Stdio::piped())
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("the runner binary starts")
    }

    pub fn envs(mut self, envs: &[(String, String)]) -> Self {
        self.envs.extend(envs.iter().cloned());
        self
    }

    /// Runs runner, then every command its output prints for a person, each in a copy of
    /// the situation (`printed`): a printed command that does not work fails the test.
    pub fn run(self) -> Output {
        let (cwd, envs, args) = (self.cwd.clone(), self.envs.clone(), self.args.clone());
        let out = self.run_unhooked();
        super::printed::try_each(&cwd, &envs, &args, &out);
        out
    }

    /// Runs runner and only that.
    pub fn run_unhooked(self) -> Output {
        let out = self.command().output().expect("the runner binary starts");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The cells of the table row whose first cell is `first` (cells are two or more spaces apart).
pub fn table_row(stdout: &str, first: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row {first:?} in\n{stdout}"))
}
