//! Canary: two slots. The new release goes to the idle slot and is checked there, then takes
//! a growing share of the traffic (`steps`, 5 -> 25 -> 100 by default), each step held for
//! `pause` while its servers are health-checked and its metrics judged (against the thresholds
//! and the stable release in the same window: `analysis`), or until `runner promote` when the
//! pause is `manual` (promote judges it over one window first). A failure, or `runner abort`,
//! gives the stable slot all traffic back; an inconclusive analysis waits for a person. At
//! 100 % the stable slot is drained and stopped.

use std::time::Duration;

use super::slots::{Slots, slot_steps};
use super::{Retired, Shifted, Strategy};
use crate::config::{Environment, Pause};
use crate::db::Conn;
use crate::deploy::fleet::Routed;
use crate::deploy::measure::{self, Observed};
use crate::deploy::run::{Phase, Run, Status};
use crate::deploy::step::{Failure, Step, enter};

pub struct Canary {
    pub slots: Slots,
    steps: Vec<u32>,
    pause: Pause,
    /// Steps up to this percentage were already taken (a promoted canary goes on from there).
    done_up_to: u32,
    /// `runner promote --full`: straight to 100 %.
    full: bool,
}

impl Canary {
    pub fn new(routed: Routed, env: &Environment) -> Canary {
        Canary {
            slots: Slots::new(routed),
            steps: env.rollout.steps.clone(),
            pause: env.rollout.pause,
            done_up_to: 0,
            full: false,
        }
    }

    /// Goes on from a canary held at `percent` on the slot running `release`.
    pub fn resume(&mut self, release: &str, percent: u32, full: bool) -> Result<(), String> {
        let slot = self
            .slots
            .slot_running(release)
            .ok_or_else(|| format!("no slot runs the canary {release} any more"))?;
        self.slots.target = Some(slot);
        self.done_up_to = percent;
        self.full = full;
        Ok(())
    }
}

impl Canary {
    /// Holds the current step for `span`, the canary's servers health-checked and its metrics
    /// judged against the thresholds and the stable release. Ok(false): inconclusive.
    async fn observe(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        to: &str,
        span: Duration,
        label: &str,
    ) -> Result<bool, Failure> {
        let target = self.slots.target("");
        let stable = run.entry.previous_version.clone().unwrap_or_default();
        let canary_servers = self.slots.servers(&target);
        let stable_servers = self.slots.servers(&self.slots.other(&target));
        let groups = vec![
            measure::group("canary", to, canary_servers.clone()),
            measure::group("stable", &stable, stable_servers),
        ];
        let servers: Vec<_> = canary_servers
            .iter()
            .filter_map(|n| self.slots.routed.server(n).cloned())
            .collect();
        let t = enter(run, conn, Phase::Pause).await?;
        match measure::observe(run, conn, groups, &servers, (span, label)).await {
            Ok(Observed::Passed(detail)) => {
                run.phase(
                    Phase::Pause,
                    Status::Ok,
                    t,
                    format!(
                        "{label} held {}: {detail}",
                        humantime::format_duration(span)
                    ),
                );
                Ok(true)
            }
            Ok(Observed::Inconclusive(detail)) => {
                run.phase(
                    Phase::Pause,
                    Status::Inconclusive,
                    t,
                    format!("{label}: {detail}; waiting for `runner promote` or `runner abort`"),
                );
                Ok(false)
            }
            Err(f) => {
                let status = if f.interrupted {
                    Status::Interrupted
                } else {
                    Status::Failed
                };
                run.phase(Phase::Pause, status, t, f.why.clone());
                Err(f)
            }
        }
    }
}

impl Strategy for Canary {
    slot_steps!();

    async fn shift(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        to: &str,
    ) -> Result<Shifted, Failure> {
        let target = self.slots.target("");
        let first = run.entry.previous_version.is_none();
        if first && self.done_up_to == 0 {
            run.out.note(&format!(
                "nothing served {} before: {to} takes all traffic at once, no canary steps",
                run.env.name
            ));
        }
        let steps: Vec<u32> = if self.full || first {
            vec![100]
        } else {
            self.steps
                .iter()
                .copied()
                .filter(|p| *p > self.done_up_to)
                .collect()
        };
        if self.done_up_to > 0 && self.done_up_to < 100 && run.env.metrics.is_some() {
            // Promoted by a person: the canary is judged once more before it grows.
            let label = format!("canary {}% (promote)", self.done_up_to);
            let window = run
                .env
                .metrics
                .as_ref()
                .map_or(Duration::ZERO, |m| m.window);
            self.observe(run, conn, to, window, &label).await?;
        }
        for percent in steps {
            let wants = self.slots.split(&target, percent);
            let label = format!("canary {percent}%");
            self.slots
                .routed
                .shift(
                    run,
                    conn,
                    wants,
                    &format!("{label} to {to} on slot {target}"),
                )
                .await?;
            self.done_up_to = percent;
            if percent == 100 {
                break;
            }
            match self.pause {
                Pause::Manual => return Ok(Shifted::Paused(percent)),
                Pause::For(d) => {
                    if !self.observe(run, conn, to, d, &label).await? {
                        // Nothing failed, but nothing passed either: a person decides.
                        return Ok(Shifted::Paused(percent));
                    }
                }
            }
        }
        Ok(Shifted::Done)
    }

    async fn retire(&mut self, run: &mut Run<'_>, conn: &mut Conn) -> Result<Retired, Failure> {
        let target = self.slots.target("");
        let old_slot = self.slots.other(&target);
        let old = self.slots.servers(&old_slot);
        self.slots.routed.take_out(run, conn, &old, true).await?;
        Ok(Retired {
            stopped: true,
            detail: format!("slot {old_slot} drained and stopped"),
        })
    }

    async fn revert(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        self.slots.back_to(run, conn, to, from).await
    }
}
