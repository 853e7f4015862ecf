//! Sorted set commands (the core).

mod common;

#[test]
fn add_score_rank_range() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("ZADD z 1 a 2.5 b -0 c inf d"), ":4");
    assert_eq!(c.q("ZRANGE z 0 -1 WITHSCORES"), "[\"c\", \"0\", \"a\", \"1\", \"b\", \"2.5\", \"d\", \"inf\"]");
    assert_eq!(c.q("ZADD z NX XX 1 a"), "-ERR XX and NX options at the same time are not compatible");
    assert_eq!(c.q("ZADD z GT LT 1 a"), "-ERR GT, LT, and/or NX options at the same time are not compatible");
    assert_eq!(c.q("ZADD z INCR 1 a 2 b"), "-ERR INCR option supports a single increment-element pair");
    assert_eq!(c.q("ZADD z x a"), "-ERR value is not a valid float");
    assert_eq!(c.q("ZADD z 1e400 a"), "-ERR value is not a valid float");
    assert_eq!(c.q("ZADD z CH 5 a 6 e"), ":2");
    assert_eq!(c.q("ZADD z GT 1 a"), ":0");
    assert_eq!(c.q("ZINCRBY z 0.1 b"), "\"2.6000000000000001\"");
    assert_eq!(c.q("ZADD z INCR -inf d"), "-ERR resulting score is not a number (NaN)");
    assert_eq!(c.q("ZSCORE z b"), "\"2.6000000000000001\"");
    assert_eq!(c.q("ZMSCORE z a zz"), "[\"5\", (nil)]");
    assert_eq!(c.q("ZRANK z b"), ":1");
    assert_eq!(c.q("ZREVRANK z b"), ":3");
    assert_eq!(c.q("ZREVRANGE z 0 1"), "[\"d\", \"e\"]");
    assert_eq!(c.q("ZRANGE z 1 2 REV"), "[\"e\", \"a\"]");
    assert_eq!(c.q("ZCARD z"), ":5");
    assert_eq!(c.q("OBJECT ENCODING z"), "\"listpack\"");
}

#[test]
fn pops_and_removal() {
    let s = common::start();
    let mut c = s.connect();
    c.q("ZADD z 1 a 2 b 3 c");
    assert_eq!(c.q("ZPOPMIN z"), "[\"a\", \"1\"]");
    assert_eq!(c.q("ZPOPMAX z 5"), "[\"c\", \"3\", \"b\", \"2\"]");
    assert_eq!(c.q("EXISTS z"), ":0", "an emptied sorted set is deleted");
    assert_eq!(c.q("ZPOPMIN z"), "[]");
    assert_eq!(c.q("ZPOPMIN z -1"), "-ERR value is out of range, must be positive");
    c.q("ZADD z 1 a 2 b");
    assert_eq!(c.q("ZREM z a zz"), ":1");
    c.q("SET s v");
    assert_eq!(c.q("ZADD s 1 a"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
}
