//! `runner flag`: the flags as a table or JSON (`list`), and what each change did.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::flags::references::Reference;
use crate::report::table::Table;

/// One flag as `runner flag list` shows it.
pub struct Listed {
    pub key: String,
    pub stage: String,
    /// Percent on, by environment in pipeline order.
    pub percents: Vec<(String, u32)>,
    /// How long it has been at 100 % everywhere.
    pub full_for: Option<Duration>,
    /// At 100 % for longer than `[flags] stale_after`: remove it.
    pub stale: bool,
}

/// What `runner flag list` knows: runner's flags, the flags of the files it does not manage
/// (key, file, why), and the keys the code reads that no file defines.
pub struct ListView<'a> {
    pub dir: &'a Path,
    pub flags: Vec<Listed>,
    pub not_managed: Vec<(String, PathBuf, String)>,
    pub unknown: &'a [Reference],
}

pub fn list_json(view: &ListView<'_>) -> serde_json::Value {
    let flags: Vec<serde_json::Value> = view
        .flags
        .iter()
        .map(|f| {
            serde_json::json!({
                "key": f.key,
                "stage": f.stage,
                "percent": f.percents.iter().cloned().collect::<BTreeMap<_, _>>(),
                "full_for_seconds": f.full_for.map(|d| d.as_secs()),
                "stale": f.stale,
            })
        })
        .collect();
    let not_managed: Vec<serde_json::Value> = view
        .not_managed
        .iter()
        .map(|(k, path, why)| serde_json::json!({"key": k, "file": path, "why": why}))
        .collect();
    let unknown: Vec<String> = view.unknown.iter().map(ToString::to_string).collect();
    serde_json::json!({
        "flags": flags,
        "not_managed": not_managed,
        "unknown_in_code": unknown
    })
}

pub fn list_human(view: &ListView<'_>) -> String {
    let mut out = String::new();
    if view.flags.is_empty() {
        out.push_str(&format!(
            "no flags yet: `runner flag new KEY` creates one ({} has none)\n",
            view.dir.display()
        ));
    } else {
        let mut t = Table::new(["FLAG", "STAGE", "PERCENT", "AT 100 % FOR"]);
        for f in &view.flags {
            let percents: Vec<String> =
                f.percents.iter().map(|(e, p)| format!("{e} {p}")).collect();
            let age = f.full_for.map_or("-".to_string(), |d| {
                let days = d.as_secs() / 86_400;
                let text = if days > 0 {
                    format!("{days} d")
                } else {
                    format!("{} h", d.as_secs() / 3600)
                };
                if f.stale {
                    format!("{text} (stale: remove it)")
                } else {
                    text
                }
            });
            t.row([f.key.clone(), f.stage.clone(), percents.join(", "), age]);
        }
        out.push_str(&t.render());
    }
    for (key, path, why) in &view.not_managed {
        out.push_str(&format!(
            "flag {key} in {} is not managed by runner ({why})\n",
            path.display()
        ));
    }
    for r in view.unknown {
        out.push_str(&format!("unknown flag {} read by the code at {r}\n", r.key));
    }
    out
}

/// `runner flag new`: where it is off, and the command that turns it on in the first
/// environment.
pub fn created(key: &str, pipeline: &[String]) -> String {
    format!(
        "created flag {key}: off in {} (development); next: `runner flag promote {key} --env {}`",
        pipeline.join(", "),
        pipeline.first().map_or("ENV", String::as_str)
    )
}

/// A step of a flag in one environment.
pub fn moved(key: &str, env: &str, from: u32, to: u32, stage: &str) -> String {
    format!("flag {key} in {env}: {from} % -> {to} % (now {stage})")
}

/// A step of an automatic ramp held for `pause` and judged.
pub fn held(to: u32, pause: Duration, detail: &str) -> String {
    format!(
        "  {to} % held {}: {detail}",
        humantime::format_duration(pause)
    )
}

/// A step held for `pause` without enough evidence to go on, and the command that goes on.
pub fn inconclusive(to: u32, pause: Duration, detail: &str, promote: &str) -> String {
    format!(
        "  {to} % held {}: inconclusive ({detail}); the ramp waits here: `{promote}` goes on when there is traffic to judge",
        humantime::format_duration(pause)
    )
}

pub fn removed(key: &str, pipeline: &[String]) -> String {
    format!("removed flag {key} from {}", pipeline.join(", "))
}
