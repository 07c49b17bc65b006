//! The states of a migration's history row and how it moves between them (DESIGN §3): a
//! row is `applying` while a run works on it, ends `applied`, `failed_clean` or
//! `failed_partial`, and a rollback takes it through `rolling_back` to `rolled_back` (or
//! `rollback_failed`). `Mark` is how far a statement-mode run got.

use std::fmt;

/// The life of a migration in one database (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Applying,
    Applied,
    /// Failed inside its transaction: provably nothing of it is applied.
    FailedClean,
    /// Failed in statement mode after some statements committed.
    FailedPartial,
    RollingBack,
    RolledBack,
    RollbackFailed,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Applying => "applying",
            State::Applied => "applied",
            State::FailedClean => "failed_clean",
            State::FailedPartial => "failed_partial",
            State::RollingBack => "rolling_back",
            State::RolledBack => "rolled_back",
            State::RollbackFailed => "rollback_failed",
        }
    }

    /// Applied, or a rollback of it that stopped part-way: what `runner rollback` may undo.
    pub fn is_open_for_rollback(self) -> bool {
        matches!(
            self,
            State::Applied | State::RollingBack | State::RollbackFailed
        )
    }

    /// States a run leaves only when it stops part-way; a person or `runner recover` acts.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Applied | State::RolledBack | State::FailedClean
        )
    }

    pub fn parse(s: &str) -> Option<State> {
        [
            State::Applying,
            State::Applied,
            State::FailedClean,
            State::FailedPartial,
            State::RollingBack,
            State::RolledBack,
            State::RollbackFailed,
        ]
        .into_iter()
        .find(|st| st.name() == s)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a migration was (or will be) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One transaction for the whole file and its history row.
    Transaction,
    /// Statement by statement, outside a transaction, progress recorded after each.
    Statement,
    /// Recorded by `--baseline` without running.
    Baseline,
    /// Taken over from another tool's history by `runner adopt`, without running.
    Adopted,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Transaction => "transaction",
            Mode::Statement => "statement",
            Mode::Baseline => "baseline",
            Mode::Adopted => "adopted",
        }
    }

    pub(super) fn parse(s: &str) -> Mode {
        match s {
            "statement" => Mode::Statement,
            "baseline" => Mode::Baseline,
            "adopted" => Mode::Adopted,
            _ => Mode::Transaction,
        }
    }
}

/// How far a statement-mode migration or rollback got, recorded as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Statements 1..=n of the migration are committed; nothing is in flight.
    Done(i64),
    /// Statement n starts outside a transaction: if the run stops before it is `Done`, the
    /// catalog must tell whether it took effect.
    InFlight(i64),
    /// Statements 1..=n are committed and statement m (n + 1) starts outside a transaction:
    /// the two marks in one write.
    DoneThenInFlight(i64, i64),
    /// Statements 1..=n of the rollback are committed.
    RollbackDone(i64),
    /// Rollback statement n starts outside a transaction.
    RollbackInFlight(i64),
}
