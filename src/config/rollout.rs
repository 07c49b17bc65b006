//! How a release reaches traffic, as runner.toml says it: the strategy an environment names,
//! its servers, its router, and the strategy's options (`[environments.E.rollout]`). How each
//! strategy works is `deploy::strategy`'s business; this module only reads and validates.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::ConfigError;
use super::file::{BatchValue, EnvironmentTable, RolloutTable, RouterTable, ServerTable, Text};
use super::reader::Reader;
use toml::Spanned;

/// The strategies runner.toml can name (`strategy` of an environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// The deploy hook replaces the release in place (the default).
    #[default]
    AllAtOnce,
    /// Two slots: the idle one gets the release, then traffic switches in one step.
    BlueGreen,
    /// Two slots: traffic moves to the new one in steps (5, 25, 100 %).
    Canary,
    /// Servers updated in batches, each drained first and readied after its health check.
    Rolling,
}

impl StrategyKind {
    pub const NAMES: &'static str = "all-at-once, blue-green, canary, rolling";

    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::AllAtOnce => "all-at-once",
            StrategyKind::BlueGreen => "blue-green",
            StrategyKind::Canary => "canary",
            StrategyKind::Rolling => "rolling",
        }
    }

    pub fn parse(text: &str) -> Option<StrategyKind> {
        match text {
            "all-at-once" => Some(StrategyKind::AllAtOnce),
            "blue-green" => Some(StrategyKind::BlueGreen),
            "canary" => Some(StrategyKind::Canary),
            "rolling" => Some(StrategyKind::Rolling),
            _ => None,
        }
    }

    /// Whether the strategy moves traffic through a router between servers.
    pub fn routed(self) -> bool {
        self != StrategyKind::AllAtOnce
    }

    /// Whether the strategy works with two slots of servers.
    pub fn slotted(self) -> bool {
        matches!(self, StrategyKind::BlueGreen | StrategyKind::Canary)
    }
}

/// A server of an environment: what the router calls it and where it listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Server {
    /// Its name in the router (HAProxy: the `server` line of the backend).
    pub name: String,
    /// host:port, where health checks reach it directly.
    pub address: String,
    /// The slot it belongs to (blue-green, canary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
}

/// The routers runner drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouterKind {
    /// HAProxy's runtime API on its unix socket.
    Haproxy,
    /// An `upstream` block runner writes, tested (`nginx -t`) and gracefully reloaded.
    Nginx,
}

/// The router in front of an environment's servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Router {
    pub kind: RouterKind,
    /// HAProxy: the runtime API's unix socket. nginx: the upstream file runner writes (the
    /// nginx configuration includes it inside its `http` block).
    pub socket: PathBuf,
    /// The HAProxy backend, or the nginx upstream, that holds the servers.
    pub backend: String,
    /// nginx only: how its configuration is tested and reloaded, and its pid file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nginx: Option<NginxControl>,
    /// Run when the router does not answer: for a router the project runs itself (the
    /// example's HAProxy). A production router is not started by runner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Vec<String>>,
}

/// How runner tests and reloads an nginx configuration, and finds its master process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NginxControl {
    /// Default `["nginx", "-t"]`.
    pub test: Vec<String>,
    /// Default `["nginx", "-s", "reload"]`.
    pub reload: Vec<String>,
    /// Default `/run/nginx.pid`.
    pub pid: PathBuf,
    /// Where `test` and `reload` run: the folder of runner.toml.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// How long a canary step is held before the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    For(Duration),
    /// Until `runner promote` or `runner abort`.
    Manual,
}

impl Serialize for Pause {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Pause::For(d) => s.collect_str(&humantime::format_duration(*d)),
            Pause::Manual => s.serialize_str("manual"),
        }
    }
}

/// How many servers a rolling deploy updates at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Batch {
    Servers(u32),
    Percent(u32),
}

impl Batch {
    /// The batch size over `servers` servers: at least 1.
    pub fn size(self, servers: usize) -> usize {
        match self {
            Batch::Servers(n) => n as usize,
            Batch::Percent(p) => (servers * p as usize).div_ceil(100),
        }
        .clamp(1, servers.max(1))
    }
}

/// The strategy of an environment with everything it needs.
#[derive(Debug, Clone, Serialize)]
pub struct Rollout {
    pub strategy: StrategyKind,
    pub servers: Vec<Server>,
    pub router: Option<Router>,
    /// Canary: the traffic percentages of the new release, the last one 100.
    pub steps: Vec<u32>,
    pub pause: Pause,
    pub batch: Batch,
    /// How long a server taken out of traffic may take to finish its requests.
    #[serde(with = "super::humantime_serde")]
    pub drain_timeout: Duration,
    /// Blue-green: how long the previous slot keeps running after the switch, so that a
    /// rollback is a switch back.
    #[serde(with = "super::humantime_serde")]
    pub keep_previous: Duration,
}

pub const DEFAULT_STEPS: [u32; 3] = [5, 25, 100];
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(60);
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_KEEP_PREVIOUS: Duration = Duration::from_secs(600);

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            strategy: StrategyKind::AllAtOnce,
            servers: Vec::new(),
            router: None,
            steps: DEFAULT_STEPS.to_vec(),
            pause: Pause::For(DEFAULT_PAUSE),
            batch: Batch::Servers(1),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            keep_previous: DEFAULT_KEEP_PREVIOUS,
        }
    }
}

impl Rollout {
    /// The slots of a blue-green or canary environment, in the order runner.toml names them.
    pub fn slots(&self) -> Vec<&str> {
        let mut slots: Vec<&str> = Vec::new();
        for s in &self.servers {
            if let Some(slot) = s.slot.as_deref()
                && !slots.contains(&slot)
            {
                slots.push(slot);
            }
        }
        slots
    }

    pub fn servers_of<'a>(&'a self, slot: &'a str) -> impl Iterator<Item = &'a Server> + 'a {
        self.servers
            .iter()
            .filter(move |s| s.slot.as_deref() == Some(slot))
    }
}

/// Reads `router = { kind = ..., ... }`: each kind's own settings, and none of the other's.
fn router(
    reader: &Reader<'_>,
    r: &RouterTable,
    key: &str,
    root: &Path,
) -> Result<Router, ConfigError> {
    let kind = router_kind(reader, r, key)?;
    // Where each setting was given, and which ones each kind needs and takes.
    let given: [(&str, Option<usize>); 7] = [
        ("socket", r.socket.as_ref().map(|t| t.span().start)),
        ("backend", r.backend.as_ref().map(|t| t.span().start)),
        ("file", r.file.as_ref().map(|t| t.span().start)),
        ("upstream", r.upstream.as_ref().map(|t| t.span().start)),
        ("test", r.test.as_ref().map(|t| t.span().start)),
        ("reload", r.reload.as_ref().map(|t| t.span().start)),
        ("pid", r.pid.as_ref().map(|t| t.span().start)),
    ];
    let (needs, takes): ([(&str, Option<&Text>); 2], &[&str]) = match kind {
        RouterKind::Haproxy => (
            [
                ("socket", r.socket.as_ref()),
                ("backend", r.backend.as_ref()),
            ],
            &["socket", "backend"],
        ),
        RouterKind::Nginx => (
            [("file", r.file.as_ref()), ("upstream", r.upstream.as_ref())],
            &["file", "upstream", "test", "reload", "pid"],
        ),
    };
    let example = router_example(kind);
    if let Some((k, Some(at))) = given
        .iter()
        .find(|(k, at)| at.is_some() && !takes.contains(k))
    {
        return Err(reader.error_at(
            *at,
            format!(
                "{key}.{k} is not a setting of the {} router; e.g. {example}",
                kind_name(kind)
            ),
        ));
    }
    let mut values = Vec::new();
    for (k, v) in needs {
        let Some(v) = v else {
            return Err(reader.error_at(
                r.kind.span().start,
                format!(
                    "{key}.{k} is missing: the {} router needs it; e.g. {example}",
                    kind_name(kind)
                ),
            ));
        };
        values.push(reader.text(v, &format!("{key}.{k}"))?.0);
    }
    let nginx = match kind {
        RouterKind::Haproxy => None,
        RouterKind::Nginx => Some(nginx_control(reader, r, key, root)?),
    };
    let start = r
        .start
        .as_ref()
        .map(|v| reader.argv(v, &format!("{key}.start")))
        .transpose()?;
    Ok(Router {
        kind,
        socket: root.join(&values[0]),
        backend: values[1].clone(),
        nginx,
        start,
    })
}

fn router_kind(reader: &Reader<'_>, r: &RouterTable, key: &str) -> Result<RouterKind, ConfigError> {
    let (kind, _) = reader.text(&r.kind, &format!("{key}.kind"))?;
    match kind.as_str() {
        "haproxy" => Ok(RouterKind::Haproxy),
        "nginx" => Ok(RouterKind::Nginx),
        _ => Err(reader.error_at(
            r.kind.span().start,
            format!(
                "{key}.kind: `{kind}` is not a router runner drives; use \"haproxy\" or \"nginx\""
            ),
        )),
    }
}

/// A router setting as an error message shows it.
fn router_example(kind: RouterKind) -> &'static str {
    match kind {
        RouterKind::Haproxy => {
            "router = { kind = \"haproxy\", socket = \"/run/haproxy/admin.sock\", backend = \"app\" }"
        }
        RouterKind::Nginx => {
            "router = { kind = \"nginx\", file = \"/etc/nginx/conf.d/app-upstream.conf\", upstream = \"app\" }"
        }
    }
}

/// How nginx is tested and reloaded (`nginx -t`, `nginx -s reload` and /run/nginx.pid unless
/// set).
fn nginx_control(
    reader: &Reader<'_>,
    r: &RouterTable,
    key: &str,
    root: &Path,
) -> Result<NginxControl, ConfigError> {
    let argv = |v: &Option<Spanned<Vec<Text>>>, k: &str, default: &[&str]| match v {
        Some(v) => reader.argv(v, &format!("{key}.{k}")),
        None => Ok(default.iter().map(|s| s.to_string()).collect()),
    };
    Ok(NginxControl {
        test: argv(&r.test, "test", &["nginx", "-t"])?,
        reload: argv(&r.reload, "reload", &["nginx", "-s", "reload"])?,
        pid: match &r.pid {
            Some(p) => root.join(reader.text(p, &format!("{key}.pid"))?.0),
            None => PathBuf::from("/run/nginx.pid"),
        },
        dir: root.to_path_buf(),
    })
}

fn kind_name(kind: RouterKind) -> &'static str {
    match kind {
        RouterKind::Haproxy => "haproxy",
        RouterKind::Nginx => "nginx",
    }
}

/// Reads `strategy`, `servers`, `router` and `[rollout]` of one environment.
pub(super) fn rollout(
    reader: &Reader<'_>,
    env: &str,
    t: &EnvironmentTable,
    root: &Path,
) -> Result<Rollout, ConfigError> {
    let key = |k: &str| format!("environments.{env}.{k}");
    let mut out = Rollout::default();
    if let Some(text) = &t.strategy {
        let (name, _) = reader.text(text, &key("strategy"))?;
        out.strategy = StrategyKind::parse(&name).ok_or_else(|| {
            reader.error_at(
                text.span().start,
                format!(
                    "{}: `{name}` is not a strategy; use {}",
                    key("strategy"),
                    StrategyKind::NAMES
                ),
            )
        })?;
    }
    let at = t.strategy.as_ref().map_or(0, |s| s.span().start);
    if let Some(list) = &t.servers {
        for s in list.get_ref() {
            out.servers.push(server(reader, s, &key("servers"))?);
        }
        check_servers(reader, &out, list.span().start, &key("servers"))?;
    }
    if let Some(r) = &t.router {
        out.router = Some(router(reader, r, &key("router"), root)?);
    }
    let strategy = out.strategy;
    if strategy.routed() {
        if out.servers.is_empty() || out.router.is_none() {
            return Err(reader.error_at(
                at,
                format!(
                    "environments.{env}: strategy {} moves traffic between servers through a router; list them: servers = [{{ name = \"blue\", address = \"127.0.0.1:8081\"{} }}, ...] and router = {{ kind = \"haproxy\", socket = \"/run/haproxy/admin.sock\", backend = \"app\" }}",
                    strategy.name(),
                    if strategy.slotted() { ", slot = \"blue\"" } else { "" }
                ),
            ));
        }
    } else if !out.servers.is_empty() || out.router.is_some() {
        return Err(reader.error_at(
            at,
            format!(
                "environments.{env}: servers and router are used by the blue-green, canary and rolling strategies; set strategy = \"blue-green\" (or canary, rolling), or remove them"
            ),
        ));
    }
    if strategy.slotted() {
        check_slots(reader, &out, env, at)?;
    } else if let Some(s) = out.servers.iter().find(|s| s.slot.is_some()) {
        return Err(reader.error_at(
            at,
            format!(
                "{}: server {} has a slot, but slots are used by blue-green and canary only (strategy is {})",
                key("servers"),
                s.name,
                strategy.name()
            ),
        ));
    }
    if let Some(r) = &t.rollout {
        options(reader, r, &mut out, &key("rollout"))?;
    }
    Ok(out)
}

fn server(reader: &Reader<'_>, s: &ServerTable, key: &str) -> Result<Server, ConfigError> {
    let (name, _) = reader.text(&s.name, &format!("{key}.name"))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(reader.error_at(
            s.name.span().start,
            format!(
                "{key}: server name `{name}` may hold only letters, digits, `.`, `_` and `-` (it is the server's name in the router)"
            ),
        ));
    }
    let (address, _) = reader.text(&s.address, &format!("{key}.address"))?;
    let port_ok = address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if !port_ok {
        return Err(reader.error_at(
            s.address.span().start,
            format!(
                "{key}: server {name}: `{address}` is not host:port; write e.g. \"10.0.0.5:8080\""
            ),
        ));
    }
    let slot = s
        .slot
        .as_ref()
        .map(|v| reader.text(v, &format!("{key}.slot")).map(|(t, _)| t))
        .transpose()?;
    Ok(Server {
        name,
        address,
        slot,
    })
}

fn check_servers(
    reader: &Reader<'_>,
    out: &Rollout,
    at: usize,
    key: &str,
) -> Result<(), ConfigError> {
    for (i, s) in out.servers.iter().enumerate() {
        if out.servers[..i].iter().any(|o| o.name == s.name) {
            return Err(reader.error_at(at, format!("{key}: server {} is listed twice", s.name)));
        }
    }
    Ok(())
}

fn check_slots(
    reader: &Reader<'_>,
    out: &Rollout,
    env: &str,
    at: usize,
) -> Result<(), ConfigError> {
    let key = format!("environments.{env}.servers");
    if let Some(s) = out.servers.iter().find(|s| s.slot.is_none()) {
        return Err(reader.error_at(
            at,
            format!(
                "{key}: server {} has no slot; {} needs every server in one of two slots, e.g. slot = \"blue\" or slot = \"green\"",
                s.name,
                out.strategy.name()
            ),
        ));
    }
    let slots = out.slots();
    if slots.len() != 2 {
        return Err(reader.error_at(
            at,
            format!(
                "{key}: {} needs exactly two slots (e.g. blue and green), each with at least one server; found {}",
                out.strategy.name(),
                if slots.is_empty() {
                    "none".to_string()
                } else {
                    slots.join(", ")
                }
            ),
        ));
    }
    Ok(())
}

/// `steps`: increasing percentages of traffic, ending at 100.
fn ramp(
    reader: &Reader<'_>,
    steps: &Spanned<Vec<Spanned<u32>>>,
    key: &str,
) -> Result<Vec<u32>, ConfigError> {
    let values: Vec<u32> = steps.get_ref().iter().map(|s| *s.get_ref()).collect();
    let increasing = values.windows(2).all(|w| w[0] < w[1]);
    let in_range = values.iter().all(|v| (1..=100).contains(v));
    if values.is_empty() || !increasing || !in_range || values.last() != Some(&100) {
        return Err(reader.error_at(
            steps.span().start,
            format!(
                "{key}.steps: {values:?} is not a ramp; give increasing percentages of traffic for the new release, ending at 100, e.g. [5, 25, 100]"
            ),
        ));
    }
    Ok(values)
}

/// `pause`: a duration, or "manual" (wait for `runner promote`).
fn pause(reader: &Reader<'_>, p: &Text, key: &str) -> Result<Pause, ConfigError> {
    let (text, _) = reader.text(p, &format!("{key}.pause"))?;
    if text == "manual" {
        return Ok(Pause::Manual);
    }
    let d = humantime::parse_duration(&text).map_err(|e| {
        reader.error_at(
            p.span().start,
            format!(
                "{key}.pause: `{text}` is not a duration ({e}); write e.g. \"30s\", or \"manual\" to wait for `runner promote`"
            ),
        )
    })?;
    Ok(Pause::For(d))
}

/// `batch`: a number of servers, or a percentage of them.
fn batch(reader: &Reader<'_>, b: &Spanned<BatchValue>, key: &str) -> Result<Batch, ConfigError> {
    let bad = |why: String| reader.error_at(b.span().start, format!("{key}.batch: {why}"));
    Ok(match b.get_ref() {
        BatchValue::Servers(0) => return Err(bad("must be at least 1".into())),
        BatchValue::Servers(n) => Batch::Servers(*n),
        BatchValue::Percent(text) => {
            let p = text
                .strip_suffix('%')
                .and_then(|n| n.trim().parse::<u32>().ok())
                .filter(|p| (1..=100).contains(p))
                .ok_or_else(|| {
                    bad(format!(
                        "`{text}` is neither a number of servers nor a percentage; write e.g. 1 or \"25%\""
                    ))
                })?;
            Batch::Percent(p)
        }
    })
}

fn options(
    reader: &Reader<'_>,
    r: &RolloutTable,
    out: &mut Rollout,
    key: &str,
) -> Result<(), ConfigError> {
    let strategy = out.strategy;
    let only = |at: usize, k: &str, applies: &[super::StrategyKind]| {
        if applies.contains(&strategy) {
            Ok(())
        } else {
            let names: Vec<&str> = applies.iter().map(|s| s.name()).collect();
            Err(reader.error_at(
                at,
                format!(
                    "{key}.{k} applies to {}; this environment's strategy is {}",
                    names.join(" and "),
                    strategy.name()
                ),
            ))
        }
    };
    use StrategyKind::{BlueGreen, Canary, Rolling};
    if let Some(steps) = &r.steps {
        only(steps.span().start, "steps", &[Canary])?;
        out.steps = ramp(reader, steps, key)?;
    }
    if let Some(p) = &r.pause {
        only(p.span().start, "pause", &[Canary])?;
        out.pause = pause(reader, p, key)?;
    }
    if let Some(b) = &r.batch {
        only(b.span().start, "batch", &[Rolling])?;
        out.batch = batch(reader, b, key)?;
    }
    if let Some(d) = &r.drain_timeout {
        only(
            d.span().start,
            "drain_timeout",
            &[BlueGreen, Canary, Rolling],
        )?;
        out.drain_timeout = reader
            .duration(d, &format!("{key}.drain_timeout"))?
            .unwrap_or(Duration::ZERO);
    }
    if let Some(d) = &r.keep_previous {
        only(d.span().start, "keep_previous", &[BlueGreen])?;
        out.keep_previous = reader
            .duration(d, &format!("{key}.keep_previous"))?
            .unwrap_or(Duration::ZERO);
    }
    Ok(())
}
