//! Bitmap commands.

mod common;

#[test]
fn setbit_getbit() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("SETBIT k 7 1"), ":0");
    assert_eq!(c.q("SETBIT k 7 1"), ":1");
    assert_eq!(c.q("GET k"), "\"\\u{1}\"");
    assert_eq!(c.q("OBJECT ENCODING k"), "\"raw\"");
    assert_eq!(c.q("GETBIT k 7"), ":1");
    assert_eq!(c.q("GETBIT k 6"), ":0");
    assert_eq!(c.q("GETBIT k 100000"), ":0");
    assert_eq!(c.q("GETBIT nope 0"), ":0");
    assert_eq!(c.q("SETBIT k 7 0"), ":1");
    assert_eq!(c.q("SETBIT k 100 1"), ":0");
    assert_eq!(c.q("STRLEN k"), ":13");
    assert_eq!(c.q("SETBIT k -1 1"), "-ERR bit offset is not an integer or out of range");
    assert_eq!(c.q("SETBIT k 4294967296 1"), "-ERR bit offset is not an integer or out of range");
    assert_eq!(c.q("SETBIT k 4294967295 2"), "-ERR bit is not an integer or out of range");
    assert_eq!(c.q("SETBIT k 1 x"), "-ERR bit is not an integer or out of range");
    assert_eq!(c.q("GETBIT k a"), "-ERR bit offset is not an integer or out of range");
    c.q("SET n 5");
    assert_eq!(c.q("SETBIT n 0 1"), ":0", "an integer value is edited as its digits");
    assert_eq!(c.q("GET n"), "\"\\u{b5}\"".replace("\\u{b5}", "\u{fffd}"));
}

#[test]
fn bitcount_and_bitpos() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET s foobar");
    assert_eq!(c.q("BITCOUNT s"), ":26");
    assert_eq!(c.q("BITCOUNT s 0 0"), ":4");
    assert_eq!(c.q("BITCOUNT s 1 1"), ":6");
    assert_eq!(c.q("BITCOUNT s 0 -1"), ":26");
    assert_eq!(c.q("BITCOUNT s -100 -100"), ":4");
    assert_eq!(c.q("BITCOUNT s 5 30 BIT"), ":17");
    assert_eq!(c.q("BITCOUNT s 1 1 bit"), ":1");
    assert_eq!(c.q("BITCOUNT s 2 1"), ":0");
    assert_eq!(c.q("BITCOUNT s 0"), "-ERR syntax error");
    assert_eq!(c.q("BITCOUNT s 0 -1 FOO"), "-ERR syntax error");
    assert_eq!(c.q("BITCOUNT s a b"), "-ERR value is not an integer or out of range");
    assert_eq!(c.q("BITCOUNT nope a b"), ":0", "a missing key answers before the range is read");
    assert_eq!(c.q("BITPOS s 1"), ":1");
    assert_eq!(c.q("BITPOS s 0"), ":0");
    assert_eq!(c.q("BITPOS s 1 2"), ":17");
    assert_eq!(c.q("BITPOS s 0 -2 -1 BIT"), ":47");
    assert_eq!(c.q("BITPOS s 2"), "-ERR The bit argument must be 1 or 0.");
    assert_eq!(c.q("BITPOS nope 1 a"), ":-1");
    assert_eq!(c.q("BITPOS nope 0"), ":0");
    assert_eq!(c.q("BITPOS s 1 a"), "-ERR value is not an integer or out of range");
    c.cmd_bytes(&[b"SET".as_slice(), b"ones", b"\xff\xff"]);
    assert_eq!(c.q("BITPOS ones 0"), ":16", "no end given: past the end counts as clear");
    assert_eq!(c.q("BITPOS ones 0 0 -1"), ":-1");
    assert_eq!(c.q("BITPOS ones 0 0"), ":16");
    assert_eq!(c.q("BITPOS ones 1 5 3"), ":-1");
}

#[test]
fn bitop() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET {b}s foobar");
    c.q("SETBIT {b}one 7 1");
    assert_eq!(c.q("BITOP OR {b}d {b}s {b}one {b}nope"), ":6");
    assert_eq!(c.q("GET {b}d"), "\"goobar\"");
    assert_eq!(c.q("BITOP AND {b}e {b}nope {b}nope2"), ":0");
    assert_eq!(c.q("EXISTS {b}e"), ":0");
    c.q("SET {b}e x");
    assert_eq!(c.q("BITOP AND {b}e {b}nope"), ":0");
    assert_eq!(c.q("EXISTS {b}e"), ":0", "an empty result deletes the destination");
    assert_eq!(c.q("BITOP XOR {b}x {b}s {b}s"), ":6");
    assert_eq!(c.q("BITCOUNT {b}x"), ":0");
    assert_eq!(c.q("BITOP NOT {b}f {b}one"), ":1");
    assert_eq!(c.q("GET {b}f"), "\"\u{fffd}\"");
    assert_eq!(c.q("BITOP NOT {b}f {b}s {b}s"), "-ERR BITOP NOT must be called with a single source key.");
    assert_eq!(c.q("BITOP FOO {b}f {b}s"), "-ERR syntax error");
    assert_eq!(c.q("BITOP AND {b}f"), "-ERR wrong number of arguments for 'bitop' command");
    // Keys on different shards.
    c.q("SET a1 x");
    c.q("SET a2 y");
    assert_eq!(c.q("BITOP OR a3 a1 a2"), ":1");
    assert_eq!(c.q("GET a3"), "\"y\"");
}

#[test]
fn bitfield() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("BITFIELD k GET u8 0 SET u1 0 5"), "[:0, :0]");
    assert_eq!(c.q("BITFIELD k SET i8 0 -129 SET u8 8 256"), "[:-128, :0]");
    assert_eq!(
        c.q("BITFIELD k OVERFLOW SAT SET i8 0 -129 SET u8 8 256 INCRBY i8 0 -10 INCRBY u8 8 10"),
        "[:127, :0, :-128, :255]"
    );
    assert_eq!(c.q("BITFIELD k OVERFLOW FAIL INCRBY i8 0 -1"), "[(nil)]");
    assert_eq!(c.q("BITFIELD k GET u63 0"), "[:4647574077957996544]");
    assert_eq!(c.q("BITFIELD f OVERFLOW FAIL SET i8 0 300 GET i8 0"), "[(nil), :0]");
    assert_eq!(c.q("STRLEN f"), ":1", "the string grows even when FAIL refuses");
    assert_eq!(c.q("BITFIELD g OVERFLOW FAIL SET u8 16 -1"), "[(nil)]");
    assert_eq!(c.q("STRLEN g"), ":3");
    assert_eq!(
        c.q("BITFIELD x INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 1 INCRBY u2 102 1 INCRBY u2 102 1"),
        "[:1, :1, :2, :3]"
    );
    assert_eq!(c.q("BITFIELD y OVERFLOW WRAP INCRBY i8 0 200"), "[:-56]");
    assert_eq!(
        c.q("BITFIELD y SET i64 0 -1 GET u63 0 INCRBY i64 0 9223372036854775807"),
        "[:-4035225266123964416, :9223372036854775807, :9223372036854775806]"
    );
    assert_eq!(c.q("BITFIELD y GET i8 #1 GET u8 #0"), "[:-1, :127]");
    assert_eq!(c.q("BITFIELD nope GET i8 0"), "[:0]");
    assert_eq!(c.q("EXISTS nope"), ":0", "reads do not create the key");
    assert_eq!(
        c.q("BITFIELD y GET u64 0"),
        "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
    );
    assert_eq!(c.q("BITFIELD y GET i8 a"), "-ERR bit offset is not an integer or out of range");
    assert_eq!(c.q("BITFIELD y GET i8 4294967296"), "-ERR bit offset is not an integer or out of range");
    assert_eq!(c.q("BITFIELD y OVERFLOW foo"), "-ERR Invalid OVERFLOW type specified");
    assert_eq!(c.q("BITFIELD y FOO"), "-ERR syntax error");
    assert_eq!(c.q("BITFIELD y GET i8"), "-ERR syntax error");
    assert_eq!(c.q("BITFIELD y SET i8 0 x"), "-ERR value is not an integer or out of range");
    assert_eq!(c.q("BITFIELD_RO y GET i8 0"), "[:127]");
    assert_eq!(c.q("BITFIELD_RO y SET i8 0 1"), "-ERR BITFIELD_RO only supports the GET subcommand");
    assert_eq!(c.q("BITFIELD y"), "[]");
}
