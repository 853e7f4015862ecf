//! The gauntlet every command passes, in Redis's order: lookup, arity,
//! auth, (later: MULTI queueing, flag gates, cluster redirect), then the
//! handler runs with the shard locks of its keys held, in ascending shard
//! order. The handler writes its reply or returns an error, which is
//! rendered here.

use std::time::Instant;

use super::{blocking, table, Ctx, Error, Keys};
use crate::client::{Client, ReplyMode};
use crate::resp::{Args, Reply};
use crate::server::Shared;
use crate::stats::{bump, ThreadStats};
use crate::store::Locked;

/// Arguments kept for an unknown-command error: it shows at most 128 bytes
/// of them, each taking at least 3 (quotes and a space).
const UNKNOWN_ARGS_SHOWN: usize = 43;

/// Runs one command and writes its reply (or error) to `out`.
pub fn execute(args: Args, client: &mut Client, shared: &Shared, stats: &ThreadStats, now_ms: u64, out: &mut Vec<u8>) {
    let start_len = out.len();
    let before = client.reply_mode;
    if let Err(e) = run(args, client, shared, stats, now_ms, out) {
        out.truncate(start_len);
        Reply::new(out).error_bytes(&e.to_bytes());
    }
    // CLIENT REPLY: OFF and SKIP drop their own reply; SKIP drops the next
    // command's too; ON (after OFF) is answered.
    if matches!(client.reply_mode, ReplyMode::Off | ReplyMode::SkipNext) {
        out.truncate(start_len);
        if before == ReplyMode::SkipNext {
            client.reply_mode = ReplyMode::On;
        }
    }
}

fn run(
    args: Args,
    client: &mut Client,
    shared: &Shared,
    stats: &ThreadStats,
    now_ms: u64,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let argc = args.len();
    let name = args.get(0);
    let Some((mut idx, mut spec)) = table::lookup(name) else {
        return Err(Error::UnknownCommand {
            name: name.to_vec(),
            args: args.iter().skip(1).take(UNKNOWN_ARGS_SHOWN).map(<[u8]>::to_vec).collect(),
        });
    };
    // A container command alone (COMMAND) runs its own handler when its
    // arity allows; otherwise argument 1 names the subcommand.
    if !spec.subcommands.is_empty() && argc >= 2 {
        match table::lookup_sub(idx, args.get(1)) {
            Some(found) => (idx, spec) = found,
            None => return Err(Error::UnknownSubcommand { sub: args.get(1).to_vec(), command: spec.name }),
        }
    }
    let count_rejected = || bump(&stats.per_command[idx].rejected, 1);
    if !spec.arity_ok(argc) {
        count_rejected();
        return Err(Error::WrongArity(table::full_name(idx).to_string()));
    }
    if !client.authenticated && !spec.has(super::flags::NO_AUTH) {
        count_rejected();
        return Err(Error::NoAuth);
    }

    client.meta.touch(idx, now_ms);
    let store = &shared.store;
    let locks = if spec.keys.movable { store.lock_all() } else { lock_keys(store, spec.keys.positions(&args), &args) };
    let started = Instant::now();
    let db = client.db;
    let mut ctx =
        Ctx { args, keys: Keys::new(store, locks, db, now_ms), out: Reply::new(out), client, server: shared, spec };
    // A panic in a handler is a bug; it must not take the event loop and
    // every other client of this thread down with it. The shard locks are
    // released as the panic unwinds; the client gets an error and is closed.
    let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (spec.handler)(&mut ctx))) {
        Ok(result) => result,
        Err(_) => {
            log::error!("command '{}' panicked; closing the client", table::full_name(idx));
            ctx.client.close_after_reply = true;
            Err(Error::Internal)
        }
    };
    // Whatever the command made ready goes to blocked clients before
    // anyone else can see it.
    let deferred =
        if spec.has(super::flags::WRITE) { blocking::serve_ready(&mut ctx.keys, shared) } else { Vec::new() };
    drop(ctx);
    if !deferred.is_empty() {
        blocking::serve_deferred(shared, deferred, now_ms);
    }
    let stat = &stats.per_command[idx];
    bump(&stat.calls, 1);
    bump(&stat.usec, started.elapsed().as_micros() as u64);
    bump(&stats.commands, 1);
    if result.is_err() {
        bump(&stat.failed, 1);
    }
    result
}

/// Locks the shards of the keys at `positions`, in ascending order.
fn lock_keys<'a>(
    store: &'a crate::store::Store,
    mut positions: impl Iterator<Item = usize>,
    args: &Args,
) -> Locked<'a> {
    let Some(first) = positions.next() else {
        return Locked::None;
    };
    let first_shard = store.shard_of(args.get(first));
    let Some(second) = positions.next() else {
        return Locked::One(first_shard, store.lock(first_shard));
    };
    let mut shards = vec![first_shard];
    let second_shard = store.shard_of(args.get(second));
    if second_shard != first_shard {
        shards.push(second_shard);
    }
    for p in positions {
        let s = store.shard_of(args.get(p));
        if !shards.contains(&s) {
            shards.push(s);
        }
    }
    shards.sort_unstable();
    store.lock_many(&shards)
}
