//! Two slots of servers behind a router, shared by blue-green and canary: the new release goes
//! to the slot that takes no traffic, is checked there server by server, and traffic moves
//! between the slots by their weights. Putting a release back is a switch when a slot still
//! runs it, and a deploy to the idle slot otherwise.

use std::time::SystemTime;

use crate::db::Conn;
use crate::deploy::checks;
use crate::deploy::fleet::{Routed, keep_expired};
use crate::deploy::router::{Admin, Want, weight};
use crate::deploy::run::{Phase, Run};
use crate::deploy::step::Step;
use crate::engine::journal::Kind;

pub struct Slots {
    pub routed: Routed,
    /// The two slots in runner.toml's order.
    pub names: [String; 2],
    /// The slot the new release goes to, once decided.
    pub target: Option<String>,
}

impl Slots {
    pub fn new(routed: Routed) -> Slots {
        let mut names: Vec<String> = Vec::new();
        for s in &routed.servers {
            if let Some(slot) = &s.slot
                && !names.contains(slot)
            {
                names.push(slot.clone());
            }
        }
        let second = names.get(1).cloned().unwrap_or_default();
        let first = names.into_iter().next().unwrap_or_default();
        Slots {
            routed,
            names: [first, second],
            target: None,
        }
    }

    pub fn servers(&self, slot: &str) -> Vec<String> {
        self.routed
            .servers
            .iter()
            .filter(|s| s.slot.as_deref() == Some(slot))
            .map(|s| s.name.clone())
            .collect()
    }

    pub fn other(&self, slot: &str) -> String {
        if self.names[0] == slot {
            self.names[1].clone()
        } else {
            self.names[0].clone()
        }
    }

    fn takes_traffic(&self, slot: &str) -> bool {
        self.servers(slot).iter().any(|s| {
            self.routed
                .member(s)
                .is_some_and(|m| m.want.takes_traffic())
        })
    }

    /// Every server of `slot` runs `release` and could serve at once.
    pub fn warm_with(&self, slot: &str, release: &str) -> bool {
        self.servers(slot)
            .iter()
            .all(|s| self.routed.member(s).is_some_and(|m| m.warm_with(release)))
    }

    /// The slot that runs `release`, if one does.
    pub fn slot_running(&self, release: &str) -> Option<String> {
        self.names
            .iter()
            .find(|slot| self.warm_with(slot, release))
            .cloned()
    }

    /// Where the next release goes: the slot that takes no traffic; when both or neither
    /// do, the one not running the serving release, else the second.
    pub fn pick_target(&self, serving: &str) -> String {
        let [a, b] = &self.names;
        match (self.takes_traffic(a), self.takes_traffic(b)) {
            (true, false) => b.clone(),
            (false, true) => a.clone(),
            _ if !serving.is_empty() && self.warm_with(b, serving) => a.clone(),
            _ => b.clone(),
        }
    }

    /// The weights that give `slot` `percent` of the traffic and the other slot the rest;
    /// a slot given nothing is drained.
    pub fn split(&self, slot: &str, percent: u32) -> Vec<(String, Want)> {
        let mut wants = Vec::new();
        for (s, p) in [
            (slot.to_string(), percent),
            (self.other(slot), 100 - percent),
        ] {
            let servers = self.servers(&s);
            let w = weight(p, servers.len());
            for name in servers {
                let want = if w == 0 {
                    Want {
                        weight: 0,
                        admin: Admin::Drain,
                    }
                } else {
                    Want::ready(w)
                };
                wants.push((name, want));
            }
        }
        wants
    }

    /// Before the new release: the target slot decided, and a release kept warm there
    /// stopped (it is about to be replaced, and the serving release then serves alone).
    pub async fn make_room(&mut self, run: &mut Run<'_>, conn: &mut Conn, serving: &str) -> Step {
        let target = self.pick_target(serving);
        self.target = Some(target.clone());
        let servers = self.servers(&target);
        if self.takes_traffic(&target) {
            // Both slots took traffic (a router configured so, before runner's first deploy).
            self.routed.take_out(run, conn, &servers, true).await?;
            return Ok(());
        }
        let warm: Vec<String> = servers
            .into_iter()
            .filter(|s| {
                self.routed
                    .member(s)
                    .is_some_and(|m| m.release.is_some() && !m.stopped)
            })
            .collect();
        if !warm.is_empty() {
            let now = SystemTime::now();
            let expired = warm
                .iter()
                .all(|s| self.routed.member(s).is_some_and(|m| keep_expired(m, now)));
            run.out.note(&format!(
                "{} in slot {target} {} out of traffic{}: stopped, the new release goes there",
                self.routed
                    .member(&warm[0])
                    .and_then(|m| m.release.clone())
                    .unwrap_or_default(),
                if warm.len() == 1 {
                    "was kept"
                } else {
                    "were kept"
                },
                if expired {
                    " (its keep_previous ran out)"
                } else {
                    ""
                }
            ));
            self.routed.stop(run, conn, &warm).await?;
        }
        Ok(())
    }

    pub fn target(&mut self, serving: &str) -> String {
        if self.target.is_none() {
            self.target = Some(self.pick_target(serving));
        }
        self.target.clone().unwrap_or_default()
    }

    /// The deploy hook on each server of `slot`, out of traffic.
    pub async fn deploy_slot(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        slot: &str,
        to: &str,
        from: &str,
    ) -> Step {
        let servers = self.servers(slot);
        let member = |s: &String| self.routed.member(s).map(|m| m.want);
        // Servers with traffic are drained first; idle ones are simply put in maintenance.
        let busy: Vec<String> = servers
            .iter()
            .filter(|s| member(s).is_some_and(|w| w.takes_traffic()))
            .cloned()
            .collect();
        let idle: Vec<(String, Want)> = servers
            .iter()
            .filter(|s| member(s).is_some_and(|w| !w.takes_traffic() && w != Want::OUT))
            .map(|s| (s.clone(), Want::OUT))
            .collect();
        if !busy.is_empty() {
            self.routed.take_out(run, conn, &busy, false).await?;
        }
        if !idle.is_empty() {
            self.routed.set(run, conn, idle).await?;
        }
        let argv = run.env.deploy.clone().unwrap_or_default();
        for name in servers {
            let Some(server) = self.routed.server(&name).cloned() else {
                continue;
            };
            self.routed.runs(run, conn, &name, None).await?;
            checks::server_hook(run, conn, (&argv, Phase::Deploy), &server, (to, from)).await?;
            self.routed.runs(run, conn, &name, Some(to)).await?;
        }
        Ok(())
    }

    /// Each server of `slot` checked directly: health, then the smoke hook.
    pub async fn check_slot(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        (slot, phase): (&str, Phase),
        (to, from): (&str, &str),
    ) -> Step {
        self.check_servers(run, conn, (slot, phase), (to, Some(from)))
            .await
    }

    /// Each server of `slot` checked directly: health, then, when `smoke_from` is given, the
    /// smoke hook (told the release `to` replaces).
    async fn check_servers(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        (slot, phase): (&str, Phase),
        (to, smoke_from): (&str, Option<&str>),
    ) -> Step {
        for name in self.servers(slot) {
            let Some(server) = self.routed.server(&name).cloned() else {
                continue;
            };
            checks::server_health(run, conn, &server, to, phase).await?;
            if let (Some(from), Some(argv)) = (smoke_from, run.env.smoke.clone()) {
                checks::server_hook(run, conn, (&argv, Phase::Smoke), &server, (to, from)).await?;
            }
        }
        Ok(())
    }

    /// Puts `to` back in place of `from`: a switch when a slot still runs `to`, a deploy of
    /// `to` to the idle slot otherwise; then the slot of `from` drained and stopped.
    pub async fn back_to(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        to: &str,
        from: &str,
    ) -> Step {
        // An application rollback checks the release it puts back as a deploy checks its own.
        let phase = if run.entry.kind == Kind::Rollback {
            Phase::Health
        } else {
            Phase::HealthAfterRollback
        };
        // A slot still serving (a canary's stable one) gets all traffic back at once and is
        // checked after; one out of traffic is checked before it takes any.
        let mut check_after = false;
        let slot = match self.slot_running(to) {
            Some(slot) if self.takes_traffic(&slot) => {
                check_after = !run.entry.forced;
                slot
            }
            Some(slot) => {
                if !run.entry.forced {
                    self.check_health(run, conn, &slot, to, phase).await?;
                }
                slot
            }
            None => {
                let slot = self.pick_target(from);
                run.out.note(&format!(
                    "no slot runs {to} any more: deploying it to slot {slot}"
                ));
                self.make_room(run, conn, from).await?;
                self.deploy_slot(run, conn, &slot, to, from).await?;
                if !run.entry.forced {
                    self.check_health(run, conn, &slot, to, phase).await?;
                }
                slot
            }
        };
        let wants = self.split(&slot, 100);
        self.routed
            .shift(run, conn, wants, &format!("back to {to} on slot {slot}"))
            .await?;
        if check_after {
            self.check_health(run, conn, &slot, to, phase).await?;
        }
        let old = self.servers(&self.other(&slot));
        self.routed.take_out(run, conn, &old, true).await
    }

    async fn check_health(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        slot: &str,
        to: &str,
        phase: Phase,
    ) -> Step {
        self.check_servers(run, conn, (slot, phase), (to, None))
            .await
    }
}

/// The steps the two slot strategies (blue-green and canary) take the same way before traffic
/// moves: make room in the idle slot, put the release there, check it server by server. Used
/// inside their `impl Strategy`.
macro_rules! slot_steps {
    () => {
        async fn prepare(
            &mut self,
            run: &mut $crate::deploy::run::Run<'_>,
            conn: &mut $crate::db::Conn,
        ) -> $crate::deploy::step::Step {
            let serving = run.entry.previous_version.clone().unwrap_or_default();
            self.slots.make_room(run, conn, &serving).await
        }

        async fn release(
            &mut self,
            run: &mut $crate::deploy::run::Run<'_>,
            conn: &mut $crate::db::Conn,
            to: &str,
            from: &str,
        ) -> $crate::deploy::step::Step {
            let target = self.slots.target(from);
            self.slots.deploy_slot(run, conn, &target, to, from).await
        }

        async fn check(
            &mut self,
            run: &mut $crate::deploy::run::Run<'_>,
            conn: &mut $crate::db::Conn,
            to: &str,
            from: &str,
        ) -> $crate::deploy::step::Step {
            let target = self.slots.target(from);
            let health = $crate::deploy::run::Phase::Health;
            self.slots
                .check_slot(run, conn, (&target, health), (to, from))
                .await
        }
    };
}
pub(super) use slot_steps;
