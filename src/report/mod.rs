//! Output for people: aligned tables now; progress bars arrive with the commands that do long work.

pub mod deploy;
pub mod findings;
pub mod progress;
pub mod status;
pub mod table;

pub use crate::catalog::shown;
