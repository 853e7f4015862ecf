//! The diskless full sync (repl-diskless-sync): the snapshot child writes
//! the RDB, framed as `$EOF:<mark>\r\n` ... `<mark>`, into a pipe rather
//! than a file; a relay thread reads the pipe into a bounded buffer, and
//! every replica of the transfer is served from that buffer at its own
//! pace, as the disk-based transfer serves the file. The relay stops
//! reading while the slowest replica is `AHEAD_LIMIT` behind, so the child
//! waits on the pipe instead of the buffer growing; once no replica is
//! left, it closes the pipe, which ends the child.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::server::Shared;

/// The end mark's length: 40 random hex digits, as Redis uses.
pub const MARK_LEN: usize = 40;
/// Bytes the relay buffers ahead of the slowest replica.
const AHEAD_LIMIT: usize = 4 << 20;
const READ_CHUNK: usize = 64 * 1024;

/// One diskless snapshot, shared by the replicas it is for.
pub struct Transfer {
    relay: Mutex<Relay>,
    /// Signalled when replicas took bytes (or left).
    room: Condvar,
}

struct Relay {
    /// The bytes read from the pipe that some replica still needs:
    /// `buf[0]` is byte `base` of the transfer.
    buf: VecDeque<u8>,
    base: u64,
    /// (client id, bytes of the transfer sent to it) for each replica
    /// still being sent it.
    readers: Vec<(u64, u64)>,
    /// The pipe reached its end; `complete` if it ended with the mark
    /// (the child writes it only after the whole snapshot).
    ended: bool,
    complete: bool,
}

/// What a replica's turn with the transfer gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// This many bytes went into its output.
    Copied(usize),
    /// Nothing yet: the child has not written more.
    Waiting,
    /// It has been sent the whole transfer.
    Done,
    /// The snapshot failed (or the replica is not part of it).
    Failed,
}

impl Transfer {
    /// Starts relaying `pipe` (the child's output ending in `mark`) to the
    /// replicas with these client ids.
    pub fn start(shared: Arc<Shared>, pipe: File, mark: String, readers: &[u64]) -> Arc<Transfer> {
        let transfer = Arc::new(Transfer::new(readers));
        let relayed = transfer.clone();
        let spawned = std::thread::Builder::new()
            .name("repl-transfer".into())
            .spawn(move || relayed.relay(&shared, pipe, mark.as_bytes()));
        if let Err(e) = spawned {
            log::warn!("Can't start the diskless transfer: {e}");
            let mut relay = transfer.relay.lock();
            relay.ended = true;
        }
        transfer
    }

    fn new(readers: &[u64]) -> Transfer {
        Transfer {
            relay: Mutex::new(Relay {
                buf: VecDeque::new(),
                base: 0,
                readers: readers.iter().map(|&id| (id, 0)).collect(),
                ended: false,
                complete: false,
            }),
            room: Condvar::new(),
        }
    }

    /// The relay thread: reads the pipe until its end, or until no
    /// replica is left to send it to.
    fn relay(&self, shared: &Shared, mut pipe: File, mark: &[u8]) {
        let mut chunk = vec![0u8; READ_CHUNK];
        let mut tail: Vec<u8> = Vec::with_capacity(2 * MARK_LEN);
        loop {
            let n = loop {
                match pipe.read(&mut chunk) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    // A read error ends the transfer as incomplete.
                    other => break other.unwrap_or(0),
                }
            };
            let mut relay = self.relay.lock();
            while relay.buf.len() >= AHEAD_LIMIT && !relay.readers.is_empty() {
                self.room.wait(&mut relay);
            }
            if relay.readers.is_empty() {
                log::info!("Diskless rdb transfer, last replica dropped, ending the transfer.");
                return;
            }
            if n == 0 {
                relay.ended = true;
                relay.complete = tail == mark;
                drop(relay);
                shared.repl.wake_replica_threads(shared);
                return;
            }
            relay.buf.extend(&chunk[..n]);
            drop(relay);
            tail.extend_from_slice(&chunk[..n]);
            let extra = tail.len().saturating_sub(MARK_LEN);
            tail.drain(..extra);
            shared.repl.wake_replica_threads(shared);
        }
    }

    /// Copies up to `max` of the bytes due to replica `client_id` into
    /// `out`.
    pub fn copy_to(&self, client_id: u64, out: &mut Vec<u8>, max: usize) -> Step {
        let mut relay = self.relay.lock();
        let Some(at) = relay.readers.iter().position(|&(id, _)| id == client_id) else { return Step::Failed };
        let from = (relay.readers[at].1 - relay.base) as usize;
        let take = (relay.buf.len() - from).min(max);
        if take == 0 {
            return match (relay.ended, relay.complete) {
                (false, _) => Step::Waiting,
                (true, true) => {
                    relay.readers.swap_remove(at);
                    self.trim(&mut relay);
                    Step::Done
                }
                (true, false) => Step::Failed,
            };
        }
        super::copy_out(&relay.buf, from, take, out);
        relay.readers[at].1 += take as u64;
        self.trim(&mut relay);
        Step::Copied(take)
    }

    /// Replica `client_id` is gone.
    pub fn leave(&self, client_id: u64) {
        let mut relay = self.relay.lock();
        relay.readers.retain(|&(id, _)| id != client_id);
        self.trim(&mut relay);
    }

    /// Drops what every replica has been sent, and lets the relay read on.
    fn trim(&self, relay: &mut Relay) {
        let slowest = relay.readers.iter().map(|&(_, sent)| sent).min();
        let keep_from = slowest.unwrap_or(relay.base + relay.buf.len() as u64);
        let drop = (keep_from - relay.base) as usize;
        relay.buf.drain(..drop);
        relay.base = keep_from;
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_replica_reads_at_its_own_pace_and_the_buffer_keeps_only_what_the_slowest_needs() {
        let t = Transfer::new(&[1, 2]);
        t.relay.lock().buf.extend(b"0123456789");
        let mut one = Vec::new();
        assert_eq!(t.copy_to(1, &mut one, 4), Step::Copied(4));
        assert_eq!(t.copy_to(1, &mut one, 100), Step::Copied(6));
        assert_eq!(one, b"0123456789");
        assert_eq!(t.copy_to(1, &mut one, 100), Step::Waiting);
        // Replica 2 has taken nothing: all ten bytes are kept for it.
        assert_eq!(t.relay.lock().buf.len(), 10);
        let mut two = Vec::new();
        assert_eq!(t.copy_to(2, &mut two, 3), Step::Copied(3));
        assert_eq!(t.relay.lock().base, 3);
        assert_eq!(t.relay.lock().buf.len(), 7);
        t.leave(2);
        assert!(t.relay.lock().buf.is_empty());
        assert_eq!(t.copy_to(2, &mut two, 3), Step::Failed);
    }

    #[test]
    fn the_end_is_done_only_when_the_mark_came() {
        let t = Transfer::new(&[1, 2]);
        t.relay.lock().ended = true;
        t.relay.lock().complete = true;
        assert_eq!(t.copy_to(1, &mut Vec::new(), 10), Step::Done);
        let cut = Transfer::new(&[1]);
        cut.relay.lock().ended = true;
        assert_eq!(cut.copy_to(1, &mut Vec::new(), 10), Step::Failed);
    }
}
