//! Replication, the primary's side: Redis's PSYNC protocol, so a stock
//! redis-server (or another KVStore) can replicate from this server.
//!
//! - The feed: every write is appended, as the command Redis would
//!   propagate, to one stream in execution order (under the shard locks
//!   that ordered it, like the AOF; `SELECT` when the database changes,
//!   `MULTI`/`EXEC` around a transaction's effects). Its length is
//!   master_repl_offset. The stream's recent bytes stay in memory: at least
//!   repl-backlog-size of them (the backlog partial resyncs read), and
//!   everything a replica has not been sent yet. Replicas are served from
//!   that one buffer, each at its own position, as Redis 7 shares its
//!   replication buffer, rather than each holding a copy.
//! - A full resync (`+FULLRESYNC replid offset`) forks a snapshot, with
//!   every shard locked so it holds exactly the stream's first `offset`
//!   bytes, and the stream follows from `offset`. The snapshot goes
//!   straight to the replicas that take it (repl-diskless-sync,
//!   `transfer.rs`: `$EOF:<mark>` framing, the stream after the replica's
//!   first ACK), or into the RDB file, then sent as one bulk
//!   (`$<len>\r\n<bytes>`, which every replica accepts).
//! - A replica asking for a position still in the buffer gets
//!   `+CONTINUE replid` and the stream from there.
//! - Each replica's connection stays on the event-loop thread that
//!   accepted it; that thread copies the file and then the stream into the
//!   connection as the socket drains (`pump`). A thread that appends wakes
//!   the threads serving replicas.
//!
//! FAILOVER is `failover.rs`; the replica's side (REPLICAOF) is
//! `upstream.rs`. Snapshots record the stream's id and offset
//! (`SaveInfo`), so a restart resumes with a partial resync. A replica
//! keeps the stream too, byte for byte as its primary sent it, so its
//! offsets are its primary's and a replica of it (or the replicas that
//! follow it after a failover) can resume where they were.

mod failover;
mod sync;
mod transfer;
pub mod upstream;

pub use failover::{Refusal, Stage};
pub use sync::Link;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::persist::aof::{encode_command, Op};
use crate::server::Shared;
use crate::store::Shard;

/// Where a replica stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for a snapshot to be started for it (another child runs).
    WaitBgsave,
    /// The snapshot for it runs; the stream follows from `offset`.
    WaitBgsaveEnd { offset: u64 },
    /// The snapshot is written; the file goes next.
    RdbReady { offset: u64 },
    /// The file is being sent.
    SendingRdb { offset: u64 },
    /// A diskless transfer is being sent as the child writes it.
    Transfer { offset: u64 },
    /// The diskless transfer is sent; the stream starts once the replica
    /// acknowledges (it cannot tell where the transfer ends and the stream
    /// starts before it has read the end mark, so it might read into it).
    AwaitAck { offset: u64 },
    /// The stream is being sent.
    Online,
    /// Its snapshot failed: the connection closes.
    Failed,
}

impl State {
    fn info_name(self) -> &'static str {
        match self {
            State::WaitBgsave | State::WaitBgsaveEnd { .. } | State::Transfer { .. } => "wait_bgsave",
            State::RdbReady { .. } | State::SendingRdb { .. } => "send_bulk",
            State::Online | State::AwaitAck { .. } => "online",
            State::Failed => "wait_bgsave",
        }
    }
}

/// A replica, as the primary sees it.
pub struct Replica {
    pub client_id: u64,
    /// The event-loop thread its connection lives on.
    pub thread: usize,
    pub ip: String,
    pub listening_port: u16,
    /// REPLCONF capa eof: it takes a diskless transfer.
    eof_capable: bool,
    /// When it asked for a full resync (repl-diskless-sync-delay counts
    /// from the first such).
    asked_at: Instant,
    pub state: State,
    /// The diskless transfer it is being sent, and when that last moved
    /// for it (it took bytes, or waited for the child rather than for its
    /// own socket).
    transfer: Option<Arc<transfer::Transfer>>,
    transfer_moved: Instant,
    /// What to write to it before anything else (`+FULLRESYNC ...`).
    preamble: Vec<u8>,
    /// The stream position it has been sent up to.
    sent: u64,
    /// The offset it last acknowledged, and when.
    pub ack: u64,
    pub ack_at: Instant,
}

/// The stream and its buffer.
#[derive(Default)]
struct Feed {
    /// master_repl_offset: bytes appended since the replication id began.
    offset: u64,
    /// The stream's last bytes: `buf[0]` is at position `offset - buf.len()`.
    buf: VecDeque<u8>,
    /// The database the stream's last command ran in; None when our own
    /// next append must say it (after a snapshot, or once we stop
    /// following a primary).
    last_db: Option<usize>,
    /// The database selected at the stream's end, as a replica applying
    /// it has it (repl-stream-db: what a replica resuming, or loading a
    /// snapshot taken here, starts in).
    stream_db: usize,
    /// The earliest position a replica still needs (`u64::MAX` for none).
    needed: u64,
}

impl Feed {
    fn first(&self) -> u64 {
        self.offset - self.buf.len() as u64
    }

    /// Appends, then drops what neither the backlog (`backlog` bytes,
    /// repl-backlog-size) nor a replica needs, in steps of an eighth of
    /// the backlog, so most appends drop none.
    fn push(&mut self, bytes: &[u8], backlog: u64) {
        self.buf.extend(bytes);
        self.offset += bytes.len() as u64;
        if self.buf.len() as u64 > backlog + backlog / 8 {
            let keep_from = self.needed.min(self.offset.saturating_sub(backlog)).max(self.first());
            let drop = (keep_from - self.first()) as usize;
            self.buf.drain(..drop);
        }
    }

    /// Recomputes `needed` after replicas moved.
    fn refresh_needed(&mut self, replicas: &[Replica]) {
        self.needed = replicas.iter().map(Replica::position).min().unwrap_or(u64::MAX);
    }
}

/// Replication's part of a snapshot (Redis's repl-stream-db, repl-id and
/// repl-offset auxiliary fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaveInfo {
    pub stream_db: usize,
    pub replid: String,
    pub offset: u64,
}

impl SaveInfo {
    /// The fields as a file's auxiliary fields give them, if the id and
    /// offset are there and make sense (a database past `databases` counts
    /// as the last).
    pub fn from_aux(aux: &[(Vec<u8>, Vec<u8>)], databases: usize) -> Option<SaveInfo> {
        let get =
            |name: &str| aux.iter().find(|(k, _)| k == name.as_bytes()).and_then(|(_, v)| std::str::from_utf8(v).ok());
        let replid = get("repl-id").filter(|id| id.len() == 40)?.to_string();
        let offset = get("repl-offset")?.parse().ok()?;
        let stream_db =
            get("repl-stream-db").and_then(|d| d.parse().ok()).unwrap_or(0).min(databases.saturating_sub(1));
        Some(SaveInfo { stream_db, replid, offset })
    }
}

/// INFO replication's figures: a `slaveN:` line per replica, then the
/// stream's offset and what the buffer holds.
pub struct Info {
    pub replicas: Vec<String>,
    pub offset: u64,
    pub first_byte: u64,
    pub histlen: u64,
    pub active: bool,
}

/// The replication ids: the current one, and the one before it with the
/// offset up to which it is valid (after a promotion, replicas of the old
/// primary may resume under it).
pub struct Ids {
    pub replid: String,
    pub replid2: String,
    /// second_repl_offset: -1 when there is no previous id.
    pub second_offset: i64,
}

/// Where several of its locks are held at once, they are taken in this
/// order: failover, replicas, feed, ids (a transfer's is taken last).
pub struct Replication {
    ids: Mutex<Ids>,
    /// The primary this server replicates from, if any.
    pub upstream: Mutex<Option<upstream::Upstream>>,
    /// Set while this server is a replica (the fast check of `upstream`).
    replica: AtomicBool,
    feed: Mutex<Feed>,
    replicas: Mutex<Vec<Replica>>,
    /// A feed exists: a replica connected since start-up, so every write
    /// is appended (as in Redis, the backlog then stays).
    active: AtomicBool,
    /// The replication id and offset describe data this server holds (it
    /// followed a primary, or was one), so PSYNC may ask to continue from
    /// them; a replica started afresh asks with `? -1`, as Redis's does.
    resumable: AtomicBool,
    /// Bit t set: event-loop thread t serves a replica.
    threads: AtomicU64,
    /// When the last PING went into the stream (Unix ms).
    last_ping_ms: AtomicU64,
    /// When replicas waiting for a snapshot were last sent a newline.
    last_keepalive_ms: AtomicU64,
    /// When the last replica left (Unix ms; 0 while one is connected or
    /// none ever was): repl-backlog-ttl counts from there.
    alone_since_ms: AtomicU64,
    /// master_repl_offset, readable without the feed's lock.
    offset_now: AtomicU64,
    /// Bit t set: event-loop thread t has had a client in WAIT.
    wait_threads: AtomicU64,
    /// FAILOVER under way, if any.
    failover: Mutex<failover::Failover>,
    /// INFO's sync_full, sync_partial_ok and sync_partial_err.
    pub full_syncs: AtomicU64,
    pub partial_ok: AtomicU64,
    pub partial_err: AtomicU64,
}

impl Replication {
    pub fn new(replid: String) -> Self {
        Replication {
            ids: Mutex::new(Ids { replid, replid2: "0".repeat(40), second_offset: -1 }),
            upstream: Mutex::new(None),
            replica: AtomicBool::new(false),
            feed: Mutex::default(),
            replicas: Mutex::default(),
            active: AtomicBool::new(false),
            resumable: AtomicBool::new(false),
            threads: AtomicU64::new(0),
            last_ping_ms: AtomicU64::new(0),
            last_keepalive_ms: AtomicU64::new(0),
            alone_since_ms: AtomicU64::new(0),
            offset_now: AtomicU64::new(0),
            wait_threads: AtomicU64::new(0),
            failover: Mutex::default(),
            full_syncs: AtomicU64::new(0),
            partial_ok: AtomicU64::new(0),
            partial_err: AtomicU64::new(0),
        }
    }

    /// Whether writes are appended to the feed.
    pub fn is_active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// Whether PSYNC may ask to continue from this server's id and offset.
    pub fn resumable(&self) -> bool {
        self.resumable.load(Relaxed)
    }

    /// A primary is about to follow another: its own stream is where it
    /// resumes from.
    pub fn demoted(&self) {
        if !self.is_replica() {
            self.resumable.store(true, Relaxed);
        }
    }

    /// Whether this server is a replica.
    pub fn is_replica(&self) -> bool {
        self.replica.load(Relaxed)
    }

    /// Whether this server's own writes go into the feed: a primary's do;
    /// a replica's feed is its primary's stream.
    pub fn feeds_own_writes(&self) -> bool {
        self.is_active() && !self.is_replica()
    }

    fn set_replica(&self, on: bool) {
        // A replica keeps its primary's stream in the feed from the start.
        self.active.store(true, Relaxed);
        self.replica.store(on, Relaxed);
    }

    /// A new replication id, the old one valid up to here (a promotion).
    fn shift_id(&self) {
        let offset = self.offset();
        // The feed's lock before the ids', as everywhere.
        let mut feed = self.feed.lock();
        let mut ids = self.ids.lock();
        ids.replid2 = std::mem::replace(&mut ids.replid, crate::server::random_hex(40));
        ids.second_offset = offset as i64 + 1;
        // Our own writes follow the primary's stream: say the database.
        feed.last_db = None;
    }

    /// The primary continued under another id (it was promoted): ours
    /// follows, the old one valid up to here.
    fn adopt_id(&self, id: &str) {
        self.resumable.store(true, Relaxed);
        let offset = self.offset();
        let mut ids = self.ids.lock();
        if ids.replid != id {
            ids.replid2 = std::mem::replace(&mut ids.replid, id.to_string());
            ids.second_offset = offset as i64 + 1;
        }
    }

    /// After a full resync from a primary: its id and offset are ours, the
    /// buffer starts empty there, and our own replicas, whose positions
    /// meant the old stream, start over. Every shard is locked.
    fn restart_feed(&self, shards: &mut [&mut Shard], id: &str, offset: u64, stream_db: usize) {
        self.resumable.store(true, Relaxed);
        crate::persist::rewrite::log_expired(shards, true);
        let mut replicas = self.replicas.lock();
        for r in replicas.iter_mut() {
            r.state = State::Failed;
        }
        let mut feed = self.feed.lock();
        *self.ids.lock() = Ids { replid: id.to_string(), replid2: "0".repeat(40), second_offset: -1 };
        feed.buf.clear();
        feed.offset = offset;
        feed.last_db = None;
        feed.stream_db = stream_db;
        self.offset_now.store(offset, Relaxed);
        self.replicas_changed(&replicas, &mut feed);
    }

    /// Appends what the primary sent, as it came (a replica's feed), `db`
    /// being the database selected once it has been applied. A command
    /// that changes data is appended with its shard locks still held, as
    /// a primary's own writes are, so a snapshot taken here (for a replica
    /// of ours) holds exactly the stream up to its offset.
    pub fn proxy(&self, shared: &Shared, raw: &[u8], db: usize) {
        let mut feed = self.feed.lock();
        feed.last_db = None;
        feed.stream_db = db;
        self.commit(shared, feed, raw);
    }

    /// The database selected at the stream's end.
    pub fn stream_db(&self) -> usize {
        self.feed.lock().stream_db
    }

    /// What a snapshot records of replication (repl-stream-db, repl-id,
    /// repl-offset), while a stream exists; the caller holds every shard,
    /// so it matches the data.
    pub fn save_info(&self) -> Option<SaveInfo> {
        if !self.is_active() {
            return None;
        }
        let feed = self.feed.lock();
        Some(SaveInfo { stream_db: feed.stream_db, replid: self.ids.lock().replid.clone(), offset: feed.offset })
    }

    /// At start-up, from a snapshot that recorded them: the replication id
    /// and offset the data stands at. A replica resumes from there with
    /// PSYNC. A primary takes the id as its second, valid up to there (its
    /// own is new), so the replicas it had before a restart continue with
    /// a partial resync, as from Redis.
    /// Every shard is locked.
    pub fn restore(&self, shards: &mut [&mut Shard], info: SaveInfo, replica: bool) {
        self.resumable.store(true, Relaxed);
        let mut feed = self.feed.lock();
        let mut ids = self.ids.lock();
        feed.offset = info.offset;
        feed.stream_db = info.stream_db;
        self.offset_now.store(info.offset, Relaxed);
        if replica {
            ids.replid = info.replid;
            return;
        }
        ids.replid2 = info.replid;
        ids.second_offset = info.offset as i64 + 1;
        drop(ids);
        drop(feed);
        self.active.store(true, Relaxed);
        crate::persist::rewrite::log_expired(shards, true);
        self.alone_since_ms.store(crate::server::unix_ms().max(1), Relaxed);
    }

    /// Every append's end: `bytes` go into the stream, the offset moves,
    /// and the threads serving replicas wake.
    fn commit(&self, shared: &Shared, mut feed: parking_lot::MutexGuard<'_, Feed>, bytes: &[u8]) {
        feed.push(bytes, shared.hot.repl_backlog_size.load(Relaxed));
        self.offset_now.store(feed.offset, Relaxed);
        drop(feed);
        self.wake_replica_threads(shared);
    }

    /// master_replid, master_replid2 and second_repl_offset.
    pub fn ids(&self) -> (String, String, i64) {
        let ids = self.ids.lock();
        (ids.replid.clone(), ids.replid2.clone(), ids.second_offset)
    }

    /// master_repl_offset.
    pub fn offset(&self) -> u64 {
        self.offset_now.load(Relaxed)
    }

    /// Appends what ran, with its shard locks held (as `Aof::append`).
    pub fn append(&self, shared: &Shared, ops: &[Op]) {
        if ops.is_empty() {
            return;
        }
        let mut feed = self.feed.lock();
        let mut bytes = Vec::new();
        let wrap = ops.len() > 1;
        for (i, op) in ops.iter().enumerate() {
            if feed.last_db != Some(op.db) {
                let db = op.db.to_string();
                encode_command(&mut bytes, [&b"SELECT"[..], db.as_bytes()].into_iter());
                feed.last_db = Some(op.db);
                feed.stream_db = op.db;
            }
            if wrap && i == 0 {
                encode_command(&mut bytes, [&b"MULTI"[..]].into_iter());
            }
            bytes.extend_from_slice(&op.record);
        }
        if wrap {
            encode_command(&mut bytes, [&b"EXEC"[..]].into_iter());
        }
        self.commit(shared, feed, &bytes);
    }

    /// Periodic work (thread 0's cron): a PING into the stream every
    /// repl-ping-replica-period seconds while replicas are connected, as
    /// Redis sends, so they see the link is alive.
    pub fn cron(&self, shared: &Shared) {
        self.free_idle_backlog(shared);
        self.failover_cron(shared);
        // A replica's replicas get its primary's PINGs, passed on with the
        // rest of the stream: one of its own would put its offsets ahead.
        if self.threads.load(Relaxed) == 0 || self.is_replica() {
            return;
        }
        // An online replica acknowledges every second; one silent for
        // repl-timeout seconds is disconnected, as Redis does.
        let timeout = shared.config.read().get("repl-timeout").parse::<u64>().unwrap_or(60);
        let now = crate::server::unix_ms();
        let keepalive = now.saturating_sub(self.last_keepalive_ms.load(Relaxed)) >= 1000;
        if keepalive {
            self.last_keepalive_ms.store(now, Relaxed);
        }
        for r in self.replicas.lock().iter_mut() {
            if r.state == State::Online && r.ack_at.elapsed().as_secs() > timeout {
                log::warn!("Disconnecting timedout replica: {}:{}", r.ip, r.listening_port);
                shared.mailboxes[r.thread].send(crate::net::mailbox::Message::Kill(r.client_id));
            }
            // A replica that takes nothing of a diskless transfer holds
            // back every replica of it (and the child): dropped after
            // repl-timeout, as Redis drops it.
            if matches!(r.state, State::Transfer { .. }) && r.transfer_moved.elapsed().as_secs() > timeout {
                log::warn!("Disconnecting timedout replica (streaming sync): {}:{}", r.ip, r.listening_port);
                shared.mailboxes[r.thread].send(crate::net::mailbox::Message::Kill(r.client_id));
            }
            // A replica waiting for its snapshot gets a newline every
            // second, which it takes as a sign of life (as from Redis).
            if keepalive && matches!(r.state, State::WaitBgsave | State::WaitBgsaveEnd { .. }) {
                r.preamble.push(b'\n');
                shared.mailboxes[r.thread].nudge();
            }
        }
        let period_ms = shared.config.read().get("repl-ping-replica-period").parse::<u64>().unwrap_or(10) * 1000;
        if now.saturating_sub(self.last_ping_ms.load(Relaxed)) >= period_ms {
            self.last_ping_ms.store(now, Relaxed);
            self.ping(shared);
        }
    }

    /// A primary without replicas for repl-backlog-ttl seconds (0: never)
    /// frees its backlog and stops feeding it, as Redis does; the next
    /// replica gets a full resync.
    fn free_idle_backlog(&self, shared: &Shared) {
        let since = self.alone_since_ms.load(Relaxed);
        if since == 0 || !self.is_active() || self.is_replica() {
            return;
        }
        let ttl = shared.config.read().get("repl-backlog-ttl").parse::<u64>().unwrap_or(3600);
        if ttl == 0 || crate::server::unix_ms().saturating_sub(since) < ttl * 1000 {
            return;
        }
        crate::persist::with_all_shards_mut(shared, |shards| {
            // Checked again with writes held off: a replica may have come.
            if !self.replicas.lock().is_empty() {
                return;
            }
            self.active.store(false, Relaxed);
            self.alone_since_ms.store(0, Relaxed);
            if !shared.aof.is_on() {
                crate::persist::rewrite::log_expired(shards, false);
            }
            let mut feed = self.feed.lock();
            feed.buf = VecDeque::new();
            feed.last_db = None;
            // Writes from now on are not in the stream: a replica that
            // comes back under the old id must not resume as if it had
            // missed nothing.
            *self.ids.lock() =
                Ids { replid: crate::server::random_hex(40), replid2: "0".repeat(40), second_offset: -1 };
            log::info!("Replication backlog freed after {ttl} seconds without connected replicas.");
        });
    }

    fn ping(&self, shared: &Shared) {
        self.push_command(shared, &[b"PING"]);
    }

    /// Asks every replica to acknowledge its offset now (WAIT), rather
    /// than at its next once-a-second ACK.
    pub fn request_acks(&self, shared: &Shared, thread: usize) {
        self.wait_threads.fetch_or(1 << thread.min(63), Relaxed);
        self.push_command(shared, &[b"REPLCONF", b"GETACK", b"*"]);
    }

    /// Appends a command that belongs to no database.
    fn push_command(&self, shared: &Shared, args: &[&[u8]]) {
        let mut bytes = Vec::new();
        encode_command(&mut bytes, args.iter().copied());
        self.commit(shared, self.feed.lock(), &bytes);
    }

    /// Whether writes may run: min-replicas-to-write is 0, or as many
    /// replicas are online and acknowledged within min-replicas-max-lag
    /// seconds.
    pub fn enough_good_replicas(&self, shared: &Shared) -> bool {
        let wanted = shared.hot.min_replicas.load(Relaxed);
        wanted == 0 || self.good_replicas(shared) >= wanted
    }

    /// Replicas online that acknowledged within min-replicas-max-lag
    /// seconds (INFO's min_slaves_good_slaves).
    pub fn good_replicas(&self, shared: &Shared) -> usize {
        let max_lag = shared.hot.min_replicas_max_lag.load(Relaxed);
        self.replicas
            .lock()
            .iter()
            .filter(|r| r.state == State::Online && r.ack_at.elapsed().as_secs() <= max_lag)
            .count()
    }

    /// Replicas that have not acknowledged the whole stream (a shutdown
    /// waits for them).
    pub fn lagging_replicas(&self) -> usize {
        let offset = self.offset();
        self.replicas.lock().iter().filter(|r| r.ack < offset).count()
    }

    /// How many replicas have acknowledged stream offset `offset`.
    pub fn count_acked(&self, offset: u64) -> usize {
        self.replicas.lock().iter().filter(|r| r.state == State::Online && r.ack >= offset).count()
    }

    fn wake_replica_threads(&self, shared: &Shared) {
        let mut threads = self.threads.load(Relaxed);
        while threads != 0 {
            let t = threads.trailing_zeros() as usize;
            threads &= threads - 1;
            shared.mailboxes[t].nudge();
        }
    }

    /// After the replica list changed: which threads serve replicas, and
    /// what the buffer must keep.
    fn replicas_changed(&self, replicas: &[Replica], feed: &mut Feed) {
        let threads = replicas.iter().fold(0u64, |m, r| m | (1u64 << r.thread.min(63)));
        self.threads.store(threads, Relaxed);
        feed.refresh_needed(replicas);
    }

    /// REPLCONF ACK from a replica; threads with clients in WAIT look
    /// again.
    pub fn acked(&self, shared: &Shared, client_id: u64, offset: u64) {
        if let Some(r) = self.replicas.lock().iter_mut().find(|r| r.client_id == client_id) {
            r.ack = offset;
            r.ack_at = Instant::now();
            if let State::AwaitAck { offset } = r.state {
                // It has loaded the diskless transfer: the stream follows.
                r.state = State::Online;
                r.sent = offset;
                r.transfer = None;
                log::info!("Synchronization with replica {}:{} succeeded", r.ip, r.listening_port);
                shared.mailboxes[r.thread].nudge();
            }
        }
        let mut threads = self.wait_threads.load(Relaxed);
        while threads != 0 {
            let t = threads.trailing_zeros() as usize;
            threads &= threads - 1;
            shared.mailboxes[t].nudge();
        }
    }

    /// A replica's connection closed.
    pub fn gone(&self, client_id: u64) {
        let mut replicas = self.replicas.lock();
        if let Some(i) = replicas.iter().position(|r| r.client_id == client_id) {
            let r = replicas.remove(i);
            if let Some(t) = &r.transfer {
                t.leave(client_id);
            }
            log::info!("Connection with replica {}:{} lost.", r.ip, r.listening_port);
            self.replicas_changed(&replicas, &mut self.feed.lock());
            if replicas.is_empty() {
                self.alone_since_ms.store(crate::server::unix_ms().max(1), Relaxed);
            }
        }
    }

    /// INFO replication's figures.
    pub fn info(&self) -> Info {
        let replicas = self.replicas.lock();
        let feed = self.feed.lock();
        let lines = replicas
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "slave{i}:ip={},port={},state={},offset={},lag={}",
                    r.ip,
                    r.listening_port,
                    r.state.info_name(),
                    r.ack,
                    r.ack_at.elapsed().as_secs()
                )
            })
            .collect();
        Info {
            replicas: lines,
            offset: feed.offset,
            first_byte: feed.first() + 1,
            histlen: feed.buf.len() as u64,
            active: self.is_active(),
        }
    }

    /// ROLE's replicas: (ip, port, acknowledged offset) of those online.
    pub fn online(&self) -> Vec<(String, u16, u64)> {
        self.replicas
            .lock()
            .iter()
            .filter(|r| r.state == State::Online)
            .map(|r| (r.ip.clone(), r.listening_port, r.ack))
            .collect()
    }
}

/// Appends `take` bytes of `buf` from index `from` to `out`.
fn copy_out(buf: &VecDeque<u8>, from: usize, take: usize, out: &mut Vec<u8>) {
    let (a, b) = buf.as_slices();
    let end = from + take;
    if from < a.len() {
        out.extend_from_slice(&a[from..end.min(a.len())]);
    }
    if end > a.len() {
        out.extend_from_slice(&b[from.saturating_sub(a.len())..end - a.len()]);
    }
}

impl Replica {
    /// The stream position it still needs from the buffer.
    fn position(&self) -> u64 {
        match self.state {
            State::WaitBgsaveEnd { offset }
            | State::RdbReady { offset }
            | State::SendingRdb { offset }
            | State::Transfer { offset }
            | State::AwaitAck { offset } => offset,
            State::Online => self.sent,
            State::WaitBgsave | State::Failed => u64::MAX,
        }
    }

    pub fn new(client_id: u64, thread: usize, ip: String, listening_port: u16, eof_capable: bool) -> Self {
        Replica {
            client_id,
            thread,
            ip,
            listening_port,
            eof_capable,
            asked_at: Instant::now(),
            state: State::WaitBgsave,
            transfer: None,
            transfer_moved: Instant::now(),
            preamble: Vec::new(),
            sent: 0,
            ack: 0,
            ack_at: Instant::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_out_reads_across_the_buffers_wrap() {
        let mut buf: VecDeque<u8> = VecDeque::with_capacity(8);
        buf.extend(b"xxxxab");
        buf.drain(..4);
        buf.extend(b"cdefg");
        assert!(!buf.as_slices().1.is_empty(), "the test needs a wrapped buffer");
        for from in 0..buf.len() {
            for take in 0..=buf.len() - from {
                let mut out = b"!".to_vec();
                copy_out(&buf, from, take, &mut out);
                assert_eq!(&out[1..], &b"abcdefg"[from..from + take], "from {from} take {take}");
            }
        }
    }

    #[test]
    fn save_info_comes_from_a_files_aux_fields() {
        let aux = |pairs: &[(&str, &str)]| -> Vec<(Vec<u8>, Vec<u8>)> {
            pairs.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
        };
        let id = "a".repeat(40);
        let full = aux(&[("repl-stream-db", "3"), ("repl-id", &id), ("repl-offset", "99")]);
        assert_eq!(SaveInfo::from_aux(&full, 16), Some(SaveInfo { stream_db: 3, replid: id.clone(), offset: 99 }));
        assert_eq!(SaveInfo::from_aux(&full, 2).map(|i| i.stream_db), Some(1));
        assert_eq!(SaveInfo::from_aux(&aux(&[("repl-id", &id)]), 16), None);
        assert_eq!(SaveInfo::from_aux(&aux(&[("repl-id", "short"), ("repl-offset", "1")]), 16), None);
    }
}
