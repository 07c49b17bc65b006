//! How a release reaches traffic. Every strategy does the same four things: put the new
//! release in place, check it before it takes all traffic, shift traffic to it, and revert to
//! the previous release when anything fails. The deploy flow around them (gate, approval,
//! lock, migrations, journal) is written once, in `deploy`.
//!
//! Strategies run hooks and probes, which block; the trait is async only so a strategy can use
//! the run's database connection (the health check pings it).

mod all_at_once;

use std::time::Instant;

use super::run::Run;
use crate::config::StrategyKind;
use crate::db::Conn;

pub use all_at_once::AllAtOnce;

/// Why a step of a strategy failed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub why: String,
    /// When the failure was first seen (the first failing health check), for the time to
    /// recovery.
    pub first_seen: Instant,
    /// A signal stopped the step.
    pub interrupted: bool,
}

impl Failure {
    pub fn new(why: impl Into<String>) -> Failure {
        Failure {
            why: why.into(),
            first_seen: Instant::now(),
            interrupted: false,
        }
    }

    pub fn interrupted(why: impl Into<String>) -> Failure {
        Failure {
            interrupted: true,
            ..Failure::new(why)
        }
    }
}

pub type Step = Result<(), Failure>;

/// One way of putting a release in front of traffic.
pub trait Strategy {
    /// Puts `to` in place of `from`. When this returns, the app may have changed.
    async fn release(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step;
    /// Checks `to` before it takes all traffic.
    async fn check(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step;
    /// Moves all traffic to `to`.
    async fn shift(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str) -> Step;
    /// Puts `to` back in place of `from`, and checks it serves.
    async fn revert(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step;
}

/// The strategy of an environment.
pub enum Chosen {
    AllAtOnce(AllAtOnce),
}

impl Chosen {
    pub fn of(kind: StrategyKind) -> Chosen {
        match kind {
            StrategyKind::AllAtOnce => Chosen::AllAtOnce(AllAtOnce),
        }
    }
}

impl Strategy for Chosen {
    async fn release(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        match self {
            Chosen::AllAtOnce(s) => s.release(run, conn, to, from).await,
        }
    }

    async fn check(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        match self {
            Chosen::AllAtOnce(s) => s.check(run, conn, to, from).await,
        }
    }

    async fn shift(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str) -> Step {
        match self {
            Chosen::AllAtOnce(s) => s.shift(run, conn, to).await,
        }
    }

    async fn revert(&mut self, run: &mut Run<'_>, conn: &mut Conn, to: &str, from: &str) -> Step {
        match self {
            Chosen::AllAtOnce(s) => s.revert(run, conn, to, from).await,
        }
    }
}
