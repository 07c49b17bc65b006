//! runner: a migration-aware deploy runner.
//!
//! The binary is a thin shell over this library: `cli` parses, `commands` does the work,
//! `error` maps every failure to one of the documented exit codes.

pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod deploy;
pub mod engine;
pub mod error;
pub mod lint;
pub mod report;
pub mod runtime;

pub use error::{Error, ExitCode, Result};
