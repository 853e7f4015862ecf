//! WATCH: the clients watching each key of a database. A change to a
//! watched key marks its watchers' state dirty, and their next EXEC then
//! answers null. The table is empty unless someone watches, and every
//! write checks that first, so writes pay one branch for the feature.
//!
//! Redis 7.0's rules for expired keys are kept: a key that had already
//! expired (but was not yet deleted) when it was watched does not make the
//! EXEC fail by being deleted, since nothing a client could see changed;
//! a watched key that expires afterwards does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// One client's watch state, shared by every database it watches keys in.
#[derive(Debug, Default)]
pub struct WatchState {
    dirty: AtomicBool,
}

impl WatchState {
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Relaxed)
    }

    fn mark(&self) {
        self.dirty.store(true, Relaxed);
    }
}

struct Watcher {
    state: Arc<WatchState>,
    /// The key existed but had expired when it was watched.
    expired_at_watch: bool,
}

#[derive(Default)]
pub struct Watches {
    by_key: HashMap<Box<[u8]>, Vec<Watcher>, ahash::RandomState>,
}

/// What a change did to a watched key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Change {
    /// Written, or deleted while live.
    Modified,
    /// Gone from the table: deleted, expired, flushed.
    Deleted,
}

impl Watches {
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Watches `key` for `state`; watching it twice is watching it once.
    pub fn add(&mut self, key: &[u8], state: &Arc<WatchState>, expired_at_watch: bool) {
        let watchers = self.by_key.entry(key.into()).or_default();
        if !watchers.iter().any(|w| Arc::ptr_eq(&w.state, state)) {
            watchers.push(Watcher { state: state.clone(), expired_at_watch });
        }
    }

    pub fn remove(&mut self, key: &[u8], state: &Arc<WatchState>) {
        if let Some(watchers) = self.by_key.get_mut(key) {
            watchers.retain(|w| !Arc::ptr_eq(&w.state, state));
            if watchers.is_empty() {
                self.by_key.remove(key);
            }
        }
    }

    /// Marks the watchers of `key` dirty after a change to it.
    pub fn touch(&mut self, key: &[u8], change: Change) {
        let Some(watchers) = self.by_key.get_mut(key) else {
            return;
        };
        for w in watchers {
            if w.expired_at_watch && change == Change::Deleted {
                // The expired key is now deleted: no visible change. From
                // here on the key counts as missing, not expired.
                w.expired_at_watch = false;
            } else {
                w.state.mark();
            }
        }
    }

    /// True when `key`, live when `state` watched it, has expired since
    /// (`expired_now`) without being deleted yet.
    pub fn expired_since_watch(&self, key: &[u8], state: &Arc<WatchState>, expired_now: bool) -> bool {
        self.by_key
            .get(key)
            .and_then(|ws| ws.iter().find(|w| Arc::ptr_eq(&w.state, state)))
            .is_some_and(|w| expired_now && !w.expired_at_watch)
    }

    /// The watched keys (for FLUSHDB and SWAPDB, which change many keys).
    pub fn keys(&self) -> Vec<Box<[u8]>> {
        self.by_key.keys().cloned().collect()
    }

    /// SWAPDB put other data under a watched key: `before` says whether the
    /// key existed in the old data, `after` whether it exists in the new
    /// and is expired there.
    pub fn swapped(&mut self, key: &[u8], before: bool, after: Option<bool>) {
        let Some(watchers) = self.by_key.get_mut(key) else {
            return;
        };
        for w in watchers {
            match (w.expired_at_watch, after) {
                (true, None) => w.expired_at_watch = false,
                (true, Some(true)) => {}
                (false, Some(true)) if !before => w.expired_at_watch = true,
                (_, None) if !before => {}
                _ => w.state.mark(),
            }
        }
    }
}
