//! Sorted set commands: adding and scoring, ranks, ranges by rank, score
//! and lex (with their stored forms), removal by range, pops, random
//! members and ZSCAN; the set algebra is in `zset_algebra.rs`, and how a
//! range request reads and which ranks it selects in `zset_ranges.rs`.

use super::args::{self, is, parse_cursor, scan_options};
use super::blocking::{self, Wait};
use super::flags::*;
use super::hashes::distinct_picks;
use super::zset_ranges::{interval, range_request, request_bounds, select, By};
use super::{lookup, lookup_or_create, CmdResult, CommandSpec, Ctx, Error, KeySpec};
use crate::cmd;
use crate::glob;
use crate::notify;
use crate::store::blocking::BlockOp;
use crate::store::zset::{format_score, ZSet, ZSetLimits};
use crate::store::Value;

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
    cmd!("zcount", 4, READONLY | FAST, ONE, zcount, "sorted-set", "2.0.0", "Count the members in a sorted set with scores within the given values", "key min max"),
    cmd!("zlexcount", 4, READONLY | FAST, ONE, zlexcount, "sorted-set", "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", "key min max"),
    cmd!("zpopmin", -2, WRITE | FAST, ONE, zpopmin, "sorted-set", "5.0.0", "Remove and return members with the lowest scores in a sorted set", "key [count]"),
    cmd!("zpopmax", -2, WRITE | FAST, ONE, zpopmax, "sorted-set", "5.0.0", "Remove and return members with the highest scores in a sorted set", "key [count]"),
    CommandSpec { keys: KeySpec::counted_at(1), ..cmd!("zmpop", -4, WRITE, NONE, zmpop, "sorted-set", "7.0.0", "Remove and return members with scores in a sorted set", "numkeys key... MIN|MAX [COUNT count]") },
    cmd!("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, ALL_BUT_LAST, bzpopmin, "sorted-set", "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "key... timeout"),
    cmd!("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, ALL_BUT_LAST, bzpopmax, "sorted-set", "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "key... timeout"),
    CommandSpec { keys: KeySpec::counted_at(2), ..cmd!("bzmpop", -5, WRITE | BLOCKING, NONE, bzmpop, "sorted-set", "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", "timeout numkeys key... MIN|MAX [COUNT count]") },
    cmd!("zrange", -4, READONLY, ONE, zrange, "sorted-set", "1.2.0", "Return a range of members in a sorted set", "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    cmd!("zrangestore", -5, WRITE | DENYOOM, TWO, zrangestore, "sorted-set", "6.2.0", "Store a range of members from sorted set into another key", "dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]"),
    cmd!("zrevrange", -4, READONLY, ONE, zrevrange, "sorted-set", "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "key start stop [WITHSCORES]"),
    cmd!("zrangebyscore", -4, READONLY, ONE, zrangebyscore, "sorted-set", "1.0.5", "Return a range of members in a sorted set, by score", "key min max [WITHSCORES] [LIMIT offset count]"),
    cmd!("zrevrangebyscore", -4, READONLY, ONE, zrevrangebyscore, "sorted-set", "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", "key max min [WITHSCORES] [LIMIT offset count]"),
    cmd!("zrangebylex", -4, READONLY, ONE, zrangebylex, "sorted-set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range", "key min max [LIMIT offset count]"),
    cmd!("zrevrangebylex", -4, READONLY, ONE, zrevrangebylex, "sorted-set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "key max min [LIMIT offset count]"),
    cmd!("zremrangebyrank", 4, WRITE, ONE, zremrangebyrank, "sorted-set", "2.0.0", "Remove all members in a sorted set within the given indexes", "key start stop"),
    cmd!("zremrangebyscore", 4, WRITE, ONE, zremrangebyscore, "sorted-set", "1.2.0", "Remove all members in a sorted set within the given scores", "key min max"),
    cmd!("zremrangebylex", 4, WRITE, ONE, zremrangebylex, "sorted-set", "2.8.9", "Remove all members in a sorted set between the given lexicographical range", "key min max"),
    cmd!("zrandmember", -2, READONLY, ONE, zrandmember, "sorted-set", "6.2.0", "Get one or multiple random elements from a sorted set", "key [count [WITHSCORES]]"),
    cmd!("zscan", -3, READONLY, ONE, zscan, "sorted-set", "2.8.0", "Incrementally iterate sorted sets elements and associated scores", "key cursor [MATCH pattern] [COUNT count]"),
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
    let emptied = zset.is_empty();
    if emptied {
        db.remove(key, now);
    } else if added + updated > 0 {
        db.touch(key);
    }
    if added + updated > 0 {
        ctx.notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
        ctx.count_changes((added + updated - 1) as usize);
    }
    if emptied {
        ctx.notify_uncounted(notify::GENERIC, "del", key);
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
    let changed = zset.score(member) != Some(new);
    zset.insert(member, new, limits);
    if changed {
        db.touch(key);
    }
    ctx.out.bulk(format_score(new).as_bytes());
    if changed {
        ctx.notify(notify::ZSET, "zincr", key);
    }
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
    let emptied = zset.is_empty();
    ctx.removed_from(key, notify::ZSET, "zrem", removed, emptied);
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
    let (popped, emptied) = match lookup::<ZSet>(db, key, now, false)? {
        Some(zset) => {
            let popped = zset.pop(count, max);
            (popped, zset.is_empty())
        }
        None => (Vec::new(), false),
    };
    ctx.removed_from(key, notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, popped.len(), emptied);
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

/// ZCOUNT key min max / ZLEXCOUNT key min max
fn count_in(ctx: &mut Ctx, lex: bool) -> CmdResult {
    let range = interval(ctx.arg(2), ctx.arg(3), lex)?;
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let count = lookup::<ZSet>(ctx.keys.db(key), key, now, true)?.map_or(0, |z| {
        let (start, end) = range.ranks(z, false);
        end - start
    });
    ctx.out.int(count as i64);
    Ok(())
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx) -> CmdResult {
    count_in(ctx, false)
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    count_in(ctx, true)
}

/// ZRANGE and its older forms: reply with the selected members.
fn range_reply(ctx: &mut Ctx, by: Option<By>, reverse: Option<bool>) -> CmdResult {
    let req = range_request(ctx, 2, by, reverse, false)?;
    let bounds = request_bounds(&req)?;
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let Some(zset) = lookup::<ZSet>(ctx.keys.db(key), key, now, true)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let (first, take) = select(zset, &req, bounds);
    ctx.out.array(take * if req.with_scores { 2 } else { 1 });
    for (m, s) in zset.range(first, req.reverse).take(take) {
        ctx.out.bulk(m);
        if req.with_scores {
            ctx.out.bulk(format_score(s).as_bytes());
        }
    }
    Ok(())
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, None, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, Some(By::Rank), Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, Some(By::Score), Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, Some(By::Score), Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, Some(By::Lex), Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    range_reply(ctx, Some(By::Lex), Some(true))
}

/// Stores `members` at `dest` as a new sorted set (deleting `dest` when
/// there are none) and replies with their number.
pub(super) fn store_result(ctx: &mut Ctx, dest: &[u8], members: Vec<(Vec<u8>, f64)>) {
    let (now, limits) = (ctx.now_ms(), limits(ctx));
    let db = ctx.keys.db(dest);
    let count = members.len();
    let event = if members.is_empty() {
        db.remove(dest, now).map(|_| "del")
    } else {
        // Built under the limits, the result gets the encoding its size
        // calls for, as Redis converts a stored result.
        let mut zset = ZSet::default();
        for (m, s) in &members {
            zset.insert(m, *s, limits);
        }
        db.set(dest, Value::ZSet(zset), None, now);
        Some(ctx.spec.name)
    };
    ctx.out.int(count as i64);
    match event {
        Some("del") => ctx.notify(notify::GENERIC, "del", dest),
        Some(event) => ctx.notify(notify::ZSET, event, dest),
        None => {}
    }
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    let req = range_request(ctx, 3, None, None, true)?;
    let bounds = request_bounds(&req)?;
    let (now, src, dest) = (ctx.now_ms(), ctx.arg(2), ctx.arg(1));
    let members: Vec<(Vec<u8>, f64)> = match lookup::<ZSet>(ctx.keys.db(src), src, now, true)? {
        Some(zset) => {
            let (first, take) = select(zset, &req, bounds);
            zset.range(first, req.reverse).take(take).map(|(m, s)| (m.to_vec(), s)).collect()
        }
        None => Vec::new(),
    };
    store_result(ctx, dest, members);
    Ok(())
}

/// Removes the ranks `start..end` of the set at argument 1; replies with
/// how many went.
fn remove_span(ctx: &mut Ctx, span: impl Fn(&ZSet) -> (usize, usize)) -> CmdResult {
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let db = ctx.keys.db(key);
    let Some(zset) = lookup::<ZSet>(db, key, now, false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (start, end) = span(zset);
    let removed = zset.remove_ranks(start, end);
    let emptied = zset.is_empty();
    ctx.removed_from(key, notify::ZSET, ctx.spec.name, removed, emptied);
    ctx.out.int(removed as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    let (start, stop) = (args::int(ctx.arg(2))?, args::int(ctx.arg(3))?);
    remove_span(ctx, |z| {
        let len = z.len() as i64;
        let start = if start < 0 { (len + start).max(0) } else { start };
        let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
        if start > stop || start >= len {
            (0, 0)
        } else {
            (start as usize, stop as usize + 1)
        }
    })
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    let range = interval(ctx.arg(2), ctx.arg(3), false)?;
    remove_span(ctx, |z| range.ranks(z, false))
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    let range = interval(ctx.arg(2), ctx.arg(3), true)?;
    remove_span(ctx, |z| range.ranks(z, false))
}

/// MIN or MAX, as ZMPOP and BZMPOP take it.
fn min_or_max(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "min") {
        Ok(false)
    } else if is(arg, "max") {
        Ok(true)
    } else {
        Err(Error::Syntax)
    }
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
fn zmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, max, count) = args::mpop(ctx.args, 1, min_or_max)?;
    blocking::pop_or_block(ctx, keys, BlockOp::ZPop { max, count: Some(count) }, Wait::Never)
}

/// BZPOPMIN and BZPOPMAX: key [key ...] timeout
fn block_pop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let wait = blocking::deadline(ctx.arg(ctx.argc() - 1), ctx.now_ms())?;
    let keys = ctx.args.tail(1).head(ctx.argc() - 2);
    blocking::pop_or_block(ctx, keys, BlockOp::ZPop { max, count: None }, wait)
}

/// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    block_pop(ctx, false)
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    block_pop(ctx, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, max, count) = args::mpop(ctx.args, 2, min_or_max)?;
    let wait = blocking::deadline(ctx.arg(1), ctx.now_ms())?;
    blocking::pop_or_block(ctx, keys, BlockOp::ZPop { max, count: Some(count) }, wait)
}

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (count, with_scores) = args::random_pairs_options(args, "withscores")?;
    let (now, key) = (ctx.now_ms(), args.get(1));
    let Some(zset) = lookup::<ZSet>(ctx.keys.db(key), key, now, true)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        }
        return Ok(());
    };
    let len = zset.len();
    let rand = || crate::server::random_u64() as usize % len;
    // A listpack is decoded once; a tree finds each rank in O(log n).
    let decoded: Vec<(&[u8], f64)> = if matches!(zset, ZSet::Pack(_)) { zset.iter().collect() } else { Vec::new() };
    let nth = |rank: usize| match decoded.get(rank) {
        Some(&item) => item,
        None => zset.range(rank, false).next().expect("rank is in range"),
    };
    let picks: Vec<(&[u8], f64)> = match count {
        None => vec![nth(rand())],
        // A negative count may repeat members: each pick is independent.
        Some(n) if n < 0 => (0..n.unsigned_abs()).map(|_| nth(rand())).collect(),
        // The whole set, highest first, as Redis gives it.
        Some(n) if n as usize >= len => zset.range(len - 1, true).collect(),
        // Most of the set: a partial shuffle of all ranks.
        Some(n) if n as usize * 3 >= len => distinct_picks(len, n as usize).into_iter().map(nth).collect(),
        // A small part: random ranks, skipping repeats.
        Some(n) => {
            let mut seen = std::collections::HashSet::new();
            let mut picks = Vec::with_capacity(n as usize);
            while picks.len() < n as usize {
                let rank = rand();
                if seen.insert(rank) {
                    picks.push(nth(rank));
                }
            }
            picks
        }
    };
    if count.is_none() {
        ctx.out.bulk(picks[0].0);
        return Ok(());
    }
    ctx.out.array(picks.len() * if with_scores { 2 } else { 1 });
    for (m, s) in picks {
        ctx.out.bulk(m);
        if with_scores {
            ctx.out.bulk(format_score(s).as_bytes());
        }
    }
    Ok(())
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan(ctx: &mut Ctx) -> CmdResult {
    let mut cursor = parse_cursor(ctx.arg(2))?;
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    if lookup::<ZSet>(ctx.keys.db(key), key, now, true)?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    let (pattern, count) = scan_options(ctx, 3)?;
    let zset = lookup::<ZSet>(ctx.keys.db(key), key, now, false)?.expect("looked up above");
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut visits = count.saturating_mul(10);
    loop {
        cursor = zset.scan(cursor, |m, s| {
            if pattern.is_none_or(|p| glob::matches(p, m, false)) {
                found.push((m.to_vec(), s));
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
    for (m, s) in &found {
        ctx.out.bulk(m);
        ctx.out.bulk(format_score(*s).as_bytes());
    }
    Ok(())
}
