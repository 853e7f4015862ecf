//! Bitmap commands over string values. Bit 0 is the most significant bit
//! of byte 0, as in Redis.

use super::args::{self, is, Cursor};
use super::flags::*;
use super::strings::{lookup_str, read_str, STRING_MAX};
use super::{CmdResult, CommandSpec, Ctx, Error, KeySpec};
use crate::cmd;
use crate::notify;
use crate::store::{Db, Str, Value};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("setbit", 4, WRITE | DENYOOM, ONE, setbit, "bitmap", "2.2.0", "Sets or clears the bit at offset in the string value stored at key", "key offset value"),
    cmd!("getbit", 3, READONLY | FAST, ONE, getbit, "bitmap", "2.2.0", "Returns the bit value at offset in the string value stored at key", "key offset"),
    cmd!("bitcount", -2, READONLY, ONE, bitcount, "bitmap", "2.6.0", "Count set bits in a string", "key [start end [BYTE|BIT]]"),
    cmd!("bitpos", -3, READONLY, ONE, bitpos, "bitmap", "2.8.7", "Find first bit set or clear in a string", "key bit [start [end [BYTE|BIT]]]"),
    CommandSpec {
        keys: KeySpec { first: 2, last: -1, step: 1, keynum: 0, movable: false },
        ..cmd!("bitop", -4, WRITE | DENYOOM, NONE, bitop, "bitmap", "2.6.0", "Perform bitwise operations between strings", "(AND|OR|XOR|NOT) destkey key...")
    },
    cmd!("bitfield", -2, WRITE | DENYOOM, ONE, bitfield, "bitmap", "3.2.0", "Perform arbitrary bitfield integer operations on strings", "key [GET encoding offset|[OVERFLOW (WRAP|SAT|FAIL)] (SET encoding offset value|INCRBY encoding offset increment)]..."),
    cmd!("bitfield_ro", -2, READONLY | FAST, ONE, bitfield_ro, "bitmap", "6.0.0", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", "key [GET encoding offset]..."),
];

/// A bit offset: non-negative and within a string of proto-max-bulk-len.
fn bit_offset(arg: &[u8]) -> Result<u64, Error> {
    let n = args::int(arg).map_err(|_| Error::BitOffset)?;
    if n < 0 || (n as u64 >> 3) >= STRING_MAX as u64 {
        return Err(Error::BitOffset);
    }
    Ok(n as u64)
}

/// The string at `key` made raw and at least `len` bytes long, created
/// when missing.
fn bytes_for_write<'d>(db: &'d mut Db, key: &[u8], len: usize, now_ms: u64) -> Result<(&'d mut Vec<u8>, bool), Error> {
    let exists = lookup_str(db, key, now_ms)?.is_some();
    if !exists {
        db.insert_new(key, Value::Str(Str::raw(Vec::new())), now_ms);
    }
    let raw = lookup_str(db, key, now_ms)?.expect("present").make_raw();
    let grew = raw.len() < len;
    if grew {
        raw.resize(len, 0);
    }
    Ok((raw, grew))
}

/// SETBIT key offset value
fn setbit(ctx: &mut Ctx) -> CmdResult {
    let offset = bit_offset(ctx.arg(2))?;
    let on = match ctx.arg(3) {
        b"1" => true,
        b"0" => false,
        _ => return Err(Error::BitValue),
    };
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let byte = (offset >> 3) as usize;
    let db = ctx.keys.db(key);
    let (raw, grew) = bytes_for_write(db, key, byte + 1, now)?;
    let mask = 0x80u8 >> (offset & 7);
    let old = raw[byte] & mask != 0;
    if on {
        raw[byte] |= mask;
    } else {
        raw[byte] &= !mask;
    }
    // As Redis 7.0: a write that changes nothing is not a change.
    let changed = grew || old != on;
    if changed {
        db.touch(key);
    }
    ctx.out.int(old as i64);
    if changed {
        ctx.notify(notify::STRING, "setbit", key);
    }
    Ok(())
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx) -> CmdResult {
    let offset = bit_offset(ctx.arg(2))?;
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let bit = match read_str(ctx.keys.db(key), key, now)? {
        Some(s) => {
            let mut buf = [0; 20];
            let bytes = s.bytes(&mut buf);
            bytes.get((offset >> 3) as usize).is_some_and(|b| b & (0x80 >> (offset & 7)) != 0)
        }
        None => false,
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// A BYTE or BIT range resolved against a string of `len` bytes, as
/// (first bit, last bit) inclusive; `None` when empty.
fn bit_range(start: i64, end: i64, bits: bool, len: usize) -> Option<(u64, u64)> {
    let total = if bits { len as i64 * 8 } else { len as i64 };
    let fix = |v: i64| if v < 0 { (total + v).max(0) } else { v };
    let (start, end) = (fix(start), fix(end).min(total - 1));
    if total == 0 || start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(if bits { (start, end) } else { (start * 8, end * 8 + 7) })
}

/// The `[BYTE | BIT]` unit after a range; true for BIT.
fn unit(arg: Option<&[u8]>) -> Result<bool, Error> {
    match arg {
        None => Ok(false),
        Some(a) if is(a, "byte") => Ok(false),
        Some(a) if is(a, "bit") => Ok(true),
        Some(_) => Err(Error::Syntax),
    }
}

fn bit_at(bytes: &[u8], bit: u64) -> bool {
    bytes[(bit >> 3) as usize] & (0x80 >> (bit & 7)) != 0
}

/// BITCOUNT key [start end [BYTE | BIT]]
///
/// As in Redis, a missing key answers 0 before the range is parsed.
fn bitcount(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let now = ctx.now_ms();
    let key = args.get(1);
    let Some(s) = read_str(ctx.keys.db(key), key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut buf = [0; 20];
    let bytes = s.bytes(&mut buf);
    let range = match args.len() {
        2 => bit_range(0, -1, false, bytes.len()),
        4 | 5 => {
            let (start, end) = (args::int(args.get(2))?, args::int(args.get(3))?);
            // BITCOUNT (not BITPOS) answers 0 for two negative indexes in
            // the wrong order, before it reads the unit.
            if start < 0 && end < 0 && start > end {
                None
            } else {
                bit_range(start, end, unit(args.iter().nth(4))?, bytes.len())
            }
        }
        _ => return Err(Error::Syntax),
    };
    let count = match range {
        None => 0,
        Some((first, last)) => {
            let (fb, lb) = ((first >> 3) as usize, (last >> 3) as usize);
            let whole: u64 = bytes[fb..=lb].iter().map(|b| b.count_ones() as u64).sum();
            // Remove the bits outside the range in the first and last byte.
            let head = (0..first & 7).filter(|i| bit_at(bytes, (fb as u64) * 8 + i)).count() as u64;
            let tail = (last % 8 + 1..8).filter(|i| bit_at(bytes, (lb as u64) * 8 + i)).count() as u64;
            whole - head - tail
        }
    };
    ctx.out.int(count as i64);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let want = match args::int(args.get(2))? {
        1 => true,
        0 => false,
        _ => return Err(Error::BitArgument),
    };
    let now = ctx.now_ms();
    let key = args.get(1);
    let Some(s) = read_str(ctx.keys.db(key), key, now)? else {
        ctx.out.int(if want { -1 } else { 0 });
        return Ok(());
    };
    let mut buf = [0; 20];
    let bytes = s.bytes(&mut buf);
    if args.len() > 6 {
        return Err(Error::Syntax);
    }
    let start = match args.len() {
        3 => 0,
        _ => args::int(args.get(3))?,
    };
    // Redis reads the unit before the end.
    let bits = unit(args.iter().nth(5))?;
    let end_given = args.len() >= 5;
    let end = if end_given { args::int(args.get(4))? } else { -1 };
    let Some((first, last)) = bit_range(start, end, bits, bytes.len()) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let found = (first..=last).find(|&b| bit_at(bytes, b) == want);
    let reply = match found {
        Some(b) => b as i64,
        // Looking for a clear bit with no end given: the string is taken
        // to be padded with zeros on the right.
        None if !want && !end_given => last as i64 + 1,
        None => -1,
    };
    ctx.out.int(reply);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND | OR | XOR | NOT destkey key [key ...]
fn bitop(ctx: &mut Ctx) -> CmdResult {
    let op = match ctx.arg(1) {
        a if is(a, "and") => BitOp::And,
        a if is(a, "or") => BitOp::Or,
        a if is(a, "xor") => BitOp::Xor,
        a if is(a, "not") => BitOp::Not,
        _ => return Err(Error::Syntax),
    };
    if op == BitOp::Not && ctx.argc() != 4 {
        return Err(Error::BitopNotSingleKey);
    }
    let now = ctx.now_ms();
    let mut sources: Vec<Vec<u8>> = Vec::with_capacity(ctx.argc() - 3);
    for key in ctx.args.tail(3).iter() {
        let bytes = lookup_str(ctx.keys.db(key), key, now)?.map(|s| s.bytes(&mut [0; 20]).to_vec());
        sources.push(bytes.unwrap_or_default());
    }
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    let byte = |src: &Vec<u8>, i: usize| src.get(i).copied().unwrap_or(0);
    let result: Vec<u8> = (0..len)
        .map(|i| {
            let mut it = sources.iter().map(|s| byte(s, i));
            let first = it.next().unwrap_or(0);
            match op {
                BitOp::And => it.fold(first, |a, b| a & b),
                BitOp::Or => it.fold(first, |a, b| a | b),
                BitOp::Xor => it.fold(first, |a, b| a ^ b),
                BitOp::Not => !first,
            }
        })
        .collect();
    let dest = ctx.arg(2);
    let db = ctx.keys.db(dest);
    let event = if result.is_empty() {
        db.remove(dest, now).map(|_| "del")
    } else {
        db.set(dest, Value::Str(Str::raw(result)), None, now);
        Some("set")
    };
    ctx.out.int(len as i64);
    if let Some(event) = event {
        let class = if event == "del" { notify::GENERIC } else { notify::STRING };
        ctx.notify(class, event, dest);
    }
    Ok(())
}

/// An integer type of BITFIELD: `i1`..`i64` or `u1`..`u63`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FieldType {
    signed: bool,
    bits: u32,
}

impl FieldType {
    fn parse(arg: &[u8]) -> Result<Self, Error> {
        let signed = match arg.first() {
            Some(b'i' | b'I') => true,
            Some(b'u' | b'U') => false,
            _ => return Err(Error::BitfieldInvalidType),
        };
        let bits = std::str::from_utf8(&arg[1..]).ok().and_then(|s| s.parse::<u32>().ok());
        match bits {
            Some(b) if b >= 1 && (signed && b <= 64 || !signed && b <= 63) => Ok(FieldType { signed, bits: b }),
            _ => Err(Error::BitfieldInvalidType),
        }
    }

    fn min(&self) -> i128 {
        if self.signed {
            -(1i128 << (self.bits - 1))
        } else {
            0
        }
    }

    fn max(&self) -> i128 {
        if self.signed {
            (1i128 << (self.bits - 1)) - 1
        } else {
            (1i128 << self.bits) - 1
        }
    }

    /// `v` reduced to this type's bits, two's complement for signed types.
    fn wrap(&self, v: i128) -> i64 {
        let modulus = 1i128 << self.bits;
        let mut w = v.rem_euclid(modulus);
        if self.signed && w > self.max() {
            w -= modulus;
        }
        w as i64
    }
}

/// A bit offset of BITFIELD: `N`, or `#N` meaning N times the type width.
fn field_offset(arg: &[u8], ty: FieldType) -> Result<u64, Error> {
    let (mul, digits) = match arg.split_first() {
        Some((b'#', rest)) => (ty.bits as i64, rest),
        _ => (1, arg),
    };
    let n = args::int(digits).map_err(|_| Error::BitOffset)?;
    let n = n.checked_mul(mul).ok_or(Error::BitOffset)?;
    if n < 0 || (n as u64 >> 3) >= STRING_MAX as u64 {
        return Err(Error::BitOffset);
    }
    Ok(n as u64)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, Debug)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

struct Field {
    op: FieldOp,
    ty: FieldType,
    offset: u64,
    overflow: Overflow,
}

fn parse_fields(ctx: &Ctx, read_only: bool) -> Result<Vec<Field>, Error> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut cur = Cursor::new(ctx.args, 2);
    while let Some(word) = cur.next_arg() {
        if is(word, "overflow") {
            let kind = cur.value()?;
            overflow = if is(kind, "wrap") {
                Overflow::Wrap
            } else if is(kind, "sat") {
                Overflow::Sat
            } else if is(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(Error::BitfieldOverflowType);
            };
            continue;
        }
        let kind = if is(word, "get") {
            0
        } else if is(word, "set") {
            1
        } else if is(word, "incrby") {
            2
        } else {
            return Err(Error::Syntax);
        };
        if kind > 0 && cur.remaining() < 3 || kind == 0 && cur.remaining() < 2 {
            return Err(Error::Syntax);
        }
        let ty = FieldType::parse(cur.value()?)?;
        let offset = field_offset(cur.value()?, ty)?;
        let op = match kind {
            0 => FieldOp::Get,
            1 => FieldOp::Set(args::int(cur.value()?)?),
            _ => FieldOp::IncrBy(args::int(cur.value()?)?),
        };
        if read_only && kind != 0 {
            return Err(Error::BitfieldReadOnly);
        }
        fields.push(Field { op, ty, offset, overflow });
    }
    Ok(fields)
}

/// Reads `bits` bits at `offset` as an unsigned number (zeros past the end).
fn read_bits(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0u64, |v, i| {
        let b = offset + i;
        let set = bytes.get((b >> 3) as usize).is_some_and(|byte| byte & (0x80 >> (b & 7)) != 0);
        (v << 1) | set as u64
    })
}

fn write_bits(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        let b = offset + i;
        let mask = 0x80u8 >> (b & 7);
        let on = value >> (bits as u64 - 1 - i) & 1 == 1;
        let byte = &mut bytes[(b >> 3) as usize];
        *byte = if on { *byte | mask } else { *byte & !mask };
    }
}

fn read_field(bytes: &[u8], f: &Field) -> i64 {
    let raw = read_bits(bytes, f.offset, f.ty.bits);
    if f.ty.signed {
        f.ty.wrap(raw as i128)
    } else {
        raw as i64
    }
}

/// The value to store for `wanted` under the overflow policy; `None` when
/// FAIL refuses it.
fn apply_overflow(ty: FieldType, wanted: i128, overflow: Overflow) -> Option<i64> {
    if (ty.min()..=ty.max()).contains(&wanted) {
        return Some(wanted as i64);
    }
    match overflow {
        Overflow::Wrap => Some(ty.wrap(wanted)),
        Overflow::Sat => Some(if wanted < ty.min() { ty.min() } else { ty.max() } as i64),
        Overflow::Fail => None,
    }
}

fn run_fields(ctx: &mut Ctx, fields: &[Field]) -> CmdResult {
    let now = ctx.now_ms();
    let key = ctx.arg(1);
    let writes = fields.iter().filter(|f| !matches!(f.op, FieldOp::Get));
    let needed = writes.map(|f| ((f.offset + f.ty.bits as u64 - 1) >> 3) as usize + 1).max();
    let db = ctx.keys.db(key);
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(fields.len());
    match needed {
        None => {
            let bytes = read_str(db, key, now)?.map(|s| s.bytes(&mut [0; 20]).to_vec()).unwrap_or_default();
            replies.extend(fields.iter().map(|f| Some(read_field(&bytes, f))));
        }
        Some(len) => {
            // Like Redis, the string grows to the highest written offset
            // before the operations run, even if FAIL then refuses them.
            let (bytes, _) = bytes_for_write(db, key, len, now)?;
            for f in fields {
                let old = read_field(bytes, f);
                let reply = match f.op {
                    FieldOp::Get => Some(old),
                    FieldOp::Set(v) => apply_overflow(f.ty, v as i128, f.overflow).map(|new| {
                        write_bits(bytes, f.offset, f.ty.bits, new as u64);
                        old
                    }),
                    FieldOp::IncrBy(by) => apply_overflow(f.ty, old as i128 + by as i128, f.overflow).inspect(|&new| {
                        write_bits(bytes, f.offset, f.ty.bits, new as u64);
                    }),
                };
                replies.push(reply);
            }
            let writes = fields.iter().zip(&replies).filter(|(f, r)| !matches!(f.op, FieldOp::Get) && r.is_some());
            if writes.count() > 0 {
                db.touch(key);
                ctx.notify(notify::STRING, "setbit", key);
            }
        }
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// BITFIELD key [GET type offset | [OVERFLOW WRAP | SAT | FAIL] SET type offset value | INCRBY type offset increment ...]
fn bitfield(ctx: &mut Ctx) -> CmdResult {
    let fields = parse_fields(ctx, false)?;
    run_fields(ctx, &fields)
}

/// BITFIELD_RO key [GET type offset ...]
fn bitfield_ro(ctx: &mut Ctx) -> CmdResult {
    let fields = parse_fields(ctx, true)?;
    run_fields(ctx, &fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_types() {
        assert_eq!(FieldType::parse(b"i64"), Ok(FieldType { signed: true, bits: 64 }));
        assert!(FieldType::parse(b"u64").is_err());
        assert!(FieldType::parse(b"i0").is_err());
        assert!(FieldType::parse(b"x8").is_err());
        let i8t = FieldType { signed: true, bits: 8 };
        assert_eq!(i8t.wrap(200), -56);
        assert_eq!(i8t.wrap(-129), 127);
        assert_eq!(apply_overflow(i8t, -200, Overflow::Sat), Some(-128));
        assert_eq!(apply_overflow(i8t, 300, Overflow::Fail), None);
    }

    #[test]
    fn bits_round_trip() {
        let mut bytes = vec![0u8; 3];
        write_bits(&mut bytes, 5, 11, 0b101_1100_0111);
        assert_eq!(read_bits(&bytes, 5, 11), 0b101_1100_0111);
        assert_eq!(read_bits(&bytes, 0, 5), 0);
        assert_eq!(read_bits(&bytes, 20, 8), 0, "past the end reads zeros");
    }

    #[test]
    fn ranges() {
        assert_eq!(bit_range(0, -1, false, 6), Some((0, 47)));
        assert_eq!(bit_range(5, 30, true, 6), Some((5, 30)));
        assert_eq!(bit_range(-100, -100, false, 6), Some((0, 7)));
        assert_eq!(bit_range(3, 1, false, 6), None);
        assert_eq!(bit_range(0, -1, false, 0), None);
    }
}
