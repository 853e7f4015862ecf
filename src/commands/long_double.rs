//! Redis's INCRBYFLOAT arithmetic, reproduced exactly: Redis parses with
//! `strtold`, adds in the x87 80-bit `long double` (64-bit significand,
//! round to nearest even) and prints with `%.17Lf` before trimming trailing
//! zeros. Rust has no such type, so this module emulates it with exact
//! big-integer arithmetic: every result is the correctly rounded one, as the
//! hardware's would be.

use std::cmp::Ordering;

/// Longest text Redis reads as a long double (MAX_LONG_DOUBLE_CHARS).
const MAX_CHARS: usize = 5 * 1024;
/// Exponent range of the 80-bit format for `mant * 2^exp` with a 64-bit
/// significand: the largest finite value is just under 2^16384, the
/// smallest subnormal is 2^-16445.
const EXP_MAX: i64 = 16384 - 64;
const EXP_MIN: i64 = -16445;

/// A little-endian unsigned big integer with just the operations needed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros() as u64),
        }
    }

    fn bit(&self, i: u64) -> bool {
        self.0.get((i / 32) as usize).is_some_and(|limb| limb >> (i % 32) & 1 == 1)
    }

    /// True when any of the bits below `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let whole = (i / 32) as usize;
        self.0.iter().take(whole).any(|&l| l != 0)
            || (!i.is_multiple_of(32) && self.0.get(whole).is_some_and(|&l| l & ((1u32 << (i % 32)) - 1) != 0))
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in self.0.iter_mut() {
            let v = *limb as u64 * m as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = a as u64;
        for limb in self.0.iter_mut() {
            if carry == 0 {
                return;
            }
            let v = *limb as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    /// Divides in place; returns the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let v = (rem << 32) | *limb as u64;
            *limb = (v / d as u64) as u32;
            rem = v % d as u64;
        }
        self.trim();
        rem as u32
    }

    fn shl(&mut self, n: u64) {
        if self.is_zero() {
            return;
        }
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        if bits > 0 {
            let mut carry = 0u32;
            for limb in self.0.iter_mut() {
                let v = *limb;
                *limb = (v << bits) | carry;
                carry = v >> (32 - bits);
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        self.0.splice(0..0, std::iter::repeat_n(0, limbs));
    }

    fn shr(&mut self, n: u64) {
        let limbs = ((n / 32) as usize).min(self.0.len());
        self.0.drain(..limbs);
        let bits = (n % 32) as u32;
        if bits > 0 {
            let mut carry = 0u32;
            for limb in self.0.iter_mut().rev() {
                let v = *limb;
                *limb = (v >> bits) | carry;
                carry = v << (32 - bits);
            }
        }
        self.trim();
    }

    fn low_u64(&self) -> u64 {
        self.0.first().copied().unwrap_or(0) as u64 | (self.0.get(1).copied().unwrap_or(0) as u64) << 32
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn add(&mut self, other: &Big) {
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            if i == self.0.len() {
                self.0.push(0);
            }
            let v = self.0[i] as u64 + other.0.get(i).copied().unwrap_or(0) as u64 + carry;
            self.0[i] = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self - other`, for `self >= other`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let v = self.0[i] as i64 - other.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            borrow = (v < 0) as i64;
            self.0[i] = v.rem_euclid(1 << 32) as u32;
        }
        self.trim();
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut s = chunks.pop().expect("not zero").to_string();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

/// A long double value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LongDouble {
    /// `(-1)^neg * mant * 2^exp`; `mant` is 0 for a (signed) zero.
    Finite {
        neg: bool,
        mant: u64,
        exp: i64,
    },
    Infinite {
        neg: bool,
    },
}

/// Rounds `|v| * 2^exp` (plus a sticky flag for discarded non-zero bits)
/// to a 64-bit significand, to nearest even, as the x87 unit does.
fn round(neg: bool, mut v: Big, mut exp: i64, mut sticky: bool) -> LongDouble {
    if v.is_zero() {
        return LongDouble::Finite { neg, mant: 0, exp: 0 };
    }
    let bits = v.bits() as i64;
    // Keep 64 bits, or fewer for a subnormal result.
    let mut drop = (bits - 64).max(EXP_MIN - exp);
    if drop < 0 {
        v.shl((-drop) as u64);
        exp += drop;
        drop = 0;
    }
    let drop = drop as u64;
    let (half, below) = if drop == 0 { (false, false) } else { (v.bit(drop - 1), v.any_below(drop - 1)) };
    sticky |= below;
    v.shr(drop);
    exp += drop as i64;
    let mut mant = v.low_u64();
    if half && (sticky || mant & 1 == 1) {
        mant = mant.wrapping_add(1);
        if mant == 0 {
            mant = 1 << 63;
            exp += 1;
        }
    }
    if exp > EXP_MAX {
        return LongDouble::Infinite { neg };
    }
    LongDouble::Finite { neg, mant, exp }
}

/// The exponent that ends a number: empty, or `marker` (either case), an
/// optional sign and digits. Huge exponents saturate: they overflow or
/// underflow anyway.
fn exponent(text: &[u8], marker: u8) -> Option<i64> {
    let Some((&first, rest)) = text.split_first() else { return Some(0) };
    if first.to_ascii_lowercase() != marker {
        return None;
    }
    let rest = std::str::from_utf8(rest).ok()?;
    let unsigned = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude: i64 = unsigned.parse().unwrap_or(1_000_000).min(1_000_000);
    Some(if rest.starts_with('-') { -magnitude } else { magnitude })
}

/// strtold's hexadecimal form after `0x`: hex digits with an optional
/// point, then an optional binary exponent `p[+-]N`.
fn parse_hex(neg: bool, text: &[u8]) -> Option<LongDouble> {
    let mut mant = Big(Vec::new());
    let mut exp2: i64 = 0;
    let (mut any, mut seen_dot, mut i) = (false, false, 0);
    while i < text.len() {
        match text[i] {
            b'.' if !seen_dot => seen_dot = true,
            c if c.is_ascii_hexdigit() => {
                any = true;
                mant.mul_small(16);
                mant.add_small((c as char).to_digit(16).expect("hex digit"));
                if seen_dot {
                    exp2 -= 4;
                }
            }
            _ => break,
        }
        i += 1;
    }
    if !any {
        return None;
    }
    exp2 += exponent(&text[i..], b'p')?;
    if mant.is_zero() {
        return Some(LongDouble::Finite { neg, mant: 0, exp: 0 });
    }
    match round(neg, mant, exp2, false) {
        LongDouble::Finite { mant: 0, .. } | LongDouble::Infinite { .. } => None,
        v => Some(v),
    }
}

impl LongDouble {
    /// Reads a value the way Redis's `string2ld` does: the whole text must
    /// be a number, with no leading space; NaN, overflow, and a non-zero
    /// number that underflows to zero are refused.
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty() || text.len() >= MAX_CHARS {
            return None;
        }
        // Redis also checks that strtold read every byte, so an embedded
        // NUL makes the text invalid.
        if text.contains(&0) {
            return None;
        }
        let (neg, rest) = match text.first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let lower = rest.to_ascii_lowercase();
        if lower == b"inf" || lower == b"infinity" {
            return Some(LongDouble::Infinite { neg });
        }
        if lower.starts_with(b"0x") {
            return parse_hex(neg, &rest[2..]);
        }
        let mut digits = Big(Vec::new());
        let mut any_digit = false;
        let mut nonzero = false;
        let mut exp10: i64 = 0;
        let mut i = 0;
        let mut seen_dot = false;
        while i < rest.len() {
            match rest[i] {
                c @ b'0'..=b'9' => {
                    any_digit = true;
                    if c != b'0' {
                        nonzero = true;
                    }
                    // Digits past what can matter only need to be known
                    // non-zero; keep them all: inputs are at most 5 KiB.
                    digits.mul_small(10);
                    digits.add_small((c - b'0') as u32);
                    if seen_dot {
                        exp10 -= 1;
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                _ => break,
            }
            i += 1;
        }
        if !any_digit {
            return None;
        }
        exp10 += exponent(&rest[i..], b'e')?;
        let digits_len = digits.to_decimal().len() as i64;
        if !nonzero {
            return Some(LongDouble::Finite { neg, mant: 0, exp: 0 });
        }
        // Far outside the range: overflow or underflow, both refused.
        if exp10 + digits_len > 4934 || exp10 + digits_len < -4952 {
            return None;
        }
        let value = if exp10 >= 0 {
            for _ in 0..exp10 {
                digits.mul_small(10);
            }
            round(neg, digits, 0, false)
        } else {
            // digits / 10^d: scale up by 2^k so the quotient keeps 66+ bits.
            let d = -exp10;
            let k = (66 + (d as f64 * std::f64::consts::LOG2_10).ceil() as i64 - digits.bits() as i64 + 2).max(0);
            digits.shl(k as u64);
            let mut sticky = false;
            for _ in 0..d {
                sticky |= digits.div_small(10) != 0;
            }
            round(neg, digits, -k, sticky)
        };
        match value {
            LongDouble::Infinite { .. } => None,
            LongDouble::Finite { mant: 0, .. } => None,
            v => Some(v),
        }
    }

    /// `ceil(self * 1000)` when it fits an i64: a timeout in seconds
    /// turned into milliseconds, as Redis rounds it.
    pub fn ceil_millis(&self) -> Option<i64> {
        let LongDouble::Finite { neg, mant, exp } = *self else { return None };
        let scaled = mant as u128 * 1000;
        let (whole, fraction) = if exp >= 0 {
            if exp as u32 >= scaled.leading_zeros() {
                return None;
            }
            (scaled << exp, false)
        } else if exp <= -128 {
            (0, scaled != 0)
        } else {
            let shift = (-exp) as u32;
            (scaled >> shift, scaled & ((1u128 << shift) - 1) != 0)
        };
        if neg {
            // The ceiling of a negative value drops its fraction.
            i64::try_from(whole).ok().map(|w| -w)
        } else {
            i64::try_from(whole + fraction as u128).ok()
        }
    }

    /// True for a finite value (not an infinity).
    pub fn is_finite(&self) -> bool {
        matches!(self, LongDouble::Finite { .. })
    }
}

impl std::ops::Add for LongDouble {
    type Output = LongDouble;

    /// The correctly rounded sum. Infinity minus infinity, NaN in hardware,
    /// comes out as an infinity: either way not finite, which callers refuse.
    fn add(self, other: LongDouble) -> LongDouble {
        use LongDouble::*;
        match (self, other) {
            (Infinite { neg }, _) | (_, Infinite { neg }) => Infinite { neg },
            (Finite { neg: na, mant: 0, .. }, Finite { neg: nb, mant: 0, .. }) => {
                Finite { neg: na && nb, mant: 0, exp: 0 }
            }
            (Finite { mant: 0, .. }, b) => b,
            (a, Finite { mant: 0, .. }) => a,
            (Finite { neg: na, mant: ma, exp: ea }, Finite { neg: nb, mant: mb, exp: eb }) => {
                // An operand more than 130 binary places smaller cannot move
                // the rounded result.
                if ea - eb > 130 {
                    return self;
                }
                if eb - ea > 130 {
                    return other;
                }
                let e = ea.min(eb);
                let mut a = Big::from_u64(ma);
                a.shl((ea - e) as u64);
                let mut b = Big::from_u64(mb);
                b.shl((eb - e) as u64);
                if na == nb {
                    a.add(&b);
                    round(na, a, e, false)
                } else {
                    match a.cmp(&b) {
                        Ordering::Equal => Finite { neg: false, mant: 0, exp: 0 },
                        Ordering::Greater => {
                            a.sub(&b);
                            round(na, a, e, false)
                        }
                        Ordering::Less => {
                            b.sub(&a);
                            round(nb, b, e, false)
                        }
                    }
                }
            }
        }
    }
}

impl LongDouble {
    /// `%.17Lf` with trailing zeros (and a trailing dot) removed, as Redis
    /// prints INCRBYFLOAT results. Finite values only.
    pub fn format(&self) -> String {
        let LongDouble::Finite { neg, mant, exp } = *self else {
            return if self.is_negative() { "-inf" } else { "inf" }.into();
        };
        let mut n = Big::from_u64(mant);
        for _ in 0..17 {
            n.mul_small(10);
        }
        if exp >= 0 {
            n.shl(exp as u64);
        } else {
            let shift = (-exp) as u64;
            let half = n.bit(shift - 1);
            let sticky = n.any_below(shift - 1);
            n.shr(shift);
            if half && (sticky || n.bit(0)) {
                n.add_small(1);
            }
        }
        let digits = n.to_decimal();
        let digits = format!("{digits:0>18}");
        let (int, frac) = digits.split_at(digits.len() - 17);
        let mut s = format!("{}{int}.{frac}", if neg { "-" } else { "" });
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
        if s == "-0" {
            s.remove(0);
        }
        s
    }

    fn is_negative(&self) -> bool {
        match *self {
            LongDouble::Finite { neg, .. } | LongDouble::Infinite { neg } => neg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let x = LongDouble::parse(a.as_bytes()).unwrap();
        let y = LongDouble::parse(b.as_bytes()).unwrap();
        (x + y).format()
    }

    /// Each expectation is what Redis 7.0 (x87 long double) answers.
    #[test]
    fn sums_match_redis() {
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("5.6", "5.0e3"), "5005.60000000000000009");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("3", "1.5"), "4.5");
        assert_eq!(incr("4.5", "-1.5"), "3");
        let big = "99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048";
        assert_eq!(incr("1.5", "1e308"), big);
        assert_eq!(incr("0", "0"), "0");
        assert_eq!(incr("1", "-1"), "0");
        assert_eq!(incr("0", "100000000000000000008"), "100000000000000000008");
    }

    #[test]
    fn parsing_follows_string2ld() {
        assert!(LongDouble::parse(b"abc").is_none());
        assert!(LongDouble::parse(b" 1").is_none());
        assert!(LongDouble::parse(b"1 ").is_none());
        assert!(LongDouble::parse(b"nan").is_none());
        assert!(LongDouble::parse(b"1e").is_none());
        assert!(LongDouble::parse(b"1e99999").is_none(), "overflow");
        assert!(LongDouble::parse(b"1e-99999").is_none(), "underflow to zero");
        assert!(LongDouble::parse(b".").is_none());
        assert_eq!(LongDouble::parse(b"inf"), Some(LongDouble::Infinite { neg: false }));
        assert!(LongDouble::parse(b"1.").is_some());
        assert!(LongDouble::parse(b".5").is_some());
        assert!(LongDouble::parse(b"+2").is_some());
        assert!(LongDouble::parse(b"1\0junk").is_none());
        assert_eq!(LongDouble::parse(b"-0").map(|v| v.format()), Some("0".to_string()));
        assert!(LongDouble::parse(b"0x").is_none());
        assert!(LongDouble::parse(b"0xg").is_none());
    }

    #[test]
    fn millis_round_up() {
        let ms = |t: &str| LongDouble::parse(t.as_bytes()).and_then(|v| v.ceil_millis());
        assert_eq!(ms("1"), Some(1000));
        assert_eq!(ms("0.0001"), Some(1));
        assert_eq!(ms("-0.0001"), Some(0));
        assert_eq!(ms("-1.5"), Some(-1500));
        assert_eq!(ms("0x10p-20"), Some(1));
        assert_eq!(ms("9223372036854775.807"), Some(i64::MAX));
        assert_eq!(ms("1e16"), None);
        assert_eq!(ms("1e400"), None);
        assert_eq!(ms("inf"), None);
        assert_eq!(ms("1e-4000"), Some(1));
    }

    #[test]
    fn formats_like_printf() {
        let f = |s: &str| LongDouble::parse(s.as_bytes()).unwrap().format();
        assert_eq!(f("1e20"), "100000000000000000000");
        assert_eq!(f("1.25"), "1.25");
        assert_eq!(f("-0.000000000000000001"), "0", "Redis never prints -0");
        assert_eq!(f("0.000000000000000005"), "0");
        assert_eq!(f("123456789.123456789"), "123456789.12345678899873747");
        assert_eq!(f("0x10"), "16");
        assert_eq!(f("0x1.8p1"), "3");
        assert_eq!(f("-0x.8"), "-0.5");
    }
}
