//! Start-up and shutdown: binds one SO_REUSEPORT listener per address per
//! thread, starts the event-loop threads over the shared state, and stops
//! them. `Server::start` is the library API tests and embedders use.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::client::ClientRegistry;
use crate::commands::table;
use crate::config::Config;
use crate::net::event_loop::EventLoop;
use crate::net::listener;
use crate::net::mailbox::{Mailbox, Message};
use crate::stats::{self, ThreadStats};
use crate::store::Store;

/// Configuration values read on hot paths, mirrored from `Config` into
/// atomics whenever it changes.
pub struct Hot {
    pub max_bulk_len: AtomicUsize,
    pub query_buffer_limit: AtomicU64,
    pub maxclients: AtomicUsize,
    pub timeout_secs: AtomicU64,
    pub hz: AtomicU64,
    pub output_limit_normal: Mutex<(u64, u64, u64)>,
    pub output_limit_pubsub: Mutex<(u64, u64, u64)>,
    pub output_limit_replica: Mutex<(u64, u64, u64)>,
    /// DEBUG SET-ACTIVE-EXPIRE.
    pub active_expire: AtomicBool,
    pub hash_max_entries: AtomicUsize,
    pub hash_max_value: AtomicUsize,
    pub set_max_ints: AtomicUsize,
    pub zset_max_entries: AtomicUsize,
    pub zset_max_value: AtomicUsize,
    pub list_fill: AtomicI64,
    /// notify-keyspace-events, as `crate::notify` flags.
    pub notify_flags: std::sync::atomic::AtomicU32,
    /// busy-reply-threshold (alias lua-time-limit), in milliseconds.
    pub busy_reply_ms: AtomicU64,
    /// maxmemory in bytes; 0 for no limit.
    pub maxmemory: AtomicU64,
    pub maxmemory_samples: AtomicUsize,
    pub eviction_tenacity: AtomicU64,
    pub lazyfree_eviction: AtomicBool,
    /// replica-read-only and replica-ignore-maxmemory.
    pub replica_read_only: AtomicBool,
    pub replica_ignore_maxmemory: AtomicBool,
    /// replica-serve-stale-data.
    pub replica_serve_stale_data: AtomicBool,
    /// repl-backlog-size, in bytes.
    pub repl_backlog_size: AtomicU64,
    /// min-replicas-to-write and min-replicas-max-lag (seconds).
    pub min_replicas: AtomicUsize,
    pub min_replicas_max_lag: AtomicU64,
}

impl Hot {
    fn from_config(c: &Config) -> Self {
        let hot = Hot {
            max_bulk_len: AtomicUsize::new(0),
            query_buffer_limit: AtomicU64::new(0),
            maxclients: AtomicUsize::new(0),
            timeout_secs: AtomicU64::new(0),
            hz: AtomicU64::new(10),
            output_limit_normal: Mutex::new((0, 0, 0)),
            output_limit_pubsub: Mutex::new((0, 0, 0)),
            output_limit_replica: Mutex::new((0, 0, 0)),
            active_expire: AtomicBool::new(true),
            hash_max_entries: AtomicUsize::new(0),
            hash_max_value: AtomicUsize::new(0),
            set_max_ints: AtomicUsize::new(0),
            zset_max_entries: AtomicUsize::new(0),
            zset_max_value: AtomicUsize::new(0),
            list_fill: AtomicI64::new(-2),
            notify_flags: std::sync::atomic::AtomicU32::new(0),
            busy_reply_ms: AtomicU64::new(5000),
            maxmemory: AtomicU64::new(0),
            maxmemory_samples: AtomicUsize::new(5),
            eviction_tenacity: AtomicU64::new(10),
            lazyfree_eviction: AtomicBool::new(false),
            replica_read_only: AtomicBool::new(true),
            replica_ignore_maxmemory: AtomicBool::new(true),
            replica_serve_stale_data: AtomicBool::new(true),
            repl_backlog_size: AtomicU64::new(1 << 20),
            min_replicas: AtomicUsize::new(0),
            min_replicas_max_lag: AtomicU64::new(10),
        };
        hot.refresh(c);
        hot
    }

    pub fn refresh(&self, c: &Config) {
        self.max_bulk_len.store(c.proto_max_bulk_len() as usize, Relaxed);
        self.query_buffer_limit.store(c.client_query_buffer_limit(), Relaxed);
        self.maxclients.store(c.maxclients(), Relaxed);
        self.timeout_secs.store(c.timeout_secs(), Relaxed);
        self.hz.store(c.hz(), Relaxed);
        *self.output_limit_normal.lock() = c.output_limit("normal");
        *self.output_limit_pubsub.lock() = c.output_limit("pubsub");
        *self.output_limit_replica.lock() = c.output_limit("slave");
        log::set_max_level(c.log_level());
        let int = |name: &str| c.get(name).parse::<usize>().unwrap_or(0);
        self.hash_max_entries.store(int("hash-max-listpack-entries"), Relaxed);
        self.hash_max_value.store(int("hash-max-listpack-value"), Relaxed);
        self.set_max_ints.store(int("set-max-intset-entries"), Relaxed);
        self.zset_max_entries.store(int("zset-max-listpack-entries"), Relaxed);
        self.zset_max_value.store(int("zset-max-listpack-value"), Relaxed);
        self.list_fill.store(c.get("list-max-listpack-size").parse().unwrap_or(-2), Relaxed);
        self.notify_flags.store(crate::notify::parse(c.get("notify-keyspace-events")).unwrap_or(0), Relaxed);
        self.busy_reply_ms.store(c.get("busy-reply-threshold").parse().unwrap_or(5000), Relaxed);
        self.maxmemory.store(c.memory("maxmemory"), Relaxed);
        self.maxmemory_samples.store(int("maxmemory-samples"), Relaxed);
        self.eviction_tenacity.store(int("maxmemory-eviction-tenacity") as u64, Relaxed);
        self.lazyfree_eviction.store(c.get("lazyfree-lazy-eviction") == "yes", Relaxed);
        self.replica_read_only.store(c.get("replica-read-only") == "yes", Relaxed);
        self.replica_ignore_maxmemory.store(c.get("replica-ignore-maxmemory") == "yes", Relaxed);
        self.replica_serve_stale_data.store(c.get("replica-serve-stale-data") == "yes", Relaxed);
        self.repl_backlog_size.store(c.memory("repl-backlog-size"), Relaxed);
        self.min_replicas.store(int("min-replicas-to-write"), Relaxed);
        self.min_replicas_max_lag.store(int("min-replicas-max-lag") as u64, Relaxed);
    }

    /// client-output-buffer-limit for replicas: (hard, soft, seconds).
    pub fn output_limit_replica(&self) -> (u64, u64, u64) {
        *self.output_limit_replica.lock()
    }

    pub fn zset_limits(&self) -> crate::store::zset::ZSetLimits {
        crate::store::zset::ZSetLimits {
            max_entries: self.zset_max_entries.load(Relaxed),
            max_value: self.zset_max_value.load(Relaxed),
        }
    }

    pub fn list_limits(&self) -> crate::store::ListLimits {
        crate::store::ListLimits::from_fill(self.list_fill.load(Relaxed))
    }

    pub fn set_max_intset_entries(&self) -> usize {
        self.set_max_ints.load(Relaxed)
    }

    pub fn hash_limits(&self) -> crate::store::HashLimits {
        crate::store::HashLimits {
            max_entries: self.hash_max_entries.load(Relaxed),
            max_value: self.hash_max_value.load(Relaxed),
        }
    }
}

/// Everything the event-loop threads share.
pub struct Shared {
    pub store: Store,
    pub config: RwLock<Config>,
    pub hot: Hot,
    pub clients: ClientRegistry,
    pub stats: Vec<ThreadStats>,
    pub mailboxes: Vec<Mailbox>,
    pub pubsub: crate::pubsub::PubSub,
    pub scripts: crate::commands::scripting::ScriptCache,
    pub functions: crate::commands::functions::Functions,
    pub persist: crate::persist::Persistence,
    pub aof: crate::persist::aof::Aof,
    pub latency: crate::latency::Monitor,
    pub evictor: crate::evict::Evictor,
    pub pause: crate::pause::Pause,
    /// A shutdown waiting for the replicas to catch up, if one is.
    pub shutdown_wait: Mutex<Option<Arc<crate::shutdown::Waiting>>>,
    pub repl: crate::repl::Replication,
    pub threads: usize,
    pub started: Instant,
    pub run_id: String,
    /// The TCP port actually bound (differs from the config for port 0).
    pub port: u16,
    pub config_file: Option<String>,
    shutdown_requested: AtomicBool,
    /// This server's own `Arc`, for threads it starts later (the
    /// replication link).
    me: std::sync::OnceLock<std::sync::Weak<Shared>>,
    /// Commands-processed samples for instantaneous_ops_per_sec.
    ops_samples: Mutex<OpsSamples>,
}

#[derive(Default)]
struct OpsSamples {
    last: Option<(Instant, u64)>,
    rates: [u64; 16],
    next: usize,
}

impl Shared {
    pub fn normal_output_limit(&self) -> (u64, u64, u64) {
        *self.hot.output_limit_normal.lock()
    }

    /// client-output-buffer-limit for clients in subscribed mode.
    pub fn pubsub_output_limit(&self) -> (u64, u64, u64) {
        *self.hot.output_limit_pubsub.lock()
    }

    /// This server's `Arc` (None while it is being dropped).
    pub fn arc(&self) -> Option<Arc<Shared>> {
        self.me.get()?.upgrade()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutdown_requested.load(Relaxed)
    }

    /// Asks every event loop to stop.
    pub fn request_shutdown(&self) {
        // A running script ends at its next hook, written or not: nothing
        // is saved when a script is busy (only SHUTDOWN NOSAVE gets here
        // then), and a signal must not wait for a script that never ends.
        self.scripts.running.stop_for_shutdown();
        if !self.shutdown_requested.swap(true, Relaxed) {
            for m in &self.mailboxes {
                m.send(Message::Shutdown);
            }
        }
    }

    /// Unix time in seconds when the server started.
    pub fn started_unix_s(&self) -> u64 {
        (unix_ms() / 1000).saturating_sub(self.started.elapsed().as_secs())
    }

    pub fn total_commands(&self) -> u64 {
        stats::total(&self.stats, |s| &s.commands)
    }

    /// Records a sample of the commands counter (called by thread 0's cron).
    pub fn sample_ops(&self) {
        let total = self.total_commands();
        let mut s = self.ops_samples.lock();
        let now = Instant::now();
        if let Some((at, count)) = s.last {
            let ms = now.duration_since(at).as_millis() as u64;
            if ms >= 100 {
                let i = s.next;
                s.rates[i] = total.saturating_sub(count) * 1000 / ms.max(1);
                s.next = (i + 1) % s.rates.len();
                s.last = Some((now, total));
            }
        } else {
            s.last = Some((now, total));
        }
    }

    pub fn instantaneous_ops(&self) -> u64 {
        let s = self.ops_samples.lock();
        s.rates.iter().sum::<u64>() / s.rates.len() as u64
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Event-loop thread stacks: room for script libraries that recurse once
/// per nesting level (cjson to 1000 levels, cmsgpack to 2000), even in a
/// debug build. Only the pages a thread touches are allocated.
const LOOP_STACK: usize = 64 << 20;

/// A running server.
pub struct Server {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    aof_writer: JoinHandle<()>,
    addrs: Vec<SocketAddr>,
}

/// Why the server could not start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Server {
    /// Binds and starts the event loops. Port 0 picks a free port, the same
    /// for every thread and address.
    pub fn start(config: Config) -> Result<Server, StartError> {
        Self::start_with_file(config, None)
    }

    pub fn start_with_file(config: Config, config_file: Option<String>) -> Result<Server, StartError> {
        change_dir(config.dir()).map_err(|e| StartError(format!("Can't chdir to '{}': {e}", config.dir())))?;
        let threads = config.threads();
        let mut port = config.port();
        let mut per_thread: Vec<Vec<mio::net::TcpListener>> = (0..threads).map(|_| Vec::new()).collect();
        let mut addrs = Vec::new();
        for host in config.bind() {
            let host = host.trim_start_matches('-');
            let host = if host == "*" { "0.0.0.0" } else { host };
            let mut addr = addr_with_port(resolve(host, port)?, port);
            let failed = |addr: SocketAddr, e: std::io::Error| {
                StartError(format!("Could not create server TCP listening socket {addr}: bind: {e}"))
            };
            let mut first = None;
            if port == 0 {
                // The kernel picks a free port for the first listener,
                // which holds it while the others join it. (Probing with
                // a socket closed before binding would leave a window in
                // which any connect() may take the port as its own.)
                let l = listener::bind(addr, 511).map_err(|e| failed(addr, e))?;
                addr = l.local_addr().map_err(|e| StartError(e.to_string()))?;
                port = addr.port();
                first = Some(l);
            } else {
                // SO_REUSEPORT would let us share a port another server
                // holds, so first claim it alone: this fails if anyone
                // listens there.
                drop(std::net::TcpListener::bind(addr).map_err(|e| failed(addr, e))?);
            }
            for listeners in per_thread.iter_mut() {
                let l = match first.take() {
                    Some(l) => l,
                    None => listener::bind(addr, 511).map_err(|e| failed(addr, e))?,
                };
                listeners.push(l);
            }
            addrs.push(addr);
        }
        let mut polls = Vec::new();
        let mut mailboxes = Vec::new();
        for _ in 0..threads {
            let poll = mio::Poll::new().map_err(|e| StartError(e.to_string()))?;
            let waker = mio::Waker::new(poll.registry(), mio::Token(0)).map_err(|e| StartError(e.to_string()))?;
            mailboxes.push(Mailbox::new(waker));
            polls.push(poll);
        }
        let shared = Arc::new(Shared {
            store: Store::new(config.shards(), config.databases()),
            hot: Hot::from_config(&config),
            config: RwLock::new(config),
            clients: ClientRegistry::default(),
            stats: (0..threads).map(|_| ThreadStats::new(table::count())).collect(),
            mailboxes,
            pubsub: crate::pubsub::PubSub::default(),
            scripts: Default::default(),
            functions: Default::default(),
            persist: crate::persist::Persistence::new(unix_ms() / 1000),
            aof: crate::persist::aof::Aof::new(threads),
            latency: Default::default(),
            evictor: Default::default(),
            pause: Default::default(),
            shutdown_wait: Mutex::new(None),
            repl: crate::repl::Replication::new(random_hex(40)),
            threads,
            started: Instant::now(),
            run_id: random_hex(40),
            port,
            config_file,
            shutdown_requested: AtomicBool::new(false),
            me: std::sync::OnceLock::new(),
            ops_samples: Mutex::new(OpsSamples::default()),
        });
        let _ = shared.me.set(Arc::downgrade(&shared));
        shared.latency.configure(&shared.config.read());
        shared.evictor.set_policy(crate::evict::Policy::parse(shared.config.read().get("maxmemory-policy")));
        let logged = crate::notify::logged_by_store(shared.hot.notify_flags.load(Relaxed));
        let access = shared.config.read().access();
        for s in 0..shared.store.shard_count() {
            for db in shared.store.lock(s).dbs.iter_mut() {
                db.log_events = logged;
                db.access = access;
            }
        }
        let replicaof = shared.config.read().get("replicaof").to_string();
        let follow = match replicaof.split_once(' ') {
            Some((host, port)) => Some((
                host.to_string(),
                port.trim()
                    .parse::<u16>()
                    .map_err(|_| StartError(format!("Invalid master port in replicaof {replicaof}")))?,
            )),
            None => None,
        };
        crate::memory::mark_startup();
        // The event loops serve while the files load, answering -LOADING
        // to what needs the data (as Redis does, so a Sentinel or a client
        // sees a server that is starting, not one that is down).
        shared.persist.begin_loading();
        let mut handles = Vec::new();
        for (i, (poll, listeners)) in polls.into_iter().zip(per_thread).enumerate() {
            let ev = EventLoop::new(i, poll, listeners, shared.clone()).map_err(|e| StartError(e.to_string()))?;
            let handle = std::thread::Builder::new()
                .name(format!("kvstore-loop-{i}"))
                .stack_size(LOOP_STACK)
                .spawn(move || {
                    crate::memory::use_shared_arena();
                    ev.run()
                })
                .map_err(|e| StartError(e.to_string()))?;
            handles.push(handle);
        }
        if let Err(e) = crate::persist::load_at_startup(&shared) {
            shared.request_shutdown();
            for t in handles {
                let _ = t.join();
            }
            return Err(StartError(e));
        }
        shared.persist.end_loading();
        // A replica starts following once its own files are loaded.
        if let Some((host, port)) = follow {
            crate::repl::upstream::follow(&shared, host, port);
        }
        let aof_shared = shared.clone();
        let aof_writer = std::thread::Builder::new()
            .name("kvstore-aof".into())
            .spawn(move || crate::persist::aof::run_writer(aof_shared))
            .map_err(|e| StartError(e.to_string()))?;
        Ok(Server { shared, threads: handles, aof_writer, addrs })
    }

    /// The addresses the server listens on, with the actual port.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn port(&self) -> u16 {
        self.shared.port
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Asks the event loops to stop (as SHUTDOWN or SIGTERM do).
    pub fn request_shutdown(&self) {
        self.shared.request_shutdown();
    }

    /// Waits until every event loop has stopped, then writes and fsyncs
    /// what the AOF still holds.
    pub fn wait(self) {
        for t in self.threads {
            let _ = t.join();
        }
        crate::persist::kill_child(&self.shared);
        self.shared.aof.stop_writer();
        let _ = self.aof_writer.join();
    }

    /// Stops the server and waits for it.
    pub fn stop(self) {
        self.request_shutdown();
        self.wait();
    }
}

/// Makes `dir` the working directory (CONFIG SET dir does the same).
pub fn change_dir(dir: &str) -> std::io::Result<()> {
    if std::env::current_dir().is_ok_and(|cwd| cwd == std::path::Path::new(dir)) {
        return Ok(());
    }
    std::env::set_current_dir(dir)
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, StartError> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| StartError(format!("Invalid bind address '{host}': {e}")))?
        .next()
        .ok_or_else(|| StartError(format!("Invalid bind address '{host}'")))
}

fn addr_with_port(mut addr: SocketAddr, port: u16) -> SocketAddr {
    addr.set_port(port);
    addr
}

impl Shared {
    /// Whether writes are recorded: for the AOF or for replicas.
    pub fn propagating(&self) -> bool {
        self.aof.is_on() || self.repl.feeds_own_writes()
    }

    /// Records what ran, with its shard locks held: in the AOF if it is
    /// on (returning the offset there), and in the replication feed if
    /// replicas are fed.
    pub fn propagate(&self, ops: &[crate::persist::aof::Op]) -> Option<u64> {
        if self.repl.feeds_own_writes() {
            self.repl.append(self, ops);
        }
        self.aof.is_on().then(|| self.aof.append(ops))
    }
}

/// A fast per-thread pseudo-random number (xorshift64*), seeded from the
/// clock and the thread; for sampling, never for secrets.
pub fn random_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    fn seed() -> u64 {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
        let id = std::thread::current().id();
        let h = ahash::RandomState::new().hash_one(id);
        (t ^ h) | 1
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A random hex string (run ids), from the OS's random source.
pub fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len / 2];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
