//! Sorted set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms and
//! ZINTERCARD. Inputs may be sorted sets or sets (members score 1); results
//! come sorted by score, then member.

use std::collections::HashMap;

use super::args::{self, is};
use super::flags::*;
use super::zsets::store_result;
use super::{CmdResult, CommandSpec, Ctx, Error, KeySpec};
use crate::cmd;
use crate::store::zset::format_score;
use crate::store::Value;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { keys: KeySpec::counted_at(1), ..cmd!("zunion", -3, READONLY, NONE, zunion, "sorted-set", "6.2.0", "Add multiple sorted sets", "numkeys key... [WEIGHTS weight...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]") },
    CommandSpec { keys: KeySpec::counted_at(1), ..cmd!("zinter", -3, READONLY, NONE, zinter, "sorted-set", "6.2.0", "Intersect multiple sorted sets", "numkeys key... [WEIGHTS weight...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]") },
    CommandSpec { keys: KeySpec::counted_at(1), ..cmd!("zdiff", -3, READONLY, NONE, zdiff, "sorted-set", "6.2.0", "Subtract multiple sorted sets", "numkeys key... [WITHSCORES]") },
    CommandSpec { keys: KeySpec::first_then_counted_at(2), ..cmd!("zunionstore", -4, WRITE | DENYOOM, NONE, zunionstore, "sorted-set", "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", "destination numkeys key... [WEIGHTS weight...] [AGGREGATE SUM|MIN|MAX]") },
    CommandSpec { keys: KeySpec::first_then_counted_at(2), ..cmd!("zinterstore", -4, WRITE | DENYOOM, NONE, zinterstore, "sorted-set", "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "destination numkeys key... [WEIGHTS weight...] [AGGREGATE SUM|MIN|MAX]") },
    CommandSpec { keys: KeySpec::first_then_counted_at(2), ..cmd!("zdiffstore", -4, WRITE | DENYOOM, NONE, zdiffstore, "sorted-set", "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "destination numkeys key...") },
    CommandSpec { keys: KeySpec::counted_at(1), ..cmd!("zintercard", -3, READONLY, NONE, zintercard, "sorted-set", "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", "numkeys key... [LIMIT limit]") },
];

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Folds `value` into `into` as Redis does: a sum that comes out NaN
    /// (inf + -inf) is 0; MIN and MAX keep `into` against a NaN.
    fn fold(self, into: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *into += value;
                if into.is_nan() {
                    *into = 0.0;
                }
            }
            Aggregate::Min => *into = if value < *into { value } else { *into },
            Aggregate::Max => *into = if value > *into { value } else { *into },
        }
    }
}

/// One input of ZUNION and friends: a sorted set, or a set (scores 1).
type Source = Vec<(Vec<u8>, f64)>;

/// Reads the inputs: a missing key is empty, a set counts with score 1,
/// any other type is WRONGTYPE.
fn read_sources(ctx: &mut Ctx, keys: crate::resp::Args) -> Result<Vec<Source>, Error> {
    let now = ctx.now_ms();
    let mut sources = Vec::with_capacity(keys.len());
    for key in keys.iter() {
        let source = match ctx.keys.db(key).read(key, now).map(|e| &e.value) {
            None => Vec::new(),
            Some(Value::ZSet(z)) => z.iter().map(|(m, s)| (m.to_vec(), s)).collect(),
            Some(Value::Set(s)) => s.iter().map(|m| (m.into_owned(), 1.0)).collect(),
            Some(_) => return Err(Error::WrongType),
        };
        sources.push(source);
    }
    Ok(sources)
}

/// The set algebra of ZUNION, ZINTER, ZDIFF (and their STORE forms and
/// ZINTERCARD), argument parsing included.
struct Combine {
    op: SetOp,
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
    limit: usize,
}

/// Reads `numkeys key... [options]` with numkeys at `at`; the sources are
/// read before the options, as Redis does (so WRONGTYPE comes first).
fn parse_combine(
    ctx: &mut Ctx,
    at: usize,
    op: SetOp,
    store: bool,
    card: bool,
) -> Result<(Combine, Vec<Source>), Error> {
    let args = ctx.args;
    let numkeys = args::int(args.get(at))?;
    if numkeys < 1 {
        return Err(Error::AtLeastOneInputKey(ctx.spec.name));
    }
    if numkeys as u64 > (args.len() - at - 1) as u64 {
        return Err(Error::Syntax);
    }
    let numkeys = numkeys as usize;
    let sources = read_sources(ctx, args.tail(at + 1).head(numkeys))?;
    let mut c = Combine { op, weights: vec![1.0; numkeys], aggregate: Aggregate::Sum, with_scores: false, limit: 0 };
    let mut j = at + 1 + numkeys;
    while j < args.len() {
        let (opt, left) = (args.get(j), args.len() - j);
        if op != SetOp::Diff && !card && left > numkeys && is(opt, "weights") {
            for (i, w) in c.weights.iter_mut().enumerate() {
                *w = args::strict_float(args.get(j + 1 + i)).ok_or(Error::WeightNotFloat)?;
            }
            j += 1 + numkeys;
        } else if op != SetOp::Diff && !card && left >= 2 && is(opt, "aggregate") {
            let how = args.get(j + 1);
            c.aggregate = if is(how, "sum") {
                Aggregate::Sum
            } else if is(how, "min") {
                Aggregate::Min
            } else if is(how, "max") {
                Aggregate::Max
            } else {
                return Err(Error::Syntax);
            };
            j += 2;
        } else if !store && !card && is(opt, "withscores") {
            c.with_scores = true;
            j += 1;
        } else if card && left >= 2 && is(opt, "limit") {
            let n = args::int(args.get(j + 1)).ok().filter(|&n| n >= 0).ok_or(Error::LimitNegative)?;
            c.limit = n as usize;
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok((c, sources))
}

impl Combine {
    /// The result, sorted by score then member. For ZINTERCARD, stops at
    /// `limit` members (0: no limit).
    fn run(&self, sources: Vec<Source>) -> Vec<(Vec<u8>, f64)> {
        let weighted = |score: f64, w: f64| {
            let v = score * w;
            if v.is_nan() {
                0.0
            } else {
                v
            }
        };
        let mut out: Vec<(Vec<u8>, f64)> = Vec::new();
        match self.op {
            SetOp::Union => {
                // Smallest inputs first, as Redis folds them (sums round
                // in that order).
                let mut order: Vec<usize> = (0..sources.len()).collect();
                order.sort_by_key(|&i| sources[i].len());
                let mut at: HashMap<Vec<u8>, usize> = HashMap::new();
                for i in order {
                    for (m, s) in &sources[i] {
                        let v = weighted(*s, self.weights[i]);
                        match at.get(m) {
                            Some(&k) => self.aggregate.fold(&mut out[k].1, v),
                            None => {
                                at.insert(m.clone(), out.len());
                                out.push((m.clone(), v));
                            }
                        }
                    }
                }
            }
            SetOp::Inter => {
                let mut order: Vec<usize> = (0..sources.len()).collect();
                order.sort_by_key(|&i| sources[i].len());
                let index: Vec<HashMap<&[u8], f64>> =
                    sources.iter().map(|src| src.iter().map(|(m, s)| (m.as_slice(), *s)).collect()).collect();
                let (first, rest) = order.split_first().expect("at least one input");
                'members: for (m, s) in &sources[*first] {
                    let mut score = weighted(*s, self.weights[*first]);
                    for &i in rest {
                        let Some(v) = index[i].get(m.as_slice()) else { continue 'members };
                        self.aggregate.fold(&mut score, v * self.weights[i]);
                    }
                    out.push((m.clone(), score));
                    if self.limit > 0 && out.len() == self.limit {
                        break;
                    }
                }
            }
            SetOp::Diff => {
                let others: Vec<std::collections::HashSet<&[u8]>> =
                    sources[1..].iter().map(|src| src.iter().map(|(m, _)| m.as_slice()).collect()).collect();
                for (m, s) in &sources[0] {
                    if others.iter().all(|o| !o.contains(m.as_slice())) {
                        out.push((m.clone(), *s));
                    }
                }
            }
        }
        // -0 and 0 are equal here, as in Redis's skiplist.
        out.sort_by(|a, b| a.1.partial_cmp(&b.1).expect("no NaN scores").then_with(|| a.0.cmp(&b.0)));
        out
    }
}

fn combine_reply(ctx: &mut Ctx, op: SetOp) -> CmdResult {
    let (c, sources) = parse_combine(ctx, 1, op, false, false)?;
    let result = c.run(sources);
    ctx.out.array(result.len() * if c.with_scores { 2 } else { 1 });
    for (m, s) in &result {
        ctx.out.bulk(m);
        if c.with_scores {
            ctx.out.bulk(format_score(*s).as_bytes());
        }
    }
    Ok(())
}

fn combine_store(ctx: &mut Ctx, op: SetOp) -> CmdResult {
    let (c, sources) = parse_combine(ctx, 2, op, true, false)?;
    let result = c.run(sources);
    store_result(ctx, ctx.arg(1), result);
    Ok(())
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
fn zunion(ctx: &mut Ctx) -> CmdResult {
    combine_reply(ctx, SetOp::Union)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
fn zinter(ctx: &mut Ctx) -> CmdResult {
    combine_reply(ctx, SetOp::Inter)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff(ctx: &mut Ctx) -> CmdResult {
    combine_reply(ctx, SetOp::Diff)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX]
fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    combine_store(ctx, SetOp::Union)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX]
fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    combine_store(ctx, SetOp::Inter)
}

/// ZDIFFSTORE destination numkeys key [key ...]
fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    combine_store(ctx, SetOp::Diff)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx) -> CmdResult {
    let (c, sources) = parse_combine(ctx, 1, SetOp::Inter, false, true)?;
    ctx.out.int(c.run(sources).len() as i64);
    Ok(())
}
