//! Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE (in
//! `crate::persist`), and DUMP / RESTORE (a value in the RDB format).

use super::args::{self, is};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx, Error};
use crate::cmd;
use crate::notify;
use crate::persist::{self, rdb, Started};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("save", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, NONE, save, "server", "1.0.0", "Synchronously save the dataset to disk", ""),
    cmd!("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NONE, bgsave, "server", "1.0.0", "Asynchronously save the dataset to disk", "[SCHEDULE]"),
    cmd!("bgrewriteaof", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NONE, bgrewriteaof, "server", "1.0.0", "Asynchronously rewrite the append-only file", ""),
    cmd!("lastsave", 1, LOADING | STALE | FAST, NONE, lastsave, "server", "1.0.0", "Get the UNIX time stamp of the last successful save to disk", ""),
    cmd!("dump", 2, READONLY, ONE, dump, "generic", "2.6.0", "Return a serialized version of the value stored at the specified key.", "key"),
    cmd!("restore", -4, WRITE | DENYOOM, ONE, restore, "generic", "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP.", "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"),
];

/// Saves with every shard locked (SAVE, SHUTDOWN, FLUSHALL, DEBUG RELOAD).
pub fn save_locked(ctx: &mut Ctx) -> Result<(), String> {
    let server = ctx.server;
    let shards = ctx.keys.all_shards();
    persist::save(server, &shards)
}

/// SAVE
fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.server.persist.bgsave_running() {
        return Err(Error::BgsaveInProgress);
    }
    save_locked(ctx).map_err(|_| Error::Bare)?;
    ctx.out.ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]
fn bgsave(ctx: &mut Ctx) -> CmdResult {
    let schedule = match ctx.argc() {
        1 => false,
        2 if is(ctx.arg(1), "schedule") => true,
        _ => return Err(Error::Syntax),
    };
    let server = ctx.server;
    let shards = ctx.keys.all_shards();
    match persist::bgsave(server, &shards, schedule)? {
        Started::Now => ctx.out.simple("Background saving started"),
        Started::Scheduled => ctx.out.simple("Background saving scheduled"),
    }
    Ok(())
}

/// BGREWRITEAOF
fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    let server = ctx.server;
    let shards = ctx.keys.all_shards();
    match persist::bgrewriteaof(server, &shards)? {
        Started::Now => ctx.out.simple("Background append only file rewriting started"),
        Started::Scheduled => ctx.out.simple("Background append only file rewriting scheduled"),
    }
    Ok(())
}

/// LASTSAVE
fn lastsave(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.server.persist.last_save_s() as i64);
    Ok(())
}

/// DUMP key
fn dump(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let compress = ctx.server.config.read().get("rdbcompression") == "yes";
    match ctx.keys.db(key).read(key, now) {
        Some(entry) => {
            let payload = rdb::dump(&entry.value, compress);
            ctx.out.bulk(&payload);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency], checked in Redis's order: options, an existing key,
/// the TTL, the payload's footer, then its contents.
fn restore(ctx: &mut Ctx) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None, None);
    let mut at = 4;
    while at < ctx.argc() {
        let word = ctx.arg(at);
        let more = at + 1 < ctx.argc();
        if is(word, "replace") {
            replace = true;
        } else if is(word, "absttl") {
            absttl = true;
        } else if is(word, "idletime") && more && freq.is_none() {
            let n = args::int(ctx.arg(at + 1))?;
            if n < 0 {
                return Err(Error::InvalidIdletime);
            }
            idle = Some(n as u64);
            at += 1;
        } else if is(word, "freq") && more && idle.is_none() {
            let n = args::int(ctx.arg(at + 1))?;
            if !(0..=255).contains(&n) {
                return Err(Error::InvalidFreq);
            }
            freq = Some(n);
            at += 1;
        } else {
            return Err(Error::Syntax);
        }
        at += 1;
    }
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    if !replace && ctx.keys.db(key).exists(key, now) {
        return Err(Error::BusyKey);
    }
    let ttl = args::int(ctx.arg(2))?;
    if ttl < 0 {
        return Err(Error::InvalidTtl);
    }
    let body = rdb::check_dump(ctx.arg(3)).ok_or(Error::DumpPayload)?;
    let limits = rdb::Limits::from_hot(&ctx.server.hot);
    let value = match rdb::undump(body, &limits) {
        Ok(Some(value)) => value,
        Ok(None) | Err(_) => return Err(Error::BadDataFormat),
    };
    let deadline = match ttl {
        0 => None,
        t if absttl => Some(t as u64),
        t => Some((t as u64).saturating_add(now)),
    };
    let db = ctx.keys.db(key);
    let deleted = replace && db.remove(key, now).is_some();
    if deadline.is_some_and(|d| d <= now) {
        // Already expired: the old value is gone, nothing is added.
        if deleted {
            ctx.propagate_as(&[b"DEL", key]);
            ctx.notify(notify::GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    db.set(key, value, deadline, now);
    let stamp = db.access.restored(idle, freq.map(|f| f as u8), now);
    if let Some(entry) = db.get_no_touch(key, now) {
        entry.access = stamp;
    }
    if let (Some(at), false) = (deadline, absttl) {
        // Recorded with the deadline, as Redis propagates it.
        let mut args: Vec<&[u8]> = ctx.args.iter().collect();
        let at = at.to_string();
        args[2] = at.as_bytes();
        args.push(b"ABSTTL");
        ctx.propagate_as(&args);
    }
    ctx.notify(notify::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
