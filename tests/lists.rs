//! List commands (without the blocking ones).

mod common;

#[test]
fn push_pop_range() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("LPUSH l b a"), ":2");
    assert_eq!(c.q("RPUSH l c d"), ":4");
    assert_eq!(c.q("LRANGE l 0 -1"), "[\"a\", \"b\", \"c\", \"d\"]");
    assert_eq!(c.q("LRANGE l -2 100"), "[\"c\", \"d\"]");
    assert_eq!(c.q("LRANGE l 3 1"), "[]");
    assert_eq!(c.q("LPUSHX nope a"), ":0");
    assert_eq!(c.q("EXISTS nope"), ":0");
    assert_eq!(c.q("LLEN l"), ":4");
    assert_eq!(c.q("OBJECT ENCODING l"), "\"quicklist\"");
    assert_eq!(c.q("LPOP l"), "\"a\"");
    assert_eq!(c.q("RPOP l 2"), "[\"d\", \"c\"]");
    assert_eq!(c.q("LPOP l 5"), "[\"b\"]");
    assert_eq!(c.q("EXISTS l"), ":0", "an emptied list is deleted");
    assert_eq!(c.q("LPOP l"), "(nil)");
    assert_eq!(c.q("LPOP l 2"), "(nil array)");
    assert_eq!(c.q("LPOP l -1"), "-ERR value is out of range, must be positive");
    assert_eq!(c.q("LPOP l 1 2"), "-ERR wrong number of arguments for 'lpop' command");
}

#[test]
fn index_set_insert_remove() {
    let s = common::start();
    let mut c = s.connect();
    c.q("RPUSH l a b a c a");
    assert_eq!(c.q("LINDEX l -1"), "\"a\"");
    assert_eq!(c.q("LINDEX l 9"), "(nil)");
    assert_eq!(c.q("LINDEX nope x"), "(nil)", "a missing key answers before the index is read");
    assert_eq!(c.q("LSET l 1 B"), "+OK");
    assert_eq!(c.q("LSET l 9 x"), "-ERR index out of range");
    assert_eq!(c.q("LSET nope 0 x"), "-ERR no such key");
    assert_eq!(c.q("LINSERT l BEFORE c x"), ":6");
    assert_eq!(c.q("LINSERT l AFTER zz x"), ":-1");
    assert_eq!(c.q("LREM l -1 a"), ":1");
    assert_eq!(c.q("LREM l 0 a"), ":2");
    assert_eq!(c.q("LRANGE l 0 -1"), "[\"B\", \"x\", \"c\"]");
    assert_eq!(c.q("LTRIM l 1 1"), "+OK");
    assert_eq!(c.q("LRANGE l 0 -1"), "[\"x\"]");
    assert_eq!(c.q("LTRIM l 5 9"), "+OK");
    assert_eq!(c.q("EXISTS l"), ":0");
}

#[test]
fn lpos() {
    let s = common::start();
    let mut c = s.connect();
    c.q("RPUSH l a b c a b c a");
    assert_eq!(c.q("LPOS l a"), ":0");
    assert_eq!(c.q("LPOS l a RANK 2"), ":3");
    assert_eq!(c.q("LPOS l a RANK -1"), ":6");
    assert_eq!(c.q("LPOS l a COUNT 0"), "[:0, :3, :6]");
    assert_eq!(c.q("LPOS l a COUNT 2 RANK -1"), "[:6, :3]");
    assert_eq!(c.q("LPOS l a MAXLEN 3 RANK -1"), "[:6]".replace("[:6]", ":6"));
    assert_eq!(c.q("LPOS l zz"), "(nil)");
    assert!(c.q("LPOS l a RANK 0").starts_with("-ERR RANK can't be zero"));
    assert_eq!(c.q("LPOS l a COUNT -1"), "-ERR COUNT can't be negative");
}

#[test]
fn moves_across_shards() {
    let s = common::start();
    let mut c = s.connect();
    c.q("RPUSH src 1 2 3");
    assert_eq!(c.q("LMOVE src dst LEFT RIGHT"), "\"1\"");
    assert_eq!(c.q("RPOPLPUSH src dst"), "\"3\"");
    assert_eq!(c.q("LRANGE dst 0 -1"), "[\"3\", \"1\"]");
    assert_eq!(c.q("LMOVE src src LEFT RIGHT"), "\"2\"", "rotating a one-element list");
    assert_eq!(c.q("LRANGE src 0 -1"), "[\"2\"]");
    assert_eq!(c.q("LMOVE nope dst LEFT LEFT"), "(nil)");
    c.q("SET str v");
    assert_eq!(c.q("LMOVE src str LEFT LEFT"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.q("LRANGE src 0 -1"), "[\"2\"]", "nothing popped on a type error");
    assert_eq!(c.q("LMPOP 2 nope dst RIGHT COUNT 5"), "[\"dst\", [\"1\", \"3\"]]");
    assert_eq!(c.q("LMPOP 1 nope LEFT"), "(nil array)");
    assert_eq!(c.q("LMPOP 2 nope LEFT"), "-ERR syntax error");
    assert_eq!(c.q("LMPOP 1 src LEFT COUNT 0"), "-ERR count should be greater than 0");
}
