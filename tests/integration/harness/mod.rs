//! What the integration tests share: a throwaway PostgreSQL cluster and a runner process helper.

pub mod cli;
pub mod fleet;
pub mod mariadb;
pub mod postgres;
pub mod project;
pub mod prometheus;
pub mod shop;
