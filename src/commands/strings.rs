//! String commands.

use super::args::{self, is, Cursor};
use super::flags::*;
use super::long_double::LongDouble;
use super::{CmdResult, CommandSpec, Ctx, Error};
use crate::cmd;
use crate::notify;
use crate::resp::reply::format_i64;
use crate::store::{Db, Entry, Str, Value};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("get", 2, READONLY | FAST, ONE, get, "string", "1.0.0", "Get the value of a key", "key"),
    cmd!("set", -3, WRITE | DENYOOM, ONE, set, "string", "1.0.0", "Set the string value of a key", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
    cmd!("setnx", 3, WRITE | DENYOOM | FAST, ONE, setnx, "string", "1.0.0", "Set the value of a key, only if the key does not exist", "key value"),
    cmd!("setex", 4, WRITE | DENYOOM, ONE, setex, "string", "2.0.0", "Set the value and expiration of a key", "key seconds value"),
    cmd!("psetex", 4, WRITE | DENYOOM, ONE, psetex, "string", "2.6.0", "Set the value and expiration in milliseconds of a key", "key milliseconds value"),
    cmd!("getset", 3, WRITE | DENYOOM | FAST, ONE, getset, "string", "1.0.0", "Set the string value of a key and return its old value", "key value"),
    cmd!("getdel", 2, WRITE | FAST, ONE, getdel, "string", "6.2.0", "Get the value of a key and delete the key", "key"),
    cmd!("getex", -2, WRITE | FAST, ONE, getex, "string", "6.2.0", "Get the value of a key and optionally set its expiration", "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"),
    cmd!("mget", -2, READONLY | FAST, ALL, mget, "string", "1.0.0", "Get the values of all the given keys", "key..."),
    cmd!("mset", -3, WRITE | DENYOOM, PAIRS, mset, "string", "1.0.1", "Set multiple keys to multiple values", "(key value)..."),
    cmd!("msetnx", -3, WRITE | DENYOOM, PAIRS, msetnx, "string", "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist", "(key value)..."),
    cmd!("incr", 2, WRITE | DENYOOM | FAST, ONE, incr, "string", "1.0.0", "Increment the integer value of a key by one", "key"),
    cmd!("decr", 2, WRITE | DENYOOM | FAST, ONE, decr, "string", "1.0.0", "Decrement the integer value of a key by one", "key"),
    cmd!("incrby", 3, WRITE | DENYOOM | FAST, ONE, incrby, "string", "1.0.0", "Increment the integer value of a key by the given amount", "key increment"),
    cmd!("decrby", 3, WRITE | DENYOOM | FAST, ONE, decrby, "string", "1.0.0", "Decrement the integer value of a key by the given number", "key decrement"),
    cmd!("incrbyfloat", 3, WRITE | DENYOOM | FAST, ONE, incrbyfloat, "string", "2.6.0", "Increment the float value of a key by the given amount", "key increment"),
    cmd!("append", 3, WRITE | DENYOOM | FAST, ONE, append, "string", "2.0.0", "Append a value to a key", "key value"),
    cmd!("strlen", 2, READONLY | FAST, ONE, strlen, "string", "2.2.0", "Get the length of the value stored in a key", "key"),
    cmd!("getrange", 4, READONLY, ONE, getrange, "string", "2.4.0", "Get a substring of the string stored at a key", "key start end"),
    cmd!("substr", 4, READONLY, ONE, getrange, "string", "1.0.0", "Get a substring of the string stored at a key", "key start end"),
    cmd!("setrange", 4, WRITE | DENYOOM, ONE, setrange, "string", "2.2.0", "Overwrite part of a string at key starting at the specified offset", "key offset value"),
    cmd!("lcs", -3, READONLY, TWO, lcs, "string", "7.0.0", "Find longest common substring", "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"),
];

/// Largest string a write may create (Redis's proto-max-bulk-len default).
pub const STRING_MAX: usize = 512 * 1024 * 1024;

/// The string at `key`, `None` when missing; WRONGTYPE for other types.
pub fn lookup_str<'d>(db: &'d mut Db, key: &[u8], now_ms: u64) -> Result<Option<&'d mut Str>, Error> {
    super::lookup::<Str>(db, key, now_ms, false)
}

/// The string at `key` for a command that reads it (counted in INFO's
/// keyspace hits and misses).
pub fn read_str<'d>(db: &'d mut Db, key: &[u8], now_ms: u64) -> Result<Option<&'d mut Str>, Error> {
    super::lookup::<Str>(db, key, now_ms, true)
}

/// GET key
fn get(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let found = read_str(ctx.keys.db(key), key, now)?;
    match found {
        Some(s) => ctx.out.bulk(s.bytes(&mut [0; 20])),
        None => ctx.out.null(),
    }
    Ok(())
}

/// What an expiry option asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExpiryArg<'a> {
    /// EX, PX, EXAT or PXAT with its raw value.
    Set {
        value: &'a [u8],
        unit_ms: u64,
        absolute: bool,
    },
    KeepTtl,
    Persist,
}

impl ExpiryArg<'_> {
    /// True when both are the same option (EX and EX), which Redis allows
    /// to repeat, the last one winning; different ones conflict.
    fn same_option(&self, other: &ExpiryArg) -> bool {
        match (self, other) {
            (ExpiryArg::Set { unit_ms: a, absolute: x, .. }, ExpiryArg::Set { unit_ms: b, absolute: y, .. }) => {
                a == b && x == y
            }
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }

    /// The absolute expiry in ms, validated as Redis does: the value must
    /// be an integer, positive, and not overflow when converted.
    pub fn resolve(&self, now_ms: u64, cmd: &'static str) -> Result<Option<u64>, Error> {
        let ExpiryArg::Set { value, unit_ms, absolute } = *self else {
            return Ok(None);
        };
        let n = args::int(value)?;
        if n <= 0 || n > i64::MAX / unit_ms as i64 {
            return Err(Error::InvalidExpireTime(cmd));
        }
        let ms = n * unit_ms as i64;
        let at = if absolute { Some(ms) } else { ms.checked_add(now_ms as i64) };
        match at {
            Some(at) if at > 0 => Ok(Some(at as u64)),
            _ => Err(Error::InvalidExpireTime(cmd)),
        }
    }
}

/// Reads EX/PX/EXAT/PXAT (and KEEPTTL or PERSIST when allowed) at the
/// cursor's current word; `None` when the word is none of them.
fn expiry_option<'a>(word: &[u8], cur: &mut Cursor<'a>, extra: &str) -> Result<Option<ExpiryArg<'a>>, Error> {
    let (unit_ms, absolute) = if is(word, "ex") {
        (1000, false)
    } else if is(word, "px") {
        (1, false)
    } else if is(word, "exat") {
        (1000, true)
    } else if is(word, "pxat") {
        (1, true)
    } else if is(word, extra) {
        return Ok(Some(if extra == "keepttl" { ExpiryArg::KeepTtl } else { ExpiryArg::Persist }));
    } else {
        return Ok(None);
    };
    Ok(Some(ExpiryArg::Set { value: cur.value()?, unit_ms, absolute }))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Condition {
    Always,
    IfMissing,
    IfExists,
}

struct SetOptions<'a> {
    condition: Condition,
    get: bool,
    expiry: Option<ExpiryArg<'a>>,
}

impl<'a> SetOptions<'a> {
    fn parse(ctx: &Ctx<'a, '_>) -> Result<Self, Error> {
        let mut opts = SetOptions { condition: Condition::Always, get: false, expiry: None };
        let mut cur = Cursor::new(ctx.args, 3);
        while let Some(word) = cur.next_arg() {
            if is(word, "nx") || is(word, "xx") {
                let wanted = if is(word, "nx") { Condition::IfMissing } else { Condition::IfExists };
                if opts.condition != Condition::Always && opts.condition != wanted {
                    return Err(Error::Syntax);
                }
                opts.condition = wanted;
            } else if is(word, "get") {
                opts.get = true;
            } else if let Some(exp) = expiry_option(word, &mut cur, "keepttl")? {
                if opts.expiry.is_some_and(|e| !e.same_option(&exp)) {
                    return Err(Error::Syntax);
                }
                opts.expiry = Some(exp);
            } else {
                return Err(Error::Syntax);
            }
        }
        Ok(opts)
    }
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
fn set(ctx: &mut Ctx) -> CmdResult {
    let opts = SetOptions::parse(ctx)?;
    let now = ctx.now_ms();
    let expires_at = match opts.expiry {
        Some(e) => e.resolve(now, "set")?,
        None => None,
    };
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.keys.db(key);
    let old = if opts.get { read_str(db, key, now)?.map(|s| s.bytes(&mut [0; 20]).to_vec()) } else { None };
    let exists = opts.get && old.is_some() || opts.condition != Condition::Always && db.exists(key, now);
    let allowed = match opts.condition {
        Condition::Always => true,
        Condition::IfMissing => !exists,
        Condition::IfExists => exists,
    };
    if allowed {
        let value = Value::Str(Str::new(value));
        if opts.expiry == Some(ExpiryArg::KeepTtl) {
            db.set_keep_ttl(key, value, now);
        } else {
            db.set(key, value, expires_at, now);
        }
    }
    match (opts.get, allowed) {
        (true, _) => ctx.out.bulk_opt(old.as_deref()),
        (false, true) => ctx.out.ok(),
        (false, false) => ctx.out.null(),
    }
    if allowed {
        if let (Some(at), false) = (expires_at, opts.expiry == Some(ExpiryArg::KeepTtl)) {
            // Recorded with the deadline, not the relative TTL, as Redis
            // propagates it.
            ctx.propagate_as(&[b"SET", key, ctx.arg(2), b"PXAT", format_i64(at as i64, &mut [0; 20])]);
        }
        ctx.notify(notify::STRING, "set", key);
        if expires_at.is_some() {
            ctx.notify_uncounted(notify::GENERIC, "expire", key);
        }
    }
    Ok(())
}

/// SETNX key value
fn setnx(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.keys.db(key);
    if db.exists(key, now) {
        ctx.out.int(0);
    } else {
        db.set(key, Value::Str(Str::new(value)), None, now);
        ctx.out.int(1);
        ctx.notify(notify::STRING, "set", key);
    }
    Ok(())
}

fn set_with_ttl(ctx: &mut Ctx, unit_ms: u64, cmd: &'static str) -> CmdResult {
    let now = ctx.now_ms();
    let at = ExpiryArg::Set { value: ctx.arg(2), unit_ms, absolute: false }.resolve(now, cmd)?;
    let (key, value) = (ctx.arg(1), ctx.arg(3));
    ctx.keys.db(key).set(key, Value::Str(Str::new(value)), at, now);
    ctx.out.ok();
    if let Some(at) = at {
        ctx.propagate_as(&[b"SET", key, value, b"PXAT", format_i64(at as i64, &mut [0; 20])]);
    }
    ctx.notify(notify::STRING, "set", key);
    ctx.notify_uncounted(notify::GENERIC, "expire", key);
    Ok(())
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx) -> CmdResult {
    set_with_ttl(ctx, 1000, "setex")
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx) -> CmdResult {
    set_with_ttl(ctx, 1, "psetex")
}

/// GETSET key value
fn getset(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.keys.db(key);
    let old = read_str(db, key, now)?.map(|s| s.bytes(&mut [0; 20]).to_vec());
    db.set(key, Value::Str(Str::new(value)), None, now);
    ctx.out.bulk_opt(old.as_deref());
    ctx.notify(notify::STRING, "set", key);
    Ok(())
}

/// GETDEL key
fn getdel(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let db = ctx.keys.db(key);
    if read_str(db, key, now)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    let Some(Entry { value: Value::Str(s), .. }) = db.remove(key, now) else {
        unreachable!("a string, looked up above")
    };
    ctx.out.bulk(s.bytes(&mut [0; 20]));
    ctx.notify(notify::GENERIC, "del", key);
    Ok(())
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
fn getex(ctx: &mut Ctx) -> CmdResult {
    let mut expiry = None;
    let mut cur = Cursor::new(ctx.args, 2);
    while let Some(word) = cur.next_arg() {
        match expiry_option(word, &mut cur, "persist")? {
            Some(e) if expiry.is_none_or(|old: ExpiryArg| old.same_option(&e)) => expiry = Some(e),
            _ => return Err(Error::Syntax),
        }
    }
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let db = ctx.keys.db(key);
    // Redis validates the expiry only once it found the key.
    let Some(s) = read_str(db, key, now)? else {
        ctx.out.null();
        return Ok(());
    };
    let at = match expiry {
        Some(e) => e.resolve(now, "getex")?,
        None => None,
    };
    ctx.out.bulk(s.bytes(&mut [0; 20]));
    match expiry {
        // Only a key with a TTL changes (and counts as written).
        Some(ExpiryArg::Persist) if db.peek(key).is_some_and(|e| e.expires_at_ms().is_some()) => {
            db.set_expiry(key, None, now);
            ctx.propagate_as(&[b"PERSIST", key]);
            ctx.notify(notify::GENERIC, "persist", key);
        }
        Some(ExpiryArg::Persist) => {}
        Some(_) if at.is_some_and(|at| at <= now) => {
            db.remove(key, now);
            ctx.propagate_as(&[b"DEL", key]);
            ctx.notify(notify::GENERIC, "del", key);
        }
        Some(_) => {
            db.set_expiry(key, at, now);
            let at = at.unwrap_or_default() as i64;
            ctx.propagate_as(&[b"PEXPIREAT", key, format_i64(at, &mut [0; 20])]);
            ctx.notify(notify::GENERIC, "expire", key);
        }
        None => {}
    }
    Ok(())
}

/// MGET key [key ...]
fn mget(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    ctx.out.array(ctx.argc() - 1);
    for key in ctx.args.tail(1).iter() {
        // A key of another type reads as nil here, as in Redis.
        match ctx.keys.db(key).read(key, now) {
            Some(Entry { value: Value::Str(s), .. }) => ctx.out.bulk(s.bytes(&mut [0; 20])),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc().is_multiple_of(2) {
        return Err(Error::WrongArity(ctx.spec.name.to_string()));
    }
    let now = ctx.now_ms();
    for pair in 0..(ctx.argc() - 1) / 2 {
        let (key, value) = (ctx.arg(1 + pair * 2), ctx.arg(2 + pair * 2));
        ctx.keys.db(key).set(key, Value::Str(Str::new(value)), None, now);
        ctx.notify(notify::STRING, "set", key);
    }
    ctx.out.ok();
    Ok(())
}

/// MSETNX key value [key value ...]
fn msetnx(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc().is_multiple_of(2) {
        return Err(Error::WrongArity(ctx.spec.name.to_string()));
    }
    let now = ctx.now_ms();
    let pairs = (ctx.argc() - 1) / 2;
    for pair in 0..pairs {
        let key = ctx.arg(1 + pair * 2);
        if ctx.keys.db(key).exists(key, now) {
            ctx.out.int(0);
            return Ok(());
        }
    }
    for pair in 0..pairs {
        let (key, value) = (ctx.arg(1 + pair * 2), ctx.arg(2 + pair * 2));
        ctx.keys.db(key).set(key, Value::Str(Str::new(value)), None, now);
        ctx.notify(notify::STRING, "set", key);
    }
    ctx.out.int(1);
    Ok(())
}

/// Adds `by` to the integer at `key` (keeping its TTL) and replies with the
/// result.
fn incr_by(ctx: &mut Ctx, by: i64) -> CmdResult {
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let db = ctx.keys.db(key);
    let result = match lookup_str(db, key, now)? {
        Some(s) => {
            let current = s.as_int().ok_or(Error::NotInteger)?;
            let next = current.checked_add(by).ok_or(Error::Overflow)?;
            *s = Str::Int(next);
            db.touch(key);
            next
        }
        None => {
            db.insert_new(key, Value::Str(Str::Int(by)), now);
            by
        }
    };
    ctx.out.int(result);
    ctx.notify(notify::STRING, "incrby", key);
    Ok(())
}

/// INCR key
fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, 1)
}

/// DECR key
fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_by(ctx, -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx) -> CmdResult {
    let by = args::int(ctx.arg(2))?;
    incr_by(ctx, by)
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx) -> CmdResult {
    let by = args::int(ctx.arg(2))?;
    let by = by.checked_neg().ok_or(Error::DecrementOverflow)?;
    incr_by(ctx, by)
}

/// INCRBYFLOAT key increment
///
/// The sum is Redis's: 80-bit long double arithmetic, printed with
/// `%.17Lf` less trailing zeros (see `long_double`).
fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let (key, by) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.keys.db(key);
    let current = match lookup_str(db, key, now)? {
        Some(s) => LongDouble::parse(s.bytes(&mut [0; 20])).ok_or(Error::NotFloat)?,
        None => LongDouble::Finite { neg: false, mant: 0, exp: 0 },
    };
    let by = LongDouble::parse(by).ok_or(Error::NotFloat)?;
    let next = current + by;
    if !next.is_finite() {
        return Err(Error::IncrNanOrInfinity);
    }
    let text = next.format();
    db.set_keep_ttl(key, Value::Str(Str::text(text.as_bytes())), now);
    ctx.out.bulk(text.as_bytes());
    // The sum as text: a replay does not redo float arithmetic.
    ctx.propagate_as(&[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    ctx.notify(notify::STRING, "incrbyfloat", key);
    Ok(())
}

/// APPEND key value
fn append(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.keys.db(key);
    let len = match lookup_str(db, key, now)? {
        Some(s) => {
            if s.len() + value.len() > STRING_MAX {
                return Err(Error::StringTooLong);
            }
            let raw = s.make_raw();
            raw.extend_from_slice(value);
            let len = raw.len();
            db.touch(key);
            len
        }
        None => {
            // A new key takes the value as SET would (integer or embstr encoded).
            db.insert_new(key, Value::Str(Str::new(value)), now);
            value.len()
        }
    };
    ctx.out.int(len as i64);
    ctx.notify(notify::STRING, "append", key);
    Ok(())
}

/// STRLEN key
fn strlen(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let len = read_str(ctx.keys.db(key), key, now)?.map_or(0, |s| s.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// The byte range `start..=end` of a string of `len` bytes with Redis's
/// negative-index rules; `None` when empty.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { (len + end).max(0) } else { end };
    let end = end.min(len - 1);
    if len == 0 || start > end {
        return None;
    }
    Some((start as usize, end as usize))
}

/// GETRANGE key start end
fn getrange(ctx: &mut Ctx) -> CmdResult {
    let start = args::int(ctx.arg(2))?;
    let end = args::int(ctx.arg(3))?;
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let Some(s) = read_str(ctx.keys.db(key), key, now)? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let mut buf = [0; 20];
    let bytes = s.bytes(&mut buf);
    match clamp_range(start, end, bytes.len()) {
        Some((a, b)) => ctx.out.bulk(&bytes[a..=b]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

/// SETRANGE key offset value
fn setrange(ctx: &mut Ctx) -> CmdResult {
    let offset = args::int(ctx.arg(2))?;
    if offset < 0 {
        return Err(Error::OutOfRange("offset"));
    }
    let offset = offset as usize;
    let now = ctx.now_ms();
    let (key, value) = (ctx.arg(1), ctx.arg(3));
    let db = ctx.keys.db(key);
    let existing = lookup_str(db, key, now)?;
    if value.is_empty() {
        let len = existing.map_or(0, |s| s.len());
        ctx.out.int(len as i64);
        return Ok(());
    }
    if offset.saturating_add(value.len()) > STRING_MAX {
        return Err(Error::StringTooLong);
    }
    let raw = match existing {
        Some(s) => s.make_raw(),
        None => match &mut db.insert_new(key, Value::Str(Str::raw(Vec::new())), now).value {
            Value::Str(s) => s.make_raw(),
            _ => unreachable!("inserted a string"),
        },
    };
    if raw.len() < offset + value.len() {
        raw.resize(offset + value.len(), 0);
    }
    raw[offset..offset + value.len()].copy_from_slice(value);
    ctx.out.int(raw.len() as i64);
    db.touch(key);
    ctx.notify(notify::STRING, "setrange", key);
    Ok(())
}

struct LcsOptions {
    len: bool,
    idx: bool,
    min_match_len: usize,
    with_match_len: bool,
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx) -> CmdResult {
    // Redis reads the keys before it parses the options.
    let now = ctx.now_ms();
    let mut strings = Vec::with_capacity(2);
    for key in [ctx.arg(1), ctx.arg(2)] {
        match ctx.keys.db(key).read(key, now) {
            None => strings.push(Vec::new()),
            Some(Entry { value: Value::Str(s), .. }) => strings.push(s.bytes(&mut [0; 20]).to_vec()),
            Some(_) => return Err(Error::LcsNotStrings),
        }
    }
    let mut opts = LcsOptions { len: false, idx: false, min_match_len: 0, with_match_len: false };
    let mut cur = Cursor::new(ctx.args, 3);
    while let Some(word) = cur.next_arg() {
        if is(word, "len") {
            opts.len = true;
        } else if is(word, "idx") {
            opts.idx = true;
        } else if is(word, "withmatchlen") {
            opts.with_match_len = true;
        } else if is(word, "minmatchlen") {
            let n = args::int(cur.value()?)?;
            opts.min_match_len = n.max(0) as usize;
        } else {
            return Err(Error::Syntax);
        }
    }
    if opts.len && opts.idx {
        return Err(Error::LcsLenAndIdx);
    }
    let (a, b) = (&strings[0], &strings[1]);
    // Dynamic programming table of common-subsequence lengths.
    let width = b.len() + 1;
    let mut dp = vec![0u32; (a.len() + 1) * width];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            dp[i * width + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * width + j - 1] + 1
            } else {
                dp[(i - 1) * width + j].max(dp[i * width + j - 1])
            };
        }
    }
    let total = dp[a.len() * width + b.len()] as usize;
    if opts.len {
        ctx.out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end, collecting the subsequence and its ranges.
    let mut lcs = vec![0u8; total];
    let mut ranges: Vec<((usize, usize), (usize, usize))> = Vec::new();
    let mut current: Option<((usize, usize), (usize, usize))> = None;
    let (mut i, mut j, mut k) = (a.len(), b.len(), total);
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            k -= 1;
            lcs[k] = a[i - 1];
            let (ai, bj) = (i - 1, j - 1);
            current = match current {
                Some(((a0, a1), (b0, b1))) if a0 == ai + 1 && b0 == bj + 1 => Some(((ai, a1), (bj, b1))),
                Some(done) => {
                    ranges.push(done);
                    Some(((ai, ai), (bj, bj)))
                }
                None => Some(((ai, ai), (bj, bj))),
            };
            i -= 1;
            j -= 1;
        } else if dp[(i - 1) * width + j] > dp[i * width + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    if let Some(done) = current {
        ranges.push(done);
    }
    if !opts.idx {
        ctx.out.bulk(&lcs);
        return Ok(());
    }
    let kept: Vec<_> = ranges.into_iter().filter(|((a0, a1), _)| a1 - a0 + 1 >= opts.min_match_len).collect();
    ctx.out.array(4);
    ctx.out.bulk(b"matches");
    ctx.out.array(kept.len());
    for ((a0, a1), (b0, b1)) in kept {
        ctx.out.array(if opts.with_match_len { 3 } else { 2 });
        ctx.out.array(2);
        ctx.out.int(a0 as i64);
        ctx.out.int(a1 as i64);
        ctx.out.array(2);
        ctx.out.int(b0 as i64);
        ctx.out.int(b1 as i64);
        if opts.with_match_len {
            ctx.out.int((a1 - a0 + 1) as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(clamp_range(3, 100, 5), Some((3, 4)));
        assert_eq!(clamp_range(4, 2, 5), None);
        assert_eq!(clamp_range(-1, -3, 5), None);
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(-100, 0, 5), Some((0, 0)));
    }
}
