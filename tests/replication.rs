//! Replication with a real redis-server 7.0 replicating from us: the full
//! sync (an RDB snapshot, then the stream), the stream of every kind of
//! write, and a partial resync after the link is cut, each checked by
//! comparing every key of both servers.

mod common;

use std::time::{Duration, Instant};

use common::data::{assert_same, conn, fingerprint, populate, start_in};
use common::repl::{caught_up, field, wait_until};
use common::{Conn, Reference};

/// Every key with its type, value and expiry, and its encoding except
/// raw against embstr: a string edited in place (APPEND) is raw where it
/// was edited and embstr where it was loaded from a snapshot, in Redis as
/// here.
fn contents(c: &mut Conn) -> Vec<String> {
    fingerprint(c).into_iter().map(|line| line.replace(" +string \"raw\" ", " +string \"embstr\" ")).collect()
}

/// Writes of every kind a replica must see as they were executed: each
/// type, several databases, expiries relative and absolute, commands that
/// are propagated rewritten (SPOP, INCRBYFLOAT, EXPIRE), a transaction and
/// a script.
fn writes(c: &mut Conn, round: u32) {
    let r = round.to_string();
    for line in [
        "SET s{r} v",
        "INCR counter",
        "INCRBYFLOAT float 1.5",
        "APPEND s{r} more",
        "RPUSH list{r} a b c d",
        "LPOP list{r}",
        "SADD set{r} a b c d e",
        "SPOP set{r}",
        "HSET hash{r} f1 v1 f2 v2",
        "HDEL hash{r} f1",
        "ZADD zset{r} 1 a 2 b 3 c",
        "ZINCRBY zset{r} 5 a",
        "SET ttl{r} v EX 1000",
        "EXPIRE s{r} 5000",
        "PEXPIREAT list{r} 99999999999999",
        "SELECT 4",
        "SET other{r} in-db-4",
        "SELECT 0",
        "MULTI",
        "SET in-multi{r} 1",
        "INCR in-multi{r}",
        "EXEC",
        "DEL float",
    ] {
        let line = line.replace("{r}", &r);
        let reply = c.q(&line);
        assert!(!reply.starts_with('-'), "{line}: {reply}");
    }
    let script: [&[u8]; 4] = [b"EVAL", b"redis.call('set', KEYS[1], 'from-lua') return 1", b"1", b"scripted"];
    assert_eq!(c.cmd_bytes(&script), ":1");
}

/// A real redis-server replicates from us: it loads the snapshot taken
/// when it connected, then applies the stream; cut off, it resumes with a
/// partial resync; the data ends identical each time.
#[test]
fn redis_replicates_from_us() {
    let dir = common::temp_dir("repl-primary");
    let server = start_in(&dir, &[("repl-diskless-sync-delay", "0")]).unwrap();
    let mut ours = conn(&server);
    populate(&mut ours);
    let port = server.port().to_string();
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &port]);
    let mut replica = reference.connect();
    wait_until("the link", || field(&mut replica, "replication", "master_link_status") == "up");
    writes(&mut ours, 1);
    caught_up(&mut ours, &mut replica);
    assert_same(&fingerprint(&mut ours), &fingerprint(&mut replica));
    assert_eq!(field(&mut ours, "stats", "sync_full"), "1");
    // The snapshot went to the replica's socket (repl-diskless-sync).
    assert!(!dir.join("dump.rdb").exists());
    assert_eq!(field(&mut ours, "replication", "connected_slaves"), "1");
    let line = field(&mut ours, "replication", "slave0");
    assert!(line.starts_with(&format!("ip=127.0.0.1,port={},state=online,", reference.port)), "{line}");
    let role = ours.q("ROLE");
    assert!(role.starts_with("[\"master\", :"), "{role}");
    assert!(role.contains(&format!("[\"127.0.0.1\", \"{}\", ", reference.port)), "{role}");

    // WAIT: the replica acknowledges this client's writes.
    assert_eq!(ours.q("SET waited 1"), "+OK");
    assert_eq!(ours.q("WAIT 1 5000"), ":1");
    assert_eq!(ours.q("WAIT 2 100"), ":1");
    // One good replica is enough for min-replicas-to-write 1, not for 2.
    assert_eq!(ours.q("CONFIG SET min-replicas-to-write 1"), "+OK");
    assert_eq!(ours.q("SET guarded 1"), "+OK");
    assert_eq!(field(&mut ours, "replication", "min_slaves_good_slaves"), "1");
    assert_eq!(ours.q("CONFIG SET min-replicas-to-write 2"), "+OK");
    assert_eq!(ours.q("SET guarded 2"), "-NOREPLICAS Not enough good replicas to write.");
    assert_eq!(ours.q("CONFIG SET min-replicas-to-write 0"), "+OK");

    // Cut the link: the replica comes back asking for what it missed.
    let listed = ours.q("CLIENT LIST TYPE replica");
    assert_eq!(listed.matches("flags=S ").count(), 1, "{listed}");
    assert_eq!(ours.q("CLIENT LIST TYPE pubsub"), "\"\"");
    assert_eq!(ours.q("CLIENT KILL TYPE normal SKIPME yes"), ":0");
    assert_eq!(ours.q("CLIENT KILL TYPE replica"), ":1");
    writes(&mut ours, 2);
    wait_until("a partial resync", || field(&mut ours, "stats", "sync_partial_ok") == "1");
    caught_up(&mut ours, &mut replica);
    assert_same(&fingerprint(&mut ours), &fingerprint(&mut replica));
    assert_eq!(field(&mut ours, "stats", "sync_full"), "1");
}

/// Writes that go on while the replica's full sync runs (before, during
/// and after the snapshot) all reach it, in order, whether the snapshot
/// goes through a file or straight to the replica.
#[test]
fn writes_during_the_full_sync_reach_the_replica() {
    for diskless in ["no", "yes"] {
        writes_during_the_full_sync(diskless);
    }
}

fn writes_during_the_full_sync(diskless: &str) {
    let dir = common::temp_dir("repl-load");
    let server = start_in(&dir, &[("repl-diskless-sync", diskless), ("repl-diskless-sync-delay", "0")]).unwrap();
    let mut ours = conn(&server);
    let port = server.port();
    let writer = std::thread::spawn(move || {
        let mut c = Conn::connect(port);
        for i in 0..20_000u32 {
            let key = format!("k{}", i % 5000);
            let batch = [
                common::encode(&[b"SET", key.as_bytes(), i.to_string().as_bytes()]),
                common::encode(&[b"INCR", b"n"]),
                common::encode(&[b"RPUSH", b"log", i.to_string().as_bytes()]),
            ]
            .concat();
            c.send_raw(&batch);
            for _ in 0..3 {
                let reply = c.read_reply();
                assert!(!reply.starts_with('-'), "{reply}");
            }
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &port.to_string()]);
    let mut replica = reference.connect();
    writer.join().unwrap();
    caught_up(&mut ours, &mut replica);
    assert_eq!(replica.q("GET n"), "\"20000\"");
    assert_eq!(replica.q("LLEN log"), ":20000");
    assert_same(&fingerprint(&mut ours), &fingerprint(&mut replica));
    assert_eq!(dir.join("dump.rdb").exists(), diskless == "no");
}

/// REPLCONF as a replica sends it; unknown options get Redis's error;
/// ACK is never answered; PSYNC is refused inside MULTI.
#[test]
fn replconf_answers_as_redis_does() {
    let server = common::start();
    let mut c = server.connect();
    let reference = Reference::start(&[]);
    let mut r = reference.connect();
    for line in [
        "REPLCONF listening-port 6380",
        "REPLCONF capa eof capa psync2",
        "REPLCONF ip-address 10.0.0.1",
        "REPLCONF nonsense 1",
        "REPLCONF listening-port",
        "REPLCONF",
        "ROLE",
    ] {
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
    for conn in [&mut c, &mut r] {
        conn.send("REPLCONF ACK 10");
        assert_eq!(conn.q("PING"), "+PONG");
    }
    for line in ["MULTI", "PSYNC ? -1", "SYNC", "DISCARD"] {
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
    // min-replicas-to-write with none: writes refused, reads served, a
    // script's write refused with its location, a transaction aborted.
    let script: [&[u8]; 3] = [b"EVAL", b"return redis.call('set','x','y')", b"0"];
    for conn in [&mut c, &mut r] {
        assert_eq!(conn.q("CONFIG SET min-replicas-to-write 1"), "+OK");
    }
    for line in ["SET a 1", "GET a", "MULTI", "SET a 2", "EXEC", "CONFIG GET min-slaves-to-write"] {
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
    assert_eq!(c.cmd_bytes(&script), r.cmd_bytes(&script));
    assert!(c.cmd_bytes(&script).starts_with("-NOREPLICAS Not enough good replicas to write. script:"));
    for conn in [&mut c, &mut r] {
        assert_eq!(conn.q("CONFIG SET min-replicas-to-write 0"), "+OK");
    }
    // WAIT with no replicas: its errors, and what it counts.
    for line in ["WAIT 1 -1", "WAIT 1 abc", "WAIT x 0", "WAIT 0 0", "SET k v", "WAIT 1 50", "MULTI", "WAIT 5 0", "EXEC"]
    {
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
}

/// A replica that stops reading is dropped once the stream held for it
/// passes client-output-buffer-limit's replica class; resumed, it comes
/// back and catches up from the backlog.
#[test]
fn a_stalled_replica_is_dropped_at_its_output_limit_and_comes_back() {
    let dir = common::temp_dir("repl-stall");
    let server =
        start_in(&dir, &[("client-output-buffer-limit", "replica 1mb 0 0"), ("repl-diskless-sync-delay", "0")])
            .unwrap();
    let mut ours = conn(&server);
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &server.port().to_string()]);
    let mut replica = reference.connect();
    caught_up(&mut ours, &mut replica);
    // SAFETY: signals the reference server this test started, by pid.
    unsafe { libc::kill(reference.pid(), libc::SIGSTOP) };
    // A stopped replica acknowledges nothing: WAIT times out with 0, and
    // other clients are served meanwhile.
    assert_eq!(ours.q("SET before-stall 1"), "+OK");
    let started = Instant::now();
    let mut other = conn(&server);
    ours.send("WAIT 1 300");
    assert_eq!(other.q("PING"), "+PONG");
    assert_eq!(ours.read_reply(), ":0");
    // Whole milliseconds on the server's clock.
    assert!(started.elapsed() >= Duration::from_millis(290), "{:?}", started.elapsed());
    // Past what the kernel's socket buffers take in too.
    let value = "x".repeat(100_000);
    for i in 0..300 {
        assert_eq!(ours.cmd(&["SET", &format!("big{}", i % 20), &value]), "+OK");
    }
    wait_until("the replica to be dropped", || field(&mut ours, "replication", "connected_slaves") == "0");
    // SAFETY: as above.
    unsafe { libc::kill(reference.pid(), libc::SIGCONT) };
    caught_up(&mut ours, &mut replica);
    assert_same(&fingerprint(&mut ours), &fingerprint(&mut replica));
}

/// We replicate from a real redis-server: its snapshot (sent diskless, or
/// from its disk), then its stream of every kind of write; our clients
/// may read but not write; a cut link resumes with a partial resync; and
/// REPLICAOF NO ONE makes us a primary that keeps the old id as its
/// second.
#[test]
fn we_replicate_from_redis() {
    for diskless in ["yes", "no"] {
        let reference = Reference::start(&["--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0"]);
        let mut primary = reference.connect();
        populate(&mut primary);
        let dir = common::temp_dir(&format!("repl-replica-{diskless}"));
        let server = start_in(&dir, &[]).unwrap();
        let mut ours = conn(&server);
        assert_eq!(ours.cmd(&["REPLICAOF", "127.0.0.1", &reference.port.to_string()]), "+OK");
        assert_eq!(
            ours.cmd(&["REPLICAOF", "127.0.0.1", &reference.port.to_string()]),
            "+OK Already connected to specified master"
        );
        writes(&mut primary, 1);
        caught_up(&mut primary, &mut ours);
        assert_same(&contents(&mut primary), &contents(&mut ours));
        assert_eq!(ours.q("SET mine 1"), "-READONLY You can't write against a read only replica.");
        assert_eq!(ours.q("GET s1"), "\"vmore\"");
        let role = ours.q("ROLE");
        assert_eq!(
            role,
            format!(
                "[\"slave\", \"127.0.0.1\", :{}, \"connected\", {}]",
                reference.port,
                role.rsplit(", ").next().unwrap().trim_end_matches(']')
            )
        );
        assert_eq!(
            field(&mut ours, "replication", "master_replid"),
            field(&mut primary, "replication", "master_replid")
        );

        // The primary drops us: we come back for what we missed.
        assert_eq!(primary.q("CLIENT KILL TYPE replica"), ":1");
        writes(&mut primary, 2);
        wait_until("a partial resync", || field(&mut primary, "stats", "sync_partial_ok") == "1");
        caught_up(&mut primary, &mut ours);
        assert_same(&contents(&mut primary), &contents(&mut ours));

        let old_id = field(&mut ours, "replication", "master_replid");
        assert_eq!(ours.q("REPLICAOF NO ONE"), "+OK");
        assert_eq!(ours.q("SET mine 1"), "+OK");
        assert_eq!(field(&mut ours, "replication", "role"), "master");
        assert_eq!(field(&mut ours, "replication", "master_replid2"), old_id);
        assert_ne!(field(&mut ours, "replication", "master_replid"), old_id);
    }
}

/// REPLICAOF's errors, as redis-server gives them.
#[test]
fn replicaof_errors_match_redis() {
    let server = common::start();
    let mut c = server.connect();
    let reference = Reference::start(&[]);
    let mut r = reference.connect();
    for line in ["REPLICAOF a b", "REPLICAOF 127.0.0.1 70000", "REPLICAOF no one", "SLAVEOF NO ONE", "REPLICAOF"] {
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
    // A replica whose primary is unreachable serves no replica of its own.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    for conn in [&mut c, &mut r] {
        assert_eq!(conn.cmd(&["REPLICAOF", "127.0.0.1", &nowhere]), "+OK");
    }
    for line in ["PSYNC ? -1", "SYNC"] {
        let (mut c, mut r) = (server.connect(), reference.connect());
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
    for conn in [&mut c, &mut r] {
        assert_eq!(conn.q("REPLICAOF NO ONE"), "+OK");
    }
}

/// repl-timeout both ways: a primary that stops sending (SIGSTOP) is
/// given up by our replica, which reconnects once it is back; a replica
/// that stops acknowledging is dropped by our primary.
#[test]
fn silent_peers_time_out() {
    // Our replica of a stopped redis-server primary.
    let reference = Reference::start(&["--repl-diskless-sync-delay", "0"]);
    let mut primary = reference.connect();
    let dir = common::temp_dir("repl-timeout-replica");
    let server = start_in(&dir, &[("repl-timeout", "2")]).unwrap();
    let mut ours = conn(&server);
    assert_eq!(ours.cmd(&["REPLICAOF", "127.0.0.1", &reference.port.to_string()]), "+OK");
    assert_eq!(primary.q("SET k 1"), "+OK");
    caught_up(&mut primary, &mut ours);
    // SAFETY: signals the reference server this test started, by pid.
    unsafe { libc::kill(reference.pid(), libc::SIGSTOP) };
    wait_until("the link to time out", || field(&mut ours, "replication", "master_link_status") == "down");
    // SAFETY: as above.
    unsafe { libc::kill(reference.pid(), libc::SIGCONT) };
    assert_eq!(primary.q("SET k 2"), "+OK");
    caught_up(&mut primary, &mut ours);
    assert_eq!(ours.q("GET k"), "\"2\"");

    // Our primary with a stopped redis-server replica.
    let dir = common::temp_dir("repl-timeout-primary");
    let server = start_in(&dir, &[("repl-timeout", "2")]).unwrap();
    let mut ours = conn(&server);
    let replica = Reference::start(&["--replicaof", "127.0.0.1", &server.port().to_string()]);
    let mut r = replica.connect();
    caught_up(&mut ours, &mut r);
    // SAFETY: signals the reference server this test started, by pid.
    unsafe { libc::kill(replica.pid(), libc::SIGSTOP) };
    wait_until("the replica to be dropped", || field(&mut ours, "replication", "connected_slaves") == "0");
    // SAFETY: as above.
    unsafe { libc::kill(replica.pid(), libc::SIGCONT) };
    caught_up(&mut ours, &mut r);
}

/// A replica whose primary cannot be reached, told not to serve stale
/// data, refuses what Redis refuses (MASTERDOWN) and answers the rest.
#[test]
fn replica_serve_stale_data_no_matches_redis() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = common::start();
    let mut c = server.connect();
    let reference = Reference::start(&["--replica-serve-stale-data", "no"]);
    let mut r = reference.connect();
    assert_eq!(c.q("CONFIG SET replica-serve-stale-data no"), "+OK");
    for conn in [&mut c, &mut r] {
        assert_eq!(conn.cmd(&["REPLICAOF", "127.0.0.1", &dead.to_string()]), "+OK");
    }
    for line in [
        "GET k",
        "SET k v",
        "PING",
        "ECHO hi",
        "CONFIG GET replica-serve-stale-data",
        "MULTI",
        "GET k",
        "EXEC",
        "CONFIG SET replica-serve-stale-data yes",
        "WAIT 1 1",
        "CONFIG SET replica-serve-stale-data no",
    ] {
        assert_eq!(c.q(line), r.q(line), "{line}");
    }
    for conn in [&mut c, &mut r] {
        assert_eq!(conn.q("CONFIG SET replica-serve-stale-data yes"), "+OK");
        assert_eq!(conn.q("GET k"), "(nil)");
        assert_eq!(conn.q("REPLICAOF NO ONE"), "+OK");
    }
}

/// A replica of a replica: redis-server, then ours, then ours again. The
/// middle one passes the stream on as it came, so the last one shares the
/// top primary's id and offset and holds the same data.
#[test]
fn chained_replicas_share_the_primarys_stream() {
    let reference = Reference::start(&["--repl-diskless-sync-delay", "0"]);
    let mut top = reference.connect();
    populate(&mut top);
    let middle_dir = common::temp_dir("repl-chain-middle");
    let middle = start_in(&middle_dir, &[("repl-diskless-sync-delay", "0")]).unwrap();
    let mut m = conn(&middle);
    assert_eq!(m.cmd(&["REPLICAOF", "127.0.0.1", &reference.port.to_string()]), "+OK");
    caught_up(&mut top, &mut m);
    let last_dir = common::temp_dir("repl-chain-last");
    let last = start_in(&last_dir, &[]).unwrap();
    let mut l = conn(&last);
    assert_eq!(l.cmd(&["REPLICAOF", "127.0.0.1", &middle.port().to_string()]), "+OK");
    writes(&mut top, 1);
    caught_up(&mut top, &mut m);
    caught_up(&mut top, &mut l);
    assert_same(&contents(&mut top), &contents(&mut l));
    assert_eq!(field(&mut l, "replication", "master_replid"), field(&mut top, "replication", "master_replid"));
}

/// While a replica loads its primary's snapshot, commands not flagged
/// loading get -LOADING at once instead of waiting for the load.
#[test]
fn a_loading_replica_answers_loading() {
    let reference = Reference::start(&["--repl-diskless-sync-delay", "0"]);
    let mut primary = reference.connect();
    assert_eq!(primary.q("DEBUG POPULATE 1000000"), "+OK");
    let dir = common::temp_dir("repl-loading");
    let server = start_in(&dir, &[]).unwrap();
    let mut ours = conn(&server);
    let mut probe = conn(&server);
    assert_eq!(ours.cmd(&["REPLICAOF", "127.0.0.1", &reference.port.to_string()]), "+OK");
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while field(&mut ours, "replication", "master_link_status") != "up" {
        assert!(Instant::now() < deadline, "timed out waiting for the sync");
        seen.insert(probe.q("PING"));
    }
    assert!(seen.contains("-LOADING Redis is loading the dataset in memory"), "{seen:?}");
    assert_eq!(probe.q("PING"), "+PONG");
    assert_eq!(probe.q("DBSIZE"), ":1000000");
}

/// repl-backlog-ttl: a primary left without replicas that long frees its
/// backlog under a new id, so a replica that comes back resyncs in full
/// and gets the writes made meanwhile.
#[test]
fn the_backlog_goes_after_repl_backlog_ttl() {
    let dir = common::temp_dir("repl-backlog-ttl");
    let server = start_in(&dir, &[("repl-backlog-ttl", "1"), ("repl-diskless-sync-delay", "0")]).unwrap();
    let mut ours = conn(&server);
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &server.port().to_string()]);
    let mut replica = reference.connect();
    assert_eq!(ours.q("SET a 1"), "+OK");
    caught_up(&mut ours, &mut replica);
    let old_id = field(&mut ours, "replication", "master_replid");
    assert_eq!(replica.q("REPLICAOF NO ONE"), "+OK");
    wait_until("the backlog to be freed", || field(&mut ours, "replication", "repl_backlog_active") == "0");
    assert_ne!(field(&mut ours, "replication", "master_replid"), old_id);
    assert_eq!(ours.q("SET b 2"), "+OK");
    assert_eq!(replica.cmd(&["REPLICAOF", "127.0.0.1", &server.port().to_string()]), "+OK");
    wait_until("a full resync", || field(&mut ours, "stats", "sync_full") == "2");
    caught_up(&mut ours, &mut replica);
    assert_eq!(replica.q("GET b"), "\"2\"");
    assert_eq!(field(&mut ours, "replication", "repl_backlog_active"), "1");
}

/// A replica's side of the handshake, by hand: REPLCONF, then PSYNC for a
/// full resync, its answer not read yet.
fn ask_full_sync(port: u16, eof: bool) -> Conn {
    let mut c = Conn::connect(port);
    assert_eq!(c.q("REPLCONF listening-port 1"), "+OK");
    let capa = if eof { "REPLCONF capa eof capa psync2" } else { "REPLCONF capa psync2" };
    assert_eq!(c.q(capa), "+OK");
    c.send("PSYNC ? -1");
    c
}

/// `+FULLRESYNC <id> <offset>`: the offset.
fn full_resync_offset(c: &mut Conn) -> u64 {
    let line = c.read_sync_line();
    let words: Vec<&str> = line.split(' ').collect();
    assert!(words.len() == 3 && words[0] == "+FULLRESYNC" && words[1].len() == 40, "{line}");
    words[2].parse().unwrap()
}

/// What a replica reads of a full sync, in its framing, from us as from
/// redis-server: with `capa eof` under repl-diskless-sync, the snapshot
/// comes as `$EOF:<mark>` ... `<mark>` (no file written), and the stream
/// only after the replica's first ACK (it cannot tell where the snapshot
/// ends before it has read the mark); without it, as `$<len>` from the
/// file, the stream right behind.
#[test]
fn the_full_sync_is_framed_as_redis_frames_it() {
    let dir = common::temp_dir("repl-framing");
    let server = start_in(&dir, &[("repl-diskless-sync-delay", "0")]).unwrap();
    let reference = Reference::start(&["--repl-diskless-sync-delay", "0"]);
    for (port, files) in [(server.port(), Some(&dir)), (reference.port, None)] {
        let mut c = Conn::connect(port);
        assert_eq!(c.q("SET before 1"), "+OK");

        let mut replica = ask_full_sync(port, true);
        let offset = full_resync_offset(&mut replica);
        let (header, file) = replica.read_snapshot();
        assert!(header.starts_with("$EOF:") && header.len() == 45, "{header}");
        assert!(file.starts_with(b"REDIS0010"), "{:?}", &file[..9.min(file.len())]);
        if let Some(dir) = files {
            assert!(!dir.join("dump.rdb").exists(), "a diskless sync wrote a file");
        }
        assert_eq!(c.q("SET after 1"), "+OK");
        assert!(replica.silent_for(300), "the stream came before the replica's ACK");
        replica.send(&format!("REPLCONF ACK {offset}"));
        assert_eq!(replica.read_reply(), "[\"SELECT\", \"0\"]");
        assert_eq!(replica.read_reply(), "[\"SET\", \"after\", \"1\"]");

        assert_eq!(c.q("CONFIG SET repl-diskless-sync no"), "+OK");
        let mut replica = ask_full_sync(port, true);
        full_resync_offset(&mut replica);
        let (header, file) = replica.read_snapshot();
        assert_eq!(header, format!("${}", file.len()));
        assert!(file.starts_with(b"REDIS0010"));
        assert_eq!(c.q("SET later 1"), "+OK");
        assert_eq!(replica.read_reply(), "[\"SELECT\", \"0\"]");
        assert_eq!(replica.read_reply(), "[\"SET\", \"later\", \"1\"]");

        // A replica without capa eof gets the file even under diskless.
        assert_eq!(c.q("CONFIG SET repl-diskless-sync yes"), "+OK");
        let mut replica = ask_full_sync(port, false);
        full_resync_offset(&mut replica);
        let (header, file) = replica.read_snapshot();
        assert_eq!(header, format!("${}", file.len()));
    }
}

/// repl-diskless-sync-delay lets replicas that ask close together share
/// one snapshot; repl-diskless-sync-max-replicas starts it as soon as
/// that many wait.
#[test]
fn replicas_asking_together_share_one_diskless_transfer() {
    let dir = common::temp_dir("repl-share");
    let server =
        start_in(&dir, &[("repl-diskless-sync-delay", "3600"), ("repl-diskless-sync-max-replicas", "2")]).unwrap();
    let mut ours = conn(&server);
    populate(&mut ours);
    let forks = field(&mut ours, "stats", "total_forks");
    let mut first = ask_full_sync(server.port(), true);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(field(&mut ours, "stats", "total_forks"), forks, "the transfer started before a second replica");
    assert!(field(&mut ours, "replication", "slave0").contains(",state=wait_bgsave,"));
    let mut second = ask_full_sync(server.port(), true);
    let (a, b) = (full_resync_offset(&mut first), full_resync_offset(&mut second));
    assert_eq!(a, b);
    assert_eq!(first.read_snapshot(), second.read_snapshot());
    assert_eq!(field(&mut ours, "stats", "total_forks"), (forks.parse::<u64>().unwrap() + 1).to_string());
    assert_eq!(field(&mut ours, "stats", "sync_full"), "2");
}

/// A replica that leaves in the middle of a diskless transfer ends it:
/// the relay stops, the child stops on its broken pipe, and the server
/// can fork again.
#[test]
fn a_diskless_transfer_ends_when_its_replica_leaves() {
    let dir = common::temp_dir("repl-leave");
    let server = start_in(&dir, &[("repl-diskless-sync-delay", "0"), ("rdbcompression", "no")]).unwrap();
    let mut ours = conn(&server);
    // More than the relay buffers and the sockets hold: the child is
    // still writing when the replica goes.
    let value = "v".repeat(1 << 20);
    for i in 0..40 {
        assert_eq!(ours.cmd(&["SET", &format!("big{i}"), &value]), "+OK");
    }
    let mut replica = ask_full_sync(server.port(), true);
    full_resync_offset(&mut replica);
    wait_until("the transfer", || field(&mut ours, "persistence", "rdb_bgsave_in_progress") == "1");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(field(&mut ours, "persistence", "rdb_bgsave_in_progress"), "1", "the transfer did not wait");
    // Shut down rather than only closed: the child forked in this
    // process holds a copy of the test's socket too.
    replica.stream().shutdown(std::net::Shutdown::Both).unwrap();
    wait_until("the transfer to end", || field(&mut ours, "persistence", "rdb_bgsave_in_progress") == "0");
    assert_eq!(field(&mut ours, "replication", "connected_slaves"), "0");
    assert_eq!(ours.q("BGSAVE"), "+Background saving started");
    // A replica that stays gets everything.
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &server.port().to_string()]);
    let mut replica = reference.connect();
    caught_up(&mut ours, &mut replica);
    assert_eq!(replica.q("DBSIZE"), ":40");
}

/// INFO replication on a replica while its primary prepares the snapshot
/// and once the link is lost: the same fields as a redis-server replica
/// of the same primary shows, and the same transfer figures.
#[test]
fn replica_info_during_a_sync_matches_redis() {
    // Replicas asking within two seconds share one slow snapshot (15 keys
    // at 0.2 s each).
    let primary = Reference::start(&["--repl-diskless-sync-delay", "2", "--rdb-key-save-delay", "200000"]);
    let mut p = primary.connect();
    for i in 0..15 {
        assert_eq!(p.cmd(&["SET", &format!("k{i}"), "v"]), "+OK");
    }
    let follow = primary.port.to_string();
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &follow]);
    let dir = common::temp_dir("repl-info");
    let server = start_in(&dir, &[("replicaof", &format!("127.0.0.1 {follow}"))]).unwrap();
    let (mut r, mut o) = (reference.connect(), conn(&server));
    // Waiting for the answer to PSYNC (the primary's delay): ROLE says
    // handshake on both.
    let link = |c: &mut Conn| c.q("ROLE").split(", ").nth(3).unwrap_or("").to_string();
    wait_until("both in the handshake", || link(&mut r) == "\"handshake\"" && link(&mut o) == "\"handshake\"");
    wait_until("both syncing", || {
        field(&mut r, "replication", "master_sync_in_progress") == "1"
            && field(&mut o, "replication", "master_sync_in_progress") == "1"
    });
    let names = |c: &mut Conn| -> Vec<String> {
        let info = c.q("INFO replication");
        info.split("\\r\\n").filter_map(|l| l.split_once(':')).map(|(k, _)| k.to_string()).collect()
    };
    assert_eq!(names(&mut o), names(&mut r));
    for name in ["master_sync_total_bytes", "master_sync_read_bytes", "master_sync_left_bytes", "master_sync_perc"] {
        assert_eq!(field(&mut o, "replication", name), field(&mut r, "replication", name), "{name}");
    }
    assert_eq!(field(&mut o, "replication", "master_link_down_since_seconds"), "-1");
    caught_up(&mut p, &mut r);
    caught_up(&mut p, &mut o);
    assert_eq!(names(&mut o), names(&mut r));
    // The primary goes: both links are down, since a moment.
    p.send("SHUTDOWN NOSAVE");
    assert!(p.is_closed());
    wait_until("both links down", || {
        field(&mut r, "replication", "master_link_status") == "down"
            && field(&mut o, "replication", "master_link_status") == "down"
    });
    assert_eq!(names(&mut o), names(&mut r));
    let since = field(&mut o, "replication", "master_link_down_since_seconds");
    assert!(since == "0" || since == "1", "{since}");
}

/// A primary turned into a replica answers its clients blocked in BLPOP
/// with Redis's UNBLOCKED error and disconnects them.
#[test]
fn becoming_a_replica_disconnects_blocked_clients() {
    let server = common::start();
    let reference = Reference::start(&[]);
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    for port in [server.port, reference.port] {
        let mut admin = Conn::connect(port);
        let mut blocked = Conn::connect(port);
        blocked.send("BLPOP q 0");
        blocked.send("PING");
        common::wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["REPLICAOF", "127.0.0.1", &nowhere]), "+OK");
        assert_eq!(
            blocked.read_reply(),
            "-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
        );
        assert!(blocked.is_closed(), "port {port}: the PING after was answered");
        assert_eq!(admin.q("REPLICAOF NO ONE"), "+OK");
    }
}

/// A replica that stops reading in the middle of a diskless transfer
/// holds back the replicas sharing it only until repl-timeout: it is then
/// dropped and the others finish.
#[test]
fn a_stalled_replica_does_not_hold_a_shared_transfer_for_ever() {
    let dir = common::temp_dir("repl-stalled-transfer");
    let settings = [
        ("repl-diskless-sync-delay", "1"),
        ("repl-diskless-sync-max-replicas", "2"),
        ("repl-timeout", "2"),
        ("rdbcompression", "no"),
    ];
    let server = start_in(&dir, &settings).unwrap();
    let mut ours = conn(&server);
    // More than the relay buffers and the sockets hold.
    let value = "v".repeat(1 << 20);
    for i in 0..40 {
        assert_eq!(ours.cmd(&["SET", &format!("big{i}"), &value]), "+OK");
    }
    // One replica asks and never reads; a real one asks next, and both
    // share the transfer.
    let stalled = ask_full_sync(server.port(), true);
    let reference = Reference::start(&["--replicaof", "127.0.0.1", &server.port().to_string()]);
    let mut replica = reference.connect();
    wait_until("the stalled replica to be dropped", || field(&mut ours, "replication", "connected_slaves") == "1");
    caught_up(&mut ours, &mut replica);
    assert_eq!(replica.q("DBSIZE"), ":40");
    assert_eq!(field(&mut ours, "stats", "total_forks"), "1", "the replicas did not share one transfer");
    // Shut down rather than only closed: the child forked in this process
    // holds a copy of the socket.
    stalled.stream().shutdown(std::net::Shutdown::Both).unwrap();
}
