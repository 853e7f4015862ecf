//! RDB snapshots and DUMP/RESTORE: our files load in the reference
//! redis-server and its files load in us, with every key, value, encoding
//! and expiry equal; SAVE, BGSAVE, save points, SHUTDOWN, DEBUG RELOAD,
//! FLUSHALL and a failing disk behave as Redis 7.0 does.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::data::{assert_same, conn, fingerprint, populate, restart_holds, start_in};
use common::{Conn, Reference};

fn file_in(dir: &Path) -> std::path::PathBuf {
    dir.join("dump.rdb")
}

#[test]
fn restart_loads_what_save_wrote() {
    let dir = common::temp_dir("restart");
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    populate(&mut c);
    let before = fingerprint(&mut c);
    assert_eq!(c.q("SAVE"), "+OK");
    assert!(c.q("INFO persistence").contains("rdb_changes_since_last_save:0"));
    server.stop();
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    assert_same(&before, &fingerprint(&mut c));
    let info = c.q("INFO persistence");
    assert!(info.contains(&format!("rdb_last_load_keys_loaded:{}", before.len() - 1)), "{info}");
    assert_eq!(c.q("FCALL hello 0"), "\"hi\"");
    server.stop();
}

#[test]
fn redis_loads_our_file() {
    let dir = common::temp_dir("ours-to-redis");
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    populate(&mut c);
    let ours = fingerprint(&mut c);
    assert_eq!(c.q("SAVE"), "+OK");
    server.stop();
    let check = std::process::Command::new("redis-check-rdb").arg(file_in(&dir)).output().expect("redis-check-rdb");
    assert!(check.status.success(), "redis-check-rdb: {}", String::from_utf8_lossy(&check.stdout));
    let reference = Reference::start(&["--dir", dir.to_str().unwrap()]);
    let mut r = reference.connect();
    assert_same(&ours, &fingerprint(&mut r));
}

#[test]
fn we_load_a_redis_file() {
    let dir = common::temp_dir("redis-to-ours");
    let reference = Reference::start(&["--dir", dir.to_str().unwrap()]);
    let mut r = reference.connect();
    populate(&mut r);
    let theirs = fingerprint(&mut r);
    assert_eq!(r.q("SAVE"), "+OK");
    drop(reference);
    restart_holds(&dir, &[], &theirs);
}

/// Keys whose DUMP payloads are compared by content.
const DUMPED: &[&str] = &[
    "s",
    "int",
    "neg",
    "big-int",
    "padded",
    "empty",
    "compressible",
    "noise",
    "list",
    "long-list",
    "intset",
    "wide-intset",
    "strset",
    "big-intset",
    "big-set",
    "hash",
    "hash-long-value",
    "big-hash",
    "zset",
    "zset-long-member",
    "big-zset",
];

#[test]
fn dump_payloads_restore_both_ways() {
    let reference = Reference::start(&[]);
    let mut r = reference.connect();
    let server = start_in(&common::temp_dir("dump"), &[]).unwrap();
    let mut c = conn(&server);
    populate(&mut r);
    populate(&mut c);
    // Uncompressed, every value not in table order (or, for long lists,
    // split into nodes at other points) is Redis's byte for byte.
    // (Compressed, liblzf's match finder picks other matches than ours;
    // both decode to the same bytes.)
    r.q("CONFIG SET rdbcompression no");
    c.q("CONFIG SET rdbcompression no");
    for key in DUMPED.iter().filter(|k| !k.starts_with("big") && !["strset", "long-list"].contains(k)) {
        let theirs = r.bulk_bytes(&[b"DUMP", key.as_bytes()]).unwrap();
        let ours = c.bulk_bytes(&[b"DUMP", key.as_bytes()]).unwrap();
        assert_eq!(theirs, ours, "DUMP {key}");
    }
    r.q("CONFIG SET rdbcompression yes");
    c.q("CONFIG SET rdbcompression yes");
    for key in DUMPED {
        let theirs = r.bulk_bytes(&[b"DUMP", key.as_bytes()]).unwrap();
        let ours = c.bulk_bytes(&[b"DUMP", key.as_bytes()]).unwrap();
        let copy = format!("{key}-copy");
        assert_eq!(c.cmd_bytes(&[b"RESTORE", copy.as_bytes(), b"0", &theirs]), "+OK");
        assert_eq!(r.cmd_bytes(&[b"RESTORE", copy.as_bytes(), b"0", &ours]), "+OK");
    }
    assert_same(&fingerprint(&mut r), &fingerprint(&mut c));
    server.stop();
}

/// The same commands on both servers give the same replies.
#[test]
fn restore_options_and_errors_match_redis() {
    let reference = Reference::start(&[]);
    let server = start_in(&common::temp_dir("restore"), &[]).unwrap();
    let mut conns = [reference.connect(), conn(&server)];
    for c in conns.iter_mut() {
        c.q("RPUSH l a b c");
        c.q("SET s v");
    }
    let list = conns[0].bulk_bytes(&[b"DUMP", b"l"]).unwrap();
    let string = conns[0].bulk_bytes(&[b"DUMP", b"s"]).unwrap();
    let mut corrupt = list.clone();
    corrupt[3] ^= 0x40;
    let mut bad_body = list.clone();
    bad_body[1] = 9;
    let fixed_crc = |mut payload: Vec<u8>| {
        let n = payload.len() - 8;
        let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&payload[..n]);
        payload[n..].copy_from_slice(&crc.to_le_bytes());
        payload
    };
    let bad_body = fixed_crc(bad_body);
    let mut newer = string.clone();
    let n = newer.len();
    newer[n - 10] = 11;
    let newer = fixed_crc(newer);
    let mut no_crc = string.clone();
    no_crc[n - 8..].fill(0);
    let far = b"4102444800000".to_vec();
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"RESTORE", b"l", b"0", &list],
        vec![b"RESTORE", b"l", b"0", &list, b"REPLACE"],
        vec![b"LRANGE", b"l", b"0", b"-1"],
        vec![b"RESTORE", b"new", b"-1", &list],
        vec![b"RESTORE", b"new", b"x", &list],
        vec![b"RESTORE", b"new", b"0", &corrupt],
        vec![b"RESTORE", b"new", b"0", &bad_body],
        vec![b"RESTORE", b"new", b"0", &newer],
        vec![b"RESTORE", b"new", b"0", b"short"],
        vec![b"RESTORE", b"nocrc", b"0", &no_crc],
        vec![b"GET", b"nocrc"],
        vec![b"RESTORE", b"new", b"0", &list, b"BOGUS"],
        vec![b"RESTORE", b"new", b"0", &list, b"IDLETIME"],
        vec![b"RESTORE", b"new", b"0", &list, b"IDLETIME", b"-1"],
        vec![b"RESTORE", b"new", b"0", &list, b"IDLETIME", b"x"],
        vec![b"RESTORE", b"new", b"0", &list, b"FREQ", b"256"],
        vec![b"RESTORE", b"new", b"0", &list, b"FREQ", b"1", b"IDLETIME", b"5"],
        vec![b"RESTORE", b"new", b"0", &list, b"IDLETIME", b"1000"],
        vec![b"RESTORE", b"ttl", b"100000", &string],
        vec![b"TTL", b"ttl"],
        vec![b"RESTORE", b"abs", &far, &string, b"ABSTTL"],
        vec![b"PEXPIRETIME", b"abs"],
        vec![b"RESTORE", b"past", b"1", &string, b"ABSTTL"],
        vec![b"EXISTS", b"past"],
        vec![b"RESTORE", b"s", b"1", &list, b"ABSTTL", b"REPLACE"],
        vec![b"EXISTS", b"s"],
        vec![b"DUMP", b"missing"],
        vec![b"DUMP"],
        vec![b"RESTORE", b"a", b"0"],
    ];
    for case in &cases {
        let replies: Vec<String> = conns.iter_mut().map(|c| c.cmd_bytes(case)).collect();
        let shown: Vec<String> = case.iter().map(|a| String::from_utf8_lossy(&a[..a.len().min(20)]).into()).collect();
        assert_eq!(replies[0], replies[1], "{shown:?}");
    }
    // Read apart from the cases: a second may tick between the two.
    for c in conns.iter_mut() {
        let idle = c.q("OBJECT IDLETIME new");
        assert!(idle == ":1000" || idle == ":1001", "{idle}");
    }
    server.stop();
}

fn info_field(c: &mut Conn, name: &str) -> String {
    let info = c.q("INFO persistence");
    let prefix = format!("{name}:");
    info.split("\\r\\n").find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {name}")).to_string()
}

fn wait_for_bgsave(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while info_field(c, "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < deadline, "the background save never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bgsave_is_a_point_in_time_snapshot() {
    let dir = common::temp_dir("bgsave");
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    for i in 0..20_000 {
        c.send(&format!("SET key:{i} before"));
    }
    for _ in 0..20_000 {
        c.read_reply();
    }
    assert_eq!(c.q("BGSAVE"), "+Background saving started");
    // Writes after the fork are not in the file; the server keeps
    // answering while the child writes.
    assert_eq!(c.q("SET key:0 after"), "+OK");
    assert_eq!(c.q("SET late new"), "+OK");
    let in_progress = c.q("BGSAVE");
    assert!(in_progress == "-ERR Background save already in progress" || in_progress.starts_with('+'));
    wait_for_bgsave(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_ne!(info_field(&mut c, "rdb_saves"), "0");
    let lastsave: u64 = c.q("LASTSAVE")[1..].parse().unwrap();
    assert!(lastsave >= server.shared().started_unix_s());
    server.stop();
    let _ = std::fs::remove_file(dir.join("dump.rdb.check"));
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    assert_eq!(c.q("GET key:0"), "\"before\"");
    assert_eq!(c.q("GET late"), "(nil)");
    assert_eq!(c.q("DBSIZE"), ":20000");
    server.stop();
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("dump.rdb")], "temporary files are gone");
}

#[test]
fn corrupt_or_truncated_files_stop_startup() {
    let dir = common::temp_dir("corrupt");
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    populate(&mut c);
    assert_eq!(c.q("SAVE"), "+OK");
    server.stop();
    let good = std::fs::read(file_in(&dir)).unwrap();
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    std::fs::write(file_in(&dir), &flipped).unwrap();
    let err = start_in(&dir, &[]).err().expect("a corrupt file stops start-up");
    assert!(err.contains("checksum") || err.contains("offset"), "{err}");
    for cut in [5, 9, 40, good.len() / 3, good.len() - 9, good.len() - 1] {
        std::fs::write(file_in(&dir), &good[..cut]).unwrap();
        let err = start_in(&dir, &[]).err().unwrap_or_else(|| panic!("a file cut at {cut} loaded"));
        assert!(err.contains("Fatal error loading"), "{err}");
        // Without a checksum to check, a cut file still fails to load.
        let err = start_in(&dir, &[("rdbchecksum", "no")]).err();
        assert!(err.is_some(), "a file cut at {cut} loaded without checksums");
    }
    std::fs::write(file_in(&dir), b"NOTREDIS0010").unwrap();
    let err = start_in(&dir, &[]).err().unwrap();
    assert!(err.contains("Wrong signature"), "{err}");
    std::fs::write(file_in(&dir), &good).unwrap();
    let server = start_in(&dir, &[]).unwrap();
    server.stop();
}

#[test]
fn a_failed_save_refuses_writes_until_one_succeeds() {
    let dir = common::temp_dir("misconf");
    let gone = dir.join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    let server = start_in(&dir, &[("enable-protected-configs", "yes")]).unwrap();
    let mut c = conn(&server);
    assert_eq!(c.cmd(&["CONFIG", "SET", "dir", gone.to_str().unwrap()]), "+OK");
    assert_eq!(c.cmd(&["CONFIG", "SET", "save", "3600 1"]), "+OK");
    std::fs::remove_dir(&gone).unwrap();
    assert_eq!(c.q("SAVE"), "-ERR");
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "err");
    let misconf = c.q("SET a b");
    assert!(misconf.starts_with("-MISCONF Redis is configured to save RDB snapshots"), "{misconf}");
    assert!(c.q("PING").starts_with("-MISCONF"));
    assert_eq!(c.q("GET a"), "(nil)");
    assert_eq!(c.q("MULTI"), "+OK");
    assert!(c.q("SET a b").starts_with("-MISCONF"));
    assert!(c.q("EXEC").starts_with("-EXECABORT"));
    // A background save fails the same way.
    assert_eq!(c.q("BGSAVE"), "+Background saving started");
    wait_for_bgsave(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "err");
    assert_eq!(c.q("CONFIG SET stop-writes-on-bgsave-error no"), "+OK");
    assert_eq!(c.q("SET a b"), "+OK");
    assert_eq!(c.q("CONFIG SET stop-writes-on-bgsave-error yes"), "+OK");
    assert!(c.q("SET a b").starts_with("-MISCONF"));
    assert_eq!(c.cmd(&["CONFIG", "SET", "dir", dir.to_str().unwrap()]), "+OK");
    assert_eq!(c.q("BGSAVE"), "+Background saving started");
    wait_for_bgsave(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(c.q("SET a c"), "+OK");
    assert_eq!(c.q("PING"), "+PONG");
    server.stop();
}

#[test]
fn save_points_start_background_saves() {
    let dir = common::temp_dir("save-points");
    let server = start_in(&dir, &[("save", "1 3")]).unwrap();
    let mut c = conn(&server);
    c.q("SET a 1");
    c.q("SET b 2");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "2");
    c.q("MSET c 3 d 4");
    c.q("SADD set x y z");
    c.q("DEL a b zz");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "9");
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "rdb_saves") == "0" {
        assert!(Instant::now() < deadline, "no save within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_for_bgsave(&mut c);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert!(file_in(&dir).exists());
    server.stop();
}

#[test]
fn shutdown_saves_as_configured() {
    let dir = common::temp_dir("shutdown");
    // No save points: plain SHUTDOWN does not save, SHUTDOWN SAVE does.
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    c.q("SET a 1");
    assert_eq!(c.q("SHUTDOWN SAVE NOSAVE"), "-ERR syntax error");
    c.send("SHUTDOWN");
    assert!(c.is_closed());
    server.wait();
    assert!(!file_in(&dir).exists());
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    c.q("SET a 2");
    c.send("SHUTDOWN SAVE");
    assert!(c.is_closed());
    server.wait();
    let server = start_in(&dir, &[("save", "3600 1")]).unwrap();
    let mut c = conn(&server);
    assert_eq!(c.q("GET a"), "\"2\"");
    c.q("SET a 3");
    c.send("SHUTDOWN NOSAVE");
    assert!(c.is_closed());
    server.wait();
    let server = start_in(&dir, &[("save", "3600 1")]).unwrap();
    let mut c = conn(&server);
    assert_eq!(c.q("GET a"), "\"2\"");
    c.q("SET a 4");
    c.send("SHUTDOWN");
    assert!(c.is_closed());
    server.wait();
    let server = start_in(&dir, &[]).unwrap();
    let mut c = conn(&server);
    assert_eq!(c.q("GET a"), "\"4\"");
    server.stop();
}

#[test]
fn debug_reload_and_flushall() {
    let dir = common::temp_dir("reload");
    let server = start_in(&dir, &[("enable-debug-command", "yes")]).unwrap();
    let mut c = conn(&server);
    populate(&mut c);
    let before = fingerprint(&mut c);
    assert_eq!(c.q("DEBUG RELOAD"), "+OK");
    assert_same(&before, &fingerprint(&mut c));
    c.q("SET extra 1");
    assert_eq!(c.q("DEBUG RELOAD NOSAVE"), "+OK");
    assert_eq!(c.q("EXISTS extra"), ":0");
    c.q("SET extra 1");
    assert_eq!(c.q("DEBUG RELOAD NOSAVE NOFLUSH"), "-ERR Error trying to load the RDB dump, check server logs.");
    assert_eq!(c.q("DEBUG RELOAD NOSAVE NOFLUSH MERGE"), "+OK");
    assert_eq!(c.q("EXISTS extra"), ":1");
    assert_eq!(c.q("DEBUG RELOAD BOGUS"), "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
    // FLUSHALL with save points saves the empty dataset at once.
    assert_eq!(c.cmd(&["CONFIG", "SET", "save", "3600 1"]), "+OK");
    assert_eq!(c.q("FLUSHALL"), "+OK");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(c.q("DEBUG RELOAD NOSAVE"), "+OK");
    assert_eq!(c.q("DBSIZE"), ":0");
    // Functions are not data: FLUSHALL keeps them, and the file has them.
    assert_eq!(c.q("FCALL hello 0"), "\"hi\"");
    server.stop();
}

/// Under an LRU maxmemory-policy the file carries each key's idle time,
/// as Redis's does, and both servers read it back.
#[test]
fn idle_times_survive_under_lru() {
    let dir = common::temp_dir("idle");
    let lru = ("maxmemory-policy", "allkeys-lru");
    let server = start_in(&dir, &[lru]).unwrap();
    let mut c = conn(&server);
    c.q("SET k v");
    let payload = c.bulk_bytes(&[b"DUMP", b"k"]).unwrap();
    assert_eq!(c.cmd_bytes(&[b"RESTORE", b"idle", b"0", &payload, b"IDLETIME", b"5000"]), "+OK");
    assert_eq!(c.q("SAVE"), "+OK");
    server.stop();
    let near = |reply: String| {
        let idle: u64 = reply[1..].parse().unwrap();
        assert!((5000..5010).contains(&idle), "idle {idle}");
    };
    let server = start_in(&dir, &[lru]).unwrap();
    near(conn(&server).q("OBJECT IDLETIME idle"));
    server.stop();
    let reference = Reference::start(&["--dir", dir.to_str().unwrap(), "--maxmemory-policy", "allkeys-lru"]);
    near(reference.connect().q("OBJECT IDLETIME idle"));
}

/// rdb_changes_since_last_save counts changes as Redis does: each member
/// added or removed, each field set, each key deleted; one for the rest.
#[test]
fn changes_are_counted_as_redis_counts_them() {
    let reference = Reference::start(&[]);
    let server = start_in(&common::temp_dir("changes"), &[]).unwrap();
    let mut conns = [reference.connect(), conn(&server)];
    let commands = [
        "SADD s a b c",
        "SADD s a d",
        "SREM s a b x",
        "HSET h f1 1 f2 2",
        "HSET h f1 3",
        "HDEL h f1 f2 f9",
        "RPUSH l a b c",
        "LPUSH l x",
        "LREM l 0 a",
        "ZADD z 1 a 2 b",
        "ZADD z 3 a 2 b",
        "ZREM z a b",
        "MSET k1 1 k2 2",
        "DEL k1 k2 k3",
        "INCRBY n 5",
        "APPEND n 1",
        "SET t v EX 100",
        "SETEX t 100 v",
        "LPOP l 2",
        "SPOP s 2",
        "ZINCRBY z 1 q",
        "EXPIRE n 100",
        "PERSIST n",
        "SREM s c d",
        "GET n",
    ];
    let changes = |c: &mut Conn| info_field(c, "rdb_changes_since_last_save").parse::<i64>().unwrap();
    for cmd in commands {
        let deltas: Vec<i64> = conns
            .iter_mut()
            .map(|c| {
                let before = changes(c);
                c.q(cmd);
                changes(c) - before
            })
            .collect();
        assert_eq!(deltas[0], deltas[1], "{cmd}: redis counted {}, we counted {}", deltas[0], deltas[1]);
    }
    server.stop();
}

/// While it loads its file at start-up, the server already listens and
/// answers as Redis does: -LOADING to what needs the data, INFO (with
/// loading:1) to what does not; then everything, with every key.
#[test]
fn a_server_loading_its_file_answers_loading() {
    let reference = Reference::start(&[]);
    let mut r = reference.connect();
    assert_eq!(r.q("DEBUG POPULATE 2000000"), "+OK");
    assert_eq!(r.q("SAVE"), "+OK");
    let from = common::items(&r.q("CONFIG GET dir"))[1].clone();
    let dir = common::temp_dir("loading-at-start");
    std::fs::copy(Path::new(&from).join("dump.rdb"), file_in(&dir)).unwrap();
    let server = common::binary::Binary::spawn_in(dir, &[]);
    let mut c = server.connect_when_listening();
    let deadline = Instant::now() + Duration::from_secs(60);
    // redis-server loading the same file: INFO persistence shows the same
    // fields while loading (loading_* among them).
    let names = |info: &str| -> Vec<String> {
        info.split("\\r\\n").filter_map(|l| l.split_once(':')).map(|(k, _)| k.to_string()).collect()
    };
    let loader = Reference::start(&["--dir", &from]);
    let mut l = loader.connect();
    let redis_fields = loop {
        let info = l.q("INFO persistence");
        if info.contains("loading:1") {
            break names(&info);
        }
        assert!(info.contains("loading:0") && l.q("DBSIZE") != ":2000000", "redis-server loaded before it was asked");
    };
    assert!(redis_fields.contains(&"loading_eta_seconds".to_string()), "{redis_fields:?}");
    let (mut loading, mut info_while_loading) = (false, false);
    loop {
        match c.q("DBSIZE").as_str() {
            "-LOADING Redis is loading the dataset in memory" => {
                loading = true;
                let info = c.q("INFO persistence");
                if info.contains("loading:1") {
                    info_while_loading = true;
                    assert_eq!(names(&info), redis_fields);
                }
            }
            ":2000000" => break,
            other => panic!("unexpected: {other}"),
        }
        assert!(Instant::now() < deadline, "the load never ended");
    }
    assert!(loading, "the load ended before the first command");
    assert!(info_while_loading, "INFO did not say it was loading");
    assert!(c.q("INFO persistence").contains("loading:0"));
    assert_eq!(c.q("GET key:1999999"), "\"value:1999999\"");

    // SHUTDOWN while loading saves nothing, whatever the save points: the
    // file would hold part of the data.
    let dir = server.dir.clone();
    drop(server);
    let before = std::fs::metadata(file_in(&dir)).unwrap().modified().unwrap();
    let mut server = common::binary::Binary::spawn_in(dir.clone(), &["--save", "3600 1"]);
    let mut c = server.connect_when_listening();
    assert_eq!(c.q("DBSIZE"), "-LOADING Redis is loading the dataset in memory");
    c.send("SHUTDOWN");
    assert!(c.is_closed());
    server.wait();
    assert_eq!(std::fs::metadata(file_in(&dir)).unwrap().modified().unwrap(), before);
}
