//! Generic key commands, expiry and databases.

mod common;

use std::collections::HashSet;

// Count heap bytes, so INFO's used_memory is live in this test binary.
#[global_allocator]
static ALLOC: kvstore::memory::Counting = kvstore::memory::Counting;

/// used_memory counts the whole test process, so the tests that measure it
/// take turns.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn used_memory(c: &mut common::Conn) -> u64 {
    let info = c.q("INFO memory");
    info.split("\\r\\n").find_map(|l| l.strip_prefix("used_memory:")).unwrap().parse().unwrap()
}

/// Keys with a TTL that nobody reads again are deleted by the active cycle,
/// and their memory is given back.
#[test]
fn expired_keys_free_their_memory_without_access() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let s = common::start();
    let mut c = s.connect();
    let before = used_memory(&mut c);
    let mut batch = Vec::new();
    for i in 0..200_000 {
        batch.extend(common::encode(&[b"SET", format!("ttl:{i}").as_bytes(), b"some value", b"PX", b"1000"]));
    }
    c.send_raw(&batch);
    drop(batch);
    for _ in 0..200_000 {
        assert_eq!(c.read_reply(), "+OK");
    }
    let full = used_memory(&mut c);
    // At least 25 bytes a key, even if the cycle took some already.
    assert!(full > before + 5_000_000, "200k keys take memory: {before} -> {full}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while c.q("DBSIZE") != ":0" {
        assert!(std::time::Instant::now() < deadline, "keys left: {}", c.q("DBSIZE"));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let after = used_memory(&mut c);
    assert!(after < before + (full - before) / 10, "memory back down: {before} -> {full} -> {after}");
}

/// Collections of every type and encoding, small and large, give all their
/// memory back when flushed, synchronously or by the background freer.
#[test]
fn flushall_returns_collection_memory() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let s = common::start();
    let mut c = s.connect();
    let before = used_memory(&mut c);
    for mode in ["SYNC", "ASYNC"] {
        let mut batch = Vec::new();
        let mut replies = 0;
        for k in 0..150 {
            let n = if k % 3 == 0 { 2000 } else { 5 };
            let key = |t: &str| format!("{t}:{k}").into_bytes();
            for i in 0..n {
                let m = format!("member:{i}").into_bytes();
                let score = i.to_string().into_bytes();
                batch.extend(common::encode(&[b"RPUSH", &key("l"), &m]));
                batch.extend(common::encode(&[b"SADD", &key("s"), &m]));
                batch.extend(common::encode(&[b"SADD", &key("i"), &score]));
                batch.extend(common::encode(&[b"HSET", &key("h"), &m, &score]));
                batch.extend(common::encode(&[b"ZADD", &key("z"), &score, &m]));
                replies += 5;
            }
        }
        c.send_raw(&batch);
        drop(batch);
        for _ in 0..replies {
            let reply = c.read_reply();
            assert!(reply.starts_with(':') && reply != ":0", "{reply}");
        }
        let full = used_memory(&mut c);
        assert!(full > before + 10_000_000, "the data takes memory: {before} -> {full}");
        assert_eq!(c.q(&format!("FLUSHALL {mode}")), "+OK");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let after = used_memory(&mut c);
            if after < before + (full - before) / 20 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{mode}: memory not back: {before} -> {full} -> {after}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[test]
fn memory_usage_and_purge() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET k v");
    let small: i64 = c.q("MEMORY USAGE k").trim_start_matches(':').parse().unwrap();
    assert!((8..200).contains(&small), "{small}");
    c.q(&format!("SET big {}", "x".repeat(10_000)));
    let big: i64 = c.q("MEMORY USAGE big SAMPLES 0").trim_start_matches(':').parse().unwrap();
    assert!((10_000..11_000).contains(&big), "{big}");
    for i in 0..1000 {
        c.q(&format!("SADD set member:{i}"));
    }
    let set: i64 = c.q("MEMORY USAGE set samples 5 SAMPLES 1").trim_start_matches(':').parse().unwrap();
    assert!((1000 * 11..1000 * 100).contains(&set), "{set}");
    assert_eq!(c.q("MEMORY USAGE nokey"), "(nil)");
    assert_eq!(c.q("MEMORY USAGE k SAMPLES -1"), "-ERR syntax error");
    assert_eq!(c.q("MEMORY USAGE k SAMPLES x"), "-ERR value is not an integer or out of range");
    assert_eq!(c.q("MEMORY USAGE k SAMPLES"), "-ERR syntax error");
    assert_eq!(c.q("MEMORY USAGE k foo"), "-ERR syntax error");
    assert_eq!(c.q("MEMORY USAGE"), "-ERR wrong number of arguments for 'memory|usage' command");
    assert_eq!(c.q("MEMORY PURGE"), "+OK");
    assert_eq!(c.q("MEMORY PURGE x"), "-ERR wrong number of arguments for 'memory|purge' command");
    assert_eq!(c.q("MEMORY FOO"), "-ERR unknown subcommand 'FOO'. Try MEMORY HELP.");
    assert!(c.q("MEMORY HELP").starts_with("[+MEMORY <subcommand>"));
}

#[test]
fn del_exists_type_touch() {
    let s = common::start();
    let mut c = s.connect();
    c.q("MSET a 1 b 2 c 3");
    assert_eq!(c.q("EXISTS a b nope a"), ":3");
    assert_eq!(c.q("TOUCH a nope"), ":1");
    assert_eq!(c.q("TYPE a"), "+string");
    assert_eq!(c.q("TYPE nope"), "+none");
    assert_eq!(c.q("DEL a b nope"), ":2");
    assert_eq!(c.q("UNLINK c c"), ":1");
    assert_eq!(c.q("EXISTS a b c"), ":0");
    assert_eq!(c.q("DEL"), "-ERR wrong number of arguments for 'del' command");
}

#[test]
fn expire_family() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("EXPIRE nope 10"), ":0");
    assert_eq!(c.q("TTL nope"), ":-2");
    assert_eq!(c.q("PTTL nope"), ":-2");
    c.q("SET k v");
    assert_eq!(c.q("TTL k"), ":-1");
    assert_eq!(c.q("EXPIRETIME k"), ":-1");
    assert_eq!(c.q("EXPIRE k 100"), ":1");
    assert_eq!(c.q("TTL k"), ":100");
    let pttl: i64 = c.q("PTTL k")[1..].parse().unwrap();
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(c.q("EXPIRE k 50 NX"), ":0");
    assert_eq!(c.q("EXPIRE k 50 XX"), ":1");
    assert_eq!(c.q("EXPIRE k 40 GT"), ":0");
    assert_eq!(c.q("EXPIRE k 60 GT"), ":1");
    assert_eq!(c.q("EXPIRE k 70 LT"), ":0");
    assert_eq!(c.q("EXPIRE k 30 LT"), ":1");
    assert_eq!(c.q("TTL k"), ":30");
    assert_eq!(c.q("EXPIRE k 10 NX XX"), "-ERR NX and XX, GT or LT options at the same time are not compatible");
    assert_eq!(c.q("EXPIRE k 10 GT LT"), "-ERR GT and LT options at the same time are not compatible");
    assert_eq!(c.q("EXPIRE k 10 FOO"), "-ERR Unsupported option FOO");
    assert_eq!(c.q("EXPIRE k abc"), "-ERR value is not an integer or out of range");
    assert_eq!(c.q("EXPIRE k 9223372036854775807"), "-ERR invalid expire time in 'expire' command");
    assert_eq!(c.q("PEXPIRE k 9223372036854775807"), "-ERR invalid expire time in 'pexpire' command");
    assert_eq!(c.q("PERSIST k"), ":1");
    assert_eq!(c.q("PERSIST k"), ":0");
    assert_eq!(c.q("PERSIST nope"), ":0");
    assert_eq!(c.q("EXPIRE k 10 GT"), ":0", "no TTL counts as infinite for GT");
    assert_eq!(c.q("EXPIRE k 10 LT"), ":1");
    assert_eq!(c.q("EXPIREAT k 99999999999"), ":1");
    assert_eq!(c.q("EXPIRETIME k"), ":99999999999");
    assert_eq!(c.q("PEXPIRETIME k"), ":99999999999000");
    assert_eq!(c.q("PEXPIREAT k 99999999999123"), ":1");
    assert_eq!(c.q("PEXPIRETIME k"), ":99999999999123");
    assert_eq!(c.q("EXPIRE k -1"), ":1", "a past time deletes");
    assert_eq!(c.q("EXISTS k"), ":0");
    c.q("SET k v");
    assert_eq!(c.q("PEXPIRE k -9223372036854775808"), ":1");
    assert_eq!(c.q("EXISTS k"), ":0");
}

#[test]
fn keys_expire_lazily_and_actively() {
    let s = common::start();
    let mut c = s.connect();
    c.q("CONFIG RESETSTAT");
    c.q("SET lazy v PX 30");
    c.q("SET active v PX 30");
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(c.q("GET lazy"), "(nil)");
    // The active cycle (10 times a second) removes the other without access.
    let mut gone = false;
    for _ in 0..50 {
        if c.q("DBSIZE") == ":0" {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(gone, "the active expiry cycle deleted the key");
    let info = c.q("INFO stats");
    assert!(info.contains("expired_keys:2"), "{info}");
}

#[test]
fn active_expiry_can_be_switched_off() {
    let s = common::start_with(&[("enable-debug-command", "yes")]);
    let mut c = s.connect();
    assert_eq!(c.q("DEBUG SET-ACTIVE-EXPIRE 0"), "+OK");
    c.q("SET k v PX 10");
    std::thread::sleep(std::time::Duration::from_millis(250));
    assert_eq!(c.q("DBSIZE"), ":1", "expired but not yet deleted");
    assert_eq!(c.q("GET k"), "(nil)");
    assert_eq!(c.q("DBSIZE"), ":0");
    assert_eq!(c.q("DEBUG SET-ACTIVE-EXPIRE 1"), "+OK");
}

#[test]
fn keys_and_scan() {
    let s = common::start();
    let mut c = s.connect();
    for i in 0..300 {
        c.cmd(&["SET", &format!("user:{i}"), "x"]);
    }
    c.q("SET other x");
    let keys = common::items(&c.q("KEYS user:1?"));
    assert_eq!(keys.len(), 10);
    assert_eq!(common::items(&c.q("KEYS *")).len(), 301);
    assert_eq!(c.q("KEYS nomatch*"), "[]");
    // A full SCAN sees every key, across both shards.
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = c.cmd(&["SCAN", &cursor, "MATCH", "user:*", "COUNT", "20"]);
        let (next, rest) = reply[1..].split_once(", ").unwrap();
        cursor = common::unquote(next);
        for k in common::items(&rest[..rest.len() - 1]) {
            seen.insert(k);
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 300);
    assert!(calls > 1);
    assert_eq!(c.q("SCAN abc"), "-ERR invalid cursor");
    assert_eq!(c.q("SCAN 0 COUNT 0"), "-ERR syntax error");
    assert_eq!(c.q("SCAN 0 FOO"), "-ERR syntax error");
    assert_eq!(c.q("SCAN 0 COUNT x"), "-ERR value is not an integer or out of range");
    let typed = c.q("SCAN 0 TYPE list COUNT 1000");
    assert!(typed.ends_with(", []]"), "{typed}");
}

/// Keys present for a whole SCAN are returned even while the table grows.
#[test]
fn scan_guarantee_while_growing() {
    let s = common::start();
    let mut c = s.connect();
    for i in 0..200 {
        c.cmd(&["SET", &format!("old:{i}"), "x"]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut added = 0;
    loop {
        let reply = c.cmd(&["SCAN", &cursor, "COUNT", "10"]);
        let (next, rest) = reply[1..].split_once(", ").unwrap();
        cursor = common::unquote(next);
        seen.extend(common::items(&rest[..rest.len() - 1]));
        // Grow the table for a while (through several resizes).
        while added < 2000 && added < seen.len() * 20 {
            c.cmd(&["SET", &format!("new:{added}"), "x"]);
            added += 1;
        }
        if cursor == "0" {
            break;
        }
    }
    for i in 0..200 {
        assert!(seen.contains(&format!("old:{i}")), "old:{i} missed");
    }
}

#[test]
fn randomkey() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("RANDOMKEY"), "(nil)");
    c.q("MSET a 1 b 2 c 3");
    for _ in 0..20 {
        let k = common::unquote(&c.q("RANDOMKEY"));
        assert!(["a", "b", "c"].contains(&k.as_str()), "{k}");
    }
}

#[test]
fn rename_and_renamenx() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("RENAME nope x"), "-ERR no such key");
    assert_eq!(c.q("RENAMENX nope x"), "-ERR no such key");
    c.q("SET a 1 EX 100");
    assert_eq!(c.q("RENAME a b"), "+OK");
    assert_eq!(c.q("GET b"), "\"1\"");
    assert_eq!(c.q("TTL b"), ":100");
    assert_eq!(c.q("EXISTS a"), ":0");
    assert_eq!(c.q("RENAME b b"), "+OK");
    assert_eq!(c.q("RENAMENX b b"), ":0");
    c.q("SET c 3");
    assert_eq!(c.q("RENAMENX b c"), ":0");
    assert_eq!(c.q("RENAMENX b d"), ":1");
    // Across shards: many names, so some land on the other shard.
    for i in 0..20 {
        let (from, to) = (format!("src{i}"), format!("dst{i}"));
        c.cmd(&["SET", &from, &i.to_string()]);
        assert_eq!(c.cmd(&["RENAME", &from, &to]), "+OK");
        assert_eq!(c.cmd(&["GET", &to]), format!("\"{i}\""));
    }
}

#[test]
fn copy_and_move() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET a hello");
    assert_eq!(c.q("COPY a b"), ":1");
    assert_eq!(c.q("COPY a b"), ":0");
    assert_eq!(c.q("COPY a b REPLACE"), ":1");
    assert_eq!(c.q("COPY nope b"), ":0");
    assert_eq!(c.q("COPY a a"), "-ERR source and destination objects are the same");
    assert_eq!(c.q("COPY a a DB 1"), ":1");
    assert_eq!(c.q("COPY a b DB 99"), "-ERR DB index is out of range");
    assert_eq!(c.q("COPY a b FOO"), "-ERR syntax error");
    assert_eq!(c.q("MOVE a 0"), "-ERR source and destination objects are the same");
    assert_eq!(c.q("MOVE a 99"), "-ERR DB index is out of range");
    assert_eq!(c.q("MOVE a 1"), ":0", "the target db has it already");
    assert_eq!(c.q("MOVE b 2"), ":1");
    assert_eq!(c.q("EXISTS b"), ":0");
    assert_eq!(c.q("SELECT 2"), "+OK");
    assert_eq!(c.q("GET b"), "\"hello\"");
    assert_eq!(c.q("MOVE nope 0"), ":0");
}

#[test]
fn object() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET i 123");
    c.q("SET e hello");
    c.cmd(&["SET", "r", &"x".repeat(45)]);
    assert_eq!(c.q("OBJECT ENCODING i"), "\"int\"");
    assert_eq!(c.q("OBJECT ENCODING e"), "\"embstr\"");
    assert_eq!(c.q("OBJECT ENCODING r"), "\"raw\"");
    assert_eq!(c.q("OBJECT ENCODING nope"), "(nil)");
    assert_eq!(c.q("OBJECT REFCOUNT i"), ":2147483647");
    assert_eq!(c.q("OBJECT REFCOUNT e"), ":1");
    assert_eq!(c.q("OBJECT IDLETIME e"), ":0");
    assert!(c.q("OBJECT FREQ e").starts_with("-ERR An LFU maxmemory policy is not selected"));
    assert_eq!(c.q("OBJECT FOO"), "-ERR unknown subcommand 'FOO'. Try OBJECT HELP.");
    assert_eq!(c.q("OBJECT ENCODING"), "-ERR wrong number of arguments for 'object|encoding' command");
    assert!(c.q("OBJECT HELP").starts_with("[+OBJECT <subcommand>"));
}

#[test]
fn databases() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET k db0");
    assert_eq!(c.q("SELECT 1"), "+OK");
    assert_eq!(c.q("GET k"), "(nil)");
    c.q("SET k db1");
    assert_eq!(c.q("DBSIZE"), ":1");
    assert_eq!(c.q("SELECT 16"), "-ERR DB index is out of range");
    assert_eq!(c.q("SELECT -1"), "-ERR DB index is out of range");
    assert_eq!(c.q("SELECT x"), "-ERR value is not an integer or out of range");
    assert_eq!(c.q("SWAPDB 0 1"), "+OK");
    assert_eq!(c.q("GET k"), "\"db0\"");
    assert_eq!(c.q("SWAPDB x 1"), "-ERR invalid first DB index");
    assert_eq!(c.q("SWAPDB 0 y"), "-ERR invalid second DB index");
    assert_eq!(c.q("SWAPDB 0 99"), "-ERR DB index is out of range");
    assert_eq!(c.q("FLUSHDB"), "+OK");
    assert_eq!(c.q("DBSIZE"), ":0");
    c.q("SELECT 0");
    assert_eq!(c.q("GET k"), "\"db1\"");
    assert_eq!(c.q("FLUSHDB FOO"), "-ERR syntax error");
    assert_eq!(c.q("FLUSHALL ASYNC"), "+OK");
    assert_eq!(c.q("DBSIZE"), ":0");
    c.q("SET k v");
    assert_eq!(c.q("FLUSHALL SYNC"), "+OK");
    assert_eq!(c.q("FLUSHALL SYNC ASYNC"), "-ERR syntax error");
}
