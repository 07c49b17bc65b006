//! Deploy, rollback and smoke hooks: argv from runner.toml with `{env}`, `{version}` and
//! `{previous_version}` substituted, run without a shell, with the environment contract of
//! DESIGN §6, their output streamed and the last lines kept for the journal.
//!
//! A hook inherits runner's environment minus anything that could carry a database password:
//! the variables a database URL was built from, RUNNER_DATABASE_URL, and any variable whose
//! value contains one of the configured passwords.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a hook is told.
#[derive(Debug, Clone)]
pub struct HookContext<'a> {
    pub environment: &'a str,
    pub version: &'a str,
    pub previous_version: &'a str,
    pub deploy_id: &'a str,
    pub phase: &'a str,
}

#[derive(Debug, Clone)]
pub struct HookResult {
    pub success: bool,
    pub status: String,
    pub last_lines: Vec<String>,
}

const KEEP_LINES: usize = 40;

pub fn substitute(argv: &[String], ctx: &HookContext<'_>) -> Vec<String> {
    argv.iter()
        .map(|a| {
            a.replace("{env}", ctx.environment)
                .replace("{version}", ctx.version)
                .replace("{previous_version}", ctx.previous_version)
                .replace("{deploy_id}", ctx.deploy_id)
        })
        .collect()
}

/// Runs a hook to completion (or until `timeout`, then kills it). Each output line goes to
/// `echo` as it comes.
pub fn run(
    argv: &[String],
    ctx: &HookContext<'_>,
    cwd: &Path,
    secrets: &Secrets,
    timeout: Duration,
    echo: &(dyn Fn(&str) + Sync),
) -> HookResult {
    let argv = substitute(argv, ctx);
    // A relative program with a slash (scripts/deploy.sh) is relative to runner.toml's folder,
    // whatever folder runner was started from.
    let program = Path::new(&argv[0]);
    let program = if argv[0].contains('/') && program.is_relative() {
        cwd.join(program)
    } else {
        program.to_path_buf()
    };
    let mut command = Command::new(&program);
    command
        .args(&argv[1..])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in std::env::vars() {
        if secrets.hides(&key, &value) {
            command.env_remove(&key);
        }
    }
    command
        .env("RUNNER_ENV", ctx.environment)
        .env("RUNNER_VERSION", ctx.version)
        .env("RUNNER_PREVIOUS_VERSION", ctx.previous_version)
        .env("RUNNER_DEPLOY_ID", ctx.deploy_id)
        .env("RUNNER_PHASE", ctx.phase);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return HookResult {
                success: false,
                status: format!("could not start {}: {e}", argv[0]),
                last_lines: Vec::new(),
            };
        }
    };
    let lines: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let result = std::thread::scope(|scope| {
        let mut readers = Vec::new();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = Arc::clone(&lines);
            readers.push(scope.spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let line = crate::config::redact_text(&line);
                    echo(&line);
                    if let Ok(mut kept) = lines.lock() {
                        kept.push_back(line);
                        if kept.len() > KEEP_LINES {
                            kept.pop_front();
                        }
                    }
                }
            }));
        }
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if started.elapsed() >= timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(format!(
                        "timed out after {}",
                        humantime::format_duration(timeout)
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => break Err(e.to_string()),
            }
        };
        for r in readers {
            let _ = r.join();
        }
        status
    });
    let last_lines = lines
        .lock()
        .map(|l| l.iter().cloned().collect())
        .unwrap_or_default();
    match result {
        Ok(status) => HookResult {
            success: status.success(),
            status: status.to_string(),
            last_lines,
        },
        Err(why) => HookResult {
            success: false,
            status: why,
            last_lines,
        },
    }
}

/// What must never reach a hook.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    names: Vec<String>,
    passwords: Vec<String>,
}

impl Secrets {
    pub fn of(config: &crate::config::Config) -> Secrets {
        let mut secrets = Secrets {
            names: vec!["RUNNER_DATABASE_URL".into()],
            passwords: Vec::new(),
        };
        for env in config.environments.values() {
            secrets.names.extend(env.secret_vars.iter().cloned());
            if let Ok(url) = url::Url::parse(env.database_url.value.expose())
                && let Some(password) = url.password()
                && !password.is_empty()
            {
                secrets.passwords.push(password.to_string());
                if let Ok(decoded) = urlencoding_decode(password) {
                    secrets.passwords.push(decoded);
                }
            }
        }
        secrets
    }

    fn hides(&self, key: &str, value: &str) -> bool {
        self.names.iter().any(|n| n == key)
            || self.passwords.iter().any(|p| value.contains(p.as_str()))
    }
}

fn urlencoding_decode(s: &str) -> Result<String, ()> {
    let bytes: Vec<u8> = url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .ok_or(())?;
    String::from_utf8(bytes).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_substituted_in_each_argument() {
        let ctx = HookContext {
            environment: "production",
            version: "1.2.0",
            previous_version: "1.1.0",
            deploy_id: "abc",
            phase: "deploy",
        };
        let argv: Vec<String> = ["deploy.sh", "{env}", "--to={version}", "{previous_version}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            substitute(&argv, &ctx),
            ["deploy.sh", "production", "--to=1.2.0", "1.1.0"]
        );
    }

    #[test]
    fn secrets_hide_url_variables_and_any_value_with_a_password() {
        let secrets = Secrets {
            names: vec!["PROD_DB".into()],
            passwords: vec!["s3cret".into()],
        };
        assert!(secrets.hides("PROD_DB", "anything"));
        assert!(secrets.hides("COPY", "postgres://u:s3cret@h/d"));
        assert!(!secrets.hides("PATH", "/usr/bin"));
    }

    #[test]
    fn a_hook_gets_the_contract_and_its_output_is_kept() {
        let ctx = HookContext {
            environment: "staging",
            version: "2.0.0",
            previous_version: "",
            deploy_id: "id-1",
            phase: "smoke",
        };
        let argv = vec![
            "sh".to_string(),
            "-c".to_string(),
            "echo $RUNNER_ENV $RUNNER_VERSION $RUNNER_PHASE; exit 3".to_string(),
        ];
        let result = run(
            &argv,
            &ctx,
            Path::new("."),
            &Secrets::default(),
            Duration::from_secs(10),
            &|_| {},
        );
        assert!(!result.success);
        assert_eq!(result.last_lines, ["staging 2.0.0 smoke"]);
        let slow = vec!["sleep".to_string(), "5".to_string()];
        let result = run(
            &slow,
            &ctx,
            Path::new("."),
            &Secrets::default(),
            Duration::from_millis(200),
            &|_| {},
        );
        assert!(result.status.starts_with("timed out"), "{}", result.status);
    }
}
