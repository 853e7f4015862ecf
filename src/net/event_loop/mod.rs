//! One event loop per thread: a `mio::Poll` over this thread's listener,
//! its mailbox waker and the connections the kernel handed to it.
//! Edge-triggered: accept, read and write until WouldBlock, or until a
//! turn's budget, after which the connection waits in `ready` for its next
//! turn. The loop never blocks on anything but `poll`.
//!
//! How throughput should scale with threads (this machine has 2 cores and
//! the benchmark client takes one, so it cannot show it; `scripts/bench
//! --cores` runs the suite on a bigger one): the kernel spreads connections
//! over the threads' SO_REUSEPORT listeners, and a thread's work per
//! request is parsing, one shard lock and its handler, and its share of
//! the syscalls. So requests per second should grow close to linearly
//! with threads, as long as
//! - shards outnumber threads enough that two threads rarely want the
//!   same shard at once (`--shards`, by default one per thread: raise it
//!   before anything else if lock waits show up in a profile);
//! - commands hold their locks briefly: a lock is never held across a
//!   turn, but MULTI/EXEC, scripts, KEYS and FLUSHALL hold every shard
//!   while they run and serialise every thread meanwhile;
//! - nothing shared is written per request: statistics are per thread
//!   (`stats.rs`, `memory.rs`), and the AOF stream's mutex is taken once
//!   per write command only when the AOF is on.
//!
//! Pub/sub delivery and served blocked clients cross threads through
//! mailboxes, one wake-up per batch.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use super::connection::{Connection, ReadState};
use super::mailbox::Message;
use crate::client::{Client, ClientMeta};
use crate::persist::aof::Op;
use crate::resp::Reply;
use crate::server::{unix_ms, Shared};
use crate::stats::bump;
use crate::store::expiry::{self, ExpiryCursor};

mod replication;
mod waiting;

const WAKER: Token = Token(0);
/// Listener tokens are 1..=LISTENERS_MAX; connections come after.
const LISTENERS_MAX: usize = 64;
const FIRST_CONN: usize = LISTENERS_MAX + 1;
/// Longest a shutdown waits for replies in flight to be written.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Buckets of a pending table resize moved per database per cron tick.
const REHASH_STEPS_PER_CRON: usize = 1000;
/// The longest the active expiry cycle runs before the loop serves its
/// clients again. A cron period's expiry budget (25% of it, as Redis
/// gives its slow cycle) is spent in slices this long, one a turn, so a
/// mass of keys expiring at once delays a request by about a slice rather
/// than by the whole 25 ms a single run would take.
const EXPIRE_SLICE: Duration = Duration::from_millis(1);
/// Times a turn refills replicas whose sockets took all they were given
/// (up to a megabyte each time).
const MORE_REPLICA_ROUNDS: usize = 8;
/// How often thread 0 looks for the end of a snapshot replicas wait for.
const SNAPSHOT_POLL: Duration = Duration::from_millis(2);
/// How often, at least, a loop turns while eviction has work left.
const EVICT_PERIOD: Duration = Duration::from_millis(1);

pub struct EventLoop {
    index: usize,
    poll: Poll,
    listeners: Vec<TcpListener>,
    /// Boxed: a connection is taken out of here and put back for every
    /// turn that runs its commands, which moves only the pointer.
    conns: Vec<Option<Box<Connection>>>,
    free: Vec<usize>,
    by_client: HashMap<u64, usize>,
    ready: VecDeque<usize>,
    /// Connections served this iteration whose replies are still to write.
    to_flush: Vec<usize>,
    /// Blocked clients with a timeout: (deadline in unix ms, client id).
    timers: BTreeSet<(u64, u64)>,
    shared: Arc<Shared>,
    /// The shards whose active expiry and rehashing this thread runs.
    owned_shards: Vec<usize>,
    expiry_cursor: ExpiryCursor,
    /// What remains of this cron period's active expiry budget.
    expire_budget: Duration,
    /// The last expiry slice ran out of time with keys still expiring: run
    /// another next turn.
    expire_more: bool,
    shutting_down: Option<Instant>,
    last_client_check: Instant,
    /// The connection whose commands are running, taken out of `conns`
    /// meanwhile, so a busy script's hook can serve the others.
    running: Option<usize>,
    /// What `serve_while_busy` saw and left for after the script: an
    /// event on the running connection (and whether its peer closed), and
    /// mail.
    running_event: Option<bool>,
    mail_waiting: bool,
    /// This turn's events not yet handled: (token, peer closed or error).
    events: VecDeque<(Token, bool)>,
    /// Connections whose replies wait for the AOF (appendfsync always).
    held: Vec<usize>,
    /// Connections whose next command waits for a pause to end, and the
    /// pause's generation when they were last let go.
    paused: Vec<usize>,
    pause_seen: u64,
    /// Connections of replicas fed from this thread.
    replicas: Vec<usize>,
    /// Connections of clients in WAIT.
    ack_waiters: Vec<usize>,
}

thread_local! {
    /// This thread's event loop while a connection's commands run; null
    /// otherwise, and while `serve_while_busy` uses it.
    static SERVING: Cell<*mut EventLoop> = const { Cell::new(std::ptr::null_mut()) };
}

/// Serves this thread's connections from inside a long script (its
/// instruction hook calls this once the script is past
/// busy-reply-threshold): their commands get BUSY, or run if they are
/// among the few allowed meanwhile (SCRIPT KILL, SHUTDOWN NOSAVE, ...).
/// Redis does the same from its script hook; without it, clients that
/// share the script's thread would hear nothing until it ended.
pub fn serve_while_busy() {
    let ptr = SERVING.with(|s| s.replace(std::ptr::null_mut()));
    if ptr.is_null() {
        return;
    }
    // SAFETY: `EventLoop::run_commands` set `ptr` from its `&mut self`
    // just before running a connection's commands and clears it right
    // after, without touching `self` in between (the connection, the
    // shared state and the stats it passes are not borrowed from it), so
    // this is the only live reference to the loop until the pointer is
    // put back below. The running connection is out of `conns`, and the
    // script's state lives outside the loop.
    let this = unsafe { &mut *ptr };
    this.serve_events_while_busy();
    SERVING.with(|s| s.set(ptr));
}

impl EventLoop {
    pub fn new(index: usize, poll: Poll, mut listeners: Vec<TcpListener>, shared: Arc<Shared>) -> io::Result<Self> {
        assert!(listeners.len() <= LISTENERS_MAX);
        for (i, l) in listeners.iter_mut().enumerate() {
            poll.registry().register(l, Token(1 + i), Interest::READABLE)?;
        }
        let threads = shared.threads;
        let owned_shards = (0..shared.store.shard_count()).filter(|s| s % threads == index).collect();
        Ok(EventLoop {
            index,
            poll,
            listeners,
            conns: Vec::new(),
            free: Vec::new(),
            by_client: HashMap::new(),
            ready: VecDeque::new(),
            to_flush: Vec::new(),
            timers: BTreeSet::new(),
            shared,
            owned_shards,
            expiry_cursor: ExpiryCursor::default(),
            expire_budget: Duration::ZERO,
            expire_more: false,
            shutting_down: None,
            last_client_check: Instant::now(),
            running: None,
            running_event: None,
            mail_waiting: false,
            events: VecDeque::with_capacity(1024),
            held: Vec::new(),
            paused: Vec::new(),
            pause_seen: 0,
            replicas: Vec::new(),
            ack_waiters: Vec::new(),
        })
    }

    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut next_cron = Instant::now();
        loop {
            let now = Instant::now();
            let mut timeout = if self.ready.is_empty() && !self.expire_more {
                next_cron.saturating_duration_since(now)
            } else {
                Duration::ZERO
            };
            if let Some(&(deadline, _)) = self.timers.first() {
                timeout = timeout.min(Duration::from_millis(deadline.saturating_sub(unix_ms())));
            }
            if self.shared.evictor.pending() {
                // Eviction left for later goes on every millisecond at
                // least, whether or not clients send anything.
                timeout = timeout.min(EVICT_PERIOD);
            }
            let snapshot_awaited = self.index == 0 && self.shared.repl.waiting_for_snapshot_end();
            if snapshot_awaited {
                // The replicas' snapshot is collected as soon as it ends.
                timeout = timeout.min(SNAPSHOT_POLL);
            }
            if !self.paused.is_empty() {
                // Clients a CLIENT PAUSE holds go on when it ends.
                let now_ms = unix_ms();
                if let Some(until) = self.shared.pause.deadline(now_ms) {
                    timeout = timeout.min(Duration::from_millis(until - now_ms));
                }
            }
            if let Some(deadline) = self.next_ack_deadline() {
                timeout = timeout.min(Duration::from_millis(deadline.saturating_sub(unix_ms())));
            }
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("event loop {} poll failed: {e}", self.index);
                    return;
                }
            }
            // Queued, not iterated: a busy script's hook takes up the
            // events this turn has not reached yet.
            self.events.extend(events.iter().map(|e| (e.token(), e.is_read_closed() || e.is_error())));
            while let Some((token, closed)) = self.events.pop_front() {
                match token {
                    WAKER => self.read_mailbox(),
                    Token(t) if t < FIRST_CONN => self.accept(t - 1),
                    Token(t) => {
                        let idx = t - FIRST_CONN;
                        if closed {
                            if let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) {
                                conn.peer_closed = true;
                            }
                        }
                        self.serve(idx)
                    }
                }
            }
            if snapshot_awaited {
                crate::persist::poll_child(&self.shared);
            }
            self.answer_ack_waiters();
            self.release_paused();
            self.serve_ready();
            self.pump_replicas();
            self.flush_served();
            // A replica whose socket took everything gets more at once (a
            // snapshot file goes out at the socket's pace, not a chunk per
            // wake-up); one whose socket is full wakes the loop when it
            // drains.
            for _ in 0..MORE_REPLICA_ROUNDS {
                if !self.pump_replicas() {
                    break;
                }
                self.flush_served();
            }
            self.expire_blocked();
            if self.expire_more {
                self.expire_slice();
            }
            if self.shared.evictor.pending() {
                crate::evict::perform(&self.shared);
            }
            if Instant::now() >= next_cron {
                self.cron();
                next_cron = Instant::now() + Duration::from_millis(1000 / self.shared.hot.hz.load(Relaxed).max(1));
            }
            // What this turn appended goes to the AOF writer as one batch.
            self.shared.aof.kick();
            if let Some(since) = self.shutting_down {
                if self.by_client.is_empty() || since.elapsed() > SHUTDOWN_GRACE {
                    return;
                }
            }
        }
    }

    /// A turn for each connection that wanted another.
    fn serve_ready(&mut self) {
        for _ in 0..self.ready.len() {
            let Some(idx) = self.ready.pop_front() else {
                break;
            };
            if let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) {
                conn.scheduled = false;
                self.serve(idx);
            }
        }
    }

    fn stats(&self) -> &crate::stats::ThreadStats {
        &self.shared.stats[self.index]
    }

    fn accept(&mut self, listener: usize) {
        loop {
            let (stream, peer) = match self.listeners[listener].accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    return;
                }
            };
            bump(&self.stats().connections, 1);
            if self.shared.clients.len() >= self.shared.hot.maxclients.load(Relaxed) {
                let mut out = Vec::new();
                Reply::new(&mut out).error(&crate::commands::Error::MaxClients.to_string());
                let _ = std::io::Write::write(&mut &stream, &out);
                bump(&self.stats().rejected_connections, 1);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
            let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
            let id = self.shared.clients.next_id();
            let meta = Arc::new(ClientMeta::new(id, peer.to_string(), laddr, fd, self.index));
            let authenticated = self.shared.config.read().requirepass().is_empty();
            let mut conn = Connection::new(stream, Client::new(meta.clone(), authenticated));
            let idx = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            if let Err(e) = self.poll.registry().register(
                &mut conn.stream,
                Token(idx + FIRST_CONN),
                Interest::READABLE | Interest::WRITABLE,
            ) {
                log::warn!("register failed: {e}");
                self.free.push(idx);
                continue;
            }
            self.shared.clients.add(meta);
            self.by_client.insert(id, idx);
            self.conns[idx] = Some(Box::new(conn));
        }
    }

    /// One turn for a connection: read and run what arrived. Its replies
    /// are written by `flush_served`, once every connection with an event
    /// has had its turn: clients then get their replies in one burst, and
    /// a client's own loop wakes once for many of them, as with Redis,
    /// which writes replies just before it waits for events again.
    fn serve(&mut self, idx: usize) {
        let shared = self.shared.clone();
        let stats = &shared.stats[self.index];
        let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        if conn.client.meta.killed.load(Relaxed) {
            self.close(idx);
            return;
        }
        if conn.paused() {
            // Readable events are not acted on while paused: assume unread
            // input, so a turn reads it once the output drains.
            conn.more_to_read = true;
        }
        if !conn.closing && !conn.paused() {
            match conn.fill(stats) {
                Ok(ReadState::Drained) => conn.more_to_read = false,
                Ok(ReadState::More) => conn.more_to_read = true,
                Ok(ReadState::Eof) | Err(_) => conn.saw_eof = true,
            }
            if conn.pending_input() as u64 > shared.hot.query_buffer_limit.load(Relaxed) {
                log::warn!("closing client {}: query buffer over client-query-buffer-limit", conn.client.id);
                self.close(idx);
                return;
            }
            let was_blocked = conn.client.blocked.is_some();
            if self.running.is_some() {
                // Called from a busy script's hook.
                conn.run_commands(&shared, stats);
            } else {
                self.run_commands(idx, &shared, stats);
            }
            let conn = conn_mut(&mut self.conns, idx);
            if conn.client.replica.is_some() && !self.replicas.contains(&idx) {
                self.replicas.push(idx);
            }
            if conn.client.waiting_acks.is_some() && !self.ack_waiters.contains(&idx) {
                self.ack_waiters.push(idx);
            }
            if let (false, Some(waiter)) = (was_blocked, &conn.client.blocked) {
                if let Some(deadline) = waiter.deadline_ms {
                    self.timers.insert((deadline, waiter.client_id));
                }
            }
            if conn.is_held() {
                self.hold(idx);
            }
        }
        let conn = conn_mut(&mut self.conns, idx);
        if !conn.flush_queued {
            conn.flush_queued = true;
            self.to_flush.push(idx);
        }
    }

    /// Runs a connection's commands with the connection out of `conns` and
    /// the loop published for `serve_while_busy`; then takes in what that
    /// saw meanwhile.
    fn run_commands(&mut self, idx: usize, shared: &Shared, stats: &crate::stats::ThreadStats) {
        let mut conn = self.conns[idx].take().expect("live connection");
        self.running = Some(idx);
        SERVING.with(|s| s.set(self as *mut EventLoop));
        conn.run_commands(shared, stats);
        SERVING.with(|s| s.set(std::ptr::null_mut()));
        self.running = None;
        if let Some(closed) = self.running_event.take() {
            conn.more_to_read = true;
            conn.peer_closed |= closed;
        }
        self.conns[idx] = Some(conn);
        if std::mem::take(&mut self.mail_waiting) {
            self.read_mailbox();
        }
    }

    /// `serve_while_busy`'s work: polls without waiting, then accepts, and
    /// serves and flushes every connection with an event or a turn due,
    /// but the running one, whose events (and the mailbox's) wait for the
    /// script's end.
    fn serve_events_while_busy(&mut self) {
        let mut events = Events::with_capacity(256);
        if self.poll.poll(&mut events, Some(Duration::ZERO)).is_ok() {
            self.events.extend(events.iter().map(|e| (e.token(), e.is_read_closed() || e.is_error())));
        }
        while let Some((token, closed)) = self.events.pop_front() {
            match token {
                WAKER => self.mail_waiting = true,
                Token(t) if t < FIRST_CONN => self.accept(t - 1),
                Token(t) => {
                    let idx = t - FIRST_CONN;
                    if Some(idx) == self.running {
                        self.running_event = Some(self.running_event.unwrap_or(false) | closed);
                    } else if let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) {
                        conn.peer_closed |= closed;
                        self.serve(idx);
                    }
                }
            }
        }
        self.serve_ready();
        // Written now, not at the end of the loop turn the script is in.
        let running = self.running;
        let mut to_flush = std::mem::take(&mut self.to_flush);
        to_flush.retain(|&idx| {
            if Some(idx) == running {
                return true;
            }
            if let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) {
                conn.flush_queued = false;
                self.finish_turn(idx);
            }
            false
        });
        to_flush.append(&mut self.to_flush);
        self.to_flush = to_flush;
    }

    /// Writes the replies of the connections served this iteration, and
    /// decides for each whether it needs another turn or is done.
    fn flush_served(&mut self) {
        let mut to_flush = std::mem::take(&mut self.to_flush);
        for &idx in &to_flush {
            if let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) {
                conn.flush_queued = false;
                self.finish_turn(idx);
            }
        }
        to_flush.clear();
        self.to_flush = to_flush;
    }

    fn finish_turn(&mut self, idx: usize) {
        let conn = conn_mut(&mut self.conns, idx);
        let eof = conn.saw_eof;
        let flushed = match conn.flush(&self.shared.stats[self.index]) {
            Ok(done) => done,
            Err(_) => {
                self.close(idx);
                return;
            }
        };
        // A replica that hung up reads nothing more: what it was due goes
        // with its connection, at once.
        let gone = eof && (flushed || conn_ref(&self.conns, idx).client.replica.is_some());
        if self.over_output_limit(idx) || (conn_ref(&self.conns, idx).closing && flushed) || gone {
            self.close(idx);
            return;
        }
        let conn = conn_mut(&mut self.conns, idx);
        if eof {
            // The peer stopped sending; finish writing, then close.
            conn.closing = true;
        }
        if conn.client.pause_wait {
            self.park_paused(idx);
            return;
        }
        let wants_turn = !conn.closing && !conn.paused() && (conn.more_to_read || conn.more_to_run);
        if wants_turn && !conn.scheduled {
            conn.scheduled = true;
            self.ready.push_back(idx);
        }
    }

    /// Applies client-output-buffer-limit for normal clients (inlined:
    /// `finish_turn` runs for every request).
    #[inline(always)]
    fn over_output_limit(&mut self, idx: usize) -> bool {
        let conn = conn_mut(&mut self.conns, idx);
        let (hard, soft, soft_secs) = if conn.client.subscriptions() > 0 {
            self.shared.pubsub_output_limit()
        } else {
            self.shared.normal_output_limit()
        };
        let pending = conn.pending_output() as u64;
        if hard > 0 && pending >= hard {
            log::warn!("closing client {}: output buffer over the hard limit", conn.client.id);
            return true;
        }
        if soft > 0 && pending >= soft {
            let since = *conn.soft_limit_since.get_or_insert_with(Instant::now);
            if since.elapsed().as_secs() >= soft_secs {
                log::warn!("closing client {}: output buffer over the soft limit", conn.client.id);
                return true;
            }
        } else {
            conn.soft_limit_since = None;
        }
        false
    }

    fn close(&mut self, idx: usize) {
        if let Some(mut conn) = self.conns[idx].take() {
            if let Some(waiter) = conn.client.blocked.take() {
                // A reply a push sent meanwhile finds no one and is dropped,
                // as when a served client disconnects before reading it.
                waiter.claim();
                waiting::unblocked(&mut self.timers, &self.shared, &conn.client, &waiter);
            }
            if conn.client.replica.is_some() {
                self.shared.repl.gone(conn.client.id);
                self.replicas.retain(|&r| r != idx);
            }
            self.ack_waiters.retain(|&r| r != idx);
            crate::commands::multi::forget(&self.shared, &mut conn.client);
            crate::commands::pubsub::forget(&self.shared, &mut conn.client);
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.shared.clients.remove(conn.client.id);
            self.by_client.remove(&conn.client.id);
            self.free.push(idx);
        }
    }

    fn read_mailbox(&mut self) {
        let messages: Vec<Message> = self.shared.mailboxes[self.index].drain().collect();
        for msg in messages {
            match msg {
                Message::Shutdown => self.begin_shutdown(),
                Message::Kill(id) => {
                    if let Some(&idx) = self.by_client.get(&id) {
                        self.close(idx);
                    }
                }
                Message::ShutdownFailed { client_id, reply } => {
                    if let Some(&idx) = self.by_client.get(&client_id) {
                        let conn = conn_mut(&mut self.conns, idx);
                        conn.client.shutdown_wait = false;
                        conn.wbuf.extend_from_slice(&reply);
                        conn.more_to_run = true;
                        if !conn.scheduled {
                            conn.scheduled = true;
                            self.ready.push_back(idx);
                        }
                    }
                }
                Message::UnblockAndClose { client_id, reply } => {
                    if let Some(&idx) = self.by_client.get(&client_id) {
                        self.finish_block(idx, &reply, None);
                        conn_mut(&mut self.conns, idx).closing = true;
                    }
                }
                Message::Unblock { client_id, reply, aof_offset } => {
                    if let Some(&idx) = self.by_client.get(&client_id) {
                        self.finish_block(idx, &reply, aof_offset);
                    }
                }
                Message::Publish(delivery) => self.deliver(&delivery),
                Message::AofSynced => self.release_held(),
            }
        }
    }

    /// Writes a published message to the subscribers it names that still
    /// listen; their loop turn writes it out with their other replies.
    fn deliver(&mut self, delivery: &crate::pubsub::Delivery) {
        use crate::pubsub::Kind;
        for id in &delivery.clients {
            let Some(&idx) = self.by_client.get(id) else { continue };
            let conn = conn_mut(&mut self.conns, idx);
            let names = match delivery.kind {
                Kind::Channel => &conn.client.channels,
                Kind::Pattern => &conn.client.patterns,
            };
            if !names.iter().any(|n| **n == *delivery.to) {
                continue;
            }
            conn.wbuf.extend_from_slice(&delivery.frame);
            if !conn.flush_queued {
                conn.flush_queued = true;
                self.to_flush.push(idx);
            }
        }
    }

    fn begin_shutdown(&mut self) {
        if self.shutting_down.is_some() {
            return;
        }
        self.shutting_down = Some(Instant::now());
        for mut l in self.listeners.drain(..) {
            let _ = self.poll.registry().deregister(&mut l);
        }
        let live: Vec<usize> = self.by_client.values().copied().collect();
        for idx in live {
            let conn = conn_mut(&mut self.conns, idx);
            conn.closing = true;
            match conn.flush(&self.shared.stats[self.index]) {
                Ok(false) => {}
                _ => self.close(idx),
            }
        }
    }

    /// One slice of the active expiry cycle, within what is left of the
    /// period's budget (see `EXPIRE_SLICE`).
    fn expire_slice(&mut self) {
        self.expire_more = false;
        // A replica's keys go when its primary's DEL arrives.
        if !self.shared.hot.active_expire.load(Relaxed)
            || self.expire_budget.is_zero()
            || self.shared.repl.is_replica()
            || self.shared.pause.active()
            || self.shared.persist.is_loading()
        {
            return;
        }
        let slice = EXPIRE_SLICE.min(self.expire_budget);
        let started = Instant::now();
        expiry::active_expire_cycle(
            &self.shared.store,
            &self.owned_shards,
            &mut self.expiry_cursor,
            slice,
            crate::server::unix_ms,
            |index, db| {
                if db.log_events != 0 {
                    crate::notify::emit_logged(&self.shared, db.take_events(), index);
                }
                // Recorded while the shard is locked, like any write.
                if db.has_expired_log() {
                    let ops: Vec<Op> = db.take_expired().iter().map(|k| Op::new(index, &[&b"DEL"[..], k])).collect();
                    self.shared.propagate(&ops);
                }
            },
        );
        let took = started.elapsed();
        self.shared.latency.observe("expire-cycle", took);
        self.expire_budget = self.expire_budget.saturating_sub(took);
        self.expire_more = took >= slice && !self.expire_budget.is_zero();
    }

    /// Periodic work: active expiry and table resizes for the shards this
    /// thread owns, and idle-client timeouts.
    fn cron(&mut self) {
        let hz = self.shared.hot.hz.load(Relaxed).max(1);
        self.expire_budget = Duration::from_micros(1_000_000 / hz * expiry::BUDGET_PERCENT as u64 / 100);
        self.expire_slice();
        for &s in &self.owned_shards {
            // Skipped while someone holds it (a long script): never wait.
            let Some(mut shard) = self.shared.store.try_lock(s) else { continue };
            for db in shard.dbs.iter_mut() {
                db.rehash(REHASH_STEPS_PER_CRON);
            }
        }
        if self.index == 0 {
            self.shared.sample_ops();
            self.shared.repl.cron(&self.shared);
            // Saves wait until the files are loaded.
            if !self.shared.persist.is_loading() {
                crate::persist::cron(&self.shared);
            }
        }
        if self.last_client_check.elapsed() >= Duration::from_secs(1) {
            self.last_client_check = Instant::now();
            let timeout = self.shared.hot.timeout_secs.load(Relaxed);
            if timeout > 0 {
                let idle: Vec<usize> = self
                    .by_client
                    .values()
                    .copied()
                    .filter(|&i| {
                        // A blocked client waits on purpose, as in Redis.
                        let client = &conn_ref(&self.conns, i).client;
                        client.blocked.is_none() && client.meta.idle_secs() >= timeout
                    })
                    .collect();
                for idx in idle {
                    self.close(idx);
                }
            }
        }
    }
}

fn conn_ref(conns: &[Option<Box<Connection>>], idx: usize) -> &Connection {
    conns[idx].as_ref().expect("live connection")
}

fn conn_mut(conns: &mut [Option<Box<Connection>>], idx: usize) -> &mut Connection {
    conns[idx].as_mut().expect("live connection")
}
