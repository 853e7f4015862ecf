//! Blocking pops: BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN,
//! BZPOPMAX, BZMPOP, and CLIENT UNBLOCK.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{wait_blocked, Conn};

/// A key named `prefix<n>` whose shard (of the test server's 2) differs
/// from `other`'s, so a command on both crosses shards.
fn key_in_other_shard(other: &str, prefix: &str) -> String {
    (0..).map(|i| format!("{prefix}{i}")).find(|k| shard(k) != shard(other)).expect("some key")
}

/// The shard of `key` on the test server.
fn shard(key: &str) -> usize {
    kvstore::store::routing::hash_slot(key.as_bytes()) % 2
}

#[test]
fn served_at_once_when_a_value_is_there() {
    let s = common::start();
    let mut c = s.connect();
    c.q("RPUSH l a b c");
    assert_eq!(c.q("BLPOP nokey l 0"), "[\"l\", \"a\"]");
    assert_eq!(c.q("BRPOP l 0"), "[\"l\", \"c\"]");
    assert_eq!(c.q("BLMPOP 0 2 nokey l RIGHT COUNT 5"), "[\"l\", [\"b\"]]");
    assert_eq!(c.q("EXISTS l"), ":0", "an emptied list is deleted");
    c.q("RPUSH l a b");
    assert_eq!(c.q("BLMOVE l d RIGHT LEFT 0"), "\"b\"");
    assert_eq!(c.q("BRPOPLPUSH l d 0"), "\"a\"");
    assert_eq!(c.q("LRANGE d 0 -1"), "[\"a\", \"b\"]");
    c.q("ZADD z 1 a 2 b 3 c 4 d");
    assert_eq!(c.q("BZPOPMIN z 0"), "[\"z\", \"a\", \"1\"]");
    assert_eq!(c.q("BZPOPMAX nokey z 0"), "[\"z\", \"d\", \"4\"]");
    assert_eq!(c.q("BZMPOP 0 1 z MAX COUNT 9"), "[\"z\", [[\"c\", \"3\"], [\"b\", \"2\"]]]");
    assert_eq!(c.q("EXISTS z"), ":0");
}

#[test]
fn argument_errors_in_redis_order() {
    let s = common::start();
    let mut c = s.connect();
    let not_float = "-ERR timeout is not a float or out of range";
    let negative = "-ERR timeout is negative";
    for bad in ["abc", "nan", "1x", "1e5000"] {
        assert_eq!(c.cmd(&["BLPOP", "k", bad]), not_float, "{bad}");
    }
    assert_eq!(c.cmd(&["BLPOP", "k", " 1"]), not_float);
    assert_eq!(c.cmd(&["BLPOP", "k", "1 "]), not_float);
    for bad in ["-1", "inf", "-inf", "1e16", "1e400", "9223372036854775807"] {
        assert_eq!(c.cmd(&["BLPOP", "k", bad]), negative, "{bad}");
    }
    assert_eq!(c.q("BZPOPMIN k abc"), not_float);
    assert_eq!(c.q("BRPOPLPUSH a b -1"), negative);
    // BLMOVE reads its sides, BLMPOP and BZMPOP their keys and options,
    // before the timeout.
    assert_eq!(c.q("BLMOVE a b UP LEFT abc"), "-ERR syntax error");
    assert_eq!(c.q("BLMOVE a b LEFT LEFT abc"), not_float);
    assert_eq!(c.q("BLMPOP abc 0 k LEFT"), "-ERR numkeys should be greater than 0");
    assert_eq!(c.q("BLMPOP abc 1 k MIDDLE"), "-ERR syntax error");
    assert_eq!(c.q("BLMPOP abc 1 k LEFT"), not_float);
    assert_eq!(c.q("BLMPOP 0 2 k LEFT"), "-ERR syntax error");
    assert_eq!(c.q("BLMPOP 0 1 k LEFT COUNT 0"), "-ERR count should be greater than 0");
    assert_eq!(c.q("BZMPOP abc 0 k MIN"), "-ERR numkeys should be greater than 0");
    assert_eq!(c.q("BZMPOP 0 1 k MID"), "-ERR syntax error");
    assert_eq!(c.q("BZMPOP 0 1 k MIN COUNT 0"), "-ERR count should be greater than 0");
    assert_eq!(c.q("BLPOP k"), "-ERR wrong number of arguments for 'blpop' command");
    // A key of another type fails at once, unless a key before it serves.
    c.q("SET s x");
    c.q("RPUSH l a");
    assert_eq!(c.q("BLPOP nokey s 0"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.q("BLPOP l s 0"), "[\"l\", \"a\"]");
    assert_eq!(c.q("BZMPOP 0 2 nokey s MIN"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.q("BLMPOP 0 2 nokey s LEFT"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    // BLMOVE checks the destination only when it has something to move.
    assert_eq!(c.q("BLMOVE nokey s LEFT LEFT 0.01"), "(nil array)");
    c.q("RPUSH l a");
    assert_eq!(c.q("BLMOVE l s LEFT LEFT 0"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.q("LLEN l"), ":1");
}

#[test]
fn timeouts_reply_null_and_pipelined_commands_wait() {
    let s = common::start();
    let mut c = s.connect();
    let started = Instant::now();
    assert_eq!(c.q("BLPOP k 0.1"), "(nil array)");
    assert!(started.elapsed() >= Duration::from_millis(100), "waited the timeout");
    assert_eq!(c.q("BLMOVE a b LEFT LEFT 0.01"), "(nil array)");
    assert_eq!(c.q("BRPOPLPUSH a b 0.01"), "(nil array)");
    assert_eq!(c.q("BZMPOP 0.01 1 z MIN"), "(nil array)");

    // A command sent after a blocking one runs once the block ends.
    c.send_raw(&common::encode(&[b"BLPOP", b"k", b"0"]));
    c.send("PING");
    assert!(c.silent_for(100), "neither reply comes while blocked");
    let mut other = s.connect();
    wait_blocked(&mut other, 1);
    assert_eq!(other.q("RPUSH k v"), ":1");
    assert_eq!(c.read_reply(), "[\"k\", \"v\"]");
    assert_eq!(c.read_reply(), "+PONG");
}

#[test]
fn a_push_serves_the_waiter_before_anyone_sees_it() {
    let s = common::start();
    let mut waiter = s.connect();
    let mut pusher = s.connect();
    waiter.send("BLPOP k 0");
    wait_blocked(&mut pusher, 1);
    // The reply counts the pushed elements; the first goes to the waiter
    // before the pusher's next command can look.
    assert_eq!(pusher.q("LPUSH k a b c"), ":3");
    assert_eq!(pusher.q("LRANGE k 0 -1"), "[\"b\", \"a\"]");
    assert_eq!(waiter.read_reply(), "[\"k\", \"c\"]");
    assert!(pusher.q("INFO clients").contains("blocked_clients:0"));

    // BLMPOP takes up to its count; the next waiter gets the rest.
    let mut second = s.connect();
    pusher.q("DEL k");
    waiter.send("BLMPOP 0 1 k LEFT COUNT 2");
    wait_blocked(&mut pusher, 1);
    second.send("BRPOP k 0");
    wait_blocked(&mut pusher, 2);
    assert_eq!(pusher.q("LPUSH k a b c"), ":3");
    assert_eq!(waiter.read_reply(), "[\"k\", [\"c\", \"b\"]]");
    assert_eq!(second.read_reply(), "[\"k\", \"a\"]");
    assert_eq!(pusher.q("EXISTS k"), ":0");
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let s = common::start();
    let mut pusher = s.connect();
    // Connections land on both threads; the order is the order of arrival.
    let mut waiters: Vec<Conn> = Vec::new();
    for i in 0..6 {
        let mut w = s.connect();
        w.send("BRPOP q 0");
        wait_blocked(&mut pusher, i + 1);
        waiters.push(w);
    }
    assert_eq!(pusher.q("LPUSH q 1 2 3 4 5 6"), ":6");
    for (i, w) in waiters.iter_mut().enumerate() {
        assert_eq!(w.read_reply(), format!("[\"q\", \"{}\"]", i + 1));
    }
}

#[test]
fn several_keys_and_kinds_of_waiter() {
    let s = common::start();
    let mut c = s.connect();
    let mut list_waiter = s.connect();
    let mut zset_waiter = s.connect();
    list_waiter.send("BLPOP k1 k2 0");
    wait_blocked(&mut c, 1);
    c.q("RPUSH k2 x");
    assert_eq!(list_waiter.read_reply(), "[\"k2\", \"x\"]");

    // A waiter of another kind ahead in the queue is skipped and stays.
    zset_waiter.send("BZPOPMIN k 0");
    wait_blocked(&mut c, 1);
    list_waiter.send("BLPOP k 0");
    wait_blocked(&mut c, 2);
    assert_eq!(c.q("RPUSH k a b"), ":2");
    assert_eq!(list_waiter.read_reply(), "[\"k\", \"a\"]");
    assert_eq!(c.q("LRANGE k 0 -1"), "[\"b\"]");
    assert!(zset_waiter.silent_for(50));
    // A string set on the key serves no one either.
    c.q("SET k v");
    assert!(zset_waiter.silent_for(50));
    c.q("DEL k");
    assert_eq!(c.q("ZADD k 2 m 1 n"), ":2");
    assert_eq!(zset_waiter.read_reply(), "[\"k\", \"n\", \"1\"]");

    // RENAME onto a waited-on key serves the waiter.
    list_waiter.send("BLPOP dst 0");
    wait_blocked(&mut c, 1);
    c.q("RPUSH src{dst} a");
    assert_eq!(c.q("RENAME src{dst} dst"), "+OK");
    assert_eq!(list_waiter.read_reply(), "[\"dst\", \"a\"]");
    wait_blocked(&mut c, 0);
}

#[test]
fn blmove_waiters_across_shards_and_in_place() {
    let s = common::start();
    let mut c = s.connect();
    let mut mover = s.connect();
    let mut popper = s.connect();
    let dst = key_in_other_shard("src", "dst");
    // The moved element wakes a waiter on the destination in turn.
    mover.send(&format!("BLMOVE src {dst} RIGHT LEFT 0"));
    wait_blocked(&mut c, 1);
    popper.send(&format!("BLPOP {dst} 0"));
    wait_blocked(&mut c, 2);
    assert_eq!(c.q("RPUSH src e"), ":1");
    assert_eq!(mover.read_reply(), "\"e\"");
    assert_eq!(popper.read_reply(), format!("[\"{dst}\", \"e\"]"));
    assert_eq!(c.q(&format!("EXISTS src {dst}")), ":0");

    // Source and destination the same key: the element goes round.
    mover.send("BLMOVE l l RIGHT LEFT 0");
    wait_blocked(&mut c, 1);
    c.q("RPUSH l a");
    assert_eq!(mover.read_reply(), "\"a\"");
    assert_eq!(c.q("LRANGE l 0 -1"), "[\"a\"]");

    // A destination of the wrong type: the waiter gets WRONGTYPE and the
    // element stays where it was.
    c.q(&format!("SET {dst} str"));
    mover.send(&format!("BRPOPLPUSH src2 {dst} 0"));
    wait_blocked(&mut c, 1);
    c.q("RPUSH src2 e");
    assert_eq!(mover.read_reply(), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.q("LRANGE src2 0 -1"), "[\"e\"]");
}

#[test]
fn client_unblock_and_client_list() {
    let s = common::start();
    let mut c = s.connect();
    let mut w = s.connect();
    let id = w.q("CLIENT ID");
    let id = id.trim_start_matches(':');
    // Rounded up to 0 ms: no timeout at all.
    w.send("BLPOP k -0.0001");
    wait_blocked(&mut c, 1);
    assert!(c.q("CLIENT LIST").contains(&format!("id={id} ")));
    let line = c.q(&format!("CLIENT LIST ID {id}"));
    assert!(line.contains("flags=b "), "{line}");
    assert!(c.q("INFO clients").contains("clients_in_timeout_table:0"));
    assert_eq!(c.q(&format!("CLIENT UNBLOCK {id}")), ":1");
    assert_eq!(w.read_reply(), "(nil array)");
    assert_eq!(c.q(&format!("CLIENT UNBLOCK {id}")), ":0", "no longer blocked");

    w.send("BZPOPMAX z 100");
    wait_blocked(&mut c, 1);
    assert!(c.q("INFO clients").contains("clients_in_timeout_table:1"));
    assert_eq!(c.q(&format!("CLIENT UNBLOCK {id} error")), ":1");
    assert_eq!(w.read_reply(), "-UNBLOCKED client unblocked via CLIENT UNBLOCK");
    assert_eq!(w.q("PING"), "+PONG");
    wait_blocked(&mut c, 0);
    assert_eq!(c.q("RPUSH k a"), ":1", "the unblocked client left its queues");

    assert_eq!(c.q("CLIENT UNBLOCK x"), "-ERR value is not an integer or out of range");
    assert_eq!(c.q("CLIENT UNBLOCK 1 foo"), "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    assert_eq!(c.q("CLIENT UNBLOCK 999999"), ":0");
    assert_eq!(c.q("CLIENT UNBLOCK -5"), ":0");
    assert_eq!(
        c.q("CLIENT UNBLOCK 1 timeout x"),
        "-ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP."
    );
}

#[test]
fn swapdb_serves_waiters_of_either_database() {
    let s = common::start();
    let mut c = s.connect();
    let mut w = s.connect();
    w.send("BLPOP k 0");
    wait_blocked(&mut c, 1);
    c.q("SELECT 1");
    c.q("RPUSH k from-db-1");
    assert_eq!(c.q("SWAPDB 0 1"), "+OK");
    assert_eq!(w.read_reply(), "[\"k\", \"from-db-1\"]");
    // A waiter in database 1 is not served by a push to database 0.
    w.q("SELECT 1");
    w.send("BLPOP k2 0");
    wait_blocked(&mut c, 1);
    c.q("SELECT 0");
    c.q("RPUSH k2 x");
    assert!(w.silent_for(50));
    c.q("SELECT 1");
    c.q("RPUSH k2 y");
    assert_eq!(w.read_reply(), "[\"k2\", \"y\"]");
}

#[test]
fn disconnected_waiters_leave_nothing_behind() {
    let s = common::start();
    let mut c = s.connect();
    for i in 0..20 {
        let mut w = s.connect();
        w.send(&format!("BLPOP a{i} b{i} common 0"));
        wait_blocked(&mut c, 1);
        drop(w);
        wait_blocked(&mut c, 0);
    }
    assert_eq!(c.q("RPUSH common x"), ":1");
    assert_eq!(c.q("RPUSH a3 x"), ":1");
    assert_eq!(c.q("LLEN common"), ":1", "nobody was left waiting");
}

/// Consumers block on a few keys from both threads while producers push
/// and some consumers hang up; every element ends up exactly once with a
/// consumer or still in a list, except what a consumer that hung up was
/// sent as it left.
#[test]
fn many_consumers_many_keys_random_disconnects() {
    let s = common::start();
    let port = s.port;
    let keys = ["q0", "q1", "q2", "q3", "q4"];
    let per_consumer = 40;
    let consumers: Vec<_> = (0..6)
        .map(|n| {
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut c = Conn::connect(port);
                for i in 0..per_consumer {
                    if n % 2 == 1 && i % 10 == 9 {
                        // Hang up while blocked, then come back.
                        c.send("BLPOP q0 q1 q2 q3 q4 0");
                        std::thread::sleep(Duration::from_millis(2));
                        c = Conn::connect(port);
                        continue;
                    }
                    let reply = c.q("BLPOP q0 q1 q2 q3 q4 5");
                    if reply != "(nil array)" {
                        got.push(common::items(&reply)[1].clone());
                    }
                }
                got
            })
        })
        .collect();
    let mut producer = s.connect();
    let mut pushed = 0;
    for round in 0..120 {
        let key = keys[round % keys.len()];
        producer.q(&format!("RPUSH {key} e{round}-a e{round}-b"));
        pushed += 2;
        if round % 20 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut received: Vec<String> = consumers.into_iter().flat_map(|t| t.join().expect("consumer")).collect();
    wait_blocked(&mut producer, 0);
    for key in keys {
        let rest = producer.q(&format!("LRANGE {key} 0 -1"));
        received.extend(common::items(&rest));
    }
    let distinct: HashSet<&String> = received.iter().collect();
    assert_eq!(distinct.len(), received.len(), "no element delivered twice");
    assert!(received.len() <= pushed);
    // Only the hung-up consumers' in-flight replies may be missing.
    assert!(pushed - received.len() <= 3 * (per_consumer / 10), "lost {}", pushed - received.len());
    assert_eq!(producer.q("PING"), "+PONG");
}

/// BLMOVE waiters between two keys in different shards, both ways, while
/// pushes land on both: serving a waiter then needs the other shard's lock,
/// taken in order or after the pusher's locks are released. No element is
/// lost or duplicated.
#[test]
fn blmove_both_ways_across_shards_keeps_every_element() {
    let s = common::start();
    let port = s.port;
    let a = "ring-a".to_string();
    let b = key_in_other_shard(&a, "ring-b");
    let movers: Vec<_> = (0..4)
        .map(|n| {
            let (from, to) = if n % 2 == 0 { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
            std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                for _ in 0..150 {
                    let reply = c.q(&format!("BLMOVE {from} {to} LEFT RIGHT 0.02"));
                    assert!(reply.starts_with('"') || reply == "(nil array)", "{reply}");
                }
            })
        })
        .collect();
    let mut producer = s.connect();
    for i in 0..300 {
        let key = if i % 2 == 0 { &a } else { &b };
        producer.q(&format!("LPUSH {key} e{i}"));
    }
    for m in movers {
        m.join().expect("mover");
    }
    let mut all = common::items(&producer.q(&format!("LRANGE {a} 0 -1")));
    all.extend(common::items(&producer.q(&format!("LRANGE {b} 0 -1"))));
    all.sort();
    let mut expected: Vec<String> = (0..300).map(|i| format!("e{i}")).collect();
    expected.sort();
    assert_eq!(all, expected);
}

/// BLMOVE waiters whose destination lives in a lower shard than the key
/// they wait on, while other clients keep that lower shard busy: the push
/// that serves them cannot wait for the destination's lock without
/// breaking the lock order, so it finishes after releasing its own. Every
/// element still arrives exactly once.
#[test]
fn blmove_into_a_busy_lower_shard_keeps_every_element() {
    let s = common::start();
    let port = s.port;
    let low = (0..).map(|i| format!("low{i}")).find(|k| shard(k) == 0).expect("a key");
    let high = (0..).map(|i| format!("high{i}")).find(|k| shard(k) == 1).expect("a key");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let (low, stop) = (low.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    c.q(&format!("LLEN {low}"));
                }
            })
        })
        .collect();
    let movers: Vec<_> = (0..4)
        .map(|_| {
            let (low, high) = (low.clone(), high.clone());
            std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                let mut moved = 0;
                for _ in 0..100 {
                    if c.q(&format!("BLMOVE {high} {low} LEFT RIGHT 5")).starts_with('"') {
                        moved += 1;
                    }
                }
                moved
            })
        })
        .collect();
    let mut producer = s.connect();
    for i in 0..400 {
        producer.q(&format!("RPUSH {high} e{i}"));
    }
    let moved: usize = movers.into_iter().map(|m| m.join().expect("mover")).sum();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in busy {
        b.join().expect("busy client");
    }
    assert_eq!(moved, 400);
    let mut all = common::items(&producer.q(&format!("LRANGE {low} 0 -1")));
    assert_eq!(producer.q(&format!("EXISTS {high}")), ":0");
    all.sort();
    let mut expected: Vec<String> = (0..400).map(|i| format!("e{i}")).collect();
    expected.sort();
    assert_eq!(all, expected);
}
