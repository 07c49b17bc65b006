//! All at once: the deploy hook replaces the release where it runs, the health checks and the
//! smoke hook check it, and the rollback hook puts the previous release back. Every request
//! during the switch goes to whatever the hook left running.

use super::{Retired, Strategy};
use crate::db::Conn;
use crate::deploy::checks;
use crate::deploy::run::{Phase, Run, Status};
use crate::deploy::step::{Failure, Step};

pub struct AllAtOnce;

impl Strategy for AllAtOnce {
    async fn release(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        let argv = run.env.deploy.clone().unwrap_or_default();
        checks::hook(run, conn, (&argv, Phase::Deploy), (to, from)).await
    }

    async fn check(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        checks::health(run, conn, to).await?;
        match run.env.smoke.clone() {
            Some(argv) => checks::hook(run, conn, (&argv, Phase::Smoke), (to, from)).await,
            None => Ok(()),
        }
    }

    async fn retire(&mut self, _run: &mut Run<'_>, _conn: &mut Conn) -> Result<Retired, Failure> {
        Ok(Retired {
            stopped: true,
            detail: "the deploy hook replaced it".into(),
        })
    }

    async fn revert(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        let Some(argv) = run.env.rollback.clone() else {
            return Err(Failure::new(format!(
                "environments.{}.rollback is not set: nothing could put the previous version back",
                run.env.name
            )));
        };
        let t = run
            .enter(conn, Phase::Rollback)
            .await
            .map_err(|e| Failure::new(e.to_string()))?;
        // The hook is told the release it replaces and the one it puts back, as the deploy
        // hook was.
        let hook = run.hook((&argv, Phase::Rollback), (from, to), None, 2);
        if !hook.success {
            run.phase(Phase::Rollback, Status::Failed, t, hook.status.clone());
            let why = format!("the rollback hook failed ({})", hook.status);
            return Err(if crate::runtime::interrupts() >= 2 {
                Failure::interrupted(why)
            } else {
                Failure::new(why)
            });
        }
        run.phase(Phase::Rollback, Status::Ok, t, format!("back to {to}"));
        checks::health_after_rollback(run, conn, to).await
    }
}
