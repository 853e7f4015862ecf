//! The active expiry cycle: memory held by keys whose TTL passed is freed
//! even if nobody reads them again.
//!
//! Each event-loop thread runs the cycle for the shards it owns from its
//! cron, every `1000 / hz` ms. Like Redis's slow cycle, it walks each
//! database's TTL index, `KEYS_PER_SAMPLE` keys at a time, and stays on a
//! database while more than `STALE_PERCENT` of a sample had expired, within
//! a budget of `BUDGET_PERCENT` of the cron period. It resumes where it
//! stopped, so no database starves, and it releases the shard lock every
//! `LOCK_SLICE` so clients of the shard wait at most that long.

use std::time::{Duration, Instant};

use super::Store;

/// Keys with a TTL examined per sample.
const KEYS_PER_SAMPLE: usize = 20;
/// Keep sampling a database while more than this share of a sample expired.
const STALE_PERCENT: usize = 10;
/// Share of the cron period the cycle may use.
pub const BUDGET_PERCENT: u32 = 25;
/// Longest time the cycle holds one shard lock.
const LOCK_SLICE: Duration = Duration::from_millis(1);

/// Where a thread's cycle resumes.
#[derive(Debug, Default)]
pub struct ExpiryCursor {
    /// Index into the thread's shard list.
    shard: usize,
    db: usize,
}

/// Runs one cycle over `shards` (the shards this thread owns) for at most
/// `budget`. Returns the number of keys deleted.
pub fn active_expire_cycle(
    store: &Store,
    shards: &[usize],
    cursor: &mut ExpiryCursor,
    budget: Duration,
    now_ms: impl Fn() -> u64,
    mut after_sample: impl FnMut(usize, &mut super::Db),
) -> usize {
    if shards.is_empty() {
        return 0;
    }
    let start = Instant::now();
    let databases = store.databases();
    let mut deleted = 0;
    // Visit each (shard, db) at most once per cycle.
    for _ in 0..shards.len() * databases {
        cursor.shard %= shards.len();
        // A shard held for long (a running script or transaction has every
        // shard) is skipped this cycle: the loop must not wait for it.
        let Some(mut shard) = store.try_lock(shards[cursor.shard]) else {
            cursor.shard += 1;
            continue;
        };
        let slice_start = Instant::now();
        loop {
            let db = &mut shard.dbs[cursor.db];
            if db.expires_len() == 0 {
                break;
            }
            let (sampled, expired, wrapped) = db.expire_sample(KEYS_PER_SAMPLE, now_ms());
            deleted += expired;
            after_sample(cursor.db, db);
            if sampled == 0 || expired * 100 <= sampled * STALE_PERCENT || wrapped {
                break;
            }
            if slice_start.elapsed() >= LOCK_SLICE {
                drop(shard);
                if start.elapsed() >= budget {
                    return deleted;
                }
                shard = match store.try_lock(shards[cursor.shard]) {
                    Some(guard) => guard,
                    None => return deleted,
                };
            }
        }
        drop(shard);
        cursor.db += 1;
        if cursor.db == databases {
            cursor.db = 0;
            cursor.shard += 1;
        }
        if start.elapsed() >= budget {
            break;
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Str, Value};

    #[test]
    fn expired_keys_are_freed_without_access() {
        let store = Store::new(2, 16);
        for i in 0..10_000u32 {
            let key = format!("k{i}").into_bytes();
            let mut shard = store.lock(store.shard_of(&key));
            let expiry = if i % 2 == 0 { Some(1_000) } else { None };
            shard.dbs[3].set(&key, Value::Str(Str::new(b"v")), expiry, 0);
        }
        let mut cursor = ExpiryCursor::default();
        let mut deleted = 0;
        for _ in 0..1000 {
            deleted += active_expire_cycle(&store, &[0, 1], &mut cursor, Duration::from_secs(1), || 2_000, |_, _| {});
            if deleted == 5_000 {
                break;
            }
        }
        assert_eq!(deleted, 5_000);
        let left: usize = (0..2).map(|s| store.lock(s).dbs[3].len()).sum();
        assert_eq!(left, 5_000);
    }
}
