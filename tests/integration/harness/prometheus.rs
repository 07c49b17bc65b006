//! A throwaway Prometheus server (the distribution's package, installed by scripts/setup-tests) on a
//! free loopback port, scraping the given targets every second, its data in a temp folder.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::shop::free_port;

pub struct Prometheus {
    _dir: tempfile::TempDir,
    child: Child,
    pub url: String,
}

impl Prometheus {
    /// Scrapes `targets` (host:port) every second.
    pub fn start(targets: &[String]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts (scripts/setup-tests installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        // Ready, and scraping: Prometheus applies its targets a few seconds after it starts.
        let scraping = || {
            ureq::get(&format!("{url}/api/v1/targets"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .is_some_and(|body| body.contains("\"scrapeUrl\""))
        };
        while !scraping() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "prometheus did not start scraping"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Prometheus {
            _dir: dir,
            child,
            url,
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
