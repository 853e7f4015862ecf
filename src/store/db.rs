//! One logical database within one shard: the key table, and the index of
//! keys with a TTL that the active expiry cycle samples. Lookups expire
//! lazily: an expired key is deleted when it is touched.

use super::access::Access;
use super::blocking::Waiters;
use super::chunked::Chunked;
use super::dict::{Dict, Handle};
use super::value::{Entry, Value};
use super::watch::{Change, Watches};
use crate::notify;

#[derive(Default)]
pub struct Db {
    keys: Dict<Entry>,
    /// The TTL index: a handle to every entry with `expires_at_ms` set, in
    /// no order; each such entry's `ttl_slot` is its place here. Every
    /// method that adds, removes or re-times a key keeps the two in step,
    /// and removes a key's handle when it removes the key, which is what
    /// makes reading through the handles sound. It costs 8 bytes a key
    /// where a set of the keys' names would cost 40.
    expires: Chunked<Handle<Entry>>,
    /// Where the active expiry cycle resumes in `expires`.
    expires_cursor: usize,
    /// Keys deleted because their TTL passed (lazily or actively).
    pub expired: u64,
    /// Read lookups that found a key, and that did not (INFO's
    /// keyspace_hits and keyspace_misses).
    pub hits: u64,
    pub misses: u64,
    /// Clients blocked on keys of this database.
    pub(super) waiters: Waiters,
    /// Clients watching keys of this database (WATCH).
    pub watches: Watches,
    /// The keyspace-notification classes this database logs itself
    /// (`notify::EXPIRED`, `NEW`, `KEY_MISS`: the events that happen inside
    /// lookups and inserts); the caller takes them with `take_events`.
    pub log_events: u32,
    event_log: notify::Logged,
    /// Writes are recorded (the AOF is on): keys that expire are logged
    /// in `expired_log`, and the caller records their deletion
    /// (`take_expired`).
    pub log_expired: bool,
    expired_log: Vec<Box<[u8]>>,
    /// How accesses are stamped on entries (LRU clock or LFU counter).
    pub access: Access,
}

impl Db {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// Bytes spent on finding keys rather than holding them: the table's
    /// buckets and the TTL index (INFO's used_memory_overhead counts them,
    /// as Redis counts its dicts' buckets).
    pub fn overhead(&self) -> usize {
        (self.keys.buckets() + self.expires.len()) * size_of::<usize>()
    }

    /// The live entry for `key`; an expired one is deleted and not returned.
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        if !self.expires.is_empty() && self.keys.get(key)?.is_expired(now_ms) {
            self.delete_expired(key);
            return None;
        }
        let access = self.access;
        let entry = self.keys.get_mut(key)?;
        if !super::snapshot_running() {
            entry.access = access.touched(entry.access, now_ms);
        }
        Some(entry)
    }

    /// `get` for a command that reads the key: counted as a hit or a miss.
    pub fn read(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.read_with(key, now_ms, true)
    }

    /// `read` that does not count as an access for OBJECT IDLETIME (TYPE,
    /// EXISTS, TTL and friends, as in Redis).
    pub fn read_no_touch(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.read_with(key, now_ms, false)
    }

    fn read_with(&mut self, key: &[u8], now_ms: u64, touch: bool) -> Option<&mut Entry> {
        if !self.expires.is_empty() && self.keys.get(key).is_some_and(|e| e.is_expired(now_ms)) {
            self.delete_expired(key);
            self.misses += 1;
            self.log(notify::KEY_MISS, key);
            return None;
        }
        let access = self.access;
        match self.keys.get_mut(key) {
            Some(entry) => {
                self.hits += 1;
                if touch && !super::snapshot_running() {
                    entry.access = access.touched(entry.access, now_ms);
                }
                Some(entry)
            }
            None => {
                self.misses += 1;
                if self.log_events & notify::KEY_MISS != 0 {
                    // Fields, not `self.log`: `entry`'s borrow of the
                    // table is live in the other arm.
                    self.event_log.push((notify::KEY_MISS, key.into()));
                }
                None
            }
        }
    }

    /// The entry stored under `key`, expired or not, without side effects
    /// (DEBUG OBJECT).
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.peek(key)
    }

    /// The live entry for `key`, without counting as an access (OBJECT).
    /// MEMORY USAGE: the bytes held for a live key: its table entries (with
    /// the name inline) and its value's heap.
    pub fn usage(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        let entry = self.get_no_touch(key, now_ms)?;
        let expiry = if entry.expires_at_ms().is_some() { size_of::<Handle<Entry>>() } else { 0 };
        let value = entry.value.heap_size();
        Some(Dict::<Entry>::node_size(key.len()) + expiry + value)
    }

    pub fn get_no_touch(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        if !self.expires.is_empty() && self.keys.get(key)?.is_expired(now_ms) {
            self.delete_expired(key);
            return None;
        }
        self.keys.get_mut(key)
    }

    /// True when `key` holds a live value.
    pub fn exists(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    fn delete_expired(&mut self, key: &[u8]) {
        if let Some(entry) = self.keys.remove(key) {
            self.unindex(&entry);
        }
        self.expired += 1;
        if self.log_expired {
            self.expired_log.push(key.into());
        }
        self.touch(key);
        self.log(notify::EXPIRED, key);
    }

    /// Adds `key`, whose entry has just been given a TTL, to the TTL index.
    fn index(&mut self, key: &[u8]) {
        let handle = self.keys.handle(key).expect("the key was just stored");
        let slot = u32::try_from(self.expires.push(handle)).expect("fewer than 2^32 keys with a TTL in a database");
        // SAFETY: the handle was taken from `keys` just now.
        unsafe { self.keys.at_mut(handle) }.ttl_slot = slot;
    }

    /// Takes the entry of a key that had a TTL out of the TTL index (the
    /// entry has been removed, or keeps its place in `keys`).
    fn unindex_slot(&mut self, slot: u32) {
        if let Some(moved) = self.expires.swap_remove(slot as usize) {
            // SAFETY: every handle in the index is of a live entry of
            // `keys`: entries leave the index when they leave the table.
            unsafe { self.keys.at_mut(moved) }.ttl_slot = slot;
        }
    }

    /// `unindex_slot` for a removed entry, if it had a TTL.
    fn unindex(&mut self, removed: &Entry) {
        if removed.expires_at_ms().is_some() {
            self.unindex_slot(removed.ttl_slot);
        }
    }

    fn log(&mut self, class: u32, key: &[u8]) {
        if self.log_events & class != 0 {
            self.event_log.push((class, key.into()));
        }
    }

    /// The keys that expired since the last call (only while writes are
    /// recorded), oldest first.
    pub fn take_expired(&mut self) -> Vec<Box<[u8]>> {
        std::mem::take(&mut self.expired_log)
    }

    pub fn has_expired_log(&self) -> bool {
        !self.expired_log.is_empty()
    }

    /// The logged events since the last call, oldest first.
    pub fn take_events(&mut self) -> notify::Logged {
        std::mem::take(&mut self.event_log)
    }

    /// Tells the clients watching `key` that it changed. The methods that
    /// replace, delete or re-time a key call it; a command that edits a
    /// value in place calls it where Redis signals the key as modified.
    pub fn touch(&mut self, key: &[u8]) {
        if !self.watches.is_empty() {
            let change = if self.keys.peek(key).is_some() { Change::Modified } else { Change::Deleted };
            self.watches.touch(key, change);
        }
    }

    /// Sets `key` to `value` with the given expiry, replacing any old value
    /// and expiry.
    pub fn set(&mut self, key: &[u8], value: Value, expires_at_ms: Option<u64>, now_ms: u64) {
        self.waiters.signal(key);
        let old = self.keys.insert(key, Entry::with(value, expires_at_ms, self.access.initial(now_ms)));
        // An expired value replaced counts, and is announced, as expired
        // first, as the lookup Redis does before a write would have it.
        let replaced_live = match &old {
            Some(e) if e.is_expired(now_ms) => {
                self.expired += 1;
                self.log(notify::EXPIRED, key);
                false
            }
            Some(_) => true,
            None => false,
        };
        if !replaced_live {
            self.log(notify::NEW, key);
        } else if self.access.lfu {
            // A value overwritten keeps its frequency, counting this use,
            // as in Redis: a hot key rewritten stays hot.
            let stamp = self.access.touched(old.as_ref().expect("replaced").access, now_ms);
            self.keys.get_mut(key).expect("just stored").access = stamp;
        }
        let old_slot = old.and_then(|e| e.expires_at_ms().map(|_| e.ttl_slot));
        match (old_slot, expires_at_ms.is_some()) {
            (None, true) => self.index(key),
            (Some(slot), false) => self.unindex_slot(slot),
            (Some(slot), true) => self.keys.get_mut(key).expect("just stored").ttl_slot = slot,
            (None, false) => {}
        }
        self.touch(key);
    }

    /// Sets `key` to `value` keeping its TTL if it has a live one.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value, now_ms: u64) {
        match self.get(key, now_ms) {
            Some(entry) => {
                entry.value = value;
                self.touch(key);
            }
            None => {
                self.insert_new(key, value, now_ms);
            }
        }
    }

    /// Inserts a key the caller knows to be absent (after a `get` miss).
    pub fn insert_new(&mut self, key: &[u8], value: Value, now_ms: u64) -> &mut Entry {
        self.waiters.signal(key);
        let entry = Entry::with(value, None, self.access.initial(now_ms));
        self.keys.insert_new(key, entry);
        self.log(notify::NEW, key);
        self.touch(key);
        self.keys.get_mut(key).expect("just inserted")
    }

    /// Adds a key read from a file; false when the key was already there
    /// (a corrupt file: the load is abandoned, so the old value is not
    /// kept).
    pub fn load(&mut self, key: &[u8], entry: Entry) -> bool {
        let expires = entry.expires_at_ms().is_some();
        if let Some(old) = self.keys.insert(key, entry) {
            // Back as it was, so the index stays in step until the
            // abandoned load clears the database.
            self.keys.insert(key, old);
            return false;
        }
        if expires {
            self.index(key);
        }
        true
    }

    /// Makes room for `keys` keys, `expires` of them with a TTL, before a
    /// load.
    pub fn reserve(&mut self, keys: usize, expires: usize) {
        self.keys.reserve(keys);
        self.expires.reserve(expires);
    }

    /// Removes a live key, returning its entry.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        self.get(key, now_ms)?;
        let entry = self.keys.remove(key)?;
        self.unindex(&entry);
        self.touch(key);
        Some(entry)
    }

    /// Changes the expiry of a live key; false when the key does not exist.
    pub fn set_expiry(&mut self, key: &[u8], expires_at_ms: Option<u64>, now_ms: u64) -> bool {
        let Some(entry) = self.get(key, now_ms) else {
            return false;
        };
        let had = entry.set_expires_at_ms(expires_at_ms).is_some();
        let slot = entry.ttl_slot;
        match (had, expires_at_ms.is_some()) {
            (false, true) => self.index(key),
            (true, false) => self.unindex_slot(slot),
            _ => {}
        }
        self.touch(key);
        true
    }

    pub fn clear(&mut self) -> Dict<Entry> {
        if !self.watches.is_empty() {
            for key in self.watches.keys() {
                if self.keys.peek(&key).is_some() {
                    self.watches.touch(&key, Change::Deleted);
                }
            }
        }
        self.expires.clear();
        self.expires_cursor = 0;
        self.keys.take()
    }

    /// One step of SCAN over this database's keys.
    pub fn scan(&self, cursor: u64, visit: impl FnMut(&[u8], &Entry)) -> u64 {
        self.keys.scan(cursor, visit)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.keys.iter()
    }

    pub fn random_key(&self, rand: impl FnMut() -> u64) -> Option<(&[u8], &Entry)> {
        self.keys.random(rand)
    }

    /// Removes `key`, expired or not, to free memory (eviction).
    pub fn evict(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.keys.remove(key)?;
        self.unindex(&entry);
        self.touch(key);
        Some(entry)
    }

    /// Visits up to `count` entries taken from a random place, of every
    /// key or of the keys with a TTL (`volatile`), for eviction's
    /// sampling. Returns how many were visited: at least one when there
    /// is a key to visit.
    pub fn sample(
        &self,
        count: usize,
        volatile: bool,
        mut rand: impl FnMut() -> u64,
        mut visit: impl FnMut(&[u8], &Entry),
    ) -> usize {
        if !volatile {
            let visited = self.keys.sample(count, &mut rand, &mut visit);
            if visited > 0 || count == 0 {
                return visited;
            }
            // A table made sparse by deletions can hide its keys from a
            // bounded walk; a random pick finds one.
            return match self.keys.random(rand) {
                Some((key, entry)) => {
                    visit(key, entry);
                    1
                }
                None => 0,
            };
        }
        let len = self.expires.len();
        if len == 0 {
            return 0;
        }
        let n = count.min(len);
        for _ in 0..n {
            let handle = self.expires.get((rand() % len as u64) as usize).expect("slot below the index's length");
            // SAFETY: every handle in the index is of a live entry of
            // `keys` (see `unindex_slot`).
            let (key, entry) = unsafe { self.keys.at(handle) };
            visit(key, entry);
        }
        n
    }

    /// Moves some buckets of a pending resize; true while one remains.
    pub fn rehash(&mut self, steps: usize) -> bool {
        self.keys.rehash(steps)
    }

    /// Samples up to `sample` keys with a TTL, continuing where the last
    /// call stopped, and deletes the expired ones. Returns (sampled,
    /// expired, wrapped): `wrapped` when the walk over the index completed.
    pub fn expire_sample(&mut self, sample: usize, now_ms: u64) -> (usize, usize, bool) {
        let mut due: Vec<Box<[u8]>> = Vec::new();
        let from = self.expires_cursor.min(self.expires.len());
        let to = (from + sample).min(self.expires.len());
        for slot in from..to {
            let handle = self.expires.get(slot).expect("slot below the index's length");
            // SAFETY: every handle in the index is of a live entry of
            // `keys` (see `unindex_slot`).
            let (key, entry) = unsafe { self.keys.at(handle) };
            if entry.is_expired(now_ms) {
                due.push(key.into());
            }
        }
        let wrapped = to == self.expires.len();
        // Each deletion moves a handle from the end into a slot just
        // visited; stepping back as many slots visits most of those next
        // time, which matters when a mass of keys expires at once.
        self.expires_cursor = if wrapped { 0 } else { to - due.len() };
        for k in &due {
            self.delete_expired(k);
        }
        (to - from, due.len(), wrapped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::value::Str;

    impl Db {
        /// The TTL index holds exactly the keys with a TTL, each entry
        /// knowing its slot.
        fn check_index(&self) {
            let with_ttl = self.keys.iter().filter(|(_, e)| e.expires_at_ms().is_some()).count();
            assert_eq!(self.expires.len(), with_ttl);
            for slot in 0..self.expires.len() {
                // SAFETY: what this test checks is that the index holds
                // only live handles; a stale one would fail the lookup.
                let (key, entry) = unsafe { self.keys.at(self.expires.get(slot).unwrap()) };
                assert!(entry.expires_at_ms().is_some());
                assert_eq!(entry.ttl_slot as usize, slot);
                assert!(std::ptr::eq(self.keys.peek(key).unwrap(), entry));
            }
        }
    }

    /// Random writes, re-timings, deletions and expiry sweeps over a few
    /// hundred keys keep the TTL index in step with the table.
    #[test]
    fn ttl_index_follows_every_change() {
        let mut db = Db::default();
        let mut x = 1u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut now = 1_000_000;
        for round in 0..20_000 {
            let r = next();
            let key = format!("k{}", r % 300).into_bytes();
            let ttl = (r >> 20) % 2 == 0;
            let deadline = now + (r >> 30) % 5_000;
            match (r >> 8) % 7 {
                0 | 1 => db.set(&key, Value::Str(Str::new(b"v")), ttl.then_some(deadline), now),
                2 => {
                    db.set_expiry(&key, ttl.then_some(deadline), now);
                }
                3 => {
                    db.remove(&key, now);
                }
                4 => {
                    db.expire_sample(20, now);
                }
                5 => {
                    db.load(&key, Entry::with(Value::Str(Str::new(b"f")), ttl.then_some(deadline), 0));
                }
                _ => {
                    db.get(&key, now);
                }
            }
            if round % 1000 == 999 {
                db.clear();
            }
            now += 7;
            db.check_index();
        }
    }
}
