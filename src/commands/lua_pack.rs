//! The binary packers Redis gives scripts: `cmsgpack` (MessagePack) and
//! `struct` (C structures in strings), as lua_libs.rs installs them.

use mlua::{Lua, MultiValue, Table, Value};

use super::lua_libs::{arg_type, check_number, check_string, create, fail, number, ok, Outcome};

// --- cmsgpack ----------------------------------------------------------------

/// Tables nested deeper than this pack as nil, as lua-cmsgpack does.
const MSGPACK_MAX_NESTING: usize = 16;

pub(super) fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        create(lua, |lua, args| {
            if args.is_empty() {
                return fail(lua, "bad argument #0 to 'pack' (MessagePack pack needs input.)");
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack_value(v, &mut out, 0)?;
            }
            ok(lua, lua.create_string(&out)?)
        })?,
    )?;
    t.set("unpack", create(lua, |lua, args| unpack_full(lua, args, "unpack", false))?)?;
    t.set("unpack_one", create(lua, |lua, args| unpack_full(lua, args, "unpack_one", true))?)?;
    t.set("unpack_limit", create(lua, |lua, args| unpack_full(lua, args, "unpack_limit", true))?)?;
    Ok(t)
}

/// unpack(s), unpack_one(s [offset]) and unpack_limit(s limit [offset]):
/// the values from byte `offset` on (at most `limit` of them, when it is
/// above 0); with a limit, first the offset after them, or -1 at the end.
fn unpack_full(lua: &Lua, args: MultiValue, func: &str, limited: bool) -> Outcome {
    let args: Vec<Value> = args.into_iter().collect();
    let bytes = match check_string(lua, &args, 1, func) {
        Ok(b) => b,
        Err(e) => return fail(lua, e),
    };
    let (limit_at, offset_at) = match func {
        "unpack_one" => (None, 2),
        _ => (Some(2), 3),
    };
    let number_arg = |n: usize| -> Result<f64, String> {
        if args.get(n - 1).is_none_or(|v| v.is_nil()) {
            return Ok(0.0);
        }
        check_number(&args, n, func)
    };
    let (limit, offset) = match (limit_at.map(number_arg).transpose(), number_arg(offset_at)) {
        (Ok(l), Ok(o)) => (l.map_or(limited as i64, |l| l as i64), o as i64),
        (Err(e), _) | (_, Err(e)) => return fail(lua, e),
    };
    if limit < 0 || offset < 0 {
        return fail(lua, format!("Invalid request to unpack with offset of {offset} and limit of {limit}."));
    }
    let (limit, offset) = (limit as usize, offset as usize);
    if offset > bytes.len() {
        return fail(lua, format!("Start offset {offset} greater than input length {}.", bytes.len()));
    }
    let mut at = offset;
    let mut values = MultiValue::new();
    while at < bytes.len() && (limit == 0 || values.len() < limit) {
        values.push_back(unpack_value(lua, &bytes, &mut at, 0)?);
    }
    if limit > 0 {
        let next = if at == bytes.len() { -1.0 } else { at as f64 };
        values.push_front(Value::Number(next));
    }
    ok(lua, values)
}

fn pack_int(n: i64, out: &mut Vec<u8>) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        n if n > 0 => {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        -32..=-1 => out.push(n as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, n as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn pack_length(len: usize, fix: u8, fix_max: usize, wide: [u8; 2], out: &mut Vec<u8>) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(wide[0]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(wide[1]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn pack_value(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => {
            let n = number(v).unwrap_or(0.0);
            if n.is_finite() && n.fract() == 0.0 && n >= i64::MIN as f64 && n < i64::MAX as f64 {
                pack_int(n as i64, out);
            } else if (n as f32) as f64 == n || n.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let bytes = s.as_bytes();
            if bytes.len() < 32 {
                out.push(0xa0 | bytes.len() as u8);
            } else if bytes.len() <= 0xff {
                out.extend_from_slice(&[0xd9, bytes.len() as u8]);
            } else {
                pack_length(bytes.len(), 0, 0, [0xda, 0xdb], out);
            }
            out.extend_from_slice(&bytes);
        }
        Value::Table(t) if depth < MSGPACK_MAX_NESTING => {
            if let Some(len) = msgpack_array_len(t)? {
                pack_length(len, 0x90, 15, [0xdc, 0xdd], out);
                for i in 1..=len {
                    pack_value(&t.raw_get::<Value>(i)?, out, depth + 1)?;
                }
            } else {
                let pairs: Vec<(Value, Value)> = t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                pack_length(pairs.len(), 0x80, 15, [0xde, 0xdf], out);
                for (k, v) in &pairs {
                    pack_value(k, out, depth + 1)?;
                    pack_value(v, out, depth + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

/// A table packs as an array when its keys are exactly 1..n.
fn msgpack_array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut count) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match number(&k) {
            Some(n) if matches!(k, Value::Integer(_) | Value::Number(_)) && n >= 1.0 && n.fract() == 0.0 => {
                max = max.max(n as usize);
                count += 1;
            }
            _ => return Ok(None),
        }
    }
    Ok((max == count).then_some(max))
}

const MISSING: &str = "Missing bytes in input.";

/// The next `n` bytes, or lua-cmsgpack's error.
fn take<'b>(lua: &Lua, bytes: &'b [u8], at: &mut usize, n: usize) -> mlua::Result<&'b [u8]> {
    let slice = bytes.get(*at..*at + n).ok_or_else(|| raise(lua, MISSING))?;
    *at += n;
    Ok(slice)
}

/// A library error as `fail` raises it.
fn raise(lua: &Lua, message: &str) -> mlua::Error {
    fail(lua, message).expect_err("fail always raises")
}

fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64)
}

/// Nesting lua-cmsgpack decodes before the Lua stack runs out (Redis's
/// limit lies between 2000 and 4000 arrays deep).
const MSGPACK_MAX_DECODE_DEPTH: usize = 2000;

/// One MessagePack value, `depth` containers down.
fn unpack_value(lua: &Lua, bytes: &[u8], at: &mut usize, depth: usize) -> mlua::Result<Value> {
    let read = |n: usize, at: &mut usize| take(lua, bytes, at, n).map(be);
    let string = |len: u64, at: &mut usize| -> mlua::Result<Value> {
        Ok(Value::String(lua.create_string(take(lua, bytes, at, len as usize)?)?))
    };
    let c = take(lua, bytes, at, 1)?[0];
    Ok(match c {
        0x00..=0x7f => Value::Number(c as f64),
        0xe0..=0xff => Value::Number(c as i8 as f64),
        0xa0..=0xbf => string((c & 0x1f) as u64, at)?,
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xc4 | 0xd9 => string(read(1, at)?, at)?,
        0xc5 | 0xda => string(read(2, at)?, at)?,
        0xc6 | 0xdb => string(read(4, at)?, at)?,
        0xca => Value::Number(f32::from_bits(read(4, at)? as u32) as f64),
        0xcb => Value::Number(f64::from_bits(read(8, at)?)),
        0xcc => Value::Number(read(1, at)? as f64),
        0xcd => Value::Number(read(2, at)? as f64),
        0xce => Value::Number(read(4, at)? as f64),
        0xcf => Value::Number(read(8, at)? as f64),
        0xd0 => Value::Number(read(1, at)? as u8 as i8 as f64),
        0xd1 => Value::Number(read(2, at)? as u16 as i16 as f64),
        0xd2 => Value::Number(read(4, at)? as u32 as i32 as f64),
        0xd3 => Value::Number(read(8, at)? as i64 as f64),
        0x90..=0x9f | 0xdc | 0xdd | 0x80..=0x8f | 0xde | 0xdf => {
            let len = match c {
                0xdc | 0xde => read(2, at)?,
                0xdd | 0xdf => read(4, at)?,
                _ => (c & 0x0f) as u64,
            };
            let is_map = matches!(c, 0x80..=0x8f | 0xde | 0xdf);
            if depth >= MSGPACK_MAX_DECODE_DEPTH {
                let function = if is_map { "mp_decode_to_lua_hash" } else { "mp_decode_to_lua_array" };
                return Err(raise(lua, &format!("stack overflow (in function {function})")));
            }
            let t = lua.create_table()?;
            for i in 1..=len {
                if is_map {
                    let (k, v) = (unpack_value(lua, bytes, at, depth + 1)?, unpack_value(lua, bytes, at, depth + 1)?);
                    if !k.is_nil() {
                        t.raw_set(k, v)?;
                    }
                } else {
                    t.raw_set(i, unpack_value(lua, bytes, at, depth + 1)?)?;
                }
            }
            Value::Table(t)
        }
        _ => return Err(raise(lua, "Bad data format in input.")),
    })
}

// --- struct ------------------------------------------------------------------

/// The widest `i`/`I` lua-struct takes; past 8 bytes the value is
/// zero-padded.
const MAX_INT_SIZE: usize = 32;

/// Bytes of each integral option; `T` is size_t, `l` a long.
fn int_size(opt: u8) -> Option<usize> {
    Some(match opt {
        b'b' | b'B' => 1,
        b'h' | b'H' => 2,
        b'l' | b'L' | b'T' => 8,
        b'i' | b'I' => 4,
        _ => return None,
    })
}

/// One item of a format: its option, its size, and for `i`/`I`/`c` a
/// count written after it.
struct Item {
    opt: u8,
    size: usize,
}

/// Parses a format into items, applying `<`, `>`, `!n` and spaces; the
/// items carry the byte order and alignment in force.
fn parse_format(fmt: &[u8], func: &str) -> Result<Vec<(Item, bool, usize)>, String> {
    let (mut little, mut align) = (true, 1usize);
    let mut items = Vec::new();
    let mut i = 0;
    let count = |i: &mut usize| -> Option<usize> {
        let start = *i;
        while *i < fmt.len() && fmt[*i].is_ascii_digit() {
            *i += 1;
        }
        std::str::from_utf8(&fmt[start..*i]).ok()?.parse().ok()
    };
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let size = match opt {
            b' ' => continue,
            b'<' => {
                little = true;
                continue;
            }
            b'>' => {
                little = false;
                continue;
            }
            b'!' => {
                align = count(&mut i).unwrap_or(8);
                continue;
            }
            b'x' => 1,
            b'f' => 4,
            b'd' => 8,
            b's' => 0,
            b'c' => count(&mut i).unwrap_or(1),
            b'i' | b'I' => {
                let n = count(&mut i).unwrap_or(4);
                if n > MAX_INT_SIZE {
                    return Err(format!("integral size {n} is larger than limit of {MAX_INT_SIZE}"));
                }
                n
            }
            _ => match int_size(opt) {
                Some(n) => n,
                None => return Err(format!("bad argument #1 to '{func}' (invalid format option '{}')", opt as char)),
            },
        };
        items.push((Item { opt, size }, little, align));
    }
    Ok(items)
}

/// Padding before an item at `offset`, as lua-struct aligns.
fn padding(item: &Item, offset: usize, align: usize) -> usize {
    if item.size <= 1 || item.opt == b'c' {
        return 0;
    }
    let a = item.size.min(align);
    if a & (a - 1) != 0 {
        return 0;
    }
    (a - (offset & (a - 1))) & (a - 1)
}

pub(super) fn structs(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", create(lua, struct_pack)?)?;
    t.set("unpack", create(lua, struct_unpack)?)?;
    t.set(
        "size",
        create(lua, |lua, args| {
            let args: Vec<Value> = args.into_iter().collect();
            let fmt = match check_string(lua, &args, 1, "size") {
                Ok(f) => f,
                Err(e) => return fail(lua, e),
            };
            let items = match parse_format(&fmt, "size") {
                Ok(items) => items,
                Err(e) => return fail(lua, e),
            };
            let mut total = 0;
            for (item, _, align) in &items {
                if item.opt == b's' {
                    return fail(lua, "bad argument #1 to 'size' (option 's' has no fixed size)");
                }
                if item.opt == b'c' && item.size == 0 {
                    return fail(lua, "bad argument #1 to 'size' (option 'c0' has no fixed size)");
                }
                total += padding(item, total, *align) + item.size;
            }
            ok(lua, total as f64)
        })?,
    )?;
    Ok(t)
}

fn struct_pack(lua: &Lua, args: MultiValue) -> Outcome {
    let args: Vec<Value> = args.into_iter().collect();
    let fmt = match check_string(lua, &args, 1, "pack") {
        Ok(f) => f,
        Err(e) => return fail(lua, e),
    };
    let items = match parse_format(&fmt, "pack") {
        Ok(items) => items,
        Err(e) => return fail(lua, e),
    };
    let mut out = Vec::new();
    let mut arg_no = 1;
    for (item, little, align) in &items {
        out.resize(out.len() + padding(item, out.len(), *align), 0);
        if item.opt == b'x' {
            out.push(0);
            continue;
        }
        arg_no += 1;
        let arg = args.get(arg_no - 1);
        // lua-struct reads a missing argument as nil.
        let got = || arg_type(Some(arg.unwrap_or(&Value::Nil)));
        match item.opt {
            b'f' | b'd' => {
                let Some(v) = arg.and_then(number) else {
                    return fail(lua, format!("bad argument #{arg_no} to 'pack' (number expected, got {})", got()));
                };
                let bytes = if item.opt == b'f' { (v as f32).to_le_bytes().to_vec() } else { v.to_le_bytes().to_vec() };
                out.extend(if *little { bytes } else { bytes.into_iter().rev().collect() });
            }
            b'c' | b's' => {
                let s = match check_string(lua, &args, arg_no, "pack") {
                    Ok(s) => s,
                    Err(_) => {
                        return fail(lua, format!("bad argument #{arg_no} to 'pack' (string expected, got {})", got()))
                    }
                };
                if item.opt == b's' {
                    out.extend_from_slice(&s);
                    out.push(0);
                } else {
                    let size = if item.size == 0 { s.len() } else { item.size };
                    if s.len() < size {
                        // lua-struct names the argument after it here.
                        let next = arg_no + 1;
                        return fail(lua, format!("bad argument #{next} to 'pack' (string too short)"));
                    }
                    out.extend_from_slice(&s[..size]);
                }
            }
            _ => {
                let Some(v) = arg.and_then(number) else {
                    return fail(lua, format!("bad argument #{arg_no} to 'pack' (number expected, got {})", got()));
                };
                let bits = if v < 0.0 { v as i64 as u64 } else { v as u64 };
                // Past 8 bytes lua-struct pads with zeros, sign or not.
                let mut bytes = bits.to_le_bytes().to_vec();
                bytes.resize(item.size.max(8), 0);
                bytes.truncate(item.size);
                out.extend(if *little { bytes } else { bytes.into_iter().rev().collect() });
            }
        }
    }
    ok(lua, lua.create_string(&out)?)
}

fn struct_unpack(lua: &Lua, args: MultiValue) -> Outcome {
    let args: Vec<Value> = args.into_iter().collect();
    let (fmt, data) = match (check_string(lua, &args, 1, "unpack"), check_string(lua, &args, 2, "unpack")) {
        (Ok(f), Ok(d)) => (f, d),
        (Err(e), _) | (_, Err(e)) => return fail(lua, e),
    };
    let start = if args.len() >= 3 {
        match check_number(&args, 3, "unpack") {
            Ok(n) => n,
            Err(e) => return fail(lua, e),
        }
    } else {
        1.0
    };
    if start < 1.0 {
        return fail(lua, "bad argument #3 to 'unpack' (offset must be 1 or greater)");
    }
    let items = match parse_format(&fmt, "unpack") {
        Ok(items) => items,
        Err(e) => return fail(lua, e),
    };
    let mut pos = start as usize - 1;
    let mut values = MultiValue::new();
    let mut last_number = None;
    for (item, little, align) in &items {
        pos += padding(item, pos, *align);
        let short = || fail(lua, "bad argument #2 to 'unpack' (data string too short)");
        match item.opt {
            b'x' => pos += 1,
            b's' => {
                let Some(len) = data.get(pos..).and_then(|d| d.iter().position(|&b| b == 0)) else {
                    return fail(lua, "unfinished string in data");
                };
                values.push_back(Value::String(lua.create_string(&data[pos..pos + len])?));
                pos += len + 1;
            }
            b'c' => {
                let size = if item.size == 0 {
                    // The size read just before is consumed, not returned.
                    match last_number.take() {
                        Some(n) => {
                            values.pop_back();
                            n as usize
                        }
                        None => return fail(lua, "format 'c0' needs a previous size"),
                    }
                } else {
                    item.size
                };
                let Some(bytes) = data.get(pos..pos + size) else { return short() };
                values.push_back(Value::String(lua.create_string(bytes)?));
                pos += size;
            }
            _ => {
                let Some(bytes) = data.get(pos..pos + item.size) else { return short() };
                // Little-endian, low 8 bytes (wider integers keep those).
                let mut raw = [0u8; 8];
                let ordered: Vec<u8> = if *little { bytes.to_vec() } else { bytes.iter().rev().copied().collect() };
                let low = item.size.min(8);
                raw[..low].copy_from_slice(&ordered[..low]);
                let bits = u64::from_le_bytes(raw);
                let v = match item.opt {
                    b'f' => f32::from_bits(bits as u32) as f64,
                    b'd' => f64::from_bits(bits),
                    b'b' | b'h' | b'l' | b'i' => {
                        let shift = 64 - 8 * item.size.min(8) as u32;
                        (((bits << shift) as i64) >> shift) as f64
                    }
                    _ => bits as f64,
                };
                last_number = Some(v);
                values.push_back(Value::Number(v));
                pos += item.size;
            }
        }
    }
    values.push_back(Value::Number((pos + 1) as f64));
    ok(lua, values)
}
