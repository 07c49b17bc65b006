use std::collections::HashSet;

use super::*;
use crate::hints::At;

struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new(files: &[(&str, &str)]) -> Folder {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql) in files {
            std::fs::write(dir.path().join(name), sql).unwrap();
        }
        Folder { dir }
    }

    fn catalog(&self) -> Catalog {
        Catalog::load(self.dir.path()).unwrap()
    }
}

fn applied(m: &Migration) -> HistoryRow {
    HistoryRow {
        version: m.version,
        name: m.name.clone(),
        state: State::Applied,
        mode: Mode::Transaction,
        sha256: m.forward.checksums.sha256.clone(),
        normalized_sha256: m.forward.checksums.normalized_sha256.clone(),
        refinery_checksum: m.refinery_checksum.to_string(),
        applied_sql: m.forward.sql.clone(),
        rollback_sql: None,
        statements_total: 1,
        statements_done: 1,
        error_statement: None,
        error_sqlstate: None,
        error_message: None,
        attempts: 1,
        started_at: String::new(),
        finished_at: None,
        duration_ms: None,
        deploy_id: None,
        environment: "staging".into(),
        release: None,
        applied_by: "test".into(),
        in_flight: None,
        rollback_done: 0,
        rollback_total: None,
        rollback_in_flight: None,
        rollback_target: None,
    }
}

/// The plan of production when staging's history holds `rows`.
fn production_after(c: &Catalog, rows: Vec<HistoryRow>) -> Plan<'_> {
    let previous = Previous {
        environment: "staging".into(),
        rows,
    };
    plan(
        (c, &[]),
        Dialect::Postgres,
        &Request::default(),
        At {
            env: "production",
            protected: true,
        },
        Some(&previous),
    )
}

const THREE: [(&str, &str); 3] = [
    (
        "V1__a.sql",
        "-- runner:irreversible test\nCREATE TABLE a (id int);\n",
    ),
    (
        "V2__b.sql",
        "-- runner:irreversible test\nCREATE TABLE b (id int);\n",
    ),
    (
        "V3__c.sql",
        "-- runner:irreversible test\nCREATE INDEX CONCURRENTLY c ON a (id);\n",
    ),
];

fn run<'a>(catalog: &'a Catalog, rows: &[HistoryRow], request: &Request) -> Plan<'a> {
    let at = At {
        env: "staging",
        protected: false,
    };
    plan((catalog, rows), Dialect::Postgres, request, at, None)
}

#[test]
fn a_fresh_database_gets_everything_in_order_with_its_mode() {
    let f = Folder::new(&THREE);
    let c = f.catalog();
    let p = run(&c, &[], &Request::default());
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    let got: Vec<(i64, Mode)> = p
        .steps
        .iter()
        .map(|s| (s.migration.version, s.script.mode))
        .collect();
    assert_eq!(
        got,
        [
            (1, Mode::Transaction),
            (2, Mode::Transaction),
            (3, Mode::Statement)
        ]
    );
}

#[test]
fn applied_migrations_are_skipped_and_target_stops_early() {
    let f = Folder::new(&THREE);
    let c = f.catalog();
    let rows = [applied(&c.migrations[0])];
    let p = run(
        &c,
        &rows,
        &Request {
            target: Some(2),
            ..Request::default()
        },
    );
    assert_eq!(p.steps.len(), 1);
    assert_eq!(p.steps[0].migration.version, 2);
    let p = run(
        &c,
        &rows,
        &Request {
            target: Some(9),
            ..Request::default()
        },
    );
    assert!(p.problems[0].contains("--target 9"), "{:?}", p.problems);
}

#[test]
fn a_cosmetic_edit_warns_and_a_semantic_edit_refuses_with_a_diff() {
    let f = Folder::new(&THREE);
    let c = f.catalog();
    let mut row = applied(&c.migrations[0]);
    row.applied_sql =
        "-- runner:irreversible test\n-- old comment\nCREATE  TABLE a (id int);\n".into();
    row.sha256 = "different".into();
    let p = run(&c, &[row.clone()], &Request::default());
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert!(p.warnings[0].contains("only in comments or whitespace"));

    row.normalized_sha256 = "also different".into();
    row.applied_sql = "-- runner:irreversible test\nCREATE TABLE a (id bigint);\n".into();
    let p = run(&c, &[row], &Request::default());
    let problem = &p.problems[0];
    assert!(
        problem.contains("V1 a was edited after it was applied in staging"),
        "{problem}"
    );
    assert!(
        problem.contains("-CREATE TABLE a (id bigint);"),
        "{problem}"
    );
    assert!(problem.contains("+CREATE TABLE a (id int);"), "{problem}");
}

#[test]
fn an_applied_migration_missing_on_disk_refuses() {
    let f = Folder::new(&THREE);
    let c = f.catalog();
    let mut ghost = applied(&c.migrations[0]);
    ghost.version = 7;
    ghost.name = "ghost".into();
    let p = run(&c, &[ghost], &Request::default());
    assert!(
        p.problems[0].contains("V7 ghost is applied in staging but its file is missing"),
        "{:?}",
        p.problems
    );
}

#[test]
fn out_of_order_is_refused_unless_admitted_by_name() {
    let f = Folder::new(&THREE);
    let c = f.catalog();
    let rows = [applied(&c.migrations[0]), applied(&c.migrations[2])];
    let p = run(&c, &rows, &Request::default());
    assert!(
        p.problems[0].contains("V2 b is pending but older than V3"),
        "{:?}",
        p.problems
    );
    assert!(p.problems[0].contains("--allow-out-of-order 2"));
    let allow = Request {
        allow_out_of_order: HashSet::from([2]),
        ..Request::default()
    };
    let p = run(&c, &rows, &allow);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.steps[0].migration.version, 2);
}

#[test]
fn interrupted_rows_are_classified() {
    let f = Folder::new(&THREE);
    let c = f.catalog();
    let mut tx = applied(&c.migrations[0]);
    tx.state = State::Applying;
    let p = run(&c, &[tx], &Request::default());
    assert_eq!(p.classified[0].state, "failed_clean");
    assert_eq!(p.steps.len(), 3, "the rolled-back migration runs again");

    let rows = [applied(&c.migrations[0]), applied(&c.migrations[1]), {
        let mut st = applied(&c.migrations[2]);
        st.state = State::Applying;
        st.mode = Mode::Statement;
        st.statements_total = 2;
        st.statements_done = 1;
        st
    }];
    let p = run(&c, &rows, &Request::default());
    assert_eq!(p.classified[0].state, "failed_partial");
    assert!(
        p.problems[0].contains("after 1 of 2 statements"),
        "{:?}",
        p.problems
    );
    let p = run(
        &c,
        &rows,
        &Request {
            resume: Some(3),
            ..Request::default()
        },
    );
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.steps[0].resume_from, 1);
}

#[test]
fn production_needs_what_staging_got() {
    let f = Folder::new(&THREE);
    let c = f.catalog();
    let p = production_after(&c, vec![applied(&c.migrations[0])]);
    assert_eq!(p.problems.len(), 2);
    assert!(
        p.problems[0].contains("V2 b has not been applied to staging"),
        "{:?}",
        p.problems
    );

    let mut changed = applied(&c.migrations[1]);
    changed.sha256 = "x".into();
    changed.normalized_sha256 = "y".into();
    let p = production_after(
        &c,
        vec![
            applied(&c.migrations[0]),
            changed,
            applied(&c.migrations[2]),
        ],
    );
    assert_eq!(p.problems.len(), 1);
    assert!(
        p.problems[0].contains("with different content"),
        "{:?}",
        p.problems
    );
}

#[test]
fn a_rollback_in_progress_blocks_the_run() {
    let f = Folder::new(&THREE);
    let c = f.catalog();
    let mut row = applied(&c.migrations[0]);
    row.state = State::RollbackFailed;
    let p = run(&c, &[row], &Request::default());
    assert!(
        p.problems[0].contains("rollback_failed"),
        "{:?}",
        p.problems
    );
}

#[test]
fn contract_migrations_and_those_after_them_are_held_unless_allowed() {
    let f = Folder::new(&[
        ("V1__a.sql", "CREATE TABLE a (id int);"),
        (
            "V2__drop.sql",
            "-- runner:phase contract\nALTER TABLE a DROP COLUMN id;",
        ),
        ("V3__b.sql", "CREATE TABLE b (id int);"),
    ]);
    let c = f.catalog();
    let hold = |allowed: &[i64]| Request {
        contract: Contract::Hold(allowed.iter().copied().collect()),
        ..Request::default()
    };
    let p = run(&c, &[], &hold(&[]));
    let steps: Vec<i64> = p.steps.iter().map(|s| s.migration.version).collect();
    assert_eq!(steps, [1]);
    assert_eq!(p.held.iter().map(|h| h.0).collect::<Vec<_>>(), [2, 3]);
    // The serving release's own contract migration may run once its predecessor is gone.
    let p = run(&c, &[], &hold(&[2]));
    assert_eq!(p.steps.len(), 3);
    assert!(p.held.is_empty());
    let p = run(&c, &[], &Request::default());
    assert_eq!(p.steps.len(), 3);
}
