//! Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH.
//!
//! Between MULTI and EXEC, dispatch queues each command (a copy of its
//! arguments) and answers `+QUEUED`; a command refused while queuing (an
//! unknown name, a wrong arity) marks the transaction aborted. EXEC takes
//! every shard's lock, in order, and holds them while the whole queue
//! runs, so no client on any thread sees a state between two of its
//! commands. Clients blocked on keys a transaction filled are served once
//! it is done, before the locks are released.
//!
//! WATCH registers the client in each key's database (store::watch);
//! a write marks it dirty, and EXEC then answers null and runs nothing.

use std::ops::Range;
use std::sync::Arc;

use super::flags::*;
use super::{blocking, dispatch, CmdResult, CommandSpec, Ctx, Error};
use crate::client::Client;
use crate::cmd;
use crate::resp::Args;
use crate::server::Shared;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NONE, multi, "transactions", "1.2.0", "Start a transaction", ""),
    cmd!("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, NONE, exec, "transactions", "1.2.0", "Execute all commands issued after MULTI", ""),
    cmd!("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NONE, discard, "transactions", "2.0.0", "Discard all commands issued after MULTI", ""),
    cmd!("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, ALL, watch, "transactions", "2.2.0", "Watch the given keys to determine execution of the MULTI/EXEC block", "key..."),
    cmd!("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NONE, unwatch, "transactions", "2.2.0", "Forget about all watched keys", ""),
];

/// A transaction being queued.
#[derive(Debug, Default)]
pub struct Multi {
    queued: Vec<Queued>,
    /// A command was refused while queuing: EXEC will refuse to run.
    aborted: bool,
}

impl Multi {
    /// The flags of every queued command, or-ed together.
    pub fn queued_flags(&self) -> u32 {
        self.queued.iter().filter_map(|q| super::table::lookup(q.args().get(0))).fold(0, |f, (_, spec)| f | spec.flags)
    }

    /// Whether `holds` holds back any queued command (EXEC then waits).
    pub fn held_by(&self, holds: crate::pause::Holds) -> bool {
        self.queued
            .iter()
            .filter_map(|q| super::table::lookup(q.args().get(0)))
            .any(|(_, spec)| crate::pause::Pause::holds_command(holds, spec.name, spec.flags))
    }

    pub fn queue(&mut self, args: Args) {
        let mut data = Vec::with_capacity(args.iter().map(<[u8]>::len).sum());
        let mut spans = Vec::with_capacity(args.len());
        for a in args.iter() {
            spans.push(data.len()..data.len() + a.len());
            data.extend_from_slice(a);
        }
        self.queued.push(Queued { data, spans });
    }

    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    pub fn abort(&mut self) {
        self.aborted = true;
    }
}

/// One queued command's arguments, owned.
#[derive(Debug)]
struct Queued {
    data: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl Queued {
    fn args(&self) -> Args<'_> {
        Args::from_parts(&self.data, &self.spans)
    }
}

/// The commands that act at once inside MULTI instead of being queued.
/// Matched on the full name: a subcommand such as LATENCY RESET is queued.
pub fn runs_inside_multi(idx: usize) -> bool {
    matches!(super::table::full_name(idx), "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// MULTI
fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::MultiNested);
    }
    ctx.client.multi = Some(Multi::default());
    ctx.client.meta.multi.store(0, std::sync::atomic::Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// DISCARD
fn discard(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.end_multi().is_none() {
        return Err(Error::DiscardWithoutMulti);
    }
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

/// EXEC
fn exec(ctx: &mut Ctx) -> CmdResult {
    let Some(multi) = ctx.client.end_multi() else {
        return Err(Error::ExecWithoutMulti);
    };
    if multi.aborted {
        unwatch_all(ctx);
        return Err(Error::ExecAbort);
    }
    ctx.keys.lock_all();
    if watched_key_changed(ctx) {
        unwatch_all(ctx);
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(multi.queued.len());
    ctx.client.in_exec = true;
    for q in &multi.queued {
        dispatch::run_queued(q.args(), ctx);
    }
    ctx.client.in_exec = false;
    unwatch_all(ctx);
    // Pushes inside the transaction wake blocked clients now that it is
    // complete, as in Redis.
    let deferred = blocking::serve_ready(ctx.keys, ctx.server);
    debug_assert!(deferred.is_empty(), "every shard is locked");
    Ok(())
}

/// True when EXEC must not run: a watched key was written, or expired
/// since it was watched.
fn watched_key_changed(ctx: &mut Ctx) -> bool {
    if ctx.client.watch.is_dirty() {
        return true;
    }
    let now = ctx.now_ms();
    let store = &ctx.server.store;
    let state = &ctx.client.watch;
    ctx.client.watching.iter().any(|(db, key)| {
        ctx.keys.with_shard(store.shard_of(key), |shard| {
            let db = &shard.dbs[*db];
            let expired_now = db.peek(key).is_some_and(|e| e.is_expired(now));
            db.watches.expired_since_watch(key, state, expired_now)
        })
    })
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(Error::WatchInMulti);
    }
    let now = ctx.now_ms();
    let db_index = ctx.client.db;
    let store = &ctx.server.store;
    for key in ctx.args.tail(1).iter() {
        if ctx.client.watching.iter().any(|(d, k)| *d == db_index && **k == *key) {
            continue;
        }
        let state = &ctx.client.watch;
        ctx.keys.with_shard(store.shard_of(key), |shard| {
            let db = &mut shard.dbs[db_index];
            let expired = db.peek(key).is_some_and(|e| e.is_expired(now));
            db.watches.add(key, state, expired);
        });
        ctx.client.watching.push((db_index, key.into()));
    }
    ctx.out.ok();
    Ok(())
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx) -> CmdResult {
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

/// Drops every watch of the client and starts a clean state.
pub(super) fn unwatch_all(ctx: &mut Ctx) {
    let store = &ctx.server.store;
    let state = std::mem::take(&mut ctx.client.watch);
    for (db, key) in ctx.client.watching.drain(..) {
        ctx.keys.with_shard(store.shard_of(&key), |shard| shard.dbs[db].watches.remove(&key, &state));
    }
}

/// A closing connection's watches, dropped outside any command.
pub fn forget(shared: &Shared, client: &mut Client) {
    let state: Arc<_> = std::mem::take(&mut client.watch);
    for (db, key) in client.watching.drain(..) {
        shared.store.lock(shared.store.shard_of(&key)).dbs[db].watches.remove(&key, &state);
    }
    client.end_multi();
}
