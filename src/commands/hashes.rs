//! Hash commands.

use super::args::{self, parse_cursor, scan_options};
use super::flags::*;
use super::long_double::LongDouble;
use super::{lookup, lookup_or_create, CmdResult, CommandSpec, Ctx, Error};
use crate::cmd;
use crate::glob;
use crate::notify;
use crate::store::{Hash, HashLimits};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("hset", -4, WRITE | DENYOOM | FAST, ONE, hset, "hash", "2.0.0", "Set the string value of a hash field", "key (field value)..."),
    cmd!("hsetnx", 4, WRITE | DENYOOM | FAST, ONE, hsetnx, "hash", "2.0.0", "Set the value of a hash field, only if the field does not exist", "key field value"),
    cmd!("hmset", -4, WRITE | DENYOOM | FAST, ONE, hmset, "hash", "2.0.0", "Set multiple hash fields to multiple values", "key (field value)..."),
    cmd!("hget", 3, READONLY | FAST, ONE, hget, "hash", "2.0.0", "Get the value of a hash field", "key field"),
    cmd!("hmget", -3, READONLY | FAST, ONE, hmget, "hash", "2.0.0", "Get the values of all the given hash fields", "key field..."),
    cmd!("hdel", -3, WRITE | FAST, ONE, hdel, "hash", "2.0.0", "Delete one or more hash fields", "key field..."),
    cmd!("hlen", 2, READONLY | FAST, ONE, hlen, "hash", "2.0.0", "Get the number of fields in a hash", "key"),
    cmd!("hstrlen", 3, READONLY | FAST, ONE, hstrlen, "hash", "3.2.0", "Get the length of the value of a hash field", "key field"),
    cmd!("hexists", 3, READONLY | FAST, ONE, hexists, "hash", "2.0.0", "Determine if a hash field exists", "key field"),
    cmd!("hgetall", 2, READONLY, ONE, hgetall, "hash", "2.0.0", "Get all the fields and values in a hash", "key"),
    cmd!("hkeys", 2, READONLY, ONE, hkeys, "hash", "2.0.0", "Get all the fields in a hash", "key"),
    cmd!("hvals", 2, READONLY, ONE, hvals, "hash", "2.0.0", "Get all the values in a hash", "key"),
    cmd!("hincrby", 4, WRITE | DENYOOM | FAST, ONE, hincrby, "hash", "2.0.0", "Increment the integer value of a hash field by the given number", "key field increment"),
    cmd!("hincrbyfloat", 4, WRITE | DENYOOM | FAST, ONE, hincrbyfloat, "hash", "2.6.0", "Increment the float value of a hash field by the given amount", "key field increment"),
    cmd!("hrandfield", -2, READONLY, ONE, hrandfield, "hash", "6.2.0", "Get one or multiple random fields from a hash", "key [count [WITHVALUES]]"),
    cmd!("hscan", -3, READONLY, ONE, hscan, "hash", "2.8.0", "Incrementally iterate hash fields and associated values", "key cursor [MATCH pattern] [COUNT count]"),
];

fn limits(ctx: &Ctx) -> HashLimits {
    ctx.server.hot.hash_limits()
}

/// Sets the field/value pairs from argument 2 on; returns how many were new.
fn set_pairs(ctx: &mut Ctx) -> Result<i64, Error> {
    if !ctx.argc().is_multiple_of(2) {
        return Err(Error::WrongArity(ctx.spec.name.to_string()));
    }
    let (now, limits, key, args) = (ctx.now_ms(), limits(ctx), ctx.arg(1), ctx.args);
    let hash = lookup_or_create::<Hash>(ctx.keys.db(key), key, now)?;
    let mut added = 0;
    for pair in 0..(args.len() - 2) / 2 {
        added += hash.set(args.get(2 + pair * 2), args.get(3 + pair * 2), limits) as i64;
    }
    ctx.keys.db(key).touch(key);
    ctx.notify(notify::HASH, "hset", key);
    ctx.count_changes((args.len() - 2) / 2 - 1);
    Ok(added)
}

/// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx) -> CmdResult {
    let added = set_pairs(ctx)?;
    ctx.out.int(added);
    Ok(())
}

/// HMSET key field value [field value ...]
fn hmset(ctx: &mut Ctx) -> CmdResult {
    set_pairs(ctx)?;
    ctx.out.ok();
    Ok(())
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let (now, limits, key, field, value) = (ctx.now_ms(), limits(ctx), ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let hash = lookup_or_create::<Hash>(ctx.keys.db(key), key, now)?;
    let added = hash.get(field).is_none() && hash.set(field, value, limits);
    if added {
        ctx.keys.db(key).touch(key);
        ctx.notify(notify::HASH, "hset", key);
    }
    ctx.out.int(added as i64);
    Ok(())
}

/// HGET key field
fn hget(ctx: &mut Ctx) -> CmdResult {
    let (now, key, field) = (ctx.now_ms(), ctx.arg(1), ctx.arg(2));
    let value = lookup::<Hash>(ctx.keys.db(key), key, now, true)?.and_then(|h| h.get(field));
    ctx.out.bulk_opt(value);
    Ok(())
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx) -> CmdResult {
    let (now, key, args) = (ctx.now_ms(), ctx.arg(1), ctx.args);
    let hash = lookup::<Hash>(ctx.keys.db(key), key, now, true)?;
    ctx.out.array(args.len() - 2);
    for field in args.tail(2).iter() {
        ctx.out.bulk_opt(hash.as_ref().and_then(|h| h.get(field)));
    }
    Ok(())
}

/// HDEL key field [field ...]: deleting the last field deletes the key.
fn hdel(ctx: &mut Ctx) -> CmdResult {
    let (now, key, args) = (ctx.now_ms(), ctx.arg(1), ctx.args);
    let db = ctx.keys.db(key);
    let Some(hash) = lookup::<Hash>(db, key, now, false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = args.tail(2).iter().filter(|f| hash.remove(f)).count();
    let emptied = hash.is_empty();
    ctx.removed_from(key, notify::HASH, "hdel", removed, emptied);
    ctx.out.int(removed as i64);
    Ok(())
}

/// HLEN key
fn hlen(ctx: &mut Ctx) -> CmdResult {
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let len = lookup::<Hash>(ctx.keys.db(key), key, now, true)?.map_or(0, |h| h.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let (now, key, field) = (ctx.now_ms(), ctx.arg(1), ctx.arg(2));
    let len = lookup::<Hash>(ctx.keys.db(key), key, now, true)?.and_then(|h| h.get(field)).map_or(0, <[u8]>::len);
    ctx.out.int(len as i64);
    Ok(())
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx) -> CmdResult {
    let (now, key, field) = (ctx.now_ms(), ctx.arg(1), ctx.arg(2));
    let found = lookup::<Hash>(ctx.keys.db(key), key, now, true)?.is_some_and(|h| h.get(field).is_some());
    ctx.out.int(found as i64);
    Ok(())
}

/// Which parts of each pair HGETALL, HKEYS and HVALS reply with.
#[derive(Clone, Copy, PartialEq)]
enum Parts {
    Both,
    Fields,
    Values,
}

fn reply_all(ctx: &mut Ctx, parts: Parts) -> CmdResult {
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let Some(hash) = lookup::<Hash>(ctx.keys.db(key), key, now, true)? else {
        ctx.out.array(0);
        return Ok(());
    };
    ctx.out.array(hash.len() * if parts == Parts::Both { 2 } else { 1 });
    for (f, v) in hash.iter() {
        if parts != Parts::Values {
            ctx.out.bulk(f);
        }
        if parts != Parts::Fields {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

/// HGETALL key
fn hgetall(ctx: &mut Ctx) -> CmdResult {
    reply_all(ctx, Parts::Both)
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx) -> CmdResult {
    reply_all(ctx, Parts::Fields)
}

/// HVALS key
fn hvals(ctx: &mut Ctx) -> CmdResult {
    reply_all(ctx, Parts::Values)
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let by = args::int(ctx.arg(3))?;
    let (now, limits, key, field) = (ctx.now_ms(), limits(ctx), ctx.arg(1), ctx.arg(2));
    let hash = lookup_or_create::<Hash>(ctx.keys.db(key), key, now)?;
    let current = match hash.get(field) {
        Some(v) => crate::resp::request::parse_i64(v).ok_or(Error::HashValueNotInteger)?,
        None => 0,
    };
    let next = current.checked_add(by).ok_or(Error::Overflow)?;
    let mut buf = [0; 20];
    hash.set(field, crate::resp::reply::format_i64(next, &mut buf), limits);
    ctx.keys.db(key).touch(key);
    ctx.notify(notify::HASH, "hincrby", key);
    ctx.out.int(next);
    Ok(())
}

/// HINCRBYFLOAT key field increment, in Redis's long double arithmetic.
fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let by = LongDouble::parse(ctx.arg(3)).ok_or(Error::NotFloat)?;
    if !by.is_finite() {
        return Err(Error::NanOrInfinity);
    }
    let (now, limits, key, field) = (ctx.now_ms(), limits(ctx), ctx.arg(1), ctx.arg(2));
    let hash = lookup_or_create::<Hash>(ctx.keys.db(key), key, now)?;
    let current = match hash.get(field) {
        Some(v) => LongDouble::parse(v).ok_or(Error::HashValueNotFloat)?,
        None => LongDouble::Finite { neg: false, mant: 0, exp: 0 },
    };
    let next = current + by;
    if !next.is_finite() {
        return Err(Error::IncrNanOrInfinity);
    }
    let text = next.format();
    hash.set(field, text.as_bytes(), limits);
    ctx.keys.db(key).touch(key);
    ctx.propagate_as(&[b"HSET", key, field, text.as_bytes()]);
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (count, with_values) = args::random_pairs_options(args, "withvalues")?;
    let (now, key) = (ctx.now_ms(), args.get(1));
    let Some(hash) = lookup::<Hash>(ctx.keys.db(key), key, now, true)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        }
        return Ok(());
    };
    let len = hash.len();
    let rand = crate::server::random_u64;
    let picks: Vec<(&[u8], &[u8])> = match count {
        None => vec![hash.random(rand).expect("not empty")],
        // A negative count may repeat fields: each pick is independent.
        Some(n) if n < 0 => (0..n.unsigned_abs()).map(|_| hash.random(rand).expect("not empty")).collect(),
        // Most of the hash: take it all and keep a random part.
        Some(n) if n as usize * 3 >= len => {
            let all: Vec<(&[u8], &[u8])> = hash.iter().collect();
            distinct_picks(len, n as usize).into_iter().map(|i| all[i]).collect()
        }
        // A small part: random picks, skipping repeats.
        Some(n) => {
            let mut seen = std::collections::HashSet::new();
            let mut picks = Vec::with_capacity(n as usize);
            while picks.len() < n as usize {
                let pair = hash.random(rand).expect("not empty");
                if seen.insert(pair.0) {
                    picks.push(pair);
                }
            }
            picks
        }
    };
    if count.is_none() {
        ctx.out.bulk(picks[0].0);
        return Ok(());
    }
    ctx.out.array(picks.len() * if with_values { 2 } else { 1 });
    for (f, v) in picks {
        ctx.out.bulk(f);
        if with_values {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

/// `n` distinct positions out of `len` (all of them, in order, when
/// `n >= len`), chosen by a partial shuffle.
pub fn distinct_picks(len: usize, n: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    if n >= len {
        return all;
    }
    for i in 0..n {
        let j = i + crate::server::random_u64() as usize % (len - i);
        all.swap(i, j);
    }
    all.truncate(n);
    all
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx) -> CmdResult {
    let mut cursor = parse_cursor(ctx.arg(2))?;
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    // Redis answers a missing key, or refuses another type, before it
    // reads the options.
    if lookup::<Hash>(ctx.keys.db(key), key, now, true)?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    let (pattern, count) = scan_options(ctx, 3)?;
    let hash = lookup::<Hash>(ctx.keys.db(key), key, now, false)?.expect("looked up above");
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut visits = count.saturating_mul(10);
    loop {
        cursor = hash.scan(cursor, |f, v| {
            if pattern.is_none_or(|p| glob::matches(p, f, false)) {
                found.push((f.to_vec(), v.to_vec()));
            }
        });
        visits -= 1;
        if cursor == 0 || found.len() >= count || visits == 0 {
            break;
        }
    }
    ctx.out.array(2);
    ctx.out.bulk_int(cursor as i64);
    ctx.out.array(found.len() * 2);
    for (f, v) in &found {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}
