//! A dataset of every type and encoding, and its fingerprint, for the
//! persistence tests: what a server holds before a save or a restart must
//! equal what it (or the reference server) holds after.

use std::path::Path;

use super::{items, Conn};
use kvstore::{Config, Server};

/// Our server on a free port with its files in `dir`.
pub fn start_in(dir: &Path, directives: &[(&str, &str)]) -> Result<Server, String> {
    let mut config = Config::default();
    let dir = dir.to_str().unwrap();
    let base = [("port", "0"), ("threads", "2"), ("shards", "2"), ("save", ""), ("dir", dir)];
    for (k, v) in base.iter().chain(directives) {
        config.apply(k, &[v.to_string()]).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    Server::start(config).map_err(|e| e.0)
}

pub fn conn(server: &Server) -> Conn {
    Conn::connect(server.port())
}

/// Values of every type and encoding, with expiries, in three databases,
/// and a function library.
pub fn populate(c: &mut Conn) {
    let big_string = "x".repeat(1 << 20);
    let compressible = "abc".repeat(300);
    let noise: String = (0..300u32).map(|i| char::from(b'!' + ((i * 7919 + i / 3) % 90) as u8)).collect();
    for (k, v) in [
        ("s", "hello"),
        ("int", "12345"),
        ("neg", "-5"),
        ("big-int", "99999999999"),
        ("i64-min", "-9223372036854775808"),
        ("padded", "007"),
        ("empty", ""),
        ("compressible", &compressible),
        ("noise", &noise),
        ("big-string", &big_string),
    ] {
        assert_eq!(c.cmd(&["SET", k, v]), "+OK");
    }
    c.cmd_bytes(&[b"SET", b"bin\x00key\r\n", b"\x00\x01\xff\r\nvalue"]);
    c.q("RPUSH list a 1 b -1 127 128 -4096 40000 1073741824 1099511627776 -9223372036854775808 007");
    c.cmd(&["RPUSH", "list", &"y".repeat(100), &"z".repeat(5000)]);
    for i in 0..1000 {
        c.cmd(&["RPUSH", "long-list", &format!("item-{i}")]);
    }
    c.q("SADD intset 1 2 3 -7");
    c.q("SADD wide-intset 1 70000 -9223372036854775808 9223372036854775807");
    c.q("SADD strset a b c");
    for i in 0..600 {
        c.cmd(&["SADD", "big-intset", &i.to_string()]);
        c.cmd(&["SADD", "big-set", &format!("m{i}")]);
    }
    c.q("HSET hash f1 v1 f2 2 f3 -3");
    c.cmd(&["HSET", "hash-long-value", "f", &"v".repeat(100)]);
    for i in 0..200 {
        c.cmd(&["HSET", "big-hash", &format!("f{i}"), &format!("v{i}")]);
        c.cmd(&["ZADD", "big-zset", &format!("{}", i as f64 / 3.0), &format!("m{i}")]);
    }
    c.q("ZADD zset 1.5 a -inf b inf c 0 d 3 e 1e300 f -2.5e-10 g 4503599627370497 h");
    c.cmd(&["ZADD", "zset-long-member", "1", &"m".repeat(100)]);
    c.q("SET expiring v PXAT 4102444800123");
    c.q("HSET expiring-hash f v");
    c.q("PEXPIREAT expiring-hash 4102444800000");
    c.q("SELECT 3");
    c.q("SET in-db-3 three");
    c.q("RPUSH list-db-3 x");
    c.q("SELECT 15");
    c.q("SET in-db-15 fifteen");
    c.q("SELECT 0");
    let lib = "#!lua name=persisted\nredis.register_function('hello', function() return 'hi' end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), "\"persisted\"");
}

/// Every key of every database, with its type, encoding, absolute expiry
/// and contents in a canonical order, and the function libraries.
pub fn fingerprint(c: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    for db in 0..16 {
        c.cmd(&["SELECT", &db.to_string()]);
        let mut keys = items(&c.q("KEYS *"));
        keys.sort();
        for key in keys {
            // KEYS renders binary names lossily; such keys are read by name.
            if key.contains('\\') {
                continue;
            }
            let ty = c.cmd(&["TYPE", &key]);
            let mut contents = match ty.as_str() {
                "+string" => vec![c.cmd(&["GET", &key])],
                "+list" => vec![c.cmd(&["LRANGE", &key, "0", "-1"])],
                "+set" => items(&c.cmd(&["SMEMBERS", &key])),
                "+hash" => {
                    let flat = items(&c.cmd(&["HGETALL", &key]));
                    flat.chunks(2).map(|p| p.join("=")).collect()
                }
                "+zset" => vec![c.cmd(&["ZRANGE", &key, "0", "-1", "WITHSCORES"])],
                other => panic!("unexpected type {other}"),
            };
            contents.sort();
            let encoding = c.cmd(&["OBJECT", "ENCODING", &key]);
            let expiry = c.cmd(&["PEXPIRETIME", &key]);
            let contents = contents.join(",");
            out.push(format!("db{db} {key} {ty} {encoding} {expiry} {contents}"));
        }
    }
    c.q("SELECT 0");
    out.push(c.cmd_bytes(&[b"GET", b"bin\x00key\r\n"]));
    out.push(c.q("FUNCTION LIST WITHCODE"));
    out
}

pub fn assert_same(want: &[String], got: &[String]) {
    assert_eq!(want.len(), got.len(), "key counts differ");
    for (w, g) in want.iter().zip(got) {
        assert_eq!(w, g);
    }
}

/// Restarts the server stopped over `dir` and checks it holds `before`.
pub fn restart_holds(dir: &Path, directives: &[(&str, &str)], before: &[String]) {
    let server = start_in(dir, directives).unwrap();
    let mut c = conn(&server);
    assert_same(before, &fingerprint(&mut c));
    server.stop();
}
