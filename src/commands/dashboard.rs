//! `runner dashboard [--listen ADDR] [--allow-actions]`: every environment of the pipeline in a
//! browser, live. One page, a JSON API and a server-sent event stream, from the data `status`
//! and `history` read; assets are embedded in the binary. Read-only unless started with
//! `--allow-actions`, and then each action needs the token of RUNNER_DASHBOARD_TOKEN and runs
//! the same command the CLI runs (its rules, its audit record).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use subtle::ConstantTimeEq;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::cli::DashboardArgs;
use crate::config::Config;
use crate::error::{Error, ExitCode, Result};

const INDEX: &str = include_str!("../../assets/dashboard/index.html");
const APP: &str = include_str!("../../assets/dashboard/app.js");
const UPLOT_JS: &str = include_str!("../../assets/dashboard/vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/dashboard/vendor/uplot/uPlot.min.css");

/// The variable the action token is read from.
pub const TOKEN_VAR: &str = "RUNNER_DASHBOARD_TOKEN";

struct Dashboard {
    config: Config,
    actions: bool,
    token: Option<String>,
    sampler: Sampler,
    /// Each environment's journal, kept up to date by reading what changed.
    journals: std::collections::HashMap<String, tokio::sync::Mutex<crate::engine::journal::Cached>>,
}

/// How long the measured part is sampled after the last request when no stream is open.
const WANTED_FOR: Duration = Duration::from_secs(10);

/// The measured part of every environment (servers, router, probes, metrics), sampled by one
/// background thread only while someone looks: a page's live stream is open, or a request came
/// in the last 10 s. With no page open it waits on a condition variable and costs nothing.
#[derive(Default)]
struct Sampler {
    state: std::sync::Mutex<Sampled>,
    wake: std::sync::Condvar,
}

#[derive(Default)]
struct Sampled {
    live: std::collections::HashMap<String, (super::status::Live, std::time::SystemTime)>,
    watchers: usize,
    wanted_at: Option<std::time::Instant>,
}

impl Sampled {
    fn wanted(&self) -> bool {
        self.watchers > 0 || self.wanted_at.is_some_and(|t| t.elapsed() < WANTED_FOR)
    }
}

pub fn run(config: &Config, args: &DashboardArgs) -> Result<ExitCode> {
    let token = std::env::var(TOKEN_VAR).ok().filter(|t| !t.is_empty());
    let addr: SocketAddr = args.listen.parse().map_err(|e| {
        Error::Usage(format!(
            "--listen {}: {e}; give an address and port, e.g. 127.0.0.1:9187",
            args.listen
        ))
    })?;
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(Error::Usage(format!(
            "--listen {addr} is reachable from other machines: set {TOKEN_VAR} (a secret every request must carry), or listen on 127.0.0.1"
        )));
    }
    if args.allow_actions && token.is_none() {
        return Err(Error::Usage(format!(
            "--allow-actions needs {TOKEN_VAR}: each action must carry that token (compared in constant time), so a page left open cannot change production by accident"
        )));
    }
    let server = listen(addr).map_err(|e| {
        Error::Usage(format!(
            "runner dashboard cannot listen on {addr}: {e}; pass another --listen"
        ))
    })?;
    crate::report::out::line(format_args!(
        "runner dashboard on http://{addr}/ ({}); Ctrl-C stops it",
        if args.allow_actions {
            "actions allowed with the token"
        } else {
            "read-only"
        }
    ));
    let dashboard = std::sync::Arc::new(Dashboard {
        config: config.clone(),
        actions: args.allow_actions,
        token,
        sampler: Sampler::default(),
        journals: config
            .pipeline
            .value
            .iter()
            .map(|e| (e.clone(), Default::default()))
            .collect(),
    });
    crate::runtime::exit_at_signal(2);
    {
        let dashboard = dashboard.clone();
        std::thread::spawn(move || dashboard.sample());
    }
    for request in server.incoming_requests() {
        let dashboard = dashboard.clone();
        std::thread::spawn(move || dashboard.handle(request));
    }
    Ok(ExitCode::Success)
}

/// The server on `addr`, its connections without Nagle's delay: tiny_http writes a response's
/// head and body apart, and a page's second request on a kept-alive connection would wait for
/// the browser's delayed ACK (40 ms) without it. Accepted sockets inherit the option on Linux.
fn listen(addr: SocketAddr) -> std::result::Result<Server, String> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| e.to_string())?;
    socket2::SockRef::from(&listener)
        .set_tcp_nodelay(true)
        .map_err(|e| e.to_string())?;
    Server::from_listener(listener, None).map_err(|e| e.to_string())
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap_or_else(|()| {
        Header::from_bytes(&b"X-Invalid"[..], &b"1"[..]).expect("a constant header is valid")
    })
}

fn text(status: u16, content_type: &str, body: String) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", content_type))
        .with_header(header("Cache-Control", "no-store"))
        .with_header(header("X-Content-Type-Options", "nosniff"))
}

impl Dashboard {
    fn handle(&self, mut request: Request) {
        // With a token, every request carries it (a non-loopback listener requires one).
        let authorized = |request: &Request| match &self.token {
            None => true,
            Some(token) => {
                request.headers().iter().any(|h| {
                    h.field.equiv("Authorization")
                        && bool::from(
                            h.value
                                .as_str()
                                .trim_start_matches("Bearer ")
                                .as_bytes()
                                .ct_eq(token.as_bytes()),
                        )
                }) || query_param(request.url(), "token")
                    .is_some_and(|t| bool::from(t.as_bytes().ct_eq(token.as_bytes())))
            }
        };
        let path = request.url().split('?').next().unwrap_or("/").to_string();
        let response = match (request.method(), path.as_str()) {
            (_, _) if !authorized(&request) && path != "/" && !path.starts_with("/assets/") => {
                text(
                    401,
                    "application/json",
                    r#"{"error":"this dashboard needs its token (Authorization: Bearer ...)"}"#
                        .into(),
                )
            }
            (Method::Get, "/") => text(200, "text/html; charset=utf-8", INDEX.into()),
            (Method::Get, "/assets/app.js") => text(200, "text/javascript", APP.into()),
            (Method::Get, "/assets/uPlot.iife.min.js") => {
                text(200, "text/javascript", UPLOT_JS.into())
            }
            (Method::Get, "/assets/uPlot.min.css") => text(200, "text/css", UPLOT_CSS.into()),
            (Method::Get, "/api/status") => {
                text(200, "application/json", self.snapshot().to_string())
            }
            (Method::Get, "/api/history") => {
                let env = query_param(request.url(), "env").unwrap_or_default();
                match self.history(&env) {
                    Ok(json) => text(200, "application/json", json.to_string()),
                    Err(e) => text(
                        404,
                        "application/json",
                        serde_json::json!({"error": e.to_string()}).to_string(),
                    ),
                }
            }
            (Method::Get, "/events") => {
                self.stream(request.into_writer());
                return;
            }
            (Method::Post, "/api/action") => {
                let mut body = String::new();
                let _ = request
                    .as_reader()
                    .take(64 * 1024)
                    .read_to_string(&mut body);
                let (status, json) = self.action(&body);
                text(status, "application/json", json.to_string())
            }
            _ => text(
                404,
                "application/json",
                r#"{"error":"no such page"}"#.into(),
            ),
        };
        let _ = request.respond(response);
    }

    /// Every environment of the pipeline, as `runner status --format json` shows it: what is
    /// recorded read now, what is measured as last sampled (`measured_at`; none yet on the
    /// first request after a quiet spell: the stream brings it a second later).
    fn snapshot(&self) -> serde_json::Value {
        let live = {
            let mut state = self.lock();
            state.wanted_at = Some(std::time::Instant::now());
            self.sampler.wake.notify_all();
            state.live.clone()
        };
        let catalog = crate::catalog::Catalog::of_config(&self.config);
        let mut environments = Vec::new();
        for name in &self.config.pipeline.value {
            let value = match self.recorded(name, catalog.as_ref()) {
                Ok((env, mut recorded)) => {
                    let measured_at = live.get(name).map(|(now, at)| {
                        now.clone().put(&mut recorded.view);
                        humantime::format_rfc3339_millis(*at).to_string()
                    });
                    let mut json =
                        crate::report::status::json(&super::status::conclude(env, recorded));
                    json["measured_at"] = measured_at.into();
                    json
                }
                Err(e) => serde_json::json!({"environment": name, "error": e}),
            };
            environments.push(value);
        }
        serde_json::json!({
            "environments": environments,
            "flags": self.flags(),
            "actions": self.actions,
        })
    }

    /// What the database and the journal of environment `name` hold (its journal brought up to
    /// date in this dashboard's cache), or why it cannot be read.
    fn recorded<'c>(
        &'c self,
        name: &str,
        catalog: std::result::Result<&crate::catalog::Catalog, &crate::catalog::CatalogError>,
    ) -> std::result::Result<(&'c crate::config::Environment, super::status::Recorded), String>
    {
        let env = self.config.environment(name).map_err(|e| e.to_string())?;
        let catalog = catalog.map_err(ToString::to_string)?;
        super::status::recorded(&self.config, env, catalog, self.journals.get(name))
            .map(|recorded| (env, recorded))
            .map_err(|e| e.to_string())
    }

    /// Each flag's share in each environment of the pipeline, and its stage.
    fn flags(&self) -> serde_json::Value {
        let store = crate::flags::Store {
            config: &self.config,
        };
        match store.rollouts() {
            Ok(rollouts) => rollouts
                .iter()
                .map(|(key, (rollout, _))| {
                    serde_json::json!({
                        "key": key,
                        "stage": rollout.stage(),
                        "percent": rollout.percents.iter().map(|(e, p)| (e.clone(), *p)).collect::<std::collections::BTreeMap<_, _>>(),
                    })
                })
                .collect(),
            Err(e) => serde_json::json!({"error": e}),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sampled> {
        self.sampler
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The sampler's thread: while someone looks, every environment measured (in parallel: a
    /// metrics window takes a second), again and again; otherwise asleep.
    fn sample(&self) {
        loop {
            {
                let mut state = self.lock();
                let idle = !state.wanted();
                while !state.wanted() {
                    state = self
                        .sampler
                        .wake
                        .wait_timeout(state, WANTED_FOR)
                        .map(|(s, _)| s)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                drop(state);
                // Woken by a page that is loading: its first requests go first.
                if idle {
                    std::thread::sleep(Duration::from_millis(300));
                }
            }
            let Ok(catalog) = crate::catalog::Catalog::of_config(&self.config) else {
                std::thread::sleep(Duration::from_secs(1));
                continue;
            };
            let started = std::time::Instant::now();
            std::thread::scope(|scope| {
                for name in &self.config.pipeline.value {
                    let catalog = &catalog;
                    scope.spawn(move || {
                        // One that cannot be read shows its error from the recorded part.
                        let Ok((env, recorded)) = self.recorded(name, Ok(catalog)) else {
                            return;
                        };
                        let now = super::status::live(
                            &self.config,
                            env,
                            &recorded,
                            Duration::from_secs(1),
                        );
                        self.lock()
                            .live
                            .insert(name.clone(), (now, std::time::SystemTime::now()));
                    });
                }
            });
            // At most one round a second, whatever the environments measure.
            std::thread::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()));
        }
    }

    /// The deploy journal of one environment, newest first (the last 20 runs).
    fn history(&self, env: &str) -> Result<serde_json::Value> {
        let env = self.config.environment(env)?;
        let entries = crate::runtime::block_on(async {
            if !crate::db::Conn::exists(&env.database_url.value) {
                return Ok(Vec::new());
            }
            let mut conn = crate::engine::open(env, "dashboard").await?;
            let history =
                crate::engine::history::History::new(&self.config.history_prefix, conn.dialect());
            let entries = crate::engine::journal::latest(&mut conn, &history, &env.name, 20).await;
            conn.close().await;
            entries.map_err(|e| crate::engine::db("read the deploy journal", e))
        })?;
        Ok(serde_json::to_value(entries).unwrap_or_default())
    }

    /// An action from the page: only with --allow-actions and the token; run as the CLI runs
    /// it (the same rules, the same audit record), the approver named.
    fn action(&self, body: &str) -> (u16, serde_json::Value) {
        if !self.actions {
            return (
                403,
                serde_json::json!({"error": "this dashboard is read-only: start it with --allow-actions (and RUNNER_DASHBOARD_TOKEN) to act from it"}),
            );
        }
        let request: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let given = request["token"].as_str().unwrap_or_default();
        let ok = self
            .token
            .as_ref()
            .is_some_and(|t| bool::from(given.as_bytes().ct_eq(t.as_bytes())));
        if !ok {
            return (
                401,
                serde_json::json!({"error": "the action's token does not match RUNNER_DASHBOARD_TOKEN: nothing was done"}),
            );
        }
        let env = request["env"].as_str().unwrap_or_default();
        let Ok(environment) = self.config.environment(env) else {
            return (
                400,
                serde_json::json!({"error": format!("no environment {env}")}),
            );
        };
        let approver = request["approver"]
            .as_str()
            .filter(|a| !a.trim().is_empty());
        let Some(approver) = approver else {
            return (
                400,
                serde_json::json!({"error": "name who approves the action (approver): it is recorded as the CLI records it"}),
            );
        };
        let mut args: Vec<String> = match request["action"].as_str().unwrap_or_default() {
            "promote" => vec!["promote".into()],
            "abort" => vec!["abort".into()],
            "rollback" => vec!["rollback".into()],
            other => {
                return (
                    400,
                    serde_json::json!({"error": format!("no action {other}: promote, abort or rollback")}),
                );
            }
        };
        args.extend(["--env".into(), environment.name.clone()]);
        if environment.requires_approval {
            args.push("--approve".into());
        }
        self.run_as_cli(&args, approver)
    }

    /// Runs `runner <args>` as the CLI would in this project, the approver named in the
    /// journal and the audit log; its exit code and output as the answer.
    fn run_as_cli(&self, args: &[String], approver: &str) -> (u16, serde_json::Value) {
        let exe = std::env::current_exe().unwrap_or_else(|_| "runner".into());
        let mut command = std::process::Command::new(exe);
        command
            .args(args)
            .current_dir(&self.config.root)
            .env("RUNNER_APPROVED_BY", format!("{approver} (dashboard)"))
            // Who acted, in the journal and the audit log, whether or not approval is needed.
            .env(
                "RUNNER_APPLIED_BY",
                format!("{approver} (dashboard)@{}", crate::runtime::hostname()),
            )
            .stdin(std::process::Stdio::null());
        if let Some(file) = &self.config.file {
            command.arg("--config").arg(file);
        }
        match command.output() {
            Ok(out) => (
                if out.status.success() { 200 } else { 409 },
                serde_json::json!({
                    "command": format!("runner {}", args.join(" ")),
                    "exit_code": out.status.code(),
                    "stdout": String::from_utf8_lossy(&out.stdout),
                    "stderr": String::from_utf8_lossy(&out.stderr),
                }),
            ),
            Err(e) => (
                500,
                serde_json::json!({"error": format!("could not run runner: {e}")}),
            ),
        }
    }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            url::form_urlencoded::parse(format!("x={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
    })
}

impl Dashboard {
    /// The live stream: the status of every environment, sent when it changes (looked at
    /// twice a second while the page is open; nothing runs when no page is), each event
    /// flushed as it is written. Ends when the page goes away.
    fn stream(&self, mut out: Box<dyn Write + Send>) {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
        if out
            .write_all(head.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
        self.lock().watchers += 1;
        let _watching = Watching(self);
        let mut last = String::new();
        loop {
            let now = self.snapshot().to_string();
            let event = if now != last {
                last.clone_from(&now);
                format!("event: status\ndata: {now}\n\n")
            } else {
                // A comment keeps the connection alive and finds a closed page.
                ": still\n\n".to_string()
            };
            if out
                .write_all(event.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// One open stream, counted while it lasts (the sampler runs while any is open).
struct Watching<'a>(&'a Dashboard);

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.watchers = state.watchers.saturating_sub(1);
    }
}
