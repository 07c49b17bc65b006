//! The linter behind `runner check`: parses each migration in its dialect, lowers it to
//! operations, runs the rules over them with what the file created so far, applies
//! suppressions, and adds the catalog's layout problems as findings.

pub mod finding;
pub mod model;
pub mod parse;
pub mod rules;
pub mod split;
mod suppress;

use std::collections::HashSet;

pub use finding::{Finding, Severity};
pub use rules::Rule;

use crate::catalog::{Catalog, Directives, Migration, RollbackStatus, shown};
use crate::config::{Config, ConfigError, Dialect};
use model::{Op, ParsedFile, TransactionKind};
use rules::{Check, Context};

/// What to check and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub dialect: Dialect,
    /// Rules turned off in runner.toml (`[lint] disable`).
    pub disabled: HashSet<Rule>,
    /// File names to lint; `None` lints every migration. A migration is in scope when its
    /// forward file or its rollback is named.
    pub scope: Option<HashSet<String>>,
}

/// The rules `[lint] disable` turns off, or an error naming the line of an unknown id.
pub fn disabled_rules(config: &Config) -> Result<HashSet<Rule>, ConfigError> {
    config
        .lint_disable
        .iter()
        .map(|id| {
            Rule::from_id(&id.value).ok_or_else(|| {
                config.error_at(
                    id.line,
                    id.column,
                    format!(
                        "lint.disable: unknown rule `{}`; `runner explain` lists the rules",
                        id.value
                    ),
                )
            })
        })
        .collect()
}

impl Options {
    pub fn new(dialect: Dialect) -> Self {
        Options {
            dialect,
            disabled: HashSet::new(),
            scope: None,
        }
    }
}

/// The result of a check: how many files were read, and every finding, sorted.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub files_checked: usize,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.findings.len() - self.errors()
    }

    pub fn merge(&mut self, other: Report) {
        self.files_checked += other.files_checked;
        self.findings.extend(other.findings);
    }
}

/// Checks a migrations folder: layout problems, then each migration in scope.
pub fn check_catalog(catalog: &Catalog, options: &Options) -> Report {
    let prefix = shown(&catalog.dir);
    let label = |name: &str| format!("{prefix}/{name}");
    let in_scope = |name: &str| options.scope.as_ref().is_none_or(|s| s.contains(name));

    let mut findings: Vec<Finding> = catalog
        .problems
        .iter()
        .filter(|p| in_scope(&p.file) || options.scope.is_none() || p.is_error())
        .map(|p| {
            let rule = Rule::for_problem(p.kind);
            Finding {
                rule,
                severity: rule.severity(),
                file: label(&p.file),
                line: p.line.unwrap_or(1),
                column: 1,
                message: p.message.clone(),
                help: format!("`runner explain {}` shows the valid layout", rule.id()),
                statement: None,
            }
        })
        .collect();

    let migrations: Vec<&Migration> = catalog
        .migrations
        .iter()
        .filter(|m| {
            in_scope(&m.forward.file_name)
                || m.rollback.as_ref().is_some_and(|r| in_scope(&r.file_name))
        })
        .collect();
    let files_checked = migrations
        .iter()
        .map(|m| 1 + usize::from(m.rollback.is_some()))
        .sum();
    findings.extend(in_parallel(&migrations, |m| {
        lint_migration(m, &label, options.dialect)
    }));

    findings.retain(|f| !options.disabled.contains(&f.rule));
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.rule.id()).cmp(&(&b.file, b.line, b.column, b.rule.id()))
    });
    Report {
        files_checked,
        findings,
    }
}

/// Runs `work` over `items` on every core; the results keep the input order.
fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> Vec<R> + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 2 {
        return items.iter().flat_map(&work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().flat_map(&work).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn lint_migration(m: &Migration, label: &dyn Fn(&str) -> String, dialect: Dialect) -> Vec<Finding> {
    let forward_label = label(&m.forward.file_name);
    let mut file_findings = Vec::new();
    if m.rollback_status() == RollbackStatus::Missing {
        let down = m.forward.file_name.replace(".sql", ".down.sql");
        file_findings.push(Finding {
            rule: Rule::MissingRollback,
            severity: Rule::MissingRollback.severity(),
            file: forward_label.clone(),
            line: 1,
            column: 1,
            message: format!(
                "{} has no rollback: {down} does not exist and the file is not marked irreversible",
                m.label()
            ),
            help: format!(
                "write {down}, or add `-- runner:irreversible <reason>` at the top of the file"
            ),
            statement: None,
        });
    }
    let mut findings = lint_sql(
        &forward_label,
        &m.forward.sql,
        dialect,
        &m.forward.directives,
        FileRole::Forward,
        file_findings,
    );
    if let Some(rollback) = &m.rollback {
        findings.extend(lint_sql(
            &label(&rollback.file_name),
            &rollback.sql,
            dialect,
            &rollback.directives,
            FileRole::Rollback,
            Vec::new(),
        ));
    }
    findings
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileRole {
    Forward,
    /// Rollbacks are checked for parse errors and transaction control only.
    Rollback,
}

/// Lints one forward migration's text: the entry point of the rule tests.
pub fn lint_text(
    label: &str,
    sql: &str,
    dialect: Dialect,
    directives: &Directives,
) -> Vec<Finding> {
    lint_sql(
        label,
        sql,
        dialect,
        directives,
        FileRole::Forward,
        Vec::new(),
    )
}

fn lint_sql(
    label: &str,
    sql: &str,
    dialect: Dialect,
    directives: &Directives,
    role: FileRole,
    file_findings: Vec<Finding>,
) -> Vec<Finding> {
    let parsed = parse::parse(sql, dialect);
    let file_transaction = !directives.no_transaction && !parsed.needs_statement_mode();
    let rules: Vec<Rule> = Rule::ALL
        .iter()
        .copied()
        .filter(|r| r.applies_to(dialect) && matches!(r.def().check, Check::Statement(_)))
        .filter(|r| role == FileRole::Forward || *r == Rule::TransactionControl)
        .collect();

    let mut findings = file_findings;
    findings.extend(run_rules(label, &parsed, &rules, dialect, file_transaction));
    findings.extend(parsed.errors.iter().map(|e| Finding {
        rule: Rule::ParseError,
        severity: Rule::ParseError.severity(),
        file: label.to_string(),
        line: e.line,
        column: e.column,
        message: e.message.clone(),
        help: "fix the statement: the database would reject it too".into(),
        statement: Some(e.offset),
    }));
    let mut offsets: Vec<usize> = parsed
        .statements
        .iter()
        .map(|s| s.offset)
        .chain(parsed.errors.iter().map(|e| e.offset))
        .collect();
    offsets.sort_unstable();
    suppress::apply(label, sql, &offsets, &mut findings);
    findings
}

fn run_rules(
    label: &str,
    parsed: &ParsedFile,
    rules: &[Rule],
    dialect: Dialect,
    file_transaction: bool,
) -> Vec<Finding> {
    let mut ctx = Context {
        dialect: Some(dialect),
        file_transaction,
        ..Context::default()
    };
    let mut findings = Vec::new();
    for statement in &parsed.statements {
        if !file_transaction && !ctx.explicit_transaction {
            ctx.transaction += 1; // in statement mode each statement commits on its own
        }
        ctx.in_transaction = file_transaction || ctx.explicit_transaction;
        for op in &statement.ops {
            for rule in rules {
                let Check::Statement(check) = rule.def().check else {
                    continue;
                };
                if let Some(hit) = check(op, &ctx) {
                    findings.push(Finding {
                        rule: *rule,
                        severity: rule.severity(),
                        file: label.to_string(),
                        line: statement.line,
                        column: statement.column,
                        message: hit.message,
                        help: hit.help,
                        statement: Some(statement.offset),
                    });
                }
            }
        }
        remember(&mut ctx, &statement.ops);
    }
    findings
}

/// Updates what the file has created so far, after a statement ran.
fn remember(ctx: &mut Context, ops: &[Op]) {
    for op in ops {
        match op {
            Op::CreateTable { table } => {
                ctx.created_tables.insert(table.clone());
            }
            Op::CreateIndex {
                name: Some(name), ..
            } => {
                ctx.created_indexes.insert(name.clone());
            }
            Op::AddConstraint {
                table,
                name: Some(name),
                not_valid: true,
                ..
            } => {
                ctx.not_valid
                    .insert((table.clone(), name.clone()), ctx.transaction);
            }
            Op::Transaction(TransactionKind::Begin) => ctx.explicit_transaction = true,
            Op::Transaction(TransactionKind::Commit | TransactionKind::Rollback) => {
                ctx.explicit_transaction = false
            }
            _ => {}
        }
    }
}
