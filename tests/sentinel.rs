//! High availability under stock Redis Sentinel: three redis-server
//! processes in sentinel mode watch our primary and two of our replicas;
//! the primary is killed with SIGKILL; Sentinel promotes a replica,
//! points the other at it, and a client that asks Sentinel where the
//! primary is goes on writing there without losing what WAIT confirmed.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::binary::Binary;
use common::{items, Conn};

/// A redis-server in sentinel mode, killed when dropped.
struct Sentinel {
    child: Child,
    port: u16,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sentinel {
    fn start(primary_port: u16) -> Sentinel {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = common::temp_dir(&format!("sentinel-{port}"));
        let conf = dir.join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\n\
             sentinel monitor mymaster 127.0.0.1 {primary_port} 2\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 10000\n\
             sentinel parallel-syncs mymaster 1\n",
            dir = dir.display()
        );
        std::fs::write(&conf, text).unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (for --sentinel)");
        let sentinel = Sentinel { child, port };
        wait_until("the sentinel to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        sentinel
    }

    fn connect(&self) -> Conn {
        Conn::connect(self.port)
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One command on a fresh connection; None when the connection is cut.
/// Sentinel's reconfiguration of a server ends with CLIENT KILL TYPE
/// normal, so a connection held across it is closed, as in Redis.
fn ask(port: u16, line: &str) -> Option<String> {
    let line = line.to_string();
    std::panic::catch_unwind(move || Conn::connect(port).q(&line)).ok()
}

/// A field of SENTINEL MASTER's flat list.
fn master_field(s: &mut Conn, name: &str) -> String {
    let list = items(&s.q("SENTINEL MASTER mymaster"));
    let at = list.iter().position(|k| k == name).unwrap_or_else(|| panic!("no {name} in {list:?}"));
    list[at + 1].clone()
}

fn primary_port(s: &mut Conn) -> u16 {
    items(&s.q("SENTINEL GET-MASTER-ADDR-BY-NAME mymaster"))[1].parse().unwrap()
}

/// Our primary, two of our replicas, and three sentinels watching them,
/// started and settled: every sentinel knows both replicas and the other
/// sentinels.
struct Group {
    primary: Binary,
    replicas: Vec<Binary>,
    sentinels: Vec<Sentinel>,
}

impl Group {
    fn start() -> Group {
        // Each with a config file, which Sentinel's reconfigurations
        // rewrite (CONFIG REWRITE).
        let primary = Binary::start_with_config("appendonly no\n", &[]);
        let follow = format!("replicaof 127.0.0.1 {}\n", primary.port);
        let replicas: Vec<Binary> = (0..2).map(|_| Binary::start_with_config(&follow, &[])).collect();
        let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(primary.port)).collect();
        let mut watcher = sentinels[0].connect();
        wait_until("Sentinel to see both replicas and the other sentinels", Duration::from_secs(30), || {
            master_field(&mut watcher, "num-slaves") == "2" && master_field(&mut watcher, "num-other-sentinels") == "2"
        });
        Group { primary, replicas, sentinels }
    }
}

#[test]
fn sentinel_fails_over_to_one_of_our_replicas() {
    let Group { primary, replicas, sentinels } = Group::start();
    let mut watcher = sentinels[0].connect();
    let mut c = primary.connect();
    for i in 0..100 {
        assert_eq!(c.cmd(&["SET", &format!("k{i}"), &i.to_string()]), "+OK");
    }
    assert_eq!(c.q("WAIT 2 5000"), ":2");

    let old_port = primary.port;
    let killed_at = Instant::now();
    primary.kill();
    // A client that asks Sentinel where to write, and retries until a
    // write is accepted there.
    let mut new_port = old_port;
    wait_until("a write accepted by the new primary", Duration::from_secs(60), || {
        new_port = primary_port(&mut watcher);
        if new_port == old_port {
            return false;
        }
        std::net::TcpStream::connect(("127.0.0.1", new_port)).is_ok()
            && Conn::connect(new_port).q("SET after-failover 1") == "+OK"
    });
    let failover = killed_at.elapsed();
    eprintln!("failover: {} ms from SIGKILL to the first write accepted", failover.as_millis());
    let promoted = replicas.iter().position(|r| r.port == new_port).expect("a replica of ours was promoted");
    assert!(ask(new_port, "ROLE").is_some_and(|r| r.starts_with("[\"master\"")));
    // Nothing WAIT confirmed was lost.
    for i in 0..100 {
        assert_eq!(ask(new_port, &format!("GET k{i}")), Some(format!("\"{i}\"")));
    }
    // The other replica follows the new primary and gets its writes.
    let other = replicas[1 - promoted].port;
    wait_until("the other replica to follow the new primary", Duration::from_secs(30), || {
        ask(other, "ROLE")
            .is_some_and(|r| r.starts_with(&format!("[\"slave\", \"127.0.0.1\", :{new_port}, \"connected\"")))
    });
    let mut p = replicas[promoted].connect();
    assert_eq!(p.q("SET later 2"), "+OK");
    assert_eq!(p.q("WAIT 1 5000"), ":1");
    assert_eq!(ask(other, "GET later").as_deref(), Some("\"2\""));
    assert_eq!(ask(other, "GET after-failover").as_deref(), Some("\"1\""));
    // Their config files say so: a restart keeps the new roles.
    let replicaof = |b: &Binary| -> Vec<String> {
        b.config_file().lines().filter(|l| l.starts_with("replicaof")).map(str::to_string).collect()
    };
    assert_eq!(replicaof(&replicas[promoted]), Vec::<String>::new());
    assert_eq!(replicaof(&replicas[1 - promoted]), vec![format!("replicaof 127.0.0.1 {new_port}")]);
    drop(sentinels);
}

/// A primary stopped (SIGSTOP) past down-after-milliseconds is replaced;
/// resumed, it is turned into a replica of the new primary. A writer that
/// waits for the replicas after each write loses none of the writes every
/// replica confirmed. (A write only one of the two confirmed can be lost:
/// Sentinel may promote the other, as with Redis.)
#[test]
fn a_stopped_primary_comes_back_as_a_replica_and_confirmed_writes_survive() {
    let Group { primary, replicas, sentinels } = Group::start();
    let mut watcher = sentinels[0].connect();
    // The writer: SET, then WAIT 2 100; a write counts as confirmed by
    // the replicas that WAIT saw acknowledge it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sentinel_port = sentinels[1].port;
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut confirmed = Vec::new();
            let mut sentinel = Conn::connect(sentinel_port);
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let port = primary_port(&mut sentinel);
                let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else { continue };
                stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let key = format!("w{i}");
                    let mut request = common::encode(&[b"SET", key.as_bytes(), b"1"]);
                    request.extend(common::encode(&[b"WAIT", b"2", b"100"]));
                    if std::io::Write::write_all(&mut stream, &request).is_err() {
                        break;
                    }
                    // Plain one-line replies: +OK or an error, then :N.
                    let mut set = String::new();
                    let mut wait = String::new();
                    let read = std::io::BufRead::read_line(&mut reader, &mut set)
                        .and_then(|_| std::io::BufRead::read_line(&mut reader, &mut wait));
                    if read.is_err() || set.is_empty() || wait.is_empty() {
                        break;
                    }
                    // Every acknowledged write, with how many replicas
                    // WAIT saw confirm it.
                    if set.trim_end() == "+OK" {
                        let replicas: usize = wait.trim_end().trim_start_matches(':').parse().unwrap_or(0);
                        confirmed.push((key, port, replicas));
                    }
                    i += 1;
                }
            }
            confirmed
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let old_port = primary.port;
    // SAFETY: signals the server this test started, by pid.
    unsafe { libc::kill(primary.pid(), libc::SIGSTOP) };
    wait_until("a new primary", Duration::from_secs(60), || primary_port(&mut watcher) != old_port);
    let new_port = primary_port(&mut watcher);
    // SAFETY: as above.
    unsafe { libc::kill(primary.pid(), libc::SIGCONT) };
    wait_until("the old primary to follow the new one", Duration::from_secs(60), || {
        ask(old_port, "ROLE")
            .is_some_and(|r| r.starts_with(&format!("[\"slave\", \"127.0.0.1\", :{new_port}, \"connected\"")))
    });
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acknowledged = writer.join().unwrap();
    assert!(acknowledged.len() > 10, "the writer got {} writes acknowledged", acknowledged.len());
    assert!(replicas.iter().any(|r| r.port == new_port), "a replica of ours was promoted");
    let mut p = Conn::connect(new_port);
    // By how many replicas confirmed them: [written, lost].
    let mut tally = [[0usize; 2]; 3];
    for (key, _, replicas) in &acknowledged {
        let lost = p.cmd(&["EXISTS", key]) != ":1";
        tally[(*replicas).min(2)][0] += 1;
        tally[(*replicas).min(2)][1] += lost as usize;
        assert!(!(lost && *replicas == 2), "{key}, which both replicas confirmed, was lost");
    }
    eprintln!(
        "acknowledged writes confirmed by 2 / 1 / 0 replicas: {:?} written, {:?} lost",
        [tally[2][0], tally[1][0], tally[0][0]],
        [tally[2][1], tally[1][1], tally[0][1]]
    );
    drop(sentinels);
}
