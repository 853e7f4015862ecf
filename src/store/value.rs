//! The values a key can hold, in encodings that mirror Redis's so that
//! OBJECT ENCODING reports the same names.

use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::zset::ZSet;
use crate::resp::reply::format_i64;
use crate::resp::request::parse_i64;

/// Strings up to this length are created "embstr", as in Redis.
const EMBSTR_MAX: usize = 44;
/// Redis keeps one shared object for each integer below this.
const SHARED_INTEGERS: i64 = 10_000;
/// Strings longer than this are never integer-encoded.
const INT_ENCODE_MAX: usize = 20;

/// Bytes this short are kept inside the value itself, with no allocation
/// of their own: 22 is what fits beside the length and the tag in the 24
/// bytes `Str` takes anyway.
const INLINE_MAX: usize = 22;

/// Short bytes held in place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inline {
    len: u8,
    bytes: [u8; INLINE_MAX],
}

impl Inline {
    fn new(bytes: &[u8]) -> Inline {
        let mut inline = Inline { len: bytes.len() as u8, bytes: [0; INLINE_MAX] };
        inline.bytes[..bytes.len()].copy_from_slice(bytes);
        inline
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// A string value: an integer, or bytes. 24 bytes, so that with its tag a
/// `Value` takes 32 and every key's entry stays small.
#[derive(Debug, Clone, PartialEq)]
pub enum Str {
    /// A decimal integer that round-trips exactly ("int"). Redis shares
    /// one object per value in 0..10000, which OBJECT REFCOUNT shows.
    Int(i64),
    /// An "int" that is a private copy (COPY duplicates the object, so
    /// even a small value is not the shared one).
    IntUnshared(i64),
    /// Short bytes created in one piece ("embstr"), up to `INLINE_MAX`.
    Small(Inline),
    /// Longer bytes created in one piece ("embstr" up to `EMBSTR_MAX`).
    Emb(Box<[u8]>),
    /// Longer bytes created in one piece ("raw"): one allocation of just
    /// the bytes, 32 bytes a key less than a boxed vector.
    Long(Box<[u8]>),
    /// Bytes that were appended to or edited in place ("raw", with room
    /// to grow); boxed to keep the enum at 24 bytes.
    Raw(Box<Vec<u8>>),
}

impl Str {
    /// A string created by SET and friends: integer-encoded when it is a
    /// canonical decimal, embstr when short, raw otherwise.
    pub fn new(bytes: &[u8]) -> Str {
        if bytes.len() <= INT_ENCODE_MAX {
            if let Some(n) = parse_i64(bytes) {
                return Str::Int(n);
            }
        }
        Str::text(bytes)
    }

    /// A string built as text, never integer-encoded (Redis's INCRBYFLOAT
    /// results): embstr when short, raw otherwise.
    pub fn text(bytes: &[u8]) -> Str {
        if bytes.len() <= INLINE_MAX {
            Str::Small(Inline::new(bytes))
        } else if bytes.len() <= EMBSTR_MAX {
            Str::Emb(bytes.into())
        } else {
            Str::Long(bytes.into())
        }
    }

    /// A "raw" string holding `bytes`.
    pub fn raw(bytes: Vec<u8>) -> Str {
        Str::Raw(Box::new(bytes))
    }

    /// The bytes of the value; integers are formatted into `buf`.
    pub fn bytes<'a>(&'a self, buf: &'a mut [u8; 20]) -> &'a [u8] {
        match self {
            Str::Int(n) | Str::IntUnshared(n) => format_i64(*n, buf),
            Str::Small(s) => s.as_slice(),
            Str::Emb(b) | Str::Long(b) => b,
            Str::Raw(v) => v,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) | Str::IntUnshared(n) => format_i64(*n, &mut [0; 20]).len(),
            Str::Small(s) => s.len as usize,
            Str::Emb(b) | Str::Long(b) => b.len(),
            Str::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if it is one in Redis's strict sense.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Str::Int(n) | Str::IntUnshared(n) => Some(*n),
            Str::Small(s) => parse_i64(s.as_slice()),
            Str::Emb(b) | Str::Long(b) => parse_i64(b),
            Str::Raw(v) => parse_i64(v),
        }
    }

    /// The bytes, made editable in place ("raw" from now on, as Redis's
    /// APPEND, SETRANGE and SETBIT leave it).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) {
            let bytes = self.bytes(&mut [0; 20]).to_vec();
            *self = Str::raw(bytes);
        }
        match self {
            Str::Raw(v) => v,
            _ => unreachable!("converted above"),
        }
    }

    /// OBJECT REFCOUNT: Redis's shared integers report INT_MAX.
    pub fn refcount(&self) -> i64 {
        match self {
            Str::Int(n) if (0..SHARED_INTEGERS).contains(n) => i32::MAX as i64,
            _ => 1,
        }
    }

    /// The value as a new object, as COPY makes it.
    pub fn duplicate(&self) -> Str {
        match self {
            Str::Int(n) => Str::IntUnshared(*n),
            other => other.clone(),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) | Str::IntUnshared(_) => "int",
            Str::Small(_) | Str::Emb(_) => "embstr",
            Str::Long(_) | Str::Raw(_) => "raw",
        }
    }

    /// Heap bytes held, for memory estimates.
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Int(_) | Str::IntUnshared(_) | Str::Small(_) => 0,
            Str::Emb(b) | Str::Long(b) => b.len(),
            Str::Raw(v) => size_of::<Vec<u8>>() + v.capacity(),
        }
    }
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// Values that take more than this many frees to drop are dropped on the
/// freeing thread when freed lazily (Redis's LAZYFREE_THRESHOLD).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Everything a key can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Str),
    Hash(Hash),
    Set(Set),
    /// Boxed: every key's entry holds a `Value`, so its largest form sets
    /// the size of all of them.
    List(Box<List>),
    ZSet(ZSet),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(_) => "quicklist",
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Roughly how many allocations dropping the value frees: 1 for a
    /// string or a compact encoding, the element count otherwise. Above
    /// `LAZYFREE_THRESHOLD`, a value evicted under lazyfree-lazy-eviction
    /// is freed on the freeing thread.
    pub fn free_effort(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(l) => l.len() / 64 + 1,
            Value::Hash(h) if h.encoding() == "hashtable" => h.len(),
            Value::Set(s) if s.encoding() == "hashtable" => s.len(),
            Value::ZSet(z) if z.encoding() == "skiplist" => z.len(),
            _ => 1,
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::List(l) => l.heap_size(),
            Value::ZSet(z) => z.heap_size(),
        }
    }
}

/// A type a value can hold, for typed lookups: `Some` when the value is
/// of this type.
pub trait Typed: Sized {
    fn from_value(value: &mut Value) -> Option<&mut Self>;
    fn into_value(self) -> Value;
}

macro_rules! typed {
    ($ty:ty, $variant:ident) => {
        impl Typed for $ty {
            fn from_value(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }

            fn into_value(self) -> Value {
                Value::$variant(self)
            }
        }
    };
}

typed!(Str, Str);
typed!(Hash, Hash);
typed!(Set, Set);

impl Typed for List {
    fn from_value(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::List(v) => Some(v),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::List(Box::new(self))
    }
}
typed!(ZSet, ZSet);

/// A key's slot in the keyspace: its value and its expiry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Absolute Unix time in milliseconds; 0 for a persistent key (a
    /// deadline of 0 is stored as 1: both are long past). Eight bytes, not
    /// an `Option`'s sixteen: every key carries it.
    expires_at: u64,
    /// When the key was last used, or how often: see `access`.
    pub access: u32,
    /// While the key has a TTL, its place in its database's TTL index
    /// (`Db` keeps the two in step). It fills what would be padding.
    pub(super) ttl_slot: u32,
}

impl Entry {
    /// A copy with a new value object (COPY).
    pub fn duplicate(&self) -> Entry {
        let value = match &self.value {
            Value::Str(s) => Value::Str(s.duplicate()),
            other => other.clone(),
        };
        Entry { value, ..*self }
    }

    pub fn new(value: Value) -> Self {
        Entry { value, expires_at: 0, access: 0, ttl_slot: 0 }
    }

    /// An entry with this expiry and access time.
    pub fn with(value: Value, expires_at_ms: Option<u64>, access: u32) -> Self {
        let mut e = Entry { value, expires_at: 0, access, ttl_slot: 0 };
        e.set_expires_at_ms(expires_at_ms);
        e
    }

    /// Absolute Unix time in milliseconds; `None` for a persistent key.
    pub fn expires_at_ms(&self) -> Option<u64> {
        (self.expires_at != 0).then_some(self.expires_at)
    }

    /// Sets the expiry, returning the old one. Only `Db` may, as it keeps
    /// the TTL index in step.
    pub(super) fn set_expires_at_ms(&mut self, at: Option<u64>) -> Option<u64> {
        let old = self.expires_at_ms();
        self.expires_at = at.map_or(0, |ms| ms.max(1));
        old
    }

    /// Seconds since the last access (the stamp read as an LRU clock).
    pub fn idle_secs(&self, now_ms: u64) -> u64 {
        super::access::idle_secs(self.access, now_ms)
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at != 0 && self.expires_at <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Str::new(b"12").encoding(), "int");
        assert_eq!(Str::new(b"-9223372036854775808").encoding(), "int");
        assert_eq!(Str::new(b"012").encoding(), "embstr");
        assert_eq!(Str::new(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Str::new(&[b'a'; 45]).encoding(), "raw");
        let mut s = Str::new(b"12");
        s.make_raw().push(b'3');
        assert_eq!(s.encoding(), "raw");
        assert_eq!(s.bytes(&mut [0; 20]), b"123");
        assert_eq!(s.as_int(), Some(123));
        assert_eq!(Str::Int(-5).len(), 2);
    }
}

#[cfg(test)]
mod size_tests {
    /// Every key's entry holds a `Value` inline, so its largest form sets
    /// the memory of every key: big forms go behind a pointer.
    #[test]
    fn values_stay_small() {
        let size = std::mem::size_of::<super::Value>();
        assert!(size <= 32, "Value is {size} bytes");
        let size = std::mem::size_of::<super::Entry>();
        assert!(size <= 48, "Entry is {size} bytes");
    }
}
