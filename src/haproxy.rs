//! HAProxy's runtime API over its unix socket, as much as runner needs: one command per
//! connection (HAProxy's non-interactive mode answers and closes), and `show stat` read as a
//! table. The router (`deploy::router::haproxy`) drives weights and states with it; the
//! analysis (`analysis`) reads each server's response counters from it. Owned by neither.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Runtime {
    pub socket: PathBuf,
}

/// One row of `show stat`: column name -> value.
pub type StatRow = BTreeMap<String, String>;

impl Runtime {
    pub fn new(socket: &Path) -> Runtime {
        Runtime {
            socket: socket.to_path_buf(),
        }
    }

    /// Sends one command and returns the whole answer.
    pub fn command(&self, command: &str) -> Result<String, String> {
        let fail = |what: &str, e: std::io::Error| {
            format!(
                "cannot {what} ({e}); is HAProxy running with `stats socket {} level admin` in its global section?",
                self.socket.display()
            )
        };
        let mut stream = UnixStream::connect(&self.socket).map_err(|e| fail("connect", e))?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|_| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| fail("set a timeout", e))?;
        stream
            .write_all(format!("{command}\n").as_bytes())
            .map_err(|e| fail("send a command", e))?;
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .map_err(|e| fail("read the answer", e))?;
        Ok(answer)
    }

    /// The rows of `show stat` for the servers of `backend`, by server name.
    pub fn stat(&self, backend: &str) -> Result<BTreeMap<String, StatRow>, String> {
        let answer = self.command("show stat")?;
        let mut lines = answer.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        if !header.contains(&"pxname") {
            return Err(format!(
                "unexpected answer to `show stat`: {}",
                answer.trim()
            ));
        }
        let mut out = BTreeMap::new();
        for line in lines {
            let row: StatRow = header
                .iter()
                .zip(line.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            let is_server = row.get("pxname").map(String::as_str) == Some(backend)
                && !matches!(
                    row.get("svname").map(String::as_str),
                    Some("BACKEND" | "FRONTEND") | None
                );
            if is_server && let Some(name) = row.get("svname").cloned() {
                out.insert(name, row);
            }
        }
        Ok(out)
    }
}

/// A number column of a `show stat` row (empty cells are 0).
pub fn number(row: &StatRow, column: &str) -> f64 {
    row.get(column)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}
