//! `runner config`: every setting, its value and where it came from; passwords as `***`.

use super::table::Table;
use crate::config::{Config, Environment};

pub fn human(config: &Config, environments: &[&Environment]) -> String {
    let mut t = Table::new(["SETTING", "VALUE", "FROM"]);
    let file = config
        .file
        .as_ref()
        .map_or("(none)".to_string(), |f| f.display().to_string());
    t.row(["config file".into(), file, String::new()]);
    t.row([
        "migrations dir".into(),
        config.migrations_dir.value.display().to_string(),
        config.migrations_dir.source.to_string(),
    ]);
    t.row([
        "dialect".into(),
        config.dialect.value.name().into(),
        config.dialect.source.to_string(),
    ]);
    t.row([
        "pipeline".into(),
        config.pipeline.value.join(" -> "),
        config.pipeline.source.to_string(),
    ]);
    for env in environments {
        let key = |k: &str| format!("{}.{k}", env.name);
        t.row([
            key("database_url"),
            env.database_url.value.redacted(),
            env.database_url.source.to_string(),
        ]);
        t.row([
            key("requires_approval"),
            env.requires_approval.to_string(),
            String::new(),
        ]);
        t.row([key("strategy"), env.strategy().name().into(), String::new()]);
        let rollout = &env.rollout;
        if rollout.strategy.routed() {
            let servers: Vec<String> = rollout
                .servers
                .iter()
                .map(|s| match &s.slot {
                    Some(slot) => format!("{} {} ({slot})", s.name, s.address),
                    None => format!("{} {}", s.name, s.address),
                })
                .collect();
            t.row([key("servers"), servers.join(", "), String::new()]);
            if let Some(r) = &rollout.router {
                t.row([
                    key("router"),
                    match r.kind {
                        crate::config::RouterKind::Haproxy => {
                            format!("haproxy {} backend {}", r.socket.display(), r.backend)
                        }
                        crate::config::RouterKind::Nginx => {
                            format!("nginx {} upstream {}", r.socket.display(), r.backend)
                        }
                    },
                    String::new(),
                ]);
            }
            let d = |d: std::time::Duration| humantime::format_duration(d).to_string();
            let options = match rollout.strategy {
                crate::config::StrategyKind::Canary => format!(
                    "steps {:?}, pause {}",
                    rollout.steps,
                    match rollout.pause {
                        crate::config::Pause::For(p) => d(p),
                        crate::config::Pause::Manual => "manual".into(),
                    }
                ),
                crate::config::StrategyKind::Rolling => match rollout.batch {
                    crate::config::Batch::Servers(n) => format!("batch {n}"),
                    crate::config::Batch::Percent(p) => format!("batch {p}%"),
                },
                crate::config::StrategyKind::BlueGreen => {
                    format!("keep_previous {}", d(rollout.keep_previous))
                }
                crate::config::StrategyKind::AllAtOnce => String::new(),
            };
            t.row([
                key("rollout"),
                format!("{options}, drain_timeout {}", d(rollout.drain_timeout)),
                String::new(),
            ]);
        }
        t.row([
            key("lock_timeout"),
            humantime::format_duration(env.lock_timeout).to_string(),
            String::new(),
        ]);
        for (name, hook) in [
            ("deploy", &env.deploy),
            ("rollback", &env.rollback),
            ("smoke", &env.smoke),
            ("stop", &env.stop),
        ] {
            if let Some(argv) = hook {
                t.row([key(name), argv.join(" "), String::new()]);
            }
        }
        if let Some(h) = &env.health {
            t.row([key("health.url"), h.url.clone(), String::new()]);
        }
    }
    t.render()
}
