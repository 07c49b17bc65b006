//! One throwaway MariaDB server per test run (the distribution's package: `mariadb-install-db`
//! then `mariadbd`, on a unix socket in a temp folder, no TCP, no system service), and a fresh
//! database for each test. A watchdog stops the server and deletes the folder when the test
//! process exits. Missing binaries fail the tests with an install hint: they never skip.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::mysql::MySqlConnection;

pub struct Server {
    pub socket: PathBuf,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(1);

pub struct TestDatabase {
    pub name: String,
    /// mysql://root@localhost/NAME?socket=...
    pub url: String,
}

impl TestDatabase {
    pub async fn connect(&self) -> MySqlConnection {
        MySqlConnection::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to test database {}: {e}", self.name))
    }
}

pub fn server() -> &'static Server {
    SERVER.get_or_init(start)
}

impl Server {
    pub fn url(&self, database: &str) -> String {
        format!(
            "mysql://root@localhost/{database}?socket={}",
            self.socket.display()
        )
    }
}

/// Creates an empty database on the shared server.
pub async fn fresh_database() -> TestDatabase {
    let server = server();
    let name = format!("test_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
    let mut admin = MySqlConnection::connect(&server.url("mysql"))
        .await
        .expect("connect to the test MariaDB");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    admin.close().await.ok();
    TestDatabase {
        url: server.url(&name),
        name,
    }
}

fn find(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{name} was not found (/usr/sbin, /usr/bin). The MySQL tests need a real MariaDB: run \
         `scripts/setup-tests` as root (it installs the mariadb-server package without starting it), or \
         install it yourself (Debian/Ubuntu: apt-get install mariadb-server)."
    )
}

// The server outlives this function (its watchdog ends it with the test process).
#[allow(clippy::zombie_processes)]
fn start() -> Server {
    let install = find("mariadb-install-db");
    let daemon = find("mariadbd");
    let base = tempfile::Builder::new()
        .prefix("runner-test-mariadb-")
        .tempdir()
        .expect("create a temp folder for the test MariaDB")
        .keep();
    let data = base.join("data");
    let socket = base.join("mysqld.sock");
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    // As root, mariadbd must be told to stay root (it would switch to `mysql`).
    let user: Vec<String> = if root {
        vec!["--user=root".into()]
    } else {
        Vec::new()
    };
    let out = Command::new(&install)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(&user)
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .stdin(Stdio::null())
        .output()
        .expect("run mariadb-install-db");
    assert!(
        out.status.success(),
        "mariadb-install-db failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let child = Command::new(&daemon)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--pid-file={}", base.join("mysqld.pid").display()))
        .arg(format!("--log-error={}", base.join("error.log").display()))
        .args(&user)
        .args([
            "--skip-networking",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=0",
            "--max-connections=300",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start mariadbd");
    start_watchdog(&base, child.id());
    let started = Instant::now();
    while !socket.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the test MariaDB did not start: {}",
            std::fs::read_to_string(base.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { socket }
}

/// Waits for this test process to end, then stops the server and deletes its folder.
// Never waited for on purpose: the watchdog must outlive this process.
#[allow(clippy::zombie_processes)]
fn start_watchdog(base: &Path, pid: u32) {
    let script = r#"
        while kill -0 "$TEST_PID" 2>/dev/null; do sleep 0.5; done
        kill -KILL "$SERVER_PID" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.3; done
        rm -rf "$BASE"
    "#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("TEST_PID", std::process::id().to_string())
        .env("SERVER_PID", pid.to_string())
        .env("BASE", base)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start the test MariaDB's watchdog");
}
