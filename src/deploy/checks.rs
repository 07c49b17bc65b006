//! The checks every strategy runs the same way: a hook as a phase, the health checks (with a
//! ping of the database), and health again after the previous release is put back.

use std::time::{Duration, Instant};

use super::health::{self, Verdict};
use super::run::{Phase, Run, Status};
use super::step::{Failure, Step, enter};
use crate::db::Conn;
use crate::engine::journal::Kind;

/// Runs a hook of the environment as the phase `phase`. The first signal lets it finish (a
/// half-run deploy hook is worse than a finished one); the second stops it.
pub async fn hook(
    run: &mut Run<'_>,
    conn: &mut Conn,
    (argv, phase): (&[String], Phase),
    (version, previous): (&str, &str),
) -> Step {
    let t = enter(run, conn, phase).await?;
    let result = run.hook((argv, phase), (version, previous), None, 2);
    if !result.success {
        run.phase(phase, Status::Failed, t, result.status.clone());
        let why = format!("the {} hook failed ({})", phase.name(), result.status);
        return Err(if crate::runtime::interrupted() {
            Failure::interrupted(why)
        } else {
            Failure::new(why)
        });
    }
    run.phase(phase, Status::Ok, t, String::new());
    if crate::runtime::interrupted() {
        return Err(Failure::interrupted(format!(
            "interrupted during the {} hook",
            phase.name()
        )));
    }
    Ok(())
}

/// Round trip of `SELECT 1` on the run's connection.
pub async fn ping(conn: &mut Conn) -> Result<Duration, String> {
    let t = Instant::now();
    conn.execute("SELECT 1").await.map_err(|e| e.to_string())?;
    Ok(t.elapsed())
}

/// The health checks of the new release `to`, then a ping of the database. The first signal
/// stops the wait: the release is then reverted like an unhealthy one.
pub async fn health(run: &mut Run<'_>, conn: &mut Conn, to: &str) -> Step {
    let Some(h) = run.env.health.clone() else {
        return Ok(());
    };
    let t = enter(run, conn, Phase::Health).await?;
    let mut checks = 0;
    let verdict = health::wait(&h, Some(to), 1, &mut |p| {
        checks += 1;
        run.out.probe(p);
    });
    match verdict {
        Verdict::Healthy { after } => {
            let latency = ping(conn).await;
            let detail = match latency {
                Ok(latency) if latency <= h.max_db_latency => {
                    format!("database ping {} ms", latency.as_millis())
                }
                Ok(latency) => {
                    let why = format!(
                        "database ping {} ms, above max_db_latency {}",
                        latency.as_millis(),
                        humantime::format_duration(h.max_db_latency)
                    );
                    run.phase(Phase::Health, Status::Failed, t, why.clone());
                    return Err(Failure::new(why));
                }
                Err(e) => {
                    let why = format!("database ping failed: {e}");
                    run.phase(Phase::Health, Status::Failed, t, why.clone());
                    return Err(Failure::new(why));
                }
            };
            let detail = format!(
                "after {checks} checks in {:.1} s; {detail}",
                after.as_secs_f64()
            );
            run.phase(Phase::Health, Status::Healthy, t, detail);
            Ok(())
        }
        Verdict::Unhealthy {
            reason,
            first_failure,
        } => {
            run.phase(Phase::Health, Status::Unhealthy, t, reason.clone());
            Err(Failure {
                first_seen: t + first_failure,
                ..Failure::new(format!("{to} is unhealthy: {reason}"))
            })
        }
        Verdict::TimedOut { last } => {
            let why = format!(
                "{to} never became healthy within {} (last: {last})",
                humantime::format_duration(h.timeout)
            );
            run.phase(Phase::Health, Status::TimedOut, t, last);
            Err(Failure::new(why))
        }
        Verdict::Interrupted => {
            run.phase(
                Phase::Health,
                Status::Interrupted,
                t,
                "a signal stopped the health checks".into(),
            );
            Err(Failure::interrupted(format!(
                "interrupted while {to} was being health-checked"
            )))
        }
    }
}

/// Health of the release put back: `health after rollback` in a deploy, `health` in an
/// application rollback (skipped when it is forced). Only a second signal stops the wait.
pub async fn health_after_rollback(run: &mut Run<'_>, conn: &mut Conn, to: &str) -> Step {
    // An application rollback checks the release it puts back as a deploy checks its own.
    let requested = run.entry.kind == Kind::Rollback;
    let phase = if requested {
        Phase::Health
    } else {
        Phase::HealthAfterRollback
    };
    let t = enter(run, conn, phase).await?;
    let h = match (&run.env.health, run.entry.forced) {
        (_, true) => {
            run.phase(phase, Status::SkippedForced, t, String::new());
            return Ok(());
        }
        (None, false) => {
            run.phase(phase, Status::NotConfigured, t, String::new());
            return Ok(());
        }
        (Some(h), false) => h.clone(),
    };
    match health::wait(&h, Some(to), 2, &mut |p| run.out.probe(p)) {
        Verdict::Healthy { after } => {
            let detail = if requested {
                format!("in {:.1} s", after.as_secs_f64())
            } else {
                format!("{to} serving again")
            };
            run.phase(phase, Status::Healthy, t, detail);
            Ok(())
        }
        Verdict::Interrupted => {
            run.phase(phase, Status::Interrupted, t, String::new());
            Err(Failure::interrupted(format!(
                "a second signal stopped the wait for {to} to become healthy"
            )))
        }
        other => {
            run.phase(phase, Status::Failed, t, other.to_string());
            Err(Failure::new(format!(
                "{to} did not become healthy again ({other})"
            )))
        }
    }
}

/// A hook run on one server, as the phase `phase` (its detail names the server).
pub async fn server_hook(
    run: &mut Run<'_>,
    conn: &mut Conn,
    (argv, phase): (&[String], Phase),
    server: &crate::config::Server,
    (version, previous): (&str, &str),
) -> Step {
    let t = enter(run, conn, phase).await?;
    let target = super::fleet::hook_server(server);
    let result = run.hook((argv, phase), (version, previous), Some(&target), 2);
    if !result.success {
        run.phase(
            phase,
            Status::Failed,
            t,
            format!("{}: {}", server.name, result.status),
        );
        let why = format!(
            "the {} hook failed on {} ({})",
            phase.name(),
            server.name,
            result.status
        );
        return Err(if crate::runtime::interrupted() {
            Failure::interrupted(why)
        } else {
            Failure::new(why)
        });
    }
    run.phase(phase, Status::Ok, t, server.name.clone());
    if crate::runtime::interrupted() {
        return Err(Failure::interrupted(format!(
            "interrupted during the {} hook on {}",
            phase.name(),
            server.name
        )));
    }
    Ok(())
}

/// The health URL of one server: `{address}`, `{host}` and `{port}` filled in.
pub fn server_url(url: &str, server: &crate::config::Server) -> String {
    let (host, port) = server
        .address
        .rsplit_once(':')
        .unwrap_or((server.address.as_str(), ""));
    url.replace("{address}", &server.address)
        .replace("{host}", host)
        .replace("{port}", port)
}

/// The health checks of one server, reached directly (not through the router), before it
/// takes traffic: `version` must answer. `phase` is `health`, or `health after rollback`.
pub async fn server_health(
    run: &mut Run<'_>,
    conn: &mut Conn,
    server: &crate::config::Server,
    version: &str,
    phase: Phase,
) -> Step {
    let Some(h) = run.env.health.clone() else {
        return Ok(());
    };
    let t = enter(run, conn, phase).await?;
    let url = server_url(&h.url, server);
    let mut checks = 0;
    let interrupt_at = if phase == Phase::Health { 1 } else { 2 };
    let verdict = health::wait_on(&h, &url, Some(version), interrupt_at, &mut |p| {
        checks += 1;
        run.out.probe(p);
    });
    let name = &server.name;
    match verdict {
        Verdict::Healthy { after } => {
            let ping = match ping(conn).await {
                Ok(latency) if latency <= h.max_db_latency => {
                    format!("; database ping {} ms", latency.as_millis())
                }
                Ok(latency) => {
                    let why = format!(
                        "database ping {} ms, above max_db_latency {}",
                        latency.as_millis(),
                        humantime::format_duration(h.max_db_latency)
                    );
                    run.phase(phase, Status::Failed, t, why.clone());
                    return Err(Failure::new(why));
                }
                Err(e) => {
                    let why = format!("database ping failed: {e}");
                    run.phase(phase, Status::Failed, t, why.clone());
                    return Err(Failure::new(why));
                }
            };
            let detail = format!(
                "{name} {version} after {checks} checks in {:.1} s{ping}",
                after.as_secs_f64()
            );
            run.phase(phase, Status::Healthy, t, detail);
            Ok(())
        }
        Verdict::Unhealthy {
            reason,
            first_failure,
        } => {
            run.phase(phase, Status::Unhealthy, t, format!("{name}: {reason}"));
            Err(Failure {
                first_seen: t + first_failure,
                ..Failure::new(format!("{version} on {name} is unhealthy: {reason}"))
            })
        }
        Verdict::TimedOut { last } => {
            run.phase(phase, Status::TimedOut, t, format!("{name}: {last}"));
            Err(Failure::new(format!(
                "{version} on {name} never became healthy within {} (last: {last})",
                humantime::format_duration(h.timeout)
            )))
        }
        Verdict::Interrupted => {
            run.phase(phase, Status::Interrupted, t, name.clone());
            Err(Failure::interrupted(format!(
                "interrupted while {version} on {name} was being health-checked"
            )))
        }
    }
}
