//! A flag's step judged from the metrics, as a canary's is (`analysis`): the flag's `on`
//! variant against `off` where the app labels its request metrics by variant, the release
//! overall otherwise; failing as soon as the evidence is decisive, passing only at the end.

use std::time::{Duration, SystemTime};

use crate::config::{Config, Environment};
use crate::engine::history::History;
use crate::error::{Error, Result};
use crate::runtime::block_on;

/// What the metrics said of a step, with the evidence in words.
pub enum Judged {
    Pass(String),
    Inconclusive(String),
    Breach(String),
}

/// The environment measured over `span`: the flag's `on` variant against `off` when the app
/// labels its request metrics by variant, the release overall otherwise (health is the app's
/// business here: a flag changes no server).
pub fn judge(config: &Config, env: &Environment, key: &str, span: Duration) -> Result<Judged> {
    let Some(metrics) = &env.metrics else {
        if crate::runtime::sleep_unless_interrupted(span, 1) {
            return Err(Error::Interrupted {
                message: "the ramp was stopped; the flag stays where it is".into(),
            });
        }
        return Ok(Judged::Inconclusive(format!(
            "{} has no metrics configured",
            env.name
        )));
    };
    let groups = block_on(async {
        let mut conn = crate::engine::open(env, "flag").await?;
        let history = History::new(&config.history_prefix, conn.dialect());
        let entries = crate::engine::journal::entries(&mut conn, &history, &env.name)
            .await
            .unwrap_or_default();
        conn.close().await;
        let serving = crate::deploy::record::serving(
            &entries,
            crate::deploy::record::Liveness::LockFree,
            SystemTime::now(),
        );
        let fleet = crate::deploy::fleet::Fleet::recorded(&entries);
        Ok::<_, Error>(crate::deploy::analysis_groups(
            env,
            &serving,
            fleet.as_ref(),
        ))
    })?;
    if groups.is_empty() {
        return Ok(Judged::Inconclusive(
            "nothing is deployed to measure".into(),
        ));
    }
    let groups = crate::analysis::by_variant(env, metrics, &groups, key).unwrap_or(groups);
    let mut analysis = crate::analysis::Analysis::default();
    let started = std::time::Instant::now();
    while started.elapsed() < span {
        let window = crate::analysis::Window::open(env, metrics, groups.clone());
        let wait = metrics
            .window
            .min(span.saturating_sub(started.elapsed()))
            .max(Duration::from_secs(1));
        if crate::runtime::sleep_unless_interrupted(wait, 1) {
            return Err(Error::Interrupted {
                message: "the ramp was stopped; the flag stays where it is".into(),
            });
        }
        let evaluation = window.close();
        if let Some(crate::analysis::Verdict::Fail | crate::analysis::Verdict::Error) =
            analysis.add(metrics, evaluation.clone())
        {
            return Ok(Judged::Breach(evaluation.summary()));
        }
    }
    Ok(match analysis.verdict(metrics) {
        crate::analysis::Verdict::Pass => {
            Judged::Pass(analysis.last().map(|e| e.summary()).unwrap_or_default())
        }
        _ => Judged::Inconclusive(analysis.last().map(|e| e.summary()).unwrap_or_default()),
    })
}
