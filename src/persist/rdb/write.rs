//! Writing RDB data: the length and string forms, every value type in
//! the encoding Redis 7.0 writes it in, and a file's EOF and checksum.

use std::io::{self, Write};

use crc::{Digest, Table};

use super::{op, ty, CRC64, NODE_PACKED};
use crate::persist::lzf;
use crate::persist::packed::{self, ListpackWriter};
use crate::resp::request::parse_i64;
use crate::store::zset::{format_score, ZSet};
use crate::store::{Hash, Set, Str, Value};

/// Strings longer than this are tried with LZF (as Redis does).
const COMPRESS_MIN: usize = 20;

/// Writes RDB data to `out`, keeping the running checksum.
pub struct Writer<W: Write> {
    out: W,
    crc: Option<Digest<'static, u64, Table<16>>>,
    compress: bool,
    pub written: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, compress: bool, checksum: bool) -> Self {
        Writer { out, crc: checksum.then(|| CRC64.digest()), compress, written: 0 }
    }

    pub fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(crc) = &mut self.crc {
            crc.update(bytes);
        }
        self.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    pub fn byte(&mut self, b: u8) -> io::Result<()> {
        self.raw(&[b])
    }

    pub fn len(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.byte(n as u8)
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u32::MAX as u64 {
            self.byte(0x80)?;
            self.raw(&(n as u32).to_be_bytes())
        } else {
            self.byte(0x81)?;
            self.raw(&n.to_be_bytes())
        }
    }

    /// An integer in the smallest of the 8-, 16- or 32-bit forms; false
    /// when it needs more.
    fn encoded_int(&mut self, n: i64) -> io::Result<bool> {
        if let Ok(v) = i8::try_from(n) {
            self.raw(&[0xc0, v as u8])?;
        } else if let Ok(v) = i16::try_from(n) {
            self.byte(0xc1)?;
            self.raw(&v.to_le_bytes())?;
        } else if let Ok(v) = i32::try_from(n) {
            self.byte(0xc2)?;
            self.raw(&v.to_le_bytes())?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// A string: as an integer when it is a short canonical one, LZF
    /// compressed when long and compressible, else as it is.
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(n) = parse_i64(s) {
                if self.encoded_int(n)? {
                    return Ok(());
                }
            }
        }
        if self.compress && s.len() > COMPRESS_MIN {
            if let Some(packed) = lzf::compress(s, s.len() - 4) {
                self.byte(0xc3)?;
                self.len(packed.len() as u64)?;
                self.len(s.len() as u64)?;
                return self.raw(&packed);
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    /// An integer-encoded string value.
    pub fn int_string(&mut self, n: i64) -> io::Result<()> {
        if self.encoded_int(n)? {
            return Ok(());
        }
        let text = n.to_string();
        self.len(text.len() as u64)?;
        self.raw(text.as_bytes())
    }

    /// The type byte for `value`.
    pub fn type_of(value: &Value) -> u8 {
        match value {
            Value::Str(_) => ty::STRING,
            Value::List(_) => ty::LIST_QUICKLIST_2,
            Value::Set(Set::Ints(_)) => ty::SET_INTSET,
            Value::Set(Set::Table(_)) => ty::SET,
            Value::Hash(Hash::Pack(_)) => ty::HASH_LISTPACK,
            Value::Hash(Hash::Table(_)) => ty::HASH,
            Value::ZSet(ZSet::Pack(_)) => ty::ZSET_LISTPACK,
            Value::ZSet(ZSet::Tree(_)) => ty::ZSET_2,
        }
    }

    /// The body of `value` (its type byte comes first, from `type_of`).
    pub fn value(&mut self, value: &Value) -> io::Result<()> {
        match value {
            Value::Str(Str::Int(n) | Str::IntUnshared(n)) => self.int_string(*n),
            Value::Str(s) => self.string(s.bytes(&mut [0; 20])),
            Value::List(list) => {
                let nodes: Vec<Vec<u8>> = list
                    .runs()
                    .filter_map(|run| {
                        let mut lp = ListpackWriter::default();
                        let mut any = false;
                        for item in run {
                            lp.push(item);
                            any = true;
                        }
                        any.then(|| lp.finish())
                    })
                    .collect();
                self.len(nodes.len() as u64)?;
                for node in nodes {
                    self.len(NODE_PACKED)?;
                    self.string(&node)?;
                }
                Ok(())
            }
            Value::Set(Set::Ints(values)) => self.string(&packed::intset_encode(values)),
            Value::Set(set) => {
                self.len(set.len() as u64)?;
                for member in set.iter() {
                    self.string(&member)?;
                }
                Ok(())
            }
            Value::Hash(Hash::Pack(_)) | Value::ZSet(ZSet::Pack(_)) => {
                let mut lp = ListpackWriter::default();
                match value {
                    Value::Hash(h) => h.iter().for_each(|(f, v)| {
                        lp.push(f);
                        lp.push(v);
                    }),
                    Value::ZSet(z) => z.iter().for_each(|(m, s)| {
                        lp.push(m);
                        lp.push(format_score(s).as_bytes());
                    }),
                    _ => unreachable!("matched above"),
                }
                self.string(&lp.finish())
            }
            Value::Hash(hash) => {
                self.len(hash.len() as u64)?;
                for (f, v) in hash.iter() {
                    self.string(f)?;
                    self.string(v)?;
                }
                Ok(())
            }
            Value::ZSet(zset) => {
                // Highest first, as Redis writes them.
                self.len(zset.len() as u64)?;
                for (m, s) in zset.range(zset.len().saturating_sub(1), true) {
                    self.string(m)?;
                    self.raw(&s.to_le_bytes())?;
                }
                Ok(())
            }
        }
    }

    /// The checksum of everything written so far (0 when off).
    pub fn checksum(&self) -> u64 {
        self.crc.clone().map_or(0, |c| c.finalize())
    }

    /// Ends a file: the EOF opcode and the checksum.
    pub fn finish(mut self) -> io::Result<W> {
        self.byte(op::EOF)?;
        let sum = self.checksum();
        self.out.write_all(&sum.to_le_bytes())?;
        self.written += 8;
        self.out.flush()?;
        Ok(self.out)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
