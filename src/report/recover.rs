//! `runner recover`: each migration that did not end well, in plain words, with the commands
//! that are safe for it; the deploy record when what serves is in doubt; and the next step.

use serde_json::json;

use crate::engine::recover::Problem;

/// What `runner recover` explains.
pub struct RecoverView<'a> {
    pub environment: &'a str,
    /// Changes need `--approve` (the commands it prints carry it).
    pub protected: bool,
    pub database: String,
    pub problems: &'a [Problem],
    /// The deploy record in doubt, in words, with the release to put back.
    pub doubt: Option<(String, Option<String>)>,
    /// Migrations pending behind the problems.
    pub pending: usize,
}

/// What `runner recover` did, then the one command to run next.
pub fn recovered(outcome: &impl std::fmt::Display, view: &RecoverView<'_>) -> String {
    format!("{outcome}\n{}\n", next(view))
}

/// `recovered` for programs: one JSON event with the state after it.
pub fn recovered_json(
    outcome: &impl serde::Serialize,
    view: &RecoverView<'_>,
) -> serde_json::Value {
    json!({"event": "recovered", "outcome": outcome, "state": self::json(view)})
}

/// The offers as a numbered menu (`runner recover` on a terminal).
pub fn menu(offers: &[&crate::engine::recover::Offer]) -> String {
    offers
        .iter()
        .enumerate()
        .map(|(i, o)| format!("  {}) {}  ({})", i + 1, o.command, o.what))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one command to run next, in backticks so a person or a script can copy it.
pub fn next(view: &RecoverView<'_>) -> String {
    let env = view.environment;
    let at = crate::hints::At {
        env,
        protected: view.protected,
    };
    if let Some(problem) = view.problems.first()
        && let Some(offer) = problem.offers.first()
    {
        return format!(
            "next: `{}` ({}), or another action listed above",
            offer.command, offer.what
        );
    }
    if let Some((_, Some(release))) = &view.doubt {
        return format!(
            "next: `{}` puts back {release}, the last release that succeeded",
            crate::hints::rollback(at)
        );
    }
    if view.pending > 0 {
        return format!(
            "next: `{}` applies the {} pending migration(s)",
            crate::hints::migrate(at),
            view.pending
        );
    }
    format!("nothing left to recover in {env}")
}

pub fn human(view: &RecoverView<'_>) -> String {
    let mut out = format!("recover {} ({})\n", view.environment, view.database);
    if view.problems.is_empty() && view.doubt.is_none() {
        out.push_str("every migration is applied or pending; no run stopped part-way\n");
    }
    for p in view.problems {
        out.push_str(&format!("{}: {}\n", p.label, p.state));
        for line in &p.explanation {
            out.push_str(&format!("  {line}\n"));
        }
        if !p.offers.is_empty() {
            out.push_str("  actions:\n");
        }
        for o in &p.offers {
            out.push_str(&format!("    `{}`\n        {}\n", o.command, o.what));
        }
    }
    if let Some((doubt, _)) = &view.doubt {
        out.push_str(&format!("deploy record: IN DOUBT: {doubt}\n"));
    }
    out.push_str(&next(view));
    out.push('\n');
    out
}

pub fn json(view: &RecoverView<'_>) -> serde_json::Value {
    json!({
        "environment": view.environment,
        "problems": view.problems,
        "deploy_in_doubt": view.doubt.as_ref().map(|(d, release)| json!({"what": d, "put_back": release})),
        "pending": view.pending,
        "next": next(view),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::history::State;
    use crate::engine::recover::{Action, Offer};

    #[test]
    fn recover_human() {
        let offer = |action: Action, what: &str| Offer {
            command: action.command(crate::hints::At {
                env: "staging",
                protected: false,
            }),
            action,
            what: what.into(),
        };
        let problems = vec![Problem {
            version: 12,
            label: "V0012 add_region".into(),
            state: State::FailedPartial,
            explanation: vec![
                "it stopped at statement 2 of 3: relation \"regions\" does not exist (SQLSTATE 42P01)".into(),
                "committed: statement 1: 1. ALTER TABLE orders ADD COLUMN region text".into(),
                "not committed: statements 2 to 3".into(),
            ],
            offers: vec![
                offer(
                    Action::Resume { version: 12 },
                    "continue at statement 2 once the cause is fixed (do not change statement 1)",
                ),
                offer(
                    Action::Rollback {
                        version: 12,
                        use_file: false,
                    },
                    "undo what it committed with the rollback stored when it ran",
                ),
            ],
        }];
        let view = RecoverView {
            protected: false,
            environment: "staging",
            database: "sqlite://.runner/staging.db".into(),
            problems: &problems,
            doubt: Some((
                "1.6.0 may be serving (deploy d-7 stopped at phase health without saying how it ended: killed, or its machine lost)".into(),
                Some("1.5.0".into()),
            )),
            pending: 1,
        };
        insta::assert_snapshot!(human(&view));
        insta::assert_snapshot!(
            "recover_json",
            serde_json::to_string_pretty(&json(&view)).unwrap()
        );
    }
}
