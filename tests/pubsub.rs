//! Pub/sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
//! PUBSUB, and RESP2's subscribed mode.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

fn numsub(c: &mut common::Conn, channel: &str) -> String {
    c.q(&format!("PUBSUB NUMSUB {channel}"))
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn subscribed_mode_replies() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("UNSUBSCRIBE"), "[\"unsubscribe\", (nil), :0]");
    assert_eq!(c.q("PUNSUBSCRIBE"), "[\"punsubscribe\", (nil), :0]");
    c.send("SUBSCRIBE a b a");
    assert_eq!(c.read_reply(), "[\"subscribe\", \"a\", :1]");
    assert_eq!(c.read_reply(), "[\"subscribe\", \"b\", :2]");
    assert_eq!(c.read_reply(), "[\"subscribe\", \"a\", :2]");
    assert_eq!(c.q("PING"), "[\"pong\", \"\"]");
    assert_eq!(c.q("PING hi"), "[\"pong\", \"hi\"]");
    let refused = "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";
    assert_eq!(c.q("GET x"), format!("-ERR Can't execute 'get': {refused}"));
    assert_eq!(c.q("CLIENT REPLY OFF"), format!("-ERR Can't execute 'client|reply': {refused}"));
    let mut other = s.connect();
    assert!(other.q("CLIENT LIST").contains(" flags=P db=0 sub=2 psub=0 "));
    c.send("PSUBSCRIBE h* a?");
    assert_eq!(c.read_reply(), "[\"psubscribe\", \"h*\", :3]");
    assert_eq!(c.read_reply(), "[\"psubscribe\", \"a?\", :4]");
    c.send("UNSUBSCRIBE a zz");
    assert_eq!(c.read_reply(), "[\"unsubscribe\", \"a\", :3]");
    assert_eq!(c.read_reply(), "[\"unsubscribe\", \"zz\", :3]");
    // Without arguments: every one, in subscription order.
    c.send("PUNSUBSCRIBE");
    assert_eq!(c.read_reply(), "[\"punsubscribe\", \"h*\", :2]");
    assert_eq!(c.read_reply(), "[\"punsubscribe\", \"a?\", :1]");
    assert_eq!(c.q("UNSUBSCRIBE"), "[\"unsubscribe\", \"b\", :0]");
    // Out of subscribed mode, every command works again.
    assert_eq!(c.q("GET x"), "(nil)");
    assert_eq!(c.q("SUBSCRIBE"), "-ERR wrong number of arguments for 'subscribe' command");
    assert_eq!(c.q("PUBLISH a"), "-ERR wrong number of arguments for 'publish' command");
    // A transaction refused in subscribed mode says why.
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SUBSCRIBE q"), "+QUEUED");
    assert_eq!(c.q("EXEC"), "[[\"subscribe\", \"q\", :1]]");
    assert_eq!(c.q("EXEC"), format!("-EXECABORT Transaction discarded because of: Can't execute 'exec': {refused}"));
    assert_eq!(c.q("QUIT"), "+OK");
}

#[test]
fn publish_reaches_channel_and_pattern_subscribers() {
    let s = common::start();
    let mut sub = s.connect();
    let mut psub = s.connect();
    let mut publisher = s.connect();
    assert_eq!(sub.q("SUBSCRIBE news"), "[\"subscribe\", \"news\", :1]");
    assert_eq!(psub.q("PSUBSCRIBE n*"), "[\"psubscribe\", \"n*\", :1]");
    assert_eq!(publisher.q("PUBLISH news hello"), ":2");
    assert_eq!(sub.read_reply(), "[\"message\", \"news\", \"hello\"]");
    assert_eq!(psub.read_reply(), "[\"pmessage\", \"n*\", \"news\", \"hello\"]");
    assert_eq!(publisher.q("PUBLISH nope x"), ":1");
    assert_eq!(psub.read_reply(), "[\"pmessage\", \"n*\", \"nope\", \"x\"]");
    assert_eq!(publisher.q("PUBLISH other x"), ":0");
    assert_eq!(publisher.q("PUBSUB NUMSUB news nope"), "[\"news\", :1, \"nope\", :0]");
    assert_eq!(publisher.q("PUBSUB NUMPAT"), ":1");
    assert_eq!(publisher.q("PUBSUB CHANNELS"), "[\"news\"]");
    assert_eq!(publisher.q("PUBSUB CHANNELS x*"), "[]");
    assert_eq!(
        publisher.q("PUBSUB CHANNELS a b"),
        "-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."
    );
    assert!(publisher.q("PUBSUB HELP").starts_with("[+PUBSUB <subcommand>"));
    // Unsubscribed clients stop getting messages; a publisher on the same
    // connection later still counts right.
    assert_eq!(sub.q("UNSUBSCRIBE"), "[\"unsubscribe\", \"news\", :0]");
    assert_eq!(publisher.q("PUBLISH news again"), ":1");
    assert_eq!(psub.read_reply(), "[\"pmessage\", \"n*\", \"news\", \"again\"]");
    assert!(sub.silent_for(100));
    // A disconnected subscriber leaves the tables.
    drop(psub);
    wait_until("the pattern is gone", || publisher.q("PUBSUB NUMPAT") == ":0");
}

/// Ten subscribers spread over the server's threads each get every
/// message of a pipelined publisher, in order.
#[test]
fn fan_out_keeps_order() {
    let s = common::start();
    let mut subs: Vec<common::Conn> = (0..10).map(|_| s.connect()).collect();
    for c in &mut subs {
        assert_eq!(c.q("SUBSCRIBE fan"), "[\"subscribe\", \"fan\", :1]");
    }
    let mut publisher = s.connect();
    const N: usize = 5_000;
    let mut batch = Vec::new();
    for i in 0..N {
        batch.extend(common::encode(&[b"PUBLISH", b"fan", format!("m{i}").as_bytes()]));
    }
    publisher.send_raw(&batch);
    for _ in 0..N {
        assert_eq!(publisher.read_reply(), ":10");
    }
    for c in &mut subs {
        for i in 0..N {
            assert_eq!(c.read_reply(), format!("[\"message\", \"fan\", \"m{i}\"]"));
        }
    }
}

/// A subscriber that never reads is disconnected once its pending output
/// passes the pubsub class's hard limit; publishing goes on for the rest.
#[test]
fn slow_subscriber_is_dropped() {
    let s = common::start_with(&[("client-output-buffer-limit", "pubsub 256kb 128kb 60")]);
    let mut slow = s.connect_raw();
    std::io::Write::write_all(&mut slow, b"SUBSCRIBE firehose\r\n").unwrap();
    let mut fast = s.connect();
    assert_eq!(fast.q("SUBSCRIBE firehose"), "[\"subscribe\", \"firehose\", :1]");
    let mut publisher = s.connect();
    wait_until("both subscribed", || numsub(&mut publisher, "firehose") == "[\"firehose\", :2]");
    let payload = "x".repeat(16 * 1024);
    let mut sent = 0;
    while numsub(&mut publisher, "firehose") != "[\"firehose\", :1]" {
        assert!(sent < 2_000, "the slow subscriber was never dropped");
        publisher.cmd(&["PUBLISH", "firehose", &payload]);
        sent += 1;
        // The reading subscriber keeps up.
        let reply = fast.read_reply();
        assert!(reply.starts_with("[\"message\", \"firehose\", \"xxxx"), "{reply}");
    }
    assert_eq!(publisher.cmd(&["PUBLISH", "firehose", "after"]), ":1");
    // The slow client's connection was closed by the server.
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = Vec::new();
    let _ = slow.read_to_end(&mut sink);
    assert!(!sink.is_empty());
}
