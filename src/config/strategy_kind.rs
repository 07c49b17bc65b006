//! The strategies an environment can name in runner.toml (`strategy = "..."`); how each
//! works is `deploy::strategy`'s business.

/// The strategies runner.toml can name (`strategy` of an environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// The deploy hook replaces the release in place (the default).
    #[default]
    AllAtOnce,
}

impl StrategyKind {
    pub const NAMES: &'static str = "all-at-once";

    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::AllAtOnce => "all-at-once",
        }
    }

    pub fn parse(text: &str) -> Option<StrategyKind> {
        match text {
            "all-at-once" => Some(StrategyKind::AllAtOnce),
            _ => None,
        }
    }
}
