//! Sorted set commands: the core (adding, scores, ranks, index ranges,
//! pops). Score and lex ranges, set algebra and the blocking pops come
//! later.

use super::args::{self, is};
use super::flags::*;
use super::{lookup, lookup_or_create, CmdResult, CommandSpec, Ctx, Error};
use crate::cmd;
use crate::store::zset::{format_score, ZSet, ZSetLimits};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("zadd", -4, WRITE | DENYOOM | FAST, ONE, zadd, "sorted-set", "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", "key [NX|XX] [GT|LT] [CH] [INCR] (score member)..."),
    cmd!("zincrby", 4, WRITE | DENYOOM | FAST, ONE, zincrby, "sorted-set", "1.2.0", "Increment the score of a member in a sorted set", "key increment member"),
    cmd!("zrem", -3, WRITE | FAST, ONE, zrem, "sorted-set", "1.2.0", "Remove one or more members from a sorted set", "key member..."),
    cmd!("zcard", 2, READONLY | FAST, ONE, zcard, "sorted-set", "1.2.0", "Get the number of members in a sorted set", "key"),
    cmd!("zscore", 3, READONLY | FAST, ONE, zscore, "sorted-set", "1.2.0", "Get the score associated with the given member in a sorted set", "key member"),
    cmd!("zmscore", -3, READONLY | FAST, ONE, zmscore, "sorted-set", "6.2.0", "Get the score associated with the given members in a sorted set", "key member..."),
    cmd!("zrank", 3, READONLY | FAST, ONE, zrank, "sorted-set", "2.0.0", "Determine the index of a member in a sorted set", "key member"),
    cmd!("zrevrank", 3, READONLY | FAST, ONE, zrevrank, "sorted-set", "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", "key member"),
    cmd!("zpopmin", -2, WRITE | FAST, ONE, zpopmin, "sorted-set", "5.0.0", "Remove and return members with the lowest scores in a sorted set", "key [count]"),
    cmd!("zpopmax", -2, WRITE | FAST, ONE, zpopmax, "sorted-set", "5.0.0", "Remove and return members with the highest scores in a sorted set", "key [count]"),
    cmd!("zrange", -4, READONLY, ONE, zrange, "sorted-set", "1.2.0", "Return a range of members in a sorted set", "key start stop [REV] [WITHSCORES]"),
    cmd!("zrevrange", -4, READONLY, ONE, zrevrange, "sorted-set", "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "key start stop [WITHSCORES]"),
];

fn limits(ctx: &Ctx) -> ZSetLimits {
    ctx.server.hot.zset_limits()
}

/// A score argument as Redis's strtod check reads it: no NaN.
fn score(arg: &[u8]) -> Result<f64, Error> {
    args::float(arg)
}

#[derive(Default)]
struct ZaddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let mut f = ZaddFlags::default();
    let mut at = 2;
    while at < args.len() {
        let opt = args.get(at);
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "ch") {
            f.ch = true;
        } else if is(opt, "incr") {
            f.incr = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            break;
        }
        at += 1;
    }
    let elements = args.len() - at;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    if f.nx && f.xx {
        return Err(Error::ZaddNxXx);
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        return Err(Error::ZaddGtLtNx);
    }
    if f.incr && elements > 2 {
        return Err(Error::ZaddIncrPair);
    }
    // Every score is read before anything is written.
    let pairs: Vec<(f64, &[u8])> = (0..elements / 2)
        .map(|i| Ok((score(args.get(at + 2 * i))?, args.get(at + 2 * i + 1))))
        .collect::<Result<_, Error>>()?;
    let (now, limits, key) = (ctx.now_ms(), limits(ctx), args.get(1));
    let db = ctx.keys.db(key);
    if lookup::<ZSet>(db, key, now, false)?.is_none() && f.xx {
        if f.incr {
            ctx.out.null();
        } else {
            ctx.out.int(0);
        }
        return Ok(());
    }
    let zset = lookup_or_create::<ZSet>(db, key, now)?;
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    for (score, member) in pairs {
        match zset.score(member) {
            Some(current) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { current + score } else { score };
                if new.is_nan() {
                    if zset.is_empty() {
                        db.remove(key, now);
                    }
                    return Err(Error::ZsetNan);
                }
                if (f.lt && new >= current) || (f.gt && new <= current) {
                    continue;
                }
                if new != current {
                    zset.insert(member, new, limits);
                    updated += 1;
                }
                last = new;
                processed += 1;
            }
            None => {
                if f.xx {
                    continue;
                }
                zset.insert(member, score, limits);
                added += 1;
                processed += 1;
                last = score;
            }
        }
    }
    let empty = zset.is_empty();
    if empty {
        db.remove(key, now);
    }
    if f.incr {
        if processed > 0 {
            ctx.out.bulk(format_score(last).as_bytes());
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

/// ZINCRBY key increment member
fn zincrby(ctx: &mut Ctx) -> CmdResult {
    let by = score(ctx.arg(2))?;
    let (now, limits, key, member) = (ctx.now_ms(), limits(ctx), ctx.arg(1), ctx.arg(3));
    let db = ctx.keys.db(key);
    let zset = lookup_or_create::<ZSet>(db, key, now)?;
    let new = zset.score(member).unwrap_or(0.0) + by;
    if new.is_nan() {
        if zset.is_empty() {
            db.remove(key, now);
        }
        return Err(Error::ZsetNan);
    }
    zset.insert(member, new, limits);
    ctx.out.bulk(format_score(new).as_bytes());
    Ok(())
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx) -> CmdResult {
    let (now, key, args) = (ctx.now_ms(), ctx.arg(1), ctx.args);
    let db = ctx.keys.db(key);
    let Some(zset) = lookup::<ZSet>(db, key, now, false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = args.tail(2).iter().filter(|m| zset.remove(m).is_some()).count();
    if zset.is_empty() {
        db.remove(key, now);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

/// ZCARD key
fn zcard(ctx: &mut Ctx) -> CmdResult {
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let len = lookup::<ZSet>(ctx.keys.db(key), key, now, true)?.map_or(0, |z| z.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// ZSCORE key member
fn zscore(ctx: &mut Ctx) -> CmdResult {
    let (now, key, member) = (ctx.now_ms(), ctx.arg(1), ctx.arg(2));
    match lookup::<ZSet>(ctx.keys.db(key), key, now, true)?.and_then(|z| z.score(member)) {
        Some(s) => ctx.out.bulk(format_score(s).as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let (now, key, args) = (ctx.now_ms(), ctx.arg(1), ctx.args);
    let zset = lookup::<ZSet>(ctx.keys.db(key), key, now, true)?;
    ctx.out.array(args.len() - 2);
    for m in args.tail(2).iter() {
        match zset.as_ref().and_then(|z| z.score(m)) {
            Some(s) => ctx.out.bulk(format_score(s).as_bytes()),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank(ctx: &mut Ctx, reverse: bool) -> CmdResult {
    let (now, key, member) = (ctx.now_ms(), ctx.arg(1), ctx.arg(2));
    let found = lookup::<ZSet>(ctx.keys.db(key), key, now, true)?
        .and_then(|z| z.rank(member).map(|r| if reverse { z.len() - 1 - r } else { r }));
    match found {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZRANK key member
fn zrank(ctx: &mut Ctx) -> CmdResult {
    rank(ctx, false)
}

/// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    rank(ctx, true)
}

fn pop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let count = match ctx.argc() {
        2 => 1,
        3 => {
            let n = args::int(ctx.arg(2)).ok().filter(|&n| n >= 0).ok_or(Error::MustBePositiveRange)?;
            n as usize
        }
        _ => return Err(Error::Syntax),
    };
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let db = ctx.keys.db(key);
    let popped = match lookup::<ZSet>(db, key, now, false)? {
        Some(zset) => {
            let popped = zset.pop(count, max);
            if zset.is_empty() {
                db.remove(key, now);
            }
            popped
        }
        None => Vec::new(),
    };
    ctx.out.array(popped.len() * 2);
    for (m, s) in &popped {
        ctx.out.bulk(m);
        ctx.out.bulk(format_score(*s).as_bytes());
    }
    Ok(())
}

/// ZPOPMIN key [count]
fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, false)
}

/// ZPOPMAX key [count]
fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, true)
}

/// Replies with members `start..=stop` by rank (from the high end when
/// `reverse`), with their scores when asked.
fn range_by_rank(ctx: &mut Ctx, start: i64, stop: i64, reverse: bool, with_scores: bool) -> CmdResult {
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let Some(zset) = lookup::<ZSet>(ctx.keys.db(key), key, now, true)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let len = zset.len() as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
    if start > stop || start >= len {
        ctx.out.array(0);
        return Ok(());
    }
    let (skip, take) = (start as usize, (stop - start + 1) as usize);
    ctx.out.array(take * if with_scores { 2 } else { 1 });
    let items: Box<dyn Iterator<Item = (&[u8], f64)>> =
        if reverse { Box::new(zset.iter().rev()) } else { Box::new(zset.iter()) };
    for (m, s) in items.skip(skip).take(take) {
        ctx.out.bulk(m);
        if with_scores {
            ctx.out.bulk(format_score(s).as_bytes());
        }
    }
    Ok(())
}

/// ZRANGE key start stop [REV] [WITHSCORES]
///
/// BYSCORE, BYLEX and LIMIT are not supported yet.
fn zrange(ctx: &mut Ctx) -> CmdResult {
    let (mut reverse, mut with_scores) = (false, false);
    for opt in ctx.args.tail(4).iter() {
        if is(opt, "rev") {
            reverse = true;
        } else if is(opt, "withscores") {
            with_scores = true;
        } else {
            return Err(Error::Syntax);
        }
    }
    let (start, stop) = (args::int(ctx.arg(2))?, args::int(ctx.arg(3))?);
    range_by_rank(ctx, start, stop, reverse, with_scores)
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    let with_scores = match ctx.argc() {
        4 => false,
        5 if is(ctx.arg(4), "withscores") => true,
        _ => return Err(Error::Syntax),
    };
    let (start, stop) = (args::int(ctx.arg(2))?, args::int(ctx.arg(3))?);
    range_by_rank(ctx, start, stop, true, with_scores)
}
