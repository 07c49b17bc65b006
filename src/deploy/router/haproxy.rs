//! The HAProxy router, over its runtime API (`stats socket PATH level admin` in the global
//! section; the client is `crate::haproxy`): `show servers state` for weights and states,
//! `show stat` for the requests each server is serving, `set server BE/SRV weight N` and
//! `set server BE/SRV state ...`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::haproxy::{Runtime, number};

use super::{Admin, Router, RouterError, Seen, Want};

pub struct Haproxy {
    runtime: Runtime,
    backend: String,
}

impl Haproxy {
    pub fn new(socket: &Path, backend: &str) -> Haproxy {
        Haproxy {
            runtime: Runtime::new(socket),
            backend: backend.to_string(),
        }
    }

    fn command(&self, command: &str) -> Result<String, RouterError> {
        self.runtime
            .command(command)
            .map_err(|e| RouterError(format!("{}: {e}", self.describe())))
    }

    /// weight, admin state and whether it is up, per server of the backend.
    fn servers_state(&self) -> Result<BTreeMap<String, (u32, Admin, bool)>, RouterError> {
        let answer = self.command(&format!("show servers state {}", self.backend))?;
        let mut lines = answer.lines();
        let header = lines.next().unwrap_or_default().trim();
        if header != "1" {
            return Err(RouterError(format!(
                "{}: unexpected answer to `show servers state {}`: {}",
                self.describe(),
                self.backend,
                answer.trim()
            )));
        }
        let mut out = BTreeMap::new();
        for line in lines {
            let f: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with('#') || f.len() < 9 {
                continue;
            }
            // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight ...
            let op: u32 = f[5].parse().unwrap_or(0);
            let admin_bits: u32 = f[6].parse().unwrap_or(0);
            let weight: u32 = f[7].parse().unwrap_or(0);
            const MAINT: u32 = 0x01 | 0x02 | 0x04 | 0x40 | 0x80;
            const DRAIN: u32 = 0x08 | 0x10 | 0x20;
            let admin = if admin_bits & MAINT != 0 {
                Admin::Maint
            } else if admin_bits & DRAIN != 0 {
                Admin::Drain
            } else {
                Admin::Ready
            };
            out.insert(f[3].to_string(), (weight, admin, op == 2));
        }
        if out.is_empty() && !answer.contains("# be_id") {
            return Err(RouterError(format!(
                "{} has no backend named {}: {}",
                self.describe(),
                self.backend,
                answer.trim()
            )));
        }
        Ok(out)
    }

    /// Requests in flight per server of the backend (`scur` of `show stat`).
    fn sessions(&self) -> Result<BTreeMap<String, u64>, RouterError> {
        let rows = self
            .runtime
            .stat(&self.backend)
            .map_err(|e| RouterError(format!("{}: {e}", self.describe())))?;
        Ok(rows
            .iter()
            .map(|(name, row)| (name.clone(), number(row, "scur") as u64))
            .collect())
    }
}

impl Router for Haproxy {
    fn describe(&self) -> String {
        format!(
            "HAProxy ({} backend {})",
            self.runtime.socket.display(),
            self.backend
        )
    }

    fn read(&mut self) -> Result<BTreeMap<String, Seen>, RouterError> {
        let state = self.servers_state()?;
        let sessions = self.sessions()?;
        Ok(state
            .into_iter()
            .map(|(name, (weight, admin, up))| {
                let sessions = sessions.get(&name).copied().unwrap_or(0);
                (
                    name,
                    Seen {
                        weight,
                        admin,
                        up,
                        sessions,
                    },
                )
            })
            .collect())
    }

    fn set(&mut self, server: &str, want: Want) -> Result<(), RouterError> {
        let target = format!("{}/{server}", self.backend);
        // The weight first: a server readied with its old weight would take a share it
        // should not have for a moment.
        for command in [
            format!("set server {target} weight {}", want.weight),
            format!("set server {target} state {}", want.admin.name()),
        ] {
            let answer = self.command(&command)?;
            if !answer.trim().is_empty() {
                return Err(RouterError(format!(
                    "{}: `{command}` was refused: {}",
                    self.describe(),
                    answer.trim()
                )));
            }
        }
        Ok(())
    }
}
