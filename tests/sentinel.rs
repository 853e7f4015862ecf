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

/// A field of SENTINEL MASTER's flat list.
fn master_field(s: &mut Conn, name: &str) -> String {
    let list = items(&s.q("SENTINEL MASTER mymaster"));
    let at = list.iter().position(|k| k == name).unwrap_or_else(|| panic!("no {name} in {list:?}"));
    list[at + 1].clone()
}

fn primary_port(s: &mut Conn) -> u16 {
    items(&s.q("SENTINEL GET-MASTER-ADDR-BY-NAME mymaster"))[1].parse().unwrap()
}

#[test]
fn sentinel_fails_over_to_one_of_our_replicas() {
    let primary = Binary::start(&[]);
    let replicas: Vec<Binary> =
        (0..2).map(|_| Binary::start(&["--replicaof", &format!("127.0.0.1 {}", primary.port)])).collect();
    let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(primary.port)).collect();
    let mut watcher = sentinels[0].connect();
    wait_until("Sentinel to see both replicas and the other sentinels", Duration::from_secs(30), || {
        master_field(&mut watcher, "num-slaves") == "2" && master_field(&mut watcher, "num-other-sentinels") == "2"
    });
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
    let mut p = replicas[promoted].connect();
    assert!(p.q("ROLE").starts_with("[\"master\""));
    // Nothing WAIT confirmed was lost.
    for i in 0..100 {
        assert_eq!(p.cmd(&["GET", &format!("k{i}")]), format!("\"{i}\""));
    }
    // The other replica follows the new primary and gets its writes.
    let mut other = replicas[1 - promoted].connect();
    wait_until("the other replica to follow the new primary", Duration::from_secs(30), || {
        other.q("ROLE").starts_with(&format!("[\"slave\", \"127.0.0.1\", :{new_port}, \"connected\""))
    });
    assert_eq!(p.q("SET later 2"), "+OK");
    assert_eq!(p.q("WAIT 1 5000"), ":1");
    assert_eq!(other.q("GET later"), "\"2\"");
    assert_eq!(other.q("GET after-failover"), "\"1\"");
    drop(sentinels);
}
