//! Blue-green: two slots. The new release goes to the idle slot, is health-checked and smoke
//! tested there server by server, then traffic switches in one step. The previous slot is
//! drained and kept running out of traffic for `keep_previous`, so that `runner rollback` is a
//! switch back, not a redeploy; the next deploy (or `runner promote`) stops it.

use std::time::Duration;

use super::slots::{Slots, slot_steps};
use super::{Retired, Shifted, Strategy};
use crate::config::Environment;
use crate::db::Conn;
use crate::deploy::fleet::Routed;
use crate::deploy::run::Run;
use crate::deploy::step::{Failure, Step};

pub struct BlueGreen {
    pub slots: Slots,
    keep_previous: Duration,
}

impl BlueGreen {
    pub fn new(routed: Routed, env: &Environment) -> BlueGreen {
        BlueGreen {
            slots: Slots::new(routed),
            keep_previous: env.rollout.keep_previous,
        }
    }
}

impl Strategy for BlueGreen {
    slot_steps!();

    async fn shift(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        to: &str,
    ) -> Result<Shifted, Failure> {
        let target = self.slots.target("");
        let wants = self.slots.split(&target, 100);
        self.slots
            .routed
            .shift(
                run,
                conn,
                wants,
                &format!("switch to {to} on slot {target}"),
            )
            .await?;
        Ok(Shifted::Done)
    }

    async fn retire(&mut self, run: &mut Run<'_>, conn: &mut Conn) -> Result<Retired, Failure> {
        let target = self.slots.target("");
        let old_slot = self.slots.other(&target);
        let old = self.slots.servers(&old_slot);
        if self.keep_previous.is_zero() {
            self.slots.routed.take_out(run, conn, &old, true).await?;
            return Ok(Retired {
                stopped: true,
                detail: format!("slot {old_slot} drained and stopped"),
            });
        }
        self.slots.routed.take_out(run, conn, &old, false).await?;
        // Only a release runner knows of is kept warm; an idle server stays out.
        let warm: Vec<String> = old
            .iter()
            .filter(|s| {
                self.slots
                    .routed
                    .member(s)
                    .is_some_and(|m| m.release.is_some())
            })
            .cloned()
            .collect();
        if warm.is_empty() {
            return Ok(Retired {
                stopped: true,
                detail: format!("slot {old_slot} ran no release runner deployed"),
            });
        }
        let until = self
            .slots
            .routed
            .keep(run, conn, &warm, self.keep_previous)
            .await?;
        Ok(Retired {
            stopped: false,
            detail: format!(
                "slot {old_slot} drained and kept running out of traffic until {until} (keep_previous): `{}` switches back at once",
                crate::hints::rollback(crate::hints::At::of(run.env))
            ),
        })
    }

    async fn revert(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        self.slots.back_to(run, conn, to, from).await
    }
}
