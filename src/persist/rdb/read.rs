//! Reading RDB data: every length and string form, every value type 7.0
//! reads (and 7.2's set listpack), and whole files into a `Sink`.

use std::io::Read;

use crc::{Digest, Table};

use super::{op, ty, Limits, CRC64, NODE_PACKED, NODE_PLAIN};
use crate::persist::lzf;
use crate::persist::packed::{self, Item};
use crate::store::zset::{ZSet, ZSetLimits};
use crate::store::{Hash, List, Set, Str, Value};

/// Redis 7.2 writes 11; its only addition for our types is the set
/// listpack, which we read.
const MAX_READ_VERSION: u16 = 11;

/// Reads RDB data, keeping the running checksum and refusing any length
/// longer than what is left of the input.
pub struct Reader<R: Read> {
    input: R,
    crc: Digest<'static, u64, Table<16>>,
    pub(super) left: u64,
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
                Value::List(Box::new(list))
            }
            ty::LIST_ZIPLIST => {
                Value::List(Box::new(List::from_items(self.blob_items(ty)?.iter().map(|v| &v[..]), limits.list)))
            }
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
                Value::List(Box::new(list))
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
    /// The LFU counter, when the file recorded it.
    pub frequency: Option<u8>,
}

/// Where a file's contents go.
pub trait Sink {
    fn key(&mut self, key: LoadedKey) -> Result<(), String>;
    fn library(&mut self, code: Vec<u8>) -> Result<(), String>;
    /// The file says database `db` holds `keys` keys, `expires` with a TTL.
    fn resize(&mut self, _db: usize, _keys: u64, _expires: u64) {}
    /// `bytes` of the file are read (every `PROGRESS_STEP` bytes or so),
    /// with what `report` holds so far.
    fn progress(&mut self, _bytes: u64, _report: &LoadReport) {}
}

/// How often (in bytes read) a load reports its progress, as Redis's
/// loading-process-events-interval-bytes.
pub const PROGRESS_STEP: u64 = 2 * 1024 * 1024;

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
    let mut next_progress = PROGRESS_STEP;
    let mut db = 0;
    let mut expires_at = None;
    let mut idle = None;
    let mut frequency = None;
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
            op::FREQ => frequency = Some(r.byte()?),
            op::FUNCTION2 => sink.library(r.string()?)?,
            op::FUNCTION_PRE_GA => return Err("Pre-GA function format not supported".into()),
            op::MODULE_AUX => return Err(format!("module data at offset {at}, which this server cannot load")),
            ty => {
                let name = r.string()?;
                let value = r.value(ty, limits)?;
                let expiry = expires_at.take();
                let idle_secs = idle.take();
                let frequency = frequency.take();
                let Some(value) = value else { continue };
                // A key with a deadline of 0 or 1 ms is long past, as is
                // any earlier than now.
                if expiry.is_some_and(|t| t < now_ms) {
                    report.keys_expired += 1;
                    continue;
                }
                sink.key(LoadedKey { db, key: name, value, expires_at_ms: expiry, idle_secs, frequency })?;
                report.keys_loaded += 1;
                if r.offset >= next_progress {
                    next_progress = r.offset + PROGRESS_STEP;
                    sink.progress(r.offset, &report);
                }
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
