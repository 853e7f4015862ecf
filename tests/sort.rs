//! SORT and SORT_RO.

mod common;

#[test]
fn numeric_alpha_desc_and_limit() {
    let s = common::start();
    let mut c = s.connect();
    c.q("RPUSH l 3 1 2 10");
    assert_eq!(c.q("SORT l"), "[\"1\", \"2\", \"3\", \"10\"]");
    assert_eq!(c.q("SORT l DESC"), "[\"10\", \"3\", \"2\", \"1\"]");
    assert_eq!(c.q("SORT l ALPHA"), "[\"1\", \"10\", \"2\", \"3\"]");
    assert_eq!(c.q("SORT_RO l ALPHA DESC"), "[\"3\", \"2\", \"10\", \"1\"]");
    assert_eq!(c.q("SORT l ASC DESC"), "[\"10\", \"3\", \"2\", \"1\"]", "the last order word wins");
    assert_eq!(c.q("SORT l LIMIT 1 2"), "[\"2\", \"3\"]");
    assert_eq!(c.q("SORT l LIMIT 0 1 LIMIT 1 1"), "[\"2\"]");
    assert_eq!(c.q("SORT l LIMIT -1 2"), "[\"1\", \"2\"]");
    assert_eq!(c.q("SORT l LIMIT 2 -1"), "[\"3\", \"10\"]");
    assert_eq!(c.q("SORT l LIMIT 10 2"), "[]");
    assert_eq!(c.q("SORT l LIMIT 0 0"), "[]");
    assert_eq!(c.q("SORT l LIMIT 9223372036854775807 9223372036854775807"), "[]");
    assert_eq!(c.q("SORT l LIMIT 0 9223372036854775807"), "[\"1\", \"2\", \"3\", \"10\"]");
    // Equal numbers are ordered by their bytes.
    c.q("RPUSH n 2 02 2.0 1e0 1");
    assert_eq!(c.q("SORT n"), "[\"1\", \"1e0\", \"02\", \"2\", \"2.0\"]");
    assert_eq!(c.q("SORT n DESC"), "[\"2.0\", \"2\", \"02\", \"1e0\", \"1\"]");
    c.q("RPUSH ws b a B A 10 9");
    assert_eq!(c.q("SORT ws ALPHA"), "[\"10\", \"9\", \"A\", \"B\", \"a\", \"b\"]");
    c.q("RPUSH inf inf -inf 0");
    assert_eq!(c.q("SORT inf"), "[\"-inf\", \"0\", \"inf\"]");
    c.cmd(&["RPUSH", "e", "", " 1"]);
    assert_eq!(c.q("SORT e"), "[\"\", \" 1\"]", "strtod reads \"\" as 0 and skips leading space");
}

#[test]
fn sets_sorted_sets_and_errors() {
    let s = common::start();
    let mut c = s.connect();
    c.q("ZADD z 1 c 2 a 3 b");
    assert_eq!(c.q("SORT z ALPHA"), "[\"a\", \"b\", \"c\"]");
    assert_eq!(c.q("SORT z BY nosort"), "[\"c\", \"a\", \"b\"]", "nosort keeps score order");
    assert_eq!(c.q("SORT z BY nosort DESC"), "[\"b\", \"a\", \"c\"]");
    assert_eq!(c.q("SORT z BY nosort DESC LIMIT 1 1"), "[\"a\"]");
    let not_double = "-ERR One or more scores can't be converted into double";
    assert_eq!(c.q("SORT z"), not_double);
    c.q("SADD s 5 3 x");
    assert_eq!(c.q("SORT s"), not_double);
    assert_eq!(c.q("SORT s ALPHA"), "[\"3\", \"5\", \"x\"]");
    c.q("SADD ints 3 1 2");
    assert_eq!(c.q("SORT ints BY nosort"), "[\"1\", \"2\", \"3\"]");
    c.cmd(&["RPUSH", "bad", "1", "2 "]);
    assert_eq!(c.q("SORT bad"), not_double);
    c.q("RPUSH big 1e400");
    assert_eq!(c.q("SORT big"), not_double);
    c.q("RPUSH nan nan");
    assert_eq!(c.q("SORT nan"), not_double);
    c.q("SET str x");
    c.q("HSET h a 1");
    assert_eq!(c.q("SORT str"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.q("SORT h"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.q("SORT str foo"), "-ERR syntax error", "options are read before the key");
    assert_eq!(c.q("SORT nokey"), "[]");
    assert_eq!(c.q("SORT z LIMIT 1"), "-ERR syntax error");
    assert_eq!(c.q("SORT z LIMIT a b"), "-ERR value is not an integer or out of range");
    assert_eq!(c.q("SORT z GET"), "-ERR syntax error");
    assert_eq!(c.q("SORT z BY"), "-ERR syntax error");
    assert_eq!(c.q("SORT z STORE"), "-ERR syntax error");
    assert_eq!(c.q("SORT_RO z STORE d"), "-ERR syntax error");
    assert_eq!(c.q("SORT"), "-ERR wrong number of arguments for 'sort' command");
}

#[test]
fn by_and_get_patterns() {
    let s = common::start();
    let mut c = s.connect();
    c.q("RPUSH l 3 1 2 10");
    c.q("MSET w_3 30 w_1 10 w_2 20 w_10 5");
    assert_eq!(c.q("SORT l BY w_*"), "[\"10\", \"1\", \"2\", \"3\"]");
    assert_eq!(c.q("SORT l BY w_* GET # GET w_*"), "[\"10\", \"5\", \"1\", \"10\", \"2\", \"20\", \"3\", \"30\"]");
    assert_eq!(c.q("SORT l BY w_* GET # GET w_* LIMIT 0 2 DESC"), "[\"3\", \"30\", \"2\", \"20\"]");
    // A hash field; missing values count as 0 (ties then by the element).
    c.q("HSET h_1 f 9");
    assert_eq!(
        c.q("SORT l BY h_*->f GET h_*->f GET nokey GET #"),
        "[(nil), (nil), \"10\", (nil), (nil), \"2\", (nil), (nil), \"3\", \"9\", (nil), \"1\"]"
    );
    // Under ALPHA a missing value sorts first and ties keep list order.
    assert_eq!(c.q("SORT l BY h_*->f ALPHA"), "[\"3\", \"2\", \"10\", \"1\"]");
    c.q("RPUSH t b a c 1");
    assert_eq!(c.q("SORT t BY nokey_* ALPHA"), "[\"b\", \"a\", \"c\", \"1\"]");
    assert_eq!(c.q("SORT t BY nokey_*"), "[\"1\", \"a\", \"b\", \"c\"]");
    assert_eq!(c.q("SORT t BY nokey_* DESC"), "[\"c\", \"b\", \"a\", \"1\"]");
    // No `*`: nothing is sorted; a list is then read backwards under DESC.
    assert_eq!(c.q("SORT l BY nosort"), "[\"3\", \"1\", \"2\", \"10\"]");
    assert_eq!(c.q("SORT l BY # DESC"), "[\"10\", \"2\", \"1\", \"3\"]");
    assert_eq!(c.q("SORT l BY nosort DESC LIMIT 1 2"), "[\"2\", \"1\"]");
    // Patterns that name nothing usable give nil.
    assert_eq!(c.q("SORT l BY nosort GET w_ LIMIT 0 1"), "[(nil)]");
    assert_eq!(c.q("SORT l BY nosort GET w_*->x LIMIT 0 1"), "[(nil)]", "a field of a string");
    assert_eq!(c.q("SORT l BY w_*->"), "[\"1\", \"10\", \"2\", \"3\"]", "a trailing -> is part of the key name");
    assert_eq!(c.q("SORT l GET # GET #"), "[\"1\", \"1\", \"2\", \"2\", \"3\", \"3\", \"10\", \"10\"]");
    c.q("SET 1 z");
    assert_eq!(c.q("SORT l BY * GET *"), "-ERR One or more scores can't be converted into double");
}

#[test]
fn store() {
    let s = common::start();
    let mut c = s.connect();
    c.q("RPUSH l 3 1 2 10");
    assert_eq!(c.q("SORT l BY nosort GET # STORE dst"), ":4");
    assert_eq!(c.q("LRANGE dst 0 -1"), "[\"3\", \"1\", \"2\", \"10\"]");
    c.q("SET str x");
    c.q("EXPIRE str 100");
    assert_eq!(c.q("SORT l STORE str"), ":4");
    assert_eq!(c.q("TYPE str"), "+list");
    assert_eq!(c.q("TTL str"), ":-1", "the stored list replaces the key and its TTL");
    // Missing GET values are stored as empty strings.
    assert_eq!(c.q("SORT l GET g_* STORE d4"), ":4");
    assert_eq!(c.q("LRANGE d4 0 1"), "[\"\", \"\"]");
    // An empty result deletes the destination.
    assert_eq!(c.q("SORT nokey STORE dst"), ":0");
    assert_eq!(c.q("EXISTS dst"), ":0");
    // A set with nosort is stored in byte order, so the result does not
    // depend on the set's table order.
    c.q("SADD s b c a");
    assert_eq!(c.q("SORT s BY nosort DESC STORE d5"), ":3");
    assert_eq!(c.q("LRANGE d5 0 -1"), "[\"c\", \"b\", \"a\"]");
    assert_eq!(c.q("SORT s BY nosort LIMIT 0 2 STORE d6"), ":2");
    assert_eq!(c.q("LRANGE d6 0 -1"), "[\"a\", \"b\"]");
    assert_eq!(c.q("COMMAND GETKEYS SORT l BY x STORE d GET y"), "[\"l\", \"d\"]");
    assert_eq!(c.q("COMMAND GETKEYS SORT_RO l"), "[\"l\"]");
}

#[test]
fn store_wakes_a_blocked_client() {
    let s = common::start();
    let mut c = s.connect();
    let mut w = s.connect();
    c.q("RPUSH src{t} 2 1");
    w.send("BLPOP dst 0");
    common::wait_blocked(&mut c, 1);
    assert_eq!(c.q("SORT src{t} STORE dst"), ":2");
    assert_eq!(w.read_reply(), "[\"dst\", \"1\"]");
    assert_eq!(c.q("LRANGE dst 0 -1"), "[\"2\"]");
}
