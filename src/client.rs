//! A client as commands see it: its selected database, authentication,
//! reply mode; and the part other threads may read (CLIENT LIST, CLIENT
//! KILL, INFO clients), kept in `ClientMeta` behind atomics and small locks
//! and registered in the server-wide `ClientRegistry`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::commands::multi::Multi;
use crate::store::blocking::Waiter;
use crate::store::watch::WatchState;

/// CLIENT REPLY modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// The running command answers nothing (REPLCONF ACK); the mode
    /// before it comes back.
    SkipThis,
}

/// State of one connection that commands read and change. Owned by the
/// connection's event-loop thread.
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub authenticated: bool,
    /// Memory was over maxmemory when the running command started (a
    /// script's write commands are refused then, as in Redis).
    pub oom_at_start: bool,
    pub reply_mode: ReplyMode,
    /// Close the connection once the pending replies are written (QUIT).
    pub close_after_reply: bool,
    /// Set while a blocking command waits; no other command runs then.
    pub blocked: Option<Arc<Waiter>>,
    /// The commands queued since MULTI; None outside a transaction.
    pub multi: Option<Multi>,
    /// The keys WATCH registered (database, key), and the state that a
    /// write to any of them marks dirty.
    pub watching: Vec<(usize, Box<[u8]>)>,
    pub watch: Arc<WatchState>,
    /// EXEC is running this client's queue: blocking commands do not block.
    pub in_exec: bool,
    /// Channels and patterns subscribed to, in subscription order.
    pub channels: Vec<Box<[u8]>>,
    pub patterns: Vec<Box<[u8]>>,
    /// Under appendfsync always: the AOF offset the last command's reply
    /// must wait for (the connection holds it until the writer syncs).
    pub aof_wait: Option<u64>,
    /// The replication stream's offset after this client's last write
    /// (what WAIT waits for replicas to acknowledge).
    pub woff: u64,
    /// WAIT in progress: the offset and the number of replicas it waits
    /// for, and its deadline (Unix ms; None waits forever). No other
    /// command runs meanwhile; the event loop answers it.
    pub waiting_acks: Option<(u64, usize, Option<u64>)>,
    /// The primary this server replicates from: its writes are applied
    /// however read-only the replica, and it is never refused for memory.
    pub is_master: bool,
    /// REPLCONF listening-port: the port a replica says it serves on.
    pub listening_port: u16,
    /// REPLCONF ip-address: the address a replica says it has.
    pub announced_ip: Option<String>,
    /// REPLCONF capa eof: the replica takes a diskless transfer.
    pub capa_eof: bool,
    /// Its next command waits for a pause (CLIENT PAUSE, FAILOVER) to end.
    pub pause_wait: bool,
    /// It sent a SHUTDOWN that waits for the replicas: nothing more runs
    /// for it unless that shutdown is called off.
    pub shutdown_wait: bool,
    /// On the primary's client: the stream's bytes applied (or queued in
    /// a transaction) but not yet appended to this server's own feed.
    pub from_primary: Vec<u8>,
    /// Set once PSYNC or SYNC made this connection a replica's: what its
    /// event loop needs to feed it.
    pub replica: Option<Box<crate::repl::Link>>,
    pub meta: Arc<ClientMeta>,
}

impl Client {
    pub fn new(meta: Arc<ClientMeta>, authenticated: bool) -> Self {
        Client {
            id: meta.id,
            db: 0,
            authenticated,
            oom_at_start: false,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            blocked: None,
            multi: None,
            watching: Vec::new(),
            watch: Arc::default(),
            in_exec: false,
            channels: Vec::new(),
            patterns: Vec::new(),
            aof_wait: None,
            woff: 0,
            waiting_acks: None,
            is_master: false,
            listening_port: 0,
            announced_ip: None,
            capa_eof: false,
            pause_wait: false,
            shutdown_wait: false,
            from_primary: Vec::new(),
            replica: None,
            meta,
        }
    }

    /// Ends the open transaction, if any, and returns it.
    pub fn end_multi(&mut self) -> Option<Multi> {
        self.meta.multi.store(-1, Relaxed);
        self.multi.take()
    }

    /// Channels plus patterns: non-zero puts a RESP2 client in
    /// subscribed mode.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.meta.db.store(db, Relaxed);
    }
}

/// What other threads may read about a client, or ask of it.
/// A client's class, as CLIENT LIST TYPE and CLIENT KILL TYPE name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    Normal,
    /// The link to this replica's primary (never among the listed
    /// clients: it runs on a thread of its own).
    Master,
    Replica,
    Pubsub,
}

impl ClientKind {
    /// `normal`, `master`, `replica` (or `slave`), `pubsub`.
    pub fn parse(name: &[u8]) -> Option<ClientKind> {
        let name = name.to_ascii_lowercase();
        Some(match name.as_slice() {
            b"normal" => ClientKind::Normal,
            b"master" => ClientKind::Master,
            b"replica" | b"slave" => ClientKind::Replica,
            b"pubsub" => ClientKind::Pubsub,
            _ => return None,
        })
    }
}

pub struct ClientMeta {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    /// The event-loop thread that owns the connection.
    pub thread: usize,
    pub created: Instant,
    pub name: Mutex<Vec<u8>>,
    pub lib_name: Mutex<Vec<u8>>,
    pub lib_ver: Mutex<Vec<u8>>,
    pub db: AtomicUsize,
    /// Full name of the last command (`client|list`), as an index into the
    /// command table; `usize::MAX` before the first.
    pub last_cmd: AtomicUsize,
    /// Unix time in ms of the last command.
    pub last_active_ms: AtomicU64,
    pub query_buf: AtomicUsize,
    pub query_buf_free: AtomicUsize,
    pub output_buf: AtomicUsize,
    pub no_evict: AtomicBool,
    /// Channel and pattern subscriptions (CLIENT LIST sub= and psub=).
    pub sub: AtomicUsize,
    pub psub: AtomicUsize,
    /// Commands queued in an open MULTI, or -1 (CLIENT LIST multi=).
    pub multi: std::sync::atomic::AtomicIsize,
    /// Set by CLIENT KILL; the owner thread closes the connection.
    pub killed: AtomicBool,
    /// Set once PSYNC or SYNC made it a replica's connection.
    pub replica: AtomicBool,
    /// The client's waiter while it is blocked (CLIENT UNBLOCK, the `b`
    /// flag, INFO's blocked_clients).
    pub blocked: Mutex<Option<Arc<Waiter>>>,
}

impl ClientMeta {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32, thread: usize) -> Self {
        ClientMeta {
            id,
            addr,
            laddr,
            fd,
            thread,
            created: Instant::now(),
            name: Mutex::new(Vec::new()),
            lib_name: Mutex::new(Vec::new()),
            lib_ver: Mutex::new(Vec::new()),
            db: AtomicUsize::new(0),
            last_cmd: AtomicUsize::new(usize::MAX),
            last_active_ms: AtomicU64::new(crate::server::unix_ms()),
            query_buf: AtomicUsize::new(0),
            query_buf_free: AtomicUsize::new(0),
            output_buf: AtomicUsize::new(0),
            no_evict: AtomicBool::new(false),
            sub: AtomicUsize::new(0),
            psub: AtomicUsize::new(0),
            multi: std::sync::atomic::AtomicIsize::new(-1),
            killed: AtomicBool::new(false),
            replica: AtomicBool::new(false),
            blocked: Mutex::new(None),
        }
    }

    pub fn touch(&self, cmd_index: usize, now_ms: u64) {
        self.last_cmd.store(cmd_index, Relaxed);
        self.last_active_ms.store(now_ms, Relaxed);
    }

    /// The class CLIENT LIST TYPE and CLIENT KILL TYPE select by.
    pub fn kind(&self) -> ClientKind {
        if self.replica.load(Relaxed) {
            ClientKind::Replica
        } else if self.sub.load(Relaxed) + self.psub.load(Relaxed) > 0 {
            ClientKind::Pubsub
        } else {
            ClientKind::Normal
        }
    }

    pub fn idle_secs(&self) -> u64 {
        crate::server::unix_ms().saturating_sub(self.last_active_ms.load(Relaxed)) / 1000
    }

    /// One CLIENT LIST / CLIENT INFO line, in Redis 7.0's field order.
    /// `cmd_name` resolves a command index to its full name.
    pub fn info_line(&self, cmd_name: impl Fn(usize) -> String) -> String {
        let qbuf = self.query_buf.load(Relaxed);
        let qfree = self.query_buf_free.load(Relaxed);
        let obl = self.output_buf.load(Relaxed);
        let cmd = match self.last_cmd.load(Relaxed) {
            usize::MAX => "NULL".to_string(),
            i => cmd_name(i),
        };
        let mut flags = String::new();
        if self.blocked.lock().is_some() {
            flags.push('b');
        }
        if self.no_evict.load(Relaxed) {
            flags.push('e');
        }
        let (sub, psub, multi) = (self.sub.load(Relaxed), self.psub.load(Relaxed), self.multi.load(Relaxed));
        if sub + psub > 0 {
            flags.push('P');
        }
        if self.replica.load(Relaxed) {
            flags.push('S');
        }
        if multi >= 0 {
            flags.push('x');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let mut s = String::with_capacity(300);
        let _ = write!(
            s,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} \
             qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl={} oll=0 omem=0 tot-mem={} events=r \
             cmd={} user=default redir=-1 resp=2 lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            String::from_utf8_lossy(&self.name.lock()),
            self.created.elapsed().as_secs(),
            self.idle_secs(),
            flags,
            self.db.load(Relaxed),
            sub,
            psub,
            multi,
            qbuf,
            qfree,
            qbuf + qfree,
            obl,
            qbuf + qfree + obl,
            cmd,
            String::from_utf8_lossy(&self.lib_name.lock()),
            String::from_utf8_lossy(&self.lib_ver.lock()),
        );
        s
    }
}

/// Every connected client, by id.
#[derive(Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientMeta>>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed) + 1
    }

    pub fn add(&self, meta: Arc<ClientMeta>) {
        self.clients.lock().insert(meta.id, meta);
    }

    pub fn remove(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientMeta>> {
        self.clients.lock().get(&id).cloned()
    }

    /// A snapshot of every client, in id order.
    pub fn all(&self) -> Vec<Arc<ClientMeta>> {
        self.clients.lock().values().cloned().collect()
    }
}
