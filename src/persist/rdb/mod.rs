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
//!
//! `write.rs` writes values and files, `read.rs` reads them; this file has
//! the format's constants and DUMP's payload framing.

mod read;
mod write;

use crc::{Crc, Table, CRC_64_REDIS};

pub use read::{read_file, LoadReport, LoadedKey, Reader, Sink};
pub use write::Writer;

use crate::store::zset::ZSetLimits;
use crate::store::{HashLimits, ListLimits, Value};

/// The format version we write; files up to `read::MAX_READ_VERSION` load.
pub const RDB_VERSION: u16 = 10;

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
pub(super) const NODE_PLAIN: u64 = 1;
pub(super) const NODE_PACKED: u64 = 2;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::packed::ListpackWriter;
    use crate::store::zset::ZSet;
    use crate::store::{Hash, List, Set, Str};
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
            Value::List(Box::new(List::from_items(items.iter().map(|v| &v[..]), l.list))),
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
