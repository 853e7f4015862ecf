//! The command table: every family's `COMMANDS` rows, indexed by name and
//! by full name (`client|list`) for dispatch, COMMAND and INFO
//! commandstats. Nothing else in the crate lists command names.

use std::sync::OnceLock;

use super::CommandSpec;

/// Every family's rows, in the order COMMAND lists them.
fn families() -> [&'static [CommandSpec]; 19] {
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
        super::replication::COMMANDS,
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
    /// Open addressing over `entries` by `name_hash`, linear probing;
    /// `EMPTY` marks a free slot. At most a quarter full.
    slots: Box<[u32]>,
    /// The names of up to `SHORT_MAX` bytes (nearly every command a
    /// client sends), by `pack_name`: (packed name, entry); 0 marks a free
    /// slot. Probed by a multiply of the packed word, no byte loop.
    short: Box<[(u64, u32)]>,
}

/// Longest name `pack_name` packs.
const SHORT_MAX: usize = 7;

/// A name of 1 to `SHORT_MAX` bytes as one word: its bytes lowercased,
/// then its length in the top byte (so "get" and "get\0" differ).
#[inline]
fn pack_name(name: &[u8]) -> Option<u64> {
    if name.is_empty() || name.len() > SHORT_MAX {
        return None;
    }
    let mut bytes = [0u8; 8];
    bytes[..name.len()].copy_from_slice(name);
    bytes[7] = name.len() as u8;
    Some(lowercase_word(u64::from_le_bytes(bytes)))
}

/// ASCII-lowercases the eight bytes of `x` at once: a byte gets 0x20 added
/// exactly when it is in 'A'..='Z'. The additions stay within each byte
/// (a 7-bit value plus at most 0x3f), so no byte carries into the next.
#[inline]
fn lowercase_word(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = x & (0x7f * ONES);
    let above_z = low7 + (0x7f - b'Z' as u64) * ONES;
    let from_a = low7 + (0x80 - b'A' as u64) * ONES;
    let upper = !x & (from_a ^ above_z) & (0x80 * ONES);
    x | (upper >> 2)
}

fn short_slot(packed: u64, mask: usize) -> usize {
    (packed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize & mask
}

const EMPTY: u32 = u32::MAX;

/// FNV-1a over the name's parts, lowercased: every request looks its
/// command up, and this costs a few instructions a byte where SipHash
/// over a lowercased copy cost some 200 a lookup.
fn name_hash(parts: &[&[u8]]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h = (h ^ b.to_ascii_lowercase() as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h as usize
}

/// Whether `full` is the concatenation of `parts`, ignoring ASCII case.
fn same_name(full: &[u8], parts: &[&[u8]]) -> bool {
    let mut rest = full;
    for part in parts {
        match rest.split_at_checked(part.len()) {
            Some((head, tail)) if head.eq_ignore_ascii_case(part) => rest = tail,
            _ => return false,
        }
    }
    rest.is_empty()
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
        let mut slots = vec![EMPTY; (entries.len() * 4).next_power_of_two()].into_boxed_slice();
        let mask = slots.len() - 1;
        for (i, e) in entries.iter().enumerate() {
            let mut at = name_hash(&[e.full_name.as_bytes()]) & mask;
            while slots[at] != EMPTY {
                at = (at + 1) & mask;
            }
            slots[at] = i as u32;
        }
        let shorts: Vec<(u64, u32)> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| pack_name(e.full_name.as_bytes()).map(|p| (p, i as u32)))
            .collect();
        let mut short = vec![(0, 0); (shorts.len() * 4).next_power_of_two()].into_boxed_slice();
        let mask = short.len() - 1;
        for (packed, i) in shorts {
            let mut at = short_slot(packed, mask);
            while short[at].0 != 0 {
                at = (at + 1) & mask;
            }
            short[at] = (packed, i);
        }
        Table { entries, slots, short }
    })
}

/// Names longer than this are not commands.
const NAME_MAX: usize = 64;

/// The entry named `name`, any case.
fn find_name(name: &[u8]) -> Option<usize> {
    let Some(packed) = pack_name(name) else {
        return find(&[name]);
    };
    let t = table();
    let mask = t.short.len() - 1;
    let mut at = short_slot(packed, mask);
    loop {
        match t.short[at] {
            (0, _) => return None,
            (p, i) if p == packed => return Some(i as usize),
            _ => at = (at + 1) & mask,
        }
    }
}

/// The entry named by the concatenation of `parts`, any case.
fn find(parts: &[&[u8]]) -> Option<usize> {
    if parts.iter().map(|p| p.len()).sum::<usize>() > NAME_MAX {
        return None;
    }
    let t = table();
    let mask = t.slots.len() - 1;
    let mut at = name_hash(parts) & mask;
    loop {
        let i = t.slots[at];
        if i == EMPTY {
            return None;
        }
        if same_name(t.entries[i as usize].full_name.as_bytes(), parts) {
            return Some(i as usize);
        }
        at = (at + 1) & mask;
    }
}

/// A top-level command by name, any case.
pub fn lookup(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    let idx = find_name(name).filter(|&i| table().entries[i].parent.is_none())?;
    Some((idx, table().entries[idx].spec))
}

/// A subcommand of the container command at `parent`.
pub fn lookup_sub(parent: usize, sub: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    let idx = find(&[table().entries[parent].full_name.as_bytes(), b"|", sub])?;
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
    #[test]
    fn lowercase_word_is_ascii_lowercase() {
        for b in 0..=255u8 {
            let word = u64::from_le_bytes([b, b'Q', b, 0xff, b, b'q', b'[', b'@']);
            let expected = u64::from_le_bytes([b, b'Q', b, 0xff, b, b'q', b'[', b'@'].map(|c| c.to_ascii_lowercase()));
            assert_eq!(super::lowercase_word(word), expected, "byte {b:#x}");
        }
    }

    /// Every entry is found by its name in any case, through whichever
    /// path its length takes, and near misses are not.
    #[test]
    fn every_name_is_found() {
        for i in 0..super::count() {
            let name = super::full_name(i);
            assert_eq!(super::find_name(name.as_bytes()), Some(i), "{name}");
            assert_eq!(super::find_name(name.to_ascii_uppercase().as_bytes()), Some(i), "{name}");
            let mut longer = name.as_bytes().to_vec();
            longer.push(0);
            assert_eq!(super::find_name(&longer), None, "{name}\\0");
        }
        assert_eq!(super::find_name(b""), None);
        assert_eq!(super::find_name(b"gett"), None);
    }

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
