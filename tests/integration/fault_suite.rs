//! The fault suite: SIGKILL and SIGINT at random points of `migrate` (transactional and
//! statement-mode files with long statements, on PostgreSQL, SQLite and MariaDB), of
//! `rollback`, of `recover` and of `deploy`, and the server ending runner's session mid-run
//! (what a restart does to a client: PostgreSQL's 57P01, MariaDB's KILL CONNECTION). After each fault only runner commands, chosen
//! from what runner prints, bring the environment to the intended state, which is then checked
//! row by row: nothing applied twice, nothing lost.
//!
//! The default test run makes a few faults; `scripts/fault-suite.sh N` makes N
//! (RUNNER_FAULT_TRIALS) and prints the tally. RUNNER_FAULT_SEED replays a run.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;

use crate::harness::cli::Output;
use crate::harness::mariadb;
use crate::harness::postgres::{self, TestDatabase};
use crate::harness::project::Project;

/// A small deterministic generator: a failing trial can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const PG_MIGRATIONS: &[(&str, &str, &str)] = &[
    (
        "V1__tables",
        "CREATE TABLE big (tag text NOT NULL, n int NOT NULL);",
        "DROP TABLE big;",
    ),
    (
        "V2__bulk",
        "INSERT INTO big SELECT 'v2', g FROM generate_series(1, 200000) g;\nSELECT pg_sleep(0.1);\nINSERT INTO big SELECT 'v2b', g FROM generate_series(1, 100000) g;",
        "DELETE FROM big WHERE tag IN ('v2', 'v2b');",
    ),
    (
        "V3__batches",
        "-- runner:no-transaction\nINSERT INTO big SELECT 'v3a', g FROM generate_series(1, 150000) g;\nINSERT INTO big SELECT 'v3b', g FROM generate_series(1, 150000) g;\nCREATE INDEX CONCURRENTLY big_tag ON big (tag);\nINSERT INTO big SELECT 'v3c', g FROM generate_series(1, 150000) g;\nINSERT INTO big SELECT 'v3d', g FROM generate_series(1, 150000) g;",
        "-- runner:no-transaction\nDELETE FROM big WHERE tag LIKE 'v3%';\nDROP INDEX CONCURRENTLY IF EXISTS big_tag;",
    ),
    (
        "V4__note",
        "ALTER TABLE big ADD COLUMN note text;\nUPDATE big SET note = 'x' WHERE tag = 'v2';",
        "ALTER TABLE big DROP COLUMN note;",
    ),
];

/// Rows each tag must hold when every migration is applied once.
const PG_EXPECTED: &[(&str, i64)] = &[
    ("v2", 200_000),
    ("v2b", 100_000),
    ("v3a", 150_000),
    ("v3b", 150_000),
    ("v3c", 150_000),
    ("v3d", 150_000),
];

/// The same migrations for MariaDB, where every file runs statement by statement (DDL commits
/// by itself); rows come from MariaDB's sequence engine.
const MYSQL_MIGRATIONS: &[(&str, &str, &str)] = &[
    (
        "V1__tables",
        "CREATE TABLE big (tag VARCHAR(10) NOT NULL, n INT NOT NULL);",
        "DROP TABLE big;",
    ),
    (
        "V2__bulk",
        "INSERT INTO big SELECT 'v2', seq FROM seq_1_to_200000;\nINSERT INTO big SELECT 'v2b', seq FROM seq_1_to_100000;",
        "DELETE FROM big WHERE tag IN ('v2', 'v2b');",
    ),
    (
        "V3__batches",
        "INSERT INTO big SELECT 'v3a', seq FROM seq_1_to_150000;\nINSERT INTO big SELECT 'v3b', seq FROM seq_1_to_150000;\nCREATE INDEX big_tag ON big (tag);\nINSERT INTO big SELECT 'v3c', seq FROM seq_1_to_150000;\nINSERT INTO big SELECT 'v3d', seq FROM seq_1_to_150000;",
        "DELETE FROM big WHERE tag LIKE 'v3%';\nDROP INDEX big_tag ON big;",
    ),
    (
        "V4__note",
        "ALTER TABLE big ADD COLUMN note TEXT;\nUPDATE big SET note = 'x' WHERE tag = 'v2';",
        "ALTER TABLE big DROP COLUMN note;",
    ),
];

fn sqlite_generate(tag: &str, n: u32) -> String {
    format!(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) INSERT INTO big SELECT '{tag}', x FROM c;"
    )
}

fn sqlite_migrations() -> Vec<(&'static str, String, String)> {
    vec![
        (
            "V1__tables",
            "CREATE TABLE big (tag TEXT NOT NULL, n INTEGER NOT NULL);".into(),
            "DROP TABLE big;".into(),
        ),
        (
            "V2__bulk",
            format!("{}\n{}", sqlite_generate("v2", 200_000), sqlite_generate("v2b", 100_000)),
            "DELETE FROM big WHERE tag IN ('v2', 'v2b');".into(),
        ),
        (
            "V3__batches",
            format!(
                "-- runner:no-transaction\n{}\n{}\nCREATE INDEX big_tag ON big (tag);\n{}\n{}",
                sqlite_generate("v3a", 150_000),
                sqlite_generate("v3b", 150_000),
                sqlite_generate("v3c", 150_000),
                sqlite_generate("v3d", 150_000)
            ),
            "-- runner:no-transaction\nDELETE FROM big WHERE tag LIKE 'v3%';\nDROP INDEX IF EXISTS big_tag;".into(),
        ),
        (
            "V4__note",
            "ALTER TABLE big ADD COLUMN note TEXT;\nUPDATE big SET note = 'x' WHERE tag = 'v2';".into(),
            "ALTER TABLE big DROP COLUMN note;".into(),
        ),
    ]
}

/// The backticked `runner ...` command of the output's `next:` line, if any.
fn printed_command(out: &Output) -> Option<Vec<String>> {
    let text = out.all();
    let line = text.lines().find(|l| l.trim_start().starts_with("next:"))?;
    let start = line.find("`runner ")?;
    let rest = &line[start + 1..];
    let command = &rest[..rest.find('`')?];
    let words = crate::harness::printed::words(command);
    Some(
        words
            .into_iter()
            .skip(1)
            .filter(|w| !w.is_empty())
            .collect(),
    )
}

enum Fault {
    Kill,
    Interrupt,
    /// The server ends runner's session (57P01), as a restart does.
    ServerEnds,
}

/// How one trial ended.
#[derive(Debug, Default)]
struct Tally {
    trials: usize,
    recovered: usize,
    manual: Vec<String>,
    lost: Vec<String>,
    longest_lock_free: Duration,
}

/// Runs `args` and injects `fault` after `delay`; returns whether the fault hit a running
/// process.
async fn faulted(
    p: &Project,
    args: &[&str],
    fault: &Fault,
    delay: Duration,
    db: Option<&TestDatabase>,
) -> bool {
    let mut child: Child = p
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if child.try_wait().unwrap().is_some() {
        return false;
    }
    match fault {
        Fault::Kill => child.kill().unwrap(),
        // SAFETY: kill(2) on our own child's pid.
        Fault::Interrupt => unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        },
        Fault::ServerEnds => {
            if let Some(db) = db {
                let mut conn = db.connect().await;
                let _ = sqlx::raw_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'runner %' AND pid <> pg_backend_pid()")
                    .execute(&mut conn)
                    .await;
            }
        }
    }
    let _ = child.wait();
    true
}

/// Runs `goal` until it succeeds, running in between only what runner prints next (and
/// `runner recover`'s first offer when a refusal names no command). `None`: it did not get
/// there, and a person would have to act.
fn recover_to(run: &dyn Fn(&[&str]) -> Output, goal: &[&str]) -> Option<usize> {
    for steps in 0..12 {
        let out = run(goal);
        if out.code == 0 {
            return Some(steps);
        }
        let next = printed_command(&out).or_else(|| {
            let env = goal
                .iter()
                .position(|a| *a == "--env")
                .map(|i| goal[i + 1])?;
            printed_command(&run(&["recover", "--env", env]))
        })?;
        let next: Vec<&str> = next.iter().map(String::as_str).collect();
        let _ = run(&next);
    }
    None
}

async fn pg_lock_free_after(conn: &mut PgConnection, since: Instant) -> Duration {
    loop {
        let held: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        if held == 0 || since.elapsed() > Duration::from_secs(30) {
            return since.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn pg_counts(conn: &mut PgConnection) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT tag, count(*) FROM big GROUP BY tag ORDER BY tag")
        .fetch_all(conn)
        .await
        .unwrap_or_default()
}

fn expected(rollback: bool) -> Vec<(String, i64)> {
    if rollback {
        return Vec::new();
    }
    PG_EXPECTED
        .iter()
        .map(|(t, n)| (t.to_string(), *n))
        .collect()
}

async fn pg_trial(rng: &mut Rng, tally: &mut Tally, clean_run: Duration) {
    let db = postgres::fresh_database().await;
    let p = Project::new("postgres", &[("ci", &db.url, "")]);
    for (stem, up, down) in PG_MIGRATIONS {
        p.migration(stem, up, Some(down));
    }
    let mut conn = db.connect().await;
    // A rollback fault starts from everything applied.
    let rollback = rng.below(4) == 0;
    if rollback {
        p.run(&["migrate", "--env", "ci"]).expect_code(0);
    }
    let goal: Vec<&str> = if rollback {
        vec!["rollback", "--env", "ci", "--to", "1"]
    } else {
        vec!["migrate", "--env", "ci"]
    };
    let fault = match rng.below(3) {
        0 => Fault::Kill,
        1 => Fault::Interrupt,
        _ => Fault::ServerEnds,
    };
    let delay = Duration::from_millis(rng.below(clean_run.as_millis() as u64 + 1));
    faulted(&p, &goal, &fault, delay, Some(&db)).await;
    let lock_free = pg_lock_free_after(&mut conn, Instant::now()).await;
    tally.longest_lock_free = tally.longest_lock_free.max(lock_free);
    // Half the time the first recovery step is itself killed part-way.
    if rng.below(2) == 0 {
        let out = p.run(&goal);
        if out.code != 0
            && let Some(next) = printed_command(&out)
        {
            let next: Vec<&str> = next.iter().map(String::as_str).collect();
            let delay = Duration::from_millis(rng.below(clean_run.as_millis() as u64 / 2 + 1));
            faulted(&p, &next, &Fault::Kill, delay, Some(&db)).await;
        }
    }
    judge(
        tally,
        format!(
            "postgres {} {:?} after {delay:?}",
            goal[0],
            fault_name(&fault)
        ),
        recover_to(&|a| p.run(a), &goal),
        pg_counts(&mut conn).await,
        expected(rollback),
    );
}

async fn mysql_counts(conn: &mut MySqlConnection) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT tag, COUNT(*) FROM big GROUP BY tag ORDER BY tag")
        .fetch_all(conn)
        .await
        .unwrap_or_default()
}

/// Ends runner's sessions on `db` from the server's side, as a restart does to its clients.
async fn mysql_end_sessions(db: &mariadb::TestDatabase) {
    let mut conn = db.connect().await;
    let ids: Vec<(i64,)> = sqlx::query_as(
        "SELECT CAST(id AS SIGNED) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    for (id,) in ids {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
            .execute(&mut conn)
            .await;
    }
}

async fn mysql_trial(rng: &mut Rng, tally: &mut Tally, clean_run: Duration) {
    let db = mariadb::fresh_database().await;
    let p = Project::new("mysql", &[("ci", &db.url, "")]);
    for (stem, up, down) in MYSQL_MIGRATIONS {
        p.migration(stem, up, Some(down));
    }
    let rollback = rng.below(4) == 0;
    if rollback {
        p.run(&["migrate", "--env", "ci"]).expect_code(0);
    }
    let goal: Vec<&str> = if rollback {
        vec!["rollback", "--env", "ci", "--to", "1"]
    } else {
        vec!["migrate", "--env", "ci"]
    };
    let fault = match rng.below(3) {
        0 => Fault::Kill,
        1 => Fault::Interrupt,
        _ => Fault::ServerEnds,
    };
    let delay = Duration::from_millis(rng.below(clean_run.as_millis() as u64 + 1));
    let mut child: Child = p
        .command(&goal)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(delay).await;
    if child.try_wait().unwrap().is_none() {
        match fault {
            Fault::Kill => child.kill().unwrap(),
            // SAFETY: kill(2) on our own child's pid.
            Fault::Interrupt => unsafe {
                libc::kill(child.id() as i32, libc::SIGINT);
            },
            Fault::ServerEnds => mysql_end_sessions(&db).await,
        }
    }
    let _ = child.wait();
    // Half the time the first recovery step is itself killed part-way.
    if rng.below(2) == 0 {
        let out = p.run(&goal);
        if out.code != 0
            && let Some(next) = printed_command(&out)
        {
            let next: Vec<&str> = next.iter().map(String::as_str).collect();
            let delay = Duration::from_millis(rng.below(clean_run.as_millis() as u64 / 2 + 1));
            faulted(&p, &next, &Fault::Kill, delay, None).await;
        }
    }
    let steps = recover_to(&|a| p.run(a), &goal);
    let mut conn = db.connect().await;
    judge(
        tally,
        format!("mariadb {} {} after {delay:?}", goal[0], fault_name(&fault)),
        steps,
        mysql_counts(&mut conn).await,
        expected(rollback),
    );
}

fn fault_name(f: &Fault) -> &'static str {
    match f {
        Fault::Kill => "SIGKILL",
        Fault::Interrupt => "SIGINT",
        Fault::ServerEnds => "session ended by the server",
    }
}

fn judge(
    tally: &mut Tally,
    what: String,
    steps: Option<usize>,
    got: Vec<(String, i64)>,
    want: Vec<(String, i64)>,
) {
    tally.trials += 1;
    match steps {
        None => tally.manual.push(what),
        Some(_) if got != want => tally
            .lost
            .push(format!("{what}: rows {got:?}, want {want:?}")),
        Some(_) => tally.recovered += 1,
    }
}

fn sqlite_counts(path: &std::path::Path) -> Vec<(String, i64)> {
    let out = std::process::Command::new("sqlite3")
        .arg(path)
        .arg("SELECT tag || '|' || count(*) FROM big GROUP BY tag ORDER BY tag")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (t, n) = l.split_once('|')?;
            Some((t.to_string(), n.parse().ok()?))
        })
        .collect()
}

async fn sqlite_trial(rng: &mut Rng, tally: &mut Tally, clean_run: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ci.db");
    let p = Project::new(
        "sqlite",
        &[("ci", &format!("sqlite://{}", db.display()), "")],
    );
    for (stem, up, down) in sqlite_migrations() {
        p.migration(stem, &up, Some(&down));
    }
    let rollback = rng.below(4) == 0;
    if rollback {
        p.run(&["migrate", "--env", "ci"]).expect_code(0);
    }
    let goal: Vec<&str> = if rollback {
        vec!["rollback", "--env", "ci", "--to", "1"]
    } else {
        vec!["migrate", "--env", "ci"]
    };
    let fault = if rng.below(2) == 0 {
        Fault::Kill
    } else {
        Fault::Interrupt
    };
    let delay = Duration::from_millis(rng.below(clean_run.as_millis() as u64 + 1));
    faulted(&p, &goal, &fault, delay, None).await;
    judge(
        tally,
        format!("sqlite {} {} after {delay:?}", goal[0], fault_name(&fault)),
        recover_to(&|a| p.run(a), &goal),
        sqlite_counts(&db),
        expected(rollback),
    );
}

/// A deploy with migrations killed at a random point, on the example's hooks: the same deploy
/// run again (after what runner prints) ends with the release serving and each migration
/// applied once.
fn deploy_trial(rng: &mut Rng, tally: &mut Tally) {
    let shop = crate::harness::shop::sqlite_shop(false);
    let migrations = shop.path().join("migrations");
    let write = |name: &str, sql: &str| std::fs::write(migrations.join(name), sql).unwrap();
    write(
        "V1__customers.sql",
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);\nCREATE TABLE big (tag TEXT NOT NULL, n INTEGER NOT NULL);\n",
    );
    write(
        "V1__customers.down.sql",
        "DROP TABLE big;\nDROP TABLE customers;\n",
    );
    for (stem, up, down) in sqlite_migrations().into_iter().skip(1) {
        write(&format!("{stem}.sql"), &up);
        write(&format!("{stem}.down.sql"), &down);
    }
    let goal = [
        "deploy",
        "--env",
        "staging",
        "--with-migrations",
        "--version",
        "2.0.0",
    ];
    let delay = Duration::from_millis(rng.below(2500));
    let mut child = shop
        .command(&goal)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let fault = if rng.below(2) == 0 {
        let _ = child.kill();
        Fault::Kill
    } else {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        Fault::Interrupt
    };
    let _ = child.wait();
    let steps = recover_to(&|a| shop.run(a), &goal);
    let mut got = sqlite_counts(&shop.path().join("db/staging.db"));
    got.push((
        "serving".into(),
        i64::from(shop.serving(0).as_deref() == Some("2.0.0")),
    ));
    let mut want = expected(false);
    want.push(("serving".into(), 1));
    judge(
        tally,
        format!("deploy {} after {delay:?}", fault_name(&fault)),
        steps,
        got,
        want,
    );
}

fn trials() -> usize {
    std::env::var("RUNNER_FAULT_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(6)
}

#[tokio::test]
async fn fault_suite_every_fault_is_recovered_with_runner_alone() {
    let seed = std::env::var("RUNNER_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    let mut rng = Rng(seed);
    // How long a clean run takes on this machine: faults land anywhere inside it.
    let clean = {
        let db = postgres::fresh_database().await;
        let p = Project::new("postgres", &[("ci", &db.url, "")]);
        for (stem, up, down) in PG_MIGRATIONS {
            p.migration(stem, up, Some(down));
        }
        let t = Instant::now();
        p.run(&["migrate", "--env", "ci"]).expect_code(0);
        t.elapsed()
    };
    let sqlite_clean = {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::new(
            "sqlite",
            &[("ci", &format!("sqlite://{}/c.db", dir.path().display()), "")],
        );
        for (stem, up, down) in sqlite_migrations() {
            p.migration(stem, &up, Some(&down));
        }
        let t = Instant::now();
        p.run(&["migrate", "--env", "ci"]).expect_code(0);
        t.elapsed()
    };
    let mysql_clean = {
        let db = mariadb::fresh_database().await;
        let p = Project::new("mysql", &[("ci", &db.url, "")]);
        for (stem, up, down) in MYSQL_MIGRATIONS {
            p.migration(stem, up, Some(down));
        }
        let t = Instant::now();
        p.run(&["migrate", "--env", "ci"]).expect_code(0);
        t.elapsed()
    };
    // RUNNER_FAULT_ONLY=mariadb (or postgres, sqlite, deploy) runs one kind only.
    let only = std::env::var("RUNNER_FAULT_ONLY").unwrap_or_default();
    let kinds: Vec<usize> = match only.as_str() {
        "postgres" => vec![0],
        "sqlite" => vec![1],
        "deploy" => vec![2],
        "mariadb" | "mysql" => vec![3],
        _ => vec![0, 1, 3, 0, 1, 2],
    };
    let mut tally = Tally::default();
    let started = Instant::now();
    for i in 0..trials() {
        match kinds[i % kinds.len()] {
            0 => pg_trial(&mut rng, &mut tally, clean).await,
            1 => sqlite_trial(&mut rng, &mut tally, sqlite_clean).await,
            2 => deploy_trial(&mut rng, &mut tally),
            _ => mysql_trial(&mut rng, &mut tally, mysql_clean).await,
        }
    }
    println!(
        "fault suite (seed {seed}): recovered {}/{}, manual {}, lost {}; longest time to lock-free {} ms; clean runs: postgres {} ms, sqlite {} ms, mariadb {} ms; {:.0} s",
        tally.recovered,
        tally.trials,
        tally.manual.len(),
        tally.lost.len(),
        tally.longest_lock_free.as_millis(),
        clean.as_millis(),
        sqlite_clean.as_millis(),
        mysql_clean.as_millis(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        tally.manual.is_empty() && tally.lost.is_empty(),
        "seed {seed}: manual {:?}, lost {:?}",
        tally.manual,
        tally.lost
    );
}
