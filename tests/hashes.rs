//! Hash commands.

mod common;

use std::collections::HashSet;

#[test]
fn set_get_delete() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("HSET h a 1 b 2"), ":2");
    assert_eq!(c.q("HSET h a 3 c 4"), ":1");
    assert_eq!(c.q("HGET h a"), "\"3\"");
    assert_eq!(c.q("HMGET h a zz c"), "[\"3\", (nil), \"4\"]");
    assert_eq!(c.q("HGETALL h"), "[\"a\", \"3\", \"b\", \"2\", \"c\", \"4\"]", "listpack keeps insertion order");
    assert_eq!(c.q("HKEYS h"), "[\"a\", \"b\", \"c\"]");
    assert_eq!(c.q("HVALS h"), "[\"3\", \"2\", \"4\"]");
    assert_eq!(c.q("HLEN h"), ":3");
    assert_eq!(c.q("HSTRLEN h a"), ":1");
    assert_eq!(c.q("HEXISTS h b"), ":1");
    assert_eq!(c.q("HSETNX h a 9"), ":0");
    assert_eq!(c.q("HSETNX h d 9"), ":1");
    assert_eq!(c.q("HMSET h e 5 f 6"), "+OK");
    assert_eq!(c.q("HSET h a"), "-ERR wrong number of arguments for 'hset' command");
    assert_eq!(c.q("HSET h a 1 b"), "-ERR wrong number of arguments for 'hset' command");
    assert_eq!(c.q("HDEL h a b zz"), ":2");
    assert_eq!(c.q("HDEL h c d e f"), ":4");
    assert_eq!(c.q("EXISTS h"), ":0", "an emptied hash is deleted");
    assert_eq!(c.q("HGETALL h"), "[]");
    assert_eq!(c.q("HGET h a"), "(nil)");
}

#[test]
fn wrong_types_both_ways() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET s v");
    c.q("HSET h a 1");
    let wrongtype = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    for cmd in ["HGET s a", "HSET s a 1", "HGETALL s", "HDEL s a", "HINCRBY s a 1", "HLEN s", "HSCAN s 0"] {
        assert_eq!(c.q(cmd), wrongtype, "{cmd}");
    }
    for cmd in ["GET h", "APPEND h x", "INCR h", "STRLEN h", "SETRANGE h 0 x", "GETBIT h 0", "LCS h s"] {
        let expected =
            if cmd.starts_with("LCS") { "-ERR The specified keys must contain string values" } else { wrongtype };
        assert_eq!(c.q(cmd), expected, "{cmd}");
    }
    assert_eq!(c.q("MGET h s"), "[(nil), \"v\"]");
    assert_eq!(c.q("TYPE h"), "+hash");
    assert_eq!(c.q("SET h x"), "+OK", "SET replaces any type");
    assert_eq!(c.q("TYPE h"), "+string");
}

#[test]
fn counters() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("HINCRBY h n 5"), ":5");
    assert_eq!(c.q("HINCRBY h n -7"), ":-2");
    assert_eq!(c.q("HINCRBY h n x"), "-ERR value is not an integer or out of range");
    c.q("HSET h s abc");
    assert_eq!(c.q("HINCRBY h s 1"), "-ERR hash value is not an integer");
    c.q("HSET h big 9223372036854775807");
    assert_eq!(c.q("HINCRBY h big 1"), "-ERR increment or decrement would overflow");
    assert_eq!(c.q("HINCRBYFLOAT h f 10.5"), "\"10.5\"");
    assert_eq!(c.q("HINCRBYFLOAT h f 0.1"), "\"10.6\"");
    assert_eq!(c.q("HINCRBYFLOAT h s 1"), "-ERR hash value is not a float");
    assert_eq!(c.q("HINCRBYFLOAT h f inf"), "-ERR value is NaN or Infinity");
    assert_eq!(c.q("HINCRBYFLOAT h f abc"), "-ERR value is not a valid float");
}

#[test]
fn encodings_follow_the_limits() {
    let s = common::start();
    let mut c = s.connect();
    c.q("HSET h a 1");
    assert_eq!(c.q("OBJECT ENCODING h"), "\"listpack\"");
    c.cmd(&["HSET", "h", "long", &"x".repeat(65)]);
    assert_eq!(c.q("OBJECT ENCODING h"), "\"hashtable\"");
    assert_eq!(c.q("CONFIG SET hash-max-listpack-entries 3"), "+OK");
    assert_eq!(c.q("CONFIG GET hash-max-ziplist-entries"), "[\"hash-max-ziplist-entries\", \"3\"]");
    c.q("HSET g a 1 b 2 c 3");
    assert_eq!(c.q("OBJECT ENCODING g"), "\"listpack\"");
    c.q("HSET g d 4");
    assert_eq!(c.q("OBJECT ENCODING g"), "\"hashtable\"");
    assert_eq!(c.q("HGET g a"), "\"1\"");
    assert_eq!(c.q("HLEN g"), ":4");
}

#[test]
fn random_fields() {
    let s = common::start();
    let mut c = s.connect();
    c.q("HSET h a 1 b 2 c 3");
    let one = common::unquote(&c.q("HRANDFIELD h"));
    assert!(["a", "b", "c"].contains(&one.as_str()));
    assert_eq!(common::items(&c.q("HRANDFIELD h 2")).len(), 2);
    let all: HashSet<String> = common::items(&c.q("HRANDFIELD h 10")).into_iter().collect();
    assert_eq!(all.len(), 3, "a count past the size gives every field once");
    assert_eq!(common::items(&c.q("HRANDFIELD h -7")).len(), 7, "a negative count may repeat");
    assert_eq!(common::items(&c.q("HRANDFIELD h 2 WITHVALUES")).len(), 4);
    assert_eq!(c.q("HRANDFIELD h 0"), "[]");
    assert_eq!(c.q("HRANDFIELD nope"), "(nil)");
    assert_eq!(c.q("HRANDFIELD nope 2"), "[]");
    assert_eq!(c.q("HRANDFIELD h 1 foo"), "-ERR syntax error");
    assert_eq!(
        c.q("HRANDFIELD h -9223372036854775808 WITHVALUES"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(c.q("HRANDFIELD h -9223372036854775807 WITHVALUES"), "-ERR value is out of range");
}

#[test]
fn hscan_returns_every_field() {
    let s = common::start();
    let mut c = s.connect();
    let mut cmd = vec!["HSET".to_string(), "h".to_string()];
    for i in 0..1000 {
        cmd.push(format!("field:{i}"));
        cmd.push(i.to_string());
    }
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&cmd), ":1000");
    assert_eq!(c.q("OBJECT ENCODING h"), "\"hashtable\"");
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = c.cmd(&["HSCAN", "h", &cursor, "COUNT", "50"]);
        let (next, rest) = reply[1..].split_once(", ").unwrap();
        cursor = common::unquote(next);
        let items = common::items(&rest[..rest.len() - 1]);
        for pair in items.chunks(2) {
            assert_eq!(pair[0], format!("field:{}", pair[1]));
            seen.insert(pair[0].clone());
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(c.q("HSCAN nope 0 COUNT 0"), "[\"0\", []]", "a missing key answers before the options");
    assert_eq!(c.q("HSCAN h 0 COUNT 0"), "-ERR syntax error");
    assert_eq!(c.q("HSCAN h x"), "-ERR invalid cursor");
}

#[test]
fn generic_commands_on_hashes() {
    let s = common::start();
    let mut c = s.connect();
    c.q("HSET {h}a f 1");
    assert_eq!(c.q("COPY {h}a {h}b"), ":1");
    assert_eq!(c.q("HSET {h}b f 2"), ":0");
    assert_eq!(c.q("HGET {h}a f"), "\"1\"", "a copy is independent");
    assert_eq!(c.q("RENAME {h}b {h}c"), "+OK");
    assert_eq!(c.q("HGET {h}c f"), "\"2\"");
    assert_eq!(c.q("EXPIRE {h}c 100"), ":1");
    assert_eq!(c.q("TTL {h}c"), ":100");
    assert_eq!(c.q("MOVE {h}c 1"), ":1");
    assert_eq!(c.q("DEL {h}a"), ":1");
    assert_eq!(c.q("DBSIZE"), ":0");
}
