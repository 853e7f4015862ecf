//! The keyspace: `--shards` shards, each a mutex over its own tables for
//! every logical database. A key lives in shard `hash_slot(key) % shards`.
//! Commands lock the shards their keys map to, in ascending order, and never
//! hold a lock across an event-loop turn. The store never touches sockets.

pub mod access;
pub mod blocking;
pub mod chunked;
pub mod db;
pub mod dict;
pub mod expiry;
pub mod hash;
pub mod list;
pub mod pack;
pub mod ranked;
pub mod routing;
pub mod set;
pub mod value;
pub mod watch;
pub mod zset;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use parking_lot::{Mutex, MutexGuard};

pub use db::Db;
pub use hash::{Hash, HashLimits};
pub use list::{List, ListLimits};
pub use set::Set;
pub use value::{End, Entry, Str, Typed, Value};

/// A snapshot child shares the server's memory page by page until either
/// side writes a page. While one runs, reads do not record access times
/// and tables resize only when far past full (five entries a bucket), as
/// Redis does, so pages are not copied for bookkeeping.
static SNAPSHOT_RUNNING: AtomicBool = AtomicBool::new(false);

pub fn set_snapshot_running(running: bool) {
    SNAPSHOT_RUNNING.store(running, Relaxed);
}

pub(crate) fn snapshot_running() -> bool {
    SNAPSHOT_RUNNING.load(Relaxed)
}

/// One shard: a table per logical database.
pub struct Shard {
    pub dbs: Box<[Db]>,
    /// Blocked-client queue entries across this shard's databases.
    waiting: usize,
}

impl Shard {
    fn new(databases: usize) -> Self {
        Shard { dbs: (0..databases).map(|_| Db::default()).collect(), waiting: 0 }
    }
}

pub struct Store {
    shards: Box<[Mutex<Shard>]>,
    databases: usize,
}

impl Store {
    pub fn new(shards: usize, databases: usize) -> Self {
        assert!(shards > 0 && databases > 0);
        Store { shards: (0..shards).map(|_| Mutex::new(Shard::new(databases))).collect(), databases }
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub fn databases(&self) -> usize {
        self.databases
    }

    pub fn shard_of(&self, key: &[u8]) -> usize {
        if self.shards.len() == 1 {
            return 0;
        }
        routing::hash_slot(key) % self.shards.len()
    }

    pub fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        self.shards[shard].lock()
    }

    pub fn try_lock(&self, shard: usize) -> Option<MutexGuard<'_, Shard>> {
        self.shards[shard].try_lock()
    }

    /// Locks the given shards, which must be sorted and distinct.
    pub fn lock_many(&self, shards: &[usize]) -> Locked<'_> {
        debug_assert!(shards.windows(2).all(|w| w[0] < w[1]));
        match shards {
            [] => Locked::None,
            [one] => Locked::One(*one, self.lock(*one)),
            many => Locked::Many(many.iter().map(|&s| (s, self.lock(s))).collect()),
        }
    }

    /// Locks every shard, in order (FLUSHALL, SWAPDB, transactions).
    pub fn lock_all(&self) -> Locked<'_> {
        let all: Vec<usize> = (0..self.shards.len()).collect();
        self.lock_many(&all)
    }
}

/// The shard locks a command holds while it runs.
pub enum Locked<'a> {
    None,
    One(usize, MutexGuard<'a, Shard>),
    Many(Vec<(usize, MutexGuard<'a, Shard>)>),
}

impl<'a> Locked<'a> {
    /// The locked shard with index `shard`. Panics when the command did not
    /// lock it: dispatch locks every shard a command's keys map to.
    pub fn shard(&mut self, shard: usize) -> &mut Shard {
        match self {
            Locked::One(i, g) if *i == shard => g,
            Locked::Many(v) => match v.binary_search_by_key(&shard, |(i, _)| *i) {
                Ok(at) => &mut v[at].1,
                Err(_) => panic!("shard {shard} is not locked"),
            },
            _ => panic!("shard {shard} is not locked"),
        }
    }

    pub fn contains(&self, shard: usize) -> bool {
        match self {
            Locked::None => false,
            Locked::One(i, _) => *i == shard,
            Locked::Many(v) => v.binary_search_by_key(&shard, |(i, _)| *i).is_ok(),
        }
    }

    /// Adds `shard` to the held locks without breaking the lock order: it
    /// waits for the lock only when `shard` comes after every held one, and
    /// otherwise just tries. False when the lock could not be had.
    pub fn include(&mut self, store: &'a Store, shard: usize) -> bool {
        if self.contains(shard) {
            return true;
        }
        let last = match self {
            Locked::None => None,
            Locked::One(i, _) => Some(*i),
            Locked::Many(v) => v.last().map(|(i, _)| *i),
        };
        let guard = if last.is_none_or(|l| shard > l) {
            store.lock(shard)
        } else {
            match store.try_lock(shard) {
                Some(g) => g,
                None => return false,
            }
        };
        let mut held = match std::mem::replace(self, Locked::None) {
            Locked::None => Vec::new(),
            Locked::One(i, g) => vec![(i, g)],
            Locked::Many(v) => v,
        };
        let at = held.partition_point(|(i, _)| *i < shard);
        held.insert(at, (shard, guard));
        *self = Locked::Many(held);
        true
    }

    /// Calls `f` on every locked shard, in index order (`all` without
    /// the vector, for hot paths).
    pub fn for_each(&mut self, mut f: impl FnMut(&mut Shard)) {
        match self {
            Locked::None => {}
            Locked::One(_, g) => f(g),
            Locked::Many(v) => v.iter_mut().for_each(|(_, g)| f(g)),
        }
    }

    /// Every locked shard, in index order.
    pub fn all(&mut self) -> Vec<&mut Shard> {
        match self {
            Locked::None => Vec::new(),
            Locked::One(_, g) => vec![&mut **g],
            Locked::Many(v) => v.iter_mut().map(|(_, g)| &mut **g).collect(),
        }
    }
}
