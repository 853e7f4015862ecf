//! SORT and SORT_RO: the elements of a list, set or sorted set, ordered as
//! numbers or as bytes, optionally by values kept in other keys (`BY
//! weight_*`, `BY obj_*->field`), with values of other keys returned in
//! their place (`GET`), and the result returned or stored as a list.
//!
//! The keys BY and GET name are known only once the elements are, so these
//! commands hold every shard's lock (`KeySpec::MOVABLE`).
//!
//! The order follows Redis 7.0: numbers compare as doubles with ties broken
//! by the elements' bytes; ALPHA compares bytes (Redis uses strcoll, which
//! is byte order in the C locale it normally runs in); a missing BY value
//! is 0, or sorts first with ALPHA; ties otherwise keep the loading order.

use std::cmp::Ordering;

use super::args::{self, is};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx, Error, Keys};
use crate::cmd;
use crate::notify;
use crate::resp::Args;
use crate::store::{List, Value};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("sort", -2, WRITE | DENYOOM, MOVABLE, sort, "generic", "1.0.0", "Sort the elements in a list, set or sorted set", "key [BY pattern] [LIMIT offset count] [GET pattern]... [ASC|DESC] [ALPHA] [STORE destination]"),
    cmd!("sort_ro", -2, READONLY, MOVABLE, sort_ro, "generic", "7.0.0", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "key [BY pattern] [LIMIT offset count] [GET pattern]... [ASC|DESC] [ALPHA]"),
];

/// The options of one SORT.
#[derive(Default)]
struct Options<'a> {
    by: Option<&'a [u8]>,
    /// BY a pattern with no `*`: keep the loading order.
    dont_sort: bool,
    limit: Option<(i64, i64)>,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    store: Option<&'a [u8]>,
}

impl<'a> Options<'a> {
    /// Reads the options after the key; the last of repeated ones wins,
    /// and STORE is a syntax error for SORT_RO.
    fn parse(args: Args<'a>, read_only: bool) -> Result<Options<'a>, Error> {
        let mut o = Options::default();
        let mut at = 2;
        while at < args.len() {
            let (word, left) = (args.get(at), args.len() - at - 1);
            if is(word, "asc") {
                o.desc = false;
            } else if is(word, "desc") {
                o.desc = true;
            } else if is(word, "alpha") {
                o.alpha = true;
            } else if is(word, "limit") && left >= 2 {
                o.limit = Some((args::int(args.get(at + 1))?, args::int(args.get(at + 2))?));
                at += 2;
            } else if is(word, "store") && left >= 1 && !read_only {
                o.store = Some(args.get(at + 1));
                at += 1;
            } else if is(word, "by") && left >= 1 {
                let pattern = args.get(at + 1);
                // Once a BY without `*` is seen, nothing is sorted.
                o.dont_sort |= !pattern.contains(&b'*');
                o.by = Some(pattern);
                at += 1;
            } else if is(word, "get") && left >= 1 {
                o.gets.push(args.get(at + 1));
                at += 1;
            } else {
                return Err(Error::Syntax);
            }
            at += 1;
        }
        Ok(o)
    }
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
/// [ALPHA] [STORE destination]
fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

/// SORT_RO: SORT without STORE.
fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

/// What an element is ordered by.
enum SortKey {
    Score(f64),
    Text(Option<Vec<u8>>),
    /// ALPHA without BY: the element itself.
    Element,
}

fn sort_generic(ctx: &mut Ctx, read_only: bool) -> CmdResult {
    let mut o = Options::parse(ctx.args, read_only)?;
    let (now, key) = (ctx.now_ms(), ctx.arg(1));
    let db = ctx.keys.db(key);
    let entry = if o.store.is_some() { db.get(key, now) } else { db.read(key, now) };
    let mut elements: Vec<Box<[u8]>> = match entry.map(|e| &e.value) {
        None => Vec::new(),
        Some(Value::List(list)) => {
            let mut v: Vec<Box<[u8]>> = list.iter().map(Box::from).collect();
            if o.dont_sort && o.desc {
                v.reverse();
            }
            v
        }
        Some(Value::Set(set)) => {
            // A stored result must not depend on the table's order.
            if o.dont_sort && o.store.is_some() {
                (o.dont_sort, o.alpha, o.by) = (false, true, None);
            }
            set.iter().map(|m| Box::from(&*m)).collect()
        }
        Some(Value::ZSet(zset)) => {
            let mut v: Vec<Box<[u8]>> = zset.iter().map(|(m, _)| Box::from(m)).collect();
            if o.dont_sort && o.desc {
                v.reverse();
            }
            v
        }
        Some(_) => return Err(Error::WrongType),
    };
    if !o.dont_sort {
        let mut keyed = Vec::with_capacity(elements.len());
        for e in elements {
            let by_value = |keys: &mut Keys| match o.by {
                Some(pattern) => lookup_pattern(keys, pattern, &e),
                None => Some(e.to_vec()),
            };
            let sort_key = match (o.alpha, o.by) {
                (true, None) => SortKey::Element,
                (true, Some(_)) => SortKey::Text(by_value(ctx.keys)),
                (false, _) => SortKey::Score(match by_value(ctx.keys) {
                    None => 0.0,
                    Some(v) => score(&v).ok_or(Error::SortNotDouble)?,
                }),
            };
            keyed.push((sort_key, e));
        }
        keyed.sort_by(|(ka, a), (kb, b)| {
            let order = match (ka, kb) {
                (SortKey::Score(x), SortKey::Score(y)) => {
                    x.partial_cmp(y).unwrap_or(Ordering::Equal).then_with(|| a.cmp(b))
                }
                (SortKey::Text(x), SortKey::Text(y)) => x.cmp(y),
                _ => a.cmp(b),
            };
            if o.desc {
                order.reverse()
            } else {
                order
            }
        });
        elements = keyed.into_iter().map(|(_, e)| e).collect();
    }
    let (start, end) = window(o.limit, elements.len());
    let picked = &elements[start..end];
    let mut output: Vec<Option<Vec<u8>>> = Vec::with_capacity(picked.len() * o.gets.len().max(1));
    for e in picked {
        if o.gets.is_empty() {
            output.push(Some(e.to_vec()));
        }
        for pattern in &o.gets {
            output.push(lookup_pattern(ctx.keys, pattern, e));
        }
    }
    match o.store {
        None => {
            ctx.out.array(output.len());
            for v in &output {
                ctx.out.bulk_opt(v.as_deref());
            }
        }
        Some(dest) => {
            let limits = ctx.server.hot.list_limits();
            let db = ctx.keys.db(dest);
            if output.is_empty() {
                let existed = db.remove(dest, now).is_some();
                ctx.out.int(0);
                if existed {
                    ctx.notify(notify::GENERIC, "del", dest);
                }
            } else {
                let items: Vec<Vec<u8>> = output.into_iter().map(Option::unwrap_or_default).collect();
                let list = List::from_items(items.iter().map(Vec::as_slice), limits);
                let len = list.len();
                db.set(dest, Value::List(Box::new(list)), None, now);
                ctx.out.int(len as i64);
                ctx.notify(notify::LIST, "sortstore", dest);
            }
        }
    }
    Ok(())
}

/// The half-open range of `len` sorted elements that LIMIT selects.
fn window(limit: Option<(i64, i64)>, len: usize) -> (usize, usize) {
    let Some((offset, count)) = limit else { return (0, len) };
    let start = offset.max(0) as i128;
    let end = if count < 0 { len as i128 } else { start + count as i128 };
    let start = start.min(len as i128) as usize;
    (start, (end.min(len as i128) as usize).max(start))
}

/// A value read as a number the way Redis's SORT reads it: strtod must
/// use every byte up to the end (or a NUL), not overflow, and not be NaN.
fn score(text: &[u8]) -> Option<f64> {
    let (value, used, range_error) = args::strtod(text);
    let whole = used == text.len() || text[used] == 0;
    (whole && !range_error && !value.is_nan()).then_some(value)
}

/// The value a BY or GET pattern names for `element`: `#` is the element
/// itself; otherwise the first `*` is replaced by the element to make a
/// key name, whose string value is taken, or with `->field` after the `*`
/// that field of the hash at that key. None when anything is missing or
/// of another type.
fn lookup_pattern(keys: &mut Keys, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let (key_part, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if star + 1 + i + 2 < pattern.len() => (&pattern[..star + 1 + i], Some(&after[i + 2..])),
        _ => (pattern, None),
    };
    let mut name = Vec::with_capacity(key_part.len() + element.len());
    name.extend_from_slice(&key_part[..star]);
    name.extend_from_slice(element);
    name.extend_from_slice(&key_part[star + 1..]);
    let now = keys.now_ms;
    let entry = keys.db(&name).read(&name, now)?;
    match (field, &entry.value) {
        (None, Value::Str(s)) => Some(s.bytes(&mut [0; 20]).to_vec()),
        (Some(f), Value::Hash(h)) => h.get(f).map(<[u8]>::to_vec),
        _ => None,
    }
}

/// Where SORT's STORE destination is, for COMMAND GETKEYS: the last STORE
/// wins, and the arguments of LIMIT, BY and GET are skipped over.
pub fn store_position(args: &Args) -> Option<usize> {
    let mut found = None;
    let mut at = 2;
    while at < args.len() {
        let word = args.get(at);
        let skip = if is(word, "limit") {
            2
        } else if is(word, "by") || is(word, "get") {
            1
        } else if is(word, "store") {
            found = (at + 1 < args.len()).then_some(at + 1);
            1
        } else {
            0
        };
        at += 1 + skip;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_windows() {
        assert_eq!(window(None, 4), (0, 4));
        assert_eq!(window(Some((1, 2)), 4), (1, 3));
        assert_eq!(window(Some((-5, -5)), 4), (0, 4));
        assert_eq!(window(Some((0, 0)), 4), (0, 0));
        assert_eq!(window(Some((3, 1)), 4), (3, 4));
        assert_eq!(window(Some((4, 1)), 4), (4, 4));
        assert_eq!(window(Some((i64::MAX, i64::MAX)), 4), (4, 4));
        assert_eq!(window(Some((2, -1)), 4), (2, 4));
    }

    #[test]
    fn scores_read_like_redis() {
        assert_eq!(score(b""), Some(0.0));
        assert_eq!(score(b" 1"), Some(1.0));
        assert_eq!(score(b"1\0junk"), Some(1.0));
        assert_eq!(score(b"inf"), Some(f64::INFINITY));
        assert_eq!(score(b"2 "), None);
        assert_eq!(score(b"nan"), None);
        assert_eq!(score(b"1e400"), None);
        assert_eq!(score(b"abc"), None);
    }
}
