//! `runner lock status|release`: who holds the migration lock, and what a release did.

use crate::db::lock::Holder;

/// `lock status` for people.
pub fn status(environment: &str, holder: Option<&Holder>) -> String {
    match holder {
        Some(h) => format!("the migration lock of {environment} is held by {h}"),
        None => format!("the migration lock of {environment} is free"),
    }
}

/// `lock status --format json`.
pub fn status_json(environment: &str, holder: Option<&Holder>) -> serde_json::Value {
    serde_json::json!({"environment": environment, "held": holder.is_some(), "holder": holder})
}

pub fn nothing_to_release(environment: &str) -> String {
    format!("the migration lock of {environment} is free: nothing to release")
}

pub fn released(environment: &str, detail: &str) -> String {
    format!("released the migration lock of {environment}: {detail}")
}
