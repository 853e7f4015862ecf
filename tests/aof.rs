//! The append-only file: what a server did comes back on restart, in our
//! server and in the reference redis-server (each loads the other's AOF
//! directory); rewrites; turning the AOF on at run time; truncated and
//! corrupt files; and crashes: a server killed with SIGKILL loses no write
//! it acknowledged under appendfsync always, and at most about the last
//! second's under everysec.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::data::{assert_same, conn, fingerprint, populate, restart_holds, start_in};
use common::{Conn, Reference};

const AOF: (&str, &str) = ("appendonly", "yes");

/// Writes whose records Redis rewrites when it propagates them, on top of
/// `populate`: relative TTLs, random and float results, served blocking
/// pops, scripts, transactions, other databases, lazily expired keys.
fn workload(c: &mut Conn, port: u16) {
    populate(c);
    for cmd in [
        "SET ttl1 v EX 1000",
        "SETEX ttl2 1000 v",
        "PSETEX ttl3 1000000 v",
        "EXPIRE s 1000",
        "GETEX int PX 1000000",
        "INCRBYFLOAT float 1.5",
        "INCRBYFLOAT float 0.1",
        "HINCRBYFLOAT hash f4 2.5",
        "SADD popme a b c d",
        "SPOP popme",
        "SADD popall a b",
        "SPOP popall 5",
        "RPUSH q 1 2 3 4",
        "BLPOP q 0",
        "LMPOP 1 q RIGHT COUNT 2",
        "ZADD zq 1 a 2 b",
        "BZPOPMIN zq 0",
        "MULTI",
        "SET m1 1",
        "INCR m1",
        "SELECT 5",
        "SET in-five 5",
        "SELECT 0",
        "EXEC",
        "SET gone v PX 1",
        "COPY s s-copy",
        "MOVE padded 7",
        "SWAPDB 3 4",
        "SELECT 15",
        "FLUSHDB",
        "SELECT 0",
    ] {
        let reply = c.q(cmd);
        assert!(!reply.starts_with('-'), "{cmd}: {reply}");
    }
    let script = "redis.call('set', KEYS[1], ARGV[1]); redis.call('incr', KEYS[1]); return redis.call('spop', KEYS[2])";
    c.q("SADD script-set x y");
    assert!(!c.cmd(&["EVAL", script, "2", "scripted", "script-set", "41"]).starts_with('-'));
    let payload = c.bulk_bytes(&[b"DUMP", b"hash"]).unwrap();
    assert_eq!(c.cmd_bytes(&[b"RESTORE", b"restored", b"100000", &payload]), "+OK");
    // A client blocked on a key, served by another's push.
    let mut waiter = Conn::connect(port);
    waiter.send("BLMOVE src dst LEFT RIGHT 0");
    common::wait_blocked(c, 1);
    assert_eq!(c.q("RPUSH src moved"), ":1");
    assert_eq!(waiter.read_reply(), "\"moved\"");
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(c.q("GET gone"), "(nil)");
}

#[test]
fn restart_replays_the_aof() {
    let dir = common::temp_dir("aof-restart");
    let server = start_in(&dir, &[AOF]).unwrap();
    let mut c = conn(&server);
    workload(&mut c, server.port());
    let before = fingerprint(&mut c);
    server.stop();
    let server = start_in(&dir, &[AOF]).unwrap();
    let mut c = conn(&server);
    assert_same(&before, &fingerprint(&mut c));
    assert!(c.q("INFO persistence").contains("aof_enabled:1"));
    server.stop();
}

fn shutdown(c: &mut Conn) {
    c.send("SHUTDOWN");
    assert!(c.is_closed());
}

#[test]
fn redis_loads_our_aof_and_we_load_its() {
    let dir = common::temp_dir("aof-ours-to-redis");
    let server = start_in(&dir, &[AOF]).unwrap();
    let mut c = conn(&server);
    workload(&mut c, server.port());
    let ours = fingerprint(&mut c);
    server.stop();
    let reference = Reference::start(&["--dir", dir.to_str().unwrap(), "--appendonly", "yes"]);
    let mut r = reference.connect();
    assert_same(&ours, &fingerprint(&mut r));

    let dir = common::temp_dir("aof-redis-to-ours");
    let reference = Reference::start(&["--dir", dir.to_str().unwrap(), "--appendonly", "yes"]);
    let mut r = reference.connect();
    workload(&mut r, reference.port);
    let theirs = fingerprint(&mut r);
    shutdown(&mut r);
    drop(reference);
    restart_holds(&dir, &[AOF], &theirs);
}

fn info_field(c: &mut Conn, name: &str) -> String {
    let info = c.q("INFO persistence");
    let prefix = format!("{name}:");
    info.split("\\r\\n").find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {name}")).to_string()
}

fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn rewrite_replaces_the_files_and_keeps_the_data() {
    let dir = common::temp_dir("aof-rewrite");
    let server = start_in(&dir, &[AOF]).unwrap();
    let mut c = conn(&server);
    workload(&mut c, server.port());
    assert_eq!(c.q("BGREWRITEAOF"), "+Background append only file rewriting started");
    // Writes go on during the rewrite, into the new incremental file.
    for i in 0..200 {
        c.cmd(&["SET", &format!("during:{i}"), "x"]);
    }
    wait_until(|| info_field(&mut c, "aof_rewrite_in_progress") == "0", "the rewrite");
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info_field(&mut c, "aof_rewrites"), "1");
    assert_eq!(
        files(&dir),
        ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"],
        "the old base and incremental file are gone"
    );
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(manifest, "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n");
    c.q("SET after rewrite");
    let before = fingerprint(&mut c);
    server.stop();
    restart_holds(&dir, &[AOF], &before);
}

#[test]
fn turning_the_aof_on_at_run_time_writes_a_base_first() {
    let dir = common::temp_dir("aof-turn-on");
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    populate(&mut c);
    assert_eq!(c.q("CONFIG SET appendonly yes"), "+OK");
    wait_until(|| info_field(&mut c, "aof_rewrite_in_progress") == "0", "the first rewrite");
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    c.q("SET after on");
    assert_eq!(c.q("CONFIG SET appendfsync always"), "+OK");
    c.q("SET with always");
    let before = fingerprint(&mut c);
    assert_eq!(c.q("CONFIG SET appendonly no"), "+OK");
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    c.q("SET not recorded");
    server.stop();
    restart_holds(&dir, &[AOF], &before);
}

#[test]
fn automatic_rewrites_follow_growth() {
    let dir = common::temp_dir("aof-auto");
    let server =
        start_in(&dir, &[AOF, ("auto-aof-rewrite-min-size", "10000"), ("auto-aof-rewrite-percentage", "100")]).unwrap();
    let mut c = conn(&server);
    for i in 0..500 {
        c.cmd(&["SET", &format!("key:{i}"), "some value to make it grow"]);
    }
    wait_until(|| info_field(&mut c, "aof_rewrites") != "0", "an automatic rewrite");
    server.stop();
}

fn incr_file(dir: &Path) -> PathBuf {
    let manifest = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    let name = manifest.lines().rfind(|l| l.ends_with("type i")).unwrap().split(' ').nth(1).unwrap();
    dir.join("appendonlydir").join(name)
}

#[test]
fn a_torn_last_command_is_dropped_and_corruption_stops_startup() {
    let dir = common::temp_dir("aof-torn");
    let server = start_in(&dir, &[AOF]).unwrap();
    let mut c = conn(&server);
    c.q("SET a 1");
    c.q("SET b 2");
    server.stop();
    let incr = incr_file(&dir);
    let good = std::fs::read(&incr).unwrap();
    // A crash mid-write: half a command at the end.
    let mut torn = good.clone();
    torn.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$2\r\n3");
    std::fs::write(&incr, &torn).unwrap();
    let err = start_in(&dir, &[AOF, ("aof-load-truncated", "no")]).err().expect("refused without aof-load-truncated");
    assert!(err.contains("Unexpected end of file") && err.contains(&format!("offset {}", good.len())), "{err}");
    let server = start_in(&dir, &[AOF]).unwrap();
    let mut c = conn(&server);
    assert_eq!(c.q("MGET a b c"), "[\"1\", \"2\", (nil)]");
    server.stop();
    assert_eq!(std::fs::read(&incr).unwrap().len(), good.len(), "the torn end is cut off");
    // A transaction that never reached its EXEC is dropped too.
    let mut open_multi = good.clone();
    open_multi.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nd\r\n$1\r\n4\r\n");
    std::fs::write(&incr, &open_multi).unwrap();
    let server = start_in(&dir, &[AOF]).unwrap();
    let mut c = conn(&server);
    assert_eq!(c.q("EXISTS d"), ":0");
    server.stop();
    // Garbage before the end is corruption: start-up stops, naming the
    // file and the offset.
    let mut corrupt = good.clone();
    corrupt.extend_from_slice(b"garbage\r\n");
    corrupt.extend_from_slice(b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n");
    std::fs::write(&incr, &corrupt).unwrap();
    let err = start_in(&dir, &[AOF]).err().expect("corruption stops start-up");
    assert!(err.contains("Bad file format") && err.contains(&format!("offset {}", good.len())), "{err}");
    assert!(err.contains("appendonly.aof.1.incr.aof"), "{err}");
    let mut unknown = good.clone();
    unknown.extend_from_slice(b"*1\r\n$5\r\nBOGUS\r\n");
    std::fs::write(&incr, &unknown).unwrap();
    let err = start_in(&dir, &[AOF]).err().expect("an unknown command stops start-up");
    assert!(err.contains("Unknown command 'BOGUS'"), "{err}");
}

// ---------------------------------------------------------------------------
// Crashes: the real binary, killed with SIGKILL while clients write.
// ---------------------------------------------------------------------------

struct Process {
    child: Child,
    port: u16,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, fsync: &str) -> Process {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_kvstore-server"))
        .args(["--port", &port.to_string(), "--dir", dir.to_str().unwrap(), "--save", ""])
        .args(["--appendonly", "yes", "--appendfsync", fsync, "--threads", "2", "--loglevel", "warning"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    // It listens while it loads its files (answering -LOADING): ready
    // once PING is answered.
    let mut c = Conn::connect(port);
    while c.q("PING") != "+PONG" {
        assert!(Instant::now() < deadline, "the server did not load its files");
        std::thread::sleep(Duration::from_millis(10));
    }
    Process { child, port }
}

/// What the writers saw acknowledged: per writer, the highest sequence
/// number and when each was acknowledged.
struct Acks {
    last: Vec<AtomicU64>,
    times: Mutex<Vec<Vec<Instant>>>,
}

/// Writers each SET `w{n}:{seq}` in order, waiting for every reply, until
/// the connection breaks.
fn write_until_killed(
    port: u16,
    writers: usize,
    first: &[u64],
    acks: &Arc<Acks>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..writers)
        .map(|w| {
            let (acks, stop) = (acks.clone(), stop.clone());
            let mut seq = first[w];
            std::thread::spawn(move || {
                let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return };
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("w{w}:{seq}");
                    let value = format!("v{seq}");
                    if stream.write_all(&common::encode(&[b"SET", key.as_bytes(), value.as_bytes()])).is_err() {
                        return;
                    }
                    let mut line = String::new();
                    match std::io::BufRead::read_line(&mut reader, &mut line) {
                        Ok(n) if n > 0 && line == "+OK\r\n" => {}
                        _ => return,
                    }
                    acks.last[w].store(seq, Ordering::SeqCst);
                    acks.times.lock().unwrap()[w].push(Instant::now());
                    seq += 1;
                }
            })
        })
        .collect()
}

/// Kills the server at a random moment while writers run, restarts it,
/// and returns, per writer, (acknowledged up to, found up to, time of the
/// kill, acknowledgement times).
fn crash_rounds(name: &str, fsync: &str, rounds: usize, check: impl Fn(usize, u64, u64, Instant, &[Instant])) {
    let dir = common::temp_dir(name);
    const WRITERS: usize = 3;
    let mut next = vec![0u64; WRITERS];
    for round in 0..rounds {
        let server = spawn(&dir, fsync);
        let acks = Arc::new(Acks {
            last: (0..WRITERS).map(|w| AtomicU64::new(next[w].wrapping_sub(1))).collect(),
            times: Mutex::new(vec![Vec::new(); WRITERS]),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let threads = write_until_killed(server.port, WRITERS, &next, &acks, &stop);
        // A moment that differs from round to round.
        let wait = 150 + (round as u64 * 7919 + std::process::id() as u64) % 400;
        std::thread::sleep(Duration::from_millis(wait));
        let mut server = server;
        server.child.kill().unwrap();
        let killed = Instant::now();
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        drop(server);
        let server = spawn(&dir, fsync);
        let mut c = Conn::connect(server.port);
        let times = acks.times.lock().unwrap();
        for w in 0..WRITERS {
            let acked = acks.last[w].load(Ordering::SeqCst);
            // The highest sequence present: every earlier one must be too.
            let mut found = next[w].wrapping_sub(1);
            while c.cmd(&["GET", &format!("w{w}:{}", found.wrapping_add(1))]) != "(nil)" {
                found = found.wrapping_add(1);
            }
            let first_round_keys = next[w];
            for seq in (0..first_round_keys).step_by(97) {
                assert_eq!(
                    c.cmd(&["GET", &format!("w{w}:{seq}")]),
                    format!("\"v{seq}\""),
                    "round {round} lost w{w}:{seq}"
                );
            }
            check(w, acked, found, killed, &times[w]);
            next[w] = found.wrapping_add(1);
        }
        drop(server);
    }
}

#[test]
fn sigkill_loses_no_acknowledged_write_under_always() {
    crash_rounds("aof-crash-always", "always", 5, |w, acked, found, _, times| {
        assert!(!times.is_empty(), "writer {w} got no write acknowledged");
        assert!(
            found.wrapping_add(1) >= acked.wrapping_add(1),
            "writer {w}: acknowledged up to {acked}, but the restarted server has only up to {found}"
        );
    });
}

#[test]
fn sigkill_loses_at_most_about_a_second_under_everysec() {
    crash_rounds("aof-crash-everysec", "everysec", 3, |w, acked, found, killed, times| {
        if found.wrapping_add(1) >= acked.wrapping_add(1) {
            return;
        }
        // The first acknowledged write that is missing was acknowledged
        // within the last two seconds before the kill.
        let missing = found.wrapping_add(1) as usize;
        let first_this_round = acked as usize + 1 - times.len();
        assert!(missing >= first_this_round, "writer {w} lost writes of an earlier round");
        let at = times[missing - first_this_round];
        assert!(
            killed.duration_since(at) <= Duration::from_secs(2),
            "writer {w} lost a write acknowledged {:?} before the kill",
            killed.duration_since(at)
        );
    });
}

#[test]
fn replies_under_always_arrive_once_durable() {
    let dir = common::temp_dir("aof-always-replies");
    let server = start_in(&dir, &[AOF, ("appendfsync", "always")]).unwrap();
    let mut c = conn(&server);
    let mut waiter = conn(&server);
    waiter.send("BLPOP list 0");
    common::wait_blocked(&mut c, 1);
    // The pusher's reply and the served client's both wait for the fsync
    // of the records (RPUSH, then the LPOP that served the waiter).
    assert_eq!(c.q("RPUSH list a"), ":1");
    assert_eq!(waiter.read_reply(), "[\"list\", \"a\"]");
    // Pipelined replies come in order, the read after the writes too.
    c.send_raw(&common::encode(&[b"SET", b"k", b"1"]));
    c.send_raw(&common::encode(&[b"INCR", b"k"]));
    c.send_raw(&common::encode(&[b"GET", b"k"]));
    assert_eq!(c.read_reply(), "+OK");
    assert_eq!(c.read_reply(), ":2");
    assert_eq!(c.read_reply(), "\"2\"");
    server.stop();
    let incr = std::fs::read_to_string(incr_file(&dir)).unwrap();
    assert!(incr.contains("$5\r\nRPUSH\r\n") || incr.contains("$5\r\nrpush\r\n"), "{incr:?}");
    assert!(incr.contains("$4\r\nLPOP\r\n$4\r\nlist\r\n"), "{incr:?}");
}
