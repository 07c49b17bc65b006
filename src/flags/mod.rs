//! Feature flags with a lifecycle, next to the release lifecycle: development (off
//! everywhere), then on in each environment of the pipeline in order, then the last one
//! (production) ramped 5 % -> 50 % -> 100 % (`[flags] steps`), then removed. Flags are written
//! for the application in the OpenFeature flagd format (`flagd`), one file per environment;
//! the files are the state, read back before every change.

pub mod debt;
pub mod flagd;
pub mod judge;
pub mod references;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::Config;
use flagd::Flag;

/// A flag's percentage in each environment of the pipeline, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub percents: Vec<(String, u32)>,
}

/// What a change asks for, checked against the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// The next stage in this environment.
    Promote,
    /// Back one stage in this environment.
    Back,
    /// An exact percentage.
    To(u32),
}

impl Rollout {
    fn index(&self, env: &str) -> Option<usize> {
        self.percents.iter().position(|(e, _)| e == env)
    }

    pub fn percent(&self, env: &str) -> u32 {
        self.percents
            .iter()
            .find(|(e, _)| e == env)
            .map_or(0, |(_, p)| *p)
    }

    /// The stage in words: `development`, `on in staging`, `production 5 %`, `100 % everywhere`.
    pub fn stage(&self) -> String {
        let Some((last, p)) = self.percents.last() else {
            return "development".into();
        };
        if self.percents.iter().all(|(_, p)| *p == 0) {
            return "development".into();
        }
        if self.percents.iter().all(|(_, p)| *p == 100) {
            return "100 % everywhere".into();
        }
        if *p > 0 {
            return format!("{last} {p} %");
        }
        let on: Vec<&str> = self
            .percents
            .iter()
            .filter(|(_, p)| *p == 100)
            .map(|(e, _)| e.as_str())
            .collect();
        format!("on in {}", on.join(", "))
    }

    /// The percentage `env` goes to for `m`, or why the lifecycle refuses it. The last
    /// environment ramps through `steps`; the others are off or fully on, each only after the
    /// ones before it are fully on, and back only once the ones after it are off.
    /// `protected`: the environments whose changes need `--approve` (the commands it prints
    /// carry it).
    pub fn next(
        &self,
        key: &str,
        env: &str,
        m: Move,
        steps: &[u32],
        protected: &[&str],
    ) -> Result<u32, String> {
        fn at<'e>(e: &'e str, protected: &[&str]) -> crate::hints::At<'e> {
            crate::hints::At {
                env: e,
                protected: protected.contains(&e),
            }
        }
        let i = self.index(env).ok_or_else(|| {
            format!(
                "{env} is not in [deploy] pipeline ({})",
                self.percents
                    .iter()
                    .map(|(e, _)| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let last = i + 1 == self.percents.len();
        let current = self.percents[i].1;
        let target = match (m, last) {
            (Move::Promote, false) if current == 100 => {
                return Err(format!("already fully on in {env}"));
            }
            (Move::Promote, false) => 100,
            (Move::Promote, true) => *steps.iter().find(|s| **s > current).ok_or_else(|| {
                format!("already at 100 % in {env}: remove it with runner flag remove once the code no longer reads it")
            })?,
            (Move::Back, false) => 0,
            (Move::Back, true) => steps.iter().rev().copied().find(|s| *s < current).unwrap_or(0),
            (Move::To(p), false) if p != 0 && p != 100 => {
                return Err(format!(
                    "{env} is not the last environment of the pipeline: a flag is off or fully on there (0 or 100); percentages ramp in {}",
                    self.percents.last().map_or("", |(e, _)| e.as_str())
                ));
            }
            (Move::To(p), _) if p > 100 => return Err(format!("{p} is not a percentage")),
            // Up the ramp one step at a time: no 50 % before 5 %.
            (Move::To(p), true) if p > current => {
                let next = steps.iter().copied().find(|s| *s > current).unwrap_or(100);
                if p > next {
                    return Err(format!(
                        "{env} is at {current} %: the ramp goes {} one step at a time; take {next} % first",
                        steps.iter().map(|s| format!("{s} %")).collect::<Vec<_>>().join(" -> ")
                    ));
                }
                p
            }
            (Move::To(p), _) => p,
        };
        if target > current
            && let Some((before, p)) = self.percents[..i].iter().find(|(_, p)| *p < 100)
        {
            return Err(format!(
                "{before} has it at {p} %: turn it fully on there first (`{}`)",
                crate::hints::flag_promote(at(before, protected), key, false)
            ));
        }
        if target < 100
            && let Some((after, p)) = self.percents[i + 1..].iter().find(|(_, p)| *p > 0)
        {
            return Err(format!(
                "{after} still serves it at {p} %: roll it back there first (`{}`)",
                crate::hints::flag_rollback(at(after, protected), key)
            ));
        }
        if target == current {
            return Err(format!("it is already at {current} % in {env}"));
        }
        Ok(target)
    }
}

/// Each flag's rollout over the pipeline, and its entry in each environment's file.
pub type Rollouts = BTreeMap<String, (Rollout, BTreeMap<String, Flag>)>;

/// The flag files of a project.
pub struct Store<'a> {
    pub config: &'a Config,
}

impl Store<'_> {
    pub fn path(&self, env: &str) -> PathBuf {
        self.config.flags.dir.join(format!("{env}.flagd.json"))
    }

    /// The flags of `env` (none when its file does not exist yet).
    pub fn read(&self, env: &str) -> Result<BTreeMap<String, Flag>, String> {
        let path = self.path(env);
        match std::fs::read_to_string(&path) {
            Ok(text) => flagd::from_file(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes the flags of `env` (through a temp file: readers never see half a file).
    pub fn write(&self, env: &str, flags: &BTreeMap<String, Flag>) -> Result<PathBuf, String> {
        let path = self.path(env);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // What the file holds besides runner's flags is kept.
        let existing = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let text = flagd::merge(existing.as_deref(), flags)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// The flags of the environments' files that runner does not manage (their own variants or
    /// targeting): key -> (file, why).
    pub fn foreign(&self) -> Result<BTreeMap<String, (PathBuf, String)>, String> {
        let mut out = BTreeMap::new();
        for env in &self.config.pipeline.value {
            let path = self.path(env);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            };
            for (key, why) in
                flagd::foreign(&text).map_err(|e| format!("{}: {e}", path.display()))?
            {
                out.entry(key).or_insert((path.clone(), why));
            }
        }
        Ok(out)
    }

    /// An error for a command on `key` when it is a flag runner does not manage.
    pub fn refuse_foreign(&self, key: &str) -> Result<(), String> {
        match self.foreign()?.get(key) {
            Some((path, why)) => Err(format!(
                "flag {key} in {} is not one runner manages ({why}); runner leaves it as it is: change it there, or give runner's flag another key",
                path.display()
            )),
            None => Ok(()),
        }
    }

    /// Every flag known in any environment, with its rollout over the pipeline.
    pub fn rollouts(&self) -> Result<Rollouts, String> {
        let mut out = Rollouts::new();
        let pipeline = &self.config.pipeline.value;
        let files: Vec<(String, BTreeMap<String, Flag>)> = pipeline
            .iter()
            .map(|e| self.read(e).map(|f| (e.clone(), f)))
            .collect::<Result<_, _>>()?;
        for (_, flags) in &files {
            for key in flags.keys() {
                out.entry(key.clone()).or_insert_with(|| {
                    let percents = files
                        .iter()
                        .map(|(e, f)| (e.clone(), f.get(key).map_or(0, |x| x.percent)))
                        .collect();
                    let by_env = files
                        .iter()
                        .filter_map(|(e, f)| f.get(key).map(|x| (e.clone(), x.clone())))
                        .collect();
                    (Rollout { percents }, by_env)
                });
            }
        }
        Ok(out)
    }
}

/// A flag key: what flagd and the code both spell the same way.
pub fn validate_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 100
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{key}` is not a flag key: use letters, digits, `-`, `_` and `.` (e.g. new-checkout)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(p: &[(&str, u32)]) -> Rollout {
        Rollout {
            percents: p.iter().map(|(e, x)| (e.to_string(), *x)).collect(),
        }
    }

    const STEPS: [u32; 3] = [5, 50, 100];

    #[test]
    fn the_lifecycle_goes_in_order() {
        let r = rollout(&[("staging", 0), ("production", 0)]);
        assert_eq!(r.stage(), "development");
        assert!(
            r.next("k", "production", Move::Promote, &STEPS, &[])
                .unwrap_err()
                .contains("staging has it at 0 %")
        );
        assert_eq!(r.next("k", "staging", Move::Promote, &STEPS, &[]), Ok(100));
        let r = rollout(&[("staging", 100), ("production", 0)]);
        assert_eq!(r.stage(), "on in staging");
        assert_eq!(r.next("k", "production", Move::Promote, &STEPS, &[]), Ok(5));
        let r = rollout(&[("staging", 100), ("production", 5)]);
        assert_eq!(r.stage(), "production 5 %");
        assert_eq!(
            r.next("k", "production", Move::Promote, &STEPS, &[]),
            Ok(50)
        );
        assert_eq!(r.next("k", "production", Move::Back, &STEPS, &[]), Ok(0));
        assert!(
            r.next("k", "staging", Move::Back, &STEPS, &[])
                .unwrap_err()
                .contains("production still serves it at 5 %")
        );
        assert!(
            r.next("k", "staging", Move::To(30), &STEPS, &[])
                .unwrap_err()
                .contains("not the last environment")
        );
        let r = rollout(&[("staging", 100), ("production", 100)]);
        assert_eq!(r.stage(), "100 % everywhere");
        assert!(
            r.next("k", "production", Move::Promote, &STEPS, &[])
                .unwrap_err()
                .contains("already at 100 %")
        );
        assert_eq!(r.next("k", "production", Move::Back, &STEPS, &[]), Ok(50));
        let r = rollout(&[("staging", 100), ("production", 0)]);
        assert!(
            r.next("k", "production", Move::To(50), &STEPS, &[])
                .unwrap_err()
                .contains("take 5 % first")
        );
        assert_eq!(r.next("k", "production", Move::To(3), &STEPS, &[]), Ok(3));
    }
}
