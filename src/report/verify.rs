//! `runner verify`: one line per migration as it is verified (over a progress bar on a
//! terminal), then the summary; or one JSON document.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::verify::{Outcome, Verified, VerifyProgress};

pub struct VerifyOutput {
    json: bool,
    bar: Option<ProgressBar>,
}

impl VerifyOutput {
    pub fn new(json: bool) -> Self {
        VerifyOutput { json, bar: None }
    }

    pub fn finish(&mut self, results: &[Verified], strict: bool, took: Duration) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json(results, strict, took)).unwrap_or_default()
            );
        } else {
            print!("{}", summary(results, took));
        }
    }
}

/// How many results are of each kind.
struct Counts {
    ok: usize,
    mismatch: usize,
    column_order: usize,
    failed: usize,
    skipped: usize,
    not_run: usize,
    lossy: usize,
}

fn counts(results: &[Verified]) -> Counts {
    let count = |f: &dyn Fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    Counts {
        ok: count(&|o| matches!(o, Outcome::Ok)),
        mismatch: count(&|o| matches!(o, Outcome::Mismatch { .. })),
        column_order: count(&|o| matches!(o, Outcome::ColumnOrder { .. })),
        failed: count(&|o| {
            matches!(
                o,
                Outcome::RollbackFailed { .. }
                    | Outcome::ReapplyFailed { .. }
                    | Outcome::ForwardFailed { .. }
            )
        }),
        skipped: count(&|o| matches!(o, Outcome::Skipped { .. })),
        not_run: count(&|o| matches!(o, Outcome::NotRun { .. })),
        lossy: results.iter().filter(|r| !r.lossy.is_empty()).count(),
    }
}

pub fn json(results: &[Verified], strict: bool, took: Duration) -> serde_json::Value {
    let c = counts(results);
    serde_json::json!({
        "verified": results,
        "ok": c.ok, "mismatch": c.mismatch, "column_order": c.column_order, "failed": c.failed,
        "skipped": c.skipped, "not_run": c.not_run, "lossy": c.lossy,
        "strict": strict, "duration_ms": took.as_millis() as u64,
    })
}

/// The closing lines: counts of every kind, then what was skipped.
pub fn summary(results: &[Verified], took: Duration) -> String {
    let c = counts(results);
    let mut out = format!(
        "{} verified: {} ok, {} mismatch, {} column-order, {} failed, {} skipped, {} not run, {} lossy ({:.1} s)\n",
        results.len(),
        c.ok,
        c.mismatch,
        c.column_order,
        c.failed,
        c.skipped,
        c.not_run,
        c.lossy,
        took.as_secs_f64()
    );
    let skipped: Vec<String> = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Skipped { .. }))
        .map(|r| r.label.clone())
        .collect();
    if !skipped.is_empty() {
        out.push_str(&format!("skipped (irreversible): {}\n", skipped.join(", ")));
    }
    out
}

/// The line (or lines) of one verified migration.
pub fn line(r: &Verified) -> String {
    let mut text = match &r.outcome {
        Outcome::Ok => format!("ok        {}", r.label),
        Outcome::Skipped { reason } => {
            format!("skipped   {} (irreversible: {reason})", r.label)
        }
        Outcome::Mismatch {
            differences,
            reapply_error,
        } => {
            let mut t = format!(
                "MISMATCH  {}: its rollback does not restore the schema",
                r.label
            );
            for d in differences {
                t.push_str(&format!("\n    {d}"));
            }
            if let Some(error) = reapply_error {
                t.push_str(&format!(
                    "\n    and applied again after its rollback, it fails: {error}"
                ));
            }
            t
        }
        Outcome::ColumnOrder {
            differences,
            accepted,
        } => {
            let mut t = match accepted {
                Some(reason) => format!(
                    "accepted  {}: its rollback restores the schema but for the order of columns ({reason})",
                    r.label
                ),
                None => format!(
                    "ORDER     {}: its rollback restores the schema but for the order of columns (SELECT *, positional INSERT and COPY see it); accept it with `-- runner:allow-file rollback-mismatch <reason>`",
                    r.label
                ),
            };
            for d in differences {
                t.push_str(&format!("\n    {d}"));
            }
            t
        }
        Outcome::RollbackFailed { error } => {
            format!("FAILED    {}: its rollback failed: {error}", r.label)
        }
        Outcome::ForwardFailed { error } => {
            format!("FAILED    {}: the migration itself fails: {error}", r.label)
        }
        Outcome::NotRun { reason } => format!("not run   {}: {reason}", r.label),
        Outcome::ReapplyFailed { error } => format!(
            "FAILED    {}: applied again after its rollback, it fails: {error}",
            r.label
        ),
    };
    for l in &r.lossy {
        text.push_str(&format!(
            "\n    lossy: {l} (the rollback cannot bring the data back)"
        ));
    }
    text
}

impl VerifyProgress for VerifyOutput {
    fn total(&mut self, in_scope: usize) {
        if !self.json && std::io::stderr().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(in_scope as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("verifying [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            self.bar = Some(bar);
        }
    }

    fn verified(&mut self, r: &Verified) {
        if self.json {
            return;
        }
        let text = line(r);
        match &self.bar {
            Some(bar) => {
                bar.suspend(|| println!("{text}"));
                bar.inc(1);
            }
            None => println!("{text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::snapshot::Difference;
    use crate::engine::verify::Lossy;

    fn verified(version: i64, name: &str, outcome: Outcome) -> Verified {
        Verified {
            version,
            name: name.into(),
            label: format!("V{version} {name}"),
            outcome,
            lossy: Vec::new(),
        }
    }

    #[test]
    fn verify_human() {
        let mut lossy = verified(3, "drop_phone", Outcome::Ok);
        lossy.lossy = vec![Lossy {
            line: 1,
            what: "drops column customers.phone".into(),
        }];
        let results = vec![
            verified(1, "customers", Outcome::Ok),
            verified(
                2,
                "add_index",
                Outcome::Mismatch {
                    differences: vec![Difference {
                        object: "index public.orders_created_at_idx".into(),
                        before: None,
                        after: Some("CREATE INDEX orders_created_at_idx ON public.orders USING btree (created_at)".into()),
                        diff: None,
                    }],
                    reapply_error: Some("relation \"orders_created_at_idx\" already exists (SQLSTATE 42P07)".into()),
                },
            ),
            lossy,
            verified(
                4,
                "purge",
                Outcome::Skipped {
                    reason: "the rows are gone".into(),
                },
            ),
            verified(
                6,
                "reorder",
                Outcome::ColumnOrder {
                    differences: vec![Difference {
                        object: "column order public.customers".into(),
                        before: Some("id, phone, email".into()),
                        after: Some("id, email, phone".into()),
                        diff: None,
                    }],
                    accepted: None,
                },
            ),
            verified(
                7,
                "view",
                Outcome::Mismatch {
                    differences: crate::db::snapshot::compare(
                        &[("view public.totals".to_string(), " SELECT o.id,\n    sum(i.amount) AS total\n   FROM orders o\n     JOIN items i ON i.order_id = o.id\n  GROUP BY o.id;".to_string())].into(),
                        &[("view public.totals".to_string(), " SELECT o.id,\n    sum(i.price) AS total\n   FROM orders o\n     JOIN items i ON i.order_id = o.id\n  GROUP BY o.id;".to_string())].into(),
                    ),
                    reapply_error: None,
                },
            ),
            verified(
                8,
                "later",
                Outcome::NotRun {
                    reason: "V0005 bad_down: the scratch database could not be rebuilt".into(),
                },
            ),
            verified(
                5,
                "bad_down",
                Outcome::RollbackFailed {
                    error: "table \"nope\" does not exist (SQLSTATE 42P01)".into(),
                },
            ),
        ];
        let mut text: String = results.iter().map(|r| line(r) + "\n").collect();
        text.push_str(&summary(&results, Duration::from_millis(240)));
        insta::assert_snapshot!(text);
        let json = json(&results, true, Duration::from_millis(240));
        insta::assert_snapshot!("verify_json", serde_json::to_string_pretty(&json).unwrap());
    }
}
