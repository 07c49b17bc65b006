//! The router in front of an environment's servers: what each server's weight and state are,
//! and changing them. Every change is read back; runner never assumes the router did what it
//! was told. HAProxy's runtime API is the first router (`haproxy`).

mod haproxy;
mod nginx;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{Router as RouterConfig, RouterKind, Server};

pub use haproxy::Haproxy;
pub use nginx::Nginx;

/// Whether a server takes traffic, as the router's administrator sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Admin {
    /// Takes traffic by its weight.
    Ready,
    /// Finishes what it has, takes nothing new.
    Drain,
    /// Takes nothing; the router does not even check it.
    Maint,
}

impl Admin {
    pub fn name(self) -> &'static str {
        match self {
            Admin::Ready => "ready",
            Admin::Drain => "drain",
            Admin::Maint => "maint",
        }
    }
}

/// What runner wants a server to be in the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Want {
    pub weight: u32,
    pub admin: Admin,
}

impl Want {
    pub const OUT: Want = Want {
        weight: 0,
        admin: Admin::Maint,
    };

    pub fn ready(weight: u32) -> Want {
        Want {
            weight,
            admin: Admin::Ready,
        }
    }

    /// Whether the server receives new requests.
    pub fn takes_traffic(self) -> bool {
        self.weight > 0 && self.admin == Admin::Ready
    }
}

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "weight {} {}", self.weight, self.admin.name())
    }
}

/// A server as the router reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub weight: u32,
    pub admin: Admin,
    /// The router's own health checks find it up (or it has none).
    pub up: bool,
    /// Requests it is serving now.
    pub sessions: u64,
}

impl Seen {
    pub fn want(&self) -> Want {
        Want {
            weight: self.weight,
            admin: self.admin,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RouterError(pub String);

/// A router runner can drive.
pub trait Router {
    /// What it is, for messages: `HAProxy .runner/haproxy.sock backend app`.
    fn describe(&self) -> String;
    /// Every server of the backend.
    fn read(&mut self) -> Result<BTreeMap<String, Seen>, RouterError>;
    /// Sets one server's weight and state.
    fn set(&mut self, server: &str, want: Want) -> Result<(), RouterError>;
    /// Sets several at once (a router that reloads its configuration does it once).
    fn set_all(&mut self, wants: &[(&str, Want)]) -> Result<(), RouterError> {
        for (server, want) in wants {
            self.set(server, *want)?;
        }
        Ok(())
    }
}

/// The router of an environment, in front of `servers`.
pub fn open(config: &RouterConfig, servers: &[Server]) -> Box<dyn Router + Send> {
    match (config.kind, &config.nginx) {
        (RouterKind::Nginx, Some(control)) => Box::new(Nginx::new(
            &config.socket,
            &config.backend,
            control.clone(),
            servers,
        )),
        _ => Box::new(Haproxy::new(&config.socket, &config.backend)),
    }
}

/// Runs a router's command (`router.start`, nginx's test and reload) in `root`: its output,
/// or why it failed.
pub fn run(argv: &[String], root: &Path) -> Result<String, String> {
    let program = Path::new(&argv[0]);
    let program = if argv[0].contains('/') && program.is_relative() {
        root.join(program)
    } else {
        program.to_path_buf()
    };
    let out = std::process::Command::new(&program)
        .args(&argv[1..])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{} failed ({}): {}",
            argv.join(" "),
            out.status,
            text.trim()
        ))
    }
}

/// One server's change, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub server: String,
    pub before: Want,
    pub after: Want,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.before == self.after {
            write!(f, "{} {}", self.server, self.after)
        } else {
            write!(f, "{} {} -> {}", self.server, self.before, self.after)
        }
    }
}

/// How long a readied server may take to pass the router's own health checks before
/// traffic is taken from others.
const UP_TIMEOUT: Duration = Duration::from_secs(15);

/// Applies `wants`: first the servers that will take traffic, then (once the router finds
/// them up: its own health checks may lag) the others, so traffic always has somewhere to
/// go. Then reads every server back and checks it holds what was asked.
pub fn apply(
    router: &mut dyn Router,
    wants: &[(String, Want)],
) -> Result<Vec<Change>, RouterError> {
    let before = router.read()?;
    for (server, _) in wants {
        if !before.contains_key(server) {
            return Err(RouterError(format!(
                "{} has no server named {server}; add it to the backend, or fix the server's name in runner.toml",
                router.describe()
            )));
        }
    }
    let (taking, others): (Vec<_>, Vec<_>) = wants.iter().partition(|(_, w)| w.takes_traffic());
    fn changed<'a>(
        group: &[&'a (String, Want)],
        before: &BTreeMap<String, Seen>,
    ) -> Vec<(&'a str, Want)> {
        group
            .iter()
            .filter(|(server, want)| before[server].want() != *want)
            .map(|(server, want)| (server.as_str(), *want))
            .collect()
    }
    let first = changed(&taking, &before);
    if !first.is_empty() {
        router.set_all(&first)?;
    }
    if !others.is_empty() && !taking.is_empty() {
        wait_up(
            router,
            &taking.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(),
        )?;
    }
    let then = changed(&others, &before);
    if !then.is_empty() {
        router.set_all(&then)?;
    }
    let after = router.read()?;
    let mut changes = Vec::new();
    for (server, want) in wants {
        let got = after.get(server).map(Seen::want);
        if got != Some(*want) {
            return Err(RouterError(format!(
                "{} did not take the change: {server} should be {want}, it reports {}",
                router.describe(),
                got.map_or("nothing".to_string(), |g| g.to_string())
            )));
        }
        changes.push(Change {
            server: server.clone(),
            before: before[server].want(),
            after: *want,
        });
    }
    Ok(changes)
}

/// Waits until the router finds `servers` up (its own health checks, when it has them).
fn wait_up(router: &mut dyn Router, servers: &[String]) -> Result<(), RouterError> {
    let started = Instant::now();
    loop {
        let seen = router.read()?;
        let down: Vec<&str> = servers
            .iter()
            .filter(|s| !seen.get(*s).is_some_and(|x| x.up))
            .map(String::as_str)
            .collect();
        if down.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= UP_TIMEOUT {
            return Err(RouterError(format!(
                "{} still finds {} down after {} s although runner's checks passed; check the backend's health check (its path and port), then deploy again",
                router.describe(),
                down.join(", "),
                UP_TIMEOUT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How a drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    pub waited: Duration,
    /// Requests still in flight when `timeout` ran out (0: drained).
    pub left: u64,
}

impl fmt::Display for Drained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.left == 0 {
            write!(f, "drained in {} ms", self.waited.as_millis())
        } else {
            write!(
                f,
                "{} request(s) still in flight after {} ms (drain_timeout)",
                self.left,
                self.waited.as_millis()
            )
        }
    }
}

/// Waits until `servers` serve no request, or `timeout`.
pub fn wait_drained(
    router: &mut dyn Router,
    servers: &[String],
    timeout: Duration,
) -> Result<Drained, RouterError> {
    let started = Instant::now();
    loop {
        let seen = router.read()?;
        let left: u64 = servers
            .iter()
            .filter_map(|s| seen.get(s))
            .map(|s| s.sessions)
            .sum();
        let waited = started.elapsed();
        if left == 0 || waited >= timeout {
            return Ok(Drained { waited, left });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The weight of each of `servers` servers sharing `percent` of the traffic, on HAProxy's
/// 0..=256 scale: the shares add up to the percentage whatever the number of servers.
pub fn weight(percent: u32, servers: usize) -> u32 {
    if percent == 0 || servers == 0 {
        return 0;
    }
    let w = (f64::from(percent) * 256.0 / 100.0 / servers as f64).round() as u32;
    w.clamp(1, 256)
}

#[cfg(test)]
mod tests {
    use super::weight;

    #[test]
    fn weights_split_a_percentage_over_the_servers_of_a_slot() {
        assert_eq!(weight(100, 1), 256);
        assert_eq!(weight(5, 1), 13);
        assert_eq!(weight(95, 1), 243);
        assert_eq!(weight(100, 2), 128);
        assert_eq!(weight(1, 4), 1);
        assert_eq!(weight(0, 3), 0);
        let share = |p: u32, n: usize, q: u32, m: usize| {
            let a = f64::from(weight(p, n)) * n as f64;
            let b = f64::from(weight(q, m)) * m as f64;
            100.0 * a / (a + b)
        };
        assert!((share(5, 3, 95, 2) - 5.0).abs() < 0.5);
        assert!((share(25, 2, 75, 2) - 25.0).abs() < 0.5);
    }
}
