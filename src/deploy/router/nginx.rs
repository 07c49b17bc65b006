//! The nginx router: open-source nginx has no runtime API, so runner owns one file, the
//! `upstream` block the nginx configuration includes in its `http` block, and changes traffic by
//! rewriting that file's `server` lines (`weight=N`, or `down` for a server out of traffic),
//! testing the whole configuration (`nginx -t`) and reloading it gracefully (`nginx -s reload`).
//!
//! What runner reads back is the file, and the change counts only once nginx's master has
//! started workers with it: a configuration that fails the test, or that the master refuses, is
//! put back as it was. nginx has no drain state: a server taken out is `down` in the new
//! configuration, while the workers of the old one finish the requests they hold; a drain
//! waits until those workers have exited. nginx (open source) checks servers only passively,
//! so a server is reported up.
//!
//! The file's `server` lines carry runner's intent in a trailing comment (`# runner: blue
//! weight 13 ready`); other lines of the block (`keepalive`, `zone`, ...) and other parameters
//! of a server line (`max_fails=3`) are kept as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{NginxControl, Server};

use super::{Admin, Router, RouterError, Seen, Want};

/// How long the master may take to start workers with a new configuration.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Nginx {
    file: PathBuf,
    upstream: String,
    control: NginxControl,
    /// address -> name, from runner.toml.
    names: BTreeMap<String, String>,
}

/// One `server` line of the upstream block.
#[derive(Debug, Clone)]
struct Line {
    address: String,
    want: Want,
    /// Parameters other than `weight=` and `down`, kept.
    other: Vec<String>,
}

impl Nginx {
    pub fn new(file: &Path, upstream: &str, control: NginxControl, servers: &[Server]) -> Nginx {
        Nginx {
            file: file.to_path_buf(),
            upstream: upstream.to_string(),
            control,
            names: servers
                .iter()
                .map(|s| (s.address.clone(), s.name.clone()))
                .collect(),
        }
    }

    fn err(&self, why: impl std::fmt::Display) -> RouterError {
        RouterError(format!("{}: {why}", self.describe()))
    }

    /// nginx's master process, alive.
    fn master(&self) -> Result<u32, RouterError> {
        let pid = std::fs::read_to_string(&self.control.pid)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .filter(|pid| Path::new(&format!("/proc/{pid}")).exists());
        pid.ok_or_else(|| {
            self.err(format!(
                "nginx is not running (no live process in its pid file {}); start it, set router.pid to its pid file, or set router.start",
                self.control.pid.display()
            ))
        })
    }

    fn read_text(&self) -> Result<String, RouterError> {
        std::fs::read_to_string(&self.file).map_err(|e| {
            self.err(format!(
                "cannot read {}: {e}; write it once with an `upstream {} {{ server ...; }}` block holding every server, and include it in nginx's http block",
                self.file.display(),
                self.upstream
            ))
        })
    }

    /// The block's server lines, in the file's order, and where the block is.
    fn parse(&self, text: &str) -> Result<(Vec<Line>, std::ops::Range<usize>), RouterError> {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines
            .iter()
            .position(|l| {
                let mut w = l.split_whitespace();
                w.next() == Some("upstream")
                    && w.next().map(|n| n.trim_end_matches('{')) == Some(self.upstream.as_str())
            })
            .ok_or_else(|| {
                self.err(format!(
                    "{} has no `upstream {} {{` block",
                    self.file.display(),
                    self.upstream
                ))
            })?;
        let end = (start..lines.len())
            .find(|&i| lines[i].trim() == "}")
            .ok_or_else(|| {
                self.err(format!(
                    "{}: the upstream block opened at line {} is not closed by a line holding only `}}`",
                    self.file.display(),
                    start + 1
                ))
            })?;
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate().take(end).skip(start + 1) {
            let (directive, comment) = match line.split_once('#') {
                Some((d, c)) => (d.trim(), Some(c.trim())),
                None => (line.trim(), None),
            };
            let Some(rest) = directive.strip_prefix("server ") else {
                continue;
            };
            let rest = rest.trim().strip_suffix(';').ok_or_else(|| {
                self.err(format!(
                    "{} line {}: runner reads one `server ...;` a line",
                    self.file.display(),
                    i + 1
                ))
            })?;
            let mut words = rest.split_whitespace();
            let address = words.next().unwrap_or_default().to_string();
            let (mut weight, mut down, mut other) = (1, false, Vec::new());
            for w in words {
                if let Some(n) = w.strip_prefix("weight=") {
                    weight = n.parse().map_err(|_| {
                        self.err(format!(
                            "{} line {}: weight={n}",
                            self.file.display(),
                            i + 1
                        ))
                    })?;
                } else if w == "down" {
                    down = true;
                } else {
                    other.push(w.to_string());
                }
            }
            // A server out of traffic is `down`; the comment says whether runner drained it
            // or put it in maintenance.
            let intent = comment
                .and_then(|c| c.strip_prefix("runner:"))
                .and_then(parse_intent);
            let want = match (down, intent) {
                (true, Some(w)) if !w.takes_traffic() => w,
                (true, _) => Want::OUT,
                (false, _) => Want::ready(weight),
            };
            out.push(Line {
                address,
                want,
                other,
            });
        }
        Ok((out, start..end))
    }

    fn name_of(&self, address: &str) -> String {
        self.names
            .get(address)
            .cloned()
            .unwrap_or_else(|| address.to_string())
    }

    /// nginx's worker processes: (pid, shutting down).
    fn workers(&self, master: u32) -> Vec<(u32, bool)> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                // pid (comm) state ppid ...: comm may hold spaces.
                let after = &stat[stat.rfind(')')? + 1..];
                let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
                if ppid != master {
                    return None;
                }
                let title = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let title = String::from_utf8_lossy(&title);
                title
                    .contains("worker process")
                    .then(|| (pid, title.contains("shutting down")))
            })
            .collect()
    }

    /// Writes `text`, tests the configuration and reloads it; puts the old text back when
    /// nginx does not take it.
    fn install(&self, old: &str, text: &str) -> Result<(), RouterError> {
        let master = self.master()?;
        write_atomically(&self.file, text).map_err(|e| self.err(e))?;
        let undo = |why: String| {
            let _ = write_atomically(&self.file, old);
            self.err(format!("{why}; {} is back as it was", self.file.display()))
        };
        if let Err(why) = super::run(&self.control.test, &self.control.dir) {
            return Err(undo(format!("the new configuration fails its test: {why}")));
        }
        let before: BTreeSet<u32> = self.workers(master).iter().map(|w| w.0).collect();
        if let Err(why) = super::run(&self.control.reload, &self.control.dir) {
            return Err(undo(format!("the reload failed: {why}")));
        }
        // The master starts new workers with the new configuration.
        let started = Instant::now();
        loop {
            let fresh = self
                .workers(master)
                .iter()
                .any(|(pid, leaving)| !leaving && !before.contains(pid));
            if fresh {
                return Ok(());
            }
            if started.elapsed() >= RELOAD_TIMEOUT {
                let e = undo(format!(
                    "nginx (master {master}) started no worker with the new configuration within {} s; see its error log",
                    RELOAD_TIMEOUT.as_secs()
                ));
                let _ = super::run(&self.control.reload, &self.control.dir);
                return Err(e);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Router for Nginx {
    fn describe(&self) -> String {
        format!(
            "nginx upstream {} in {}",
            self.upstream,
            self.file.display()
        )
    }

    fn read(&mut self) -> Result<BTreeMap<String, Seen>, RouterError> {
        let master = self.master()?;
        let (lines, _) = self.parse(&self.read_text()?)?;
        // Requests may still be in flight to servers taken out, held by workers of an older
        // configuration that are finishing them.
        let leaving = self.workers(master).iter().filter(|w| w.1).count() as u64;
        Ok(lines
            .into_iter()
            .map(|l| {
                let sessions = if l.want.takes_traffic() { 0 } else { leaving };
                (
                    self.name_of(&l.address),
                    Seen {
                        weight: l.want.weight,
                        admin: l.want.admin,
                        up: true,
                        sessions,
                    },
                )
            })
            .collect())
    }

    fn set(&mut self, server: &str, want: Want) -> Result<(), RouterError> {
        self.set_all(&[(server, want)])
    }

    fn set_all(&mut self, wants: &[(&str, Want)]) -> Result<(), RouterError> {
        let old = self.read_text()?;
        let (mut lines, block) = self.parse(&old)?;
        for (server, want) in wants {
            let line = lines
                .iter_mut()
                .find(|l| self.name_of(&l.address) == *server)
                .ok_or_else(|| self.err(format!("no server line for {server}")))?;
            line.want = *want;
        }
        let text = render(&old, block, &lines, |a| self.name_of(a));
        self.install(&old, &text)
    }
}

/// `weight 13 ready` (and the server's name before it).
fn parse_intent(comment: &str) -> Option<Want> {
    let w: Vec<&str> = comment.split_whitespace().collect();
    let i = w.iter().position(|x| *x == "weight")?;
    let weight = w.get(i + 1)?.parse().ok()?;
    let admin = match *w.get(i + 2)? {
        "ready" => Admin::Ready,
        "drain" => Admin::Drain,
        "maint" => Admin::Maint,
        _ => return None,
    };
    Some(Want { weight, admin })
}

/// The file with the block's server lines rewritten from `lines`, everything else kept.
fn render(
    old: &str,
    block: std::ops::Range<usize>,
    lines: &[Line],
    name: impl Fn(&str) -> String,
) -> String {
    let mut servers = lines.iter();
    let mut out = String::new();
    for (i, line) in old.lines().enumerate() {
        let is_server = i > block.start
            && i < block.end
            && line
                .split('#')
                .next()
                .is_some_and(|d| d.trim().starts_with("server "));
        match (is_server, is_server.then(|| servers.next()).flatten()) {
            (true, Some(l)) => {
                let indent = &line[..line.len() - line.trim_start().len()];
                let mut words = vec![format!("server {}", l.address)];
                words.extend(l.other.iter().cloned());
                if l.want.takes_traffic() {
                    words.push(format!("weight={}", l.want.weight));
                } else {
                    words.push("down".into());
                }
                out.push_str(&format!(
                    "{indent}{}; # runner: {} {}\n",
                    words.join(" "),
                    name(&l.address),
                    l.want
                ));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("runner-tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nginx() -> Nginx {
        Nginx::new(
            Path::new("/x/upstream.conf"),
            "app",
            NginxControl {
                test: vec![],
                reload: vec![],
                pid: PathBuf::new(),
                dir: PathBuf::new(),
            },
            &[
                Server {
                    name: "blue".into(),
                    address: "127.0.0.1:1".into(),
                    slot: None,
                },
                Server {
                    name: "green".into(),
                    address: "127.0.0.1:2".into(),
                    slot: None,
                },
            ],
        )
    }

    const FILE: &str = "# mine\nupstream app {\n    zone app 64k;\n    server 127.0.0.1:1 max_fails=2;\n    server 127.0.0.1:2 down;\n    keepalive 8;\n}\n";

    #[test]
    fn server_lines_are_read_and_rewritten_keeping_the_rest() {
        let n = nginx();
        let (mut lines, block) = n.parse(FILE).unwrap();
        assert_eq!(lines[0].want, Want::ready(1));
        assert_eq!(lines[1].want, Want::OUT);
        lines[0].want = Want {
            weight: 243,
            admin: Admin::Drain,
        };
        lines[1].want = Want::ready(13);
        let text = render(FILE, block, &lines, |a| n.name_of(a));
        assert_eq!(
            text,
            "# mine\nupstream app {\n    zone app 64k;\n    server 127.0.0.1:1 max_fails=2 down; # runner: blue weight 243 drain\n    server 127.0.0.1:2 weight=13; # runner: green weight 13 ready\n    keepalive 8;\n}\n"
        );
        let (again, _) = n.parse(&text).unwrap();
        assert_eq!(again[0].want.admin, Admin::Drain);
        assert_eq!(again[0].want.weight, 243);
        assert_eq!(again[1].want, Want::ready(13));
    }

    #[test]
    fn a_file_without_the_upstream_says_so() {
        let e = nginx().parse("upstream other {\n}\n").unwrap_err();
        assert!(e.0.contains("has no `upstream app {` block"), "{e}");
        let e = nginx()
            .parse("upstream app {\n server 127.0.0.1:1\n}\n")
            .unwrap_err();
        assert!(e.0.contains("one `server ...;` a line"), "{e}");
    }
}
