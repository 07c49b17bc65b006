//! Backward compatibility proven by the database: the queries of the release still serving,
//! prepared against the schema each pending migration leaves, their result shapes compared with
//! what that release saw.
//!
//! Where queries come from ([`sources`]): sqlx's offline data (`.sqlx/query-*.json`), plain SQL
//! files or folders (`[compat] queries`), at the working tree or at a git ref (the release that
//! will still be serving while this change migrates).
//!
//! What is compared ([`shape`]): a query is prepared (PostgreSQL's Parse/Describe with the
//! parameter types sqlx recorded; SQLite's `sqlite3_prepare`; MySQL's `COM_STMT_PREPARE`) on
//! the schema before the pending migrations, then after each of them. A query that stops
//! preparing, a result column that disappears or changes its type or nullability, and, under
//! `SELECT *`, a changed column list (pooled connections' prepared statements then fail with
//! "cached plan must not change result type") are findings on the migration that caused them.

pub mod check;
pub mod release;
pub mod shape;
pub mod sources;

pub use shape::{Shape, describe};
pub use sources::{Query, Settings, Tree, load};
