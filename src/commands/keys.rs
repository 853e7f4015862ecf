//! Generic keyspace commands: deletion, expiry, iteration, renaming and
//! databases.

use super::args::{self, is, Cursor};
use super::flags::*;
use super::{blocking, CmdResult, CommandSpec, Ctx, Error};
use crate::cmd;
use crate::glob;
use crate::notify;
use crate::resp::reply::format_i64;
use crate::store::{Entry, Store, Value};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("del", -2, WRITE, ALL, del, "generic", "1.0.0", "Delete a key", "key..."),
    cmd!("unlink", -2, WRITE | FAST, ALL, del, "generic", "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", "key..."),
    cmd!("exists", -2, READONLY | FAST, ALL, exists, "generic", "1.0.0", "Determine if a key exists", "key..."),
    cmd!("touch", -2, READONLY | FAST, ALL, touch, "generic", "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys specified.", "key..."),
    cmd!("type", 2, READONLY | FAST, ONE, type_, "generic", "1.0.0", "Determine the type stored at key", "key"),
    cmd!("expire", -3, WRITE | FAST, ONE, expire, "generic", "1.0.0", "Set a key's time to live in seconds", "key seconds [NX|XX|GT|LT]"),
    cmd!("pexpire", -3, WRITE | FAST, ONE, pexpire, "generic", "2.6.0", "Set a key's time to live in milliseconds", "key milliseconds [NX|XX|GT|LT]"),
    cmd!("expireat", -3, WRITE | FAST, ONE, expireat, "generic", "1.2.0", "Set the expiration for a key as a UNIX timestamp", "key unix-time-seconds [NX|XX|GT|LT]"),
    cmd!("pexpireat", -3, WRITE | FAST, ONE, pexpireat, "generic", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "key unix-time-milliseconds [NX|XX|GT|LT]"),
    cmd!("ttl", 2, READONLY | FAST, ONE, ttl, "generic", "1.0.0", "Get the time to live for a key in seconds", "key"),
    cmd!("pttl", 2, READONLY | FAST, ONE, pttl, "generic", "2.6.0", "Get the time to live for a key in milliseconds", "key"),
    cmd!("expiretime", 2, READONLY | FAST, ONE, expiretime, "generic", "7.0.0", "Get the expiration Unix timestamp for a key", "key"),
    cmd!("pexpiretime", 2, READONLY | FAST, ONE, pexpiretime, "generic", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds", "key"),
    cmd!("persist", 2, WRITE | FAST, ONE, persist, "generic", "2.2.0", "Remove the expiration from a key", "key"),
    cmd!("keys", 2, READONLY, NONE, keys, "generic", "1.0.0", "Find all keys matching the given pattern", "pattern"),
    cmd!("scan", -2, READONLY, NONE, scan, "generic", "2.8.0", "Incrementally iterate the keys space", "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    cmd!("randomkey", 1, READONLY, NONE, randomkey, "generic", "1.0.0", "Return a random key from the keyspace", ""),
    cmd!("rename", 3, WRITE, TWO, rename, "generic", "1.0.0", "Rename a key", "key newkey"),
    cmd!("renamenx", 3, WRITE | FAST, TWO, renamenx, "generic", "1.0.0", "Rename a key, only if the new key does not exist", "key newkey"),
    cmd!("copy", -3, WRITE | DENYOOM, TWO, copy, "generic", "6.2.0", "Copy a key", "source destination [DB destination-db] [REPLACE]"),
    cmd!("move", 3, WRITE | FAST, ONE, move_, "generic", "1.0.0", "Move a key to another database", "key db"),
    CommandSpec {
        subcommands: OBJECT_SUBCOMMANDS,
        ..cmd!("object", -2, 0, NONE, object_help, "generic", "2.2.3", "A container for object introspection commands", "")
    },
    cmd!("dbsize", 1, READONLY | FAST, NONE, dbsize, "server", "1.0.0", "Return the number of keys in the selected database", ""),
    cmd!("flushdb", -1, WRITE, NONE, flushdb, "server", "1.0.0", "Remove all keys from the current database", "[ASYNC|SYNC]"),
    cmd!("flushall", -1, WRITE, NONE, flushall, "server", "1.0.0", "Remove all keys from all databases", "[ASYNC|SYNC]"),
    cmd!("select", 2, LOADING | STALE | FAST, NONE, select, "connection", "1.0.0", "Change the selected database for the current connection", "index"),
    cmd!("swapdb", 3, WRITE | FAST, NONE, swapdb, "server", "4.0.0", "Swaps two Redis databases", "index1 index2"),
];

#[rustfmt::skip]
static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("encoding", 3, READONLY, SECOND, object_encoding, "generic", "2.2.3", "Inspect the internal encoding of a Redis object", "key"),
    cmd!("freq", 3, READONLY, SECOND, object_freq, "generic", "4.0.0", "Get the logarithmic access frequency counter of a Redis object", "key"),
    cmd!("idletime", 3, READONLY, SECOND, object_idletime, "generic", "2.2.3", "Get the time since a Redis object was last accessed", "key"),
    cmd!("refcount", 3, READONLY, SECOND, object_refcount, "generic", "2.2.3", "Get the number of references to the value of the key", "key"),
    cmd!("help", 2, LOADING | STALE, NONE, object_help, "generic", "6.2.0", "Show helpful text about the different subcommands", ""),
];

/// DEL key [key ...] and UNLINK key [key ...]
fn del(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let mut removed = 0;
    for key in ctx.args.tail(1).iter() {
        if ctx.keys.db(key).remove(key, now).is_some() {
            removed += 1;
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    ctx.out.int(removed);
    Ok(())
}

/// EXISTS key [key ...]: a key named twice counts twice.
fn exists(ctx: &mut Ctx) -> CmdResult {
    count_existing(ctx, Touch::No)
}

/// TOUCH key [key ...]
fn touch(ctx: &mut Ctx) -> CmdResult {
    count_existing(ctx, Touch::Yes)
}

#[derive(PartialEq)]
enum Touch {
    Yes,
    No,
}

fn count_existing(ctx: &mut Ctx, touch: Touch) -> CmdResult {
    let now = ctx.now_ms();
    let mut found = 0;
    for key in ctx.args.tail(1).iter() {
        let db = ctx.keys.db(key);
        let entry = if touch == Touch::Yes { db.read(key, now) } else { db.read_no_touch(key, now) };
        found += entry.is_some() as i64;
    }
    ctx.out.int(found);
    Ok(())
}

/// TYPE key
fn type_(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let name = ctx.keys.db(key).read_no_touch(key, now).map_or("none", |e| e.value.type_name());
    ctx.out.simple(name);
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ExpireCondition {
    Always,
    Nx,
    Xx,
    Gt,
    Lt,
}

fn expire_condition(ctx: &Ctx) -> Result<ExpireCondition, Error> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for word in ctx.args.tail(3).iter() {
        if is(word, "nx") {
            nx = true;
        } else if is(word, "xx") {
            xx = true;
        } else if is(word, "gt") {
            gt = true;
        } else if is(word, "lt") {
            lt = true;
        } else {
            return Err(Error::UnsupportedOption(word.to_vec()));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Error::ExpireOptionsNxWithOthers);
    }
    if gt && lt {
        return Err(Error::ExpireOptionsGtLt);
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireCondition::Nx,
        (_, _, true, _) => ExpireCondition::Gt,
        (_, _, _, true) => ExpireCondition::Lt,
        (_, true, ..) => ExpireCondition::Xx,
        _ => ExpireCondition::Always,
    })
}

/// The shared body of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT.
fn expire_generic(ctx: &mut Ctx, unit_ms: i64, absolute: bool, cmd: &'static str) -> CmdResult {
    let condition = expire_condition(ctx)?;
    let n = args::int(ctx.arg(2))?;
    let now = ctx.now_ms();
    let invalid = || Error::InvalidExpireTime(cmd);
    let ms = n.checked_mul(unit_ms).ok_or_else(invalid)?;
    let at = if absolute { ms } else { ms.checked_add(now as i64).ok_or_else(invalid)? };
    let key = ctx.arg(1);
    let db = ctx.keys.db(key);
    let Some(entry) = db.get(key, now) else {
        ctx.out.int(0);
        return Ok(());
    };
    let current = entry.expires_at_ms();
    let allowed = match condition {
        ExpireCondition::Always => true,
        ExpireCondition::Nx => current.is_none(),
        ExpireCondition::Xx => current.is_some(),
        // A key without a TTL counts as an infinite TTL.
        ExpireCondition::Gt => current.is_some_and(|c| at > c as i64),
        ExpireCondition::Lt => current.is_none_or(|c| at < c as i64),
    };
    if !allowed {
        ctx.out.int(0);
        return Ok(());
    }
    let event = if at <= now as i64 {
        db.remove(key, now);
        ctx.propagate_as(&[b"DEL", key]);
        "del"
    } else {
        db.set_expiry(key, Some(at as u64), now);
        ctx.propagate_as(&[b"PEXPIREAT", key, format_i64(at, &mut [0; 20])]);
        "expire"
    };
    ctx.out.int(1);
    ctx.notify(notify::GENERIC, event, key);
    Ok(())
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 1000, false, "expire")
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 1, false, "pexpire")
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 1000, true, "expireat")
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 1, true, "pexpireat")
}

/// Replies -2 for a missing key, -1 for one without TTL, else `f(expiry)`.
fn reply_expiry(ctx: &mut Ctx, f: impl Fn(u64, u64) -> i64) -> CmdResult {
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let reply = match ctx.keys.db(key).read_no_touch(key, now) {
        None => -2,
        Some(entry) => entry.expires_at_ms().map_or(-1, |at| f(at, now)),
    };
    ctx.out.int(reply);
    Ok(())
}

/// TTL key
fn ttl(ctx: &mut Ctx) -> CmdResult {
    reply_expiry(ctx, |at, now| ((at.saturating_sub(now) + 500) / 1000) as i64)
}

/// PTTL key
fn pttl(ctx: &mut Ctx) -> CmdResult {
    reply_expiry(ctx, |at, now| at.saturating_sub(now) as i64)
}

/// EXPIRETIME key
fn expiretime(ctx: &mut Ctx) -> CmdResult {
    reply_expiry(ctx, |at, _| (at / 1000) as i64)
}

/// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    reply_expiry(ctx, |at, _| at as i64)
}

/// PERSIST key
fn persist(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let db = ctx.keys.db(key);
    let had_ttl = db.get(key, now).is_some_and(|e| e.expires_at_ms().is_some());
    if had_ttl {
        db.set_expiry(key, None, now);
        ctx.notify(notify::GENERIC, "persist", key);
    }
    ctx.out.int(had_ttl as i64);
    Ok(())
}

/// KEYS pattern
fn keys(ctx: &mut Ctx) -> CmdResult {
    let pattern = ctx.arg(1);
    let all = pattern == b"*";
    let now = ctx.now_ms();
    let mut found: Vec<Vec<u8>> = Vec::new();
    let db_index = ctx.client.db;
    for s in 0..ctx.server.store.shard_count() {
        ctx.keys.with_shard(s, |shard| {
            found.extend(
                shard.dbs[db_index]
                    .iter()
                    .filter(|(k, e)| !e.is_expired(now) && (all || glob::matches(pattern, k, false)))
                    .map(|(k, _)| k.to_vec()),
            )
        });
    }
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor packs the shard being walked and that shard's table cursor:
/// `table_cursor * shards + shard`.
fn scan(ctx: &mut Ctx) -> CmdResult {
    let cursor = args::parse_cursor(ctx.arg(1))?;
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut type_filter: Option<&[u8]> = None;
    let mut cur = Cursor::new(ctx.args, 2);
    while let Some(word) = cur.next_arg() {
        if is(word, "match") {
            pattern = Some(cur.value()?);
        } else if is(word, "count") {
            let n = args::int(cur.value()?)?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            count = n as usize;
        } else if is(word, "type") {
            type_filter = Some(cur.value()?);
        } else {
            return Err(Error::Syntax);
        }
    }
    let now = ctx.now_ms();
    let store = &ctx.server.store;
    let shards = store.shard_count() as u64;
    let (mut shard, mut table_cursor) = (cursor % shards, cursor / shards);
    let mut keys: Vec<Vec<u8>> = Vec::new();
    // Like Redis, stop after visiting about ten buckets per key asked for.
    let mut visits = count.saturating_mul(10);
    let db_index = ctx.client.db;
    while keys.len() < count && visits > 0 && shard < shards {
        ctx.keys.with_shard(shard as usize, |guard| {
            let db = &mut guard.dbs[db_index];
            let mut expired: Vec<Vec<u8>> = Vec::new();
            while keys.len() < count && visits > 0 {
                table_cursor = db.scan(table_cursor, |k, e| {
                    if !pattern.is_none_or(|p| glob::matches(p, k, false)) {
                        return;
                    }
                    if e.is_expired(now) {
                        expired.push(k.to_vec());
                    } else if type_filter.is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes())) {
                        keys.push(k.to_vec());
                    }
                });
                visits -= 1;
                if table_cursor == 0 {
                    break;
                }
            }
            // Like Redis, SCAN deletes the expired keys its pattern matches.
            for k in &expired {
                db.get(k, now);
            }
        });
        if table_cursor == 0 {
            shard += 1;
        }
    }
    let next = if shard >= shards { 0 } else { table_cursor * shards + shard };
    ctx.out.array(2);
    ctx.out.bulk_int(next as i64);
    ctx.out.array(keys.len());
    for k in &keys {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// RANDOMKEY
fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let store = &ctx.server.store;
    let now = ctx.now_ms();
    let db_index = ctx.client.db;
    // Try a bounded number of times: expired keys found are deleted.
    for _ in 0..100 {
        let sizes: Vec<usize> =
            (0..store.shard_count()).map(|s| ctx.keys.with_shard(s, |shard| shard.dbs[db_index].len())).collect();
        let total: usize = sizes.iter().sum();
        if total == 0 {
            break;
        }
        let mut pick = (crate::server::random_u64() % total as u64) as usize;
        let shard = sizes
            .iter()
            .position(|&n| {
                if pick < n {
                    true
                } else {
                    pick -= n;
                    false
                }
            })
            .unwrap_or(0);
        let found = ctx.keys.with_shard(shard, |guard| {
            let db = &mut guard.dbs[db_index];
            let (key, entry) = db.random_key(crate::server::random_u64)?;
            let (key, live) = (key.to_vec(), !entry.is_expired(now));
            if !live {
                db.get(&key, now);
            }
            Some((key, live))
        });
        if let Some((key, true)) = found {
            ctx.out.bulk(&key);
            return Ok(());
        }
    }
    ctx.out.null();
    Ok(())
}

/// The shared body of RENAME and RENAMENX; replies whether it renamed.
fn rename_generic(ctx: &mut Ctx, only_if_new: bool) -> Result<bool, Error> {
    let now = ctx.now_ms();
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    if !ctx.keys.db(src).exists(src, now) {
        return Err(Error::NoSuchKey);
    }
    if src == dst {
        return Ok(!only_if_new);
    }
    if only_if_new && ctx.keys.db(dst).exists(dst, now) {
        return Ok(false);
    }
    let entry = ctx.keys.db(src).remove(src, now).expect("exists");
    let expires = entry.expires_at_ms();
    ctx.keys.db(dst).set(dst, entry.value, expires, now);
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    Ok(true)
}

/// RENAME key newkey
fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)?;
    ctx.out.ok();
    Ok(())
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx) -> CmdResult {
    let renamed = rename_generic(ctx, true)?;
    ctx.out.int(renamed as i64);
    Ok(())
}

fn db_index(store: &Store, arg: &[u8]) -> Result<usize, Error> {
    let n = args::int(arg)?;
    if n < 0 || n as usize >= store.databases() {
        return Err(Error::DbIndexOutOfRange);
    }
    Ok(n as usize)
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx) -> CmdResult {
    let mut target_db = ctx.keys.selected();
    let mut replace = false;
    let mut cur = Cursor::new(ctx.args, 3);
    while let Some(word) = cur.next_arg() {
        if is(word, "replace") {
            replace = true;
        } else if is(word, "db") {
            target_db = db_index(&ctx.server.store, cur.value()?)?;
        } else {
            return Err(Error::Syntax);
        }
    }
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    if src == dst && target_db == ctx.keys.selected() {
        return Err(Error::SameObject);
    }
    let now = ctx.now_ms();
    let Some(entry) = ctx.keys.db(src).get(src, now).map(|e| e.duplicate()) else {
        ctx.out.int(0);
        return Ok(());
    };
    let target = ctx.keys.db_at(dst, target_db);
    if target.exists(dst, now) && !replace {
        ctx.out.int(0);
        return Ok(());
    }
    let expires = entry.expires_at_ms();
    target.set(dst, entry.value, expires, now);
    ctx.out.int(1);
    ctx.notify_in(target_db, notify::GENERIC, "copy_to", dst);
    Ok(())
}

/// MOVE key db
fn move_(ctx: &mut Ctx) -> CmdResult {
    let target_db = db_index(&ctx.server.store, ctx.arg(2))?;
    if target_db == ctx.keys.selected() {
        return Err(Error::SameObject);
    }
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    if !ctx.keys.db(key).exists(key, now) || ctx.keys.db_at(key, target_db).exists(key, now) {
        ctx.out.int(0);
        return Ok(());
    }
    let entry = ctx.keys.db(key).remove(key, now).expect("exists");
    let expires = entry.expires_at_ms();
    ctx.keys.db_at(key, target_db).set(key, entry.value, expires, now);
    ctx.out.int(1);
    ctx.notify(notify::GENERIC, "move_from", key);
    ctx.notify_in(target_db, notify::GENERIC, "move_to", key);
    Ok(())
}

/// The entry OBJECT asks about, or a null reply when it is missing.
fn object_entry<'c>(ctx: &'c mut Ctx) -> Option<&'c mut Entry> {
    let now = ctx.now_ms();
    let key = ctx.arg(2);
    ctx.keys.db(key).get_no_touch(key, now)
}

/// OBJECT ENCODING key
fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    match object_entry(ctx).map(|e| e.value.encoding()) {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT FREQ key: only under an LFU policy, which needs maxmemory.
fn object_freq(ctx: &mut Ctx) -> CmdResult {
    if !ctx.server.config.read().get("maxmemory-policy").contains("lfu") {
        return Err(Error::LfuNotSelected);
    }
    let now = ctx.now_ms();
    let key = ctx.arg(2);
    let access = ctx.keys.db(key).access;
    match object_entry(ctx).map(|e| access.frequency(e.access, now)) {
        Some(frequency) => ctx.out.int(frequency as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT IDLETIME key
fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    if ctx.server.config.read().get("maxmemory-policy").contains("lfu") {
        return Err(Error::LfuSelected);
    }
    let now = ctx.now_ms();
    match object_entry(ctx).map(|e| e.idle_secs(now)) {
        Some(idle) => ctx.out.int(idle as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT REFCOUNT key
fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    match object_entry(ctx).map(|e| match &e.value {
        Value::Str(s) => s.refcount(),
        _ => 1,
    }) {
        Some(n) => ctx.out.int(n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT HELP
fn object_help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    help(ctx, LINES);
    Ok(())
}

/// Writes a HELP reply: one status line per line of text.
pub fn help(ctx: &mut Ctx, lines: &[&str]) {
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l);
    }
}

/// DBSIZE
fn dbsize(ctx: &mut Ctx) -> CmdResult {
    let db_index = ctx.client.db;
    let total: usize =
        (0..ctx.server.store.shard_count()).map(|s| ctx.keys.with_shard(s, |shard| shard.dbs[db_index].len())).sum();
    ctx.out.int(total as i64);
    Ok(())
}

/// SYNC or ASYNC after FLUSHDB / FLUSHALL.
fn flush_mode(ctx: &Ctx) -> Result<bool, Error> {
    match ctx.argc() {
        1 => Ok(false),
        2 if is(ctx.arg(1), "async") => Ok(true),
        2 if is(ctx.arg(1), "sync") => Ok(false),
        _ => Err(Error::Syntax),
    }
}

/// Frees the old tables on the freeing thread (ASYNC) or here; returns
/// the keys they held.
fn dispose(tables: Vec<crate::store::dict::Dict<Entry>>, lazy: bool) -> u64 {
    let keys = tables.iter().map(|t| t.len() as u64).sum();
    if lazy && keys > 64 {
        crate::lazyfree::free_later(tables, keys);
    }
    keys
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    let db_index = ctx.client.db;
    let old: Vec<_> = (0..ctx.server.store.shard_count())
        .map(|s| ctx.keys.with_shard(s, |shard| shard.dbs[db_index].clear()))
        .collect();
    ctx.keys.dirty += dispose(old, lazy);
    ctx.propagate_verbatim();
    ctx.out.ok();
    Ok(())
}

/// FLUSHALL [ASYNC | SYNC]
fn flushall(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    let old: Vec<_> =
        ctx.keys.lock_all().into_iter().flat_map(|shard| shard.dbs.iter_mut().map(|db| db.clear())).collect();
    ctx.keys.dirty += dispose(old, lazy);
    ctx.propagate_verbatim();
    // As Redis does: a running snapshot is now stale (an AOF rewrite is
    // not: the FLUSHALL follows it in the new incremental file), and with
    // save points set the empty dataset is saved at once (which covers
    // this change).
    if ctx.server.persist.running().is_some_and(crate::persist::Job::is_rdb) {
        crate::persist::kill_child(ctx.server);
    }
    if !ctx.server.config.read().get("save").is_empty() && super::persistence::save_locked(ctx).is_ok() {
        ctx.keys.dirty = 0;
    }
    ctx.out.ok();
    Ok(())
}

/// SELECT index
fn select(ctx: &mut Ctx) -> CmdResult {
    let index = db_index(&ctx.server.store, ctx.arg(1))?;
    ctx.client.select(index);
    ctx.out.ok();
    Ok(())
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let store = &ctx.server.store;
    let parse = |arg: &[u8], which| args::int(arg).map_err(|_| Error::InvalidDbIndexArg(which));
    let a = parse(ctx.arg(1), "first")?;
    let b = parse(ctx.arg(2), "second")?;
    let range = 0..store.databases() as i64;
    if !range.contains(&a) || !range.contains(&b) {
        return Err(Error::DbIndexOutOfRange);
    }
    let now = ctx.now_ms();
    for shard in ctx.keys.lock_all() {
        shard.swap_dbs(a as usize, b as usize, now);
    }
    ctx.keys.dirty += 1;
    // Clients blocked in either database may now find their keys.
    let deferred = blocking::serve_ready(ctx.keys, ctx.server);
    debug_assert!(deferred.is_empty(), "every shard is locked");
    ctx.out.ok();
    Ok(())
}
