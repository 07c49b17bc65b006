//! Rolling: the servers in batches (`batch`, 1 by default, or a percentage). Per batch: drained
//! in the router, the deploy hook run on each server, each checked directly (health, smoke),
//! then put back. A failure stops the rollout, and the servers already updated are put back on
//! the previous release the same way.

use super::{Retired, Strategy};
use crate::config::{Batch, Environment};
use crate::db::Conn;
use crate::deploy::checks;
use crate::deploy::fleet::Routed;
use crate::deploy::router::{Want, weight};
use crate::deploy::run::{Phase, Run};
use crate::deploy::step::{Failure, Step};
use crate::engine::journal::Kind;

pub struct Rolling {
    pub routed: Routed,
    batch: Batch,
}

impl Rolling {
    pub fn new(routed: Routed, env: &Environment) -> Rolling {
        Rolling {
            routed,
            batch: env.rollout.batch,
        }
    }

    /// Moves `servers` to `version`, batch by batch.
    async fn roll(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        servers: Vec<String>,
        (version, previous): (&str, &str),
        health_phase: Phase,
    ) -> Step {
        let size = self.batch.size(self.routed.servers.len());
        let full = weight(100, self.routed.servers.len());
        let batches: Vec<Vec<String>> = servers.chunks(size).map(<[String]>::to_vec).collect();
        let count = batches.len();
        let argv = run.env.deploy.clone().unwrap_or_default();
        for (i, batch) in batches.into_iter().enumerate() {
            self.routed.take_out(run, conn, &batch, false).await?;
            for name in &batch {
                let Some(server) = self.routed.server(name).cloned() else {
                    continue;
                };
                self.routed.runs(run, conn, name, None).await?;
                let releases = (version, previous);
                checks::server_hook(run, conn, (&argv, Phase::Deploy), &server, releases).await?;
                self.routed.runs(run, conn, name, Some(version)).await?;
                if !run.entry.forced {
                    checks::server_health(run, conn, &server, version, health_phase).await?;
                    if let Some(smoke) = run.env.smoke.clone() {
                        checks::server_hook(run, conn, (&smoke, Phase::Smoke), &server, releases)
                            .await?;
                    }
                }
            }
            let wants = batch
                .iter()
                .map(|s| (s.clone(), Want::ready(full)))
                .collect();
            self.routed
                .shift(
                    run,
                    conn,
                    wants,
                    &format!("batch {}/{count} back in with {version}", i + 1),
                )
                .await?;
        }
        Ok(())
    }
}

impl Strategy for Rolling {
    async fn release(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        let servers = self.routed.servers.iter().map(|s| s.name.clone()).collect();
        self.roll(run, conn, servers, (to, from), Phase::Health)
            .await
    }

    async fn check(
        &mut self,
        _run: &mut Run<'_>,
        _conn: &mut Conn,
        _to: &str,
        _from: &str,
    ) -> Step {
        // Each server was checked before it went back into traffic.
        Ok(())
    }

    async fn retire(&mut self, _run: &mut Run<'_>, _conn: &mut Conn) -> Result<Retired, Failure> {
        Ok(Retired {
            stopped: true,
            detail: "every server was replaced".into(),
        })
    }

    async fn revert(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        // The servers not (known to be) running `to`, in runner.toml's order.
        let servers: Vec<String> = self
            .routed
            .servers
            .iter()
            .filter(|s| {
                self.routed
                    .member(&s.name)
                    .is_none_or(|m| !m.warm_with(to) || !m.want.takes_traffic())
            })
            .map(|s| s.name.clone())
            .collect();
        let phase = if run.entry.kind == Kind::Rollback {
            Phase::Health
        } else {
            Phase::HealthAfterRollback
        };
        self.roll(run, conn, servers, (to, from), phase).await
    }
}
