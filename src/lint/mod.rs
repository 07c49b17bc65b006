//! The linter behind `runner check`: parses each migration in its dialect, lowers it to
//! operations, runs the rules over them with what the file created so far, applies
//! suppressions, and adds the catalog's layout problems as findings.

pub mod finding;
pub mod model;
mod options;
pub mod parse;
pub mod rules;
pub mod schema;
pub mod split;
pub mod suppress;
pub mod undo;

pub use finding::{Finding, Severity};
pub use options::{MysqlVersion, Options, disabled_rules};
pub use rules::Rule;

use crate::catalog::{Catalog, Directives, Migration, RollbackStatus, SqlFile, shown};
use crate::config::Dialect;
use model::{Op, ParsedFile, TransactionKind};
use rules::{Check, Context};

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

    let in_scope_migration = |m: &Migration| {
        in_scope(&m.forward.file_name)
            || m.rollback.as_ref().is_some_and(|r| in_scope(&r.file_name))
    };
    let files_checked = catalog
        .migrations
        .iter()
        .filter(|m| in_scope_migration(m))
        .map(|m| 1 + usize::from(m.rollback.is_some()))
        .sum();
    // Parsing is the work: it runs on every core. Every forward file is parsed, in scope or
    // not, because the schema a migration sees is what the ones before it built.
    let parsed: Vec<(std::sync::Arc<ParsedFile>, Option<ParsedFile>)> =
        crate::runtime::in_parallel(&catalog.migrations, |m| {
            let down = m
                .rollback
                .as_ref()
                .filter(|_| in_scope_migration(m))
                .map(|r| parse::parse(&r.sql, options.dialect));
            (parse_forward(&m.forward, options), down)
        });
    let mut schema = schema::Schema::new(
        (options.dialect == Dialect::Postgres).then_some(options.default_schema.as_str()),
    );
    for (m, (forward, rollback)) in catalog.migrations.iter().zip(&parsed) {
        // Any earlier migration may already be applied somewhere (and then hold rows): only
        // what the same file created is new. The same in every scope, so `check`, `plan`,
        // `migrate` and `deploy` give one verdict on a file.
        schema.settle();
        if !in_scope_migration(m) {
            for op in forward.statements.iter().flat_map(|s| &s.ops) {
                schema.apply(op, false);
            }
            continue;
        }
        findings.extend(lint_migration(
            m,
            forward,
            rollback.as_ref(),
            &label,
            options,
            &mut schema,
        ));
    }

    findings.retain(|f| !options.disabled.contains(&f.rule));
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.rule.id()).cmp(&(&b.file, b.line, b.column, b.rule.id()))
    });
    Report {
        files_checked,
        findings,
    }
}

/// A migration's forward file parsed, kept for the process when the options say so.
fn parse_forward(file: &SqlFile, options: &Options) -> std::sync::Arc<ParsedFile> {
    match options.keep_parses {
        true => parse::parse_file(file, options.dialect),
        false => std::sync::Arc::new(parse::parse(&file.sql, options.dialect)),
    }
}

fn lint_migration(
    m: &Migration,
    forward: &ParsedFile,
    rollback: Option<&ParsedFile>,
    label: &dyn Fn(&str) -> String,
    options: &Options,
    schema: &mut schema::Schema,
) -> Vec<Finding> {
    let forward_label = label(&m.forward.file_name);
    let mut findings = Vec::new();
    if m.rollback_status() == RollbackStatus::Missing {
        let (missing, fix) = m.rollback_place();
        findings.push(Finding {
            rule: Rule::MissingRollback,
            severity: Rule::MissingRollback.severity(),
            file: forward_label.clone(),
            line: 1,
            column: 1,
            message: format!(
                "{} has no rollback: {missing} and the file is not marked irreversible",
                m.label()
            ),
            help: format!(
                "{fix}, or add `-- runner:irreversible <reason>` at the top of the migration"
            ),
            statement: None,
        });
    }
    if forward.statements.is_empty() && forward.errors.is_empty() {
        findings.push(Finding {
            rule: Rule::EmptyMigration,
            severity: Rule::EmptyMigration.severity(),
            file: forward_label.clone(),
            line: 1,
            column: 1,
            message: format!(
                "{} holds no statement (only comments): applied, it would be recorded as done while changing nothing",
                m.label()
            ),
            help: "write the migration's SQL, or delete the file (and its .down.sql) until you do".into(),
            statement: None,
        });
    }
    let file = File {
        label: &forward_label,
        sql: &m.forward.sql,
        parsed: forward,
        directives: &m.forward.directives,
        role: FileRole::Forward,
    };
    findings.extend(shifted(
        lint_parsed(&file, options, schema),
        m.forward.first_line,
    ));
    if let (Some(down), Some(parsed)) = (&m.rollback, rollback) {
        // A rollback runs against the schema its migration built; its own lint is about
        // parse errors and transaction control, which need no schema.
        let file = File {
            label: &label(&down.file_name),
            sql: &down.sql,
            parsed,
            directives: &down.directives,
            role: FileRole::Rollback,
        };
        schema.begin_trial();
        findings.extend(shifted(
            lint_parsed(&file, options, schema),
            down.first_line,
        ));
        schema.end_trial();
    }
    findings
}

/// Findings on a text that starts at `first_line` of its file (one direction of a dbmate or
/// goose file), with the lines of the file.
fn shifted(mut findings: Vec<Finding>, first_line: usize) -> Vec<Finding> {
    for f in &mut findings {
        f.line += first_line.saturating_sub(1);
    }
    findings
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileRole {
    Forward,
    /// Rollbacks are checked for parse errors and transaction control only.
    Rollback,
}

/// One file to lint, parsed.
struct File<'a> {
    label: &'a str,
    sql: &'a str,
    parsed: &'a ParsedFile,
    directives: &'a Directives,
    role: FileRole,
}

/// Lints one forward migration's text on an empty schema: the entry point of the rule tests.
pub fn lint_text(
    label: &str,
    sql: &str,
    dialect: Dialect,
    directives: &Directives,
) -> Vec<Finding> {
    lint_text_with(label, sql, &Options::new(dialect), directives)
}

/// `lint_text` with settings (`[lint]`).
pub fn lint_text_with(
    label: &str,
    sql: &str,
    options: &Options,
    directives: &Directives,
) -> Vec<Finding> {
    let dialect = options.dialect;
    let parsed = parse::parse(sql, dialect);
    let file = File {
        label,
        sql,
        parsed: &parsed,
        directives,
        role: FileRole::Forward,
    };
    let mut schema = schema::Schema::new((dialect == Dialect::Postgres).then_some("public"));
    lint_parsed(&file, options, &mut schema)
}

/// Runs the rules over a parsed file (replaying it into `schema` as it goes), adds its parse
/// errors, and applies its suppressions.
fn lint_parsed(file: &File<'_>, options: &Options, schema: &mut schema::Schema) -> Vec<Finding> {
    let dialect = options.dialect;
    let parsed = file.parsed;
    let file_transaction = !file.directives.no_transaction && !parsed.needs_statement_mode();
    let rules: Vec<Rule> = Rule::ALL
        .iter()
        .copied()
        .filter(|r| r.applies_to(dialect) && matches!(r.def().check, Check::Statement(_)))
        .filter(|r| file.role == FileRole::Forward || *r == Rule::TransactionControl)
        .collect();
    let mut ctx = Context {
        dialect: Some(dialect),
        file_transaction,
        schema: std::mem::take(schema),
        rebuilt: schema::rebuilt_tables(parsed.statements.iter().flat_map(|s| &s.ops)),
        postgres_version: options.postgres_version,
        mysql_version: options.mysql_version,
        contract: file.directives.phase == Some(crate::catalog::Phase::Contract),
        ..Context::default()
    };
    let mut findings = run_rules(file.label, parsed, &rules, &mut ctx);
    *schema = ctx.schema;
    findings.extend(parsed.errors.iter().map(|e| match e.certain {
        true => Finding {
            rule: Rule::ParseError,
            severity: Rule::ParseError.severity(),
            file: file.label.to_string(),
            line: e.line,
            column: e.column,
            message: e.message.clone(),
            help: "fix the statement: the database would reject it too".into(),
            statement: Some(e.offset),
        },
        // Only runner's parser failed (MySQL; SQLite, whose own parser accepted the
        // statement): a warning, not a verdict on the SQL.
        false => Finding {
            rule: Rule::ParseError,
            severity: Severity::Warning,
            file: file.label.to_string(),
            line: e.line,
            column: e.column,
            message: format!(
                "runner's {} parser cannot read this statement, so it was not linted ({})",
                dialect.display_name(),
                e.message
            ),
            help: format!(
                "{} decides whether it is valid when it runs; `runner verify` (or `check --verify`) runs it on a scratch database first",
                dialect.display_name()
            ),
            statement: Some(e.offset),
        },
    }));
    let mut offsets: Vec<usize> = parsed
        .statements
        .iter()
        .map(|s| s.offset)
        .chain(parsed.errors.iter().map(|e| e.offset))
        .collect();
    offsets.sort_unstable();
    suppress::apply(file.label, file.sql, &offsets, &mut findings);
    findings
}

fn run_rules(label: &str, parsed: &ParsedFile, rules: &[Rule], ctx: &mut Context) -> Vec<Finding> {
    let file_transaction = ctx.file_transaction;
    let mut findings = Vec::new();
    for statement in &parsed.statements {
        if !file_transaction && !ctx.explicit_transaction {
            ctx.transaction += 1; // in statement mode each statement commits on its own
        }
        ctx.in_transaction = file_transaction || ctx.explicit_transaction;
        ctx.online_alter = false;
        for op in &statement.ops {
            for rule in rules {
                let Check::Statement(check) = rule.def().check else {
                    continue;
                };
                if let Some(hit) = check(op, ctx) {
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
            // Op by op: MySQL's CHANGE COLUMN renames, then restates the renamed column.
            remember(ctx, op);
        }
    }
    findings
}

/// Updates what the migrations so far built, after an operation ran.
fn remember(ctx: &mut Context, op: &Op) {
    if let Op::AlterAlgorithm { online, .. } = op {
        ctx.online_alter = *online;
    }
    {
        ctx.schema.apply(op, true);
        match op {
            Op::CreateIndex {
                name: Some(name),
                table,
                ..
            } => {
                // An index lives in its table's schema.
                let schema = table.rsplit_once('.').map(|(s, _)| s);
                let qualified = match schema {
                    Some(schema) => format!("{schema}.{name}"),
                    None => ctx.schema.resolve(name),
                };
                ctx.created_indexes.insert(qualified);
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn rules_fired(sql: &str) -> Vec<&'static str> {
        let mut ids: Vec<&str> = lint_text("t.sql", sql, Dialect::Postgres, &Directives::default())
            .iter()
            .map(|f| f.rule.id())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// A table created in one schema is not the table of the same name in another.
    #[test]
    fn tables_are_told_apart_by_schema() {
        let fired = rules_fired(
            "CREATE TABLE tenant_new.orders (id int);\n\
             ALTER TABLE tenant_old.orders ADD COLUMN status text NOT NULL;\n\
             ALTER TABLE tenant_old.orders DROP COLUMN note;\n\
             TRUNCATE tenant_old.orders;\n\
             CREATE INDEX orders_id ON tenant_old.orders (id);",
        );
        assert_eq!(
            fired,
            [
                "add-required-column",
                "create-index-without-concurrently",
                "drop-column",
                "truncate"
            ]
        );
        // The same statements on the table created here are fine.
        let fired = rules_fired(
            "CREATE TABLE tenant_new.orders (id int, note text);\n\
             ALTER TABLE tenant_new.orders ADD COLUMN status text NOT NULL;\n\
             ALTER TABLE tenant_new.orders DROP COLUMN note;\n\
             TRUNCATE tenant_new.orders;\n\
             CREATE INDEX orders_id ON tenant_new.orders (id);\n\
             DROP INDEX tenant_new.orders_id;",
        );
        assert!(fired.is_empty(), "{fired:?}");
        // An unqualified name is the search path's first schema.
        assert!(rules_fired("CREATE TABLE orders (id int);\nTRUNCATE public.orders;").is_empty());
        assert_eq!(
            rules_fired(
                "CREATE INDEX i ON tenant_old.orders (id);\nCREATE TABLE x (id int);\nDROP INDEX i;"
            ),
            [
                "create-index-without-concurrently",
                "drop-index-without-concurrently"
            ]
        );
    }

    /// With a scope (the migrations not yet applied), a table an earlier one of them creates is
    /// new to the later ones; without a scope, every earlier migration may be applied already.
    #[test]
    fn a_table_is_new_only_in_the_file_that_creates_it_whatever_the_scope() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, sql: &str| std::fs::write(dir.path().join(name), sql).unwrap();
        write(
            "V1__old.sql",
            "-- runner:irreversible test\nCREATE TABLE old (id int);\n",
        );
        write(
            "V2__new.sql",
            "-- runner:irreversible test\nCREATE TABLE fresh (id int);\n",
        );
        write(
            "V3__index.sql",
            "-- runner:irreversible test\nCREATE INDEX fresh_id ON fresh (id);\nCREATE INDEX old_id ON old (id);\n",
        );
        let catalog = Catalog::scan(dir.path()).unwrap();
        let fired = |scope: Option<HashSet<String>>| -> Vec<String> {
            let options = Options {
                scope,
                ..Options::new(Dialect::Postgres)
            };
            check_catalog(&catalog, &options)
                .findings
                .into_iter()
                .map(|f| f.message)
                .collect()
        };
        // The gate of an environment where V2 and V3 are pending says what check says: V2 may
        // be applied on its own first (`migrate --target 2`), and fill the table.
        let pending: HashSet<String> = ["V2__new.sql", "V3__index.sql"].map(String::from).into();
        assert_eq!(fired(Some(pending)), fired(None));
        assert_eq!(fired(None).len(), 2);
        // Created and indexed in one file: new.
        write(
            "V3__index.sql",
            "-- runner:irreversible test\nCREATE TABLE fresh2 (id int);\nCREATE INDEX fresh2_id ON fresh2 (id);\n",
        );
        let catalog = Catalog::scan(dir.path()).unwrap();
        let findings = check_catalog(&catalog, &Options::new(Dialect::Postgres)).findings;
        assert!(findings.is_empty(), "{findings:?}");
    }
}
