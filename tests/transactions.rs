//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn queue_and_exec() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SET a 1"), "+QUEUED");
    assert_eq!(c.q("INCR a"), "+QUEUED");
    assert_eq!(c.q("GET a"), "+QUEUED");
    assert_eq!(c.q("EXEC"), "[+OK, :2, \"2\"]");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("EXEC"), "[]");
    assert_eq!(c.q("EXEC"), "-ERR EXEC without MULTI");
    assert_eq!(c.q("DISCARD"), "-ERR DISCARD without MULTI");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("MULTI"), "-ERR MULTI calls can not be nested");
    assert_eq!(c.q("WATCH a"), "-ERR WATCH inside MULTI is not allowed");
    assert_eq!(c.q("INCR a"), "+QUEUED");
    // Neither error above aborts the transaction.
    assert_eq!(c.q("EXEC"), "[:3]");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SET a 10"), "+QUEUED");
    assert_eq!(c.q("DISCARD"), "+OK");
    assert_eq!(c.q("GET a"), "\"3\"");
    assert_eq!(c.q("MULTI x"), "-ERR wrong number of arguments for 'multi' command");
    assert_eq!(
        c.q("EXEC x"),
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
    );
}

/// A command refused while queuing (unknown, wrong arity, not allowed in
/// a transaction) makes EXEC refuse; errors while running do not undo the
/// other commands.
#[test]
fn queuing_errors_abort_and_runtime_errors_do_not() {
    let s = common::start();
    let mut c = s.connect();
    for bad in ["NOSUCH x", "SET a", "SHUTDOWN"] {
        assert_eq!(c.q("MULTI"), "+OK");
        assert_eq!(c.q("SET a 1"), "+QUEUED");
        assert!(c.q(bad).starts_with("-ERR"), "{bad}");
        assert_eq!(c.q("SET b 1"), "+QUEUED");
        assert_eq!(c.q("EXEC"), "-EXECABORT Transaction discarded because of previous errors.");
        assert_eq!(c.q("EXISTS a b"), ":0");
    }
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SHUTDOWN"), "-ERR Command not allowed inside a transaction");
    assert_eq!(c.q("DISCARD"), "+OK");
    // EXEC itself refused discards the transaction with the reason.
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SET a 1"), "+QUEUED");
    assert_eq!(
        c.q("EXEC x"),
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
    );
    assert_eq!(c.q("EXEC"), "-ERR EXEC without MULTI");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("INCR a"), "+QUEUED");
    assert_eq!(c.q("LPUSH a x"), "+QUEUED");
    assert_eq!(c.q("INCR a"), "+QUEUED");
    assert_eq!(c.q("EXEC"), "[:1, -WRONGTYPE Operation against a key holding the wrong kind of value, :2]");
}

#[test]
fn select_and_blocking_commands_inside() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SELECT 1"), "+QUEUED");
    assert_eq!(c.q("SET k v"), "+QUEUED");
    // Blocking commands answer at once, as their timeout would.
    assert_eq!(c.q("BLPOP nolist 0"), "+QUEUED");
    assert_eq!(c.q("BLMOVE x y LEFT LEFT 0"), "+QUEUED");
    assert_eq!(c.q("BZPOPMIN z 0"), "+QUEUED");
    assert_eq!(c.q("EXEC"), "[+OK, +OK, (nil array), (nil), (nil array)]");
    assert_eq!(c.q("GET k"), "\"v\"");
    assert_eq!(c.q("SELECT 0"), "+OK");
    assert_eq!(c.q("EXISTS k"), ":0");
}

/// Commands that visit every shard, or lock them all, run inside EXEC
/// (which holds every lock) without waiting on themselves.
#[test]
fn whole_keyspace_commands_inside() {
    let s = common::start();
    let mut c = s.connect();
    c.q("MSET a 1 b 2 c 3");
    assert_eq!(c.q("MULTI"), "+OK");
    for cmd in [
        "DBSIZE",
        "KEYS *",
        "RANDOMKEY",
        "SCAN 0 COUNT 100",
        "INFO keyspace",
        "DEBUG OBJECT a",
        "SORT a BY nosort",
        "SWAPDB 0 1",
        "SWAPDB 0 1",
        "FLUSHDB",
        "FLUSHALL",
        "DBSIZE",
    ] {
        assert_eq!(c.q(cmd), "+QUEUED", "{cmd}");
    }
    let replies = c.q("EXEC");
    assert!(replies.starts_with("[:3, ["), "{replies}");
    assert!(replies.ends_with(", +OK, +OK, +OK, +OK, :0]"), "{replies}");
}

#[test]
fn watch_sees_writes_from_other_clients() {
    let s = common::start();
    let mut c = s.connect();
    let mut other = s.connect();
    c.q("SET w 1");
    assert_eq!(c.q("WATCH w"), "+OK");
    assert_eq!(other.q("SET w 2"), "+OK");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SET w 3"), "+QUEUED");
    assert_eq!(c.q("EXEC"), "(nil array)");
    assert_eq!(c.q("GET w"), "\"2\"");
    // EXEC forgot the watch: the next transaction runs.
    assert_eq!(other.q("SET w 4"), "+OK");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SET w 5"), "+QUEUED");
    assert_eq!(c.q("EXEC"), "[+OK]");
    // Unchanged watched keys, and reads of them, let EXEC run.
    assert_eq!(c.q("WATCH w nokey"), "+OK");
    assert_eq!(other.q("GET w"), "\"5\"");
    assert_eq!(other.q("DEL nokey"), ":0");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("EXEC"), "[]");
    // The client's own write counts too.
    assert_eq!(c.q("WATCH w"), "+OK");
    assert_eq!(c.q("INCR w"), ":6");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("EXEC"), "(nil array)");
    // UNWATCH and DISCARD forget the watches.
    for forget in ["UNWATCH", "DISCARD"] {
        assert_eq!(c.q("WATCH w"), "+OK");
        if forget == "DISCARD" {
            assert_eq!(c.q("MULTI"), "+OK");
        }
        assert_eq!(c.q(forget), "+OK");
        assert_eq!(other.q("SET w 7"), "+OK");
        assert_eq!(c.q("MULTI"), "+OK");
        assert_eq!(c.q("EXEC"), "[]", "{forget}");
    }
    // A key watched in another database is another key.
    assert_eq!(c.q("SELECT 1"), "+OK");
    assert_eq!(c.q("WATCH w"), "+OK");
    assert_eq!(other.q("SET w 8"), "+OK");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("EXEC"), "[]");
}

/// Only writes that change a key count, as in Redis 7.0: a write that
/// leaves the key as it was does not fail the EXEC (but SET of the same
/// value, LSET, HSET and LTRIM always count).
#[test]
fn watch_counts_changes_not_attempts() {
    let s = common::start();
    let mut c = s.connect();
    let mut other = s.connect();
    c.q("SET str 1");
    c.q("RPUSH list a");
    c.q("SADD set a");
    c.q("HSET hash f v");
    c.q("ZADD zset 1 m");
    let cases = [
        ("str", "SET str 1 NX", false),
        ("str", "SETRANGE str 0 \"\"", false),
        ("str", "SETBIT str 0 0", false),
        ("str", "GETEX str PERSIST", false),
        ("str", "PERSIST str", false),
        ("str", "SET str 1", true),
        ("str", "INCRBY str 0", true),
        ("list", "LREM list 0 zz", false),
        ("list", "LINSERT list BEFORE zz q", false),
        ("list", "LTRIM list 0 -1", true),
        ("list", "LSET list 0 a", true),
        ("set", "SADD set a", false),
        ("set", "SREM set zz", false),
        ("set", "SMOVE set other zz", false),
        ("set", "SADD set b", true),
        ("hash", "HSETNX hash f v", false),
        ("hash", "HDEL hash zz", false),
        ("hash", "HSET hash f v", true),
        ("zset", "ZADD zset 1 m", false),
        ("zset", "ZINCRBY zset 0 m", false),
        ("zset", "ZREM zset zz", false),
        ("zset", "ZREMRANGEBYSCORE zset 5 6", false),
        ("zset", "ZADD zset 2 m", true),
        ("zset", "ZPOPMIN zset 0", false),
        ("str", "EXPIRE str 100", true),
        ("list", "RPOP list", true),
    ];
    for (key, write, counts) in cases {
        assert_eq!(c.q(&format!("WATCH {key}")), "+OK");
        let words: Vec<&str> = write.split(' ').map(|w| if w == "\"\"" { "" } else { w }).collect();
        let reply = other.cmd(&words);
        assert!(!reply.starts_with('-'), "{write}: {reply}");
        assert_eq!(c.q("MULTI"), "+OK");
        let want = if counts { "(nil array)" } else { "[]" };
        assert_eq!(c.q("EXEC"), want, "{write}");
    }
}

#[test]
fn watch_expiry_flush_and_swap() {
    let s = common::start();
    let mut c = s.connect();
    let mut other = s.connect();
    // A watched key that expires fails the EXEC, deleted or not.
    c.q("SET e 1 PX 30");
    assert_eq!(c.q("WATCH e"), "+OK");
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("EXEC"), "(nil array)");
    // One already expired when watched does not.
    c.q("DEBUG SET-ACTIVE-EXPIRE 0");
    c.q("SET e 1 PX 1");
    std::thread::sleep(std::time::Duration::from_millis(10));
    assert_eq!(c.q("WATCH e"), "+OK");
    assert_eq!(other.q("GET e"), "(nil)");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("EXEC"), "[]");
    c.q("DEBUG SET-ACTIVE-EXPIRE 1");
    // FLUSHDB and FLUSHALL change the watched keys that existed.
    for flush in ["FLUSHDB", "FLUSHALL"] {
        c.q("SET w 1");
        assert_eq!(c.q("WATCH w"), "+OK");
        assert_eq!(other.q(flush), "+OK");
        assert_eq!(c.q("MULTI"), "+OK");
        assert_eq!(c.q("EXEC"), "(nil array)", "{flush}");
        assert_eq!(c.q("WATCH w"), "+OK");
        assert_eq!(other.q(flush), "+OK");
        assert_eq!(c.q("MULTI"), "+OK");
        assert_eq!(c.q("EXEC"), "[]", "{flush} of a missing key");
    }
    // SWAPDB changes a watched key present on either side.
    other.q("SELECT 1");
    other.q("SET w x");
    assert_eq!(c.q("WATCH w"), "+OK");
    assert_eq!(other.q("SWAPDB 0 1"), "+OK");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("EXEC"), "(nil array)");
    c.q("FLUSHALL");
    assert_eq!(c.q("WATCH w"), "+OK");
    assert_eq!(other.q("SWAPDB 0 1"), "+OK");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("EXEC"), "[]");
}

/// No client sees a state between two commands of a transaction, though
/// its keys live in different shards and the reader runs on another
/// thread.
#[test]
fn exec_is_atomic_across_shards() {
    let s = common::start();
    let keys: Vec<String> = (0..8).map(|i| format!("counter:{i}")).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (port, keys, stop) = (s.port, keys.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = common::Conn::connect(port);
            let mget = format!("MGET {}", keys.join(" "));
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let values = common::items(&c.q(&mget));
                assert!(values.windows(2).all(|w| w[0] == w[1]), "torn read: {values:?}");
                reads += 1;
            }
            reads
        })
    };
    let mut c = s.connect();
    for _ in 0..300 {
        let mut batch = b"MULTI\r\n".to_vec();
        for k in &keys {
            batch.extend(common::encode(&[b"INCR", k.as_bytes()]));
        }
        batch.extend(b"EXEC\r\n");
        c.send_raw(&batch);
        assert_eq!(c.read_reply(), "+OK");
        for _ in &keys {
            assert_eq!(c.read_reply(), "+QUEUED");
        }
        assert!(c.read_reply().starts_with("[:"));
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(c.q("GET counter:7"), "\"300\"");
}

/// A push inside a transaction wakes a blocked client once the whole
/// transaction has run, so the waiter gets the last element pushed to the
/// left, as in Redis.
#[test]
fn pushes_inside_exec_wake_waiters_after_it() {
    let s = common::start();
    let mut waiter = s.connect();
    let mut c = s.connect();
    waiter.send("BLPOP q 0");
    common::wait_blocked(&mut c, 1);
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("LPUSH q x"), "+QUEUED");
    assert_eq!(c.q("LPUSH q y"), "+QUEUED");
    assert_eq!(c.q("LLEN q"), "+QUEUED");
    assert_eq!(c.q("EXEC"), "[:1, :2, :2]");
    assert_eq!(waiter.read_reply(), "[\"q\", \"y\"]");
    assert_eq!(c.q("LRANGE q 0 -1"), "[\"x\"]");
}

/// A client that disconnects while watching or queuing leaves nothing
/// behind: later writes to its keys and other transactions are unaffected.
#[test]
fn disconnecting_clients_leave_no_watch() {
    let s = common::start();
    let mut c = s.connect();
    for i in 0..50 {
        let mut gone = s.connect();
        assert_eq!(gone.q(&format!("WATCH w{i} shared")), "+OK");
        assert_eq!(gone.q("MULTI"), "+OK");
        assert_eq!(gone.q("SET shared 1"), "+QUEUED");
    }
    assert_eq!(c.q("WATCH shared"), "+OK");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SET shared 2"), "+QUEUED");
    assert_eq!(c.q("EXEC"), "[+OK]");
    assert_eq!(c.q("GET shared"), "\"2\"");
}
