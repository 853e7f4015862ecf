//! The set type: an intset (sorted integers) while every member is an
//! integer and there are at most set-max-intset-entries of them, a table
//! otherwise (Redis 7.0 has no listpack encoding for sets).

use std::borrow::Cow;

use super::dict::Dict;
use crate::resp::reply::format_i64;
use crate::resp::request::parse_i64;

#[derive(Debug)]
pub enum Set {
    Ints(Vec<i64>),
    /// Boxed, so a small value does not pay for the table inline.
    Table(Box<Dict<()>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(Vec::new())
    }
}

impl Clone for Set {
    fn clone(&self) -> Self {
        match self {
            Set::Ints(v) => Set::Ints(v.clone()),
            Set::Table(t) => {
                let mut copy = Dict::new();
                for (k, _) in t.iter() {
                    copy.insert_new(k, ());
                }
                Set::Table(Box::new(copy))
            }
        }
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(&m))
    }
}

impl Set {
    /// An empty set about to receive `n` members: a table sized for them
    /// at once when that many could not stay an intset.
    pub fn sized(n: usize, max_ints: usize) -> Set {
        if n > max_ints {
            let mut table = Dict::new();
            table.reserve(n);
            Set::Table(Box::new(table))
        } else {
            Set::default()
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_i64(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            Set::Table(t) => t.peek(member).is_some(),
        }
    }

    fn convert_to_table(&mut self) {
        if let Set::Ints(v) = self {
            let mut table = Dict::new();
            for n in v.iter() {
                table.insert_new(format_i64(*n, &mut [0; 20]), ());
            }
            *self = Set::Table(Box::new(table));
        }
    }

    /// Adds `member`; true when it is new. `max_ints` is
    /// set-max-intset-entries.
    pub fn insert(&mut self, member: &[u8], max_ints: usize) -> bool {
        if let Set::Ints(v) = self {
            match parse_i64(member) {
                Some(n) => match v.binary_search(&n) {
                    Ok(_) => return false,
                    Err(at) if v.len() < max_ints => {
                        v.insert(at, n);
                        return true;
                    }
                    Err(_) => self.convert_to_table(),
                },
                None => self.convert_to_table(),
            }
        }
        let Set::Table(t) = self else { unreachable!("converted above") };
        if t.peek(member).is_some() {
            return false;
        }
        t.insert_new(member, ());
        true
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(v) => match parse_i64(member).map(|n| v.binary_search(&n)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    true
                }
                _ => false,
            },
            Set::Table(t) => t.remove(member).is_some(),
        }
    }

    /// Every member: ascending for an intset, table order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + '_> {
        match self {
            Set::Ints(v) => Box::new(v.iter().map(|n| Cow::Owned(format_i64(*n, &mut [0; 20]).to_vec()))),
            Set::Table(t) => Box::new(t.iter().map(|(k, _)| Cow::Borrowed(k))),
        }
    }

    /// A random member in O(1) (the set must not be empty).
    pub fn random(&self, mut rand: impl FnMut() -> u64) -> Option<Cow<'_, [u8]>> {
        match self {
            Set::Ints(v) if v.is_empty() => None,
            Set::Ints(v) => Some(Cow::Owned(format_i64(v[(rand() % v.len() as u64) as usize], &mut [0; 20]).to_vec())),
            Set::Table(t) => t.random(rand).map(|(k, _)| Cow::Borrowed(k)),
        }
    }

    /// A set holding `members`, encoded as SADD would build it.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>, max_ints: usize) -> Set {
        let mut set = Set::default();
        for m in members {
            set.insert(m, max_ints);
        }
        set
    }

    /// One SSCAN step: an intset is returned whole with cursor 0.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8])) -> u64 {
        match self {
            Set::Ints(_) => {
                for m in self.iter() {
                    visit(&m);
                }
                0
            }
            Set::Table(t) => t.scan(cursor, |k, _| visit(k)),
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Set::Ints(v) => v.capacity() * 8,
            Set::Table(t) => t.heap_size(|_| 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_then_table() {
        let mut s = Set::default();
        assert!(s.insert(b"3", 4));
        assert!(s.insert(b"-1", 4));
        assert!(!s.insert(b"3", 4));
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.iter().map(|m| m.into_owned()).collect::<Vec<_>>(), vec![b"-1".to_vec(), b"3".to_vec()]);
        assert!(s.insert(b"03", 4), "not canonical, so not an integer");
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"3") && s.contains(b"03") && !s.contains(b"4"));
        assert!(s.remove(b"3"));
        assert_eq!(s.len(), 2);
        let full = Set::from_members([&b"1"[..], b"2", b"3", b"4", b"5"], 4);
        assert_eq!(full.encoding(), "hashtable", "past set-max-intset-entries");
        assert_eq!(full.clone(), full);
    }
}
