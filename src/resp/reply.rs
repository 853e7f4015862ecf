//! The only code that writes RESP2 bytes. Replies go straight into the
//! connection's output buffer; the event loop flushes it once per batch.

/// A writer of RESP2 replies into an output buffer.
pub struct Reply<'a> {
    out: &'a mut Vec<u8>,
}

/// Where a deferred array header goes; see [`Reply::defer_array`].
#[must_use]
pub struct Deferred(usize);

impl<'a> Reply<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Reply { out }
    }

    /// Bytes written to the buffer so far (for output limits).
    pub fn buffered(&self) -> usize {
        self.out.len()
    }

    /// The buffer itself, for a writer of its own (the commands EXEC runs).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// An error line; `text` starts with its code (`ERR`, `WRONGTYPE`, ...).
    /// Newlines in the text become spaces, as Redis does.
    pub fn error(&mut self, text: &str) {
        self.error_bytes(text.as_bytes());
    }

    /// An error line from bytes (client-supplied names need not be UTF-8).
    pub fn error_bytes(&mut self, text: &[u8]) {
        self.out.push(b'-');
        self.out.extend(text.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len() as i64);
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        let mut buf = [0u8; 20];
        let digits = format_i64(n, &mut buf);
        self.bulk(digits);
    }

    pub fn null(&mut self) {
        self.out.extend_from_slice(b"$-1\r\n");
    }

    pub fn null_array(&mut self) {
        self.out.extend_from_slice(b"*-1\r\n");
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// An optional bulk: the value, or a null bulk.
    pub fn bulk_opt(&mut self, data: Option<&[u8]>) {
        match data {
            Some(d) => self.bulk(d),
            None => self.null(),
        }
    }

    /// Starts an array whose length is known only after its items are
    /// written; finish it with [`finish_array`](Self::finish_array).
    pub fn defer_array(&mut self) -> Deferred {
        Deferred(self.out.len())
    }

    pub fn finish_array(&mut self, at: Deferred, len: usize) {
        let mut header = Vec::with_capacity(24);
        Reply::new(&mut header).array(len);
        self.out.splice(at.0..at.0, header);
    }

    /// Bytes that are already valid RESP (a cached or relayed reply).
    pub fn raw(&mut self, resp: &[u8]) {
        self.out.extend_from_slice(resp);
    }

    fn header(&mut self, kind: u8, n: i64) {
        let mut buf = [0u8; 20];
        self.out.push(kind);
        self.out.extend_from_slice(format_i64(n, &mut buf));
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Formats `n` in decimal into `buf`, returning the digits.
pub fn format_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut Reply)) -> String {
        let mut out = Vec::new();
        f(&mut Reply::new(&mut out));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn replies() {
        assert_eq!(written(|r| r.ok()), "+OK\r\n");
        assert_eq!(written(|r| r.int(i64::MIN)), ":-9223372036854775808\r\n");
        assert_eq!(written(|r| r.int(0)), ":0\r\n");
        assert_eq!(written(|r| r.bulk(b"a\r\nb")), "$4\r\na\r\nb\r\n");
        assert_eq!(written(|r| r.null()), "$-1\r\n");
        assert_eq!(written(|r| r.error("ERR a\nb")), "-ERR a b\r\n");
        assert_eq!(written(|r| r.bulk_int(-42)), "$3\r\n-42\r\n");
        let deferred = written(|r| {
            let at = r.defer_array();
            r.int(1);
            r.int(2);
            r.finish_array(at, 2);
        });
        assert_eq!(deferred, "*2\r\n:1\r\n:2\r\n");
    }
}
