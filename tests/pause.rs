//! CLIENT PAUSE and UNPAUSE: which commands wait, that they run in order
//! once the pause ends (by its timeout or UNPAUSE), and that keys do not
//! expire in the background meanwhile.

mod common;

use std::time::{Duration, Instant};

use common::Reference;

#[test]
fn pause_errors_match_redis() {
    let server = common::start();
    let reference = Reference::start(&[]);
    let (mut c, mut r) = (server.connect(), reference.connect());
    for line in [
        "CLIENT PAUSE",
        "CLIENT PAUSE abc",
        "CLIENT PAUSE -1",
        "CLIENT PAUSE 100 foo",
        "CLIENT PAUSE abc NX",
        "CLIENT PAUSE -5 write",
        "CLIENT PAUSE 100 write extra",
        "CLIENT UNPAUSE x",
        "CLIENT PAUSE 0 WRITE",
        "CLIENT UNPAUSE",
    ] {
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
}

/// Under WRITE, reads run and writes wait, the client's later commands
/// behind them; UNPAUSE lets them go, in order.
#[test]
fn a_write_pause_holds_writes_until_unpause() {
    let server = common::start();
    let mut admin = server.connect();
    let mut c = server.connect();
    assert_eq!(c.q("SET k before"), "+OK");
    assert_eq!(admin.q("CLIENT PAUSE 20000 WRITE"), "+OK");
    assert_eq!(c.q("GET k"), "\"before\"");
    c.send("SET k after");
    c.send("GET k");
    assert!(c.silent_for(300), "a write ran during the pause");
    // Another client's reads are served meanwhile; scripts and PUBLISH wait.
    let mut other = server.connect();
    assert_eq!(other.q("GET k"), "\"before\"");
    let mut script = server.connect();
    script.send_raw(&common::encode(&[b"EVAL", b"return 1", b"0"]));
    let mut publisher = server.connect();
    publisher.send("PUBLISH ch m");
    assert!(script.silent_for(100) && publisher.silent_for(100));
    assert_eq!(admin.q("CLIENT UNPAUSE"), "+OK");
    assert_eq!(c.read_reply(), "+OK");
    assert_eq!(c.read_reply(), "\"after\"");
    assert_eq!(script.read_reply(), ":1");
    assert_eq!(publisher.read_reply(), ":0");
}

/// Inside MULTI, a write waits before it is even queued, as in Redis;
/// EXEC waits when what it would run writes (queued before the pause),
/// and not otherwise.
#[test]
fn a_write_pause_holds_writes_inside_transactions() {
    let server = common::start();
    let mut admin = server.connect();
    let mut c = server.connect();
    let mut early = server.connect();
    for (line, reply) in [("MULTI", "+OK"), ("SET early 1", "+QUEUED")] {
        assert_eq!(early.q(line), reply, "{line}");
    }
    assert_eq!(admin.q("CLIENT PAUSE 20000 WRITE"), "+OK");
    for (line, reply) in [("MULTI", "+OK"), ("GET k", "+QUEUED"), ("EXEC", "[(nil)]"), ("MULTI", "+OK")] {
        assert_eq!(c.q(line), reply, "{line}");
    }
    c.send("SET k 1");
    early.send("EXEC");
    assert!(c.silent_for(300), "a write was queued during the pause");
    assert!(early.silent_for(10), "EXEC of a write ran during the pause");
    assert_eq!(admin.q("CLIENT UNPAUSE"), "+OK");
    assert_eq!(c.read_reply(), "+QUEUED");
    assert_eq!(c.q("EXEC"), "[+OK]");
    assert_eq!(early.read_reply(), "[+OK]");
}

/// ALL holds every command, CLIENT UNPAUSE too, until the timeout; then
/// they run.
#[test]
fn an_all_pause_holds_everything_until_its_timeout() {
    let server = common::start();
    let mut admin = server.connect();
    let mut c = server.connect();
    let started = Instant::now();
    assert_eq!(admin.q("CLIENT PAUSE 400"), "+OK");
    c.send("PING");
    assert!(c.silent_for(150), "PING ran during an ALL pause");
    assert_eq!(admin.q("CLIENT UNPAUSE"), "+OK");
    assert!(started.elapsed() >= Duration::from_millis(390), "{:?}", started.elapsed());
    assert_eq!(c.read_reply(), "+PONG");
}

/// While paused, keys past their TTL stay until the pause ends (the
/// background expiry would write DELs into the stream).
#[test]
fn keys_do_not_expire_in_the_background_while_paused() {
    let server = common::start();
    let mut c = server.connect();
    assert_eq!(c.q("SET gone soon PX 50"), "+OK");
    assert_eq!(c.q("CLIENT PAUSE 20000 WRITE"), "+OK");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(c.q("DBSIZE"), ":1");
    assert_eq!(c.q("CLIENT UNPAUSE"), "+OK");
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.q("DBSIZE") != ":0" {
        assert!(Instant::now() < deadline, "the key never expired after the pause");
        std::thread::sleep(Duration::from_millis(20));
    }
}
