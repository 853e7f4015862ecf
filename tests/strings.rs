//! String commands against a real server, exact replies.

mod common;

#[test]
fn get_set_basics() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("GET missing"), "(nil)");
    assert_eq!(c.q("SET k v"), "+OK");
    assert_eq!(c.q("GET k"), "\"v\"");
    assert_eq!(c.cmd(&["SET", "", ""]), "+OK");
    assert_eq!(c.cmd(&["GET", ""]), "\"\"");
    assert_eq!(c.cmd_bytes(&[b"SET".as_slice(), b"bin\x00\r\n", b"a\r\n\x00b"]), "+OK");
    assert_eq!(c.cmd_bytes(&[b"GET".as_slice(), b"bin\x00\r\n"]), "\"a\\r\\n\\0b\"");
    assert_eq!(c.q("GET"), "-ERR wrong number of arguments for 'get' command");
    assert_eq!(c.q("SET k"), "-ERR wrong number of arguments for 'set' command");
}

#[test]
fn set_options() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("SET k v NX"), "+OK");
    assert_eq!(c.q("SET k w NX"), "(nil)");
    assert_eq!(c.q("SET k w XX"), "+OK");
    assert_eq!(c.q("SET other w XX"), "(nil)");
    assert_eq!(c.q("SET k v NX XX"), "-ERR syntax error");
    assert_eq!(c.q("SET k v EX 10 PX 100"), "-ERR syntax error");
    assert_eq!(c.q("SET k v EX"), "-ERR syntax error");
    assert_eq!(c.q("SET k v FOO"), "-ERR syntax error");
    assert_eq!(c.q("SET k v EX abc"), "-ERR value is not an integer or out of range");
    assert_eq!(c.q("SET k v EX 0"), "-ERR invalid expire time in 'set' command");
    assert_eq!(c.q("SET k v EX -5"), "-ERR invalid expire time in 'set' command");
    assert_eq!(c.q("SET k v PX 9223372036854775807"), "-ERR invalid expire time in 'set' command");
    assert_eq!(c.q("SET k v EX 9223372036854775"), "-ERR invalid expire time in 'set' command");
    assert_eq!(c.q("GET k"), "\"w\"", "a failed SET changes nothing");
    assert_eq!(c.q("SET k new GET"), "\"w\"");
    assert_eq!(c.q("SET fresh new GET"), "(nil)");
    assert_eq!(c.q("SET k v2 NX GET"), "\"new\"");
    assert_eq!(c.q("GET k"), "\"new\"");
    assert_eq!(c.q("SET k v EX 100"), "+OK");
    assert_eq!(c.q("TTL k"), ":100");
    assert_eq!(c.q("SET k v2 KEEPTTL"), "+OK");
    assert_eq!(c.q("TTL k"), ":100");
    assert_eq!(c.q("SET k v3"), "+OK");
    assert_eq!(c.q("TTL k"), ":-1");
    assert_eq!(c.q("SET k v PXAT 1"), "+OK");
    assert_eq!(c.q("EXISTS k"), ":0", "an absolute expiry in the past leaves no key");
    assert_eq!(c.q("SET k v EXAT 99999999999"), "+OK");
    assert_eq!(c.q("EXPIRETIME k"), ":99999999999");
}

#[test]
fn setnx_setex_getset_getdel() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("SETNX k v"), ":1");
    assert_eq!(c.q("SETNX k w"), ":0");
    assert_eq!(c.q("SETEX k 100 x"), "+OK");
    assert_eq!(c.q("TTL k"), ":100");
    assert_eq!(c.q("SETEX k 0 x"), "-ERR invalid expire time in 'setex' command");
    assert_eq!(c.q("SETEX k abc x"), "-ERR value is not an integer or out of range");
    assert_eq!(c.q("PSETEX k 100000 y"), "+OK");
    assert_eq!(c.q("PSETEX k -1 y"), "-ERR invalid expire time in 'psetex' command");
    assert_eq!(c.q("GETSET k z"), "\"y\"");
    assert_eq!(c.q("TTL k"), ":-1");
    assert_eq!(c.q("GETSET n z"), "(nil)");
    assert_eq!(c.q("GETDEL k"), "\"z\"");
    assert_eq!(c.q("GETDEL k"), "(nil)");
    assert_eq!(c.q("EXISTS k"), ":0");
}

#[test]
fn getex() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("GETEX k"), "(nil)");
    c.q("SET k v");
    assert_eq!(c.q("GETEX k EX 100"), "\"v\"");
    assert_eq!(c.q("TTL k"), ":100");
    assert_eq!(c.q("GETEX k PERSIST"), "\"v\"");
    assert_eq!(c.q("TTL k"), ":-1");
    assert_eq!(c.q("GETEX k PX 0"), "-ERR invalid expire time in 'getex' command");
    assert_eq!(c.q("GETEX k PERSIST EX 1"), "-ERR syntax error");
    assert_eq!(c.q("GETEX k EX"), "-ERR syntax error");
    assert_eq!(c.q("GETEX k BOGUS"), "-ERR syntax error");
    assert_eq!(c.q("GETEX k PXAT 1"), "\"v\"");
    assert_eq!(c.q("EXISTS k"), ":0");
}

#[test]
fn mget_mset_across_shards() {
    let s = common::start();
    let mut c = s.connect();
    let keys: Vec<String> = (0..50).map(|i| format!("key:{i}")).collect();
    let mut mset = vec!["MSET".to_string()];
    for k in &keys {
        mset.push(k.clone());
        mset.push(format!("v-{k}"));
    }
    let mset: Vec<&str> = mset.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&mset), "+OK");
    let mut mget = vec!["MGET"];
    mget.extend(keys.iter().map(String::as_str));
    mget.push("nope");
    let reply = c.cmd(&mget);
    let expected: Vec<String> = keys.iter().map(|k| format!("\"v-{k}\"")).chain(["(nil)".to_string()]).collect();
    assert_eq!(reply, format!("[{}]", expected.join(", ")));
    assert_eq!(c.q("MSET a 1 b"), "-ERR wrong number of arguments for 'mset' command");
    assert_eq!(c.q("MSETNX a 1 key:3 x"), ":0");
    assert_eq!(c.q("EXISTS a"), ":0");
    assert_eq!(c.q("MSETNX a 1 b 2"), ":1");
    assert_eq!(c.q("MGET a b"), "[\"1\", \"2\"]");
    assert_eq!(c.q("MSETNX a 1 b"), "-ERR wrong number of arguments for 'msetnx' command");
}

#[test]
fn counters() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("INCR n"), ":1");
    assert_eq!(c.q("INCRBY n 10"), ":11");
    assert_eq!(c.q("DECR n"), ":10");
    assert_eq!(c.q("DECRBY n 20"), ":-10");
    assert_eq!(c.q("INCRBY n abc"), "-ERR value is not an integer or out of range");
    c.q("SET big 9223372036854775807");
    assert_eq!(c.q("INCR big"), "-ERR increment or decrement would overflow");
    assert_eq!(c.q("DECRBY n -9223372036854775808"), "-ERR decrement would overflow");
    c.q("SET s abc");
    assert_eq!(c.q("INCR s"), "-ERR value is not an integer or out of range");
    c.q("SET sp 1 ");
    c.cmd(&["SET", "sp", " 1"]);
    assert_eq!(c.q("INCR sp"), "-ERR value is not an integer or out of range");
    c.q("SET t 5 EX 100");
    assert_eq!(c.q("INCR t"), ":6");
    assert_eq!(c.q("TTL t"), ":100", "INCR keeps the TTL");
    assert_eq!(c.q("OBJECT ENCODING t"), "\"int\"");
}

/// Redis adds in 80-bit long double: so do we, digit for digit.
#[test]
fn incrbyfloat() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("INCRBYFLOAT f 10.5"), "\"10.5\"");
    assert_eq!(c.q("INCRBYFLOAT f 0.1"), "\"10.6\"");
    assert_eq!(c.q("INCRBYFLOAT f -5"), "\"5.6\"");
    assert_eq!(c.q("INCRBYFLOAT f 5.0e3"), "\"5005.60000000000000009\"");
    c.q("SET g 0.1");
    assert_eq!(c.q("INCRBYFLOAT g 0.2"), "\"0.3\"");
    c.q("SET h 1.5");
    assert_eq!(c.q("INCRBYFLOAT h 0x10"), "\"17.5\"");
    assert_eq!(c.q("INCRBYFLOAT h 1e5000"), "-ERR value is not a valid float");
    c.q("SET h 1e4932");
    assert_eq!(c.q("INCRBYFLOAT h 1e4932"), "-ERR increment would produce NaN or Infinity");
    c.q("SET h inf");
    assert_eq!(c.q("INCRBYFLOAT h 1"), "-ERR increment would produce NaN or Infinity");
    c.q("SET t 1 EX 100");
    assert_eq!(c.q("INCRBYFLOAT t 1.25"), "\"2.25\"");
    assert_eq!(c.q("TTL t"), ":100", "INCRBYFLOAT keeps the TTL");
    assert_eq!(c.q("INCRBYFLOAT f abc"), "-ERR value is not a valid float");
    assert_eq!(c.q("INCRBYFLOAT f nan"), "-ERR value is not a valid float");
    c.q("SET s abc");
    assert_eq!(c.q("INCRBYFLOAT s 1"), "-ERR value is not a valid float");
    c.q("SET i 3");
    assert_eq!(c.q("INCRBYFLOAT i 1.5"), "\"4.5\"");
    assert_eq!(c.q("INCRBYFLOAT i -1.5"), "\"3\"");
}

#[test]
fn append_strlen_ranges() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("APPEND k Hello"), ":5");
    assert_eq!(c.q("APPEND k World"), ":10");
    assert_eq!(c.q("OBJECT ENCODING k"), "\"raw\"");
    assert_eq!(c.q("STRLEN k"), ":10");
    assert_eq!(c.q("STRLEN nope"), ":0");
    assert_eq!(c.q("GETRANGE k 0 4"), "\"Hello\"");
    assert_eq!(c.q("GETRANGE k -5 -1"), "\"World\"");
    assert_eq!(c.q("GETRANGE k 5 2"), "\"\"");
    assert_eq!(c.q("GETRANGE k -1 -5"), "\"\"");
    assert_eq!(c.q("GETRANGE k 0 100"), "\"HelloWorld\"");
    assert_eq!(c.q("SUBSTR k 0 0"), "\"H\"");
    assert_eq!(c.q("GETRANGE nope 0 -1"), "\"\"");
    assert_eq!(c.q("GETRANGE k a 1"), "-ERR value is not an integer or out of range");
    c.q("SET n 12345");
    assert_eq!(c.q("GETRANGE n 1 2"), "\"23\"");
    assert_eq!(c.q("STRLEN n"), ":5");
}

#[test]
fn setrange() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("SETRANGE k 5 abc"), ":8");
    assert_eq!(c.q("GET k"), "\"\\0\\0\\0\\0\\0abc\"");
    assert_eq!(c.q("SETRANGE k 0 xy"), ":8");
    assert_eq!(c.q("GETRANGE k 0 1"), "\"xy\"");
    assert_eq!(c.cmd(&["SETRANGE", "empty", "3", ""]), ":0");
    assert_eq!(c.q("EXISTS empty"), ":0");
    assert_eq!(c.q("SETRANGE k -1 a"), "-ERR offset is out of range");
    assert_eq!(c.q("SETRANGE k 536870912 a"), "-ERR string exceeds maximum allowed size (proto-max-bulk-len)");
}

#[test]
fn lcs() {
    let s = common::start();
    let mut c = s.connect();
    c.q("MSET {x}a ohmytext {x}b mynewtext");
    assert_eq!(c.q("LCS {x}a {x}b"), "\"mytext\"");
    assert_eq!(c.q("LCS {x}a {x}b LEN"), ":6");
    assert_eq!(c.q("LCS {x}a {x}b IDX"), "[\"matches\", [[[:4, :7], [:5, :8]], [[:2, :3], [:0, :1]]], \"len\", :6]");
    assert_eq!(
        c.q("LCS {x}a {x}b IDX MINMATCHLEN 4 WITHMATCHLEN"),
        "[\"matches\", [[[:4, :7], [:5, :8], :4]], \"len\", :6]"
    );
    assert_eq!(c.q("LCS {x}a {x}b LEN IDX"), "-ERR If you want both the length and indexes, please just use IDX.");
    assert_eq!(c.q("LCS {x}a {x}b FOO"), "-ERR syntax error");
    assert_eq!(c.q("LCS {x}a nope"), "\"\"");
}
