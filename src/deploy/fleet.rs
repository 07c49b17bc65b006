//! The servers of a routed environment (blue-green, canary, rolling): which release each one
//! runs and what runner wants the router to hold for it, recorded in the deploy journal before
//! every change (the row's `desired`), so that what serves is always known, and re-applied
//! when the router lost it (a reload drops HAProxy's runtime changes).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::hooks::Server as HookServer;
use super::router::{self, Admin, Change, Router, Seen, Want};
use super::run::{Phase, Run, Status};
use super::step::{Failure, enter};
use crate::config::{Environment, Server};
use crate::db::Conn;
use crate::engine::journal::{self, Entry};
use crate::error::{Error, Result};

/// Per server: what it runs and what the router should hold for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fleet {
    pub servers: BTreeMap<String, Member>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The release it runs; `None` when not known (never deployed by runner, or a deploy
    /// hook on it did not finish).
    pub release: Option<String>,
    pub want: Want,
    /// Its release was stopped (the stop hook ran): nothing runs there.
    #[serde(default)]
    pub stopped: bool,
    /// A previous release kept running out of traffic for an instant rollback, until then
    /// (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_until: Option<String>,
}

impl Member {
    /// Runs `release` and could take traffic again at once.
    pub fn warm_with(&self, release: &str) -> bool {
        self.release.as_deref() == Some(release) && !self.stopped
    }
}

impl Fleet {
    /// The newest record in the journal (newest first).
    pub fn recorded(entries: &[Entry]) -> Option<Fleet> {
        entries
            .iter()
            .find_map(|e| e.desired.as_deref())
            .and_then(|d| serde_json::from_str(d).ok())
    }
}

/// The router of a run and the record it keeps.
pub struct Routed {
    pub router: Box<dyn Router + Send>,
    pub fleet: Fleet,
    pub servers: Vec<Server>,
    pub drain_timeout: Duration,
}

/// Where the record and the router disagree.
pub fn drift(fleet: &Fleet, seen: &BTreeMap<String, Seen>) -> Vec<(String, Want, Option<Want>)> {
    fleet
        .servers
        .iter()
        .filter_map(|(name, m)| {
            let got = seen.get(name).map(Seen::want);
            (got != Some(m.want)).then(|| (name.clone(), m.want, got))
        })
        .collect()
}

/// A record for servers runner has not worked on: what the router holds, releases unknown.
fn from_router(servers: &[Server], seen: &BTreeMap<String, Seen>) -> Fleet {
    Fleet {
        servers: servers
            .iter()
            .filter_map(|s| {
                seen.get(&s.name).map(|got| {
                    (
                        s.name.clone(),
                        Member {
                            release: None,
                            want: got.want(),
                            stopped: false,
                            kept_until: None,
                        },
                    )
                })
            })
            .collect(),
    }
}

impl Routed {
    /// With the lock held, at the start of work on the environment: the record (or, the
    /// first time, what the router holds) compared with the router, and what differs
    /// re-applied and said.
    pub fn reconcile(
        env: &Environment,
        entries: &[Entry],
        root: &std::path::Path,
    ) -> Result<(Routed, Option<String>)> {
        let Some(config) = &env.rollout.router else {
            return Err(Error::Usage(format!(
                "environments.{}: strategy {} needs a router",
                env.name,
                env.strategy().name()
            )));
        };
        let mut router = router::open(config, &env.rollout.servers);
        let seen = match (router.read(), &config.start) {
            (Ok(seen), _) => seen,
            (Err(_), Some(start)) => {
                start_router(start, root).map_err(|why| {
                    Error::Usage(format!("environments.{}.router.start: {why}", env.name))
                })?;
                read_soon(router.as_mut()).map_err(|e| router_error(env, e))?
            }
            (Err(e), None) => return Err(router_error(env, e)),
        };
        for s in &env.rollout.servers {
            if !seen.contains_key(&s.name) {
                return Err(Error::Usage(format!(
                    "environments.{}.servers: {} has no server named {}; add `server {} {}` to the backend, or fix its name in runner.toml",
                    env.name,
                    router.describe(),
                    s.name,
                    s.name,
                    s.address
                )));
            }
        }
        let fleet = match Fleet::recorded(entries) {
            Some(mut f) => {
                // Servers added to runner.toml since the record: as the router has them.
                for (name, m) in from_router(&env.rollout.servers, &seen).servers {
                    f.servers.entry(name).or_insert(m);
                }
                f.servers
                    .retain(|name, _| env.rollout.servers.iter().any(|s| &s.name == name));
                f
            }
            None => from_router(&env.rollout.servers, &seen),
        };
        let differs = drift(&fleet, &seen);
        let mut note = None;
        if !differs.is_empty() {
            let wants: Vec<(String, Want)> =
                differs.iter().map(|(n, w, _)| (n.clone(), *w)).collect();
            let said: Vec<String> = differs
                .iter()
                .map(|(n, w, got)| {
                    format!(
                        "{n} {} (recorded {w})",
                        got.map_or("missing".to_string(), |g| g.to_string())
                    )
                })
                .collect();
            router::apply(router.as_mut(), &wants).map_err(|e| router_error(env, e))?;
            note = Some(format!(
                "{} did not hold what runner recorded (reloaded or changed by hand): {}; re-applied runner's record",
                router.describe(),
                said.join(", ")
            ));
        }
        Ok((
            Routed {
                router,
                fleet,
                servers: env.rollout.servers.clone(),
                drain_timeout: env.rollout.drain_timeout,
            },
            note,
        ))
    }

    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.fleet.servers.get(name)
    }

    /// Writes the record into the run's journal row. Before a change, it says what the run
    /// is about to do; a run that dies in between leaves the next one re-applying it.
    pub async fn save(
        &self,
        run: &mut Run<'_>,
        conn: &mut Conn,
    ) -> std::result::Result<(), Failure> {
        let json = serde_json::to_string(&self.fleet).unwrap_or_default();
        run.entry.desired = Some(json.clone());
        journal::heartbeat(conn, &run.history, &run.entry.id, Some(&json))
            .await
            .map_err(|e| Failure::new(format!("cannot record the router's weights: {e}")))
    }

    /// Sets weights and states: recorded first, applied in a safe order, read back.
    pub async fn set(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        wants: Vec<(String, Want)>,
    ) -> std::result::Result<Vec<Change>, Failure> {
        for (name, want) in &wants {
            if let Some(m) = self.fleet.servers.get_mut(name) {
                m.want = *want;
                // A server kept warm that takes traffic again (a switch back) serves now.
                if want.takes_traffic() {
                    m.kept_until = None;
                }
            }
        }
        self.save(run, conn).await?;
        router::apply(self.router.as_mut(), &wants).map_err(|e| Failure::new(e.to_string()))
    }

    /// Moves traffic as one phase: `traffic` with every change in its detail.
    pub async fn shift(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        wants: Vec<(String, Want)>,
        what: &str,
    ) -> std::result::Result<(), Failure> {
        let t = enter(run, conn, Phase::Traffic).await?;
        match self.set(run, conn, wants).await {
            Ok(changes) => {
                let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
                let detail = format!("{what}: {}", list.join(", "));
                run.event(conn, "traffic", &detail).await;
                run.phase(Phase::Traffic, Status::Ok, t, detail);
                Ok(())
            }
            Err(f) => {
                run.phase(Phase::Traffic, Status::Failed, t, f.why.clone());
                Err(f)
            }
        }
    }

    /// Takes `servers` out of traffic: drained (in-flight requests finish, or drain_timeout),
    /// then in maintenance. With `stop`, their release is stopped too (the stop hook, when
    /// the environment has one).
    pub async fn take_out(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        servers: &[String],
        stop: bool,
    ) -> std::result::Result<(), Failure> {
        if servers.is_empty() {
            return Ok(());
        }
        let t = enter(run, conn, Phase::Drain).await?;
        let drain: Vec<(String, Want)> = servers
            .iter()
            .filter(|s| self.member(s).is_some_and(|m| m.want.admin == Admin::Ready))
            .map(|s| {
                (
                    s.clone(),
                    Want {
                        weight: 0,
                        admin: Admin::Drain,
                    },
                )
            })
            .collect();
        if let Err(f) = self.set(run, conn, drain).await {
            run.phase(Phase::Drain, Status::Failed, t, f.why.clone());
            return Err(f);
        }
        let drained = router::wait_drained(self.router.as_mut(), servers, self.drain_timeout)
            .map_err(|e| Failure::new(e.to_string()));
        let drained = match drained {
            Ok(d) => d,
            Err(f) => {
                run.phase(Phase::Drain, Status::Failed, t, f.why.clone());
                return Err(f);
            }
        };
        let out: Vec<(String, Want)> = servers.iter().map(|s| (s.clone(), Want::OUT)).collect();
        if let Err(f) = self.set(run, conn, out).await {
            run.phase(Phase::Drain, Status::Failed, t, f.why.clone());
            return Err(f);
        }
        run.phase(
            Phase::Drain,
            Status::Ok,
            t,
            format!("{}: {drained}", servers.join(", ")),
        );
        if stop {
            self.stop(run, conn, servers).await?;
        }
        Ok(())
    }

    /// Stops the release of servers already out of traffic (the stop hook per server).
    pub async fn stop(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        servers: &[String],
    ) -> std::result::Result<(), Failure> {
        let t = enter(run, conn, Phase::Stop).await?;
        let Some(argv) = run.env.stop.clone() else {
            run.phase(
                Phase::Stop,
                Status::NotConfigured,
                t,
                format!("{}: out of traffic (no stop hook)", servers.join(", ")),
            );
            return Ok(());
        };
        for name in servers {
            let Some(server) = self.server(name).cloned() else {
                continue;
            };
            let release = self
                .member(name)
                .and_then(|m| m.release.clone())
                .unwrap_or_default();
            let hook = run.hook(
                (&argv, Phase::Stop),
                (&release, ""),
                Some(&hook_server(&server)),
                2,
            );
            if !hook.success {
                let why = format!("the stop hook failed on {name} ({})", hook.status);
                run.phase(Phase::Stop, Status::Failed, t, why.clone());
                return Err(Failure::new(why));
            }
            if let Some(m) = self.fleet.servers.get_mut(name) {
                m.stopped = true;
                m.kept_until = None;
            }
        }
        self.save(run, conn).await?;
        run.phase(Phase::Stop, Status::Ok, t, servers.join(", "));
        Ok(())
    }

    /// Records that `server` runs `release` (or, `None`, that a hook is replacing it).
    pub async fn runs(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        server: &str,
        release: Option<&str>,
    ) -> std::result::Result<(), Failure> {
        if let Some(m) = self.fleet.servers.get_mut(server) {
            m.release = release.map(str::to_string);
            m.stopped = false;
            m.kept_until = None;
        }
        self.save(run, conn).await
    }

    /// Marks servers kept warm out of traffic until `keep` from now.
    pub async fn keep(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        servers: &[String],
        keep: Duration,
    ) -> std::result::Result<String, Failure> {
        let until = humantime::format_rfc3339_seconds(SystemTime::now() + keep).to_string();
        for s in servers {
            if let Some(m) = self.fleet.servers.get_mut(s) {
                m.kept_until = Some(until.clone());
            }
        }
        self.save(run, conn).await?;
        Ok(until)
    }
}

/// A configured server as a hook sees it.
pub fn hook_server(s: &Server) -> HookServer<'_> {
    HookServer {
        name: &s.name,
        address: &s.address,
        slot: s.slot.as_deref(),
    }
}

/// Whether a kept-warm member's time ran out.
pub fn keep_expired(m: &Member, now: SystemTime) -> bool {
    m.kept_until
        .as_deref()
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
        .is_some_and(|until| now >= until)
}

/// Runs `router.start` (from runner.toml's folder) to its end.
fn start_router(argv: &[String], root: &std::path::Path) -> std::result::Result<(), String> {
    router::run(argv, root).map(drop)
}

/// The router read, given a few seconds to come up.
fn read_soon(
    router: &mut dyn Router,
) -> std::result::Result<BTreeMap<String, Seen>, router::RouterError> {
    let started = std::time::Instant::now();
    loop {
        match router.read() {
            Ok(seen) => return Ok(seen),
            Err(e) if started.elapsed() > Duration::from_secs(10) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn router_error(env: &Environment, e: router::RouterError) -> Error {
    Error::Usage(format!("environments.{}.router: {e}", env.name))
}
