//! The gauntlet every command passes, in Redis's order: lookup, arity,
//! auth, MULTI queueing, (later: flag gates, cluster redirect), then the
//! handler runs with the shard locks of its keys held, in ascending shard
//! order. The handler writes its reply or returns an error, which is
//! rendered here.

use super::args::is;
use super::{blocking, flags, multi, table, CommandSpec, Ctx, Error, Keys};
use crate::client::{Client, ReplyMode};
use crate::resp::{Args, Reply};
use crate::server::Shared;
use crate::stats::{bump, mono_ns, ThreadStats};
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
    if client.reply_mode == ReplyMode::SkipThis {
        out.truncate(start_len);
        client.reply_mode = before;
        return;
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

/// Whether a command runs while a script is busy: those flagged so, but
/// SHUTDOWN only with NOSAVE (or ABORT), as Redis's BUSY error says.
fn allowed_while_busy(spec: &CommandSpec, args: Args) -> bool {
    if !spec.has(super::flags::ALLOW_BUSY) {
        return false;
    }
    spec.name != "shutdown" || args.iter().any(|a| is(a, "nosave") || is(a, "abort"))
}

/// Whether a command must wait for a busy script's end on the script's
/// own thread: it is one of the few allowed while a script is busy, but
/// it locks shards (WATCH does), and the script holds them all.
pub fn waits_for_busy_script(args: Args) -> bool {
    match table::lookup(args.get(0)) {
        Some((_, spec)) => spec.has(super::flags::ALLOW_BUSY) && (spec.keys.first > 0 || spec.keys.movable),
        None => false,
    }
}

/// Whether a command waits for a pause (CLIENT PAUSE, FAILOVER) before
/// it runs (or is queued, inside MULTI, as in Redis); EXEC waits for what
/// it would run.
pub fn waits_for_pause(args: Args, client: &Client, holds: crate::pause::Holds) -> bool {
    use crate::pause::{Holds, Pause};
    if holds == Holds::Nothing || client.replica.is_some() || client.is_master {
        return false;
    }
    if holds == Holds::All {
        return true;
    }
    let Some((idx, mut spec)) = table::lookup(args.get(0)) else { return false };
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        if let Some((_, sub)) = table::lookup_sub(idx, args.get(1)) {
            spec = sub;
        }
    }
    match &client.multi {
        Some(multi) if spec.name == "exec" => multi.held_by(holds),
        _ => Pause::holds_command(holds, spec.name, spec.flags),
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
    let (idx, spec) = match admit(args, client, stats) {
        Ok(found) => found,
        Err(e) => return Err(refuse_in_multi(client, args, e)),
    };
    client.meta.touch(idx, now_ms);
    if shared.scripts.running.is_busy() && !allowed_while_busy(spec, args) {
        return Err(refuse_in_multi(client, args, shared.scripts.running.busy_error()));
    }
    if let Some(e) = over_maxmemory(shared, client, idx, spec) {
        return Err(refuse_in_multi(client, args, e));
    }
    // The gates after OOM, in the order Redis checks them.
    if (spec.has(super::flags::WRITE) || spec.name == "ping") && !client.is_master {
        if let Some(e) = crate::persist::writes_refused(shared) {
            return Err(refuse_in_multi(client, args, e));
        }
    }
    if writes(client, spec) && !client.is_master {
        if !shared.repl.enough_good_replicas(shared) {
            return Err(refuse_in_multi(client, args, Error::NoReplicas));
        }
        if crate::repl::upstream::refuses_writes(shared, client) {
            return Err(refuse_in_multi(client, args, Error::ReadOnlyReplica));
        }
    }
    if client.subscriptions() > 0 && !super::pubsub::allowed_when_subscribed(spec) {
        return Err(refuse_in_multi(client, args, Error::SubscribedContext(table::full_name(idx).to_string())));
    }
    if !spec.has(flags::STALE) && crate::repl::upstream::serves_no_stale_data(shared) {
        return Err(refuse_in_multi(client, args, Error::MasterDown));
    }
    // The data being loaded: only the loader itself (the AOF's client, or
    // a primary's) runs commands that need it.
    if !spec.has(flags::LOADING) && !client.is_master && shared.persist.is_loading() {
        return Err(refuse_in_multi(client, args, Error::Loading));
    }
    if let Some(multi) = client.multi.as_mut() {
        if !multi::runs_inside_multi(idx) {
            if spec.has(super::flags::NO_MULTI) {
                multi.abort();
                return Err(Error::NotInTransaction);
            }
            multi.queue(args);
            let queued = multi.len() as isize;
            client.meta.multi.store(queued, std::sync::atomic::Ordering::Relaxed);
            Reply::new(out).simple("QUEUED");
            return Ok(());
        }
    }
    let store = &shared.store;
    let locks = if spec.keys.movable { store.lock_all() } else { lock_keys(store, spec.keys.positions(&args), &args) };
    let mut keys = Keys::new(store, locks, client.db, now_ms);
    keys.propagating = shared.propagating();
    let mut ctx = Ctx { args, keys: &mut keys, out: Reply::new(out), client, server: shared, spec };
    let result = invoke_recorded(&mut ctx, idx, stats);
    if crate::notify::any_enabled(shared) {
        for (db, events) in ctx.keys.take_events() {
            crate::notify::emit_logged(shared, events, db);
        }
    }
    // Whatever the command made ready goes to blocked clients before
    // anyone else can see it.
    let deferred = if spec.has(super::flags::WRITE) { blocking::serve_ready(ctx.keys, shared) } else { Vec::new() };
    let offset = keys.append_records(shared);
    if client.is_master && client.multi.is_none() && !client.from_primary.is_empty() {
        // On a replica: the primary's bytes for what just changed go into
        // our feed under the same locks, as our own writes would.
        shared.repl.proxy(shared, &client.from_primary, client.db);
        client.from_primary.clear();
    }
    client.aof_wait = offset;
    if keys.dirty > 0 && shared.repl.is_active() {
        client.woff = shared.repl.offset();
    }
    blocking::send_unblocked(shared, &mut keys, offset);
    let mut dirty = keys.dirty;
    // The locks go before serving what needs a lock taken out of order.
    drop(keys);
    if !deferred.is_empty() {
        dirty += blocking::serve_deferred(shared, deferred, now_ms);
    }
    if dirty > 0 {
        bump(&stats.dirty, dirty);
    }
    result
}

/// Evicts down to maxmemory if the policy allows (see `crate::evict`);
/// then the OOM refusal, when memory is still over it and the command may
/// grow it: a command flagged denyoom, EXEC of a transaction holding one,
/// or anything queued inside MULTI (a queue grows without bound) but the
/// commands that end it. Reads, deletions and the like still run. Records
/// the state for the command's scripts either way.
fn over_maxmemory(shared: &Shared, client: &mut Client, idx: usize, spec: &CommandSpec) -> Option<Error> {
    let limit = shared.hot.maxmemory.load(std::sync::atomic::Ordering::Relaxed);
    // The primary's stream is applied whatever the memory, as in Redis.
    client.oom_at_start =
        limit != 0 && !client.is_master && crate::evict::perform(shared) == crate::evict::Outcome::Failed;
    if !client.oom_at_start {
        return None;
    }
    let grows = match client.multi.as_ref() {
        Some(multi) if spec.name == "exec" => multi.queued_flags() & flags::DENYOOM != 0,
        Some(_) => !multi::runs_inside_multi(idx),
        None => spec.has(flags::DENYOOM),
    };
    grows.then_some(Error::Oom)
}

/// Whether the command may write: flagged write, or EXEC of a
/// transaction holding such a command.
fn writes(client: &Client, spec: &CommandSpec) -> bool {
    match client.multi.as_ref() {
        Some(multi) if spec.name == "exec" => multi.queued_flags() & flags::WRITE != 0,
        _ => spec.has(flags::WRITE),
    }
}

/// Lookup, arity and authentication: the command's table index and spec.
fn admit(args: Args, client: &Client, stats: &ThreadStats) -> Result<(usize, &'static CommandSpec), Error> {
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
    if !spec.arity_ok(argc) {
        bump(&stats.per_command[idx].rejected, 1);
        return Err(Error::WrongArity(table::full_name(idx).to_string()));
    }
    if !client.authenticated && !spec.has(super::flags::NO_AUTH) {
        bump(&stats.per_command[idx].rejected, 1);
        return Err(Error::NoAuth);
    }
    Ok((idx, spec))
}

/// A command refused inside MULTI aborts the transaction. EXEC refused
/// discards it at once and says why (in or out of MULTI, as Redis does).
fn refuse_in_multi(client: &mut Client, args: Args, e: Error) -> Error {
    if args.get(0).eq_ignore_ascii_case(b"exec") {
        client.end_multi();
        let text = e.to_bytes();
        return Error::ExecAbortBecause(text.strip_prefix(b"ERR ").unwrap_or(&text).to_vec());
    }
    if let Some(multi) = client.multi.as_mut() {
        multi.abort();
    }
    e
}

/// Commands recorded by their effects (what they ran), not as sent.
fn records_effects(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro")
}

/// `invoke`, then records the command as sent when it changed something
/// and recorded nothing else for itself.
fn invoke_recorded(ctx: &mut Ctx, idx: usize, stats: &ThreadStats) -> Result<(), Error> {
    let dirty = ctx.keys.dirty;
    let outer_rewritten = std::mem::take(&mut ctx.keys.rewritten);
    let result = invoke(ctx, idx, stats);
    if ctx.keys.propagating {
        ctx.keys.record_expired();
        if ctx.keys.dirty > dirty && !ctx.keys.rewritten && !records_effects(ctx.spec) {
            let db = ctx.client.db;
            ctx.keys.ops.push(crate::persist::aof::Op::encode(db, ctx.args.iter()));
        }
    }
    ctx.keys.rewritten = outer_rewritten;
    result
}

/// Runs the handler, counting the call; a panic becomes an error reply
/// and closes the client.
fn invoke(ctx: &mut Ctx, idx: usize, stats: &ThreadStats) -> Result<(), Error> {
    let started = mono_ns();
    // A panic in a handler is a bug; it must not take the event loop and
    // every other client of this thread down with it. The shard locks are
    // released as the panic unwinds; the client gets an error and is closed.
    let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (ctx.spec.handler)(ctx))) {
        Ok(result) => result,
        Err(_) => {
            log::error!("command '{}' panicked; closing the client", table::full_name(idx));
            ctx.client.close_after_reply = true;
            Err(Error::Internal)
        }
    };
    let stat = &stats.per_command[idx];
    bump(&stat.calls, 1);
    let took_ns = mono_ns().saturating_sub(started);
    bump(&stat.usec, took_ns / 1000);
    if !ctx.spec.has(flags::SKIP_SLOWLOG) {
        let event = if ctx.spec.has(flags::FAST) { "fast-command" } else { "command" };
        ctx.server.latency.observe_ns(event, took_ns);
    }
    bump(&stats.commands, 1);
    if result.is_err() {
        bump(&stat.failed, 1);
    }
    result
}

/// Runs a command inside another (EXEC's queue, a script's redis.call)
/// with the outer command's locks (every shard), appending its reply, or
/// its error, to `out`.
fn run_nested(args: Args, idx: usize, spec: &'static CommandSpec, outer: &mut Ctx, out: &mut Vec<u8>) {
    let stats = &outer.server.stats[outer.client.meta.thread];
    let start = out.len();
    outer.keys.select(outer.client.db);
    let mut inner = Ctx {
        args,
        keys: &mut *outer.keys,
        out: Reply::new(out),
        client: &mut *outer.client,
        server: outer.server,
        spec,
    };
    if let Err(e) = invoke_recorded(&mut inner, idx, stats) {
        out.truncate(start);
        Reply::new(out).error_bytes(&e.to_bytes());
    }
}

/// Runs a command a script called (already looked up and checked); its
/// reply goes to `out`.
pub fn run_in_script(args: Args, idx: usize, spec: &'static CommandSpec, ctx: &mut Ctx, out: &mut Vec<u8>) {
    run_nested(args, idx, spec, ctx, out);
}

/// Runs one command of a transaction inside EXEC, writing to EXEC's reply.
pub fn run_queued(args: Args, ctx: &mut Ctx) {
    let mut out = std::mem::take(ctx.out.buffer());
    match admit(args, ctx.client, &ctx.server.stats[ctx.client.meta.thread]) {
        Ok((idx, spec)) => run_nested(args, idx, spec, ctx, &mut out),
        Err(e) => Reply::new(&mut out).error_bytes(&e.to_bytes()),
    }
    *ctx.out.buffer() = out;
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
