//! A routed shop: a real HAProxy (started here, its runtime API on a unix socket in a temp
//! folder, its frontend on a free loopback port), or a real nginx (its upstream file and pid
//! in the temp folder), in front of demo app servers that runner deploys through the example
//! project's hooks, one per server; and a load generator that sends requests through the
//! frontend and counts what answered.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cli::{Output, Runner, repo_root};
use super::shop::free_port;

/// The deploy hook runs behind this guard, `sh -c GUARD STATE SERVER VERSION deploy.sh ARGS`:
/// a file `STATE/fail-SERVER-VERSION` makes it fail on that server (see `fail_deploy`).
const DEPLOY_GUARD: &str = "if [ -e \\\"$0/fail-$1-$2\\\" ]; then echo \\\"deploy refused on $1 (test)\\\"; exit 1; fi; exec \\\"$3\\\" \\\"$4\\\" \\\"$2\\\" \\\"$5\\\" \\\"$6\\\"";

pub struct Server {
    pub name: String,
    pub port: u16,
    pub slot: Option<String>,
}

/// The router in front of the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    Haproxy,
    Nginx,
}

/// A project whose `production` environment is routed through HAProxy or nginx.
pub struct Fleet {
    dir: tempfile::TempDir,
    pub frontend: u16,
    pub servers: Vec<Server>,
    proxy: Proxy,
    /// The router's process (nginx: its master).
    haproxy: Option<Child>,
}

pub fn nginx_binary() -> PathBuf {
    for candidate in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    PathBuf::from("nginx")
}

pub fn haproxy_binary() -> PathBuf {
    for candidate in [
        "/usr/sbin/haproxy",
        "/usr/local/sbin/haproxy",
        "/usr/bin/haproxy",
    ] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    PathBuf::from("haproxy")
}

impl Fleet {
    /// `servers`: (name, slot); the first slot's servers start with the traffic in HAProxy's
    /// configuration (weight 256), the others at weight 0. `extra`: more lines for the
    /// environment (its `[rollout]` table comes last).
    pub fn new(strategy: &str, servers: &[(&str, Option<&str>)], extra: &str) -> Fleet {
        Fleet::through(Proxy::Haproxy, strategy, servers, extra)
    }

    /// The same, through a real nginx that runner drives by rewriting its upstream file.
    pub fn nginx(strategy: &str, servers: &[(&str, Option<&str>)], extra: &str) -> Fleet {
        Fleet::through(Proxy::Nginx, strategy, servers, extra)
    }

    fn through(
        proxy: Proxy,
        strategy: &str,
        servers: &[(&str, Option<&str>)],
        extra: &str,
    ) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let frontend = free_port();
        let servers: Vec<Server> = servers
            .iter()
            .map(|(n, s)| Server {
                name: n.to_string(),
                port: free_port(),
                slot: s.map(String::from),
            })
            .collect();
        std::fs::create_dir_all(dir.path().join("haproxy")).unwrap();
        std::fs::create_dir_all(dir.path().join("nginx/tmp")).unwrap();
        std::fs::create_dir_all(dir.path().join("db")).unwrap();
        let scripts = repo_root().join("scripts");
        let deploy = scripts.join("deploy.sh").display().to_string();
        let list: Vec<String> = servers
            .iter()
            .map(|s| {
                let slot = s
                    .slot
                    .as_ref()
                    .map(|x| format!(", slot = \"{x}\""))
                    .unwrap_or_default();
                format!(
                    "{{ name = \"{}\", address = \"127.0.0.1:{}\"{slot} }}",
                    s.name, s.port
                )
            })
            .collect();
        let db = format!("sqlite://{}/db/production.db", dir.path().display());
        let toml = format!(
            "[migrations]\ndialect = \"sqlite\"\n[deploy]\npipeline = [\"production\"]\n\n\
             [environments.production]\ndatabase_url = \"{db}\"\nstrategy = \"{strategy}\"\n\
             servers = [{}]\n\
             router = {router}\n\
             deploy = [\"sh\", \"-c\", \"{guard}\", \"{state}\", \"{{server}}\", \"{{version}}\", \"{deploy}\", \"{{env}}-{{server}}\", \"{{port}}\", \"{db}\"]\n\
             stop = [\"{deploy}\", \"{{env}}-{{server}}\", \"\", \"{{port}}\", \"\"]\n\
             health = {{ url = \"http://{{address}}/health\", timeout = \"5s\", interval = \"100ms\" }}\n{extra}\n",
            list.join(", "),
            guard = DEPLOY_GUARD,
            state = dir.path().join("state").display(),
            router = match proxy {
                Proxy::Haproxy => {
                    "{ kind = \"haproxy\", socket = \"haproxy/admin.sock\", backend = \"app\" }"
                        .to_string()
                }
                Proxy::Nginx => {
                    let nginx = |action: &str| {
                        format!(
                            "[\"{}\", \"-p\", \"{p}\", \"-e\", \"{p}/error.log\", \"-c\", \"{p}/nginx.conf\", {action}]",
                            nginx_binary().display(),
                            p = dir.path().join("nginx").display()
                        )
                    };
                    format!(
                        "{{ kind = \"nginx\", file = \"nginx/upstream.conf\", upstream = \"app\", pid = \"nginx/nginx.pid\", test = {}, reload = {} }}",
                        nginx("\"-t\", \"-q\""),
                        nginx("\"-s\", \"reload\"")
                    )
                }
            },
        );
        std::fs::write(dir.path().join("runner.toml"), toml).unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        std::fs::write(
            dir.path().join("migrations/V1__customers.sql"),
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT);\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("migrations/V1__customers.down.sql"),
            "DROP TABLE customers;\n",
        )
        .unwrap();
        let mut fleet = Fleet {
            dir,
            frontend,
            servers,
            proxy,
            haproxy: None,
        };
        match proxy {
            Proxy::Haproxy => {
                fleet.write_haproxy_config();
                fleet.start_haproxy(None);
            }
            Proxy::Nginx => fleet.start_nginx(),
        }
        fleet
    }

    /// The first slot's servers start with the traffic (weight 256), the others `down`.
    fn start_nginx(&mut self) {
        let dir = self.path().join("nginx");
        let first_slot = self.servers.first().and_then(|s| s.slot.clone());
        let lines: Vec<String> = self
            .servers
            .iter()
            .map(|s| {
                let state = if s.slot.is_none() || s.slot == first_slot {
                    "weight=256"
                } else {
                    "down"
                };
                format!("    server 127.0.0.1:{} {state};", s.port)
            })
            .collect();
        std::fs::write(
            dir.join("upstream.conf"),
            format!("upstream app {{\n{}\n}}\n", lines.join("\n")),
        )
        .unwrap();
        let temp = |name: &str| format!("    {name}_temp_path {}/tmp/{name};\n", dir.display());
        let config = format!(
            "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n    access_log off;\n    keepalive_timeout 0;\n{}{}{}{}{}\
             \x20   include {d}/upstream.conf;\n\
             \x20   server {{\n        listen 127.0.0.1:{};\n\
             \x20       location / {{\n            proxy_pass http://app;\n\
             \x20           proxy_next_upstream error timeout;\n        }}\n    }}\n}}\n",
            temp("client_body"),
            temp("proxy"),
            temp("fastcgi"),
            temp("uwsgi"),
            temp("scgi"),
            self.frontend,
            d = dir.display(),
        );
        // keepalive_timeout 0: a reload closes idle client keep-alive connections, and a client
        // that sends on one at that instant gets a reset, which the load generator (unlike
        // browsers and most HTTP clients, which resend an idempotent request) would count as a
        // failed request. The README says so.
        std::fs::write(dir.join("nginx.conf"), config).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts (scripts/setup-tests installs it)");
        self.haproxy = Some(child);
        let started = Instant::now();
        while !dir.join("nginx.pid").exists()
            || std::net::TcpStream::connect(("127.0.0.1", self.frontend)).is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not start: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the router (nginx's master asked to quit, so its workers go with it).
    pub fn stop_router(&mut self) {
        if let Some(mut child) = self.haproxy.take() {
            if self.proxy == Proxy::Nginx {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(child.id().to_string())
                    .status();
            } else {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// The upstream file runner writes, as nginx reads it.
    pub fn upstream(&self) -> String {
        std::fs::read_to_string(self.path().join("nginx/upstream.conf")).unwrap()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn socket(&self) -> PathBuf {
        self.path().join("haproxy/admin.sock")
    }

    fn write_haproxy_config(&self) {
        let first_slot = self.servers.first().and_then(|s| s.slot.clone());
        let lines: Vec<String> = self
            .servers
            .iter()
            .map(|s| {
                let weight = if s.slot.is_none() || s.slot == first_slot {
                    256
                } else {
                    0
                };
                format!(
                    "    server {} 127.0.0.1:{} weight {weight} check inter 100ms rise 1 fall 2",
                    s.name, s.port
                )
            })
            .collect();
        let config = format!(
            "global\n    stats socket {} mode 600 level admin\n\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
             \x20   retries 3\n    option redispatch\n    retry-on conn-failure empty-response response-timeout\n\n\
             frontend web\n    bind 127.0.0.1:{}\n    default_backend app\n\n\
             backend app\n    balance roundrobin\n    option httpchk GET /health\n{}\n",
            self.socket().display(),
            self.frontend,
            lines.join("\n")
        );
        std::fs::write(self.path().join("haproxy/haproxy.cfg"), config).unwrap();
    }

    /// Starts HAProxy in the foreground (a child of the test); with `replacing`, as a reload:
    /// the new process takes over from the old one, which finishes its requests and exits.
    fn start_haproxy(&mut self, replacing: Option<u32>) {
        let mut command = Command::new(haproxy_binary());
        command
            .arg("-db")
            .arg("-f")
            .arg(self.path().join("haproxy/haproxy.cfg"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(pid) = replacing {
            command.arg("-sf").arg(pid.to_string());
        }
        let child = command
            .spawn()
            .expect("haproxy starts (scripts/setup-tests installs it)");
        let started = Instant::now();
        let pid = child.id();
        self.haproxy = Some(child);
        // Ready when its runtime API answers from the new process.
        loop {
            if let Some(info) = self.admin("show info")
                && info.contains(&format!("Pid: {pid}"))
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "haproxy did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A reload: HAProxy's runtime changes (weights, states) are lost.
    pub fn reload_haproxy(&mut self) {
        let old = self.haproxy.take().unwrap();
        self.start_haproxy(Some(old.id()));
        let mut old = old;
        let _ = old.wait();
    }

    /// One runtime API command.
    pub fn admin(&self, command: &str) -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::os::unix::net::UnixStream::connect(self.socket()).ok()?;
        s.write_all(format!("{command}\n").as_bytes()).ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// (weight, admin state bits) of each server, as HAProxy holds them.
    pub fn weights(&self) -> Vec<(String, u32, u32)> {
        let state = self.admin("show servers state app").unwrap_or_default();
        state
            .lines()
            .filter(|l| !l.starts_with('#') && l.split_whitespace().count() > 8)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[3].to_string(),
                    f[7].parse().unwrap(),
                    f[6].parse().unwrap(),
                )
            })
            .collect()
    }

    pub fn weight(&self, server: &str) -> u32 {
        if self.proxy == Proxy::Nginx {
            // `server ADDRESS weight=N;` or `down` (no traffic).
            let port = self.servers.iter().find(|s| s.name == server).unwrap().port;
            let text = self.upstream();
            let line = text
                .lines()
                .find(|l| l.contains(&format!("127.0.0.1:{port} ")))
                .unwrap();
            let directive = line.split('#').next().unwrap();
            return directive
                .split_whitespace()
                .find_map(|w| {
                    w.trim_end_matches(';')
                        .strip_prefix("weight=")?
                        .parse()
                        .ok()
                })
                .filter(|_| !directive.contains(" down"))
                .unwrap_or(0);
        }
        self.weights()
            .into_iter()
            .find(|w| w.0 == server)
            .map(|w| w.1)
            .unwrap()
    }

    pub fn runner(&self, args: &[&str]) -> Runner {
        Runner::new(self.path())
            .args(args)
            .env("RUNNER_DEMO_APP", env!("CARGO_BIN_EXE_runner-demo-app"))
            .env("RUNNER_DEMO_STATE", self.state().to_str().unwrap())
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.runner(args).run()
    }

    fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    /// host:port of every server.
    pub fn addresses(&self) -> Vec<String> {
        self.servers
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect()
    }

    /// Adds lines at the end of runner.toml (a top-level table such as `[notify]`).
    pub fn append_config(&self, toml: &str) {
        let path = self.path().join("runner.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(toml);
        std::fs::write(path, text).unwrap();
    }

    /// Makes the deploy hook fail on `server` for `version`.
    pub fn fail_deploy(&self, server: &str, version: &str) {
        std::fs::create_dir_all(self.state()).unwrap();
        std::fs::write(self.state().join(format!("fail-{server}-{version}")), "").unwrap();
    }

    /// Writes `migrations/NAME` (a rollback too when `down` is given).
    pub fn migration(&self, stem: &str, up: &str, down: Option<&str>) -> &Self {
        let dir = self.path().join("migrations");
        std::fs::write(dir.join(format!("{stem}.sql")), up).unwrap();
        if let Some(down) = down {
            std::fs::write(dir.join(format!("{stem}.down.sql")), down).unwrap();
        }
        self
    }

    /// The first release, 1.0.0, with the migrations: it takes all traffic at once.
    pub fn deploy_first(&self) -> Output {
        self.run(&[
            "deploy",
            "--env",
            "production",
            "--version",
            "1.0.0",
            "--with-migrations",
        ])
        .expect_code(0)
    }

    /// Sends requests through the frontend from `clients` threads until stopped.
    pub fn load(&self, clients: usize) -> Load {
        Load::start(self.frontend, clients)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // The demo apps the hooks started, then HAProxy.
        if let Ok(entries) = std::fs::read_dir(self.state()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.ends_with(".pid")
                    && let Ok(pid) = std::fs::read_to_string(e.path())
                {
                    let _ = Command::new("kill").arg(pid.trim()).status();
                }
            }
        }
        self.stop_router();
    }
}

/// One request through the frontend.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The version that answered 200, or why it failed.
    pub answer: Result<String, String>,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    /// The next 600 requests: `release` answers `target` % of them, within 3 points, and none
    /// fails.
    #[track_caller]
    pub fn assert_share(&self, release: &str, target: f64) {
        let from = self.count();
        let samples = self.take(from, 600);
        let got = share(&samples, release);
        assert!(
            (got - target).abs() <= 3.0,
            "{release} answered {got:.1}% at a step of {target}% over {} requests",
            samples.len()
        );
        assert_none_failed(&samples);
    }

    fn start(port: u16, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, samples) = (Arc::clone(&stop), Arc::clone(&samples));
                std::thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .timeout_global(Some(Duration::from_secs(10)))
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let url = format!("http://127.0.0.1:{port}/");
                    while !stop.load(Ordering::Relaxed) {
                        let answer = match agent.get(&url).call() {
                            Ok(mut r) if r.status() == 200 => {
                                let body = r.body_mut().read_to_string().unwrap_or_default();
                                Ok(body.trim().trim_start_matches("version ").to_string())
                            }
                            Ok(mut r) => Err(format!(
                                "HTTP {} {}",
                                r.status(),
                                r.body_mut().read_to_string().unwrap_or_default().trim()
                            )),
                            Err(e) => Err(e.to_string()),
                        };
                        samples.lock().unwrap().push(Sample { answer });
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
            })
            .collect();
        Load {
            stop,
            samples,
            threads,
        }
    }

    /// How many samples so far.
    pub fn count(&self) -> usize {
        self.samples.lock().unwrap().len()
    }

    /// Waits until `n` more samples arrived after index `from`, and returns them.
    pub fn take(&self, from: usize, n: usize) -> Vec<Sample> {
        let started = Instant::now();
        while self.count() < from + n {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the load generator stalled"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        self.samples.lock().unwrap()[from..from + n].to_vec()
    }

    pub fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        Arc::try_unwrap(self.samples)
            .map(|m| m.into_inner().unwrap())
            .unwrap_or_default()
    }
}

/// The share of `samples` answered by `version`, in percent.
pub fn share(samples: &[Sample], version: &str) -> f64 {
    let n = samples
        .iter()
        .filter(|s| s.answer.as_deref() == Ok(version))
        .count();
    100.0 * n as f64 / samples.len().max(1) as f64
}

/// The failed samples, for assertion messages.
pub fn failures(samples: &[Sample]) -> Vec<String> {
    samples
        .iter()
        .filter_map(|s| s.answer.clone().err())
        .collect()
}

/// Every request answered: none failed (the first few failures shown otherwise).
#[track_caller]
pub fn assert_none_failed(samples: &[Sample]) {
    let failed = failures(samples);
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {:?}",
        failed.len(),
        samples.len(),
        &failed[..failed.len().min(5)]
    );
}

/// Under load (4 clients through the router): `deploy --version to`, after which every request
/// is answered by `to`; `between`; then `rollback`, after which every request is answered by
/// `back`; no request failed. The deploy's and the rollback's output (how long the rollback
/// takes is a row of `scripts/bench-strategies.sh`, not a bound here).
pub fn switch_and_back(f: &Fleet, to: &str, back: &str, between: &dyn Fn()) -> (Output, Output) {
    let load = f.load(4);
    let before = load.take(0, 200);
    assert_eq!(share(&before, back), 100.0, "{:?}", failures(&before));
    let deployed = f
        .run(&["deploy", "--env", "production", "--version", to])
        .expect_code(0);
    let switched = load.count();
    let after = load.take(switched, 300);
    assert_eq!(share(&after, to), 100.0, "{:?}", failures(&after));
    between();
    let rolled_back = f.run(&["rollback", "--env", "production"]).expect_code(0);
    let rolled = load.count();
    let samples = load.take(rolled, 300);
    assert_eq!(share(&samples, back), 100.0, "{:?}", failures(&samples));
    let all = load.stop();
    assert!(all.len() > 800, "{} requests", all.len());
    assert_none_failed(&all);
    (deployed, rolled_back)
}
