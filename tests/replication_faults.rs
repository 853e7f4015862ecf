//! Replication through faults, each bounded in time: a replica restarted,
//! a primary restarted from its persisted data, and a replica that fell
//! further behind than the primary's backlog reaches (it must get a full
//! resync, not a partial one that skips writes). Each ends with the
//! replica holding exactly what the primary holds.

mod common;

use common::binary::Binary;
use common::data::{assert_same, conn, fingerprint, populate, start_in};
use common::repl::{caught_up, field, wait_until};
use common::{Conn, Reference};

/// Writes `count` keys named `{prefix}{i}`, each acknowledged.
fn write_keys(c: &mut Conn, prefix: &str, count: usize) {
    for i in 0..count {
        assert_eq!(c.cmd(&["SET", &format!("{prefix}{i}"), &i.to_string()]), "+OK");
    }
}

/// One of our servers replicating from another is killed (SIGKILL) and
/// started again over its own AOF while the primary takes writes; it
/// reconnects and ends with the primary's data.
#[test]
fn a_restarted_replica_catches_up() {
    let primary = Binary::start(&["--repl-diskless-sync-delay", "0"]);
    let mut p = primary.connect();
    populate(&mut p);
    let follow = format!("127.0.0.1 {}", primary.port);
    let args = ["--replicaof", follow.as_str(), "--appendonly", "yes"];
    let replica = Binary::start(&args);
    let mut r = replica.connect();
    caught_up(&mut p, &mut r);
    write_keys(&mut p, "before", 500);
    caught_up(&mut p, &mut r);

    // SAFETY: signals the binary this test started, by pid.
    unsafe { libc::kill(replica.pid(), libc::SIGKILL) };
    write_keys(&mut p, "while-down", 500);
    let replica = replica.restart(&args);
    let mut r = replica.connect();
    write_keys(&mut p, "after", 500);
    caught_up(&mut p, &mut r);
    assert_same(&fingerprint(&mut p), &fingerprint(&mut r));
    assert_eq!(field(&mut p, "replication", "connected_slaves"), "1");
}

/// Our primary, persisting with appendfsync always, is killed (SIGKILL)
/// and started again: it loads every write it acknowledged, and its
/// replica (a real redis-server), which reconnects on its own, ends with
/// the same data, new writes included.
#[test]
fn a_restarted_primary_comes_back_with_its_data_and_its_replica() {
    let args = ["--appendonly", "yes", "--appendfsync", "always", "--repl-diskless-sync-delay", "0"];
    let primary = Binary::start(&args);
    let mut p = primary.connect();
    populate(&mut p);
    write_keys(&mut p, "acked", 1000);
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let mut r = reference.connect();
    caught_up(&mut p, &mut r);
    let before = fingerprint(&mut p);

    let primary = primary.restart(&args);
    let mut p = primary.connect();
    assert_same(&before, &fingerprint(&mut p));
    write_keys(&mut p, "after-restart", 200);
    caught_up(&mut p, &mut r);
    assert_same(&fingerprint(&mut p), &fingerprint(&mut r));
}

/// A replica cut off while stopped, then resumed after the primary wrote
/// more than its backlog holds, asks to continue from where it was; the
/// primary no longer has those bytes and answers with a full resync.
/// Checked with us as the primary and a real redis-server as the replica,
/// and the other way round.
#[test]
fn a_replica_behind_the_backlog_gets_a_full_resync() {
    // Us as the primary.
    let dir = common::temp_dir("repl-behind");
    let server = start_in(&dir, &[("repl-backlog-size", "16kb"), ("repl-diskless-sync-delay", "0")]).unwrap();
    let mut ours = conn(&server);
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &server.port().to_string()]);
    let mut replica = reference.connect();
    fall_behind(&mut ours, &mut replica, reference.pid());

    // A real redis-server as the primary.
    let reference = Reference::start(&["--repl-backlog-size", "16kb", "--repl-diskless-sync-delay", "0"]);
    let mut primary = reference.connect();
    let binary = Binary::start(&["--replicaof", &format!("127.0.0.1 {}", reference.port)]);
    let mut replica = binary.connect();
    fall_behind(&mut primary, &mut replica, binary.pid());
}

/// Takes `replica` (process `pid`) past `primary`'s backlog: stopped, cut
/// off, 200 KB of writes, resumed. Then checks the resync was full.
fn fall_behind(primary: &mut Conn, replica: &mut Conn, pid: i32) {
    write_keys(primary, "first", 100);
    caught_up(primary, replica);
    assert_eq!(field(primary, "stats", "sync_full"), "1");
    // SAFETY: signals a process this test started, by pid.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    assert_eq!(primary.q("CLIENT KILL TYPE replica"), ":1");
    let value = "v".repeat(1000);
    for i in 0..200 {
        assert_eq!(primary.cmd(&["SET", &format!("missed{i}"), &value]), "+OK");
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    wait_until("the full resync", || field(primary, "stats", "sync_full") == "2");
    caught_up(primary, replica);
    assert_eq!(field(primary, "stats", "sync_partial_err"), "1", "{}", primary.q("INFO server"));
    assert_eq!(field(primary, "stats", "sync_partial_ok"), "0");
    assert_same(&fingerprint(primary), &fingerprint(replica));
}

/// Writes to database 5, where the stream then stays: a replica that
/// resumes must know it is in 5 (from its snapshot's repl-stream-db),
/// since no SELECT follows.
fn write_in_db5(c: &mut Conn, prefix: &str) {
    assert_eq!(c.q("SELECT 5"), "+OK");
    write_keys(c, prefix, 50);
    assert_eq!(c.q("SELECT 0"), "+OK");
}

/// Our primary shut down with a save and started again continues with
/// its replicas (a real redis-server and one of ours) by partial resync:
/// the snapshot recorded its replication id and offset.
#[test]
fn a_primary_restarted_from_its_snapshot_continues_with_its_replicas() {
    let args = ["--repl-diskless-sync-delay", "0"];
    let primary = Binary::start(&args);
    let mut p = primary.connect();
    populate(&mut p);
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let ours = Binary::start(&["--replicaof", &format!("127.0.0.1 {}", primary.port)]);
    let (mut r, mut o) = (reference.connect(), ours.connect());
    write_in_db5(&mut p, "before");
    caught_up(&mut p, &mut r);
    caught_up(&mut p, &mut o);

    p.send("SHUTDOWN SAVE");
    assert!(p.is_closed());
    let primary = primary.restart(&args);
    let mut p = primary.connect();
    wait_until("both replicas back", || field(&mut p, "replication", "connected_slaves") == "2");
    assert_eq!(field(&mut p, "stats", "sync_partial_ok"), "2");
    assert_eq!(field(&mut p, "stats", "sync_full"), "0");
    write_in_db5(&mut p, "after");
    caught_up(&mut p, &mut r);
    caught_up(&mut p, &mut o);
    let want = fingerprint(&mut p);
    assert_same(&want, &fingerprint(&mut r));
    assert_same(&want, &fingerprint(&mut o));
}

/// Our replica shut down with a save and started again continues from
/// where its snapshot stood, by partial resync, in the database the
/// stream was in; its primary here is a real redis-server.
#[test]
fn a_replica_restarted_from_its_snapshot_continues() {
    let reference = Reference::start(&["--repl-diskless-sync-delay", "0"]);
    let mut p = reference.connect();
    populate(&mut p);
    let args = ["--replicaof", &format!("127.0.0.1 {}", reference.port)].map(str::to_string);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let replica = Binary::start(&args);
    let mut r = replica.connect();
    // The stream stays in database 5 from here on.
    assert_eq!(p.q("SELECT 5"), "+OK");
    write_keys(&mut p, "before", 50);
    caught_up(&mut p, &mut r);

    r.send("SHUTDOWN SAVE");
    assert!(r.is_closed());
    write_keys(&mut p, "while-down", 50);
    let replica = replica.restart(&args);
    let mut r = replica.connect();
    wait_until("the partial resync", || field(&mut p, "stats", "sync_partial_ok") == "1");
    write_keys(&mut p, "after", 50);
    caught_up(&mut p, &mut r);
    assert_eq!(field(&mut p, "stats", "sync_full"), "1");
    assert_same(&fingerprint(&mut p), &fingerprint(&mut r));
}

/// Our primary with a redis-server replica that has everything and is
/// then stopped (SIGSTOP): the primary, the replica, and a connection to
/// each.
fn primary_with_a_stopped_replica() -> (Binary, Reference, Conn, Conn) {
    let primary = Binary::start(&["--repl-diskless-sync-delay", "0"]);
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    let mut replica = reference.connect();
    let mut p = primary.connect();
    caught_up(&mut p, &mut replica);
    // SAFETY: signals the reference server this test started, by pid.
    unsafe { libc::kill(reference.pid(), libc::SIGSTOP) };
    (primary, reference, p, replica)
}

/// Resumes the replica; the primary, shutting down, exits once the
/// replica has everything, `key` included.
fn resume_and_see_the_primary_exit(mut primary: Binary, reference: &Reference, replica: &mut Conn, key: &str) {
    // SAFETY: signals the reference server this test started, by pid.
    unsafe { libc::kill(reference.pid(), libc::SIGCONT) };
    primary.wait();
    wait_until("the replica to see its primary gone", || field(replica, "replication", "master_link_status") == "down");
    assert_eq!(replica.cmd(&["GET", key]), "\"1\"");
}

/// SHUTDOWN on a primary waits for a replica that lags (writes held
/// meanwhile), as Redis 7.0's does: SHUTDOWN ABORT calls it off (the
/// waiting client gets Redis's error, the held write goes through); left
/// to finish, it ends once the replica has everything, so the replica has
/// the last write.
#[test]
fn shutdown_waits_for_a_lagging_replica() {
    let (primary, reference, mut p, mut replica) = primary_with_a_stopped_replica();
    assert_eq!(p.q("SET before-shutdown 1"), "+OK");
    let mut asker = primary.connect();
    asker.send("SHUTDOWN");
    assert!(asker.silent_for(300), "SHUTDOWN did not wait for the replica");
    let mut writer = primary.connect();
    writer.send("SET held 1");
    assert!(writer.silent_for(200), "a write ran while the shutdown waited");
    assert_eq!(p.q("SHUTDOWN ABORT"), "+OK");
    assert_eq!(asker.read_reply(), "-ERR Errors trying to SHUTDOWN. Check logs.");
    assert_eq!(writer.read_reply(), "+OK");
    assert_eq!(asker.q("PING"), "+PONG");
    assert_eq!(p.q("SHUTDOWN ABORT"), "-ERR No shutdown in progress.");

    assert_eq!(p.q("SET last 1"), "+OK");
    asker.send("SHUTDOWN");
    assert!(asker.silent_for(300), "SHUTDOWN did not wait for the replica");
    resume_and_see_the_primary_exit(primary, &reference, &mut replica, "last");
    assert!(asker.is_closed());
    assert_eq!(replica.q("GET held"), "\"1\"");
}

/// SIGTERM waits for a lagging replica too before the primary exits.
#[test]
fn sigterm_waits_for_a_lagging_replica() {
    let (primary, reference, mut p, mut replica) = primary_with_a_stopped_replica();
    assert_eq!(p.q("SET last 1"), "+OK");
    // SAFETY: signals the binary this test started, by pid.
    unsafe { libc::kill(primary.pid(), libc::SIGTERM) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(p.q("PING"), "+PONG", "the primary exited before its replica had everything");
    resume_and_see_the_primary_exit(primary, &reference, &mut replica, "last");
}
