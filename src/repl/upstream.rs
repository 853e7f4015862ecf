//! Replication, the replica's side: REPLICAOF host port makes this server
//! follow a primary (a redis-server or another KVStore) over Redis's
//! protocol.
//!
//! A thread of its own keeps the link: it connects, does the handshake
//! (AUTH with masterauth, PING, REPLCONF listening-port and capa, PSYNC),
//! loads the primary's snapshot on a full resync (every shard locked, as
//! Redis blocks while it loads), then applies the stream as the primary's
//! client would, acknowledging its offset every second and whenever
//! asked (REPLCONF GETACK). Blocking reads with a timeout suit one socket
//! read in order; no event loop waits on it. A lost link is retried every
//! second with PSYNC for where it stopped, so a short cut costs no full
//! resync. The stream applied is also appended, byte for byte, to this
//! server's own feed, which its replicas read.
//!
//! On a replica, clients may not write (replica-read-only), keys do not
//! expire by themselves (the primary's DEL does it) and nothing is
//! evicted, as in Redis.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Client, ClientMeta};
use crate::commands::dispatch;
use crate::net::mailbox::Message;
use crate::persist::aof::encode_command;
use crate::resp::request::{ParseLimits, RequestParser};
use crate::server::{unix_ms, Shared};

/// Where the link to the primary stands (ROLE's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connect,
    Connecting,
    /// Connected; AUTH, PING, REPLCONF and PSYNC under way.
    Handshake,
    Sync,
    Connected,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The primary this server follows.
pub struct Upstream {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// Bumped by every REPLICAOF: a link thread of an older one ends.
    pub generation: u64,
    /// When the link last received anything.
    pub last_io: Instant,
    /// When the link last went down (None: it has not been up yet).
    pub down_since: Option<Instant>,
    /// The snapshot being received: its size (-1 when it ends with a
    /// mark instead) and the bytes read so far.
    pub sync_total: i64,
    pub sync_read: u64,
}

/// How long the link waits for a reply or for the stream before it looks
/// at the clock again (ACKs are due every second).
const TICK: Duration = Duration::from_millis(100);
const ACK_EVERY: Duration = Duration::from_secs(1);

/// REPLICAOF host port: follow this primary from now on.
pub fn follow(shared: &Shared, host: String, port: u16) {
    let mut upstream = shared.repl.upstream.lock();
    let generation = upstream.as_ref().map_or(0, |u| u.generation) + 1;
    *upstream = Some(Upstream {
        host: host.clone(),
        port,
        state: LinkState::Connect,
        generation,
        last_io: Instant::now(),
        down_since: None,
        sync_total: 0,
        sync_read: 0,
    });
    drop(upstream);
    shared.repl.set_replica(true);
    disconnect_blocked_clients(shared);
    log::info!("Connecting to MASTER {host}:{port}");
    if let Some(me) = shared.arc() {
        let spawned =
            std::thread::Builder::new().name("kvstore-replica".into()).spawn(move || run(me, host, port, generation));
        if let Err(e) = spawned {
            log::warn!("Can't start the replication link: {e}");
        }
    }
}

/// Clients blocked in BLPOP and the like are answered with an error and
/// disconnected when this server starts following a primary, as Redis
/// does: what they wait for will not be written here by a client.
fn disconnect_blocked_clients(shared: &Shared) {
    let reply = format!("-{}\r\n", crate::commands::Error::UnblockedRoleChange).into_bytes();
    for meta in shared.clients.all() {
        let waiter = meta.blocked.lock().clone();
        if let Some(waiter) = waiter.filter(|w| w.claim()) {
            shared.mailboxes[waiter.thread]
                .send(Message::UnblockAndClose { client_id: waiter.client_id, reply: reply.clone() });
        }
    }
}

/// REPLICAOF NO ONE: stop following; this server is a primary again,
/// under a new replication id (the old one stays valid up to here, so
/// replicas that followed the same primary may resume from it).
pub fn stop_following(shared: &Shared) {
    let mut upstream = shared.repl.upstream.lock();
    if upstream.take().is_none() {
        return;
    }
    drop(upstream);
    shared.repl.set_replica(false);
    shared.repl.shift_id();
    log::info!("MASTER MODE enabled");
}

/// Whether this link is still the one REPLICAOF asked for.
fn current(shared: &Shared, generation: u64) -> bool {
    !shared.is_shutting_down() && shared.repl.upstream.lock().as_ref().is_some_and(|u| u.generation == generation)
}

fn set_state(shared: &Shared, generation: u64, state: LinkState) {
    if let Some(u) = shared.repl.upstream.lock().as_mut().filter(|u| u.generation == generation) {
        if u.state == LinkState::Connected && state != LinkState::Connected {
            u.down_since = Some(Instant::now());
        }
        u.state = state;
        u.last_io = Instant::now();
    }
}

/// The snapshot being received has `read` of its `total` bytes here.
fn note_transfer(shared: &Shared, generation: u64, total: i64, read: u64) {
    if let Some(u) = shared.repl.upstream.lock().as_mut().filter(|u| u.generation == generation) {
        u.sync_total = total;
        u.sync_read = read;
        u.last_io = Instant::now();
    }
}

/// The link thread: connect, sync, apply; again after a pause when the
/// link is lost, until another REPLICAOF or shutdown.
fn run(shared: Arc<Shared>, host: String, port: u16, generation: u64) {
    // The primary's client: its selected database lasts across
    // reconnections, as a partial resync continues its stream.
    let meta = Arc::new(ClientMeta::new(0, format!("{host}:{port}"), String::new(), -1, 0));
    let mut client = Client::new(meta, true);
    client.is_master = true;
    // A partial resync continues the stream in the database it was in.
    client.db = shared.repl.stream_db();
    while current(&shared, generation) {
        set_state(&shared, generation, LinkState::Connecting);
        match session(&shared, &host, port, generation, &mut client) {
            Ok(()) => {}
            Err(e) => {
                log::warn!("Replication link with MASTER {host}:{port}: {e}");
                // A handover that did not reach its target: primary again.
                if shared.repl.failover_to(&host, port) {
                    shared.repl.abort_failover(&shared, "the failover target could not be reached");
                }
            }
        }
        let was_up = status(&shared).is_some_and(|s| s.state == LinkState::Connected);
        set_state(&shared, generation, LinkState::Connect);
        // A link that was up is tried again at once, as Redis does; a
        // failed attempt after a pause.
        if !was_up {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// One connection to the primary, from the handshake until it drops.
fn session(shared: &Shared, host: &str, port: u16, generation: u64, client: &mut Client) -> Result<(), String> {
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    set_state(shared, generation, LinkState::Handshake);
    let _ = stream.set_nodelay(true);
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::with_capacity(1 << 16, stream);
    let mut ask = |words: &[&[u8]]| -> Result<String, String> {
        let mut out = Vec::new();
        encode_command(&mut out, words.iter().copied());
        writer.write_all(&out).map_err(|e| e.to_string())?;
        read_line(&mut reader)
    };
    let (auth, user) = {
        let config = shared.config.read();
        (config.get("masterauth").to_string(), config.get("masteruser").to_string())
    };
    if !auth.is_empty() {
        let reply = if user.is_empty() {
            ask(&[b"AUTH", auth.as_bytes()])?
        } else {
            ask(&[b"AUTH", user.as_bytes(), auth.as_bytes()])?
        };
        if reply.starts_with('-') {
            return Err(format!("unable to AUTH to MASTER: {reply}"));
        }
    }
    let pong = ask(&[b"PING"])?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") && !pong.starts_with("-NOPERM") {
        return Err(format!("error reply to PING from master: {pong}"));
    }
    let our_port = shared.port.to_string();
    let _ = ask(&[b"REPLCONF", b"listening-port", our_port.as_bytes()])?;
    let _ = ask(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    // Our own id and offset: those of the primary we followed last, or
    // ours as a primary (a primary demoted to follow one of its replicas
    // resumes where it was); with neither, `? -1` asks for a full resync.
    let (replid, next) = match shared.repl.resumable() {
        true => (shared.repl.ids().0, (shared.repl.offset() + 1).to_string()),
        false => ("?".to_string(), "-1".to_string()),
    };
    // A FAILOVER hands over to this primary: it takes over first.
    let handover = shared.repl.failover_to(host, port);
    let reply = if handover {
        ask(&[b"PSYNC", replid.as_bytes(), next.as_bytes(), b"FAILOVER"])?
    } else {
        ask(&[b"PSYNC", replid.as_bytes(), next.as_bytes()])?
    };
    if handover {
        let accepted = reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE");
        shared.repl.failover_answered(shared, accepted);
        if !accepted {
            return Err(format!("the failover target refused PSYNC FAILOVER: {reply}"));
        }
    }
    let mut words = reply.split(' ');
    match words.next() {
        Some("+FULLRESYNC") => {
            let id = words.next().ok_or("FULLRESYNC without an id")?.to_string();
            let offset: u64 = words.next().and_then(|o| o.parse().ok()).ok_or("FULLRESYNC without an offset")?;
            log::info!("Full resync from master: {id}:{offset}");
            set_state(shared, generation, LinkState::Sync);
            client.db = full_sync(shared, generation, &mut reader, &id, offset)?;
            client.multi = None;
            client.from_primary.clear();
        }
        Some("+CONTINUE") => {
            if let Some(id) = words.next().filter(|id| id.len() == 40) {
                shared.repl.adopt_id(id);
            }
            log::info!("Successful partial resynchronization with master.");
        }
        _ => return Err(format!("unexpected reply to PSYNC: {reply}")),
    }
    set_state(shared, generation, LinkState::Connected);
    let mut writer = reader.get_ref().try_clone().map_err(|e| e.to_string())?;
    reader.get_ref().set_read_timeout(Some(TICK)).map_err(|e| e.to_string())?;
    apply_stream(shared, generation, &mut reader, &mut writer, client)
}

/// One line of a reply, without its CRLF.
fn read_line(reader: &mut impl BufRead) -> Result<String, String> {
    read_line_alive(reader, || {})
}

/// One line of a reply; `alive` is called for each empty line, with which
/// a primary preparing the snapshot keeps the link alive.
fn read_line_alive(reader: &mut impl BufRead, mut alive: impl FnMut()) -> Result<String, String> {
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if !line.is_empty() {
            return Ok(line.to_string());
        }
        alive();
    }
}

/// Receives the snapshot (`$<len>` then the bytes, or `$EOF:<mark>` and
/// the bytes up to the mark) into a file, then replaces the dataset with
/// it, and starts the feed at the primary's id and offset. Returns the
/// database the stream continues in (the file's repl-stream-db).
fn full_sync(
    shared: &Shared,
    generation: u64,
    reader: &mut impl BufRead,
    id: &str,
    offset: u64,
) -> Result<usize, String> {
    // Its size is unknown until the header comes.
    note_transfer(shared, generation, -1, 0);
    let header = read_line_alive(reader, || note_transfer(shared, generation, -1, 0))?;
    let spec = header.strip_prefix('$').ok_or_else(|| format!("bad bulk header from master: {header}"))?;
    let dir = std::path::PathBuf::from(shared.config.read().dir());
    let path = dir.join(format!("temp-{}-{}.rdb", unix_ms(), std::process::id()));
    let mut file = std::fs::File::create(&path).map_err(|e| format!("can't create {}: {e}", path.display()))?;
    let (mark, total) = match spec.strip_prefix("EOF:") {
        Some(mark) => (Some(mark.as_bytes()), -1),
        None => (None, spec.parse::<u64>().map_err(|_| format!("bad bulk length from master: {header}"))? as i64),
    };
    let mut progress = |read| note_transfer(shared, generation, total, read);
    progress(0);
    let received = match mark {
        Some(mark) => receive_until_mark(reader, &mut file, mark, &mut progress),
        None => receive_len(reader, &mut file, total as u64, &mut progress),
    };
    let outcome = received.and_then(|()| file.sync_all().map_err(|e| e.to_string())).and_then(|()| {
        log::info!("MASTER <-> REPLICA sync: Loading DB in memory");
        shared.persist.begin_loading();
        let loaded = crate::persist::with_all_shards_mut(shared, |shards| {
            for shard in shards.iter_mut() {
                for db in shard.dbs.iter_mut() {
                    crate::lazyfree::free_later(db.clear(), 1);
                }
            }
            shared.functions.clear();
            let report = crate::persist::snapshot::load(shared, &path, shards, false)?;
            let databases = shared.store.databases();
            let stream_db =
                report.and_then(|r| super::SaveInfo::from_aux(&r.aux, databases)).map_or(0, |info| info.stream_db);
            shared.repl.restart_feed(shards, id, offset, stream_db);
            Ok(stream_db)
        });
        shared.persist.end_loading();
        loaded
    });
    let _ = std::fs::remove_file(&path);
    let stream_db = outcome?;
    log::info!("MASTER <-> REPLICA sync: Finished with success");
    Ok(stream_db)
}

/// Copies a transfer of `len` bytes.
fn receive_len(
    reader: &mut impl BufRead,
    file: &mut std::fs::File,
    len: u64,
    progress: &mut impl FnMut(u64),
) -> Result<(), String> {
    let mut read = 0;
    while read < len {
        let chunk = match reader.fill_buf() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => other.map_err(|e| e.to_string())?,
        };
        if chunk.is_empty() {
            return Err("the snapshot was cut short".into());
        }
        let n = chunk.len().min((len - read) as usize);
        file.write_all(&chunk[..n]).map_err(|e| e.to_string())?;
        reader.consume(n);
        read += n as u64;
        progress(read);
    }
    Ok(())
}

/// Copies the diskless transfer up to its 40-byte end mark.
fn receive_until_mark(
    reader: &mut impl BufRead,
    file: &mut std::fs::File,
    mark: &[u8],
    progress: &mut impl FnMut(u64),
) -> Result<(), String> {
    let mut tail: Vec<u8> = Vec::new();
    let mut read = 0;
    loop {
        let chunk = match reader.fill_buf() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => other.map_err(|e| e.to_string())?,
        };
        if chunk.is_empty() {
            return Err("connection closed during the transfer".into());
        }
        tail.extend_from_slice(chunk);
        let n = chunk.len();
        reader.consume(n);
        read += n as u64;
        progress(read);
        if tail.ends_with(mark) {
            file.write_all(&tail[..tail.len() - mark.len()]).map_err(|e| e.to_string())?;
            return Ok(());
        }
        // Keep what could still be the start of the mark.
        let keep = mark.len().min(tail.len());
        let flush = tail.len() - keep;
        file.write_all(&tail[..flush]).map_err(|e| e.to_string())?;
        tail.drain(..flush);
    }
}

/// Applies the stream until the link drops or REPLICAOF changes: each
/// command runs as the primary's, and goes into this server's feed as it
/// came.
fn apply_stream(
    shared: &Shared,
    generation: u64,
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    client: &mut Client,
) -> Result<(), String> {
    let stats = &shared.stats[0];
    let limits = ParseLimits { max_bulk_len: usize::MAX, auth_required: false };
    let mut parser = RequestParser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut last_ack = Instant::now() - ACK_EVERY;
    let mut chunk = vec![0u8; 1 << 16];
    // The offset of this link's stream applied so far: what ACKs report.
    // Not the server's offset, which a later REPLICAOF moves on: an ACK
    // a finishing link sent to its old primary with that offset made the
    // old primary's WAIT count writes no replica had.
    let mut applied = shared.repl.offset();
    // A primary sends a PING every repl-ping-replica-period at least; one
    // silent for repl-timeout seconds is taken for gone, as Redis does.
    let timeout = Duration::from_secs(shared.config.read().get("repl-timeout").parse().unwrap_or(60));
    let mut last_read = Instant::now();
    loop {
        if !current(shared, generation) {
            return Ok(());
        }
        if last_ack.elapsed() >= ACK_EVERY {
            send_ack(writer, applied)?;
            last_ack = Instant::now();
        }
        match reader.read(&mut chunk) {
            Ok(0) => return Err("connection closed by master".into()),
            Ok(n) => {
                last_read = Instant::now();
                buf.extend_from_slice(&chunk[..n]);
                if let Some(u) = shared.repl.upstream.lock().as_mut() {
                    u.last_io = Instant::now();
                }
            }
            // A signal (SIGSTOP and SIGCONT too) interrupts a read with a
            // timeout: not the link's fault.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if last_read.elapsed() > timeout {
                    return Err("MASTER timeout: no data nor PING received".into());
                }
                continue;
            }
            Err(e) => return Err(e.to_string()),
        }
        let mut start = 0;
        loop {
            let rest = &buf[start..];
            if rest.is_empty() {
                break;
            }
            let consumed = match parser.parse(rest, limits) {
                Ok(Some(consumed)) => consumed,
                Ok(None) => break,
                Err(e) => return Err(format!("protocol error from master: {e:?}")),
            };
            // A REPLICAOF since the last command ends this link before it
            // applies anything more from the old primary.
            if !current(shared, generation) {
                return Ok(());
            }
            client.from_primary.extend_from_slice(&rest[..consumed]);
            let args = parser.args(rest);
            start += consumed;
            let getack = args.len() >= 2
                && args.get(0).eq_ignore_ascii_case(b"replconf")
                && args.get(1).eq_ignore_ascii_case(b"getack");
            if !getack && !args.is_empty() {
                // A script past busy-reply-threshold holds every shard and
                // answers BUSY: the primary's commands wait for its end,
                // as Redis leaves them in the primary's query buffer.
                while shared.scripts.running.is_busy() && !shared.is_shutting_down() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                dispatch::execute(args, client, shared, stats, unix_ms(), &mut out);
                out.clear();
            }
            // What the command did not append under its locks (it changed
            // nothing) goes now; a transaction's commands wait for its EXEC.
            if client.multi.is_none() && !client.from_primary.is_empty() {
                shared.repl.proxy(shared, &client.from_primary, client.db);
                client.from_primary.clear();
            }
            applied += consumed as u64;
            if getack && current(shared, generation) {
                send_ack(writer, applied)?;
                last_ack = Instant::now();
            }
        }
        buf.drain(..start);
    }
}

fn send_ack(writer: &mut TcpStream, applied: u64) -> Result<(), String> {
    let offset = applied.to_string();
    let mut out = Vec::new();
    encode_command(&mut out, [&b"REPLCONF"[..], b"ACK", offset.as_bytes()].into_iter());
    writer.write_all(&out).map_err(|e| e.to_string())
}

/// INFO replication's replica fields, and ROLE's, while following.
pub struct Status {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    pub last_io_secs: u64,
    /// Seconds since the link went down (-1: it has not been up yet).
    pub down_secs: i64,
    pub sync_total: i64,
    pub sync_read: u64,
}

pub fn status(shared: &Shared) -> Option<Status> {
    shared.repl.upstream.lock().as_ref().map(|u| Status {
        host: u.host.clone(),
        port: u.port,
        state: u.state,
        last_io_secs: u.last_io.elapsed().as_secs(),
        down_secs: u.down_since.map_or(-1, |d| d.elapsed().as_secs() as i64),
        sync_total: u.sync_total,
        sync_read: u.sync_read,
    })
}

/// Whether commands not flagged stale are refused: a replica whose link
/// is not up, with replica-serve-stale-data no.
pub fn serves_no_stale_data(shared: &Shared) -> bool {
    shared.repl.is_replica()
        && !shared.hot.replica_serve_stale_data.load(Relaxed)
        && shared.repl.upstream.lock().as_ref().is_some_and(|u| u.state != LinkState::Connected)
}

/// Whether `shared` must refuse a write from this client: a replica
/// (replica-read-only) refuses clients but its primary.
pub fn refuses_writes(shared: &Shared, client: &Client) -> bool {
    shared.repl.is_replica() && !client.is_master && shared.hot.replica_read_only.load(Relaxed)
}
