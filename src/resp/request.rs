//! The resumable RESP2 request parser: multibulk arrays of bulk strings, and
//! inline commands split with Redis's quoting rules.
//!
//! The parser never copies a multibulk argument: it records spans into the
//! connection's read buffer, and keeps its place between reads, so a 500 MB
//! bulk arriving in 16 KiB pieces is scanned once. It enforces Redis's limits
//! and accepts only what Redis accepts.

use std::ops::Range;

/// Longest inline command, and longest `*N` / `$N` header line, Redis accepts
/// before it gives up on finding the end of the line (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Largest multibulk count: Redis rejects counts above INT_MAX.
const MULTIBULK_MAX: i64 = i32::MAX as i64;
/// Before AUTH, Redis refuses multibulk counts above 10 and bulks above 16 KiB.
const UNAUTH_MULTIBULK_MAX: i64 = 10;
const UNAUTH_BULK_MAX: i64 = 16 * 1024;

/// What a client sent that Redis would reject. The error text for each lives
/// in `commands::error`, with every other error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
    TooBigMultibulkCount,
    TooBigBulkCount,
    TooBigInline,
    UnbalancedQuotes,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
}

/// Limits the parser enforces, from the server configuration.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// proto-max-bulk-len
    pub max_bulk_len: usize,
    /// The client has not authenticated yet and a password is required.
    pub auth_required: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_bulk_len: 512 * 1024 * 1024, auth_required: false }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between commands.
    Idle,
    /// Read the `*N` header; `remaining` bulks still to come.
    Multibulk { remaining: usize },
    /// Read a `$N` header; waiting for `len` bytes plus CRLF at `pos`.
    Bulk { remaining: usize, len: usize },
    /// A whole command was returned; its spans are valid until the next call.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Multibulk,
    Inline,
}

/// Parses one command at a time from the front of a buffer that the caller
/// keeps appending to. Offsets are relative to the start of the command, so
/// the caller may discard bytes of earlier commands between calls.
#[derive(Debug)]
pub struct RequestParser {
    state: State,
    kind: Kind,
    /// Bytes of the current command already scanned.
    pos: usize,
    spans: Vec<Range<usize>>,
    inline: Vec<u8>,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    pub fn new() -> Self {
        RequestParser { state: State::Idle, kind: Kind::Multibulk, pos: 0, spans: Vec::new(), inline: Vec::new() }
    }

    /// True when a command has been started but not finished.
    pub fn in_progress(&self) -> bool {
        !matches!(self.state, State::Idle | State::Done)
    }

    /// How many bytes, counted from the command's start, the buffer must hold
    /// before the current bulk is complete; 0 when unknown.
    pub fn needed_len(&self) -> usize {
        match self.state {
            State::Bulk { len, .. } => self.pos + len + 2,
            _ => 0,
        }
    }

    /// Parses the command at the front of `buf`. `Ok(Some(n))`: a command of
    /// `n` bytes is complete and [`args`](Self::args) returns it (it may have
    /// no arguments: Redis skips `*0` and blank inline lines). `Ok(None)`: more
    /// bytes are needed; call again with the same front and more appended.
    pub fn parse(&mut self, buf: &[u8], limits: ParseLimits) -> Result<Option<usize>, ProtocolError> {
        if self.state == State::Done {
            self.state = State::Idle;
            self.pos = 0;
            self.spans.clear();
        }
        if self.state == State::Idle {
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            if first == b'*' {
                self.kind = Kind::Multibulk;
                let (count, next) = match plain_header(buf, 1) {
                    Some(found) => found,
                    None => {
                        let Some((count, next)) = header_line(buf, 1, ProtocolError::TooBigMultibulkCount)? else {
                            return Ok(None);
                        };
                        (parse_i64(count).ok_or(ProtocolError::InvalidMultibulkLength)?, next)
                    }
                };
                if count > MULTIBULK_MAX {
                    return Err(ProtocolError::InvalidMultibulkLength);
                }
                if count > UNAUTH_MULTIBULK_MAX && limits.auth_required {
                    return Err(ProtocolError::UnauthenticatedMultibulkLength);
                }
                self.pos = next;
                if count <= 0 {
                    return Ok(Some(self.finish()));
                }
                self.spans.reserve((count as usize).min(1024));
                self.state = State::Multibulk { remaining: count as usize };
            } else {
                self.kind = Kind::Inline;
                return self.parse_inline(buf);
            }
        }
        // The position and state live in locals while the arguments are
        // read, and go back to `self` once.
        let (mut pos, mut state) = (self.pos, self.state);
        let result = read_arguments(buf, limits, &mut pos, &mut state, &mut self.spans);
        (self.pos, self.state) = (pos, state);
        result
    }

    fn finish(&mut self) -> usize {
        self.state = State::Done;
        self.pos
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(None);
        };
        let mut line = &buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.inline.clear();
        split_inline(line, &mut self.inline, &mut self.spans)?;
        self.pos = nl + 1;
        Ok(Some(self.finish()))
    }

    /// The arguments of the command the last `parse` completed.
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        debug_assert_eq!(self.state, State::Done);
        let data = match self.kind {
            Kind::Multibulk => buf,
            Kind::Inline => &self.inline,
        };
        Args { data, spans: &self.spans }
    }
}

/// The common header, read in one pass: a plain decimal of 1 to 18 digits
/// (no sign, no leading zero) at `start`, then `\r` and at least one more
/// byte. Returns it and the offset after its CRLF, as `header_line` and
/// `parse_i64` together would. Anything else is `None`, and those decide:
/// the line may be incomplete, negative, or an error.
#[inline]
fn plain_header(buf: &[u8], start: usize) -> Option<(i64, usize)> {
    let rest = buf.get(start..)?;
    if rest.first() == Some(&b'0') {
        return (rest.get(1) == Some(&b'\r') && rest.len() > 2).then_some((0, start + 3));
    }
    let mut value: i64 = 0;
    for (i, &c) in rest.iter().enumerate() {
        let digit = c.wrapping_sub(b'0');
        if digit >= 10 {
            return (c == b'\r' && i > 0 && i + 1 < rest.len()).then_some((value, start + i + 2));
        }
        if i == 18 {
            return None;
        }
        value = value * 10 + digit as i64;
    }
    None
}

/// Reads a multibulk command's `$` headers and arguments from `*pos`, in
/// `*state`, recording each argument's span.
#[inline]
fn read_arguments(
    buf: &[u8],
    limits: ParseLimits,
    pos: &mut usize,
    state: &mut State,
    spans: &mut Vec<Range<usize>>,
) -> Result<Option<usize>, ProtocolError> {
    loop {
        match *state {
            State::Multibulk { remaining } => {
                let plain = match buf.get(*pos) {
                    Some(b'$') => plain_header(buf, *pos + 1),
                    _ => None,
                };
                let (len, next) = match plain {
                    Some(found) => (Some(found.0), found.1),
                    None => {
                        let Some((line, next)) = header_line(buf, *pos, ProtocolError::TooBigBulkCount)? else {
                            return Ok(None);
                        };
                        if buf[*pos] != b'$' {
                            return Err(ProtocolError::ExpectedDollar(buf[*pos]));
                        }
                        (parse_i64(&line[1..]), next)
                    }
                };
                let len = len.filter(|&n| n >= 0 && n as u64 <= limits.max_bulk_len as u64);
                let Some(len) = len else {
                    return Err(ProtocolError::InvalidBulkLength);
                };
                if len > UNAUTH_BULK_MAX && limits.auth_required {
                    return Err(ProtocolError::UnauthenticatedBulkLength);
                }
                *pos = next;
                *state = State::Bulk { remaining, len: len as usize };
            }
            State::Bulk { remaining, len } => {
                // Like Redis, the two bytes after the bulk are skipped
                // without checking that they are CRLF.
                if buf.len() < *pos + len + 2 {
                    return Ok(None);
                }
                spans.push(*pos..*pos + len);
                *pos += len + 2;
                if remaining == 1 {
                    *state = State::Done;
                    return Ok(Some(*pos));
                }
                *state = State::Multibulk { remaining: remaining - 1 };
            }
            State::Idle | State::Done => unreachable!("handled above"),
        }
    }
}

/// Finds the header line starting at `start` (after its type byte for
/// `start == 1`). Returns the line without CRLF and the offset after it.
/// Like Redis, it looks for `\r` and needs one more byte after it.
fn header_line(buf: &[u8], start: usize, too_big: ProtocolError) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    match memchr(b'\r', &buf[start..]) {
        Some(i) if start + i + 1 < buf.len() => Ok(Some((&buf[start..start + i], start + i + 2))),
        _ => {
            if buf.len() - start > INLINE_MAX {
                Err(too_big)
            } else {
                Ok(None)
            }
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Redis's strict string-to-integer rule: optional `-`, no `+`, no leading
/// zeros, no spaces, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] => return if neg { None } else { Some(0) },
        [b'0', ..] => return None,
        _ => {}
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = if neg { v.checked_mul(10)?.checked_sub(d)? } else { v.checked_mul(10)?.checked_add(d)? };
    }
    Some(v)
}

/// Splits an inline command line the way redis-cli and Redis do: spaces
/// separate arguments; double quotes allow `\n \r \t \b \a \xHH` escapes;
/// single quotes allow only `\'`; a closing quote must end the argument.
fn split_inline(line: &[u8], out: &mut Vec<u8>, spans: &mut Vec<Range<usize>>) -> Result<(), ProtocolError> {
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Ok(());
        }
        let start = out.len();
        let mut quote: Option<u8> = None;
        loop {
            match quote {
                Some(b'"') => {
                    let Some(&c) = line.get(i) else {
                        return Err(ProtocolError::UnbalancedQuotes);
                    };
                    if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                        if let (Some(h), Some(l)) = (hex(line[i + 2]), hex(line[i + 3])) {
                            out.push(h * 16 + l);
                            i += 4;
                            continue;
                        }
                    }
                    if c == b'\\' && i + 1 < line.len() {
                        out.push(match line[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                        i += 2;
                    } else if c == b'"' {
                        i = after_closing_quote(line, i)?;
                        break;
                    } else {
                        out.push(c);
                        i += 1;
                    }
                }
                Some(_) => {
                    let Some(&c) = line.get(i) else {
                        return Err(ProtocolError::UnbalancedQuotes);
                    };
                    if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                        out.push(b'\'');
                        i += 2;
                    } else if c == b'\'' {
                        i = after_closing_quote(line, i)?;
                        break;
                    } else {
                        out.push(c);
                        i += 1;
                    }
                }
                None => match line.get(i) {
                    None => break,
                    Some(&c) if is_space(c) => break,
                    Some(&c @ (b'"' | b'\'')) => {
                        quote = Some(c);
                        i += 1;
                    }
                    Some(&c) => {
                        out.push(c);
                        i += 1;
                    }
                },
            }
        }
        spans.push(start..out.len());
    }
}

/// The position after a closing quote at `i`, which must end the argument.
fn after_closing_quote(line: &[u8], i: usize) -> Result<usize, ProtocolError> {
    match line.get(i + 1) {
        Some(&next) if !is_space(next) => Err(ProtocolError::UnbalancedQuotes),
        _ => Ok(i + 1),
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The arguments of one command: argument 0 is the command name.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    data: &'a [u8],
    spans: &'a [Range<usize>],
}

impl<'a> Args<'a> {
    /// Arguments held elsewhere: `spans` index into `data` (a queued
    /// transaction's commands).
    pub fn from_parts(data: &'a [u8], spans: &'a [Range<usize>]) -> Self {
        Args { data, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i`; panics when out of range (dispatch checks arity first).
    pub fn get(&self, i: usize) -> &'a [u8] {
        &self.data[self.spans[i].clone()]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let data = self.data;
        self.spans.iter().map(move |r| &data[r.clone()])
    }

    /// The first `n` arguments.
    pub fn head(&self, n: usize) -> Args<'a> {
        Args { data: self.data, spans: &self.spans[..n.min(self.spans.len())] }
    }

    /// Arguments `from..` as a new `Args` whose index 0 is `from`.
    pub fn tail(&self, from: usize) -> Args<'a> {
        Args { data: self.data, spans: &self.spans[from.min(self.spans.len())..] }
    }
}

impl std::fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::new();
        let mut out = Vec::new();
        let mut at = 0;
        while at < input.len() {
            match p.parse(&input[at..], ParseLimits::default())? {
                Some(n) => {
                    let args = p.args(&input[at..]);
                    if !args.is_empty() {
                        out.push(args.iter().map(|a| a.to_vec()).collect());
                    }
                    at += n;
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// Feeds `input` split at every position and checks every split parses
    /// to the same commands as the whole.
    fn every_split(input: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let whole = parse_all(input).expect("valid input");
        for split in 0..=input.len() {
            let mut p = RequestParser::new();
            let mut buf: Vec<u8> = Vec::new();
            let mut out = Vec::new();
            for piece in [&input[..split], &input[split..]] {
                buf.extend_from_slice(piece);
                while let Some(n) = p.parse(&buf, ParseLimits::default()).unwrap() {
                    let args = p.args(&buf);
                    if !args.is_empty() {
                        out.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
                    }
                    buf.drain(..n);
                }
            }
            assert_eq!(out, whole, "split at {split}");
        }
        whole
    }

    fn v(args: &[&str]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_every_split() {
        let got = every_split(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(got, vec![v(&["SET", "k", ""]), v(&["PING"])]);
    }

    #[test]
    fn inline_every_split() {
        let got = every_split(b"set k \"a b\\x41\\n\" 'it\\'s'\r\nPING\n\r\n  \n");
        assert_eq!(got, vec![v(&["set", "k", "a bA\n", "it's"]), v(&["PING"])]);
    }

    #[test]
    fn binary_bulk_every_split() {
        let got = every_split(b"*2\r\n$4\r\na\r\n\0\r\n$2\r\n\r\n\r\n");
        assert_eq!(got, vec![vec![b"a\r\n\0".to_vec(), b"\r\n".to_vec()]]);
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        assert_eq!(every_split(b"*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n"), vec![v(&["x"])]);
    }

    #[test]
    fn quotes_in_the_middle_of_an_argument() {
        assert_eq!(parse_all(b"a\"b c\"d\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(parse_all(b"a\"b c\" d\n").unwrap(), vec![v(&["ab c", "d"])]);
    }

    #[test]
    fn protocol_errors() {
        use ProtocolError::*;
        assert_eq!(parse_all(b"*x\r\n"), Err(InvalidMultibulkLength));
        assert_eq!(parse_all(b"*2147483648\r\n"), Err(InvalidMultibulkLength));
        assert_eq!(parse_all(b"*01\r\n"), Err(InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1\r\n$-1\r\n"), Err(InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$536870913\r\n"), Err(InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\nfoo\r\n"), Err(ExpectedDollar(b'f')));
        assert_eq!(parse_all(b"set \"a\n"), Err(UnbalancedQuotes));
        assert_eq!(parse_all(b"set 'a'b\n"), Err(UnbalancedQuotes));
        assert_eq!(parse_all(&vec![b'a'; INLINE_MAX + 1]), Err(TooBigInline));
        let mut big = b"*".to_vec();
        big.extend(vec![b'1'; INLINE_MAX + 1]);
        assert_eq!(parse_all(&big), Err(TooBigMultibulkCount));
        let mut big = b"*1\r\n$".to_vec();
        big.extend(vec![b'1'; INLINE_MAX + 1]);
        assert_eq!(parse_all(&big), Err(TooBigBulkCount));
    }

    #[test]
    fn auth_limits() {
        let limits = ParseLimits { auth_required: true, ..ParseLimits::default() };
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*11\r\n", limits), Err(ProtocolError::UnauthenticatedMultibulkLength));
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*1\r\n$16385\r\n", limits), Err(ProtocolError::UnauthenticatedBulkLength));
    }

    #[test]
    fn needed_len_tracks_big_bulks() {
        let mut p = RequestParser::new();
        assert_eq!(p.parse(b"*1\r\n$100000\r\nabc", ParseLimits::default()), Ok(None));
        assert_eq!(p.needed_len(), 13 + 100_000 + 2);
        assert!(p.in_progress());
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"+1", b"01", b"-0", b" 1", b"1 ", b"9223372036854775808", b"1a"] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        fn encode(cmd: &[Vec<u8>]) -> Vec<u8> {
            let mut out = format!("*{}\r\n", cmd.len()).into_bytes();
            for a in cmd {
                out.extend(format!("${}\r\n", a.len()).as_bytes());
                out.extend(a);
                out.extend(b"\r\n");
            }
            out
        }

        proptest! {
            /// The one-pass header reader, where it answers, answers as the
            /// general line finder and integer parser do.
            #[test]
            fn plain_header_agrees_with_the_general_path(
                line in proptest::collection::vec(prop_oneof![
                    Just(b'0'), Just(b'1'), Just(b'9'), Just(b'-'), Just(b'+'), Just(b'\r'), Just(b'\n'), Just(b'x')
                ], 0..24))
            {
                if let Some((value, next)) = plain_header(&line, 0) {
                    let (text, general_next) = header_line(&line, 0, ProtocolError::TooBigBulkCount).unwrap().unwrap();
                    prop_assert_eq!(parse_i64(text), Some(value));
                    prop_assert_eq!(next, general_next);
                }
            }

            /// Our parser agrees with redis-protocol's decoder on valid input.
            #[test]
            fn agrees_with_reference_decoder(cmds in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6), 1..5),
                chunk in 1usize..64)
            {
                let wire: Vec<u8> = cmds.iter().flat_map(|c| encode(c)).collect();
                // Reference decoding.
                let mut reference = Vec::new();
                let mut at = 0;
                while at < wire.len() {
                    let (frame, n) = redis_protocol::resp2::decode::decode(&bytes_of(&wire[at..]))
                        .unwrap().unwrap();
                    let redis_protocol::resp2::types::OwnedFrame::Array(items) = frame else { panic!() };
                    reference.push(items.into_iter().map(|f| match f {
                        redis_protocol::resp2::types::OwnedFrame::BulkString(b) => b,
                        other => panic!("{other:?}"),
                    }).collect::<Vec<_>>());
                    at += n;
                }
                // Ours, fed in chunks.
                let mut p = RequestParser::new();
                let mut buf = Vec::new();
                let mut ours = Vec::new();
                for piece in wire.chunks(chunk) {
                    buf.extend_from_slice(piece);
                    while let Some(n) = p.parse(&buf, ParseLimits::default()).unwrap() {
                        ours.push(p.args(&buf).iter().map(|a| a.to_vec()).collect::<Vec<_>>());
                        buf.drain(..n);
                    }
                }
                prop_assert_eq!(ours, reference);
            }

            /// Arbitrary bytes never panic the parser.
            #[test]
            fn arbitrary_bytes_do_not_panic(input in proptest::collection::vec(any::<u8>(), 0..300), chunk in 1usize..32) {
                let mut p = RequestParser::new();
                let mut buf = Vec::new();
                'outer: for piece in input.chunks(chunk) {
                    buf.extend_from_slice(piece);
                    loop {
                        match p.parse(&buf, ParseLimits::default()) {
                            Ok(Some(n)) => { let _ = p.args(&buf).len(); buf.drain(..n); }
                            Ok(None) => break,
                            Err(_) => break 'outer,
                        }
                    }
                }
            }
        }

        fn bytes_of(b: &[u8]) -> Vec<u8> {
            b.to_vec()
        }
    }
}
