//! runner: a migration-aware deploy runner.
//!
//! The binary is a thin shell over this library: `cli` parses, `commands` does the work,
//! `error` maps every failure to one of the documented exit codes. What the binary, the
//! integration tests and the fuzz target use is public; the rest is the crate's own.
//!
//! Arrows point down: commands -> deploy / engine -> db / analysis / haproxy -> config / catalog
//! / lint -> error, with `report` (every printer, and the one route to the terminal) beside
//! commands and `runtime` (the async runtime, run info, signals) below all of them.

pub(crate) mod analysis;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod compat;
pub mod config;
pub(crate) mod db;
pub(crate) mod deploy;
pub(crate) mod engine;
pub mod error;
pub mod flags;
pub(crate) mod haproxy;
pub(crate) mod hints;
pub mod lint;
pub(crate) mod report;
pub(crate) mod runtime;

pub use error::{Error, ExitCode, Result};
