//! Output for people: aligned tables now; progress bars arrive with the commands that do long work.

pub mod findings;
pub mod progress;
pub mod table;

pub use crate::catalog::shown;
