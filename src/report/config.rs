//! `runner config`: every setting, its value and where it came from; passwords as `***`.

use super::table::Table;
use crate::config::{Config, Environment};

pub fn human(config: &Config, environments: &[&Environment]) -> String {
    let text = config
        .file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok());
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
        "layout".into(),
        config
            .layout
            .map_or("detected from the files".into(), |l| l.name().to_string()),
        origin_in(text.as_deref(), "migrations", "layout"),
    ]);
    if let Some(mirror) = config.mirror {
        t.row([
            "mirror".into(),
            mirror.name().to_string(),
            origin_in(text.as_deref(), "migrations", "mirror"),
        ]);
    }
    t.row([
        "pipeline".into(),
        config.pipeline.value.join(" -> "),
        config.pipeline.source.to_string(),
    ]);
    for env in environments {
        environment_rows(&mut t, env, text.as_deref());
    }
    t.render()
}

/// One environment's settings: its database, approval, strategy (and rollout), lock
/// limits, hooks and health check.
fn environment_rows(t: &mut Table, env: &Environment, text: Option<&str>) {
    let key = |k: &str| format!("{}.{k}", env.name);
    let from = |k: &str| origin(text, &env.name, k);
    t.row([
        key("database_url"),
        env.database_url.value.redacted(),
        env.database_url.source.to_string(),
    ]);
    t.row([
        key("requires_approval"),
        env.requires_approval.to_string(),
        from("requires_approval"),
    ]);
    t.row([
        key("strategy"),
        env.strategy().name().into(),
        from("strategy"),
    ]);
    if env.rollout.strategy.routed() {
        rollout_rows(t, env, text);
    }
    t.row([
        key("lock_timeout"),
        humantime::format_duration(env.lock_timeout).to_string(),
        from("lock_timeout"),
    ]);
    t.row([
        key("gap_wait"),
        humantime::format_duration(env.gap_wait).to_string(),
        from("gap_wait"),
    ]);
    for (name, hook) in [
        ("deploy", &env.deploy),
        ("rollback", &env.rollback),
        ("smoke", &env.smoke),
        ("stop", &env.stop),
    ] {
        if let Some(argv) = hook {
            t.row([key(name), argv.join(" "), from(name)]);
        }
    }
    if let Some(h) = &env.health {
        t.row([key("health.url"), h.url.clone(), from("health")]);
    }
}

/// A routed strategy's servers, router and rollout options.
fn rollout_rows(t: &mut Table, env: &Environment, text: Option<&str>) {
    let key = |k: &str| format!("{}.{k}", env.name);
    let from = |k: &str| origin(text, &env.name, k);
    let rollout = &env.rollout;
    let servers: Vec<String> = rollout
        .servers
        .iter()
        .map(|s| match &s.slot {
            Some(slot) => format!("{} {} ({slot})", s.name, s.address),
            None => format!("{} {}", s.name, s.address),
        })
        .collect();
    t.row([key("servers"), servers.join(", "), from("servers")]);
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
            from("router"),
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
        from("rollout"),
    ]);
}

/// Where an environment's setting comes from: its line in runner.toml (the key in the
/// environment's table, or its own `[environments.NAME.KEY]` table), else runner's default.
fn origin(text: Option<&str>, env: &str, key: &str) -> String {
    origin_in(text, &format!("environments.{env}"), key)
}

/// The line of runner.toml that sets `key` in `[table]` (or `[table.key]`), else "default".
fn origin_in(text: Option<&str>, table: &str, key: &str) -> String {
    let Some(text) = text else {
        return "default".into();
    };
    let own = format!("{table}.{key}");
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            current = header.trim().to_string();
            if current == own {
                return format!("runner.toml line {}", i + 1);
            }
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        if current == table && name.trim() == key {
            return format!("runner.toml line {}", i + 1);
        }
    }
    "default".into()
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn a_setting_is_traced_to_its_line_or_the_default() {
        let text = "[environments.prod]\ndatabase_url = \"x\"\nrequires_approval = true\n[environments.prod.rollout]\nsteps = [5]\n";
        assert_eq!(
            origin(Some(text), "prod", "requires_approval"),
            "runner.toml line 3"
        );
        assert_eq!(origin(Some(text), "prod", "rollout"), "runner.toml line 4");
        assert_eq!(origin(Some(text), "prod", "lock_timeout"), "default");
        assert_eq!(
            origin(Some(text), "staging", "requires_approval"),
            "default"
        );
    }
}
