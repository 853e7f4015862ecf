//! FAILOVER: a primary hands its role to a replica once the replica has
//! every write, between our servers and real redis-server in both
//! directions; TIMEOUT and ABORT give up and let the held writes go; the
//! errors are Redis's.

mod common;

use common::data::{assert_same, conn, fingerprint, populate, start_in};
use common::repl::{caught_up, field, wait_until};
use common::{Conn, Reference};

fn role(c: &mut Conn) -> String {
    c.q("ROLE").split(", ").next().unwrap_or("").to_string()
}

/// A primary (`p`) fails over to its replica (`r`, on `r_port`): a write
/// sent meanwhile (by `writer`, a client of the primary) waits and is then
/// refused as a replica's; the replica takes writes and the old primary
/// follows it.
fn hand_over(p: &mut Conn, r: &mut Conn, r_port: u16, mut writer: Conn) {
    caught_up(p, r);
    let before = fingerprint(p);
    assert_eq!(p.cmd(&["FAILOVER", "TO", "127.0.0.1", &r_port.to_string()]), "+OK");
    writer.send("SET during failover");
    wait_until("the handover", || {
        field(p, "replication", "master_failover_state") == "no-failover" && role(r) == "[\"master\""
    });
    assert_eq!(writer.read_reply(), "-READONLY You can't write against a read only replica.");
    assert_eq!(role(p), "[\"slave\"");
    assert_eq!(field(p, "replication", "master_port"), r_port.to_string());
    assert_same(&before, &fingerprint(r));
    // The old primary resumed from the new one's stream: no full resync.
    assert_eq!(field(r, "stats", "sync_full"), "0");
    assert_eq!(r.q("SET after failover"), "+OK");
    caught_up(r, p);
    assert_eq!(p.q("GET after"), "\"failover\"");
}

#[test]
fn we_fail_over_to_our_replica_and_to_redis() {
    for redis_replica in [false, true] {
        let dir = common::temp_dir("failover-ours");
        let primary = start_in(&dir, &[("repl-diskless-sync-delay", "0")]).unwrap();
        let mut p = conn(&primary);
        populate(&mut p);
        let follow = format!("127.0.0.1 {}", primary.port());
        let replica_dir = common::temp_dir("failover-our-replica");
        let (ours, reference);
        let (mut r, r_port) = if redis_replica {
            reference = Reference::start(&["--replicaof", "127.0.0.1", &primary.port().to_string()]);
            (reference.connect(), reference.port)
        } else {
            ours = start_in(&replica_dir, &[("replicaof", &follow)]).unwrap();
            (conn(&ours), ours.port())
        };
        hand_over(&mut p, &mut r, r_port, conn(&primary));
    }
}

#[test]
fn redis_fails_over_to_our_replica() {
    let reference = Reference::start(&["--repl-diskless-sync-delay", "0"]);
    let mut p = reference.connect();
    populate(&mut p);
    let dir = common::temp_dir("failover-from-redis");
    let follow = format!("127.0.0.1 {}", reference.port);
    let ours = start_in(&dir, &[("replicaof", &follow)]).unwrap();
    let mut r = conn(&ours);
    hand_over(&mut p, &mut r, ours.port(), reference.connect());
}

/// A replica that never catches up (stopped): TIMEOUT gives up and the
/// held write goes through on the primary; ABORT does the same at once.
#[test]
fn a_failover_that_cannot_finish_gives_up() {
    let dir = common::temp_dir("failover-timeout");
    let primary = start_in(&dir, &[("repl-diskless-sync-delay", "0")]).unwrap();
    let mut p = conn(&primary);
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &primary.port().to_string()]);
    let mut r = reference.connect();
    assert_eq!(p.q("SET k 1"), "+OK");
    caught_up(&mut p, &mut r);
    // SAFETY: signals the reference server this test started, by pid.
    unsafe { libc::kill(reference.pid(), libc::SIGSTOP) };
    assert_eq!(p.q("SET k 2"), "+OK");
    assert_eq!(p.q("FAILOVER TIMEOUT 500"), "+OK");
    assert_eq!(field(&mut p, "replication", "master_failover_state"), "waiting-for-sync");
    assert_eq!(p.q("FAILOVER"), "-ERR FAILOVER already in progress.");
    let mut writer = conn(&primary);
    writer.send("SET k 3");
    assert!(writer.silent_for(200), "a write ran while failing over");
    assert_eq!(writer.read_reply(), "+OK");
    assert_eq!(field(&mut p, "replication", "master_failover_state"), "no-failover");
    assert_eq!(role(&mut p), "[\"master\"");

    assert_eq!(p.q("FAILOVER"), "+OK");
    writer.send("SET k 4");
    assert!(writer.silent_for(200), "a write ran while failing over");
    assert_eq!(p.q("FAILOVER ABORT"), "+OK");
    assert_eq!(writer.read_reply(), "+OK");
    assert_eq!(p.q("FAILOVER ABORT"), "-ERR No failover in progress.");
    // SAFETY: as above.
    unsafe { libc::kill(reference.pid(), libc::SIGCONT) };
    caught_up(&mut p, &mut r);
    assert_eq!(r.q("GET k"), "\"4\"");
}

#[test]
fn failover_errors_match_redis() {
    let dir = common::temp_dir("failover-errors");
    let primary = start_in(&dir, &[("repl-diskless-sync-delay", "0")]).unwrap();
    let reference = Reference::start(&["--repl-diskless-sync-delay", "0"]);
    let (mut c, mut r) = (conn(&primary), reference.connect());
    let lines = [
        "FAILOVER",
        "FAILOVER ABORT",
        "FAILOVER TO",
        "FAILOVER TO a b",
        "FAILOVER FORCE",
        "FAILOVER TIMEOUT 100 FORCE",
        "FAILOVER TIMEOUT 0",
        "FAILOVER TIMEOUT abc",
        "FAILOVER ABORT TIMEOUT 10",
        "FAILOVER ABORT TIMEOUT 0",
        "FAILOVER TIMEOUT -5 ABORT",
        "FAILOVER TO 127.0.0.1 1 ABORT",
        "FAILOVER ABORT FORCE",
        "FAILOVER ABORT ABORT",
        "FAILOVER TIMEOUT 0 TIMEOUT 1",
        "FAILOVER TO 127.0.0.1 1 TO 127.0.0.1 1",
        "FAILOVER TIMEOUT 5 TIMEOUT 6",
        "FAILOVER NONSENSE",
        "PSYNC abc 1 FAILOVER",
    ];
    for line in lines {
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
    // With a replica: a target that is not one of them.
    let ours_replica =
        start_in(&common::temp_dir("failover-errors-r"), &[("replicaof", &format!("127.0.0.1 {}", primary.port()))])
            .unwrap();
    let redis_replica = Reference::start(&["--replicaof", "127.0.0.1", &reference.port.to_string()]);
    let (mut cr, mut rr) = (conn(&ours_replica), redis_replica.connect());
    caught_up(&mut c, &mut cr);
    caught_up(&mut r, &mut rr);
    for line in ["FAILOVER TO 127.0.0.1 1", "FAILOVER TO 127.0.0.1 99999"] {
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
    for line in ["FAILOVER", "FAILOVER FORCE", "PSYNC abc 1 FAILOVER"] {
        assert_eq!(cr.q(line), rr.q(line), "{line}");
    }
}
