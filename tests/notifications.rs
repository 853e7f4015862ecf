//! Keyspace notifications (notify-keyspace-events): which events each
//! command publishes, in order. The table was taken from Redis 7.0 with
//! every class on (`KEA`).

mod common;

use std::time::Duration;

/// Reads the keyevent messages that arrive within a short quiet period:
/// (event, key) pairs.
fn events(sub: &mut common::Conn) -> Vec<(String, String)> {
    let mut got = Vec::new();
    while !sub.silent_for(30) {
        let msg = common::items(&sub.read_reply());
        assert_eq!(msg[0], "pmessage", "{msg:?}");
        let event = msg[2].rsplit("__:").next().unwrap().to_string();
        got.push((event, msg[3].clone()));
    }
    got
}

fn subscriber(s: &common::TestServer, pattern: &str) -> common::Conn {
    let mut sub = s.connect();
    assert_eq!(sub.q(&format!("PSUBSCRIBE {pattern}")), format!("[\"psubscribe\", \"{pattern}\", :1]"));
    sub
}

#[test]
fn every_write_command_publishes_its_events() {
    let s = common::start_with(&[("notify-keyspace-events", "KEA")]);
    let mut c = s.connect();
    let mut sub = subscriber(&s, "__keyevent@*__:*");
    let table: &[(&str, &[(&str, &str)])] = &[
        ("SET k v", &[("set", "k")]),
        ("SET k v NX", &[]),
        ("SET k v2 XX GET", &[("set", "k")]),
        ("SETNX k2 v", &[("set", "k2")]),
        ("SETNX k2 v", &[]),
        ("SETEX k3 100 v", &[("set", "k3"), ("expire", "k3")]),
        ("PSETEX k4 100000 v", &[("set", "k4"), ("expire", "k4")]),
        ("GETSET k 9", &[("set", "k")]),
        ("GETDEL k4", &[("del", "k4")]),
        ("GETEX k3 EX 50", &[("expire", "k3")]),
        ("GETEX k3 PERSIST", &[("persist", "k3")]),
        ("GETEX k3 PX -1", &[]),
        ("MSET a 1 b 2", &[("set", "a"), ("set", "b")]),
        ("MSETNX c 1 d 2", &[("set", "c"), ("set", "d")]),
        ("MSETNX a 1 e 2", &[]),
        ("INCR a", &[("incrby", "a")]),
        ("INCRBY a 5", &[("incrby", "a")]),
        ("DECR a", &[("incrby", "a")]),
        ("DECRBY a 2", &[("incrby", "a")]),
        ("INCRBYFLOAT a 1.5", &[("incrbyfloat", "a")]),
        ("APPEND a xyz", &[("append", "a")]),
        ("APPEND newapp xyz", &[("append", "newapp")]),
        ("SETRANGE sr 2 ab", &[("setrange", "sr")]),
        ("SETRANGE sr 0 \"\"", &[]),
        ("SETBIT bits 7 1", &[("setbit", "bits")]),
        ("SETBIT bits 7 1", &[]),
        ("BITFIELD bf SET u8 0 5", &[("setbit", "bf")]),
        ("BITFIELD bf GET u8 0", &[]),
        ("BITOP AND dest bits bf", &[("set", "dest")]),
        ("BITOP AND dest2 nokey nokey2", &[]),
        ("DEL a b nokey", &[("del", "a"), ("del", "b")]),
        ("UNLINK c", &[("del", "c")]),
        ("EXPIRE d 100", &[("expire", "d")]),
        ("PEXPIRE d 100000", &[("expire", "d")]),
        ("EXPIREAT d 9999999999", &[("expire", "d")]),
        ("PEXPIRE d -1", &[("del", "d")]),
        ("PERSIST e", &[]),
        ("SET e 1 EX 100", &[("set", "e"), ("expire", "e")]),
        ("PERSIST e", &[("persist", "e")]),
        ("RENAME e e2", &[("rename_from", "e"), ("rename_to", "e2")]),
        ("RENAMENX e2 e3", &[("rename_from", "e2"), ("rename_to", "e3")]),
        ("RENAME e3 e3", &[]),
        ("COPY e3 e4", &[("copy_to", "e4")]),
        ("COPY e3 e5 DB 1", &[("copy_to", "e5")]),
        ("MOVE e4 1", &[("move_from", "e4"), ("move_to", "e4")]),
        ("TOUCH e3", &[]),
        ("LPUSH l a b", &[("lpush", "l")]),
        ("RPUSH l c", &[("rpush", "l")]),
        ("LPUSHX l d", &[("lpush", "l")]),
        ("RPUSHX nol d", &[]),
        ("LPOP l", &[("lpop", "l")]),
        ("RPOP l 1", &[("rpop", "l")]),
        ("LSET l 0 z", &[("lset", "l")]),
        ("LINSERT l BEFORE z y", &[("linsert", "l")]),
        ("LREM l 1 y", &[("lrem", "l")]),
        ("LTRIM l 0 0", &[("ltrim", "l")]),
        ("LMOVE l l2 LEFT RIGHT", &[("rpush", "l2"), ("lpop", "l"), ("del", "l")]),
        ("RPOPLPUSH l2 l3", &[("lpush", "l3"), ("rpop", "l2"), ("del", "l2")]),
        ("LMPOP 1 l3 LEFT", &[("lpop", "l3"), ("del", "l3")]),
        ("RPUSH lt 1 2 3", &[("rpush", "lt")]),
        ("LTRIM lt 5 6", &[("ltrim", "lt"), ("del", "lt")]),
        ("RPUSH bl a", &[("rpush", "bl")]),
        ("BLPOP bl 0", &[("lpop", "bl"), ("del", "bl")]),
        ("RPUSH bl2 a", &[("rpush", "bl2")]),
        ("BLMOVE bl2 bl3 LEFT LEFT 0", &[("lpush", "bl3"), ("lpop", "bl2"), ("del", "bl2")]),
        ("SADD s a b c", &[("sadd", "s")]),
        ("SADD s a", &[]),
        ("SREM s a", &[("srem", "s")]),
        ("SPOP s", &[("spop", "s")]),
        // (SPOP chose at random: SMOVE works on a set of its own.)
        ("SADD sm b", &[("sadd", "sm")]),
        ("SMOVE sm s2 b", &[("srem", "sm"), ("del", "sm"), ("sadd", "s2")]),
        ("SADD s3 1 2", &[("sadd", "s3")]),
        ("SINTERSTORE s4 s3 s3", &[("sinterstore", "s4")]),
        ("SUNIONSTORE s4 s3 nokey", &[("sunionstore", "s4")]),
        ("SDIFFSTORE s4 s3 s3", &[("del", "s4")]),
        ("SPOP s3 5", &[("spop", "s3"), ("del", "s3")]),
        ("HSET h f v g w", &[("hset", "h")]),
        ("HSETNX h f v", &[]),
        ("HSETNX h k v", &[("hset", "h")]),
        ("HDEL h f", &[("hdel", "h")]),
        ("HINCRBY h n 1", &[("hincrby", "h")]),
        ("HINCRBYFLOAT h n 1.5", &[("hincrbyfloat", "h")]),
        ("HDEL h g k n", &[("hdel", "h"), ("del", "h")]),
        ("ZADD z 1 a 2 b", &[("zadd", "z")]),
        ("ZADD z 1 a", &[]),
        ("ZINCRBY z 1 a", &[("zincr", "z")]),
        ("ZREM z a", &[("zrem", "z")]),
        ("ZADD z 3 c 4 d 5 e", &[("zadd", "z")]),
        ("ZPOPMIN z", &[("zpopmin", "z")]),
        ("ZPOPMAX z 1", &[("zpopmax", "z")]),
        ("ZREMRANGEBYSCORE z 0 3", &[("zremrangebyscore", "z")]),
        ("ZADD z 1 a 2 b 3 c", &[("zadd", "z")]),
        ("ZREMRANGEBYRANK z 0 0", &[("zremrangebyrank", "z")]),
        ("ZREMRANGEBYLEX z [a [b", &[("zremrangebylex", "z")]),
        ("ZRANGESTORE z2 z 0 -1", &[("zrangestore", "z2")]),
        ("ZUNIONSTORE z3 2 z z2", &[("zunionstore", "z3")]),
        ("ZINTERSTORE z3 1 nokey", &[("del", "z3")]),
        ("ZDIFFSTORE z4 1 z", &[("zdiffstore", "z4")]),
        ("ZMPOP 1 z MIN", &[("zpopmin", "z")]),
        ("BZPOPMIN z4 0", &[("zpopmin", "z4")]),
        ("ZADD bz 1 a", &[("zadd", "bz")]),
        ("BZMPOP 0 1 bz MAX", &[("zpopmax", "bz"), ("del", "bz")]),
        ("RPUSH srt 3 1 2", &[("rpush", "srt")]),
        ("SORT srt STORE srt2", &[("sortstore", "srt2")]),
        ("SORT srt BY nosort STORE srt3", &[("sortstore", "srt3")]),
        ("SORT nokey STORE srt2", &[("del", "srt2")]),
        ("FLUSHDB", &[]),
        ("SWAPDB 0 1", &[]),
        ("FLUSHALL", &[]),
    ];
    for (cmd, want) in table {
        let words: Vec<&str> = cmd.split(' ').map(|w| if w == "\"\"" { "" } else { w }).collect();
        c.cmd(&words);
        let want: Vec<(String, String)> = want.iter().map(|(e, k)| (e.to_string(), k.to_string())).collect();
        assert_eq!(events(&mut sub), want, "{cmd}");
    }
}

#[test]
fn keyspace_channels_and_classes() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("CONFIG GET notify-keyspace-events"), "[\"notify-keyspace-events\", \"\"]");
    assert_eq!(c.q("CONFIG SET notify-keyspace-events KEA"), "+OK");
    assert_eq!(c.q("CONFIG GET notify-keyspace-events"), "[\"notify-keyspace-events\", \"AKE\"]");
    assert_eq!(c.q("CONFIG SET notify-keyspace-events nmEKdxzhsl$g"), "+OK");
    assert_eq!(c.q("CONFIG GET notify-keyspace-events"), "[\"notify-keyspace-events\", \"g$lshzxdnKEm\"]");
    assert_eq!(
        c.q("CONFIG SET notify-keyspace-events Q"),
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
         Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    );
    // Keyspace channels carry the event; only the enabled classes speak.
    assert_eq!(c.q("CONFIG SET notify-keyspace-events Kl"), "+OK");
    let mut sub = subscriber(&s, "__keyspace@0__:*");
    c.q("SET str v");
    c.q("RPUSH list a");
    c.q("SELECT 1");
    c.q("RPUSH list a");
    c.q("SELECT 0");
    let msg = common::items(&sub.read_reply());
    assert_eq!(msg, ["pmessage", "__keyspace@0__:*", "__keyspace@0__:list", "rpush"]);
    assert!(sub.silent_for(100));
    // New keys and misses, when asked for.
    assert_eq!(c.q("CONFIG SET notify-keyspace-events Enm"), "+OK");
    let mut sub = subscriber(&s, "__keyevent@0__:*");
    c.q("GET nokey");
    c.q("SET fresh 1");
    c.q("SET fresh 2");
    assert_eq!(events(&mut sub), [("keymiss".to_string(), "nokey".to_string()), ("new".into(), "fresh".into())]);
    assert_eq!(c.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]), "+OK");
    c.q("DEL fresh");
    assert!(sub.silent_for(100));
}

/// Expired keys are announced whether a lookup or the active cycle
/// deletes them, before the event of the command that found them.
#[test]
fn expirations_are_published() {
    let s = common::start_with(&[("notify-keyspace-events", "Egx$")]);
    let mut c = s.connect();
    let mut sub = subscriber(&s, "__keyevent@*__:*");
    c.q("DEBUG SET-ACTIVE-EXPIRE 0");
    c.q("SET lazy 1 PX 10");
    assert_eq!(events(&mut sub).len(), 2, "set and expire");
    std::thread::sleep(Duration::from_millis(30));
    c.q("SET lazy 2");
    assert_eq!(events(&mut sub), [("expired".to_string(), "lazy".to_string()), ("set".into(), "lazy".into())]);
    c.q("DEBUG SET-ACTIVE-EXPIRE 1");
    c.q("SET active 1 PX 10");
    events(&mut sub);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = events(&mut sub);
        if got.contains(&("expired".to_string(), "active".to_string())) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never expired: {got:?}");
    }
}
