//! Set commands.

use super::args::{self, is};
use super::args::{parse_cursor, scan_options};
use super::flags::*;
use super::hashes::distinct_picks;
use super::{lookup, lookup_or_create, CmdResult, CommandSpec, Ctx, Error, KeySpec};
use crate::cmd;
use crate::glob;
use crate::notify;
use crate::store::{Set, Value};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("sadd", -3, WRITE | DENYOOM | FAST, ONE, sadd, "set", "1.0.0", "Add one or more members to a set", "key member..."),
    cmd!("srem", -3, WRITE | FAST, ONE, srem, "set", "1.0.0", "Remove one or more members from a set", "key member..."),
    cmd!("smembers", 2, READONLY, ONE, smembers, "set", "1.0.0", "Get all the members in a set", "key"),
    cmd!("sismember", 3, READONLY | FAST, ONE, sismember, "set", "1.0.0", "Determine if a given value is a member of a set", "key member"),
    cmd!("smismember", -3, READONLY | FAST, ONE, smismember, "set", "6.2.0", "Returns the membership associated with the given elements for a set", "key member..."),
    cmd!("scard", 2, READONLY | FAST, ONE, scard, "set", "1.0.0", "Get the number of members in a set", "key"),
    cmd!("spop", -2, WRITE | FAST, ONE, spop, "set", "1.0.0", "Remove and return one or multiple random members from a set", "key [count]"),
    cmd!("srandmember", -2, READONLY, ONE, srandmember, "set", "1.0.0", "Get one or multiple random members from a set", "key [count]"),
    cmd!("sinter", -2, READONLY, ALL, sinter, "set", "1.0.0", "Intersect multiple sets", "key..."),
    CommandSpec { keys: KeySpec::counted_at(1), ..cmd!("sintercard", -3, READONLY, NONE, sintercard, "set", "7.0.0", "Intersect multiple sets and return the cardinality of the result", "numkeys key... [LIMIT limit]") },
    cmd!("sinterstore", -3, WRITE | DENYOOM, ALL, sinterstore, "set", "1.0.0", "Intersect multiple sets and store the resulting set in a key", "destination key..."),
    cmd!("sunion", -2, READONLY, ALL, sunion, "set", "1.0.0", "Add multiple sets", "key..."),
    cmd!("sunionstore", -3, WRITE | DENYOOM, ALL, sunionstore, "set", "1.0.0", "Add multiple sets and store the resulting set in a key", "destination key..."),
    cmd!("sdiff", -2, READONLY, ALL, sdiff, "set", "1.0.0", "Subtract multiple sets", "key..."),
    cmd!("sdiffstore", -3, WRITE | DENYOOM, ALL, sdiffstore, "set", "1.0.0", "Subtract multiple sets and store the resulting set in a key", "destination key..."),
    cmd!("smove", 4, WRITE | FAST, TWO, smove, "set", "1.0.0", "Move a member from one set to another", "source destination member"),
    cmd!("sscan", -3, READONLY, ONE, sscan, "set", "2.0.0", "Incrementally iterate Set elements", "key cursor [MATCH pattern] [COUNT count]"),
];

fn max_ints(ctx: &Ctx) -> usize {
    ctx.server.hot.set_max_intset_entries()
}

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx) -> CmdResult {
    let (now, max, key, args) = (ctx.now_ms(), max_ints(ctx), ctx.arg(1), ctx.args);
    let set = lookup_or_create::<Set>(ctx.keys.db(key), key, now)?;
    let added = args.tail(2).iter().filter(|m| set.insert(m, max)).count();
    if added > 0 {
        ctx.keys.db(key).touch(key);
        ctx.notify(notify::SET, "sadd", key);
        ctx.count_changes(added - 1);
    }
    ctx.out.int(added as i64);
    Ok(())
}

/// SREM key member [member ...]: removing the last member deletes the key.
fn srem(ctx: &mut Ctx) -> CmdResult {
    let (now, key, args) = (ctx.now_ms(), ctx.arg(1), ctx.args);
    let db = ctx.keys.db(key);
    let Some(set) = lookup::<Set>(db, key, now, false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = args.tail(2).iter().filter(|m| set.remove(m)).count();
    let emptied = set.is_empty();
    ctx.removed_from(key, notify::SET, "srem", removed, emptied);
    ctx.out.int(removed as i64);
    Ok(())
}

fn reply_members<'a>(ctx: &mut Ctx, members: impl ExactSizeIterator<Item = std::borrow::Cow<'a, [u8]>>) {
    ctx.out.array(members.len());
    for m in members {
        ctx.out.bulk(&m);
    }
}

/// SMEMBERS key
fn smembers(ctx: &mut Ctx) -> CmdResult {
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    match lookup::<Set>(ctx.keys.db(key), key, now, true)? {
        Some(set) => {
            let members: Vec<_> = set.iter().map(|m| m.into_owned()).collect();
            reply_members(ctx, members.into_iter().map(std::borrow::Cow::Owned));
        }
        None => ctx.out.array(0),
    }
    Ok(())
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx) -> CmdResult {
    let (now, key, member) = (ctx.now_ms(), ctx.arg(1), ctx.arg(2));
    let found = lookup::<Set>(ctx.keys.db(key), key, now, true)?.is_some_and(|s| s.contains(member));
    ctx.out.int(found as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx) -> CmdResult {
    let (now, key, args) = (ctx.now_ms(), ctx.arg(1), ctx.args);
    let set = lookup::<Set>(ctx.keys.db(key), key, now, true)?;
    ctx.out.array(args.len() - 2);
    for m in args.tail(2).iter() {
        ctx.out.int(set.as_ref().is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

/// SCARD key
fn scard(ctx: &mut Ctx) -> CmdResult {
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let len = lookup::<Set>(ctx.keys.db(key), key, now, true)?.map_or(0, |s| s.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx) -> CmdResult {
    let count = match ctx.argc() {
        2 => None,
        3 => {
            let n = args::int(ctx.arg(2)).map_err(|_| Error::MustBePositiveRange)?;
            if n < 0 {
                return Err(Error::MustBePositiveRange);
            }
            Some(n as usize)
        }
        _ => return Err(Error::Syntax),
    };
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let db = ctx.keys.db(key);
    let Some(set) = lookup::<Set>(db, key, now, false)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        }
        return Ok(());
    };
    // Each pick is O(1); popping everything takes the whole set.
    let wanted = count.unwrap_or(1).min(set.len());
    let mut popped: Vec<Vec<u8>> = Vec::with_capacity(wanted);
    while popped.len() < wanted {
        let member = set.random(crate::server::random_u64).expect("not empty").into_owned();
        set.remove(&member);
        popped.push(member);
    }
    let emptied = set.is_empty();
    // Recorded as the members it took, not as a random pick.
    if emptied && count.is_some() {
        ctx.propagate_as(&[b"DEL", key]);
    } else if ctx.keys.propagating {
        let mut srem: Vec<&[u8]> = vec![b"SREM", key];
        srem.extend(popped.iter().map(|m| &m[..]));
        ctx.propagate_as(&srem);
    }
    ctx.removed_from(key, notify::SET, "spop", popped.len(), emptied);
    match count {
        None => ctx.out.bulk(&popped[0]),
        Some(_) => {
            ctx.out.array(popped.len());
            for m in &popped {
                ctx.out.bulk(m);
            }
        }
    }
    Ok(())
}

/// SRANDMEMBER key [count]: a negative count may repeat members.
fn srandmember(ctx: &mut Ctx) -> CmdResult {
    let count = match ctx.argc() {
        2 => None,
        3 => Some(args::random_count(ctx.arg(2))?),
        _ => return Err(Error::Syntax),
    };
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let Some(set) = lookup::<Set>(ctx.keys.db(key), key, now, true)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        }
        return Ok(());
    };
    let len = set.len();
    let rand = crate::server::random_u64;
    let picks: Vec<Vec<u8>> = match count {
        None => vec![set.random(rand).expect("not empty").into_owned()],
        // A negative count may repeat members: each pick is independent.
        Some(n) if n < 0 => (0..n.unsigned_abs()).map(|_| set.random(rand).expect("not empty").into_owned()).collect(),
        // Most of the set: take it all and keep a random part.
        Some(n) if n as usize * 3 >= len => {
            let all: Vec<Vec<u8>> = set.iter().map(|m| m.into_owned()).collect();
            distinct_picks(len, n as usize).into_iter().map(|i| all[i].clone()).collect()
        }
        // A small part: random picks, skipping repeats.
        Some(n) => {
            let mut seen = std::collections::HashSet::new();
            while seen.len() < n as usize {
                seen.insert(set.random(rand).expect("not empty").into_owned());
            }
            seen.into_iter().collect()
        }
    };
    match count {
        None => ctx.out.bulk(&picks[0]),
        Some(_) => {
            ctx.out.array(picks.len());
            for m in &picks {
                ctx.out.bulk(m);
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

/// Reads the sets named by `keys` (a missing key is an empty set; any other
/// type is WRONGTYPE) and combines them.
fn combine(ctx: &mut Ctx, keys: crate::resp::Args, op: SetOp, limit: usize) -> Result<Vec<Vec<u8>>, Error> {
    let now = ctx.now_ms();
    let mut sets: Vec<Option<Set>> = Vec::with_capacity(keys.len());
    for key in keys.iter() {
        sets.push(lookup::<Set>(ctx.keys.db(key), key, now, true)?.map(|s| s.clone()));
    }
    let empty = Set::default();
    let get = |i: usize| sets[i].as_ref().unwrap_or(&empty);
    let mut out: Vec<Vec<u8>> = Vec::new();
    match op {
        SetOp::Inter => {
            if sets.iter().any(Option::is_none) {
                return Ok(out);
            }
            // Walk the smallest set, test the others.
            let smallest = (0..sets.len()).min_by_key(|&i| get(i).len()).unwrap_or(0);
            for m in get(smallest).iter() {
                if (0..sets.len()).all(|i| i == smallest || get(i).contains(&m)) {
                    out.push(m.into_owned());
                    if out.len() == limit {
                        break;
                    }
                }
            }
        }
        SetOp::Union => {
            let mut seen = Set::Table(Default::default());
            for i in 0..sets.len() {
                for m in get(i).iter() {
                    if seen.insert(&m, 0) {
                        out.push(m.into_owned());
                    }
                }
            }
        }
        SetOp::Diff => {
            for m in get(0).iter() {
                if (1..sets.len()).all(|i| !get(i).contains(&m)) {
                    out.push(m.into_owned());
                }
            }
        }
    }
    Ok(out)
}

fn reply_combined(ctx: &mut Ctx, op: SetOp) -> CmdResult {
    let members = combine(ctx, ctx.args.tail(1), op, usize::MAX)?;
    ctx.out.array(members.len());
    for m in &members {
        ctx.out.bulk(m);
    }
    Ok(())
}

/// Stores the combination of the sets from argument 2 at argument 1.
fn store_combined(ctx: &mut Ctx, op: SetOp) -> CmdResult {
    let members = combine(ctx, ctx.args.tail(2), op, usize::MAX)?;
    let (now, max, dest) = (ctx.now_ms(), max_ints(ctx), ctx.arg(1));
    let db = ctx.keys.db(dest);
    let event = if members.is_empty() {
        db.remove(dest, now).map(|_| "del")
    } else {
        let set = Set::from_members(members.iter().map(Vec::as_slice), max);
        db.set(dest, Value::Set(set), None, now);
        Some(match op {
            SetOp::Inter => "sinterstore",
            SetOp::Union => "sunionstore",
            SetOp::Diff => "sdiffstore",
        })
    };
    ctx.out.int(members.len() as i64);
    match event {
        Some("del") => ctx.notify(notify::GENERIC, "del", dest),
        Some(event) => ctx.notify(notify::SET, event, dest),
        None => {}
    }
    Ok(())
}

/// SINTER key [key ...]
fn sinter(ctx: &mut Ctx) -> CmdResult {
    reply_combined(ctx, SetOp::Inter)
}

/// SUNION key [key ...]
fn sunion(ctx: &mut Ctx) -> CmdResult {
    reply_combined(ctx, SetOp::Union)
}

/// SDIFF key [key ...]
fn sdiff(ctx: &mut Ctx) -> CmdResult {
    reply_combined(ctx, SetOp::Diff)
}

/// SINTERSTORE destination key [key ...]
fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    store_combined(ctx, SetOp::Inter)
}

/// SUNIONSTORE destination key [key ...]
fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    store_combined(ctx, SetOp::Union)
}

/// SDIFFSTORE destination key [key ...]
fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    store_combined(ctx, SetOp::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let numkeys = args::int(args.get(1)).ok().filter(|&n| n > 0).ok_or(Error::NumkeysNotPositive)? as usize;
    if numkeys > args.len() - 2 {
        return Err(Error::NumkeysTooMany);
    }
    let mut limit = 0usize;
    let mut at = 2 + numkeys;
    while at < args.len() {
        if is(args.get(at), "limit") && at + 1 < args.len() {
            // Redis gives one error for a limit that is not a number or
            // is negative.
            let n = args::int(args.get(at + 1)).ok().filter(|&n| n >= 0).ok_or(Error::LimitNegative)?;
            limit = n as usize;
            at += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let keys = args.tail(2).head(numkeys);
    let found = combine(ctx, keys, SetOp::Inter, if limit == 0 { usize::MAX } else { limit })?;
    ctx.out.int(found.len() as i64);
    Ok(())
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx) -> CmdResult {
    let (now, max, src, dst, member) = (ctx.now_ms(), max_ints(ctx), ctx.arg(1), ctx.arg(2), ctx.arg(3));
    // As Redis: look both up, answer 0 for a missing source, then check
    // both types, then move.
    let src_type = ctx.keys.db(src).get(src, now).map(|e| matches!(e.value, Value::Set(_)));
    let dst_type = ctx.keys.db(dst).get(dst, now).map(|e| matches!(e.value, Value::Set(_)));
    let Some(src_is_set) = src_type else {
        ctx.out.int(0);
        return Ok(());
    };
    if !src_is_set || dst_type == Some(false) {
        return Err(Error::WrongType);
    }
    if src == dst {
        let found = lookup::<Set>(ctx.keys.db(src), src, now, false)?.is_some_and(|s| s.contains(member));
        ctx.out.int(found as i64);
        return Ok(());
    }
    let db = ctx.keys.db(src);
    let set = lookup::<Set>(db, src, now, false)?.expect("a set");
    if !set.remove(member) {
        ctx.out.int(0);
        return Ok(());
    }
    let emptied = set.is_empty();
    if emptied {
        db.remove(src, now);
    } else {
        db.touch(src);
    }
    ctx.notify(notify::SET, "srem", src);
    if emptied {
        ctx.notify(notify::GENERIC, "del", src);
    }
    let dst_db = ctx.keys.db(dst);
    if lookup_or_create::<Set>(dst_db, dst, now)?.insert(member, max) {
        dst_db.touch(dst);
        ctx.notify(notify::SET, "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx) -> CmdResult {
    let mut cursor = parse_cursor(ctx.arg(2))?;
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    if lookup::<Set>(ctx.keys.db(key), key, now, true)?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    let (pattern, count) = scan_options(ctx, 3)?;
    let set = lookup::<Set>(ctx.keys.db(key), key, now, false)?.expect("looked up above");
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut visits = count.saturating_mul(10);
    loop {
        cursor = set.scan(cursor, |m| {
            if pattern.is_none_or(|p| glob::matches(p, m, false)) {
                found.push(m.to_vec());
            }
        });
        visits -= 1;
        if cursor == 0 || found.len() >= count || visits == 0 {
            break;
        }
    }
    ctx.out.array(2);
    ctx.out.bulk_int(cursor as i64);
    ctx.out.array(found.len());
    for m in &found {
        ctx.out.bulk(m);
    }
    Ok(())
}
