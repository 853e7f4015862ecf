//! The sorted set type: members with scores, ordered by (score, member).
//!
//! Small sets are a listpack, as in Redis: one allocation holding member,
//! score, member, score... in order, scanned linearly (the size limits
//! zset-max-listpack-entries/value bound the scan). Past a limit the set
//! becomes a "skiplist" (Redis's name, which OBJECT ENCODING reports): an
//! order-statistic B+tree for order and rank plus a hash table from member
//! to score. Like Redis, a set never converts back by itself; a stored
//! result (ZUNIONSTORE, ZRANGESTORE, ...) is built anew under the limits, so
//! it gets the encoding its size calls for.

use std::cmp::Ordering;

use super::dict::Dict;
use super::pack::Pack;
use super::ranked::{self, RankedSet};

/// A score with the total order Redis uses (scores are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).expect("scores are never NaN")
    }
}

/// When a sorted set leaves the listpack encoding.
#[derive(Debug, Clone, Copy)]
pub struct ZSetLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

/// A score in a pack: its IEEE bits, big-endian, trailing zero bytes
/// dropped (small integers and halves take 1-3 bytes).
fn encode_score(score: f64) -> ([u8; 8], usize) {
    let bytes = score.to_bits().to_be_bytes();
    let len = 8 - bytes.iter().rev().take_while(|&&b| b == 0).count();
    (bytes, len)
}

/// A listpack holds integral scores as integers, so a -0 stored there
/// reads back as 0 (a skiplist keeps -0, as Redis's does).
fn pack_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

fn decode_score(bytes: &[u8]) -> f64 {
    let mut full = [0u8; 8];
    full[..bytes.len()].copy_from_slice(bytes);
    f64::from_bits(u64::from_be_bytes(full))
}

/// A pack's entries: (offset of the member, member, score).
fn pack_entries(p: &Pack) -> impl Iterator<Item = (usize, &[u8], f64)> {
    let mut it = p.iter();
    std::iter::from_fn(move || {
        let (at, member) = it.next()?;
        let (_, score) = it.next().expect("members and scores come in pairs");
        Some((at, member, decode_score(score)))
    })
}

fn before(a: (f64, &[u8]), b: (f64, &[u8])) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
}

type Key = (Score, Box<[u8]>);

#[derive(Debug, Default)]
pub struct Tree {
    order: RankedSet<Key>,
    scores: Dict<f64>,
}

#[derive(Debug)]
pub enum ZSet {
    Pack(Pack),
    /// Boxed: every value in the keyspace is as large as the largest form.
    Tree(Box<Tree>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::new())
    }
}

impl Clone for ZSet {
    fn clone(&self) -> Self {
        match self {
            ZSet::Pack(p) => ZSet::Pack(p.clone()),
            ZSet::Tree(t) => {
                let mut scores = Dict::new();
                for (m, s) in t.scores.iter() {
                    scores.insert_new(m, *s);
                }
                ZSet::Tree(Box::new(Tree { order: t.order.clone(), scores }))
            }
        }
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl ZSet {
    /// An empty sorted set about to receive `n` members: the tree form,
    /// its score table sized at once, when that many could not stay a
    /// listpack.
    pub fn sized(n: usize, limits: ZSetLimits) -> ZSet {
        if n > limits.max_entries {
            let mut tree = Tree::default();
            tree.scores.reserve(n);
            ZSet::Tree(Box::new(tree))
        } else {
            ZSet::default()
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len() / 2,
            ZSet::Tree(t) => t.order.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Tree(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => pack_entries(p).find(|e| e.1 == member).map(|e| e.2),
            ZSet::Tree(t) => t.scores.peek(member).copied(),
        }
    }

    /// Moves to the tree form.
    fn convert(&mut self) {
        let ZSet::Pack(p) = self else { return };
        let mut tree = Tree::default();
        for (_, member, score) in pack_entries(p) {
            tree.order.insert((Score(score), member.into()));
            tree.scores.insert_new(member, score);
        }
        *self = ZSet::Tree(Box::new(tree));
    }

    /// Sets `member`'s score; returns the previous one.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: ZSetLimits) -> Option<f64> {
        if let ZSet::Pack(p) = self {
            if member.len() > limits.max_value || p.len() / 2 >= limits.max_entries {
                let present = pack_entries(p).any(|e| e.1 == member);
                if member.len() > limits.max_value || !present {
                    self.convert();
                }
            }
        }
        match self {
            ZSet::Pack(p) => {
                let old = pack_entries(p).find(|e| e.1 == member).map(|e| (e.0, e.2));
                if let Some((at, _)) = old {
                    p.remove(at, 2);
                }
                let at = pack_entries(p).find(|e| before((score, member), (e.2, e.1))).map_or(p.byte_len(), |e| e.0);
                let (bytes, len) = encode_score(pack_score(score));
                p.insert(at, &[member, &bytes[..len]]);
                old.map(|o| o.1)
            }
            ZSet::Tree(t) => {
                let old = t.scores.insert(member, score);
                if let Some(old) = old {
                    t.order.remove(&(Score(old), member.into()));
                }
                t.order.insert((Score(score), member.into()));
                old
            }
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => {
                let (at, _, score) = pack_entries(p).find(|e| e.1 == member)?;
                p.remove(at, 2);
                Some(score)
            }
            ZSet::Tree(t) => {
                let score = t.scores.remove(member)?;
                t.order.remove(&(Score(score), member.into()));
                Some(score)
            }
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_before(|s, m| before((s, m), (score, member))))
    }

    /// How many members satisfy `before`, which must hold for a prefix of
    /// the members in order and for none after it (a score or lex bound).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => pack_entries(p).take_while(|e| before(e.2, e.1)).count(),
            ZSet::Tree(t) => t.order.partition_point(|k| before(k.0 .0, &k.1)),
        }
    }

    /// Members from rank `from` on, upwards or (with `reverse`) down to
    /// rank 0; nothing when there is no rank `from`.
    pub fn range(&self, from: usize, reverse: bool) -> Range<'_> {
        match self {
            ZSet::Pack(p) => {
                let mut items: Vec<(&[u8], f64)> = pack_entries(p).map(|e| (e.1, e.2)).collect();
                if from >= items.len() {
                    items.clear();
                } else if reverse {
                    items.truncate(from.saturating_add(1));
                    items.reverse();
                } else {
                    items.drain(..from.min(items.len()));
                }
                Range::Pack(items.into_iter())
            }
            ZSet::Tree(t) => Range::Tree(t.order.iter_from(from, reverse)),
        }
    }

    /// Members in ascending order.
    pub fn iter(&self) -> Range<'_> {
        self.range(0, false)
    }

    /// Removes the members with ranks `start..end`; returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match self {
            ZSet::Pack(p) => {
                let at = pack_entries(p).nth(start).expect("start is in range").0;
                p.remove(at, 2 * (end - start));
            }
            ZSet::Tree(t) => {
                for _ in start..end {
                    let (_, member) = t.order.remove_at(start).expect("rank is in range");
                    t.scores.remove(&member);
                }
            }
        }
        end - start
    }

    /// Removes and returns up to `count` members from the low end (or the
    /// high end with `max`).
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Box<[u8]>, f64)> {
        let take = count.min(self.len());
        let from = if max { self.len() - take } else { 0 };
        let mut out: Vec<(Box<[u8]>, f64)> = self.range(from, false).take(take).map(|(m, s)| (m.into(), s)).collect();
        self.remove_ranks(from, from + take);
        if max {
            out.reverse();
        }
        out
    }

    /// One step of ZSCAN: a listpack is returned whole (cursor 0 next), a
    /// table one bucket chain at a time with the keyspace's cursor rules.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Pack(p) => {
                for (_, m, s) in pack_entries(p) {
                    visit(m, s);
                }
                0
            }
            ZSet::Tree(t) => t.scores.scan(cursor, |m, s| visit(m, *s)),
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.heap_size(),
            ZSet::Tree(t) => t.scores.heap_size(|_| 0) + t.scores.iter().map(|(m, _)| 32 + m.len()).sum::<usize>(),
        }
    }
}

/// A walk over a sorted set's members with their scores.
pub enum Range<'a> {
    Pack(std::vec::IntoIter<(&'a [u8], f64)>),
    Tree(ranked::Iter<'a, Key>),
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Range::Pack(it) => it.next(),
            Range::Tree(it) => it.next().map(|(s, m)| (&**m, s.0)),
        }
    }
}

/// A score as Redis prints it: `%.17g`, with `inf` and `-inf`.
pub fn format_score(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Integers print as themselves (they have at most 16 digits below
    // 1e15, so %.17g adds nothing); this skips the slow exact formatting
    // for the common case.
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return (v as i64).to_string();
    }
    format_general(v, 17)
}

/// `%.<digits>g` of a finite number: `digits` significant digits, correctly
/// rounded, fixed or scientific as %g chooses, trailing zeros dropped.
pub fn format_general(v: f64, digits: usize) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{v:.*e}", digits - 1);
    let (mantissa, exp) = sci.split_once('e').expect("scientific form");
    let exp: i32 = exp.parse().expect("exponent");
    if exp < -4 || exp >= digits as i32 {
        let mantissa =
            if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
        return format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let fixed = format!("{v:.*}", (digits as i32 - 1 - exp) as usize);
    if fixed.contains('.') {
        fixed.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        fixed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ZSetLimits = ZSetLimits { max_entries: 3, max_value: 8 };

    fn members(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    #[test]
    fn ordered_by_score_then_member() {
        let mut z = ZSet::default();
        z.insert(b"b", 1.0, LIMITS);
        z.insert(b"a", 1.0, LIMITS);
        z.insert(b"c", -2.0, LIMITS);
        assert_eq!(members(&z), vec![(b"c".to_vec(), -2.0), (b"a".to_vec(), 1.0), (b"b".to_vec(), 1.0)]);
        assert_eq!(z.rank(b"b"), Some(2));
        assert_eq!(z.insert(b"c", 5.0, LIMITS), Some(-2.0));
        assert_eq!(z.rank(b"c"), Some(2));
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"d", 0.0, LIMITS);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.pop(2, false).len(), 2);
        assert_eq!(z.remove(b"c"), Some(5.0));
        assert_eq!(z.len(), 1);
    }

    #[test]
    fn both_encodings_agree() {
        let big = ZSetLimits { max_entries: 1000, max_value: 64 };
        let (mut pack, mut tree) = (ZSet::default(), ZSet::default());
        tree.convert();
        for i in 0..300u32 {
            let member = format!("m{}", i.wrapping_mul(7919) % 97);
            let score = f64::from(i % 13) - 6.5;
            assert_eq!(pack.insert(member.as_bytes(), score, big), tree.insert(member.as_bytes(), score, big));
            if i % 5 == 0 {
                let gone = format!("m{}", i % 97);
                assert_eq!(pack.remove(gone.as_bytes()), tree.remove(gone.as_bytes()));
            }
        }
        assert_eq!((pack.encoding(), tree.encoding()), ("listpack", "skiplist"));
        assert_eq!(members(&pack), members(&tree));
        assert_eq!(pack, tree);
        for from in [0, 1, 10, pack.len() - 1, pack.len(), pack.len() + 3] {
            for rev in [false, true] {
                assert!(pack.range(from, rev).eq(tree.range(from, rev)), "from {from} rev {rev}");
            }
        }
        let bound = |s: f64, _: &[u8]| s < 0.5;
        assert_eq!(pack.count_before(bound), tree.count_before(bound));
        assert_eq!(pack.remove_ranks(3, 9), tree.remove_ranks(3, 9));
        assert_eq!(pack.pop(4, true), tree.pop(4, true));
        assert_eq!(members(&pack), members(&tree));
    }

    #[test]
    fn scores_pack_exactly() {
        for v in [0.0, 1.0, -1.5, 0.1, 1e300, f64::INFINITY, f64::NEG_INFINITY, f64::MIN_POSITIVE] {
            let (bytes, len) = encode_score(v);
            assert_eq!(decode_score(&bytes[..len]).to_bits(), v.to_bits());
        }
        assert_eq!(encode_score(1.0).1, 2);
    }

    #[test]
    fn scores_print_like_printf_g17() {
        assert_eq!(format_score(1.0), "1");
        assert_eq!(format_score(2.5), "2.5");
        assert_eq!(format_score(2.5 + 0.1), "2.6000000000000001");
        assert_eq!(format_score(0.1), "0.10000000000000001");
        assert_eq!(format_score(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(format_score(1e-5), "1.0000000000000001e-05");
        assert_eq!(format_score(-1e300), "-1.0000000000000001e+300");
        assert_eq!(format_score(f64::INFINITY), "inf");
        assert_eq!(format_score(-0.0), "-0");
        assert_eq!(format_score(1e16), "10000000000000000");
        assert_eq!(format_score(-42.0), "-42");
        assert_eq!(format_score(999999999999999.0), "999999999999999");
        assert_eq!(format_score(1e15), "1000000000000000");
        assert_eq!(format_score(1e17), "1e+17");
    }
}
