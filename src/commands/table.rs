//! The command table: every family's `COMMANDS` rows, indexed by name and
//! by full name (`client|list`) for dispatch, COMMAND and INFO
//! commandstats. Nothing else in the crate lists command names.

use ahash::AHashMap as HashMap;
use std::sync::OnceLock;

use super::CommandSpec;

/// Every family's rows, in the order COMMAND lists them.
fn families() -> [&'static [CommandSpec]; 18] {
    [
        super::strings::COMMANDS,
        super::bitmaps::COMMANDS,
        super::keys::COMMANDS,
        super::sort::COMMANDS,
        super::lists::COMMANDS,
        super::hashes::COMMANDS,
        super::sets::COMMANDS,
        super::zsets::COMMANDS,
        super::zset_algebra::COMMANDS,
        super::connection::COMMANDS,
        super::multi::COMMANDS,
        super::pubsub::COMMANDS,
        super::scripting::COMMANDS,
        super::functions::COMMANDS,
        super::server::COMMANDS,
        super::latency::COMMANDS,
        super::persistence::COMMANDS,
        super::command::COMMANDS,
    ]
}

pub struct Entry {
    /// `get`, or `client|list` for a subcommand.
    pub full_name: String,
    pub spec: &'static CommandSpec,
    pub parent: Option<usize>,
}

struct Table {
    entries: Vec<Entry>,
    by_name: HashMap<Vec<u8>, usize>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut entries = Vec::new();
        for spec in families().into_iter().flatten() {
            let parent = entries.len();
            entries.push(Entry { full_name: spec.name.to_string(), spec, parent: None });
            for sub in spec.subcommands {
                entries.push(Entry {
                    full_name: format!("{}|{}", spec.name, sub.name),
                    spec: sub,
                    parent: Some(parent),
                });
            }
        }
        let by_name = entries.iter().enumerate().map(|(i, e)| (e.full_name.clone().into_bytes(), i)).collect();
        Table { entries, by_name }
    })
}

/// Names longer than this are not commands.
const NAME_MAX: usize = 64;

fn find(name: &[u8]) -> Option<usize> {
    if name.len() > NAME_MAX {
        return None;
    }
    let mut buf = [0u8; NAME_MAX];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table().by_name.get(&lower[..]).copied()
}

/// A top-level command by name, any case.
pub fn lookup(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    let idx = find(name).filter(|&i| table().entries[i].parent.is_none())?;
    Some((idx, table().entries[idx].spec))
}

/// A subcommand of the container command at `parent`.
pub fn lookup_sub(parent: usize, sub: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    let mut full = table().entries[parent].full_name.clone().into_bytes();
    full.push(b'|');
    full.extend_from_slice(sub);
    let idx = find(&full)?;
    Some((idx, table().entries[idx].spec))
}

/// Number of entries (commands and subcommands).
pub fn count() -> usize {
    table().entries.len()
}

pub fn entry(idx: usize) -> &'static Entry {
    &table().entries[idx]
}

pub fn full_name(idx: usize) -> &'static str {
    &table().entries[idx].full_name
}

/// Every top-level command.
pub fn top_level() -> impl Iterator<Item = &'static CommandSpec> {
    table().entries.iter().filter(|e| e.parent.is_none()).map(|e| e.spec)
}

/// Every entry, subcommands included.
pub fn all() -> impl Iterator<Item = (usize, &'static Entry)> {
    table().entries.iter().enumerate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_arity_sane() {
        let mut seen = std::collections::HashSet::new();
        for (_, e) in all() {
            assert!(seen.insert(e.full_name.clone()), "duplicate {}", e.full_name);
            assert_eq!(e.full_name, e.full_name.to_lowercase());
            assert_ne!(e.spec.arity, 0, "{}", e.full_name);
            assert!(!e.spec.summary.is_empty(), "{} has no summary", e.full_name);
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"list").is_none(), "subcommands are not top-level");
    }
}
