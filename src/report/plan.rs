//! `runner plan`: the migrations migrate would apply, how each runs, its lint verdict, and
//! every reason migrate would refuse.

use serde_json::json;

use crate::engine::history::Mode;
use crate::engine::plan::Plan;
use crate::lint::{Finding, Report};

/// What `runner plan` shows.
pub struct PlanView<'a> {
    pub environment: &'a str,
    /// Changes need `--approve` (the commands it prints carry it).
    pub protected: bool,
    /// The database URL, password redacted.
    pub database: String,
    /// How the lock is taken and migrations run under it.
    pub lock: String,
    pub holder: Option<crate::db::lock::Holder>,
    pub plan: &'a Plan<'a>,
    pub lint: &'a Report,
}

impl PlanView<'_> {
    fn findings_of(&self, file: &str) -> Vec<&Finding> {
        self.lint
            .findings
            .iter()
            .filter(|f| f.file.ends_with(&format!("/{file}")))
            .collect()
    }
}

pub fn json(view: &PlanView<'_>) -> serde_json::Value {
    let steps: Vec<_> = view
        .plan
        .steps
        .iter()
        .map(|s| {
            json!({
                "version": s.migration.version,
                "name": s.migration.name,
                "file": s.migration.forward.file_name,
                "mode": s.script.mode,
                "statements": s.script.statements.len(),
                "outside_transaction": if s.script.mode == Mode::Statement { s.script.statements.clone() } else { Vec::new() },
                "resume_from": s.resume_from,
                "lint": view.findings_of(&s.migration.forward.file_name),
            })
        })
        .collect();
    json!({
        "environment": view.environment,
        "database": view.database,
        "lock": {"how": view.lock, "holder": view.holder},
        "pending": steps,
        "held": view.plan.held.iter().map(|(v, l)| json!({"version": v, "label": l})).collect::<Vec<_>>(),
        "interrupted": view.plan.classified,
        "warnings": view.plan.warnings,
        "problems": view.plan.problems,
        "would_apply": view.plan.problems.is_empty(),
    })
}

pub fn human(view: &PlanView<'_>) -> String {
    let plan = view.plan;
    let mut out = format!("plan for {} ({})\n", view.environment, view.database);
    let holder = view
        .holder
        .as_ref()
        .map_or("free now".to_string(), |h| format!("held now by {h}"));
    out.push_str(&format!("lock: {}; {holder}\n", view.lock));
    if plan.steps.is_empty() {
        out.push_str("nothing pending: the database is up to date\n");
    } else {
        out.push_str(&format!("{} pending:\n", plan.steps.len()));
    }
    for s in &plan.steps {
        let findings = view.findings_of(&s.migration.forward.file_name);
        let errors = findings.iter().filter(|f| f.is_error()).count();
        let verdict = match (errors, findings.len() - errors) {
            (0, 0) => "lint: ok".to_string(),
            (e, w) => format!("lint: {e} error(s), {w} warning(s)"),
        };
        let n = s.script.statements.len();
        out.push_str(&format!(
            "  {}  {}  {n} statement{}  {verdict}\n",
            s.label(),
            s.script.mode.name(),
            if n == 1 { "" } else { "s" }
        ));
        if s.script.mode == Mode::Statement {
            out.push_str("    outside a transaction, one by one:\n");
            for (i, statement) in s.script.statements.iter().enumerate().skip(s.resume_from) {
                let one_line: String = statement.split_whitespace().collect::<Vec<_>>().join(" ");
                out.push_str(&format!("      {}. {one_line}\n", i + 1));
            }
        }
        for f in findings {
            out.push_str(&format!(
                "    {}[{}] line {}: {}\n",
                f.severity.name(),
                f.rule.id(),
                f.line,
                f.message
            ));
        }
    }
    if !plan.held.is_empty() {
        let labels: Vec<&str> = plan.held.iter().map(|(_, l)| l.as_str()).collect();
        out.push_str(&format!(
            "held back: {} (a contract migration and what follows: it runs once the previous release is stopped, in the next deploy, or with `{}`)\n",
            labels.join(", "),
            crate::hints::migrate_contract(crate::hints::At {
                env: view.environment,
                protected: view.protected,
            })
        ));
    }
    for c in &plan.classified {
        out.push_str(&format!(
            "interrupted: V{} {} was left applying by a run that died; migrate will record it as {} ({})\n",
            c.version, c.name, c.state, c.reason
        ));
    }
    for w in &plan.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    if !plan.problems.is_empty() {
        out.push_str("migrate would refuse:\n");
        for p in &plan.problems {
            out.push_str(&format!("  - {p}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::config::Dialect;
    use crate::engine::plan::{self, Request};

    #[test]
    fn plan_human() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, sql: &str| std::fs::write(dir.path().join(name), sql).unwrap();
        write("V0001__orders.sql", "CREATE TABLE orders (id int);\n");
        write("V0001__orders.down.sql", "DROP TABLE orders;\n");
        write(
            "V0002__index.sql",
            "CREATE INDEX CONCURRENTLY orders_id ON orders (id);\n",
        );
        write(
            "V0002__index.down.sql",
            "DROP INDEX CONCURRENTLY orders_id;\n",
        );
        write("V0003__drop.sql", "ALTER TABLE orders DROP COLUMN id;\n");
        write(
            "V0003__drop.down.sql",
            "ALTER TABLE orders ADD COLUMN id int;\n",
        );
        let catalog = Catalog::load(dir.path()).unwrap();
        let plan = plan::plan(
            (&catalog, &[]),
            Dialect::Postgres,
            &Request::default(),
            crate::hints::At {
                env: "production",
                protected: false,
            },
            None,
        );
        let mut lint =
            crate::lint::check_catalog(&catalog, &crate::lint::Options::new(Dialect::Postgres));
        for f in &mut lint.findings {
            f.file = format!(
                "migrations/{}",
                f.file.rsplit('/').next().unwrap_or_default()
            );
        }
        let view = PlanView {
            protected: false,
            environment: "production",
            database: "postgres://app:***@db:5432/shop".into(),
            lock: "PostgreSQL advisory lock 1".into(),
            holder: None,
            plan: &plan,
            lint: &lint,
        };
        insta::assert_snapshot!(human(&view));
        insta::assert_snapshot!(
            "plan_json",
            serde_json::to_string_pretty(&json(&view)).unwrap()
        );
    }
}
