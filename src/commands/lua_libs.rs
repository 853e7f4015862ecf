//! The libraries Redis gives scripts besides Lua's own: `bit` (LuaBitOp),
//! `cjson`, `cmsgpack` and `struct`, written here from their documented
//! behaviour, with their error texts.
//!
//! Each library function is a Rust function; its errors carry the calling
//! script's chunk and line, as the C libraries' do in Redis.

use mlua::{IntoLuaMulti, LightUserData, Lua, MultiValue, Table, Value};

use crate::store::zset::format_general;

pub(super) type Outcome = mlua::Result<MultiValue>;

pub(super) fn ok(lua: &Lua, values: impl mlua::IntoLuaMulti) -> Outcome {
    values.into_lua_multi(lua)
}

/// Raises `message` where the script called the library, as luaL_error
/// does: prefixed with the calling chunk and line (the scripting runner
/// turns it into Redis's error reply).
pub(super) fn fail(lua: &Lua, message: impl AsRef<str>) -> Outcome {
    let place = lua.inspect_stack(1).and_then(|d| {
        let line = d.curr_line();
        let source = d.source().short_src.map(|s| s.into_owned())?;
        (line > 0).then(|| format!("{source}:{line}: "))
    });
    Err(mlua::Error::RuntimeError(format!("{}{}", place.unwrap_or_default(), message.as_ref())))
}

/// Lua's name for a value's type in argument errors ("no value" when the
/// argument is missing).
pub(super) fn arg_type(v: Option<&Value>) -> &'static str {
    v.map_or("no value", type_name)
}

/// Argument `n` (1-based) as a number, as luaL_checknumber takes it.
pub(super) fn check_number(args: &[Value], n: usize, func: &str) -> Result<f64, String> {
    let v = args.get(n - 1);
    v.and_then(number).ok_or_else(|| format!("bad argument #{n} to '{func}' (number expected, got {})", arg_type(v)))
}

/// Argument `n` (1-based) as bytes, as luaL_checklstring takes it.
pub(super) fn check_string(lua: &Lua, args: &[Value], n: usize, func: &str) -> Result<Vec<u8>, String> {
    match args.get(n - 1) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => {
            Ok(lua.coerce_string(v.clone()).ok().flatten().map(|s| s.as_bytes().to_vec()).unwrap_or_default())
        }
        v => Err(format!("bad argument #{n} to '{func}' (string expected, got {})", arg_type(v))),
    }
}

/// A Lua number argument as f64.
pub(super) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Installs `bit`, `cjson`, `cmsgpack` and `struct` as globals of `lua`.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let libs = lua.create_table()?;
    libs.set("bit", bit(lua)?)?;
    libs.set("cjson", cjson(lua)?)?;
    libs.set("cmsgpack", super::lua_pack::cmsgpack(lua)?)?;
    libs.set("struct", super::lua_pack::structs(lua)?)?;
    for pair in libs.pairs::<String, Table>() {
        let (name, lib) = pair?;
        lua.globals().raw_set(name, lib)?;
    }
    Ok(())
}

pub(super) fn create(lua: &Lua, f: fn(&Lua, MultiValue) -> Outcome) -> mlua::Result<mlua::Function> {
    lua.create_function(f)
}

// --- bit ---------------------------------------------------------------------

/// LuaBitOp's argument conversion: the number rounded to an integer (ties
/// to even, by adding 2^52 + 2^51), then its low 32 bits as signed.
fn tobit(n: f64) -> i32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

/// Arguments 1..=`count` (all of them when None, at least one) as bits.
fn bit_args(args: &MultiValue, func: &str, count: Option<usize>) -> Result<Vec<i32>, String> {
    let args: Vec<Value> = args.iter().cloned().collect();
    let n = count.unwrap_or(args.len().max(1));
    (1..=n).map(|i| check_number(&args, i, func).map(tobit)).collect()
}

fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    macro_rules! op {
        ($name:literal, $count:expr, $f:expr) => {
            t.set(
                $name,
                create(lua, |lua, args| match bit_args(&args, $name, $count) {
                    Ok(v) => ok(lua, $f(&v) as f64),
                    Err(e) => fail(lua, e),
                })?,
            )?
        };
    }
    op!("tobit", Some(1), |v: &[i32]| v[0]);
    op!("bnot", Some(1), |v: &[i32]| !v[0]);
    op!("bswap", Some(1), |v: &[i32]| v[0].swap_bytes());
    op!("band", None, |v: &[i32]| v.iter().fold(-1, |a, b| a & b));
    op!("bor", None, |v: &[i32]| v.iter().fold(0, |a, b| a | b));
    op!("bxor", None, |v: &[i32]| v.iter().fold(0, |a, b| a ^ b));
    op!("lshift", Some(2), |v: &[i32]| ((v[0] as u32) << (v[1] & 31)) as i32);
    op!("rshift", Some(2), |v: &[i32]| ((v[0] as u32) >> (v[1] & 31)) as i32);
    op!("arshift", Some(2), |v: &[i32]| v[0] >> (v[1] & 31));
    op!("rol", Some(2), |v: &[i32]| (v[0] as u32).rotate_left((v[1] & 31) as u32) as i32);
    op!("ror", Some(2), |v: &[i32]| (v[0] as u32).rotate_right((v[1] & 31) as u32) as i32);
    t.set(
        "tohex",
        create(lua, |lua, args| {
            let count = if args.len() >= 2 { 2 } else { 1 };
            let v = match bit_args(&args, "tohex", Some(count)) {
                Ok(v) => v,
                Err(e) => return fail(lua, e),
            };
            let n = v.get(1).copied().unwrap_or(8);
            let (upper, n) = (n < 0, n.unsigned_abs().min(8) as usize);
            let hex = if upper { format!("{:08X}", v[0] as u32) } else { format!("{:08x}", v[0] as u32) };
            ok(lua, lua.create_string(&hex[8 - n..])?)
        })?,
    )?;
    Ok(t)
}

// --- cjson -------------------------------------------------------------------

/// cjson's settings, which its setter functions change for the rest of
/// the VM's life (Redis keeps them until SCRIPT FLUSH; here each thread's
/// VM has its own, as each has its own Lua state).
#[derive(Clone, Copy)]
struct CjsonConfig {
    encode_max_depth: usize,
    decode_max_depth: usize,
    precision: usize,
    sparse_convert: bool,
    sparse_ratio: usize,
    sparse_safe: usize,
    /// 0 off, 1 on, 2 "null".
    encode_invalid: u8,
    decode_invalid: bool,
    keep_buffer: bool,
}

const CJSON_DEFAULTS: CjsonConfig = CjsonConfig {
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    precision: 14,
    sparse_convert: false,
    sparse_ratio: 2,
    sparse_safe: 10,
    encode_invalid: 0,
    decode_invalid: true,
    keep_buffer: true,
};

thread_local! {
    static CJSON: std::cell::Cell<CjsonConfig> = const { std::cell::Cell::new(CJSON_DEFAULTS) };
}

fn cjson_config() -> CjsonConfig {
    CJSON.with(|c| c.get())
}

/// A cjson setting's integer argument: unchanged when absent.
fn int_setting(args: &[Value], n: usize, func: &str, min: usize, max: usize) -> Result<Option<usize>, String> {
    if args.get(n - 1).is_none_or(|v| v.is_nil()) {
        return Ok(None);
    }
    match check_number(args, n, func) {
        Ok(v) if v.fract() == 0.0 && v >= min as f64 && v <= max as f64 => Ok(Some(v as usize)),
        _ => Err(format!("bad argument #{n} to '{func}' (expected integer between {min} and {max})")),
    }
}

/// A cjson on/off setting (`true`/`false` or "on"/"off"; "null" where
/// `null_ok`): 0 off, 1 on, 2 null; unchanged when absent.
fn enum_setting(args: &[Value], n: usize, func: &str, null_ok: bool) -> Result<Option<u8>, String> {
    match args.get(n - 1) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b as u8)),
        Some(Value::String(s)) => match &*s.as_bytes() {
            b"off" => Ok(Some(0)),
            b"on" => Ok(Some(1)),
            b"null" if null_ok => Ok(Some(2)),
            other => {
                Err(format!("bad argument #{n} to '{func}' (invalid option '{}')", String::from_utf8_lossy(other)))
            }
        },
        Some(v) => Err(format!("bad argument #{n} to '{func}' (string expected, got {})", type_name(v))),
    }
}

fn enum_value(lua: &Lua, v: u8) -> mlua::Result<Value> {
    Ok(match v {
        0 => Value::Boolean(false),
        1 => Value::Boolean(true),
        _ => Value::String(lua.create_string("null")?),
    })
}

/// The setter functions: each changes its setting when given arguments
/// and returns the settings as they now are.
fn cjson_settings(lua: &Lua, t: &Table) -> mlua::Result<()> {
    fn setter(
        lua: &Lua,
        args: MultiValue,
        f: fn(&Lua, &[Value], &mut CjsonConfig) -> Result<MultiValue, String>,
    ) -> Outcome {
        let args: Vec<Value> = args.into_iter().collect();
        let mut config = cjson_config();
        match f(lua, &args, &mut config) {
            Ok(values) => {
                CJSON.with(|c| c.set(config));
                Ok(values)
            }
            Err(e) => fail(lua, e),
        }
    }
    macro_rules! set {
        ($name:literal, $f:expr) => {
            t.set($name, create(lua, |lua, args| setter(lua, args, $f))?)?
        };
    }
    const MAX: usize = i32::MAX as usize;
    set!("encode_max_depth", |lua, a, c| {
        if let Some(n) = int_setting(a, 1, "encode_max_depth", 1, MAX)? {
            c.encode_max_depth = n;
        }
        (c.encode_max_depth as f64).into_lua_multi(lua).map_err(|e| e.to_string())
    });
    set!("decode_max_depth", |lua, a, c| {
        if let Some(n) = int_setting(a, 1, "decode_max_depth", 1, MAX)? {
            c.decode_max_depth = n;
        }
        (c.decode_max_depth as f64).into_lua_multi(lua).map_err(|e| e.to_string())
    });
    set!("encode_number_precision", |lua, a, c| {
        if let Some(n) = int_setting(a, 1, "encode_number_precision", 1, 14)? {
            c.precision = n;
        }
        (c.precision as f64).into_lua_multi(lua).map_err(|e| e.to_string())
    });
    set!("encode_sparse_array", |lua, a, c| {
        if let Some(v) = enum_setting(a, 1, "encode_sparse_array", false)? {
            c.sparse_convert = v == 1;
        }
        if let Some(n) = int_setting(a, 2, "encode_sparse_array", 0, MAX)? {
            c.sparse_ratio = n;
        }
        if let Some(n) = int_setting(a, 3, "encode_sparse_array", 0, MAX)? {
            c.sparse_safe = n;
        }
        (c.sparse_convert, c.sparse_ratio as f64, c.sparse_safe as f64).into_lua_multi(lua).map_err(|e| e.to_string())
    });
    set!("encode_invalid_numbers", |lua, a, c| {
        if let Some(v) = enum_setting(a, 1, "encode_invalid_numbers", true)? {
            c.encode_invalid = v;
        }
        enum_value(lua, c.encode_invalid).and_then(|v| v.into_lua_multi(lua)).map_err(|e| e.to_string())
    });
    set!("decode_invalid_numbers", |lua, a, c| {
        if let Some(v) = enum_setting(a, 1, "decode_invalid_numbers", false)? {
            c.decode_invalid = v == 1;
        }
        c.decode_invalid.into_lua_multi(lua).map_err(|e| e.to_string())
    });
    // Whether cjson keeps its encode buffer between calls: only memory
    // use depends on it, and this encoder keeps none.
    set!("encode_keep_buffer", |lua, a, c| {
        if let Some(v) = enum_setting(a, 1, "encode_keep_buffer", false)? {
            c.keep_buffer = v == 1;
        }
        c.keep_buffer.into_lua_multi(lua).map_err(|e| e.to_string())
    });
    Ok(())
}

fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    CJSON.with(|c| c.set(CJSON_DEFAULTS));
    t.set("null", Value::LightUserData(LightUserData(std::ptr::null_mut())))?;
    cjson_settings(lua, &t)?;
    t.set(
        "encode",
        create(lua, |lua, args| {
            if args.len() != 1 {
                return fail(lua, "bad argument #1 to 'encode' (expected 1 argument)");
            }
            let value = args.into_iter().next().unwrap_or(Value::Nil);
            let mut out = Vec::new();
            match encode(&value, &mut out, 0) {
                Ok(()) => ok(lua, lua.create_string(&out)?),
                Err(e) => fail(lua, e),
            }
        })?,
    )?;
    t.set(
        "decode",
        create(lua, |lua, args| {
            if args.len() != 1 {
                return fail(lua, "bad argument #1 to 'decode' (expected 1 argument)");
            }
            let args: Vec<Value> = args.into_iter().collect();
            let bytes = match check_string(lua, &args, 1, "decode") {
                Ok(b) => b,
                Err(e) => return fail(lua, e),
            };
            let mut d = Decoder { lua, s: &bytes, at: 0 };
            match d.document() {
                Ok(v) => ok(lua, v),
                Err(e) => fail(lua, e),
            }
        })?,
    )?;
    Ok(t)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

fn encode_number(n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    let config = cjson_config();
    if !n.is_finite() {
        match config.encode_invalid {
            0 => return Err("Cannot serialise number: must not be NaN or Inf".into()),
            2 => out.extend_from_slice(b"null"),
            _ if n.is_nan() => out.extend_from_slice(b"nan"),
            _ => out.extend_from_slice(if n > 0.0 { b"inf" } else { b"-inf" }),
        }
        return Ok(());
    }
    out.extend_from_slice(format_general(n, config.precision).as_bytes());
    Ok(())
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => encode_number(*i as f64, out)?,
        Value::Number(n) => encode_number(*n, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth + 1 > cjson_config().encode_max_depth {
                return Err(format!("Cannot serialise, excessive nesting ({})", depth + 1));
            }
            encode_table(t, out, depth + 1)?;
        }
        other => return Err(format!("Cannot serialise {}: type not supported", type_name(other))),
    }
    Ok(())
}

/// The array length lua-cjson sees: the largest key when every key is a
/// positive integer (None otherwise), refusing excessively sparse arrays.
fn array_length(t: &Table) -> Result<Option<usize>, String> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.fract() != 0.0 {
            return Ok(None);
        }
        max = max.max(n as usize);
        items += 1;
    }
    let config = cjson_config();
    if config.sparse_ratio > 0 && max > items * config.sparse_ratio && max > config.sparse_safe {
        if config.sparse_convert {
            return Ok(None);
        }
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn encode_table(t: &Table, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match array_length(t)? {
        Some(len) if len > 0 => {
            out.push(b'[');
            for i in 1..=len {
                if i > 1 {
                    out.push(b',');
                }
                let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                encode(&v, out, depth)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair.map_err(|e| e.to_string())?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &k {
                    Value::String(s) => encode_string(&s.as_bytes(), out),
                    Value::Integer(_) | Value::Number(_) => {
                        out.push(b'"');
                        encode_number(number(&k).unwrap_or(0.0), out)?;
                        out.push(b'"');
                    }
                    other => {
                        return Err(format!(
                            "Cannot serialise {}: table key must be a number or string",
                            type_name(other)
                        ))
                    }
                }
                out.push(b':');
                encode(&v, out, depth)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// lua-cjson's tokens, by the names its errors use.
#[derive(Clone, Copy, PartialEq)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(e) => e,
        }
    }
}

/// Whether a number's text is hexadecimal (after an optional sign).
fn is_hex(s: &[u8]) -> bool {
    let s = s.strip_prefix(b"-").or_else(|| s.strip_prefix(b"+")).unwrap_or(s);
    s.len() > 1 && s[0] == b'0' && (s[1] | 0x20) == b'x'
}

/// The number at the start of `s` and its length, as C's strtod reads
/// it: decimal with an exponent, hexadecimal, `inf`, `infinity` or `nan`.
fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let negative = matches!(s.first(), Some(b'-'));
    if matches!(s.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let starts = |word: &str| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word.as_bytes());
    if starts("infinity") {
        return Some((sign * f64::INFINITY, i + 8));
    }
    if starts("inf") {
        return Some((sign * f64::INFINITY, i + 3));
    }
    if starts("nan") {
        return Some((f64::NAN, i + 3));
    }
    if is_hex(rest) {
        let digits = rest[2..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return Some((0.0, i + 1));
        }
        let text = std::str::from_utf8(&rest[2..2 + digits]).ok()?;
        let v = text.bytes().fold(0.0f64, |acc, d| acc * 16.0 + (d as char).to_digit(16).unwrap_or(0) as f64);
        return Some((sign * v, i + 2 + digits));
    }
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int = digits(i);
    let mut end = i + int;
    let mut frac = 0;
    if s.get(end) == Some(&b'.') {
        frac = digits(end + 1);
        end += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(s.get(e), Some(b'-' | b'+')) {
            e += 1;
        }
        let exp = digits(e);
        if exp > 0 {
            end = e + exp;
        }
    }
    let v: f64 = std::str::from_utf8(&s[..end]).ok()?.parse().ok()?;
    Some((v, end))
}

struct Decoder<'l, 's> {
    lua: &'l Lua,
    s: &'s [u8],
    at: usize,
}

impl Decoder<'_, '_> {
    /// The next token, where it starts (1-based), and for a string its
    /// bytes.
    fn token(&mut self) -> (Token, usize, Vec<u8>) {
        while self.at < self.s.len() && matches!(self.s[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
        let start = self.at + 1;
        let Some(&c) = self.s.get(self.at) else {
            return (Token::End, start, Vec::new());
        };
        let simple = |t| (t, start, Vec::new());
        let single = match c {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b':' => Some(Token::Colon),
            b',' => Some(Token::Comma),
            _ => None,
        };
        if let Some(t) = single {
            self.at += 1;
            return simple(t);
        }
        if c == b'"' {
            return match self.string() {
                Ok(bytes) => (Token::Str, start, bytes),
                // Reported where the string went wrong.
                Err((e, at)) => (Token::Error(e), at + 1, Vec::new()),
            };
        }
        for (word, t) in [("true", Token::Boolean(true)), ("false", Token::Boolean(false)), ("null", Token::Null)] {
            if self.s[self.at..].starts_with(word.as_bytes()) {
                self.at += word.len();
                return simple(t);
            }
        }
        let invalid_ok = cjson_config().decode_invalid;
        if c == b'-' || c == b'+' || c.is_ascii_digit() || (invalid_ok && matches!(c, b'i' | b'I' | b'n' | b'N')) {
            return match strtod(&self.s[self.at..]) {
                Some((n, len)) if invalid_ok || (n.is_finite() && !is_hex(&self.s[self.at..])) => {
                    self.at += len;
                    simple(Token::Number(n))
                }
                _ => simple(Token::Error("invalid number")),
            };
        }
        simple(Token::Error("invalid token"))
    }

    /// A string token's bytes; `at` is on its opening quote. An error
    /// comes with the offset it is reported at.
    fn string(&mut self) -> Result<Vec<u8>, (&'static str, usize)> {
        let mut out = Vec::new();
        self.at += 1;
        loop {
            let Some(&c) = self.s.get(self.at) else {
                return Err(("unexpected end of string", self.at));
            };
            self.at += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let escape_at = self.at - 1;
                    let Some(&e) = self.s.get(self.at) else {
                        return Err(("unexpected end of string", self.at));
                    };
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let c = self.unicode_escape().ok_or(("invalid unicode escape code", escape_at))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(("invalid escape code", escape_at)),
                    }
                }
                _ => out.push(c),
            }
        }
    }

    /// The code point of a `\uXXXX` escape (and its low surrogate's);
    /// `at` is after the `u`.
    fn unicode_escape(&mut self) -> Option<char> {
        let hex4 = |s: &[u8]| -> Option<u32> { u32::from_str_radix(std::str::from_utf8(s.get(..4)?).ok()?, 16).ok() };
        let high = hex4(&self.s[self.at..])?;
        self.at += 4;
        if (0xD800..0xDC00).contains(&high) {
            if !self.s[self.at..].starts_with(b"\\u") {
                return None;
            }
            let low = hex4(&self.s[self.at + 2..])?;
            if !(0xDC00..0xE000).contains(&low) {
                return None;
            }
            self.at += 6;
            return char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00));
        }
        char::from_u32(high)
    }

    fn document(&mut self) -> Result<Value, String> {
        let (t, at, bytes) = self.token();
        let v = self.value(t, at, bytes, 0)?;
        let (t, at, _) = self.token();
        if t != Token::End {
            return Err(format!("Expected the end but found {} at character {at}", t.name()));
        }
        Ok(v)
    }

    fn value(&mut self, t: Token, at: usize, bytes: Vec<u8>, depth: usize) -> Result<Value, String> {
        let lua_err = |e: mlua::Error| e.to_string();
        Ok(match t {
            Token::Str => Value::String(self.lua.create_string(&bytes).map_err(lua_err)?),
            Token::Number(n) => Value::Number(n),
            Token::Boolean(b) => Value::Boolean(b),
            Token::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
            Token::ObjBegin | Token::ArrBegin if depth + 1 > cjson_config().decode_max_depth => {
                return Err(format!("Found too many nested data structures ({}) at character {at}", depth + 1));
            }
            Token::ObjBegin => {
                let table = self.lua.create_table().map_err(lua_err)?;
                let (mut t, mut at, mut bytes) = self.token();
                if t == Token::ObjEnd {
                    return Ok(Value::Table(table));
                }
                loop {
                    if t != Token::Str {
                        return Err(format!("Expected object key string but found {} at character {at}", t.name()));
                    }
                    let key = self.lua.create_string(&bytes).map_err(lua_err)?;
                    let (c, c_at, _) = self.token();
                    if c != Token::Colon {
                        return Err(format!("Expected colon but found {} at character {c_at}", c.name()));
                    }
                    let (vt, v_at, v_bytes) = self.token();
                    let v = self.value(vt, v_at, v_bytes, depth + 1)?;
                    table.raw_set(key, v).map_err(lua_err)?;
                    let (sep, sep_at, _) = self.token();
                    match sep {
                        Token::ObjEnd => return Ok(Value::Table(table)),
                        Token::Comma => (t, at, bytes) = self.token(),
                        _ => {
                            return Err(format!(
                                "Expected comma or object end but found {} at character {sep_at}",
                                sep.name()
                            ))
                        }
                    }
                }
            }
            Token::ArrBegin => {
                let table = self.lua.create_table().map_err(lua_err)?;
                let (mut t, mut at, mut bytes) = self.token();
                if t == Token::ArrEnd {
                    return Ok(Value::Table(table));
                }
                for i in 1.. {
                    let v = self.value(t, at, bytes, depth + 1)?;
                    table.raw_set(i, v).map_err(lua_err)?;
                    let (sep, sep_at, _) = self.token();
                    match sep {
                        Token::ArrEnd => break,
                        Token::Comma => (t, at, bytes) = self.token(),
                        _ => {
                            return Err(format!(
                                "Expected comma or array end but found {} at character {sep_at}",
                                sep.name()
                            ))
                        }
                    }
                }
                Value::Table(table)
            }
            other => return Err(format!("Expected value but found {} at character {at}", other.name())),
        })
    }
}
