//! One client connection: its socket, read buffer and parser, and output
//! buffer. Reads are bounded per turn so a client that pipelines without
//! pause shares its thread fairly; output above `OUTPUT_PAUSE` stops the
//! reading of new commands until the client drains it, so a client that
//! never reads cannot make the server's memory grow without bound.

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering::Relaxed;

use mio::net::TcpStream;

use crate::client::Client;
use crate::commands::{dispatch, Error};
use crate::resp::{ParseLimits, Reply, RequestParser};
use crate::server::{unix_ms, Shared};
use crate::stats::{bump, ThreadStats};

/// Read buffer size for a new connection, and what an idle one shrinks to.
const READ_CHUNK: usize = 16 * 1024;
/// New bytes read from one client per loop turn (more when a large bulk
/// is arriving).
const READ_PER_TURN: usize = 256 * 1024;
/// Commands run for one client per loop turn before others get a turn.
const COMMANDS_PER_TURN: usize = 4096;
/// Commands run between two readings of the clock (the time commands see
/// for expiry is read once per this many).
const COMMANDS_PER_CLOCK: usize = 64;
/// Commands run between checks of the turn's time budget.
const COMMANDS_PER_BUDGET_CHECK: usize = 4;
/// How long one client's commands may run before others get a turn: a
/// client pipelining heavy commands (MSET of hundreds of keys) must not
/// hold the loop for milliseconds. In nanoseconds (200 µs).
const TURN_BUDGET_NS: u64 = 200_000;
/// Pending output above which no more commands are read from the client.
pub const OUTPUT_PAUSE: usize = 4 * 1024 * 1024;
/// An output buffer with more capacity than this is shrunk once drained.
const OUTPUT_KEEP: usize = 1024 * 1024;

/// What a turn of reading found.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadState {
    /// The socket has no more data for now.
    Drained,
    /// The turn's budget was used; the socket may hold more.
    More,
    /// The peer closed its side.
    Eof,
}

pub struct Connection {
    pub stream: TcpStream,
    pub client: Client,
    parser: RequestParser,
    /// Bytes `rstart..rend` are received and not yet parsed; the rest of
    /// the vector is allocated space to read into.
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    pub wbuf: Vec<u8>,
    wpos: usize,
    /// Close once the output is flushed (QUIT, protocol error, shutdown).
    pub closing: bool,
    /// The socket may have unread bytes (a turn stopped on its budget).
    pub more_to_read: bool,
    /// The peer has shut down its side (or the socket failed): reads go on
    /// until they return the end, not just until a short read.
    pub peer_closed: bool,
    /// A read returned the end (or failed): finish writing, then close.
    pub saw_eof: bool,
    /// Waiting in the loop's list of replies to write this iteration.
    pub flush_queued: bool,
    /// Parsed commands wait in the buffer (a turn stopped on its budget).
    pub more_to_run: bool,
    /// Queued in the loop's ready list.
    pub scheduled: bool,
    /// When the output first went over the soft limit.
    pub soft_limit_since: Option<std::time::Instant>,
    /// Under appendfsync always: output from this position on waits until
    /// the AOF is durable up to `held_until`.
    held_from: Option<usize>,
    pub held_until: u64,
}

impl Connection {
    pub fn new(stream: TcpStream, client: Client) -> Self {
        Connection {
            stream,
            client,
            parser: RequestParser::new(),
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            wbuf: Vec::new(),
            wpos: 0,
            closing: false,
            more_to_read: false,
            peer_closed: false,
            saw_eof: false,
            flush_queued: false,
            more_to_run: false,
            scheduled: false,
            soft_limit_since: None,
            held_from: None,
            held_until: 0,
        }
    }

    /// Output from `at` on waits until the AOF is durable up to `offset`.
    pub fn hold_from(&mut self, at: usize, offset: u64) {
        self.held_from.get_or_insert(at);
        self.held_until = self.held_until.max(offset);
    }

    /// Replies wait for the AOF.
    pub fn is_held(&self) -> bool {
        self.held_from.is_some()
    }

    /// Lets held replies go once the AOF is durable up to `synced`; true
    /// when it did.
    pub fn release(&mut self, synced: u64) -> bool {
        if self.held_from.is_some() && self.held_until <= synced {
            self.held_from = None;
            self.held_until = 0;
            return true;
        }
        false
    }

    pub fn pending_output(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    pub fn pending_input(&self) -> usize {
        self.rend - self.rstart
    }

    pub fn paused(&self) -> bool {
        self.pending_output() > OUTPUT_PAUSE
    }

    /// Reads what the socket has, up to this turn's budget.
    pub fn fill(&mut self, stats: &ThreadStats) -> io::Result<ReadState> {
        if self.pending_input() >= READ_PER_TURN && self.pending_input() >= self.parser.needed_len() {
            // Whole commands wait unparsed already (a client pipelining
            // faster than its commands run): the socket keeps the rest
            // until they are used, so the buffer does not grow and every
            // turn does not move megabytes of it.
            return Ok(ReadState::More);
        }
        let mut read_this_turn = 0;
        loop {
            let needed = self.parser.needed_len();
            let budget = READ_PER_TURN.max(needed.saturating_sub(self.pending_input()).min(4 * READ_PER_TURN));
            if read_this_turn >= budget {
                return Ok(ReadState::More);
            }
            self.make_room(needed);
            let room = self.rbuf.len() - self.rend;
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => return Ok(ReadState::Eof),
                Ok(n) => {
                    self.rend += n;
                    read_this_turn += n;
                    bump(&stats.net_input, n as u64);
                    // A stream socket that fills less than the room asked
                    // for has nothing more queued (epoll(7)): data arriving
                    // after this read raises a new edge, so the read that
                    // would only return EAGAIN is skipped. A shutdown that
                    // came with the data raises no new edge, so then the
                    // reads go on to the end.
                    if n < room && !self.peer_closed {
                        return Ok(ReadState::Drained);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ReadState::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes free space after `rend`: moves unparsed bytes to the front,
    /// and grows the buffer when a command needs more than it holds.
    fn make_room(&mut self, needed: usize) {
        if self.rbuf.is_empty() {
            self.rbuf.resize(READ_CHUNK, 0);
        }
        if self.rend < self.rbuf.len() {
            return;
        }
        if self.rstart > 0 {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        if self.rend == self.rbuf.len() {
            let want = (self.rbuf.len() * 2).max(needed).max(READ_CHUNK);
            self.rbuf.resize(want, 0);
        }
    }

    /// Runs the complete commands in the read buffer, writing replies to
    /// the output buffer, until the input, the turn's budget or the output
    /// room runs out. While a script is busy, a command allowed meanwhile
    /// that would lock shards (WATCH) stops the turn and waits for the
    /// script's end: the script holds every shard.
    pub fn run_commands(&mut self, shared: &Shared, stats: &ThreadStats) {
        let limits = ParseLimits {
            max_bulk_len: shared.hot.max_bulk_len.load(Relaxed),
            auth_required: !self.client.authenticated,
        };
        self.more_to_run = false;
        let mut ran = 0;
        let mut now_ms = unix_ms();
        let turn_start = crate::stats::mono_ns();
        while self.rstart < self.rend
            && !self.closing
            && self.client.blocked.is_none()
            && self.client.waiting_acks.is_none()
            && !self.client.shutdown_wait
        {
            if ran == COMMANDS_PER_TURN
                || (ran > 0
                    && ran % COMMANDS_PER_BUDGET_CHECK == 0
                    && crate::stats::mono_ns().saturating_sub(turn_start) >= TURN_BUDGET_NS)
            {
                self.more_to_run = true;
                break;
            }
            if self.paused() {
                // Resume once the output drains.
                self.more_to_run = true;
                break;
            }
            let buf = &self.rbuf[self.rstart..self.rend];
            match self.parser.parse(buf, limits) {
                Ok(Some(consumed)) => {
                    let args = self.parser.args(buf);
                    let busy = shared.scripts.running.is_busy();
                    if busy && !args.is_empty() && dispatch::waits_for_busy_script(args) {
                        self.more_to_run = true;
                        break;
                    }
                    let holds = shared.pause.holds(now_ms);
                    if holds != crate::pause::Holds::Nothing
                        && !args.is_empty()
                        && dispatch::waits_for_pause(args, &self.client, holds)
                    {
                        // Left unread until the pause ends (the event loop
                        // keeps the client aside meanwhile).
                        self.client.pause_wait = true;
                        break;
                    }
                    if !args.is_empty() {
                        if ran > 0 && ran % COMMANDS_PER_CLOCK == 0 {
                            now_ms = unix_ms();
                        }
                        let reply_at = self.wbuf.len();
                        dispatch::execute(args, &mut self.client, shared, stats, now_ms, &mut self.wbuf);
                        if let Some(offset) = self.client.aof_wait.take() {
                            // This reply and every later one wait until the
                            // write is on disk.
                            self.hold_from(reply_at, offset);
                        }
                        ran += 1;
                    }
                    self.rstart += consumed;
                    if self.client.close_after_reply {
                        self.closing = true;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    Reply::new(&mut self.wbuf).error_bytes(&Error::from(e).to_bytes());
                    log::debug!("protocol error from {}: {e:?}", self.client.meta.addr);
                    self.closing = true;
                }
            }
        }
        if self.rstart == self.rend && !self.parser.in_progress() {
            self.rstart = 0;
            self.rend = 0;
            if self.rbuf.len() > READ_CHUNK {
                self.rbuf.truncate(READ_CHUNK);
                self.rbuf.shrink_to_fit();
            }
        }
        let meta = &self.client.meta;
        meta.query_buf.store(self.pending_input(), Relaxed);
        meta.query_buf_free.store(self.rbuf.len() - self.rend, Relaxed);
        meta.output_buf.store(self.pending_output(), Relaxed);
    }

    /// Writes pending output (up to the held part); true when all of it
    /// went out.
    pub fn flush(&mut self, stats: &ThreadStats) -> io::Result<bool> {
        let limit = self.held_from.unwrap_or(self.wbuf.len());
        while self.wpos < limit {
            match self.stream.write(&self.wbuf[self.wpos..limit]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.wpos += n;
                    bump(&stats.net_output, n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.held_from.is_some() {
            return Ok(false);
        }
        self.wbuf.clear();
        self.wpos = 0;
        if self.wbuf.capacity() > OUTPUT_KEEP {
            self.wbuf.shrink_to(READ_CHUNK);
        }
        self.client.meta.output_buf.store(0, Relaxed);
        Ok(true)
    }
}
