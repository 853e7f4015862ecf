//! Argument parsing shared by every family: integers and floats with
//! Redis's strictness, option keywords, and the cursor option parsers use.

use super::Error;
use crate::resp::request::parse_i64;
use crate::resp::Args;

/// An integer argument (`ERR value is not an integer or out of range`).
pub fn int(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or(Error::NotInteger)
}

/// A float argument as Redis's strtold check accepts it: no spaces, no NaN.
pub fn float(arg: &[u8]) -> Result<f64, Error> {
    let s = std::str::from_utf8(arg).map_err(|_| Error::NotFloat)?;
    if s.is_empty()
        || s.starts_with(|c: char| c.is_ascii_whitespace())
        || s.ends_with(|c: char| c.is_ascii_whitespace())
    {
        return Err(Error::NotFloat);
    }
    let v: f64 = s.parse().map_err(|_| Error::NotFloat)?;
    if v.is_nan() {
        return Err(Error::NotFloat);
    }
    // strtod reports overflow (1e400) and underflow to zero (1e-400) as
    // range errors, which Redis refuses; a written infinity is fine.
    let mantissa = s.split(['e', 'E']).next().unwrap_or("");
    let overflow = v.is_infinite() && !s.to_ascii_lowercase().contains("inf");
    let underflow = v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if overflow || underflow {
        return Err(Error::NotFloat);
    }
    Ok(v)
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
pub fn scan_options<'a>(ctx: &super::Ctx<'a>, from: usize) -> Result<(Option<&'a [u8]>, usize), Error> {
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
        assert!(float(b"1e400").is_err());
        assert!(float(b"1e-400").is_err());
        assert_eq!(float(b"0e-400"), Ok(0.0));
        assert_eq!(float(b"+inf"), Ok(f64::INFINITY));
    }
}
