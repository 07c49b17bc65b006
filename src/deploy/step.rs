//! What every part of a deploy's rollout shares: a step that succeeds or fails with a
//! reason (`Failure`), and entering a phase of the run. The strategies, the fleet, the checks
//! and the measurements all use these, so none of them imports another for them.

use std::time::Instant;

use super::run::{Phase, Run};
use crate::db::Conn;

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

/// Moves the run to `phase`; a journal that cannot be written stops the run before it acts.
pub async fn enter(run: &mut Run<'_>, conn: &mut Conn, phase: Phase) -> Result<Instant, Failure> {
    run.enter(conn, phase)
        .await
        .map_err(|e| Failure::new(e.to_string()))
}
