//! The sorted set type: members with scores, ordered by (score, member).
//! A B-tree keeps the order (O(log n) insert, delete and range walks) and a
//! hash map finds a member's score; OBJECT ENCODING reports "listpack"
//! until zset-max-listpack-entries/value are passed, then "skiplist", as
//! Redis converts. Ranks are found by walking the tree (O(rank)); an
//! order-statistic structure is left for the performance work.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

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

#[derive(Debug, Clone, Default)]
pub struct ZSet {
    order: BTreeSet<(Score, Box<[u8]>)>,
    scores: HashMap<Box<[u8]>, f64, ahash::RandomState>,
    /// Past the listpack limits once (Redis never converts back).
    skiplist: bool,
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        if self.skiplist {
            "skiplist"
        } else {
            "listpack"
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score; returns the previous one.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: ZSetLimits) -> Option<f64> {
        // A listpack stores integral scores as integers, so -0 reads back 0.
        let score = if score == 0.0 { 0.0 } else { score };
        let old = self.scores.insert(member.into(), score);
        if let Some(old) = old {
            self.order.remove(&(Score(old), member.into()));
        }
        self.order.insert((Score(score), member.into()));
        if self.len() > limits.max_entries || member.len() > limits.max_value {
            self.skiplist = true;
        }
        old
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.remove(member)?;
        self.order.remove(&(Score(score), member.into()));
        Some(score)
    }

    /// Members in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        self.order.iter().map(|(s, m)| (&**m, s.0))
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.order.range(..(Score(score), Box::from(member))).count())
    }

    /// Removes and returns up to `count` members from the low end (or the
    /// high end with `max`).
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Box<[u8]>, f64)> {
        let mut out = Vec::with_capacity(count.min(self.len()));
        while out.len() < count {
            let entry = if max { self.order.pop_last() } else { self.order.pop_first() };
            let Some((score, member)) = entry else { break };
            self.scores.remove(&member);
            out.push((member, score.0));
        }
        out
    }

    pub fn heap_size(&self) -> usize {
        self.iter().map(|(m, _)| 2 * m.len() + 64).sum()
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
    // 17 significant digits, correctly rounded, then %g's choice of form.
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("scientific form");
    let exp: i32 = exp.parse().expect("exponent");
    if !(-4..17).contains(&exp) {
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let fixed = format!("{v:.*}", (16 - exp) as usize);
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

    #[test]
    fn ordered_by_score_then_member() {
        let mut z = ZSet::default();
        z.insert(b"b", 1.0, LIMITS);
        z.insert(b"a", 1.0, LIMITS);
        z.insert(b"c", -2.0, LIMITS);
        assert_eq!(
            z.iter().map(|(m, _)| m.to_vec()).collect::<Vec<_>>(),
            vec![b"c".to_vec(), b"a".to_vec(), b"b".to_vec()]
        );
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
        assert_eq!(format_score(1e17), "1e+17");
    }
}
