//! Blocking pops: BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN,
//! BZPOPMAX and BZMPOP, and the serving of their waiters.
//!
//! A blocking command first tries its keys in order, as its non-blocking
//! form would. When none has anything, it queues a `Waiter` on each key
//! (`store::blocking`) and replies nothing: the connection stops running
//! the client's commands until the reply arrives in its thread's mailbox.
//!
//! Serving happens in the command that makes a key ready (LPUSH, ZADD,
//! RENAME, a served BLMOVE's push...), after its handler and before its
//! shard locks are released. So the pushed value goes to the waiter with
//! no moment at which another client could see it, and waiters on a key are
//! served first come, first served whichever thread they are on. A waiter
//! of the wrong kind (BZPOPMIN on a key that now holds a list) is skipped
//! and stays blocked, as in Redis 7.0.

use std::sync::Arc;

use super::long_double::LongDouble;
use super::{lookup, Ctx, Error, Keys};
use crate::net::mailbox::Message;
use crate::notify;
use crate::resp::{Args, Reply};
use crate::server::Shared;
use crate::store::blocking::{BlockOp, Waiter};
use crate::store::zset::{format_score, ZSet};
use crate::store::{List, Store};

/// The reply a waiter gets at its timeout, or from CLIENT UNBLOCK TIMEOUT.
pub const TIMEOUT_REPLY: &[u8] = b"*-1\r\n";

/// How long a command may block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wait {
    /// Not at all: the non-blocking forms (LMPOP, ZMPOP) reply null.
    Never,
    /// Until this unix time in ms.
    Until(u64),
    Forever,
}

/// A timeout argument in seconds as a deadline; 0 waits forever. Redis
/// reads it as a long double and rounds the milliseconds up.
pub fn deadline(arg: &[u8], now_ms: u64) -> Result<Wait, Error> {
    let seconds = LongDouble::parse(arg).ok_or(Error::TimeoutNotFloat)?;
    let ms = seconds.ceil_millis().filter(|&ms| ms >= 0).ok_or(Error::TimeoutNegative)?;
    Ok(if ms == 0 { Wait::Forever } else { Wait::Until(now_ms.saturating_add(ms as u64)) })
}

/// What a key holds for an op.
#[derive(Debug, PartialEq)]
enum Probe {
    /// A value of the type the op wants (never empty: an emptied
    /// collection is deleted).
    Ready,
    Missing,
    /// A value of another type.
    OtherType,
}

fn probe(keys: &mut Keys, db: usize, key: &[u8], op: &BlockOp) -> Probe {
    let (now, source) = (keys.now_ms, keys.db_at(key, db));
    let found = if op.wants_list() {
        lookup::<List>(source, key, now, false).map(|l| l.is_some())
    } else {
        lookup::<ZSet>(source, key, now, false).map(|z| z.is_some())
    };
    match found {
        Ok(true) => Probe::Ready,
        Ok(false) => Probe::Missing,
        Err(_) => Probe::OtherType,
    }
}

/// Runs `op` on `key` of database `db`, which `probe` found ready, writing
/// the reply. An error (a BLMOVE destination of the wrong type) leaves
/// everything as it was.
fn run(keys: &mut Keys, db: usize, key: &[u8], op: &BlockOp, server: &Shared, out: &mut Reply) -> Result<(), Error> {
    run_op(keys, db, key, op, server, out)?;
    // Recorded as the non-blocking pop it came to.
    let count = match op {
        BlockOp::ListPop { count, .. } | BlockOp::ZPop { count, .. } => count.map(|n| n.to_string()),
        BlockOp::ListMove { .. } => None,
    };
    let side = |end: &crate::store::End| if *end == crate::store::End::Left { &b"LEFT"[..] } else { b"RIGHT" };
    let mut args: Vec<&[u8]> = match op {
        BlockOp::ListPop { end, .. } => vec![if *end == crate::store::End::Left { b"LPOP" } else { b"RPOP" }, key],
        BlockOp::ZPop { max, .. } => vec![if *max { b"ZPOPMAX" } else { b"ZPOPMIN" }, key],
        BlockOp::ListMove { from, to, dest } => vec![b"LMOVE", key, dest, side(from), side(to)],
    };
    if let Some(count) = &count {
        args.push(count.as_bytes());
    }
    keys.record(db, &args);
    Ok(())
}

fn run_op(keys: &mut Keys, db: usize, key: &[u8], op: &BlockOp, server: &Shared, out: &mut Reply) -> Result<(), Error> {
    let now = keys.now_ms;
    match op {
        BlockOp::ListPop { end, count } => {
            let items = super::lists::pop_from(keys.db_at(key, db), key, *end, count.unwrap_or(1), now)?
                .expect("checked present");
            super::lists::notify_pop(server, keys, db, key, *end);
            out.array(2);
            out.bulk(key);
            match count {
                None => out.bulk(&items[0]),
                Some(_) => {
                    out.array(items.len());
                    for e in &items {
                        out.bulk(e);
                    }
                }
            }
        }
        BlockOp::ListMove { from, to, dest } => {
            let element =
                super::lists::move_between(keys, server, db, key, dest, *from, *to)?.expect("checked present");
            out.bulk(&element);
        }
        BlockOp::ZPop { max, count } => {
            let source = keys.db_at(key, db);
            let zset = lookup::<ZSet>(source, key, now, false)?.expect("checked present");
            let popped = zset.pop(count.unwrap_or(1), *max);
            let emptied = zset.is_empty();
            if emptied {
                source.remove(key, now);
            } else {
                source.touch(key);
            }
            keys.dirty += 1;
            notify::emit(server, notify::ZSET, if *max { "zpopmax" } else { "zpopmin" }, key, db);
            if emptied {
                notify::emit(server, notify::GENERIC, "del", key, db);
            }
            out.array(if count.is_some() { 2 } else { 3 });
            out.bulk(key);
            match count {
                None => {
                    out.bulk(&popped[0].0);
                    out.bulk(format_score(popped[0].1).as_bytes());
                }
                Some(_) => {
                    out.array(popped.len());
                    for (m, s) in &popped {
                        out.array(2);
                        out.bulk(m);
                        out.bulk(format_score(*s).as_bytes());
                    }
                }
            }
        }
    }
    Ok(())
}

/// The body of every blocking command and of LMPOP and ZMPOP: serve from
/// the first of `keys` that has a value, or else block the client on all
/// of them as `wait` says.
pub fn pop_or_block(ctx: &mut Ctx, keys: Args, op: BlockOp, wait: Wait) -> Result<(), Error> {
    let db = ctx.client.db;
    for key in keys.iter() {
        match probe(ctx.keys, db, key, &op) {
            Probe::Ready => return run(ctx.keys, db, key, &op, ctx.server, &mut ctx.out),
            Probe::OtherType => return Err(Error::WrongType),
            Probe::Missing => {}
        }
    }
    // Inside a transaction a blocking command answers at once, as its
    // timeout would (BLMOVE and BRPOPLPUSH as LMOVE does).
    let wait = if ctx.client.in_exec { Wait::Never } else { wait };
    let deadline = match wait {
        Wait::Never if ctx.client.in_exec && matches!(op, BlockOp::ListMove { .. }) => {
            ctx.out.null();
            return Ok(());
        }
        Wait::Never => {
            ctx.out.null_array();
            return Ok(());
        }
        Wait::Until(ms) => Some(ms),
        Wait::Forever => None,
    };
    let mut distinct: Vec<Box<[u8]>> = Vec::with_capacity(keys.len());
    for key in keys.iter() {
        if !distinct.iter().any(|k| &**k == key) {
            distinct.push(key.into());
        }
    }
    let waiter = Arc::new(Waiter::new(ctx.client.id, ctx.client.meta.thread, db, distinct, op, deadline));
    let store = &ctx.server.store;
    for key in &waiter.keys {
        ctx.keys.locks.shard(store.shard_of(key)).add_waiter(db, key, waiter.clone());
    }
    *ctx.client.meta.blocked.lock() = Some(waiter.clone());
    ctx.client.blocked = Some(waiter);
    Ok(())
}

/// Serves the waiters of every key made ready in the locked shards, until
/// none is left. Returns the keys whose next waiter needs a lock that could
/// not be taken without breaking the lock order (a BLMOVE destination in a
/// lower shard held by someone else): `serve_deferred` finishes those once
/// these locks are released.
pub fn serve_ready(keys: &mut Keys, server: &Shared) -> Vec<(usize, Box<[u8]>)> {
    let mut deferred = Vec::new();
    while let Some((db, key)) = keys.locks.take_ready() {
        if !serve_key(keys, server, db, &key) {
            deferred.push((db, key));
        }
    }
    deferred
}

/// Serves `key`'s waiters in order while the key has something for them.
/// False when it stopped on a lock it could not take.
fn serve_key(keys: &mut Keys, server: &Shared, db: usize, key: &[u8]) -> bool {
    let store: &Store = keys.store;
    let shard = store.shard_of(key);
    let mut at = 0;
    loop {
        let Some(queue) = keys.locks.shard(shard).dbs[db].waiters().queue(key) else { return true };
        let Some(waiter) = queue.get(at).cloned() else { return true };
        if waiter.is_claimed() {
            // Its owner cleans up the other queues; this entry goes now.
            keys.locks.shard(shard).remove_waiter_at(db, key, at);
            continue;
        }
        if let BlockOp::ListMove { dest, .. } = &waiter.op {
            if !keys.locks.include(store, store.shard_of(dest)) {
                return false;
            }
        }
        match probe(keys, db, key, &waiter.op) {
            Probe::Missing => return true,
            Probe::OtherType => {
                at += 1;
                continue;
            }
            Probe::Ready => {}
        }
        keys.locks.shard(shard).remove_waiter_at(db, key, at);
        // Timeouts, CLIENT UNBLOCK and disconnects claim without a shard
        // lock; whoever claims first answers.
        if !waiter.claim() {
            continue;
        }
        let mut reply = Vec::new();
        if let Err(e) = run(keys, db, key, &waiter.op, server, &mut Reply::new(&mut reply)) {
            reply.clear();
            Reply::new(&mut reply).error_bytes(&e.to_bytes());
        }
        // Sent once the command's records are appended (`send_unblocked`).
        keys.unblocked.push((waiter.thread, waiter.client_id, reply));
    }
}

/// Finishes the keys `serve_ready` could not, with every shard locked.
/// Returns the changes made (the pops).
pub fn serve_deferred(server: &Shared, deferred: Vec<(usize, Box<[u8]>)>, now_ms: u64) -> u64 {
    let store = &server.store;
    let mut keys = Keys::new(store, store.lock_all(), 0, now_ms);
    keys.propagating = server.propagating();
    for (db, key) in deferred {
        keys.locks.shard(store.shard_of(&key)).dbs[db].waiters().signal(&key);
    }
    let left = serve_ready(&mut keys, server);
    debug_assert!(left.is_empty(), "with every shard locked nothing is deferred");
    let offset = keys.append_records(server);
    send_unblocked(server, &mut keys, offset);
    keys.dirty
}

/// Sends the served waiters their replies; under appendfsync always each
/// waits for `aof_offset` to be durable.
pub fn send_unblocked(server: &Shared, keys: &mut Keys, aof_offset: Option<u64>) {
    for (thread, client_id, reply) in keys.unblocked.drain(..) {
        server.mailboxes[thread].send(Message::Unblock { client_id, reply, aof_offset });
    }
}

/// Removes a finished waiter from the queues of all its keys.
pub fn forget(store: &Store, waiter: &Arc<Waiter>) {
    for key in &waiter.keys {
        store.lock(store.shard_of(key)).remove_waiter(waiter.db, key, waiter);
    }
}
