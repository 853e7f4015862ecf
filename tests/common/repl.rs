//! Watching replication from outside: INFO fields, and waiting for a
//! replica to catch up with its primary.

use std::time::{Duration, Instant};

use super::Conn;

/// One field of an INFO section.
pub fn field(c: &mut Conn, section: &str, name: &str) -> String {
    let info = c.cmd(&["INFO", section]);
    info.split("\\r\\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .to_string()
}

/// Polls `done` until it holds, for 20 seconds at most.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the replica has applied everything its primary appended.
pub fn caught_up(primary: &mut Conn, replica: &mut Conn) {
    wait_until("the replica to catch up", || {
        field(replica, "replication", "master_link_status") == "up"
            && field(replica, "replication", "slave_repl_offset") == field(primary, "replication", "master_repl_offset")
    });
}
