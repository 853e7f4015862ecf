//! A chained hash table keyed by bytes, with incremental rehashing and a
//! reverse-binary scan cursor, the two properties a keyspace needs that a
//! hashbrown table cannot give:
//!
//! - Growing or shrinking never stalls: a resize allocates the new bucket
//!   array and then moves one bucket per operation (and a bounded batch per
//!   cron tick), while lookups consult both tables.
//! - `scan` returns every key present for the whole iteration at least once,
//!   even if the table grows or shrinks between calls. The cursor counts
//!   bucket indexes with the bits reversed, so the buckets already visited
//!   in a table of size 2^n map onto buckets already visited in 2^(n±1).

use std::sync::OnceLock;

mod node;

pub use node::Handle;
use node::{Link, Node};

/// The process's hash seed: random per process, as Redis seeds its own,
/// and shared by every table so an empty one does not carry a copy.
fn hasher() -> &'static ahash::RandomState {
    static SEED: OnceLock<ahash::RandomState> = OnceLock::new();
    SEED.get_or_init(ahash::RandomState::new)
}

const _: () = assert!(size_of::<Link<()>>() == size_of::<usize>() && align_of::<Link<()>>() == align_of::<usize>());

struct Table<V> {
    buckets: Box<[Link<V>]>,
    used: usize,
}

impl<V> Table<V> {
    /// A table of `size` empty buckets, as zeroed memory: for a big table
    /// the allocator hands out fresh pages that are zero already, so a
    /// resize of millions of buckets does not stall on writing each one.
    fn with_size(size: usize) -> Self {
        let buckets = Box::<[Link<V>]>::new_zeroed_slice(size);
        // SAFETY: `Node` is a transparent wrapper of a `NonNull`, so the
        // all-zero `Option<Node<V>>` is `None` (Option's documented
        // guarantee for such types).
        Table { buckets: unsafe { buckets.assume_init() }, used: 0 }
    }

    fn empty() -> Self {
        Table { buckets: Box::new([]), used: 0 }
    }

    /// Frees an emptied table without visiting its buckets (every one is
    /// `None`, owning nothing): dropping it as a slice would walk millions
    /// of buckets at once when the resize of a big table completes. A big
    /// one goes to the freeing thread: unmapping 64 MB took 2.3 ms here.
    fn discard_empty(self) {
        debug_assert_eq!(self.used, 0);
        let len = self.buckets.len();
        let raw = Box::into_raw(self.buckets).cast::<std::mem::MaybeUninit<usize>>();
        // SAFETY: a link is a nullable pointer, with `usize`'s size and
        // alignment, so this is the same allocation with the same layout.
        // Freeing it as `MaybeUninit` drops no element, and every element
        // is `None`.
        let bytes = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(raw, len)) };
        if len >= FREE_LATER_BUCKETS {
            crate::lazyfree::free_later(bytes, 1);
        }
    }

    fn mask(&self) -> u64 {
        (self.buckets.len() as u64).wrapping_sub(1)
    }
}

/// While a snapshot runs, a table grows only at this many entries a
/// bucket (Redis's dict_force_resize_ratio).
const FORCED_RESIZE_RATIO: usize = 5;
/// Tables of this many buckets (4 MB) or more are freed on the freeing
/// thread.
const FREE_LATER_BUCKETS: usize = 1 << 19;
/// Smallest table, in buckets.
const MIN_SIZE: usize = 4;
/// A table whose fill drops under 1/SHRINK_RATIO is shrunk.
const SHRINK_RATIO: usize = 10;
/// Empty buckets one rehash step may skip before it gives up for now.
const EMPTY_VISITS_PER_STEP: usize = 10;

pub struct Dict<V> {
    /// `tables[0]` is the live table; `tables[1]` the target of a resize.
    tables: [Table<V>; 2],
    /// The next bucket of `tables[0]` to move, while resizing.
    rehash_idx: Option<usize>,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

/// The node holding `key` in the chain starting at `link`.
fn find<'a, V>(mut link: Option<&'a Node<V>>, key: &[u8]) -> Option<&'a Node<V>> {
    while let Some(node) = link {
        if node.key() == key {
            return Some(node);
        }
        link = node.next();
    }
    None
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Dict { tables: [Table::empty(), Table::empty()], rehash_idx: None }
    }

    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buckets allocated in both tables (for memory estimates).
    pub fn buckets(&self) -> usize {
        self.tables[0].buckets.len() + self.tables[1].buckets.len()
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// Sizes an empty table for `n` entries at once (a file being loaded
    /// says how many keys follow), so it does not grow step by step.
    pub fn reserve(&mut self, n: usize) {
        if self.is_empty() && !self.is_rehashing() && self.tables[0].buckets.len() < n {
            self.tables[0] = Table::with_size(n.max(MIN_SIZE).next_power_of_two());
        }
    }

    fn hash(key: &[u8]) -> u64 {
        hasher().hash_one(key)
    }

    pub fn get(&mut self, key: &[u8]) -> Option<&V> {
        self.get_mut(key).map(|v| &*v)
    }

    /// A lookup that does not advance a pending resize.
    pub fn peek(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(Node::value)
    }

    fn find(&self, key: &[u8]) -> Option<&Node<V>> {
        let h = Self::hash(key);
        self.tables
            .iter()
            .filter(|t| !t.buckets.is_empty())
            .find_map(|t| find(t.buckets[(h & t.mask()) as usize].as_ref(), key))
    }

    pub fn contains_key(&mut self, key: &[u8]) -> bool {
        self.get_mut(key).is_some()
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = Self::hash(key);
        let tables = if self.is_rehashing() { 2 } else { 1 };
        let ti = (0..tables).find(|&ti| {
            let t = &self.tables[ti];
            !t.buckets.is_empty() && find(t.buckets[(h & t.mask()) as usize].as_ref(), key).is_some()
        })?;
        let t = &mut self.tables[ti];
        let mut link = t.buckets[(h & t.mask()) as usize].as_mut();
        while let Some(node) = link {
            if node.key() == key {
                return Some(node.value_mut());
            }
            link = node.next_mut().as_mut();
        }
        unreachable!("found above")
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        if let Some(slot) = self.get_mut(key) {
            return Some(std::mem::replace(slot, value));
        }
        self.insert_new(key, value);
        None
    }

    /// Inserts a key known to be absent. Like every write, it moves a
    /// pending resize one step, so a table filled only through here still
    /// finishes its resizes.
    pub fn insert_new(&mut self, key: &[u8], value: V) {
        self.rehash_step();
        self.grow_if_needed();
        let h = Self::hash(key);
        let t = if self.is_rehashing() { &mut self.tables[1] } else { &mut self.tables[0] };
        let idx = (h & t.mask()) as usize;
        let next = t.buckets[idx].take();
        t.buckets[idx] = Some(Node::new(key, value, next));
        t.used += 1;
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = Self::hash(key);
        let tables = if self.is_rehashing() { 2 } else { 1 };
        for ti in 0..tables {
            let t = &mut self.tables[ti];
            if t.buckets.is_empty() {
                continue;
            }
            let idx = (h & t.mask()) as usize;
            let mut link = &mut t.buckets[idx];
            loop {
                match link {
                    None => break,
                    Some(node) if node.key() == key => {
                        let mut node = link.take().expect("matched above");
                        *link = node.next_mut().take();
                        t.used -= 1;
                        self.shrink_if_needed();
                        return Some(node.into_value());
                    }
                    Some(node) => link = node.next_mut(),
                }
            }
        }
        None
    }

    pub fn clear(&mut self) {
        *self = Dict::new();
    }

    /// Takes every entry out, leaving the dict empty (for freeing elsewhere).
    pub fn take(&mut self) -> Dict<V> {
        std::mem::take(self)
    }

    fn grow_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let t0 = &self.tables[0];
        if t0.buckets.is_empty() {
            self.tables[0] = Table::with_size(MIN_SIZE);
        } else if t0.used >= t0.buckets.len() * if super::snapshot_running() { FORCED_RESIZE_RATIO } else { 1 } {
            self.start_resize((t0.used + 1).next_power_of_two());
        }
    }

    fn shrink_if_needed(&mut self) {
        let t0 = &self.tables[0];
        if !self.is_rehashing()
            && !super::snapshot_running()
            && t0.buckets.len() > MIN_SIZE
            && t0.used * SHRINK_RATIO < t0.buckets.len()
        {
            self.start_resize(t0.used.max(MIN_SIZE).next_power_of_two());
        }
    }

    fn start_resize(&mut self, size: usize) {
        self.tables[1] = Table::with_size(size);
        self.rehash_idx = Some(0);
    }

    fn rehash_step(&mut self) {
        if self.is_rehashing() {
            self.rehash(1);
        }
    }

    /// Moves up to `steps` buckets to the new table; returns true while more
    /// remain. Bounded: visits at most `steps * EMPTY_VISITS_PER_STEP` empty
    /// buckets.
    /// With no resize pending, starts a shrink if the table is mostly empty
    /// (deletions alone only shrink when they see it).
    pub fn rehash(&mut self, steps: usize) -> bool {
        if !self.is_rehashing() {
            self.shrink_if_needed();
        }
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = steps * EMPTY_VISITS_PER_STEP;
        let [t0, t1] = &mut self.tables;
        let mask1 = t1.mask();
        for _ in 0..steps {
            if t0.used == 0 {
                break;
            }
            while t0.buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut link = t0.buckets[idx].take();
            while let Some(mut node) = link {
                link = node.next_mut().take();
                let dst = (Self::hash(node.key()) & mask1) as usize;
                *node.next_mut() = t1.buckets[dst].take();
                t1.buckets[dst] = Some(node);
                t0.used -= 1;
                t1.used += 1;
            }
            idx += 1;
        }
        if t0.used == 0 {
            let done = std::mem::replace(&mut self.tables[1], Table::empty());
            std::mem::replace(&mut self.tables[0], done).discard_empty();
            self.rehash_idx = None;
            return false;
        }
        self.rehash_idx = Some(idx);
        true
    }

    /// Visits the buckets at `cursor` and returns the next cursor; 0 when
    /// the iteration is complete. Start with 0.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor;
        let emit = |t: &Table<V>, idx: u64, visit: &mut dyn FnMut(&[u8], &V)| {
            let mut link = t.buckets[idx as usize].as_ref();
            while let Some(node) = link {
                visit(node.key(), node.value());
                link = node.next();
            }
        };
        if !self.is_rehashing() {
            let t = &self.tables[0];
            let m = t.mask();
            emit(t, v & m, &mut visit);
            v = next_cursor(v, m);
        } else {
            let (small, large) = if self.tables[0].buckets.len() <= self.tables[1].buckets.len() {
                (&self.tables[0], &self.tables[1])
            } else {
                (&self.tables[1], &self.tables[0])
            };
            let (m0, m1) = (small.mask(), large.mask());
            emit(small, v & m0, &mut visit);
            // Visit every bucket of the larger table that the smaller
            // table's bucket expands into.
            loop {
                emit(large, v & m1, &mut visit);
                v = next_cursor(v, m1);
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v
    }

    /// The handle of `key`'s entry.
    pub fn handle(&self, key: &[u8]) -> Option<Handle<V>> {
        self.find(key).map(Node::handle)
    }

    /// The key and value `handle` stands for.
    ///
    /// # Safety
    /// `handle` came from this dict and its entry has not been removed.
    pub unsafe fn at(&self, handle: Handle<V>) -> (&[u8], &V) {
        // SAFETY: the caller guarantees the node is live and owned by
        // self, which the returned borrows keep borrowed.
        unsafe { (handle.key(), handle.value()) }
    }

    /// The value `handle` stands for, to change.
    ///
    /// # Safety
    /// As for `at`.
    pub unsafe fn at_mut(&mut self, handle: Handle<V>) -> &mut V {
        // SAFETY: as for `at`; `&mut self` makes the access exclusive.
        unsafe { handle.value_mut() }
    }

    /// The bytes one entry with a key of `key_len` bytes takes, besides its
    /// bucket and what its value owns.
    pub fn node_size(key_len: usize) -> usize {
        Node::<V>::layout(key_len).0.size()
    }

    /// Bytes held on the heap: the bucket arrays, every node, and what
    /// `value_heap` says each value holds beyond its node.
    pub fn heap_size(&self, value_heap: impl Fn(&V) -> usize) -> usize {
        let nodes: usize = self.iter().map(|(k, v)| Self::node_size(k.len()) + value_heap(v)).sum();
        self.buckets() * size_of::<Link<V>>() + nodes
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.tables.iter().flat_map(|t| t.buckets.iter()).flat_map(|b| {
            let mut link = b.as_ref();
            std::iter::from_fn(move || {
                let node = link?;
                link = node.next();
                Some((node.key(), node.value()))
            })
        })
    }

    /// Visits up to `count` entries found from a random bucket onwards,
    /// for eviction's sampling: cheaper than `count` random picks, and
    /// bounded (at most `10 * count` buckets looked at, however sparse the
    /// table). Returns how many were visited.
    pub fn sample(&self, count: usize, mut rand: impl FnMut() -> u64, mut visit: impl FnMut(&[u8], &V)) -> usize {
        if self.is_empty() || count == 0 {
            return 0;
        }
        let tables: &[Table<V>] = if self.is_rehashing() { &self.tables } else { &self.tables[..1] };
        let mask = tables.iter().map(Table::mask).max().unwrap_or(0);
        let mut idx = rand() & mask;
        let mut visited = 0;
        let mut empty_run = 0;
        for _ in 0..count.saturating_mul(10) {
            for t in tables {
                // Buckets past a smaller table's end belong to the other.
                let Some(bucket) = t.buckets.get(idx as usize) else { continue };
                match bucket.as_ref() {
                    Some(head) => {
                        empty_run = 0;
                        for node in std::iter::successors(Some(head), |n| n.next()) {
                            visit(node.key(), node.value());
                            visited += 1;
                            if visited == count {
                                return visited;
                            }
                        }
                    }
                    None => empty_run += 1,
                }
            }
            // A long empty stretch: jump elsewhere rather than crawl it.
            if empty_run >= 5 && empty_run > count {
                idx = rand() & mask;
                empty_run = 0;
            } else {
                idx = (idx + 1) & mask;
            }
        }
        visited
    }

    /// A random entry, each bucket equally likely (then each entry of the
    /// chain). `rand` is a source of random u64s.
    pub fn random(&self, mut rand: impl FnMut() -> u64) -> Option<(&[u8], &V)> {
        if self.is_empty() {
            return None;
        }
        loop {
            let t = if self.is_rehashing() && self.tables[1].used > 0 && rand().is_multiple_of(2) {
                &self.tables[1]
            } else {
                &self.tables[0]
            };
            if t.used == 0 {
                continue;
            }
            let idx = (rand() & t.mask()) as usize;
            let Some(head) = t.buckets[idx].as_ref() else {
                continue;
            };
            let chain = std::iter::successors(Some(head), |n| n.next()).count();
            let node = std::iter::successors(Some(head), |n| n.next())
                .nth((rand() % chain as u64) as usize)
                .expect("within chain");
            return Some((node.key(), node.value()));
        }
    }
}

impl<V> std::fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dict({} entries)", self.len())
    }
}

impl<V> Drop for Dict<V> {
    // Unlink chains iteratively so a long chain cannot overflow the stack.
    fn drop(&mut self) {
        for t in &mut self.tables {
            for b in t.buckets.iter_mut() {
                let mut link = b.take();
                while let Some(mut node) = link {
                    link = node.next_mut().take();
                }
            }
        }
    }
}

/// Increments the reversed bits of `v` within `mask`.
fn next_cursor(v: u64, mask: u64) -> u64 {
    let v = v | !mask;
    v.reverse_bits().wrapping_add(1).reverse_bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    #[test]
    fn insert_get_remove_through_resizes() {
        let mut d = Dict::new();
        for i in 0..10_000 {
            assert_eq!(d.insert(&key(i), i), None);
        }
        assert_eq!(d.len(), 10_000);
        for i in 0..10_000 {
            assert_eq!(d.get(&key(i)), Some(&i));
        }
        assert_eq!(d.insert(&key(5), 55), Some(5));
        for i in 0..9_990 {
            assert_eq!(d.remove(&key(i)), Some(if i == 5 { 55 } else { i }));
        }
        assert_eq!(d.len(), 10);
        for _ in 0..100 {
            d.rehash(100);
        }
        assert!(d.buckets() <= 64, "shrunk to {}", d.buckets());
        assert_eq!(d.get(&key(9_995)), Some(&9_995));
        assert_eq!(d.remove(&key(1)), None);
    }

    fn full_scan(d: &Dict<usize>) -> HashSet<Vec<u8>> {
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                return seen;
            }
        }
    }

    #[test]
    fn inserts_alone_finish_resizes() {
        let mut d = Dict::new();
        for i in 0..100_000 {
            d.insert_new(&key(i), i);
        }
        assert!(d.buckets() <= 2 * 131_072 + 65_536, "{} buckets", d.buckets());
        // Chains stay short: a lookup of every key is fast and finds it.
        for i in (0..100_000).step_by(997) {
            assert_eq!(d.peek(&key(i)), Some(&i));
        }
        let longest = d
            .tables
            .iter()
            .flat_map(|t| t.buckets.iter())
            .map(|b| std::iter::successors(b.as_ref(), |n| n.next()).count());
        assert!(longest.max().unwrap() < 16);
    }

    #[test]
    fn scan_sees_everything() {
        let mut d = Dict::new();
        for i in 0..1000 {
            d.insert(&key(i), i);
        }
        assert_eq!(full_scan(&d).len(), 1000);
    }

    /// Keys present for the whole scan are returned even when the table
    /// grows and shrinks between calls.
    #[test]
    fn scan_guarantee_across_resizes() {
        let mut d = Dict::new();
        for i in 0..500 {
            d.insert(&key(i), i);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut extra = 1000;
        let mut round = 0;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            round += 1;
            // Grow for a while, then shrink, stepping the rehash partly.
            if round < 40 {
                for _ in 0..50 {
                    d.insert(&key(extra), extra);
                    extra += 1;
                }
            } else {
                for _ in 0..50 {
                    if extra > 1000 {
                        extra -= 1;
                        d.remove(&key(extra));
                    }
                }
            }
            d.rehash(3);
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(&key(i)), "missed {i}");
        }
    }

    /// Values that count their drops: every value put in is dropped exactly
    /// once, whether replaced, removed, cleared or dropped with the table.
    #[derive(Debug, PartialEq)]
    struct Counted(u32, std::rc::Rc<std::cell::Cell<usize>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.set(self.1.get() + 1);
        }
    }

    proptest::proptest! {
        #[test]
        fn behaves_like_a_hash_map(ops in proptest::collection::vec((0u8..4, 0u16..300, 0usize..400), 1..400)) {
            let drops = std::rc::Rc::new(std::cell::Cell::new(0));
            let mut made = 0;
            let mut d: Dict<Counted> = Dict::new();
            let mut model = std::collections::HashMap::new();
            // Key lengths from 0 to 399 cross the one-byte length prefix.
            let key = |k: u16, len: usize| {
                let mut v = vec![b'x'; len];
                v.extend_from_slice(&k.to_le_bytes());
                v
            };
            for (op, k, len) in ops {
                let kb = key(k % 40, len % 300);
                match op {
                    0 | 1 => {
                        made += 1;
                        let old = d.insert(&kb, Counted(k as u32, drops.clone())).map(|c| c.0);
                        proptest::prop_assert_eq!(old, model.insert(kb.clone(), k as u32));
                    }
                    2 => proptest::prop_assert_eq!(d.remove(&kb).map(|c| c.0), model.remove(&kb)),
                    _ => proptest::prop_assert_eq!(d.get(&kb).map(|c| c.0), model.get(&kb).copied()),
                }
                d.rehash(1);
            }
            proptest::prop_assert_eq!(d.len(), model.len());
            let mut seen: Vec<(Vec<u8>, u32)> = d.iter().map(|(k, v)| (k.to_vec(), v.0)).collect();
            let mut want: Vec<(Vec<u8>, u32)> = model.into_iter().collect();
            seen.sort();
            want.sort();
            proptest::prop_assert_eq!(seen, want);
            drop(d);
            proptest::prop_assert_eq!(drops.get(), made);
        }
    }

    #[test]
    fn sample_visits_distinct_entries_even_when_sparse() {
        let mut d: Dict<u32> = Dict::new();
        for i in 0..1000u32 {
            d.insert(format!("k{i}").as_bytes(), i);
        }
        let mut x = 7u64;
        let mut rand = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut seen = Vec::new();
        assert_eq!(d.sample(5, &mut rand, |_, v| seen.push(*v)), 5);
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 5);
        // Nine in ten removed: the walk jumps over empty stretches.
        for i in 0..1000u32 {
            if i % 10 != 0 {
                d.remove(format!("k{i}").as_bytes());
            }
        }
        let found: usize = (0..100).map(|_| d.sample(5, &mut rand, |_, v| assert_eq!(v % 10, 0))).sum();
        assert!(found > 300, "{found}");
        assert_eq!(Dict::<u32>::new().sample(5, &mut rand, |_, _| panic!("empty")), 0);
    }

    #[test]
    fn random_returns_members() {
        let mut d = Dict::new();
        assert!(d.random(|| 7).is_none());
        for i in 0..100 {
            d.insert(&key(i), i);
        }
        let mut state = 88172645463325252u64;
        let mut rng = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..100 {
            let (k, v) = d.random(&mut rng).unwrap();
            assert_eq!(k, &key(*v)[..]);
        }
        assert_eq!(d.iter().count(), 100);
    }
}
