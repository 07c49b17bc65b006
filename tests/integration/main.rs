//! runner's integration tests: the real binary, real files, a real PostgreSQL.

// A failed unwrap is a failed test, with its message: what tests want.
#![allow(clippy::unwrap_used)]

mod adopt;
mod analysis;
mod catalog_layout;
mod check_command;
mod check_robustness;
mod ci_action;
mod cli_help;
mod compat;
mod config_errors;
mod dashboard;
mod deploy;
mod deploy_record;
mod docs_book;
mod example_project;
mod fault_suite;
mod flags;
mod harness;
mod layouts;
mod migrate_postgres;
mod migrate_sqlite;
mod mysql;
mod new_migration;
mod nginx_router;
mod passwords;
mod postgres_cluster;
mod recover;
mod release_stack;
mod seams;
mod sigkill;
mod statement_safety;
mod strategies;
mod verify_rollback;
