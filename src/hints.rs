//! Every command runner prints for a person to run next comes from here, one function per
//! situation, so the same state never gets two different commands and each one works exactly
//! as printed: it names the environment, and carries `--approve` where the environment
//! requires approval (a command printed for a protected environment would otherwise fail in
//! the non-interactive session that printed it).

use crate::config::Environment;

/// The environment a hint is for: its name, and whether changing it needs `--approve`.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub env: &'a str,
    pub protected: bool,
}

impl<'a> At<'a> {
    pub fn of(env: &'a Environment) -> At<'a> {
        At {
            env: &env.name,
            protected: env.requires_approval,
        }
    }

    /// A change of this environment: `runner ARGS --env E [--approve]`.
    fn change(self, command: &str, rest: &str) -> String {
        let approve = if self.protected { " --approve" } else { "" };
        format!("runner {command} --env {}{rest}{approve}", self.env)
    }
}

/// Reads what the migrations were left in and lists the ways out; changes nothing.
pub fn recover(env: &str) -> String {
    format!("runner recover --env {env}")
}

/// Continues a partially applied statement-mode migration at its next statement.
pub fn resume(at: At<'_>, version: i64) -> String {
    at.change("recover", &format!(" --resume {version}"))
}

/// Runs a migration that failed cleanly (nothing of it committed) again.
pub fn retry(at: At<'_>, version: i64) -> String {
    at.change("recover", &format!(" --retry {version}"))
}

/// Undoes what a partially applied migration committed (or finishes a rollback that stopped).
pub fn recover_rollback(at: At<'_>, version: i64) -> String {
    at.change("recover", &format!(" --rollback {version}"))
}

/// Says whether the statement in flight when a run stopped took effect.
pub fn statement_outcome(at: At<'_>, version: i64, done: bool) -> String {
    let what = if done { "done" } else { "not-done" };
    at.change("recover", &format!(" --statement {version} {what}"))
}

/// Applies the pending migrations (it reads what a stopped run committed first).
pub fn migrate(at: At<'_>) -> String {
    at.change("migrate", "")
}

/// Takes another tool's history over (`runner adopt`).
pub fn adopt(at: At<'_>) -> String {
    at.change("adopt", "")
}

/// Shows how another tool's history maps onto the files, changing nothing.
pub fn adopt_dry_run(at: At<'_>) -> String {
    format!("runner adopt --env {} --dry-run", at.env)
}

/// Finishes a stopped rollback of one migration with the corrected `.down.sql` on disk.
pub fn recover_rollback_file(at: At<'_>, version: i64) -> String {
    at.change("recover", &format!(" --rollback {version} --use-file"))
}

/// Rolls the migrations back, newest first, down to `target` (which stays applied).
pub fn rollback_migrations_to(at: At<'_>, target: i64, use_file: bool) -> String {
    let file = if use_file { " --use-file" } else { "" };
    at.change("rollback", &format!(" --to {target}{file}"))
}

/// Records what a person finished by hand.
pub fn mark(
    at: At<'_>,
    version: i64,
    state: crate::engine::recover::Marked,
    reason: &str,
) -> String {
    let state = match state {
        crate::engine::recover::Marked::Applied => "applied",
        crate::engine::recover::Marked::RolledBack => "rolled-back",
    };
    let reason = reason.replace('"', "'");
    at.change(
        "recover",
        &format!(" --mark {version} {state} --reason \"{reason}\""),
    )
}

/// Drops the INVALID index a failed CREATE INDEX CONCURRENTLY left behind.
pub fn drop_invalid_index(at: At<'_>, version: i64) -> String {
    at.change("recover", &format!(" --drop-invalid-index {version}"))
}

/// Applies the contract migrations held back, now (no earlier release runs any more).
pub fn migrate_contract(at: At<'_>) -> String {
    at.change("migrate", " --contract")
}

/// Takes the next step of a paused canary, or stops the previous release of a finished one.
pub fn promote(at: At<'_>) -> String {
    at.change("promote", "")
}

/// Gives all traffic of a paused canary back to the stable release.
pub fn abort(at: At<'_>) -> String {
    at.change("abort", "")
}

/// Puts back the release the serving one replaced (the top of the release stack below it).
pub fn rollback(at: At<'_>) -> String {
    at.change("rollback", "")
}

/// Puts back one named release that once succeeded.
pub fn rollback_to(at: At<'_>, release: &str) -> String {
    at.change("rollback", &format!(" --version {release}"))
}

/// Deploys `release` to the environment with its pending migrations.
pub fn deploy_with_migrations(at: At<'_>, release: &str) -> String {
    at.change("deploy", &format!(" --version {release} --with-migrations"))
}

/// Deploys `release` without the pending migrations it does not need (recorded).
pub fn deploy_allow_pending(at: At<'_>, release: &str) -> String {
    at.change("deploy", &format!(" --version {release} --allow-pending"))
}

/// Turns flag `key` up one stage in the environment (`auto`: the rest of the ramp, judged).
pub fn flag_promote(at: At<'_>, key: &str, auto: bool) -> String {
    let auto = if auto { " --auto" } else { "" };
    at.change(&format!("flag promote {key}"), auto)
}

/// Turns flag `key` back one stage in the environment.
pub fn flag_rollback(at: At<'_>, key: &str) -> String {
    at.change(&format!("flag rollback {key}"), "")
}

/// Removes flag `key` from every environment; `protected`: one of them needs approval.
pub fn flag_remove(key: &str, protected: bool) -> String {
    let approve = if protected { " --approve" } else { "" };
    format!("runner flag remove {key}{approve}")
}

/// What is recorded for the environment: read only.
pub fn status(env: &str) -> String {
    format!("runner status --env {env}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protected_environment_gets_approve_and_a_read_does_not() {
        let prod = At {
            env: "production",
            protected: true,
        };
        assert_eq!(promote(prod), "runner promote --env production --approve");
        assert_eq!(
            resume(prod, 3),
            "runner recover --env production --resume 3 --approve"
        );
        assert_eq!(recover("production"), "runner recover --env production");
        let staging = At {
            env: "staging",
            protected: false,
        };
        assert_eq!(rollback(staging), "runner rollback --env staging");
    }
}
