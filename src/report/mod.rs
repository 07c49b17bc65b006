//! Output for people: aligned tables now; progress bars arrive with the commands that do long work.

pub mod table;
