//! Eviction: when used memory is over maxmemory, keys are deleted by the
//! maxmemory-policy until it is back under, before the next command runs.
//!
//! - The LRU, LFU and TTL policies sample `maxmemory-samples` keys per
//!   eviction, split between the shards (at least one from each), and keep
//!   the best candidates seen in a pool, as Redis keeps its eviction pool
//!   over its databases. Every eviction sees every shard, so a key goes
//!   when it is the coldest seen anywhere, not just in its own shard
//!   (sampling one shard a round evicted hot keys of one shard while cold
//!   ones waited in another). A candidate's score is read again before it
//!   goes: a key used since it was sampled goes back into the pool with its
//!   new score.
//! - Each event-loop thread keeps its own pool, so threads evict side by
//!   side. With one pool behind a lock, only one thread at a time could
//!   evict: two threads writing 430k keys/s between them outran it, and
//!   memory rose to 1.5 times the limit.
//! - The random policies take a random key from the next non-empty
//!   database in turn.
//! - One call evicts for at most the time maxmemory-eviction-tenacity
//!   allows (500 µs at the default 10). If memory is still over the limit
//!   then, the event loops carry on in later turns (`pending`) while
//!   commands keep running, so no client waits for a big eviction.
//! - An evicted key is deleted as DEL (UNLINK under lazyfree-lazy-eviction)
//!   in the AOF, raises the `evicted` keyspace event, counts in INFO's
//!   evicted_keys, and under lazyfree-lazy-eviction a big value is freed
//!   on the freeing thread.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use std::cell::RefCell;

use crate::persist::aof::Op;
use crate::server::{random_u64, unix_ms, Shared};
use crate::store::value::LAZYFREE_THRESHOLD;
use crate::store::Shard;

/// maxmemory-policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    /// The policy a maxmemory-policy value names (the config checked it).
    pub fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn volatile(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl)
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
}

/// How a call to `perform` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Memory is within the limit (or there is none).
    Fine,
    /// Over the limit still, but eviction goes on (time ran out, or
    /// memory is being freed on the freeing thread).
    Running,
    /// Over the limit with nothing the policy may evict.
    Failed,
}

/// Candidates the pool keeps (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;

struct Candidate {
    /// The higher, the sooner it goes.
    score: u64,
    shard: usize,
    db: usize,
    key: Box<[u8]>,
}

/// The best candidates seen, lowest score first.
#[derive(Default)]
struct Pool {
    candidates: Vec<Candidate>,
}

impl Pool {
    /// Adds a candidate if it beats the worst held, or there is room.
    fn offer(&mut self, score: u64, shard: usize, db: usize, key: &[u8]) {
        let full = self.candidates.len() == POOL_SIZE;
        if full && self.candidates[0].score >= score {
            return;
        }
        if let Some(i) = self.candidates.iter().position(|c| c.shard == shard && c.db == db && *c.key == *key) {
            self.candidates.remove(i);
        } else if full {
            self.candidates.remove(0);
        }
        let at = self.candidates.partition_point(|c| c.score < score);
        self.candidates.insert(at, Candidate { score, shard, db, key: key.into() });
    }
}

thread_local! {
    /// This thread's pool, and the server it belongs to (the address of
    /// its `Evictor`: servers sharing a process keep apart).
    static POOL: RefCell<(usize, Pool)> = RefCell::default();
}

/// The server's eviction state.
#[derive(Default)]
pub struct Evictor {
    /// maxmemory-policy, as a `Policy`.
    policy: AtomicU8,
    /// Keys evicted (INFO's evicted_keys).
    pub evicted: AtomicU64,
    /// Memory is over the limit and the event loops keep evicting.
    pending: AtomicBool,
    /// The next database the random policies take a key from, counted
    /// over shards × databases.
    next_random: AtomicUsize,
    /// Since when (ms since the Unix epoch; 0 for not) memory has stayed
    /// over the limit after eviction did what one call may, and the time
    /// spent so before, for INFO's eviction_exceeded_time fields.
    exceeded_since_ms: AtomicU64,
    exceeded_total_ms: AtomicU64,
}

impl Evictor {
    pub fn set_policy(&self, policy: Policy) {
        self.policy.store(policy as u8, Relaxed);
    }

    pub fn policy(&self) -> Policy {
        Policy::ALL[self.policy.load(Relaxed) as usize]
    }

    /// Whether an event loop should run `perform` on its next turn.
    pub fn pending(&self) -> bool {
        self.pending.load(Relaxed)
    }

    /// Asks the event loops to check the limit (it was lowered).
    pub fn wake(&self) {
        self.pending.store(true, Relaxed);
    }

    /// Milliseconds spent over the limit in total, and in the current
    /// stretch.
    pub fn exceeded_ms(&self) -> (u64, u64) {
        let since = self.exceeded_since_ms.load(Relaxed);
        let current = if since == 0 { 0 } else { unix_ms().saturating_sub(since) };
        (self.exceeded_total_ms.load(Relaxed) + current, current)
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.evicted.store(0, Relaxed);
        self.exceeded_total_ms.store(0, Relaxed);
    }

    fn over_limit(&self, over: bool) {
        let since = self.exceeded_since_ms.load(Relaxed);
        if over && since == 0 {
            self.exceeded_since_ms.store(unix_ms().max(1), Relaxed);
        } else if !over && since != 0 {
            self.exceeded_since_ms.store(0, Relaxed);
            self.exceeded_total_ms.fetch_add(unix_ms().saturating_sub(since), Relaxed);
        }
    }
}

/// The bytes over maxmemory, if any.
fn excess(shared: &Shared) -> Option<u64> {
    let limit = shared.hot.maxmemory.load(Relaxed);
    let used = crate::memory::used() as u64;
    (limit != 0 && used > limit).then(|| used - limit)
}

/// How long one call may evict, by maxmemory-eviction-tenacity: 50 µs a
/// step up to 10, then 15% more a step, unlimited at 100.
fn time_limit(tenacity: u64) -> Option<Duration> {
    match tenacity {
        0..=10 => Some(Duration::from_micros(50 * tenacity)),
        11..=99 => Some(Duration::from_micros((500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64)),
        _ => None,
    }
}

/// Evicts keys until memory is within maxmemory, the policy has nothing
/// left to evict, or this call's time is up. Call it with no shard
/// locked: it locks shards one at a time.
pub fn perform(shared: &Shared) -> Outcome {
    let evictor = &shared.evictor;
    // A replica holds what its primary holds (replica-ignore-maxmemory);
    // nothing is evicted while clients are paused, as in Redis.
    if excess(shared).is_none()
        || (shared.repl.is_replica() && shared.hot.replica_ignore_maxmemory.load(Relaxed))
        || shared.pause.active()
        || shared.persist.is_loading()
    {
        // Read before written: every command of every thread comes here.
        if evictor.pending() {
            evictor.pending.store(false, Relaxed);
        }
        evictor.over_limit(false);
        return Outcome::Fine;
    }
    let policy = evictor.policy();
    if policy == Policy::NoEviction {
        evictor.pending.store(false, Relaxed);
        evictor.over_limit(true);
        return Outcome::Failed;
    }
    // A script past busy-reply-threshold holds every shard; the loops
    // try again once it ends.
    if shared.scripts.running.is_busy() {
        return Outcome::Running;
    }
    POOL.with_borrow_mut(|(owner, pool)| {
        let me = evictor as *const Evictor as usize;
        if *owner != me {
            *owner = me;
            pool.candidates.clear();
        }
        evict_until_fine(shared, pool, policy)
    })
}

/// `perform`'s work, over this thread's pool.
fn evict_until_fine(shared: &Shared, pool: &mut Pool, policy: Policy) -> Outcome {
    let evictor = &shared.evictor;
    let started = Instant::now();
    let limit = time_limit(shared.hot.eviction_tenacity.load(Relaxed));
    let samples = shared.hot.maxmemory_samples.load(Relaxed).max(1);
    let lazy = shared.hot.lazyfree_eviction.load(Relaxed);
    let mut evicted = 0u64;
    let outcome = loop {
        if excess(shared).is_none() {
            break Outcome::Fine;
        }
        let victim = if policy.random() {
            evict_random(shared, policy, lazy)
        } else {
            evict_best(shared, pool, policy, samples, lazy)
        };
        if !victim {
            // Memory on its way back from the freeing thread counts as
            // progress, as in Redis.
            break if crate::lazyfree::pending() > 0 { Outcome::Running } else { Outcome::Failed };
        }
        evicted += 1;
        if evicted.is_multiple_of(16) && limit.is_some_and(|l| started.elapsed() >= l) {
            break Outcome::Running;
        }
    };
    if evicted > 0 {
        evictor.evicted.fetch_add(evicted, Relaxed);
    }
    if evictor.pending() != (outcome == Outcome::Running) {
        evictor.pending.store(outcome == Outcome::Running, Relaxed);
    }
    evictor.over_limit(outcome != Outcome::Fine);
    shared.latency.observe("eviction-cycle", started.elapsed());
    outcome
}

/// Samples every shard into the pool, `maxmemory-samples` keys in all
/// (split between the shards, at least one each), then evicts the pool's
/// best candidate that still exists. False when no shard has anything
/// the policy may evict.
fn evict_best(shared: &Shared, pool: &mut Pool, policy: Policy, samples: usize, lazy: bool) -> bool {
    let shards = shared.store.shard_count();
    let per_shard = samples.div_ceil(shards);
    loop {
        let now = unix_ms();
        let mut sampled = 0;
        for s in 0..shards {
            let shard = shared.store.lock(s);
            for (i, db) in shard.dbs.iter().enumerate() {
                let access = db.access;
                sampled += db.sample(per_shard, policy.volatile(), random_u64, |key, entry| {
                    pool.offer(score(policy, access, entry, now), s, i, key);
                });
            }
        }
        while let Some(best) = pool.candidates.pop() {
            let mut shard = shared.store.lock(best.shard);
            let db = &shard.dbs[best.db];
            let Some(entry) = db.peek(&best.key) else { continue };
            if policy.volatile() && entry.expires_at_ms().is_none() {
                continue;
            }
            let now_score = score(policy, db.access, entry, now);
            if now_score < best.score {
                // Used since it was sampled: it competes again.
                pool.offer(now_score, best.shard, best.db, &best.key);
                continue;
            }
            evict(shared, &mut shard, best.db, &best.key, lazy);
            return true;
        }
        if sampled == 0 {
            return false;
        }
    }
}

/// How fit a key is to go under `policy`: the higher, the sooner.
fn score(policy: Policy, access: crate::store::access::Access, entry: &crate::store::Entry, now_ms: u64) -> u64 {
    match policy {
        Policy::VolatileTtl => u64::MAX - entry.expires_at_ms().unwrap_or(u64::MAX),
        _ => access.eviction_score(entry.access, now_ms),
    }
}

/// Evicts a random key of the next database, over shards, that has one
/// the policy may take. False when none has.
fn evict_random(shared: &Shared, policy: Policy, lazy: bool) -> bool {
    let shards = shared.store.shard_count();
    let dbs = shared.store.databases();
    for _ in 0..shards * dbs {
        let at = shared.evictor.next_random.fetch_add(1, Relaxed) % (shards * dbs);
        let (s, i) = (at % shards, at / shards);
        let mut shard = shared.store.lock(s);
        let mut key = None;
        shard.dbs[i].sample(1, policy.volatile(), random_u64, |k, _| key = Some(Box::<[u8]>::from(k)));
        if let Some(key) = key {
            evict(shared, &mut shard, i, &key, lazy);
            return true;
        }
    }
    false
}

/// Deletes one key for eviction, with its shard locked: recorded in the
/// AOF while the lock is held, announced, counted.
fn evict(shared: &Shared, shard: &mut Shard, db: usize, key: &[u8], lazy: bool) {
    let started = Instant::now();
    let Some(entry) = shard.dbs[db].evict(key) else { return };
    if shared.propagating() {
        let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        shared.propagate(&[Op::new(db, &[verb, key])]);
    }
    if lazy && entry.value.free_effort() > LAZYFREE_THRESHOLD {
        crate::lazyfree::free_later(entry, 1);
    } else {
        drop(entry);
    }
    crate::notify::emit(shared, crate::notify::EVICTED, "evicted", key, db);
    shared.latency.observe("eviction-del", started.elapsed());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_keeps_the_best_sixteen_in_order() {
        let mut pool = Pool::default();
        for score in [5u64, 1, 9, 3, 7] {
            pool.offer(score, 0, 0, format!("k{score}").as_bytes());
        }
        // The same key again replaces its old score.
        pool.offer(2, 0, 0, b"k9");
        let scores: Vec<u64> = pool.candidates.iter().map(|c| c.score).collect();
        assert_eq!(scores, [1, 2, 3, 5, 7]);
        for score in 100..120u64 {
            pool.offer(score, 1, 0, format!("b{score}").as_bytes());
        }
        assert_eq!(pool.candidates.len(), POOL_SIZE);
        assert_eq!(pool.candidates[0].score, 104);
        assert_eq!(pool.candidates.last().unwrap().score, 119);
        // Worse than all held: not taken.
        pool.offer(50, 2, 0, b"cold");
        assert!(pool.candidates.iter().all(|c| *c.key != *b"cold"));
    }

    #[test]
    fn tenacity_sets_the_time_a_call_may_take() {
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(11), Some(Duration::from_micros(575)));
        assert_eq!(time_limit(100), None);
    }

    #[test]
    fn policies_parse_from_their_names() {
        assert_eq!(Policy::parse("volatile-ttl"), Policy::VolatileTtl);
        assert_eq!(Policy::parse("allkeys-lfu"), Policy::AllKeysLfu);
        assert_eq!(Policy::parse("noeviction"), Policy::NoEviction);
        assert!(Policy::VolatileRandom.volatile() && Policy::VolatileRandom.random());
        assert!(!Policy::AllKeysLru.volatile() && !Policy::AllKeysLru.random());
        for (i, p) in Policy::ALL.iter().enumerate() {
            assert_eq!(*p as u8 as usize, i);
        }
    }
}
