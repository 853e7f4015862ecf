//! The hash type: a listpack of field/value pairs while small, a table once
//! it passes hash-max-listpack-entries or a field or value passes
//! hash-max-listpack-value (as in Redis, it never converts back).

use super::dict::Dict;
use super::pack::Pack;

/// When a hash leaves the listpack encoding.
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

#[derive(Debug)]
pub enum Hash {
    /// Fields and values alternating, in insertion order.
    Pack(Pack),
    /// Boxed, so a small value does not pay for the table inline.
    Table(Box<Dict<Box<[u8]>>>),
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        match self {
            Hash::Pack(p) => Hash::Pack(p.clone()),
            Hash::Table(t) => {
                let mut copy = Dict::new();
                for (k, v) in t.iter() {
                    copy.insert_new(k, v.clone());
                }
                Hash::Table(Box::new(copy))
            }
        }
    }
}

impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Pack::new())
    }
}

impl Hash {
    /// An empty hash about to receive `n` fields: a table sized for them
    /// at once when that many could not stay a listpack.
    pub fn sized(n: usize, limits: HashLimits) -> Hash {
        if n > limits.max_entries {
            let mut table = Dict::new();
            table.reserve(n);
            Hash::Table(Box::new(table))
        } else {
            Hash::default()
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.len() / 2,
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// In a pack: the byte offsets of `field` and of its value.
    fn pack_find(p: &Pack, field: &[u8]) -> Option<(usize, usize)> {
        let mut it = p.iter();
        while let Some((at, f)) = it.next() {
            let (value_at, _) = it.next().expect("fields come in pairs");
            if f == field {
                return Some((at, value_at));
            }
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Pack(p) => {
                let (_, value_at) = Self::pack_find(p, field)?;
                p.iter().find(|(at, _)| *at == value_at).map(|(_, v)| v)
            }
            Hash::Table(t) => t.peek(field).map(|v| &**v),
        }
    }

    fn convert_to_table(&mut self) {
        if let Hash::Pack(p) = self {
            let mut table = Dict::new();
            let mut it = p.iter();
            while let (Some((_, f)), Some((_, v))) = (it.next(), it.next()) {
                table.insert_new(f, v.into());
            }
            *self = Hash::Table(Box::new(table));
        }
    }

    /// Sets `field`; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if let Hash::Pack(p) = self {
            let too_long = field.len() > limits.max_value || value.len() > limits.max_value;
            let found = Self::pack_find(p, field);
            if too_long || (found.is_none() && p.len() / 2 + 1 > limits.max_entries) {
                self.convert_to_table();
            } else {
                match found {
                    Some((_, value_at)) => p.replace(value_at, value),
                    None => {
                        p.push(field);
                        p.push(value);
                    }
                }
                return found.is_none();
            }
        }
        let Hash::Table(t) = self else { unreachable!("converted above") };
        t.insert(field, value.into()).is_none()
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => match Self::pack_find(p, field) {
                Some((at, _)) => {
                    p.remove(at, 2);
                    true
                }
                None => false,
            },
            Hash::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Every (field, value): insertion order for a pack, table order else.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Pack(p) => {
                let mut it = p.iter();
                Box::new(std::iter::from_fn(move || Some((it.next()?.1, it.next()?.1))))
            }
            Hash::Table(t) => Box::new(t.iter().map(|(k, v)| (k, &**v))),
        }
    }

    /// One HSCAN step: a pack is returned whole with cursor 0.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Pack(_) => {
                for (f, v) in self.iter() {
                    visit(f, v);
                }
                0
            }
            Hash::Table(t) => t.scan(cursor, |k, v| visit(k, v)),
        }
    }

    /// A random pair: O(1) for a table, a walk of at most
    /// hash-max-listpack-entries pairs for a pack.
    pub fn random(&self, mut rand: impl FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Pack(_) if self.is_empty() => None,
            Hash::Pack(_) => self.iter().nth((rand() % self.len() as u64) as usize),
            Hash::Table(t) => t.random(rand).map(|(k, v)| (k, &**v)),
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Pack(p) => p.heap_size(),
            Hash::Table(t) => t.heap_size(|v| v.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HashLimits = HashLimits { max_entries: 4, max_value: 8 };

    #[test]
    fn pack_then_table() {
        let mut h = Hash::default();
        assert!(h.set(b"a", b"1", LIMITS));
        assert!(!h.set(b"a", b"2", LIMITS));
        assert!(h.set(b"b", b"3", LIMITS));
        assert_eq!(h.get(b"a"), Some(&b"2"[..]));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![(&b"a"[..], &b"2"[..]), (&b"b"[..], &b"3"[..])]);
        assert!(h.set(b"long", b"123456789", LIMITS));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 3);
        assert_eq!(h.get(b"b"), Some(&b"3"[..]));
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 2);
        let mut small = Hash::default();
        for f in [b"1", b"2", b"3", b"4", b"5"] {
            small.set(f, b"v", LIMITS);
        }
        assert_eq!(small.encoding(), "hashtable", "past max_entries");
        assert_eq!(small.clone(), small);
    }
}
