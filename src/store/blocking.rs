//! Clients blocked on keys (BLPOP and friends). Each database keeps, per
//! waited-on key, the queue of its waiters in arrival order, and the keys a
//! write made ready since the last serving pass. A waiter sits in the queue
//! of every key it waits on, in whatever shards they live; it is served
//! once, by whoever claims it first: a push that finds it, its timeout, a
//! CLIENT UNBLOCK or the disconnect of its client. Queue entries of a
//! claimed waiter are removed by its owner thread, or skipped and dropped
//! by a serving pass that meets them first.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::value::End;
use super::{Db, Locked, Shard};

/// What a blocked command does with the first value it is served.
#[derive(Debug)]
pub enum BlockOp {
    /// BLPOP/BRPOP (`count` None: one element, replied as key and element)
    /// and BLMPOP (`count` Some: replied as key and an array).
    ListPop { end: End, count: Option<usize> },
    /// BLMOVE and BRPOPLPUSH.
    ListMove { from: End, to: End, dest: Box<[u8]> },
    /// BZPOPMIN/BZPOPMAX (`count` None) and BZMPOP (`count` Some).
    ZPop { max: bool, count: Option<usize> },
}

impl BlockOp {
    /// True for the ops a list serves; the others want a sorted set.
    pub fn wants_list(&self) -> bool {
        !matches!(self, BlockOp::ZPop { .. })
    }
}

/// One blocked client.
#[derive(Debug)]
pub struct Waiter {
    pub client_id: u64,
    /// The event-loop thread that owns the client.
    pub thread: usize,
    /// The database the client had selected.
    pub db: usize,
    /// The keys waited on, each once, in the command's order.
    pub keys: Vec<Box<[u8]>>,
    pub op: BlockOp,
    /// Unix time in ms at which the client gets its timeout reply; None
    /// waits forever.
    pub deadline_ms: Option<u64>,
    claimed: AtomicBool,
}

impl Waiter {
    pub fn new(
        client_id: u64,
        thread: usize,
        db: usize,
        keys: Vec<Box<[u8]>>,
        op: BlockOp,
        deadline_ms: Option<u64>,
    ) -> Self {
        Waiter { client_id, thread, db, keys, op, deadline_ms, claimed: AtomicBool::new(false) }
    }

    /// Takes the right to answer this waiter; true for exactly one caller.
    pub fn claim(&self) -> bool {
        self.claimed.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }
}

/// The waiters of one database.
#[derive(Default)]
pub struct Waiters {
    queues: HashMap<Box<[u8]>, VecDeque<Arc<Waiter>>>,
    /// Waited-on keys that were set since the last serving pass, in order.
    ready: Vec<Box<[u8]>>,
}

impl Waiters {
    /// Notes that `key` now holds a value, if anyone waits on it.
    pub fn signal(&mut self, key: &[u8]) {
        if !self.queues.is_empty() && self.queues.contains_key(key) && !self.ready.iter().any(|k| &**k == key) {
            self.ready.push(key.into());
        }
    }

    /// The queue of `key`'s waiters.
    pub fn queue(&mut self, key: &[u8]) -> Option<&mut VecDeque<Arc<Waiter>>> {
        self.queues.get_mut(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.queues.keys().map(|k| &**k)
    }

    fn take_ready(&mut self) -> Option<Box<[u8]>> {
        if self.ready.is_empty() {
            None
        } else {
            Some(self.ready.remove(0))
        }
    }
}

impl Db {
    pub fn waiters(&mut self) -> &mut Waiters {
        &mut self.waiters
    }
}

impl Shard {
    /// Queues `waiter` on `key` in database `db`.
    pub fn add_waiter(&mut self, db: usize, key: &[u8], waiter: Arc<Waiter>) {
        self.dbs[db].waiters.queues.entry(key.into()).or_default().push_back(waiter);
        self.waiting += 1;
    }

    /// Removes `waiter` from `key`'s queue; false when it was not there.
    pub fn remove_waiter(&mut self, db: usize, key: &[u8], waiter: &Arc<Waiter>) -> bool {
        let waiters = &mut self.dbs[db].waiters;
        let Some(queue) = waiters.queues.get_mut(key) else { return false };
        let Some(at) = queue.iter().position(|w| Arc::ptr_eq(w, waiter)) else { return false };
        self.remove_waiter_at(db, key, at);
        true
    }

    /// Removes the waiter at position `at` of `key`'s queue, dropping the
    /// queue when it empties.
    pub fn remove_waiter_at(&mut self, db: usize, key: &[u8], at: usize) {
        let queues = &mut self.dbs[db].waiters.queues;
        if let Some(queue) = queues.get_mut(key) {
            if queue.remove(at).is_some() {
                self.waiting -= 1;
            }
            if queue.is_empty() {
                queues.remove(key);
            }
        }
    }

    /// A key made ready since the last pass, with its database. Cheap when
    /// nobody waits in this shard.
    pub fn take_ready(&mut self) -> Option<(usize, Box<[u8]>)> {
        if self.waiting == 0 {
            return None;
        }
        self.dbs.iter_mut().enumerate().find_map(|(i, db)| db.waiters.take_ready().map(|k| (i, k)))
    }

    /// SWAPDB: the data of databases `a` and `b` trade places while their
    /// waiters stay with the database index, as Redis's clients do; every
    /// waited-on key that now holds a value is made ready.
    pub fn swap_dbs(&mut self, a: usize, b: usize, now_ms: u64) {
        if a == b {
            return;
        }
        self.dbs.swap(a, b);
        // Waiters and watchers stay with the database index; the watchers
        // learn which of their keys the swap changed.
        let (lo, hi) = self.dbs.split_at_mut(a.max(b));
        let (x, y) = (&mut lo[a.min(b)], &mut hi[0]);
        std::mem::swap(&mut x.waiters, &mut y.waiters);
        std::mem::swap(&mut x.watches, &mut y.watches);
        swapped_watches(x, y, now_ms);
        swapped_watches(y, x, now_ms);
        for i in [a, b] {
            let db = &mut self.dbs[i];
            let present: Vec<Box<[u8]>> = db.waiters.keys().filter(|k| db.peek(k).is_some()).map(Into::into).collect();
            for k in present {
                db.waiters.signal(&k);
            }
        }
    }
}

/// After SWAPDB: `db` holds what `old_data` held before, and `old_data`
/// what `db` held.
fn swapped_watches(db: &mut Db, old_data: &Db, now_ms: u64) {
    for key in db.watches.keys() {
        let before = old_data.peek(&key).is_some();
        let after = db.peek(&key).map(|e| e.is_expired(now_ms));
        db.watches.swapped(&key, before, after);
    }
}

impl Locked<'_> {
    /// A key made ready in any of the locked shards, with its database.
    pub fn take_ready(&mut self) -> Option<(usize, Box<[u8]>)> {
        match self {
            Locked::None => None,
            Locked::One(_, shard) => shard.take_ready(),
            Locked::Many(shards) => shards.iter_mut().find_map(|(_, shard)| shard.take_ready()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(id: u64) -> Arc<Waiter> {
        Arc::new(Waiter::new(id, 0, 0, vec![b"k".as_slice().into()], BlockOp::ZPop { max: false, count: None }, None))
    }

    #[test]
    fn claimed_once() {
        let w = waiter(1);
        assert!(w.claim());
        assert!(!w.claim());
        assert!(w.is_claimed());
    }

    #[test]
    fn queues_count_and_clean_up() {
        let mut shard = Shard::new(2);
        let (a, b) = (waiter(1), waiter(2));
        shard.add_waiter(0, b"k", a.clone());
        shard.add_waiter(0, b"k", b.clone());
        assert_eq!(shard.waiting, 2);
        assert!(shard.remove_waiter(0, b"k", &a));
        assert!(!shard.remove_waiter(0, b"k", &a));
        assert_eq!(shard.waiting, 1);
        shard.dbs[0].waiters().signal(b"k");
        shard.dbs[0].waiters().signal(b"k");
        shard.dbs[0].waiters().signal(b"other");
        assert_eq!(shard.take_ready(), Some((0, b"k".as_slice().into())));
        assert_eq!(shard.take_ready(), None);
        assert!(shard.remove_waiter(0, b"k", &b));
        assert_eq!(shard.waiting, 0);
        assert!(shard.dbs[0].waiters().queue(b"k").is_none(), "an empty queue is dropped");
    }

    #[test]
    fn swapdb_keeps_waiters_with_the_index() {
        let mut shard = Shard::new(2);
        shard.add_waiter(0, b"k", waiter(1));
        let list = super::super::List::from_items([b"v".as_slice()], Default::default());
        shard.dbs[1].insert_new(b"k", super::super::Value::List(Box::new(list)), 0);
        shard.swap_dbs(1, 1, 0);
        assert_eq!(shard.take_ready(), None, "swapping a database with itself changes nothing");
        shard.swap_dbs(0, 1, 0);
        assert!(shard.dbs[0].waiters().queue(b"k").is_some());
        assert!(shard.dbs[1].waiters().queue(b"k").is_none());
        assert_eq!(shard.take_ready(), Some((0, b"k".as_slice().into())));
    }
}
