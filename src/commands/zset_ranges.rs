//! How a sorted-set range is asked for and which ranks it covers: score
//! and lex bounds, the ZRANGE family's arguments (BYSCORE, BYLEX, REV,
//! LIMIT, WITHSCORES), and the span of ranks a request selects, found with
//! two O(log n) searches before any member is read.

use super::args::{self, is};
use super::{Ctx, Error};
use crate::store::zset::ZSet;

/// A score range bound: `1.5`, `(1.5` (exclusive), `-inf`, `+inf`. Redis
/// reads these with a bare strtod, looser than a score argument.
#[derive(Clone, Copy)]
pub(super) struct ScoreBound {
    value: f64,
    exclusive: bool,
}

pub(super) fn score_bound(arg: &[u8]) -> Result<ScoreBound, Error> {
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let value = args::loose_float(text).ok_or(Error::MinMaxNotFloat)?;
    Ok(ScoreBound { value, exclusive })
}

/// A lex range bound: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Copy)]
pub(super) enum LexBound<'a> {
    Lowest,
    Highest,
    Inclusive(&'a [u8]),
    Exclusive(&'a [u8]),
}

pub(super) fn lex_bound(arg: &[u8]) -> Result<LexBound<'_>, Error> {
    match arg {
        b"-" => Ok(LexBound::Lowest),
        b"+" => Ok(LexBound::Highest),
        [b'[', rest @ ..] => Ok(LexBound::Inclusive(rest)),
        [b'(', rest @ ..] => Ok(LexBound::Exclusive(rest)),
        _ => Err(Error::MinMaxNotString),
    }
}

/// A range of a sorted set by score or lex.
#[derive(Clone, Copy)]
pub(super) enum Interval<'a> {
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

impl LexBound<'_> {
    /// `m` is at or past this bound as a minimum.
    fn below(&self, m: &[u8]) -> bool {
        match *self {
            LexBound::Lowest => false,
            LexBound::Highest => true,
            LexBound::Inclusive(x) => m < x,
            LexBound::Exclusive(x) => m <= x,
        }
    }

    /// `m` is within this bound as a maximum.
    fn within(&self, m: &[u8]) -> bool {
        match *self {
            LexBound::Lowest => false,
            LexBound::Highest => true,
            LexBound::Inclusive(x) => m <= x,
            LexBound::Exclusive(x) => m < x,
        }
    }
}

impl Interval<'_> {
    /// The ranks `start..end` of the members inside; `reverse` for a walk
    /// from the high end (it matters only for a lex range over members
    /// with different scores, see `lex_span_of_pack`).
    pub(super) fn ranks(&self, zset: &ZSet, reverse: bool) -> (usize, usize) {
        let (start, end) = match *self {
            Interval::Score(min, max) => (
                zset.count_before(|s, _| s < min.value || (min.exclusive && s == min.value)),
                zset.count_before(|s, _| s < max.value || (!max.exclusive && s == max.value)),
            ),
            Interval::Lex(min, max) if matches!(zset, ZSet::Pack(_)) => {
                let members: Vec<&[u8]> = zset.iter().map(|(m, _)| m).collect();
                lex_span_of_pack(&members, min, max, reverse)
            }
            Interval::Lex(min, max) => {
                (zset.count_before(|_, m| min.below(m)), zset.count_before(|_, m| max.within(m)))
            }
        };
        (start, end.max(start))
    }
}

/// A lex range over a listpack, found as Redis finds it: nothing when the
/// last member is below `min` or the first above `max`; otherwise from the
/// first member at or past `min` (the last within `max` when walking in
/// reverse) for as long as members stay inside. With one score throughout
/// (what BYLEX is for) this is simply the members between the bounds; with
/// mixed scores it is what Redis's listpack walk returns. (Redis's
/// skiplist answers those by a randomised descent, so the tree form uses
/// plain binary searches.)
pub(super) fn lex_span_of_pack(members: &[&[u8]], min: LexBound, max: LexBound, reverse: bool) -> (usize, usize) {
    let (Some(first), Some(last)) = (members.first(), members.last()) else { return (0, 0) };
    if min.below(last) || !max.within(first) {
        return (0, 0);
    }
    if reverse {
        let end = members.len() - members.iter().rev().take_while(|m| !max.within(m)).count();
        let start = end - members[..end].iter().rev().take_while(|m| !min.below(m)).count();
        (start, end)
    } else {
        let start = members.iter().take_while(|m| min.below(m)).count();
        let end = start + members[start..].iter().take_while(|m| max.within(m)).count();
        (start, end)
    }
}

/// Reads `min max` as a score or lex interval.
pub(super) fn interval<'a>(min: &'a [u8], max: &'a [u8], lex: bool) -> Result<Interval<'a>, Error> {
    if lex {
        Ok(Interval::Lex(lex_bound(min)?, lex_bound(max)?))
    } else {
        Ok(Interval::Score(score_bound(min)?, score_bound(max)?))
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum By {
    Rank,
    Score,
    Lex,
}

/// Everything a ZRANGE-family command asked for, read before any data.
pub(super) struct RangeRequest<'a> {
    by: By,
    pub(super) reverse: bool,
    pub(super) with_scores: bool,
    /// LIMIT offset count (count < 0: no limit).
    offset: i64,
    count: i64,
    start: &'a [u8],
    stop: &'a [u8],
}

/// Reads ZRANGE's arguments from `at` (the start argument) on. `by` and
/// `reverse` are fixed by the older commands (ZRANGEBYSCORE, ...), which
/// then refuse BYSCORE, BYLEX and REV as ZRANGE would refuse a repeat.
pub(super) fn range_request<'a>(
    ctx: &Ctx<'a, '_>,
    at: usize,
    by: Option<By>,
    reverse: Option<bool>,
    store: bool,
) -> Result<RangeRequest<'a>, Error> {
    let args = ctx.args;
    let (mut by_opt, mut rev_opt) = (by, reverse);
    let (mut with_scores, mut offset, mut count) = (false, 0, -1);
    let mut j = at + 2;
    while j < args.len() {
        let opt = args.get(j);
        let left = args.len() - j - 1;
        if !store && is(opt, "withscores") {
            with_scores = true;
        } else if is(opt, "limit") && left >= 2 {
            offset = args::int(args.get(j + 1))?;
            count = args::int(args.get(j + 2))?;
            j += 2;
        } else if rev_opt.is_none() && is(opt, "rev") {
            rev_opt = Some(true);
        } else if by_opt.is_none() && is(opt, "bylex") {
            by_opt = Some(By::Lex);
        } else if by_opt.is_none() && is(opt, "byscore") {
            by_opt = Some(By::Score);
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let by = by_opt.unwrap_or(By::Rank);
    if with_scores && by == By::Lex {
        return Err(Error::WithScoresWithByLex);
    }
    // Redis looks at the count only: `LIMIT 5 -1` passes with a rank range
    // (and is ignored).
    if count != -1 && by == By::Rank {
        return Err(Error::LimitNeedsByScoreOrLex);
    }
    let reverse = rev_opt.unwrap_or(false);
    // With REV, score and lex ranges are written max first.
    let (mut start, mut stop) = (args.get(at), args.get(at + 1));
    if reverse && by != By::Rank {
        std::mem::swap(&mut start, &mut stop);
    }
    Ok(RangeRequest { by, reverse, with_scores, offset, count, start, stop })
}

/// The ranks a range request selects, in reply order: `(first rank, how
/// many)`, walking down from the first rank when `reverse`.
pub(super) fn select(zset: &ZSet, req: &RangeRequest, bounds: Result<(i64, i64), Interval>) -> (usize, usize) {
    let len = zset.len();
    match bounds {
        Ok((start, stop)) => {
            let len = len as i64;
            let start = if start < 0 { (len + start).max(0) } else { start };
            let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
            if start > stop || start >= len {
                return (0, 0);
            }
            let take = (stop - start + 1) as usize;
            let first = if req.reverse { (len - 1 - start) as usize } else { start as usize };
            (first, take)
        }
        Err(range) => {
            let (lo, hi) = range.ranks(zset, req.reverse);
            let total = hi - lo;
            if req.offset < 0 || req.offset as u64 >= total as u64 {
                return (0, 0);
            }
            let skip = req.offset as usize;
            let mut take = total - skip;
            if req.count >= 0 {
                take = take.min(req.count as usize);
            }
            let first = if req.reverse { hi - 1 - skip } else { lo + skip };
            (first, take)
        }
    }
}

/// Parses the bounds of a request: ranks for BY rank (Ok), an interval
/// otherwise (Err).
pub(super) fn request_bounds<'a>(req: &RangeRequest<'a>) -> Result<Result<(i64, i64), Interval<'a>>, Error> {
    Ok(match req.by {
        By::Rank => Ok((args::int(req.start)?, args::int(req.stop)?)),
        By::Score => Err(interval(req.start, req.stop, false)?),
        By::Lex => Err(interval(req.start, req.stop, true)?),
    })
}
