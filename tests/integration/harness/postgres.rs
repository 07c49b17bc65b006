//! One throwaway PostgreSQL cluster per test run, and a fresh database for each test.
//!
//! The cluster is made with the machine's own `initdb` and `pg_ctl` (as the `postgres` user
//! when the tests run as root), listens on a free port on 127.0.0.1 with password auth, and
//! lives in a temp folder. A watchdog process stops the server and deletes the folder when
//! the test process exits, whether the tests passed, failed or were interrupted.
//!
//! Missing PostgreSQL binaries fail the tests with an install hint: they never skip.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The password of the cluster's `runner` role. Tests assert that runner never prints it.
pub const PASSWORD: &str = "pg-test-Secr3t-7f3a";
const USER: &str = "runner";

pub struct Cluster {
    pub port: u16,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(1);

/// A database of its own for one test.
pub struct TestDatabase {
    pub name: String,
    /// postgres://runner:PASSWORD@127.0.0.1:PORT/NAME
    pub url: String,
}

impl TestDatabase {
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to test database {}: {e}", self.name))
    }
}

pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start_cluster)
}

impl Cluster {
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }
}

/// Creates an empty database on the shared cluster.
pub async fn fresh_database() -> TestDatabase {
    let cluster = cluster();
    let name = format!("test_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
    let mut admin = PgConnection::connect(&cluster.url("postgres"))
        .await
        .expect("connect to the test cluster's postgres database");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    admin.close().await.ok();
    TestDatabase {
        url: cluster.url(&name),
        name,
    }
}

fn start_cluster() -> Cluster {
    let bin = find_binaries();
    let owner = server_owner();
    let base = tempfile::Builder::new()
        .prefix("runner-test-pg-")
        .tempdir()
        .expect("create a temp folder for the test cluster")
        .keep();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&base, Some(uid), Some(gid)).expect("chown the cluster folder");
    }
    let data = base.join("data");
    let pwfile = base.join("pwfile");
    std::fs::write(&pwfile, PASSWORD).expect("write the password file");
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).expect("chown the password file");
    }
    start_watchdog(&base, &data);

    run_as(owner, &base, bin.join("initdb"), |c| {
        c.arg("-D").arg(&data).args([
            "-U",
            USER,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        c.arg(format!("--pwfile={}", pwfile.display()));
    });

    let mut last_error = String::new();
    for _ in 0..5 {
        let port = free_port();
        // pg_stat_statements (in the postgresql package) feeds the query check's tests.
        let statements = bin
            .parent()
            .is_some_and(|p| p.join("lib/pg_stat_statements.so").is_file());
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200{}",
            base.display(),
            if statements {
                " -c shared_preload_libraries=pg_stat_statements"
            } else {
                ""
            }
        );
        let started = try_run_as(owner, &base, bin.join("pg_ctl"), |c| {
            c.arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(base.join("server.log"));
            c.args(["-w", "-t", "60", "-o", &options, "start"]);
        });
        match started {
            Ok(()) => return Cluster { port },
            Err(e) => last_error = e,
        }
    }
    panic!("the test PostgreSQL cluster did not start: {last_error}");
}

/// initdb and pg_ctl: $RUNNER_PG_BIN, the newest /usr/lib/postgresql/*/bin, or PATH.
fn find_binaries() -> PathBuf {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let from_env = std::env::var_os("RUNNER_PG_BIN").map(PathBuf::from);
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    debian.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    from_env
        .into_iter()
        .chain(debian.into_iter().rev())
        .chain(path_dirs)
        .find(|d| has_both(d))
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries (initdb, pg_ctl) were not found in $RUNNER_PG_BIN, \
                 /usr/lib/postgresql/*/bin or PATH. The tests need a real PostgreSQL: run \
                 `scripts/setup-tests` as root (it installs the postgresql package), or install it \
                 yourself (Debian/Ubuntu: apt-get install postgresql), or point RUNNER_PG_BIN at \
                 the folder holding initdb and pg_ctl."
            )
        })
}

/// When the tests run as root, the server must run as `postgres`: its uid and gid.
fn server_owner() -> Option<(u32, u32)> {
    let running_as_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if !running_as_root {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let ids = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres") && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    });
    Some(ids.unwrap_or_else(|| {
        panic!(
            "the tests run as root, and PostgreSQL refuses to run as root, but there is no \
             `postgres` user: run `scripts/setup-tests` (the postgresql package creates it)"
        )
    }))
}

fn run_as(
    owner: Option<(u32, u32)>,
    base: &Path,
    program: PathBuf,
    args: impl FnOnce(&mut Command),
) {
    if let Err(e) = try_run_as(owner, base, program, args) {
        panic!("{e}");
    }
}

fn try_run_as(
    owner: Option<(u32, u32)>,
    base: &Path,
    program: PathBuf,
    args: impl FnOnce(&mut Command),
) -> Result<(), String> {
    let mut command = Command::new(&program);
    args(&mut command);
    command
        .current_dir(base)
        .env("HOME", base)
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    let output = command
        .output()
        .map_err(|e| format!("{} could not start: {e}", program.display()))?;
    if output.status.success() {
        return Ok(());
    }
    let log = std::fs::read_to_string(base.join("server.log")).unwrap_or_default();
    Err(format!(
        "{} failed ({}):\n{}{}\n{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        log
    ))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port on 127.0.0.1")
}

/// A process outside our process group that waits for this test process to end, then stops
/// the server (SIGQUIT: immediate shutdown) and deletes the cluster folder.
// Never waited for on purpose: the watchdog must outlive this process.
#[allow(clippy::zombie_processes)]
fn start_watchdog(base: &Path, data: &Path) {
    let script = r#"
        while kill -0 "$TEST_PID" 2>/dev/null; do sleep 0.5; done
        pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null)
        if [ -n "$pid" ]; then
            kill -QUIT "$pid" 2>/dev/null
            for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.3; done
        fi
        rm -rf "$BASE"
    "#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("TEST_PID", std::process::id().to_string())
        .env("DATA", data)
        .env("BASE", base)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start the test cluster's watchdog");
}
