//! The RDB format of Redis 7.0: values (which DUMP and RESTORE carry too)
//! and whole files.
//!
//! A file is `REDIS0010`, auxiliary fields, the function libraries, then per
//! database a SELECTDB and a RESIZEDB opcode and its keys (each optionally
//! preceded by an expiry in ms), then EOF and a CRC-64 of everything before
//! it (zero when rdbchecksum is off). Lengths use a 1-, 2-, 5- or 9-byte
//! form; strings are a length and bytes, a small integer, or LZF data.
//!
//! We write what 7.0 writes: listpack blobs for small hashes and sorted
//! sets, intsets for integer sets, quicklist nodes as listpacks, and the
//! plain forms for the big encodings. We read every type 7.0 reads,
//! including the ziplist, zipmap and old list/zset forms of older files.

use std::io::{self, Read, Write};

use crc::{Crc, Digest, Table, CRC_64_REDIS};

use super::lzf;
use super::packed::{self, Item, ListpackWriter};
use crate::resp::request::parse_i64;
use crate::store::zset::{format_score, ZSet, ZSetLimits};
use crate::store::{Hash, HashLimits, List, ListLimits, Set, Str, Value};

/// The format version we write; files up to `MAX_READ_VERSION` load.
pub const RDB_VERSION: u16 = 10;
/// Redis 7.2 writes 11; its only addition for our types is the set
/// listpack, which we read.
const MAX_READ_VERSION: u16 = 11;

pub static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

pub mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Value type bytes.
pub mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Quicklist node containers.
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;

/// Strings longer than this are tried with LZF (as Redis does).
const COMPRESS_MIN: usize = 20;

/// The encoding limits a loaded value is built under (the server's
/// *-max-listpack-* settings), so it ends up as the same commands would
/// have built it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub hash: HashLimits,
    pub list: ListLimits,
    pub zset: ZSetLimits,
    pub set_max_ints: usize,
}

impl Limits {
    pub fn from_hot(hot: &crate::server::Hot) -> Limits {
        Limits {
            hash: hot.hash_limits(),
            list: hot.list_limits(),
            zset: hot.zset_limits(),
            set_max_ints: hot.set_max_intset_entries(),
        }
    }
}

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

/// DUMP's payload for `value`: type, body, RDB version, CRC-64. Long
/// strings are LZF-compressed with `compress` (rdbcompression), as Redis
/// does.
pub fn dump(value: &Value, compress: bool) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), compress, true);
    // Writing into a Vec cannot fail.
    let _ = w.byte(Writer::<Vec<u8>>::type_of(value)).and_then(|_| w.value(value));
    with_footer(w)
}

/// Ends a DUMP-style payload: the RDB version, then the CRC-64 of all.
fn with_footer(mut w: Writer<Vec<u8>>) -> Vec<u8> {
    let _ = w.raw(&RDB_VERSION.to_le_bytes());
    let sum = w.checksum();
    let mut out = w.into_inner();
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// FUNCTION DUMP's payload: a function record per library, then the
/// version and checksum as DUMP has them.
pub fn dump_functions(codes: &[Vec<u8>], compress: bool) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), compress, true);
    // Writing into a Vec cannot fail.
    for code in codes {
        let _ = w.byte(op::FUNCTION2).and_then(|_| w.string(code));
    }
    with_footer(w)
}

/// The library codes in a FUNCTION DUMP payload's body (after
/// `check_dump`); `None` when it holds anything else.
pub fn undump_functions(body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut r = Reader::new(body, body.len() as u64);
    let mut codes = Vec::new();
    while r.left > 0 {
        if r.byte().ok()? != op::FUNCTION2 {
            return None;
        }
        codes.push(r.string().ok()?);
    }
    Some(codes)
}

/// Checks a DUMP payload's footer: the version it was made with is one we
/// read, and the checksum matches. Returns the value part.
pub fn check_dump(payload: &[u8]) -> Option<&[u8]> {
    if payload.len() < 10 {
        return None;
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    if version > RDB_VERSION {
        return None;
    }
    let sum = u64::from_le_bytes(crc.try_into().ok()?);
    if CRC64.checksum(body) != sum {
        return None;
    }
    Some(&body[..body.len() - 2])
}

/// Reads a DUMP payload's value (after `check_dump`).
pub fn undump(body: &[u8], limits: &Limits) -> Result<Option<Value>, String> {
    let mut r = Reader::new(body, body.len() as u64);
    let ty = r.byte()?;
    let value = r.value(ty, limits)?;
    if r.left != 0 {
        return Err("trailing bytes".into());
    }
    Ok(value)
}

/// Reads RDB data, keeping the running checksum and refusing any length
/// longer than what is left of the input.
pub struct Reader<R: Read> {
    input: R,
    crc: Digest<'static, u64, Table<16>>,
    left: u64,
    pub offset: u64,
}

impl<R: Read> Reader<R> {
    /// `size`: the bytes `input` holds.
    pub fn new(input: R, size: u64) -> Self {
        Reader { input, crc: CRC64.digest(), left: size, offset: 0 }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), String> {
        if buf.len() as u64 > self.left {
            return Err(format!("unexpected end of data at offset {}", self.offset + self.left));
        }
        self.input.read_exact(buf).map_err(|e| format!("read error at offset {}: {e}", self.offset))?;
        self.crc.update(buf);
        self.left -= buf.len() as u64;
        self.offset += buf.len() as u64;
        Ok(())
    }

    pub fn byte(&mut self) -> Result<u8, String> {
        let mut b = [0];
        self.fill(&mut b)?;
        Ok(b[0])
    }

    fn exact(&mut self, n: u64) -> Result<Vec<u8>, String> {
        if n > self.left {
            return Err(format!("length {n} at offset {} runs past the end of the data", self.offset));
        }
        let mut buf = vec![0; n as usize];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut buf = [0; N];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    /// A length, or (with `true`) the number of a special string encoding.
    fn length(&mut self) -> Result<(u64, bool), String> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => (((b & 0x3f) as u64) << 8 | self.byte()? as u64, false),
            2 => match b {
                0x80 => (u32::from_be_bytes(self.array()?) as u64, false),
                0x81 => (u64::from_be_bytes(self.array()?), false),
                _ => return Err(format!("unknown length encoding {b} at offset {}", self.offset - 1)),
            },
            _ => ((b & 0x3f) as u64, true),
        })
    }

    pub fn read_len(&mut self) -> Result<u64, String> {
        match self.length()? {
            (n, false) => Ok(n),
            (_, true) => Err(format!("unexpected string encoding at offset {}", self.offset - 1)),
        }
    }

    pub fn string(&mut self) -> Result<Vec<u8>, String> {
        let (n, special) = self.length()?;
        if !special {
            return self.exact(n);
        }
        let int = match n {
            0 => i8::from_le_bytes(self.array()?) as i64,
            1 => i16::from_le_bytes(self.array()?) as i64,
            2 => i32::from_le_bytes(self.array()?) as i64,
            3 => {
                let at = self.offset;
                let packed_len = self.read_len()?;
                let len = self.read_len()?;
                let packed = self.exact(packed_len)?;
                return lzf::decompress(&packed, len as usize)
                    .ok_or_else(|| format!("invalid LZF compressed string at offset {at}"));
            }
            _ => return Err(format!("unknown string encoding {n} at offset {}", self.offset - 1)),
        };
        Ok(int.to_string().into_bytes())
    }

    /// A score in the old text form: a length byte (253 NaN, 254 +inf,
    /// 255 -inf) and that many characters.
    fn text_double(&mut self) -> Result<f64, String> {
        let len = self.byte()?;
        match len {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.exact(n as u64)?;
                let (v, _, _) = crate::commands::args::strtod(&text);
                Ok(v)
            }
        }
    }

    fn blob_items(&mut self, ty: u8) -> Result<Vec<Vec<u8>>, String> {
        let at = self.offset;
        let blob = self.string()?;
        let items = match ty {
            ty::HASH_ZIPMAP => packed::zipmap_items(&blob).map(|v| v.into_iter().map(<[u8]>::to_vec).collect()),
            ty::LIST_ZIPLIST | ty::ZSET_ZIPLIST | ty::HASH_ZIPLIST | ty::LIST_QUICKLIST => {
                packed::ziplist_items(&blob).map(|v| v.iter().map(Item::to_vec).collect())
            }
            _ => packed::listpack_items(&blob).map(|v| v.iter().map(Item::to_vec).collect()),
        };
        items.ok_or_else(|| format!("corrupt packed value of type {ty} at offset {at}"))
    }

    /// A value of type `ty`. `None` for an empty collection, which Redis
    /// also drops on load.
    pub fn value(&mut self, ty: u8, limits: &Limits) -> Result<Option<Value>, String> {
        let at = self.offset;
        let value = match ty {
            ty::STRING => return Ok(Some(Value::Str(Str::new(&self.string()?)))),
            ty::LIST => {
                let n = self.read_len()?;
                let mut list = List::new();
                for _ in 0..n {
                    list.push_back(&self.string()?, limits.list);
                }
                Value::List(list)
            }
            ty::LIST_ZIPLIST => Value::List(List::from_items(self.blob_items(ty)?.iter().map(|v| &v[..]), limits.list)),
            ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => {
                let nodes = self.read_len()?;
                let mut list = List::new();
                for _ in 0..nodes {
                    let container = if ty == ty::LIST_QUICKLIST_2 { self.read_len()? } else { NODE_PACKED };
                    match container {
                        NODE_PLAIN => list.push_back(&self.string()?, limits.list),
                        NODE_PACKED => {
                            let blob_type =
                                if ty == ty::LIST_QUICKLIST { ty::LIST_QUICKLIST } else { ty::LIST_QUICKLIST_2 };
                            for item in self.blob_items(blob_type)? {
                                list.push_back(&item, limits.list);
                            }
                        }
                        other => return Err(format!("unknown quicklist container {other} at offset {at}")),
                    }
                }
                Value::List(list)
            }
            ty::SET | ty::SET_LISTPACK => {
                let members = if ty == ty::SET {
                    let n = self.read_len()?;
                    let mut v = Vec::with_capacity(n.min(self.left) as usize);
                    for _ in 0..n {
                        v.push(self.string()?);
                    }
                    v
                } else {
                    self.blob_items(ty)?
                };
                let mut set = Set::sized(members.len(), limits.set_max_ints);
                for m in &members {
                    set.insert(m, limits.set_max_ints);
                }
                if set.len() != members.len() {
                    return Err(format!("duplicate set members in the value at offset {at}"));
                }
                Value::Set(set)
            }
            ty::SET_INTSET => {
                let blob = self.string()?;
                let values = packed::intset_values(&blob)
                    .filter(|v| v.windows(2).all(|w| w[0] < w[1]))
                    .ok_or_else(|| format!("corrupt intset at offset {at}"))?;
                if values.len() <= limits.set_max_ints {
                    Value::Set(Set::Ints(values))
                } else {
                    let text: Vec<Vec<u8>> = values.iter().map(|v| v.to_string().into_bytes()).collect();
                    Value::Set(Set::from_members(text.iter().map(|m| &m[..]), limits.set_max_ints))
                }
            }
            ty::ZSET | ty::ZSET_2 => {
                let n = self.read_len()?;
                let mut zset = ZSet::sized(self.claimed(n, 9), limits.zset);
                for _ in 0..n {
                    let member = self.string()?;
                    let score = if ty == ty::ZSET_2 { f64::from_le_bytes(self.array()?) } else { self.text_double()? };
                    add_scored(&mut zset, &member, score, limits.zset, at)?;
                }
                Value::ZSet(zset)
            }
            ty::ZSET_ZIPLIST | ty::ZSET_LISTPACK => {
                let items = self.blob_items(ty)?;
                if items.len() % 2 != 0 {
                    return Err(format!("sorted set with an odd number of elements at offset {at}"));
                }
                let mut zset = ZSet::default();
                for pair in items.chunks_exact(2) {
                    let score = crate::commands::args::strict_float(&pair[1])
                        .ok_or_else(|| format!("invalid score in the sorted set at offset {at}"))?;
                    add_scored(&mut zset, &pair[0], score, limits.zset, at)?;
                }
                Value::ZSet(zset)
            }
            ty::HASH => {
                let n = self.read_len()?;
                let mut hash = Hash::sized(self.claimed(n, 2), limits.hash);
                for _ in 0..n {
                    let field = self.string()?;
                    let value = self.string()?;
                    if !hash.set(&field, &value, limits.hash) {
                        return Err(format!("duplicate hash fields in the value at offset {at}"));
                    }
                }
                Value::Hash(hash)
            }
            ty::HASH_ZIPMAP | ty::HASH_ZIPLIST | ty::HASH_LISTPACK => {
                let items = self.blob_items(ty)?;
                if items.len() % 2 != 0 {
                    return Err(format!("hash with an odd number of elements at offset {at}"));
                }
                let mut hash = Hash::default();
                for pair in items.chunks_exact(2) {
                    if !hash.set(&pair[0], &pair[1], limits.hash) {
                        return Err(format!("duplicate hash fields in the value at offset {at}"));
                    }
                }
                Value::Hash(hash)
            }
            ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 | ty::STREAM_LISTPACKS_3 => {
                return Err(format!("the value at offset {at} is a stream, which this server does not hold yet"))
            }
            6 | 7 => {
                return Err(format!("the value at offset {at} belongs to a module, which this server cannot load"))
            }
            other => return Err(format!("unknown value type {other} at offset {at}")),
        };
        let empty = match &value {
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Str(_) => false,
        };
        Ok((!empty).then_some(value))
    }

    /// A count of `n` elements of at least `min_size` bytes each, as far
    /// as what is left of the input can hold them (for sizing tables: a
    /// corrupt count must not become a huge allocation).
    fn claimed(&self, n: u64, min_size: u64) -> usize {
        n.min(self.left / min_size) as usize
    }

    /// The checksum of everything read so far.
    fn checksum(&self) -> u64 {
        self.crc.clone().finalize()
    }
}

fn add_scored(zset: &mut ZSet, member: &[u8], score: f64, limits: ZSetLimits, at: u64) -> Result<(), String> {
    if score.is_nan() {
        return Err(format!("sorted set with a NaN score at offset {at}"));
    }
    if zset.insert(member, score, limits).is_some() {
        return Err(format!("duplicate sorted set members in the value at offset {at}"));
    }
    Ok(())
}

/// What a file's header and auxiliary fields said, and what loading it did.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub version: u16,
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// The file was written without a checksum (its trailer is zero).
    pub unchecked: bool,
}

/// A key read from a file.
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expires_at_ms: Option<u64>,
    /// Seconds idle, when the file recorded it.
    pub idle_secs: Option<u64>,
}

/// Where a file's contents go.
pub trait Sink {
    fn key(&mut self, key: LoadedKey) -> Result<(), String>;
    fn library(&mut self, code: Vec<u8>) -> Result<(), String>;
    /// The file says database `db` holds `keys` keys, `expires` with a TTL.
    fn resize(&mut self, _db: usize, _keys: u64, _expires: u64) {}
}

/// Reads a whole file into `sink`. Expired keys are skipped (as a primary
/// does).
pub fn read_file<R: Read>(
    r: &mut Reader<R>,
    limits: &Limits,
    databases: usize,
    now_ms: u64,
    verify_checksum: bool,
    sink: &mut impl Sink,
) -> Result<LoadReport, String> {
    let magic: [u8; 9] = r.array().map_err(|_| "Wrong signature trying to load DB from file".to_string())?;
    if &magic[..5] != b"REDIS" {
        return Err("Wrong signature trying to load DB from file".into());
    }
    let version = std::str::from_utf8(&magic[5..]).ok().and_then(|v| v.parse::<u16>().ok()).unwrap_or(0);
    if !(1..=MAX_READ_VERSION).contains(&version) {
        return Err(format!("Can't handle RDB format version {}", String::from_utf8_lossy(&magic[5..])));
    }
    let mut report = LoadReport { version, ..Default::default() };
    let mut db = 0;
    let mut expires_at = None;
    let mut idle = None;
    loop {
        let at = r.offset;
        let opcode = r.byte()?;
        match opcode {
            op::EOF => break,
            op::SELECTDB => {
                let n = r.read_len()?;
                if n >= databases as u64 {
                    return Err(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting"
                    ));
                }
                db = n as usize;
            }
            op::RESIZEDB => {
                let keys = r.read_len()?;
                let expires = r.read_len()?;
                sink.resize(db, keys, expires);
            }
            op::AUX => {
                let k = r.string()?;
                let v = r.string()?;
                report.aux.push((k, v));
            }
            op::EXPIRETIME_MS => expires_at = Some(u64::from_le_bytes(r.array()?)),
            op::EXPIRETIME => expires_at = Some(u32::from_le_bytes(r.array()?) as u64 * 1000),
            op::IDLE => idle = Some(r.read_len()?),
            op::FREQ => {
                // LFU counters are not kept yet (no LFU eviction policy).
                r.byte()?;
            }
            op::FUNCTION2 => sink.library(r.string()?)?,
            op::FUNCTION_PRE_GA => return Err("Pre-GA function format not supported".into()),
            op::MODULE_AUX => return Err(format!("module data at offset {at}, which this server cannot load")),
            ty => {
                let name = r.string()?;
                let value = r.value(ty, limits)?;
                let expiry = expires_at.take();
                let idle_secs = idle.take();
                let Some(value) = value else { continue };
                // A key with a deadline of 0 or 1 ms is long past, as is
                // any earlier than now.
                if expiry.is_some_and(|t| t < now_ms) {
                    report.keys_expired += 1;
                    continue;
                }
                sink.key(LoadedKey { db, key: name, value, expires_at_ms: expiry, idle_secs })?;
                report.keys_loaded += 1;
            }
        }
    }
    if version >= 5 {
        let computed = r.checksum();
        let stored = u64::from_le_bytes(r.array()?);
        if stored == 0 {
            report.unchecked = true;
        } else if verify_checksum && stored != computed {
            return Err(format!("Wrong RDB checksum expected: ({stored:x}) got ({computed:x}). Aborting now."));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limits() -> Limits {
        Limits {
            hash: HashLimits { max_entries: 128, max_value: 64 },
            list: ListLimits::from_fill(-2),
            zset: ZSetLimits { max_entries: 128, max_value: 64 },
            set_max_ints: 512,
        }
    }

    /// A value of every type and encoding, from generated elements.
    fn values(items: &[Vec<u8>], ints: &[i64]) -> Vec<Value> {
        let l = limits();
        let mut hash = Hash::default();
        let mut zset = ZSet::default();
        for (i, item) in items.iter().enumerate() {
            hash.set(item, &items[(i + 1) % items.len()], l.hash);
            zset.insert(item, ints.get(i).copied().unwrap_or(0) as f64 / 7.0, l.zset);
        }
        let texts: Vec<Vec<u8>> = ints.iter().map(|n| n.to_string().into_bytes()).collect();
        vec![
            Value::Str(Str::new(items.concat().as_slice())),
            Value::List(List::from_items(items.iter().map(|v| &v[..]), l.list)),
            Value::Set(Set::from_members(items.iter().map(|v| &v[..]), l.set_max_ints)),
            Value::Set(Set::from_members(texts.iter().map(|v| &v[..]), l.set_max_ints)),
            Value::Hash(hash),
            Value::ZSet(zset),
        ]
    }

    proptest! {
        #[test]
        fn payloads_round_trip(
            items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..200),
            ints in proptest::collection::vec(any::<i64>(), 1..50),
            compress in any::<bool>(),
        ) {
            for value in values(&items, &ints) {
                let payload = dump(&value, compress);
                let body = check_dump(&payload).expect("a valid footer");
                let back = undump(body, &limits()).expect("loads").expect("not empty");
                prop_assert_eq!(back, value);
            }
        }

        /// Damaged payloads give an error (or some value), never a panic
        /// or an absurd allocation.
        #[test]
        fn damaged_payloads_never_panic(
            items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..60),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            cut in any::<usize>(),
        ) {
            for value in values(&items, &[1, 2, 300, -70000]) {
                let payload = dump(&value, true);
                let mut body = payload[..payload.len() - 10].to_vec();
                for (at, byte) in &flips {
                    let n = body.len();
                    body[at % n] ^= byte | 1;
                }
                let _ = undump(&body, &limits());
                let _ = undump(&body[..cut % body.len()], &limits());
            }
        }
    }

    /// A ziplist of short strings, as Redis before 7.0 wrote them.
    fn ziplist(items: &[&[u8]]) -> Vec<u8> {
        let mut z = vec![0u8; 10];
        let mut prev = 0;
        for item in items {
            let start = z.len();
            z.push(prev as u8);
            z.push(item.len() as u8);
            z.extend_from_slice(item);
            prev = z.len() - start;
        }
        z.push(0xff);
        let total = z.len() as u32;
        z[0..4].copy_from_slice(&total.to_le_bytes());
        z[8..10].copy_from_slice(&(items.len() as u16).to_le_bytes());
        z
    }

    #[test]
    fn older_encodings_load() {
        let mut w = Writer::new(Vec::new(), false, true);
        w.raw(b"REDIS0009").unwrap();
        let key = |w: &mut Writer<Vec<u8>>, ty: u8, name: &[u8]| {
            w.byte(ty).unwrap();
            w.string(name).unwrap();
        };
        key(&mut w, ty::LIST, b"old-list");
        w.len(2).unwrap();
        w.string(b"a").unwrap();
        w.string(b"b").unwrap();
        key(&mut w, ty::ZSET, b"old-zset");
        w.len(2).unwrap();
        w.string(b"m").unwrap();
        w.raw(&[3, b'1', b'.', b'5']).unwrap();
        w.string(b"n").unwrap();
        w.byte(255).unwrap();
        key(&mut w, ty::HASH_ZIPLIST, b"zl-hash");
        w.string(&ziplist(&[b"f", b"v", b"g", b"w"])).unwrap();
        key(&mut w, ty::ZSET_ZIPLIST, b"zl-zset");
        w.string(&ziplist(&[b"x", b"2.5"])).unwrap();
        key(&mut w, ty::LIST_QUICKLIST, b"ql");
        w.len(2).unwrap();
        w.string(&ziplist(&[b"1", b"2"])).unwrap();
        w.string(&ziplist(&[b"3"])).unwrap();
        key(&mut w, ty::HASH_ZIPMAP, b"zipmap");
        w.string(&[1, 1, b'f', 2, 0, b'v', b'1', 0xff]).unwrap();
        key(&mut w, ty::SET_LISTPACK, b"lp-set");
        let mut lp = ListpackWriter::default();
        lp.push(b"s");
        lp.push(b"7");
        w.string(&lp.finish()).unwrap();
        let file = w.finish().unwrap();
        struct Collect(Vec<(Vec<u8>, Value)>);
        impl Sink for Collect {
            fn key(&mut self, k: LoadedKey) -> Result<(), String> {
                self.0.push((k.key, k.value));
                Ok(())
            }
            fn library(&mut self, _: Vec<u8>) -> Result<(), String> {
                Ok(())
            }
        }
        let mut r = Reader::new(&file[..], file.len() as u64);
        let mut sink = Collect(Vec::new());
        let report = read_file(&mut r, &limits(), 16, 0, true, &mut sink).expect("loads");
        let loaded = sink.0;
        assert_eq!(report.keys_loaded, 7);
        let get = |name: &[u8]| loaded.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
        let Value::List(l) = get(b"old-list") else { panic!() };
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![&b"a"[..], b"b"]);
        let Value::ZSet(z) = get(b"old-zset") else { panic!() };
        assert_eq!(z.iter().collect::<Vec<_>>(), vec![(&b"n"[..], f64::NEG_INFINITY), (&b"m"[..], 1.5)]);
        let Value::Hash(h) = get(b"zl-hash") else { panic!() };
        assert_eq!((h.get(b"f"), h.get(b"g")), (Some(&b"v"[..]), Some(&b"w"[..])));
        let Value::ZSet(z) = get(b"zl-zset") else { panic!() };
        assert_eq!(z.score(b"x"), Some(2.5));
        let Value::List(l) = get(b"ql") else { panic!() };
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![&b"1"[..], b"2", b"3"]);
        let Value::Hash(h) = get(b"zipmap") else { panic!() };
        assert_eq!(h.get(b"f"), Some(&b"v1"[..]));
        let Value::Set(s) = get(b"lp-set") else { panic!() };
        assert!(s.contains(b"s") && s.contains(b"7") && s.len() == 2);
    }

    #[test]
    fn huge_claimed_lengths_are_refused() {
        // A string claiming 2^62 bytes, and LZF data claiming 2^40.
        let mut huge = vec![ty::STRING, 0x81];
        huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
        assert!(undump(&huge, &limits()).is_err());
        let lzf = [ty::STRING, 0xc3, 0x02, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0x00, b'a'];
        assert!(undump(&lzf, &limits()).is_err());
        // A list claiming 2^32 nodes.
        let nodes = [ty::LIST_QUICKLIST_2, 0x80, 0xff, 0xff, 0xff, 0xff, 2];
        assert!(undump(&nodes, &limits()).is_err());
    }
}
