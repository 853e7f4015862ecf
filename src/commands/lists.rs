//! List commands (the blocking ones are in `blocking.rs`). Redis 7.0 reports every
//! list as "quicklist"; we hold elements in a deque.

use super::args::{self, is};
use super::blocking::{self, Wait};
use super::flags::*;
use super::{lookup, lookup_or_create, CmdResult, CommandSpec, Ctx, Error, KeySpec, Keys};
use crate::cmd;
use crate::notify;
use crate::server::Shared;
use crate::store::blocking::BlockOp;
use crate::store::{Db, End, List};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("lpush", -3, WRITE | DENYOOM | FAST, ONE, lpush, "list", "1.0.0", "Prepend one or multiple elements to a list", "key element..."),
    cmd!("rpush", -3, WRITE | DENYOOM | FAST, ONE, rpush, "list", "1.0.0", "Append one or multiple elements to a list", "key element..."),
    cmd!("lpushx", -3, WRITE | DENYOOM | FAST, ONE, lpushx, "list", "2.2.0", "Prepend an element to a list, only if the list exists", "key element..."),
    cmd!("rpushx", -3, WRITE | DENYOOM | FAST, ONE, rpushx, "list", "2.2.0", "Append an element to a list, only if the list exists", "key element..."),
    cmd!("lpop", -2, WRITE | FAST, ONE, lpop, "list", "1.0.0", "Remove and get the first elements in a list", "key [count]"),
    cmd!("rpop", -2, WRITE | FAST, ONE, rpop, "list", "1.0.0", "Remove and get the last elements in a list", "key [count]"),
    cmd!("llen", 2, READONLY | FAST, ONE, llen, "list", "1.0.0", "Get the length of a list", "key"),
    cmd!("lrange", 4, READONLY, ONE, lrange, "list", "1.0.0", "Get a range of elements from a list", "key start stop"),
    cmd!("lindex", 3, READONLY, ONE, lindex, "list", "1.0.0", "Get an element from a list by its index", "key index"),
    cmd!("lset", 4, WRITE | DENYOOM, ONE, lset, "list", "1.0.0", "Set the value of an element in a list by its index", "key index element"),
    cmd!("lrem", 4, WRITE, ONE, lrem, "list", "1.0.0", "Remove elements from a list", "key count element"),
    cmd!("ltrim", 4, WRITE, ONE, ltrim, "list", "1.0.0", "Trim a list to the specified range", "key start stop"),
    cmd!("linsert", 5, WRITE | DENYOOM, ONE, linsert, "list", "2.2.0", "Insert an element before or after another element in a list", "key (BEFORE|AFTER) pivot element"),
    cmd!("lpos", -3, READONLY, ONE, lpos, "list", "6.0.6", "Return the index of matching elements on a list", "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    cmd!("lmove", 5, WRITE | DENYOOM, TWO, lmove, "list", "6.2.0", "Pop an element from a list, push it to another list and return it", "source destination (LEFT|RIGHT) (LEFT|RIGHT)"),
    cmd!("rpoplpush", 3, WRITE | DENYOOM, TWO, rpoplpush, "list", "1.2.0", "Remove the last element in a list, prepend it to another list and return it", "source destination"),
    CommandSpec { keys: KeySpec::counted_at(1), ..cmd!("lmpop", -4, WRITE, NONE, lmpop, "list", "7.0.0", "Pop elements from a list", "numkeys key... (LEFT|RIGHT) [COUNT count]") },
    cmd!("blpop", -3, WRITE | NOSCRIPT | BLOCKING, ALL_BUT_LAST, blpop, "list", "2.0.0", "Remove and get the first element in a list, or block until one is available", "key... timeout"),
    cmd!("brpop", -3, WRITE | NOSCRIPT | BLOCKING, ALL_BUT_LAST, brpop, "list", "2.0.0", "Remove and get the last element in a list, or block until one is available", "key... timeout"),
    CommandSpec { keys: KeySpec::counted_at(2), ..cmd!("blmpop", -5, WRITE | BLOCKING, NONE, blmpop, "list", "7.0.0", "Pop elements from a list, or block until one is available", "timeout numkeys key... (LEFT|RIGHT) [COUNT count]") },
    cmd!("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, TWO, blmove, "list", "6.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "source destination (LEFT|RIGHT) (LEFT|RIGHT) timeout"),
    cmd!("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, TWO, brpoplpush, "list", "2.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "source destination timeout"),
];

fn end(arg: &[u8]) -> Result<End, Error> {
    if is(arg, "left") {
        Ok(End::Left)
    } else if is(arg, "right") {
        Ok(End::Right)
    } else {
        Err(Error::Syntax)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Create {
    Always,
    IfExists,
}

fn push(ctx: &mut Ctx, at: End, create: Create) -> CmdResult {
    let (now, key, args) = (ctx.now_ms(), ctx.arg(1), ctx.args);
    let db = ctx.keys.db(key);
    if create == Create::IfExists && lookup::<List>(db, key, now, false)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let limits = ctx.server.hot.list_limits();
    let list = lookup_or_create::<List>(db, key, now)?;
    for e in args.tail(2).iter() {
        match at {
            End::Left => list.push_front(e, limits),
            End::Right => list.push_back(e, limits),
        }
    }
    ctx.out.int(list.len() as i64);
    db.touch(key);
    ctx.notify(notify::LIST, if at == End::Left { "lpush" } else { "rpush" }, key);
    ctx.count_changes(args.len() - 3);
    Ok(())
}

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Left, Create::Always)
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Right, Create::Always)
}

/// LPUSHX key element [element ...]
fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Left, Create::IfExists)
}

/// RPUSHX key element [element ...]
fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push(ctx, End::Right, Create::IfExists)
}

/// The events of a pop from `key` in database `db`: `lpop` or `rpop`, then
/// `del` when it emptied the list.
pub(super) fn notify_pop(server: &Shared, keys: &mut Keys, db: usize, key: &[u8], at: End) {
    keys.dirty += 1;
    if notify::enabled(server, notify::LIST | notify::GENERIC) {
        notify::emit(server, notify::LIST, if at == End::Left { "lpop" } else { "rpop" }, key, db);
        if keys.db_at(key, db).peek(key).is_none() {
            notify::emit(server, notify::GENERIC, "del", key, db);
        }
    }
}

/// Pops up to `count` elements from `key`, deleting the list when emptied.
pub(super) fn pop_from(
    db: &mut Db,
    key: &[u8],
    at: End,
    count: usize,
    now: u64,
) -> Result<Option<Vec<Box<[u8]>>>, Error> {
    let Some(list) = lookup::<List>(db, key, now, false)? else { return Ok(None) };
    let take = count.min(list.len());
    let popped: Vec<Box<[u8]>> = (0..take)
        .filter_map(|_| match at {
            End::Left => list.pop_front(),
            End::Right => list.pop_back(),
        })
        .map(Vec::into_boxed_slice)
        .collect();
    if list.is_empty() {
        db.remove(key, now);
    } else {
        db.touch(key);
    }
    Ok(Some(popped))
}

fn pop(ctx: &mut Ctx, at: End) -> CmdResult {
    let count = match ctx.argc() {
        2 => None,
        3 => {
            let n = args::int(ctx.arg(2)).map_err(|_| Error::MustBePositiveRange)?;
            if n < 0 {
                return Err(Error::MustBePositiveRange);
            }
            Some(n as usize)
        }
        _ => return Err(Error::WrongArity(ctx.spec.name.to_string())),
    };
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let popped = pop_from(ctx.keys.db(key), key, at, count.unwrap_or(1), now)?;
    if let Some(items) = &popped {
        notify_pop(ctx.server, ctx.keys, ctx.client.db, key, at);
        ctx.count_changes(items.len().saturating_sub(1));
    }
    match (popped, count) {
        (None, None) => ctx.out.null(),
        (None, Some(_)) => ctx.out.null_array(),
        (Some(items), None) => ctx.out.bulk(&items[0]),
        (Some(items), Some(_)) => {
            ctx.out.array(items.len());
            for e in &items {
                ctx.out.bulk(e);
            }
        }
    }
    Ok(())
}

/// LPOP key [count]
fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, End::Left)
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop(ctx, End::Right)
}

/// LLEN key
fn llen(ctx: &mut Ctx) -> CmdResult {
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let len = lookup::<List>(ctx.keys.db(key), key, now, true)?.map_or(0, |l| l.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// The inclusive index range `start..=stop` of a list of `len` elements
/// with Redis's negative-index rules; `None` when empty.
fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop as usize))
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx) -> CmdResult {
    let (start, stop) = (args::int(ctx.arg(2))?, args::int(ctx.arg(3))?);
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let Some(list) = lookup::<List>(ctx.keys.db(key), key, now, true)? else {
        ctx.out.array(0);
        return Ok(());
    };
    match range(start, stop, list.len()) {
        Some((a, b)) => {
            ctx.out.array(b - a + 1);
            for e in list.iter_from(a).take(b - a + 1) {
                ctx.out.bulk(e);
            }
        }
        None => ctx.out.array(0),
    }
    Ok(())
}

/// A list index with negative counting from the end; `None` when outside.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// LINDEX key index
fn lindex(ctx: &mut Ctx) -> CmdResult {
    let (now, key, index_arg) = (ctx.now_ms(), ctx.arg(1), ctx.arg(2));
    // Redis answers a missing key before it reads the index.
    let Some(list) = lookup::<List>(ctx.keys.db(key), key, now, true)? else {
        ctx.out.null();
        return Ok(());
    };
    let i = args::int(index_arg)?;
    ctx.out.bulk_opt(index(i, list.len()).and_then(|at| list.get(at)));
    Ok(())
}

/// LSET key index element
fn lset(ctx: &mut Ctx) -> CmdResult {
    let (now, key, index_arg, element) = (ctx.now_ms(), ctx.arg(1), ctx.arg(2), ctx.arg(3));
    // Redis looks the key up before it reads the index.
    let limits = ctx.server.hot.list_limits();
    let db = ctx.keys.db(key);
    let list = lookup::<List>(db, key, now, false)?.ok_or(Error::NoSuchKey)?;
    let i = args::int(index_arg)?;
    let at = index(i, list.len()).ok_or(Error::IndexOutOfRange)?;
    list.set(at, element, limits);
    db.touch(key);
    ctx.out.ok();
    ctx.notify(notify::LIST, "lset", key);
    Ok(())
}

/// LREM key count element
fn lrem(ctx: &mut Ctx) -> CmdResult {
    let count = args::int(ctx.arg(2))?;
    let (now, key, element) = (ctx.now_ms(), ctx.arg(1), ctx.arg(3));
    let db = ctx.keys.db(key);
    let Some(list) = lookup::<List>(db, key, now, false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
    let len = list.len();
    // Positions to drop, front to back; found from the end for a negative
    // count. The list is rebuilt once.
    let mut drop: Vec<usize> = if count >= 0 {
        list.iter().enumerate().filter(|(_, e)| *e == element).map(|(i, _)| i).take(limit).collect()
    } else {
        list.iter().rev().enumerate().filter(|(_, e)| *e == element).map(|(k, _)| len - 1 - k).take(limit).collect()
    };
    drop.sort_unstable();
    let removed = drop.len();
    if removed > 0 {
        let limits = ctx.server.hot.list_limits();
        let mut next = drop.iter().peekable();
        let kept = list.iter().enumerate().filter(|(i, _)| next.next_if_eq(&i).is_none()).map(|(_, e)| e);
        *list = List::from_items(kept, limits);
    }
    let emptied = list.is_empty();
    ctx.removed_from(key, notify::LIST, "lrem", removed, emptied);
    ctx.out.int(removed as i64);
    Ok(())
}

/// LTRIM key start stop
fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let (start, stop) = (args::int(ctx.arg(2))?, args::int(ctx.arg(3))?);
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let db = ctx.keys.db(key);
    if let Some(list) = lookup::<List>(db, key, now, false)? {
        match range(start, stop, list.len()) {
            Some((a, b)) => list.retain_range(a, b + 1),
            None => list.clear(),
        }
        let emptied = list.is_empty();
        if emptied {
            db.remove(key, now);
        } else {
            db.touch(key);
        }
        ctx.notify(notify::LIST, "ltrim", key);
        if emptied {
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    ctx.out.ok();
    Ok(())
}

/// LINSERT key BEFORE | AFTER pivot element
fn linsert(ctx: &mut Ctx) -> CmdResult {
    let after = if is(ctx.arg(2), "after") {
        true
    } else if is(ctx.arg(2), "before") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let (now, key, pivot, element) = (ctx.now_ms(), ctx.arg(1), ctx.arg(3), ctx.arg(4));
    let limits = ctx.server.hot.list_limits();
    let db = ctx.keys.db(key);
    let Some(list) = lookup::<List>(db, key, now, false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(at) = list.iter().position(|e| e == pivot) else {
        ctx.out.int(-1);
        return Ok(());
    };
    list.insert(at + after as usize, element, limits);
    ctx.out.int(list.len() as i64);
    db.touch(key);
    ctx.notify(notify::LIST, "linsert", key);
    Ok(())
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut at = 3;
    while at < args.len() {
        let (word, value) = (args.get(at), args.iter().nth(at + 1));
        let Some(value) = value else { return Err(Error::Syntax) };
        if is(word, "rank") {
            rank = args::int(value)?;
            if rank == 0 {
                return Err(Error::RankZero);
            }
            // Redis negates the rank, which leaves i64::MIN unchanged; it
            // then behaves as -1.
            if rank == i64::MIN {
                rank = -1;
            }
        } else if is(word, "count") {
            // Redis gives one error for a count that is not a number or
            // is negative; the same for MAXLEN.
            let n = args::int(value).ok().filter(|&n| n >= 0).ok_or(Error::CountNegative)?;
            count = Some(n as usize);
        } else if is(word, "maxlen") {
            let n = args::int(value).ok().filter(|&n| n >= 0).ok_or(Error::MaxlenNegative)?;
            maxlen = n as usize;
        } else {
            return Err(Error::Syntax);
        }
        at += 2;
    }
    let (now, key, element) = (ctx.now_ms(), args.get(1), args.get(2));
    let list = lookup::<List>(ctx.keys.db(key), key, now, true)?;
    let len = list.as_ref().map_or(0, |l| l.len());
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let wanted = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let mut found = Vec::new();
    if let Some(list) = list {
        let mut skip = rank.unsigned_abs() - 1;
        let positions: Box<dyn Iterator<Item = (usize, &[u8])>> = if rank > 0 {
            Box::new(list.iter().enumerate().take(scan))
        } else {
            Box::new(list.iter().rev().enumerate().take(scan).map(|(k, e)| (len - 1 - k, e)))
        };
        for (i, e) in positions {
            if e == element {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                found.push(i);
                if found.len() == wanted {
                    break;
                }
            }
        }
    }
    match count {
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
    }
    Ok(())
}

/// Pops from `src` at `from` and pushes to `dst` at `to`, both in
/// database `db`; returns the element, or None when `src` is missing.
pub(super) fn move_between(
    keys: &mut Keys,
    server: &Shared,
    db: usize,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Box<[u8]>>, Error> {
    let (now, limits) = (keys.now_ms, server.hot.list_limits());
    if lookup::<List>(keys.db_at(src, db), src, now, false)?.is_none() {
        return Ok(None);
    }
    // Redis checks the destination's type before it pops.
    lookup::<List>(keys.db_at(dst, db), dst, now, false)?;
    let element = pop_from(keys.db_at(src, db), src, from, 1, now)?.expect("present").remove(0);
    // Popping the last element of the source deleted it, even when it is
    // also the destination.
    let dst_db = keys.db_at(dst, db);
    let list = lookup_or_create::<List>(dst_db, dst, now)?;
    match to {
        End::Left => list.push_front(&element, limits),
        End::Right => list.push_back(&element, limits),
    }
    dst_db.touch(dst);
    keys.dirty += 1;
    // As Redis reports it: the push, then the pop (and its `del`).
    notify::emit(server, notify::LIST, if to == End::Left { "lpush" } else { "rpush" }, dst, db);
    notify_pop(server, keys, db, src, from);
    Ok(Some(element))
}

fn move_element(ctx: &mut Ctx, from: End, to: End) -> CmdResult {
    let (db, src, dst) = (ctx.client.db, ctx.arg(1), ctx.arg(2));
    let element = move_between(ctx.keys, ctx.server, db, src, dst, from, to)?;
    ctx.out.bulk_opt(element.as_deref());
    Ok(())
}

/// LMOVE source destination LEFT | RIGHT LEFT | RIGHT
fn lmove(ctx: &mut Ctx) -> CmdResult {
    let (from, to) = (end(ctx.arg(3))?, end(ctx.arg(4))?);
    move_element(ctx, from, to)
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    move_element(ctx, End::Right, End::Left)
}

/// LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, end, count) = args::mpop(ctx.args, 1, end)?;
    blocking::pop_or_block(ctx, keys, BlockOp::ListPop { end, count: Some(count) }, Wait::Never)
}

/// BLPOP and BRPOP: key [key ...] timeout
fn block_pop(ctx: &mut Ctx, end: End) -> CmdResult {
    let wait = blocking::deadline(ctx.arg(ctx.argc() - 1), ctx.now_ms())?;
    let keys = ctx.args.tail(1).head(ctx.argc() - 2);
    blocking::pop_or_block(ctx, keys, BlockOp::ListPop { end, count: None }, wait)
}

/// BLPOP key [key ...] timeout
fn blpop(ctx: &mut Ctx) -> CmdResult {
    block_pop(ctx, End::Left)
}

/// BRPOP key [key ...] timeout
fn brpop(ctx: &mut Ctx) -> CmdResult {
    block_pop(ctx, End::Right)
}

/// BLMPOP timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, end, count) = args::mpop(ctx.args, 2, end)?;
    let wait = blocking::deadline(ctx.arg(1), ctx.now_ms())?;
    blocking::pop_or_block(ctx, keys, BlockOp::ListPop { end, count: Some(count) }, wait)
}

/// BLMOVE and BRPOPLPUSH: pop from argument 1, push to argument 2.
fn block_move(ctx: &mut Ctx, from: End, to: End, timeout_at: usize) -> CmdResult {
    let wait = blocking::deadline(ctx.arg(timeout_at), ctx.now_ms())?;
    let op = BlockOp::ListMove { from, to, dest: ctx.arg(2).into() };
    blocking::pop_or_block(ctx, ctx.args.tail(1).head(1), op, wait)
}

/// BLMOVE source destination LEFT | RIGHT LEFT | RIGHT timeout
fn blmove(ctx: &mut Ctx) -> CmdResult {
    let (from, to) = (end(ctx.arg(3))?, end(ctx.arg(4))?);
    block_move(ctx, from, to, 5)
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    block_move(ctx, End::Right, End::Left, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(range(0, -1, 3), Some((0, 2)));
        assert_eq!(range(-100, 100, 3), Some((0, 2)));
        assert_eq!(range(2, 1, 3), None);
        assert_eq!(range(5, 10, 3), None);
        assert_eq!(range(0, -5, 3), None);
        assert_eq!(index(-1, 3), Some(2));
        assert_eq!(index(3, 3), None);
        assert_eq!(index(-4, 3), None);
    }
}
