//! Argument parsing shared by every family: integers and floats with
//! Redis's strictness, option keywords, and the cursor option parsers use.

use super::Error;
use crate::resp::request::parse_i64;
use crate::resp::Args;

/// An integer argument (`ERR value is not an integer or out of range`).
pub fn int(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or(Error::NotInteger)
}

/// What C's strtod makes of `arg`: the value, how many bytes it read, and
/// whether it reported a range error (overflow, or underflow to 0). Redis
/// reads floats with strtod, so hex floats (`0x1p3`), `infinity` and
/// leading spaces are what they are to it. Like C, it stops at a NUL.
pub fn strtod(arg: &[u8]) -> (f64, usize, bool) {
    let text = arg.split(|&b| b == 0).next().unwrap_or_default();
    let mut owned = Vec::with_capacity(text.len() + 1);
    owned.extend_from_slice(text);
    owned.push(0);
    let start = owned.as_ptr() as *const libc::c_char;
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `owned` is NUL-terminated and outlives the call; strtod only
    // reads it and stores a pointer into it in `end`. errno is this
    // thread's.
    unsafe {
        *libc::__errno_location() = 0;
        let value = libc::strtod(start, &mut end);
        let erange = *libc::__errno_location() == libc::ERANGE;
        (value, end.offset_from(start) as usize, erange)
    }
}

/// A float as Redis's string2d accepts it: strtod reads every byte, no
/// leading space, no range error, no NaN.
pub fn strict_float(arg: &[u8]) -> Option<f64> {
    let (v, read, erange) = strtod(arg);
    let ok = !arg.is_empty() && !arg[0].is_ascii_whitespace() && read == arg.len() && !erange && !v.is_nan();
    ok.then_some(v)
}

/// A float as a bare C strtod check accepts it (score range bounds): it
/// reads the string up to its end or first NUL, and is not NaN.
pub fn loose_float(arg: &[u8]) -> Option<f64> {
    let (v, read, _) = strtod(arg);
    let text_len = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    (read == text_len && !v.is_nan()).then_some(v)
}

/// A float argument (`ERR value is not a valid float`).
pub fn float(arg: &[u8]) -> Result<f64, Error> {
    strict_float(arg).ok_or(Error::NotFloat)
}

/// The most members a negative SRANDMEMBER/HRANDFIELD/ZRANDMEMBER count
/// may ask for. Redis 7.0 tries to build any reply and dies on the huge
/// ones (`ZRANDMEMBER key -9223372036854775807` crashes it); we refuse
/// past this with Redis's out-of-range error instead.
pub const MAX_RANDOM_REPLY: u64 = 1 << 26;

/// The count of SRANDMEMBER, HRANDFIELD and ZRANDMEMBER: any integer but
/// i64::MIN, and a negative one no larger than `MAX_RANDOM_REPLY`.
pub fn random_count(arg: &[u8]) -> Result<i64, Error> {
    let n = int(arg)?;
    if n == i64::MIN {
        return Err(Error::CountOutOfRange);
    }
    if n < 0 && n.unsigned_abs() > MAX_RANDOM_REPLY {
        return Err(Error::ValueOutOfRange);
    }
    Ok(n)
}

/// `key [count [WORD]]` of HRANDFIELD (WITHVALUES) and ZRANDMEMBER
/// (WITHSCORES): the count, and whether `word` was given. With it, a count
/// whose pairs would overflow is out of range, as in Redis.
pub fn random_pairs_options(args: Args, word: &str) -> Result<(Option<i64>, bool), Error> {
    let count = match args.len() {
        2 => None,
        3 | 4 => Some(random_count(args.get(2))?),
        _ => return Err(Error::Syntax),
    };
    let with = match args.len() {
        4 if is(args.get(3), word) => true,
        4 => return Err(Error::Syntax),
        _ => false,
    };
    if with && count.is_some_and(|n| !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n)) {
        return Err(Error::ValueOutOfRange);
    }
    Ok((count, with))
}

/// True when `arg` is `word`, ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Walks option arguments from a start index.
pub struct Cursor<'a> {
    args: Args<'a>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(args: Args<'a>, pos: usize) -> Self {
        Cursor { args, pos }
    }

    pub fn next_arg(&mut self) -> Option<&'a [u8]> {
        if self.pos < self.args.len() {
            self.pos += 1;
            Some(self.args.get(self.pos - 1))
        } else {
            None
        }
    }

    /// The value after an option keyword; a syntax error when missing.
    pub fn value(&mut self) -> Result<&'a [u8], Error> {
        self.next_arg().ok_or(Error::Syntax)
    }

    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }
}

/// Parses `[MATCH pattern] [COUNT count]` from argument `from` on.
pub fn scan_options<'a>(ctx: &super::Ctx<'a, '_>, from: usize) -> Result<(Option<&'a [u8]>, usize), Error> {
    let mut pattern = None;
    let mut count = 10;
    let mut cur = Cursor::new(ctx.args, from);
    while let Some(word) = cur.next_arg() {
        if is(word, "match") {
            pattern = Some(cur.value()?);
        } else if is(word, "count") {
            let n = int(cur.value()?)?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            count = n as usize;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok((pattern, count))
}

/// A SCAN-family cursor argument.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Error> {
    std::str::from_utf8(arg).ok().and_then(|s| s.parse().ok()).ok_or(Error::InvalidCursor)
}

/// The arguments of LMPOP and ZMPOP (and their blocking forms) from the
/// `numkeys` at index `at`: the keys, the side word after them read by
/// `side`, and COUNT (1 when absent). Checked in Redis's order.
pub fn mpop<'a, T>(
    args: Args<'a>,
    at: usize,
    side: impl Fn(&[u8]) -> Result<T, Error>,
) -> Result<(Args<'a>, T, usize), Error> {
    let numkeys = int(args.get(at)).ok().filter(|&n| n > 0).ok_or(Error::NumkeysNotPositive)? as usize;
    // Unlike SINTERCARD, too many keys is a syntax error here.
    if numkeys >= args.len() - at - 1 {
        return Err(Error::Syntax);
    }
    let keys = args.tail(at + 1).head(numkeys);
    let mut next = at + 1 + numkeys;
    let side = side(args.get(next))?;
    next += 1;
    let mut count = None;
    while next < args.len() {
        if count.is_none() && is(args.get(next), "count") && next + 1 < args.len() {
            let n = int(args.get(next + 1)).ok().filter(|&n| n > 0).ok_or(Error::CountNotPositive)?;
            count = Some(n as usize);
            next += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok((keys, side, count.unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(float(b"1.5"), Ok(1.5));
        assert_eq!(float(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(float(b"1e3"), Ok(1000.0));
        assert!(float(b"nan").is_err());
        assert!(float(b" 1").is_err());
        assert!(float(b"").is_err());
        assert!(float(b"abc").is_err());
        assert_eq!(float(b"0x1p3"), Ok(8.0));
        assert_eq!(float(b"infinity"), Ok(f64::INFINITY));
        assert!(float(b"1e400").is_err());
        assert!(float(b"1e-400").is_err());
        assert!(float(b"1 ").is_err());
        assert!(float(b"1\x002").is_err());
        assert_eq!(strtod(b" (1"), (0.0, 0, false));
        assert_eq!(strtod(b" 1"), (1.0, 2, false));
        assert_eq!(loose_float(b"\x00x"), Some(0.0));
        assert_eq!(loose_float(b"2\x00x"), Some(2.0));
        assert_eq!(loose_float(b"1e400"), Some(f64::INFINITY));
        assert_eq!(loose_float(b"1 "), None);
        assert_eq!(loose_float(b"nan"), None);
        assert!(float(b"1e400").is_err());
        assert!(float(b"1e-400").is_err());
        assert_eq!(float(b"0e-400"), Ok(0.0));
        assert_eq!(float(b"+inf"), Ok(f64::INFINITY));
    }
}
