//! Sorted set commands.

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

#[test]
fn score_and_lex_ranges() {
    let s = common::start();
    let mut c = s.connect();
    c.q("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(c.q("ZRANGE z (1 5 BYSCORE LIMIT 1 2 WITHSCORES"), "[\"c\", \"3\", \"d\", \"4\"]");
    assert_eq!(c.q("ZRANGE z 5 (1 BYSCORE REV LIMIT 1 2"), "[\"d\", \"c\"]");
    assert_eq!(c.q("ZRANGEBYSCORE z -inf +inf LIMIT 3 -1"), "[\"d\", \"e\"]");
    assert_eq!(c.q("ZRANGEBYSCORE z 1 5 LIMIT -1 2"), "[]");
    assert_eq!(c.q("ZRANGEBYSCORE z 0x1p1 (0x4"), "[\"b\", \"c\"]", "bounds are read by strtod");
    assert_eq!(c.q("ZREVRANGEBYSCORE z 3 -inf WITHSCORES"), "[\"c\", \"3\", \"b\", \"2\", \"a\", \"1\"]");
    assert_eq!(
        c.q("ZRANGE z 0 -1 LIMIT 0 1"),
        "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(c.q("ZRANGE z 0 -1 LIMIT 5 -1"), "[\"a\", \"b\", \"c\", \"d\", \"e\"]");
    assert_eq!(
        c.q("ZRANGE z [a [c BYLEX WITHSCORES"),
        "-ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    );
    assert_eq!(c.q("ZRANGE z x 1 BYSCORE"), "-ERR min or max is not a float");
    assert_eq!(c.q("ZRANGE z a c BYLEX"), "-ERR min or max not valid string range item");
    assert_eq!(c.q("ZRANGEBYSCORE z 1 5 REV"), "-ERR syntax error");
    assert_eq!(c.q("ZRANGE z 0 1 BYSCORE BYLEX"), "-ERR syntax error");
    assert_eq!(c.q("ZCOUNT z (1 3"), ":2");
    assert_eq!(c.q("ZCOUNT z 3 1"), ":0");
    c.q("ZADD l 0 a 0 b 0 c 0 d");
    assert_eq!(c.q("ZRANGEBYLEX l (a [c"), "[\"b\", \"c\"]");
    assert_eq!(c.q("ZREVRANGEBYLEX l + - LIMIT 1 2"), "[\"c\", \"b\"]");
    assert_eq!(c.q("ZLEXCOUNT l - +"), ":4");
    assert_eq!(c.q("ZLEXCOUNT l + -"), ":0");
    assert_eq!(c.q("ZREMRANGEBYLEX l [b (d"), ":2");
    assert_eq!(c.q("ZREMRANGEBYSCORE z (1 3"), ":2");
    assert_eq!(c.q("ZREMRANGEBYRANK z 0 -2"), ":2");
    assert_eq!(c.q("ZRANGE z 0 -1 WITHSCORES"), "[\"e\", \"5\"]");
    assert_eq!(c.q("ZREMRANGEBYRANK z 0 0"), ":1");
    assert_eq!(c.q("EXISTS z"), ":0", "emptied by a range removal");
}

#[test]
fn stored_ranges_and_set_algebra() {
    let s = common::start();
    let mut c = s.connect();
    c.q("ZADD {t}a 1 x 2 y 3 z");
    c.q("ZADD {t}b 10 y -inf z");
    c.q("SADD {t}s x w");
    assert_eq!(c.q("ZRANGESTORE {t}d {t}a 2 +inf BYSCORE"), ":2");
    assert_eq!(c.q("ZRANGE {t}d 0 -1 WITHSCORES"), "[\"y\", \"2\", \"z\", \"3\"]");
    assert_eq!(c.q("ZRANGESTORE {t}d {t}nothing 0 -1"), ":0");
    assert_eq!(c.q("EXISTS {t}d"), ":0", "an empty result deletes the destination");
    assert_eq!(
        c.q("ZUNION 3 {t}a {t}b {t}s WITHSCORES"),
        "[\"z\", \"-inf\", \"w\", \"1\", \"x\", \"2\", \"y\", \"12\"]"
    );
    assert_eq!(c.q("ZINTER 2 {t}a {t}b WEIGHTS 1 0 AGGREGATE MAX WITHSCORES"), "[\"y\", \"2\", \"z\", \"3\"]");
    assert_eq!(c.q("ZINTER 2 {t}a {t}b WEIGHTS 0 1 WITHSCORES"), "[\"z\", \"-inf\", \"y\", \"10\"]");
    assert_eq!(c.q("ZDIFF 2 {t}a {t}s WITHSCORES"), "[\"y\", \"2\", \"z\", \"3\"]");
    assert_eq!(c.q("ZINTERCARD 2 {t}a {t}b LIMIT 1"), ":1");
    assert_eq!(c.q("ZUNIONSTORE {t}d 2 {t}a {t}b AGGREGATE MIN"), ":3");
    assert_eq!(c.q("ZRANGE {t}d 0 -1 WITHSCORES"), "[\"z\", \"-inf\", \"x\", \"1\", \"y\", \"2\"]");
    assert_eq!(c.q("ZUNION 0 {t}a"), "-ERR at least 1 input key is needed for 'zunion' command");
    assert_eq!(c.q("ZINTERSTORE {t}d 0 {t}a"), "-ERR at least 1 input key is needed for 'zinterstore' command");
    assert_eq!(c.q("ZUNION 3 {t}a"), "-ERR syntax error");
    assert_eq!(c.q("ZUNION 1 {t}a WEIGHTS x"), "-ERR weight value is not a float");
    assert_eq!(c.q("ZUNION 1 {t}a AGGREGATE avg"), "-ERR syntax error");
    assert_eq!(c.q("ZDIFF 1 {t}a WEIGHTS 1"), "-ERR syntax error");
    assert_eq!(c.q("ZUNIONSTORE {t}d 1 {t}a WITHSCORES"), "-ERR syntax error");
    assert_eq!(c.q("ZINTERCARD 1 {t}a LIMIT -1"), "-ERR LIMIT can't be negative");
    c.q("SET {t}str v");
    assert_eq!(
        c.q("ZUNION 2 {t}a {t}str WEIGHTS x"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value",
        "inputs are read before the options"
    );
    assert_eq!(
        c.q("ZRANGESTORE {t}d {t}str 0 1"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn mpop_random_and_scan() {
    let s = common::start();
    let mut c = s.connect();
    c.q("ZADD z 1 a 2 b 3 c");
    assert_eq!(c.q("ZMPOP 2 nothing z MAX COUNT 2"), "[\"z\", [[\"c\", \"3\"], [\"b\", \"2\"]]]");
    assert_eq!(c.q("ZMPOP 1 nothing MIN"), "(nil array)");
    assert_eq!(c.q("ZMPOP 1 z MIN COUNT 0"), "-ERR count should be greater than 0");
    assert_eq!(c.q("ZMPOP 0 z MIN"), "-ERR numkeys should be greater than 0");
    assert_eq!(c.q("ZMPOP 1 z MIN COUNT 1 COUNT 1"), "-ERR syntax error");
    c.q("ZADD r 1 a 2 b 3 c");
    assert_eq!(c.q("ZRANDMEMBER r 10 WITHSCORES"), "[\"c\", \"3\", \"b\", \"2\", \"a\", \"1\"]");
    assert_eq!(common::items(&c.q("ZRANDMEMBER r -7")).len(), 7, "a negative count repeats");
    assert_eq!(c.q("ZRANDMEMBER r 0"), "[]");
    assert_eq!(c.q("ZRANDMEMBER nothing"), "(nil)");
    assert_eq!(
        c.q("ZRANDMEMBER r -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    if !common::external() {
        // Redis 7.0 crashes here; we refuse.
        assert_eq!(c.q("ZRANDMEMBER r -9223372036854775807"), "-ERR value is out of range");
    }
    assert_eq!(c.q("ZRANDMEMBER r 4611686018427387904 WITHSCORES"), "-ERR value is out of range");
    let members: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();
    for m in &members {
        c.cmd(&["ZADD", "big", "7", m]);
    }
    assert_eq!(c.q("OBJECT ENCODING big"), "\"skiplist\"");
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = c.cmd(&["ZSCAN", "big", &cursor, "COUNT", "50"]);
        let (next, rest) = reply[1..].split_once(", ").unwrap();
        cursor = common::unquote(next);
        for pair in common::items(&rest[..rest.len() - 1]).chunks(2) {
            assert_eq!(pair[1], "7");
            seen.insert(pair[0].clone());
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500, "ZSCAN returns every member of a large set");
}

/// A large set (the tree form) against a sorted model: ranks, ranges by
/// rank and score, counts and removals.
#[test]
fn large_set_matches_a_model() {
    let s = common::start();
    let mut c = s.connect();
    let mut model: Vec<(i64, String)> = Vec::new();
    for i in 0..2000i64 {
        let (score, member) = ((i * 7919) % 1000, format!("m{i:04}"));
        c.cmd(&["ZADD", "z", &score.to_string(), &member]);
        model.push((score, member));
    }
    model.sort();
    let member_at = |rank: usize| model[rank].1.clone();
    assert_eq!(c.q("ZCARD z"), ":2000");
    for rank in [0usize, 1, 63, 64, 65, 999, 1500, 1999] {
        let m = member_at(rank);
        assert_eq!(c.cmd(&["ZRANK", "z", &m]), format!(":{rank}"));
        assert_eq!(c.cmd(&["ZREVRANK", "z", &m]), format!(":{}", 1999 - rank));
        assert_eq!(c.cmd(&["ZRANGE", "z", &rank.to_string(), &rank.to_string()]), format!("[{m:?}]"));
    }
    let in_range = model.iter().filter(|(s, _)| (100..=200).contains(s)).count() as i64;
    assert_eq!(c.q("ZCOUNT z 100 200"), format!(":{in_range}"));
    let page = common::items(&c.q("ZRANGEBYSCORE z (100 +inf LIMIT 3 4"));
    let expected: Vec<String> =
        model.iter().filter(|(s, _)| *s > 100).skip(3).take(4).map(|(_, m)| m.clone()).collect();
    assert_eq!(page, expected);
    let removed = model.iter().filter(|(s, _)| *s < 500).count() as i64;
    assert_eq!(c.q("ZREMRANGEBYSCORE z -inf (500"), format!(":{removed}"));
    assert_eq!(c.q("ZRANGE z 0 0"), format!("[{:?}]", member_at(removed as usize)));
    assert_eq!(c.q("ZREMRANGEBYRANK z 0 -1"), format!(":{}", 2000 - removed));
    assert_eq!(c.q("EXISTS z"), ":0");
}

#[test]
fn encodings_follow_the_limits() {
    let s = common::start_with(&[("zset-max-listpack-entries", "4")]);
    let mut c = s.connect();
    c.q("ZADD z 1 a 2 b 3 c 4 d");
    assert_eq!(c.q("OBJECT ENCODING z"), "\"listpack\"");
    c.q("ZADD z 5 e");
    assert_eq!(c.q("OBJECT ENCODING z"), "\"skiplist\"");
    c.q("ZREM z a b c");
    assert_eq!(c.q("OBJECT ENCODING z"), "\"skiplist\"", "a set does not convert back by itself");
    assert_eq!(c.q("ZUNIONSTORE d 1 z"), ":2");
    assert_eq!(c.q("OBJECT ENCODING d"), "\"listpack\"", "a stored result gets the encoding its size calls for");
    c.q("ZADD neg 1 a -0 b");
    assert_eq!(c.q("ZSCORE neg b"), "\"0\"", "a listpack keeps -0 as 0");
    c.q("ZADD z -0 q");
    assert_eq!(c.q("ZSCORE z q"), "\"-0\"", "a skiplist keeps -0");
}
