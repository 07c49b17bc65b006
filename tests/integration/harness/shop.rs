//! A shop: a throwaway project whose environments run the demo app through the example
//! project's hooks, on free ports, with the apps' pid files in its own folder. The apps are
//! stopped when it is dropped. Its rollback hook can be made to fail or to hang
//! (`fail_rollback`, `slow_rollback`), for the failure paths of deploys and rollbacks.

use std::path::Path;

use super::cli::{Output, Runner, repo_root};

/// The rollback hook runs behind this guard: `sh -c GUARD STATE_DIR rollback.sh ARGS...`.
const ROLLBACK_GUARD: &str = "if [ -e \\\"$0/fail-rollback\\\" ]; then echo 'the rollback hook refuses (test)'; exit 1; fi; if [ -e \\\"$0/slow-rollback\\\" ]; then sleep 30; fi; exec \\\"$@\\\"";

/// A project whose environments run the demo app through the example project's hooks, on
/// free ports, with the app's pid files in its own folder; the apps are stopped on drop.
pub struct Shop {
    dir: tempfile::TempDir,
    ports: Vec<u16>,
}

pub struct EnvSpec<'a> {
    pub name: &'a str,
    pub url: String,
    pub extra: &'a str,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Shop {
    pub fn new(dialect: &str, envs: &[EnvSpec<'_>], smoke: bool) -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let scripts = repo_root().join("scripts");
        let names: Vec<String> = envs.iter().map(|e| format!("\"{}\"", e.name)).collect();
        let mut toml = format!(
            "[migrations]\ndialect = \"{dialect}\"\n[deploy]\npipeline = [{}]\n",
            names.join(", ")
        );
        let mut ports = Vec::new();
        for e in envs {
            let port = free_port();
            ports.push(port);
            let app_db = if e.url.starts_with("sqlite") {
                e.url.clone()
            } else {
                "postgres://127.0.0.1/app".into()
            };
            toml.push_str(&format!(
                "\n[environments.{name}]\ndatabase_url = \"{url}\"\n\
                 deploy = [\"{deploy}\", \"{{env}}\", \"{{version}}\", \"{port}\", \"{app_db}\"]\n\
                 rollback = [\"sh\", \"-c\", \"{guard}\", \"{state}\", \"{rollback}\", \"{{env}}\", \"{{previous_version}}\", \"{port}\", \"{app_db}\"]\n\
                 health = {{ url = \"http://127.0.0.1:{port}/health\", timeout = \"4s\", interval = \"100ms\" }}\n{smoke}{extra}\n",
                name = e.name,
                url = e.url,
                deploy = scripts.join("deploy.sh").display(),
                rollback = scripts.join("rollback.sh").display(),
                guard = ROLLBACK_GUARD,
                state = dir.path().join("state").display(),
                smoke = if smoke {
                    format!("smoke = [\"{}\", \"127.0.0.1\", \"{port}\"]\n", scripts.join("smoke.sh").display())
                } else {
                    String::new()
                },
                extra = e.extra,
            ));
        }
        std::fs::write(dir.path().join("runner.toml"), toml).unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir(&migrations).unwrap();
        std::fs::write(
            migrations.join("V1__customers.sql"),
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);\n",
        )
        .unwrap();
        std::fs::write(
            migrations.join("V1__customers.down.sql"),
            "DROP TABLE customers;\n",
        )
        .unwrap();
        Shop { dir, ports }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The port of environment `index`'s app.
    pub fn port(&self, index: usize) -> u16 {
        self.ports[index]
    }

    pub fn runner(&self, args: &[&str]) -> Runner {
        Runner::new(self.path())
            .args(args)
            .env("RUNNER_DEMO_APP", env!("CARGO_BIN_EXE_runner-demo-app"))
            .env(
                "RUNNER_DEMO_STATE",
                self.path().join("state").to_str().unwrap(),
            )
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.runner(args).run()
    }

    /// The version the app of environment `index` answers with now.
    pub fn serving(&self, index: usize) -> Option<String> {
        let body = ureq::get(&format!("http://127.0.0.1:{}/health", self.ports[index]))
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        json["version"].as_str().map(String::from)
    }

    pub fn history(&self, env: &str) -> Vec<serde_json::Value> {
        let out = self
            .run(&["history", "--env", env, "--format", "json"])
            .expect_code(0);
        serde_json::from_str(&out.stdout).unwrap()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let state = self.path().join("state");
        // The apps, and the HAProxy of the example project's production (scripts/haproxy.sh
        // keeps it in .runner/haproxy/, where runner.toml's router.socket points).
        let haproxy = [state.join("haproxy"), self.path().join(".runner/haproxy")]
            .into_iter()
            .flat_map(std::fs::read_dir)
            .flatten()
            .flatten();
        for entry in std::fs::read_dir(&state)
            .into_iter()
            .flatten()
            .flatten()
            .chain(haproxy)
        {
            if entry.path().extension().is_some_and(|e| e == "pid")
                && let Ok(pid) = std::fs::read_to_string(entry.path())
                    .unwrap_or_default()
                    .trim()
                    .parse::<i32>()
            {
                // SAFETY: kill(2) on a demo app this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

pub fn sqlite_shop(smoke: bool) -> Shop {
    Shop::new(
        "sqlite",
        &[
            EnvSpec {
                name: "staging",
                url: "sqlite://db/staging.db".into(),
                extra: "",
            },
            EnvSpec {
                name: "production",
                url: "sqlite://db/production.db".into(),
                extra: "requires_approval = true\n",
            },
        ],
        smoke,
    )
}

impl Shop {
    /// A shop over a project someone else wrote (the example project), its apps on `ports`.
    pub fn adopt(dir: tempfile::TempDir, ports: Vec<u16>) -> Shop {
        Shop { dir, ports }
    }

    /// Makes the rollback hook fail (`true`) or work again.
    pub fn fail_rollback(&self, fail: bool) {
        self.marker("fail-rollback", fail);
    }

    /// Makes the rollback hook hang for 30 s before it works.
    pub fn slow_rollback(&self, slow: bool) {
        self.marker("slow-rollback", slow);
    }

    fn marker(&self, name: &str, on: bool) {
        let state = self.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let path = state.join(name);
        if on {
            std::fs::write(path, "").unwrap();
        } else {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The phase of the run in progress in `env`, as `runner status` tells.
    pub fn running_phase(&self, env: &str) -> Option<String> {
        let out = self.run(&["status", "--env", env, "--format", "json"]);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
        doc["running"]["phase"].as_str().map(String::from)
    }

    /// Waits until the run in progress in `env` reaches `phase`.
    pub fn wait_for_phase(&self, env: &str, phase: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.running_phase(env).as_deref() != Some(phase) {
            assert!(
                std::time::Instant::now() < deadline,
                "the run in {env} never reached phase {phase}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// A `std::process::Command` for runner in this shop, for runs signalled mid-way.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_runner"));
        command
            .current_dir(self.path())
            .args(args)
            .env("RUNNER_DEMO_APP", env!("CARGO_BIN_EXE_runner-demo-app"))
            .env("RUNNER_DEMO_STATE", self.path().join("state"));
        for (key, _) in std::env::vars() {
            if key.starts_with("RUNNER_") && key != "RUNNER_DEMO_APP" && key != "RUNNER_DEMO_STATE"
            {
                command.env_remove(key);
            }
        }
        command
    }
}
