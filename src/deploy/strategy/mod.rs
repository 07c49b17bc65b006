//! How a release reaches traffic. Every strategy does the same things: make room (stop what
//! the new release will replace), put the new release in place, check it before it takes
//! traffic, shift traffic to it, retire the previous release, and revert to the previous
//! release when anything fails. The deploy flow around them (gate, approval, lock,
//! migrations, journal) is written once, in `deploy`.
//!
//! `all-at-once` is the deploy hook replacing the release in place. `blue-green`, `canary` and
//! `rolling` move traffic between servers through a router (`deploy::router`), keeping the
//! record of what runs where in `deploy::fleet`.
//!
//! Strategies run hooks and probes, which block; the trait is async only so a strategy can use
//! the run's database connection (the journal, the health check's ping).

mod all_at_once;
mod blue_green;
mod canary;
mod rolling;
mod slots;

use super::fleet::Routed;
use super::run::Run;
use super::step::{Failure, Step};
use crate::config::{Environment, StrategyKind};
use crate::db::Conn;

pub use all_at_once::AllAtOnce;
pub use blue_green::BlueGreen;
pub use canary::Canary;
pub use rolling::Rolling;

/// Where traffic stands when `shift` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shifted {
    /// The new release serves all of it.
    Done,
    /// A canary held at this percentage until `runner promote` or `runner abort`.
    Paused(u32),
}

/// How the previous release left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    /// Nothing of it runs any more: contract migrations may run.
    pub stopped: bool,
    pub detail: String,
}

/// One way of putting a release in front of traffic.
pub trait Strategy {
    /// Before migrations: stops what the new release will replace and nobody needs (a
    /// release kept warm in the idle slot), so that the serving release serves alone.
    async fn prepare(&mut self, _run: &mut Run<'_>, _conn: &mut Conn) -> Step {
        Ok(())
    }
    /// Puts `to` in place. When this returns, the app may have changed.
    async fn release(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step;
    /// Checks `to` before it takes all traffic.
    async fn check(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step;
    /// Moves traffic to `to`. By default there is nothing to move: `release` already put `to`
    /// in front of every request (in place, or server by server).
    async fn shift(
        &mut self,
        _run: &mut Run<'_>,
        _conn: &mut Conn,
        _to: &str,
    ) -> Result<Shifted, Failure> {
        Ok(Shifted::Done)
    }
    /// Takes the previous release out, once `to` serves all traffic.
    async fn retire(&mut self, run: &mut Run<'_>, conn: &mut Conn) -> Result<Retired, Failure>;
    /// Puts `to` back in place of `from`, and checks it serves.
    async fn revert(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step;
}

/// The strategy of an environment.
pub enum AnyStrategy {
    AllAtOnce(AllAtOnce),
    BlueGreen(BlueGreen),
    Canary(Canary),
    Rolling(Rolling),
}

impl AnyStrategy {
    /// The strategy of `env`; a routed one takes the router and record `routed`.
    pub fn of(env: &Environment, routed: Option<Routed>) -> AnyStrategy {
        match (env.strategy(), routed) {
            (StrategyKind::BlueGreen, Some(r)) => AnyStrategy::BlueGreen(BlueGreen::new(r, env)),
            (StrategyKind::Canary, Some(r)) => AnyStrategy::Canary(Canary::new(r, env)),
            (StrategyKind::Rolling, Some(r)) => AnyStrategy::Rolling(Rolling::new(r, env)),
            _ => AnyStrategy::AllAtOnce(AllAtOnce),
        }
    }

    /// The router and record of a routed strategy.
    pub fn routed(&mut self) -> Option<&mut Routed> {
        match self {
            AnyStrategy::AllAtOnce(_) => None,
            AnyStrategy::BlueGreen(s) => Some(&mut s.slots.routed),
            AnyStrategy::Canary(s) => Some(&mut s.slots.routed),
            AnyStrategy::Rolling(s) => Some(&mut s.routed),
        }
    }
}

macro_rules! each {
    ($self:ident, $s:ident => $body:expr) => {
        match $self {
            AnyStrategy::AllAtOnce($s) => $body,
            AnyStrategy::BlueGreen($s) => $body,
            AnyStrategy::Canary($s) => $body,
            AnyStrategy::Rolling($s) => $body,
        }
    };
}

impl Strategy for AnyStrategy {
    async fn prepare(&mut self, run: &mut Run<'_>, conn: &mut Conn) -> Step {
        each!(self, s => s.prepare(run, conn).await)
    }

    async fn release(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        each!(self, s => s.release(run, conn, to, from).await)
    }

    async fn check(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        each!(self, s => s.check(run, conn, to, from).await)
    }

    async fn shift(
        &mut self,
        run: &mut Run<'_>,
        conn: &mut Conn,
        to: &str,
    ) -> Result<Shifted, Failure> {
        each!(self, s => s.shift(run, conn, to).await)
    }

    async fn retire(&mut self, run: &mut Run<'_>, conn: &mut Conn) -> Result<Retired, Failure> {
        each!(self, s => s.retire(run, conn).await)
    }

    async fn revert(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        each!(self, s => s.revert(run, conn, to, from).await)
    }
}
