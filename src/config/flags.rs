//! `[flags]`: where the flag files are, the ramp's steps and pauses, when a flag is stale, and
//! how the files reach the application.

use std::path::Path;
use std::time::Duration;

use super::ConfigError;
use super::file::Text;
use super::reader::Reader;

pub(super) fn flags(
    reader: &Reader<'_>,
    t: &super::file::FlagsTable,
    root: &Path,
) -> Result<super::Flags, ConfigError> {
    let dir = match &t.dir {
        Some(d) => root.join(reader.text(d, "flags.dir")?.0),
        None => root.join("flags"),
    };
    let mut steps = vec![5, 50, 100];
    if let Some(list) = &t.steps {
        let values: Vec<u32> = list.get_ref().iter().map(|s| *s.get_ref()).collect();
        let ok = !values.is_empty()
            && values.windows(2).all(|w| w[0] < w[1])
            && values.iter().all(|v| (1..=100).contains(v))
            && values.last() == Some(&100);
        if !ok {
            return Err(reader.error_at(
                list.span().start,
                format!("flags.steps: {values:?} is not a ramp; give increasing percentages ending at 100, e.g. [5, 50, 100]"),
            ));
        }
        steps = values;
    }
    let duration =
        |v: &Option<Text>, key: &str, default: Duration| -> Result<Duration, ConfigError> {
            Ok(match v {
                Some(v) => reader.duration(v, key)?.unwrap_or(Duration::ZERO),
                None => default,
            })
        };
    let search = match &t.search {
        Some(list) => list
            .get_ref()
            .iter()
            .map(|p| reader.text(p, "flags.search").map(|(p, _)| root.join(p)))
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![root.to_path_buf()],
    };
    let pattern = match &t.pattern {
        Some(p) => {
            let (text, _) = reader.text(p, "flags.pattern")?;
            match regex::Regex::new(&text) {
                Ok(r) if r.captures_len() >= 2 => text,
                Ok(_) => {
                    return Err(reader.error_at(
                        p.span().start,
                        "flags.pattern needs a group that captures the flag key, e.g. \"isEnabled\\(\\\"([a-z0-9-]+)\\\"\"",
                    ));
                }
                Err(e) => {
                    return Err(reader
                        .error_at(p.span().start, format!("flags.pattern is not a regex: {e}")));
                }
            }
        }
        None => super::DEFAULT_FLAG_PATTERN.to_string(),
    };
    Ok(super::Flags {
        dir,
        steps,
        pause: duration(&t.pause, "flags.pause", Duration::from_secs(60))?,
        stale_after: duration(
            &t.stale_after,
            "flags.stale_after",
            Duration::from_secs(30 * 24 * 3600),
        )?,
        search,
        pattern,
        push: t
            .push
            .as_ref()
            .map(|v| reader.argv(v, "flags.push"))
            .transpose()?,
    })
}
