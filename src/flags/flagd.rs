//! The OpenFeature flagd flag-definition format, as runner writes it: one file per environment,
//! `{"$schema": ..., "flags": {KEY: {"state", "variants", "defaultVariant", "targeting",
//! "metadata"}}}`. A flag is boolean (`on`/`off`); a percentage rollout is flagd's `fractional`
//! targeting, bucketed on the flag key and the evaluation's targeting key. Any application
//! using an OpenFeature SDK with the flagd provider in file mode reads these files unchanged.
//!
//! `evaluate` mirrors flagd's fractional rule (murmur3 of flag key + targeting key) for runner's
//! own measurements and the demo app; real applications use an OpenFeature SDK.

use std::collections::BTreeMap;

use serde_json::{Value, json};

pub const SCHEMA: &str = "https://flagd.dev/schema/v0/flags.json";

/// One flag in one environment, as runner manages it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub key: String,
    /// The share of targeting keys that get `on`, 0..=100.
    pub percent: u32,
    /// runner's bookkeeping, kept in the flag's metadata: when it was created, when it
    /// reached 100 % here, and the stage it was at before the last change (for `rollback`).
    pub metadata: BTreeMap<String, String>,
}

impl Flag {
    pub fn new(key: &str, percent: u32) -> Flag {
        Flag {
            key: key.to_string(),
            percent,
            metadata: BTreeMap::new(),
        }
    }

    /// The flag as flagd reads it.
    pub fn to_json(&self) -> Value {
        let mut flag = json!({
            "state": "ENABLED",
            "variants": {"on": true, "off": false},
            "defaultVariant": match self.percent { 100 => "on", _ => "off" },
        });
        if self.percent > 0 && self.percent < 100 {
            flag["targeting"] = json!({
                "fractional": [["on", self.percent], ["off", 100 - self.percent]]
            });
        }
        let mut metadata: serde_json::Map<String, Value> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        metadata.insert("percent".into(), json!(self.percent));
        flag["metadata"] = Value::Object(metadata);
        flag
    }

    /// A flag read back from a flagd file (runner's own, or one a person edited within the
    /// same shape). `None` with why when it is not a shape runner manages.
    pub fn from_json(key: &str, value: &Value) -> Result<Flag, String> {
        let disabled = value["state"] == "DISABLED";
        let default_on = value["defaultVariant"] == "on";
        let percent = match value.get("targeting") {
            None => u32::from(default_on && !disabled) * 100,
            Some(t) if t.as_object().is_some_and(|o| o.is_empty()) => {
                u32::from(default_on && !disabled) * 100
            }
            Some(t) => {
                let parts = t["fractional"].as_array().ok_or_else(|| {
                    format!("flag {key}: its targeting is not a fractional rollout runner manages")
                })?;
                let weight = |name: &str| {
                    parts
                        .iter()
                        .filter_map(|p| p.as_array())
                        .find(|p| p.first().and_then(Value::as_str) == Some(name))
                        .and_then(|p| p.get(1))
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                };
                let (on, off) = (weight("on"), weight("off"));
                if on + off == 0 {
                    return Err(format!("flag {key}: its fractional weights add up to 0"));
                }
                if disabled {
                    0
                } else {
                    ((on * 100) as f64 / (on + off) as f64).round() as u32
                }
            }
        };
        let metadata = value["metadata"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != "percent")
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Flag {
            key: key.to_string(),
            percent,
            metadata,
        })
    }
}

/// A whole file of runner's flags.
pub fn to_file(flags: &BTreeMap<String, Flag>) -> String {
    merge(None, flags).unwrap_or_default()
}

/// `existing` (a flag file, maybe written or edited by others) with runner's flags set to
/// `flags`: the flags runner manages that are not in `flags` are removed, everything else is
/// kept as it was (flags with their own targeting, `$evaluators`, `metadata`).
pub fn merge(existing: Option<&str>, flags: &BTreeMap<String, Flag>) -> Result<String, String> {
    let mut doc = match existing {
        Some(text) => document(text)?,
        None => json!({ "$schema": SCHEMA, "flags": {} }),
    };
    if let Some(object) = doc.as_object_mut() {
        object
            .entry("$schema")
            .or_insert_with(|| Value::String(SCHEMA.to_string()));
    }
    let map = doc["flags"]
        .as_object_mut()
        .ok_or("not a flagd flag file: it has no \"flags\" object")?;
    let stale: Vec<String> = map
        .iter()
        .filter(|(k, v)| !flags.contains_key(*k) && Flag::from_json(k, v).is_ok())
        .map(|(k, _)| k.clone())
        .collect();
    for key in stale {
        map.remove(&key);
    }
    for (key, flag) in flags {
        map.insert(key.clone(), flag.to_json());
    }
    Ok(serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n")
}

fn document(text: &str) -> Result<Value, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not flagd JSON: {e}"))?;
    if !doc["flags"].is_object() {
        return Err("not a flagd flag file: it has no \"flags\" object".into());
    }
    Ok(doc)
}

/// The flags of a file runner manages (boolean on/off with at most a fractional rollout).
pub fn from_file(text: &str) -> Result<BTreeMap<String, Flag>, String> {
    let doc = document(text)?;
    Ok(doc["flags"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Flag::from_json(k, v).ok().map(|f| (k.clone(), f)))
        .collect())
}

/// The flags of a file runner does not manage (their own variants or targeting), with why:
/// runner leaves them as they are.
pub fn foreign(text: &str) -> Result<BTreeMap<String, String>, String> {
    let doc = document(text)?;
    Ok(doc["flags"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Flag::from_json(k, v).err().map(|why| (k.clone(), why)))
        .collect())
}

/// The variant flagd serves `targeting_key` for `flag` of a file: `Some(true)` on, `Some(false)`
/// off, `None` when the file has no such enabled flag.
pub fn evaluate(file: &Value, flag: &str, targeting_key: &str) -> Option<bool> {
    let f = &file["flags"][flag];
    if f.is_null() || f["state"] == "DISABLED" {
        return None;
    }
    let variant = f["targeting"]["fractional"]
        .as_array()
        .and_then(|parts| fractional(flag, targeting_key, parts))
        .or_else(|| f["defaultVariant"].as_str().map(str::to_string))?;
    f["variants"][variant.as_str()].as_bool()
}

/// flagd's `fractional` (as the OpenFeature project's flagd-core evaluates it): the bucketing
/// key is flag key + targeting key; its MurmurHash3 (x86 32-bit, seed 0) as an unsigned
/// number, times the sum of the integer weights, shifted right 32 bits, is the bucket; the
/// variant is the first whose cumulative weight exceeds it. `None` (flagd then serves the
/// default variant) when the weights are not integers or sum to nothing.
fn fractional(flag: &str, key: &str, parts: &[Value]) -> Option<String> {
    let mut buckets: Vec<(&str, u64)> = Vec::with_capacity(parts.len());
    for part in parts {
        let pair = part.as_array()?;
        let weight = match pair.get(1) {
            None => 1,
            Some(w) => w.as_i64().or_else(|| w.as_u64().map(|_| i64::MAX))?.max(0) as u64,
        };
        buckets.push((pair.first()?.as_str()?, weight));
    }
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    if total == 0 || total > i32::MAX as u64 {
        return None;
    }
    let hash = murmur3_32(format!("{flag}{key}").as_bytes());
    let bucket = (u64::from(hash) * total) >> 32;
    let mut sum = 0;
    for (variant, weight) in buckets {
        sum += weight;
        if sum > bucket {
            return Some(variant.to_string());
        }
    }
    None
}

/// MurmurHash3, x86 32-bit, seed 0.
fn murmur3_32(data: &[u8]) -> u32 {
    // Reading from a slice cannot fail.
    murmur3::murmur3_32(&mut std::io::Cursor::new(data), 0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_the_reference_vectors() {
        assert_eq!(murmur3_32(b""), 0);
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
    }

    #[test]
    fn a_rollout_serves_its_share_of_a_thousand_keys() {
        for percent in [5, 50] {
            let file: Value = serde_json::from_str(&to_file(
                &[(
                    "new-checkout".to_string(),
                    Flag::new("new-checkout", percent),
                )]
                .into(),
            ))
            .unwrap();
            let on = (0..1000)
                .filter(|i| evaluate(&file, "new-checkout", &format!("user-{i}")) == Some(true))
                .count();
            let share = on as f64 / 10.0;
            assert!(
                (share - f64::from(percent)).abs() <= 3.0,
                "{share}% at {percent}%"
            );
        }
    }

    #[test]
    fn a_file_others_wrote_keeps_what_runner_does_not_manage() {
        let theirs = r#"{"$evaluators": {"emails": {"in": ["@x.com", {"var": "email"}]}},
            "metadata": {"owner": "team"},
            "flags": {
              "color": {"state": "ENABLED", "variants": {"red": "red", "blue": "blue"}, "defaultVariant": "red",
                        "targeting": {"if": [{"$ref": "emails"}, "blue", null]}},
              "old": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off"}}}"#;
        assert_eq!(
            from_file(theirs).unwrap().keys().collect::<Vec<_>>(),
            ["old"]
        );
        assert!(foreign(theirs).unwrap()["color"].contains("not a fractional rollout"));
        // runner sets its flags: `old` removed, `new` added; the rest is as it was.
        let flags: BTreeMap<String, Flag> = [("new".to_string(), Flag::new("new", 5))].into();
        let out: Value = serde_json::from_str(&merge(Some(theirs), &flags).unwrap()).unwrap();
        assert!(out["flags"]["old"].is_null());
        assert_eq!(out["flags"]["new"]["metadata"]["percent"], 5);
        assert_eq!(out["flags"]["color"]["variants"]["blue"], "blue");
        assert_eq!(out["$evaluators"]["emails"]["in"][0], "@x.com");
        assert_eq!(out["metadata"]["owner"], "team");
        assert_eq!(out["$schema"], SCHEMA);
        assert!(merge(Some("{"), &flags).is_err());
    }

    #[test]
    fn files_round_trip_with_their_stage() {
        let mut f = Flag::new("a", 25);
        f.metadata
            .insert("created".into(), "2026-11-30T10:00:00Z".into());
        let text = to_file(&[("a".to_string(), f.clone())].into());
        assert_eq!(from_file(&text).unwrap()["a"], f);
        for p in [0, 100] {
            let text = to_file(&[("a".to_string(), Flag::new("a", p))].into());
            assert_eq!(from_file(&text).unwrap()["a"].percent, p);
        }
    }
}
