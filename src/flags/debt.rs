//! A flag's debt: at 100 % everywhere for longer than `[flags] stale_after` (its reads should
//! go, then the flag), or read by the code but defined in no flag file. `runner flag list`,
//! `runner check` and `runner status` all tell it from here.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::flagd::Flag;
use super::{Rollout, Store, references};
use crate::config::Config;

/// The environments whose changes need `--approve`.
pub fn protected_environments(config: &Config) -> Vec<&str> {
    config
        .environments
        .values()
        .filter(|e| e.requires_approval)
        .map(|e| e.name.as_str())
        .collect()
}

/// `runner flag remove KEY`, with `--approve` when an environment it changes is protected.
pub fn remove_command(config: &Config, key: &str) -> String {
    crate::hints::flag_remove(key, !protected_environments(config).is_empty())
}

/// How long a flag has been at 100 % everywhere, if it is.
pub fn full_for(by_env: &BTreeMap<String, Flag>, rollout: &Rollout) -> Option<Duration> {
    if rollout.percents.iter().any(|(_, p)| *p < 100) {
        return None;
    }
    by_env
        .values()
        .filter_map(|f| f.metadata.get("fullSince"))
        .filter_map(|t| humantime::parse_rfc3339_weak(t).ok())
        .max()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
}

/// Flags at 100 % everywhere longer than [flags] stale_after: (key, how long).
pub fn stale(config: &Config) -> Vec<(String, Duration)> {
    let store = Store { config };
    store
        .rollouts()
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, (r, by_env))| full_for(by_env, r).map(|d| (k.clone(), d)))
        .filter(|(_, d)| *d >= config.flags.stale_after)
        .collect()
}

/// Flags the code reads that no flag file knows.
pub fn unknown_in_code(config: &Config) -> Vec<references::Reference> {
    let store = Store { config };
    let known = store.rollouts().unwrap_or_default();
    let foreign = store.foreign().unwrap_or_default();
    references::all(
        &config.flags.search,
        &config.flags.dir,
        &config.flags.pattern,
    )
    .unwrap_or_default()
    .into_iter()
    .filter(|r| !known.contains_key(&r.key) && !foreign.contains_key(&r.key))
    .collect()
}
