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
    /// The server the hook works on, when the environment lists servers.
    pub server: Option<&'a Server<'a>>,
}

/// A server of an environment, as a hook sees it.
#[derive(Debug, Clone)]
pub struct Server<'a> {
    pub name: &'a str,
    /// host:port
    pub address: &'a str,
    /// The blue-green slot it belongs to, if any.
    pub slot: Option<&'a str>,
}

impl Server<'_> {
    fn host(&self) -> &str {
        self.address
            .rsplit_once(':')
            .map_or(self.address, |(h, _)| h)
    }

    fn port(&self) -> &str {
        self.address.rsplit_once(':').map_or("", |(_, p)| p)
    }
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
            let mut a = a
                .replace("{env}", ctx.environment)
                .replace("{version}", ctx.version)
                .replace("{previous_version}", ctx.previous_version)
                .replace("{deploy_id}", ctx.deploy_id);
            if let Some(server) = ctx.server {
                a = a
                    .replace("{server}", server.name)
                    .replace("{address}", server.address)
                    .replace("{host}", server.host())
                    .replace("{port}", server.port())
                    .replace("{slot}", server.slot.unwrap_or(""));
            }
            a
        })
        .collect()
}

/// Runs hooks the same way each time: from runner.toml's folder, without the secrets, with
/// a timeout, each output line echoed.
pub struct HookRunner<'a> {
    pub cwd: &'a Path,
    pub secrets: &'a Secrets,
    pub timeout: Duration,
    pub echo: &'a (dyn Fn(&str) + Sync),
}

impl HookRunner<'_> {
    /// Runs `argv` to its end. `interrupt_at` signals (see `runtime::watch_interrupts`) end it
    /// early; `usize::MAX` never does.
    pub fn run(&self, argv: &[String], ctx: &HookContext<'_>, interrupt_at: usize) -> HookResult {
        run_hook(argv, ctx, self, interrupt_at)
    }
}

/// Runs a hook to completion (or until `timeout`, then kills it). Each output line goes to
/// `echo` as it comes. The hook runs in its own process group: a Ctrl-C at the terminal
/// reaches runner, which decides, and not the hook half-way through its work.
fn run_hook(
    argv: &[String],
    ctx: &HookContext<'_>,
    runner: &HookRunner<'_>,
    interrupt_at: usize,
) -> HookResult {
    let argv = substitute(argv, ctx);
    let mut child = match hook_command(&argv, ctx, runner).spawn() {
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
    let echo = runner.echo;
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
        let status = wait_for(&mut child, runner.timeout, interrupt_at);
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

/// The hook's process: in its own process group, in runner.toml's folder, without the
/// secrets of runner's environment, with the RUNNER_* variables of the run (and of the
/// server, for a hook run per server).
fn hook_command(argv: &[String], ctx: &HookContext<'_>, runner: &HookRunner<'_>) -> Command {
    use std::os::unix::process::CommandExt;
    let (cwd, secrets) = (runner.cwd, runner.secrets);
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
        .stderr(Stdio::piped())
        .process_group(0);
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
    if let Some(server) = ctx.server {
        command
            .env("RUNNER_SERVER", server.name)
            .env("RUNNER_ADDRESS", server.address)
            .env("RUNNER_HOST", server.host())
            .env("RUNNER_PORT", server.port())
            .env("RUNNER_SLOT", server.slot.unwrap_or(""));
    }
    command
}

/// Waits for the hook to end; past `timeout`, or at the `interrupt_at`-th signal, stops it
/// and its process group.
fn wait_for(
    child: &mut std::process::Child,
    timeout: Duration,
    interrupt_at: usize,
) -> Result<std::process::ExitStatus, String> {
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if started.elapsed() >= timeout => {
                stop_group(child);
                return Err(format!(
                    "timed out after {}",
                    humantime::format_duration(timeout)
                ));
            }
            Ok(None) if crate::runtime::interrupts() >= interrupt_at => {
                stop_group(child);
                return Err("stopped: interrupted".to_string());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Ends a hook and whatever it started in its process group.
fn stop_group(child: &mut std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on the process group this hook leads (process_group(0) above).
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
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
        secrets.names.extend(config.secret_vars.iter().cloned());
        for env in config.environments.values() {
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
            server: None,
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
        let server = Server {
            name: "web-2",
            address: "127.0.0.1:8082",
            slot: Some("blue"),
        };
        let ctx = HookContext {
            environment: "staging",
            version: "2.0.0",
            previous_version: "",
            deploy_id: "id-1",
            phase: "smoke",
            server: Some(&server),
        };
        let argv = vec![
            "sh".to_string(),
            "-c".to_string(),
            "echo $RUNNER_ENV $RUNNER_VERSION $RUNNER_PHASE $RUNNER_SERVER $RUNNER_HOST $RUNNER_PORT $RUNNER_SLOT {port}; exit 3".to_string(),
        ];
        let secrets = Secrets::default();
        let runner = HookRunner {
            cwd: Path::new("."),
            secrets: &secrets,
            timeout: Duration::from_secs(10),
            echo: &|_| {},
        };
        let result = runner.run(&argv, &ctx, usize::MAX);
        assert!(!result.success);
        assert_eq!(
            result.last_lines,
            ["staging 2.0.0 smoke web-2 127.0.0.1 8082 blue 8082"]
        );
        let slow = vec!["sleep".to_string(), "5".to_string()];
        let quick = HookRunner {
            timeout: Duration::from_millis(200),
            ..runner
        };
        let result = quick.run(&slow, &ctx, usize::MAX);
        assert!(result.status.starts_with("timed out"), "{}", result.status);
    }
}
