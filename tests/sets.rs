//! Set commands.

mod common;

use std::collections::HashSet;

fn members(reply: &str) -> HashSet<String> {
    common::items(reply).into_iter().collect()
}

fn set_of(items: &[&str]) -> HashSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn add_remove_members() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("SADD s 3 1 2"), ":3");
    assert_eq!(c.q("SADD s 2 4"), ":1");
    assert_eq!(c.q("SMEMBERS s"), "[\"1\", \"2\", \"3\", \"4\"]", "an intset is sorted");
    assert_eq!(c.q("OBJECT ENCODING s"), "\"intset\"");
    assert_eq!(c.q("SADD s a"), ":1");
    assert_eq!(c.q("OBJECT ENCODING s"), "\"hashtable\"");
    assert_eq!(members(&c.q("SMEMBERS s")), set_of(&["1", "2", "3", "4", "a"]));
    assert_eq!(c.q("SCARD s"), ":5");
    assert_eq!(c.q("SISMEMBER s a"), ":1");
    assert_eq!(c.q("SMISMEMBER s 1 zz a"), "[:1, :0, :1]");
    assert_eq!(c.q("SREM s 1 2 zz"), ":2");
    assert_eq!(c.q("SREM s 3 4 a"), ":3");
    assert_eq!(c.q("EXISTS s"), ":0", "an emptied set is deleted");
    assert_eq!(c.q("SMEMBERS s"), "[]");
    c.q("SET str v");
    assert_eq!(c.q("SADD str a"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.q("CONFIG SET set-max-intset-entries 2"), "+OK");
    c.q("SADD small 1 2");
    assert_eq!(c.q("OBJECT ENCODING small"), "\"intset\"");
    c.q("SADD small 3");
    assert_eq!(c.q("OBJECT ENCODING small"), "\"hashtable\"");
}

#[test]
fn algebra_across_shards() {
    let s = common::start();
    let mut c = s.connect();
    // Names without a hash tag land on both shards.
    c.q("SADD a 1 2 3 4");
    c.q("SADD b 3 4 5");
    c.q("SADD c 4 5 6");
    assert_eq!(members(&c.q("SINTER a b")), set_of(&["3", "4"]));
    assert_eq!(members(&c.q("SINTER a b c")), set_of(&["4"]));
    assert_eq!(c.q("SINTER a nope"), "[]");
    assert_eq!(members(&c.q("SUNION a b")), set_of(&["1", "2", "3", "4", "5"]));
    assert_eq!(members(&c.q("SDIFF a b c")), set_of(&["1", "2"]));
    assert_eq!(c.q("SINTERSTORE d a b"), ":2");
    assert_eq!(members(&c.q("SMEMBERS d")), set_of(&["3", "4"]));
    assert_eq!(c.q("SUNIONSTORE d a b c"), ":6");
    assert_eq!(c.q("SDIFFSTORE d a a"), ":0");
    assert_eq!(c.q("EXISTS d"), ":0", "an empty result deletes the destination");
    assert_eq!(c.q("SINTERCARD 2 a b"), ":2");
    assert_eq!(c.q("SINTERCARD 2 a b LIMIT 1"), ":1");
    assert_eq!(c.q("SINTERCARD 0 a"), "-ERR numkeys should be greater than 0");
    assert_eq!(c.q("SINTERCARD 3 a b"), "-ERR Number of keys can't be greater than number of args");
    assert_eq!(c.q("SINTERCARD 2 a b LIMIT -1"), "-ERR LIMIT can't be negative");
    assert_eq!(c.q("COMMAND GETKEYS SINTERCARD 2 a b LIMIT 1"), "[\"a\", \"b\"]");
    c.q("SET str v");
    assert_eq!(c.q("SINTER a str"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.q("SINTERSTORE str a b"), ":2", "a store replaces a key of any type");
    assert_eq!(c.q("TYPE str"), "+set");
}

#[test]
fn smove() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SADD src a b");
    assert_eq!(c.q("SMOVE src dst a"), ":1");
    assert_eq!(c.q("SMOVE src dst a"), ":0");
    assert_eq!(c.q("SMOVE src src b"), ":1");
    assert_eq!(c.q("SMOVE nope dst a"), ":0");
    assert_eq!(c.q("SMOVE src dst b"), ":1");
    assert_eq!(c.q("EXISTS src"), ":0");
    assert_eq!(members(&c.q("SMEMBERS dst")), set_of(&["a", "b"]));
    c.q("SET str v");
    assert_eq!(c.q("SMOVE dst str a"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
}

#[test]
fn random_members() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SADD s a b c d");
    let one = common::unquote(&c.q("SRANDMEMBER s"));
    assert!(["a", "b", "c", "d"].contains(&one.as_str()));
    assert_eq!(members(&c.q("SRANDMEMBER s 10")).len(), 4);
    assert_eq!(common::items(&c.q("SRANDMEMBER s -10")).len(), 10);
    assert_eq!(c.q("SRANDMEMBER s 0"), "[]");
    let popped = common::items(&c.q("SPOP s 3"));
    assert_eq!(popped.len(), 3);
    assert_eq!(c.q("SCARD s"), ":1");
    let last = common::unquote(&c.q("SPOP s"));
    assert!(!popped.contains(&last));
    assert_eq!(c.q("EXISTS s"), ":0");
    assert_eq!(c.q("SPOP s"), "(nil)");
    assert_eq!(c.q("SPOP s -1"), "-ERR value is out of range, must be positive");
}

#[test]
fn sscan_returns_every_member() {
    let s = common::start();
    let mut c = s.connect();
    let mut cmd = vec!["SADD".to_string(), "s".to_string()];
    cmd.extend((0..1000).map(|i| format!("m{i}")));
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&cmd), ":1000");
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = c.cmd(&["SSCAN", "s", &cursor, "COUNT", "25"]);
        let (next, rest) = reply[1..].split_once(", ").unwrap();
        cursor = common::unquote(next);
        seen.extend(common::items(&rest[..rest.len() - 1]));
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
}
