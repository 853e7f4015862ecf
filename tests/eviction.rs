//! maxmemory and memory reporting, on the real binary (its allocator
//! counts memory; the in-process test server's does not): what is refused
//! above the limit, compared reply for reply with redis-server, and INFO
//! memory's allocator figures.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Binary(Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_binary() -> (Binary, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvstore-server"))
        .args(["--port", &port.to_string(), "--save", "", "--threads", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("listening"))).unwrap().unwrap();
    (Binary(child), port)
}

/// Under noeviction past the limit, commands that may grow memory get
/// Redis's OOM error (inside MULTI, every queued command does, and EXEC
/// aborts); reads, deletions and scripts that do not write still run; a
/// script's write is refused with the script's location appended.
#[test]
fn noeviction_refuses_what_would_grow_memory() {
    let (_ours, port) = start_binary();
    let reference = common::Reference::start(&[]);
    let mut ours = common::Conn::connect(port);
    let mut theirs = common::Conn::connect(reference.port);
    let steps = [
        "SET k v",
        "RPUSH q a",
        "CONFIG SET maxmemory 1",
        "SET a b",
        "GET k",
        "INCR n",
        "LPUSH l x",
        "LPOP q",
        "EXPIRE k 100",
        "EVAL return 1 0",
        "PING",
        "MULTI",
        "SET a b",
        "GET a",
        "EXEC",
        "DEL k",
        "CONFIG SET maxmemory 0",
        "SET a b",
        "GET a",
    ];
    for line in steps {
        assert_eq!(ours.q(line), theirs.q(line), "{line}");
    }
    // Words with spaces: the script that writes.
    let script: [&[u8]; 3] = [b"EVAL", b"return redis.call('set','x','y')", b"0"];
    for c in [&mut ours, &mut theirs] {
        assert_eq!(c.q("CONFIG SET maxmemory 1"), "+OK");
    }
    assert_eq!(ours.cmd_bytes(&script), theirs.cmd_bytes(&script));
    assert!(ours.cmd_bytes(&script).starts_with("-OOM command not allowed when used memory > 'maxmemory'. script:"));
    // A transaction queued under the limit, executed over it.
    for c in [&mut ours, &mut theirs] {
        assert_eq!(c.q("CONFIG SET maxmemory 0"), "+OK");
        assert_eq!(c.q("MULTI"), "+OK");
        assert_eq!(c.q("SET t 1"), "+QUEUED");
    }
    let mut config = common::Conn::connect(port);
    let mut reference_config = common::Conn::connect(reference.port);
    assert_eq!(config.q("CONFIG SET maxmemory 1"), reference_config.q("CONFIG SET maxmemory 1"));
    assert_eq!(ours.q("EXEC"), theirs.q("EXEC"));
    let info = ours.q("INFO memory");
    assert!(info.contains("maxmemory:1\\r\\n"), "{info}");
}

/// INFO memory reports the allocator's own figures from the real binary,
/// under Redis's field names, with the ratios consistent with them.
#[test]
fn info_memory_reports_the_allocator() {
    let (_ours, port) = start_binary();
    let mut c = common::Conn::connect(port);
    let info = c.q("INFO memory");
    let field = |name: &str| -> String {
        info.split("\\r\\n")
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .to_string()
    };
    let int = |name: &str| field(name).parse::<i64>().unwrap();
    assert!(field("mem_allocator").starts_with("jemalloc-"), "{info}");
    assert!(int("allocator_allocated") > 0);
    assert!(int("allocator_active") >= int("allocator_allocated"));
    assert!(int("allocator_resident") >= int("allocator_active"));
    assert_eq!(int("allocator_frag_bytes"), int("allocator_active") - int("allocator_allocated"));
    assert!(int("used_memory_startup") > 0 && int("used_memory_startup") <= int("used_memory_peak"));
    assert_eq!(int("number_of_cached_scripts"), 0);
    c.q("SCRIPT LOAD return");
    let info = c.q("INFO memory");
    assert!(info.contains("number_of_cached_scripts:1\\r\\n"), "{info}");
}
