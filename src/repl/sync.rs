//! Serving replicas: PSYNC's answer, the snapshot a full resync sends,
//! and the pump that feeds each replica's connection the file and then
//! the stream as its socket drains.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::{transfer, Replica, Replication, State};
use crate::persist::snapshot::Stream;
use crate::server::Shared;
use crate::store::Shard;

/// Output a replica's connection may hold before the pump stops filling
/// it until the socket drains.
const PUMP_HIGH_WATER: usize = 1 << 20;
/// Bytes of the RDB file read per step.
const FILE_CHUNK: usize = 256 * 1024;

/// What a replica's connection keeps for the pump: the snapshot file
/// being sent.
pub struct Link {
    /// The RDB file being sent, and the bytes of it left.
    file: Option<(File, u64)>,
}

impl Link {
    pub fn new() -> Self {
        Link { file: None }
    }
}

impl Default for Link {
    fn default() -> Self {
        Self::new()
    }
}

impl Replication {
    /// PSYNC from a new replica, with every shard locked. Its first
    /// words: `+CONTINUE` when the stream from the offset asked is still
    /// buffered, else `+FULLRESYNC` once the snapshot starts (at once,
    /// unless another child runs: then when it ends).
    pub fn psync(&self, shared: &Shared, shards: &mut [&mut Shard], replica: Replica, asked: Option<(&str, u64)>) {
        if !self.active.swap(true, Relaxed) {
            // From now on lazily expired keys are logged for the feed.
            crate::persist::rewrite::log_expired(shards, true);
        }
        self.alone_since_ms.store(0, Relaxed);
        let mut replicas = self.replicas.lock();
        let mut replica = replica;
        {
            let mut feed = self.feed.lock();
            if let Some((id, next)) = asked {
                // The replica asks for the byte after the last it has:
                // position `next - 1` in the stream.
                let from = next.wrapping_sub(1);
                let ids = self.ids.lock();
                // Under the previous id, only up to where it was valid.
                let known = id == ids.replid
                    || (id == ids.replid2 && ids.second_offset >= 0 && next <= ids.second_offset as u64);
                let replid = ids.replid.clone();
                drop(ids);
                if known && next > 0 && from >= feed.first() && from <= feed.offset {
                    self.partial_ok.fetch_add(1, Relaxed);
                    replica.state = State::Online;
                    replica.sent = from;
                    replica.preamble = format!("+CONTINUE {replid}\r\n").into_bytes();
                    replicas.push(replica);
                    self.replicas_changed(&replicas, &mut feed);
                    log::info!(
                        "Partial resynchronization request accepted. Sending {} bytes of backlog",
                        feed.offset - from
                    );
                    drop(feed);
                    drop(replicas);
                    self.wake_replica_threads(shared);
                    return;
                }
            }
            if asked.is_some() {
                self.partial_err.fetch_add(1, Relaxed);
            }
            self.full_syncs.fetch_add(1, Relaxed);
            replica.state = State::WaitBgsave;
            replicas.push(replica);
            self.replicas_changed(&replicas, &mut feed);
        }
        drop(replicas);
        let read_only: Vec<&Shard> = shards.iter().map(|s| &**s).collect();
        self.start_snapshot(shared, &read_only);
    }

    /// Starts a snapshot for the replicas waiting for one, if none runs.
    /// With repl-diskless-sync, and when every one of them takes it, the
    /// snapshot goes to them through a pipe rather than a file, once the
    /// first has waited repl-diskless-sync-delay seconds (so that others
    /// asking meanwhile share it) or repl-diskless-sync-max-replicas are
    /// waiting; until then the cron calls again. The caller holds every
    /// shard.
    pub fn start_snapshot(&self, shared: &Shared, shards: &[&Shard]) {
        let mut replicas = self.replicas.lock();
        let waiting: Vec<&Replica> = replicas.iter().filter(|r| r.state == State::WaitBgsave).collect();
        if waiting.is_empty() || shared.persist.running().is_some() {
            return;
        }
        let (diskless, delay, max_waiting) = {
            let config = shared.config.read();
            let number = |name| config.get(name).parse::<u64>().unwrap_or(0);
            (
                config.get("repl-diskless-sync") == "yes",
                number("repl-diskless-sync-delay"),
                number("repl-diskless-sync-max-replicas"),
            )
        };
        let diskless = diskless && waiting.iter().all(|r| r.eof_capable);
        if diskless {
            let waited = waiting.iter().map(|r| r.asked_at.elapsed().as_secs()).max().unwrap_or(0);
            let enough = max_waiting > 0 && waiting.len() as u64 >= max_waiting;
            if waited < delay && !enough {
                return;
            }
        }
        let mut plan = crate::persist::snapshot::Plan::rdb(shared, std::process::id());
        let mut feed = self.feed.lock();
        let offset = feed.offset;
        // Exactly where the stream is (a PING may have gone in meanwhile).
        plan.repl = Some(super::SaveInfo { stream_db: feed.stream_db, replid: self.ids.lock().replid.clone(), offset });
        let relay = match diskless {
            true => match transfer_pipe(&mut plan) {
                Some(pipe) => Some(pipe),
                None => return,
            },
            false => None,
        };
        let job = if diskless { crate::persist::Job::Transfer } else { crate::persist::Job::Save };
        if crate::persist::fork_job(shared, shards, job, plan).is_err() {
            return;
        }
        let transfer = relay.map(|(pipe, mark)| {
            let ids: Vec<u64> = waiting.iter().map(|r| r.client_id).collect();
            let shared = shared.arc().expect("a running server's state is shared");
            transfer::Transfer::start(shared, pipe, mark, &ids)
        });
        // The stream after the snapshot starts with a SELECT.
        feed.last_db = None;
        let target = if diskless { "socket" } else { "disk" };
        for r in replicas.iter_mut().filter(|r| r.state == State::WaitBgsave) {
            log::info!("Starting BGSAVE for SYNC with target: {target}");
            r.state = match transfer {
                Some(_) => State::Transfer { offset },
                None => State::WaitBgsaveEnd { offset },
            };
            r.transfer = transfer.clone();
            r.transfer_moved = Instant::now();
            r.preamble = format!("+FULLRESYNC {} {offset}\r\n", self.ids.lock().replid).into_bytes();
        }
        self.replicas_changed(&replicas, &mut feed);
        drop(feed);
        drop(replicas);
        self.wake_replica_threads(shared);
    }

    /// Whether replicas wait for the running snapshot to end.
    pub fn waiting_for_snapshot_end(&self) -> bool {
        self.threads.load(Relaxed) != 0
            && self.replicas.lock().iter().any(|r| matches!(r.state, State::WaitBgsaveEnd { .. }))
    }

    /// Whether replicas wait for a snapshot to start (cron starts one when
    /// the running child ends).
    pub fn waiting_for_snapshot(&self) -> bool {
        self.replicas.lock().iter().any(|r| r.state == State::WaitBgsave)
    }

    /// A background save ended: the replicas waiting for it get the file,
    /// or are dropped if it failed.
    pub fn snapshot_done(&self, shared: &Shared, ok: bool) {
        let mut replicas = self.replicas.lock();
        for r in replicas.iter_mut() {
            if let State::WaitBgsaveEnd { offset } = r.state {
                r.state = if ok { State::RdbReady { offset } } else { State::Failed };
            }
        }
        self.replicas_changed(&replicas, &mut self.feed.lock());
        drop(replicas);
        self.wake_replica_threads(shared);
    }

    /// Moves what a replica's connection should be sent next into `out`:
    /// the preamble, then the RDB file, then the stream. False when the
    /// connection should close. `out_pending` is what its output holds
    /// unsent already.
    pub fn pump(
        &self,
        shared: &Shared,
        client_id: u64,
        link: &mut Link,
        out: &mut Vec<u8>,
        out_pending: usize,
    ) -> bool {
        let mut replicas = self.replicas.lock();
        let Some(at) = replicas.iter().position(|r| r.client_id == client_id) else { return true };
        let keep = self.pump_one(shared, &mut replicas[at], link, out, out_pending);
        self.replicas_changed(&replicas, &mut self.feed.lock());
        keep
    }

    fn pump_one(
        &self,
        shared: &Shared,
        r: &mut Replica,
        link: &mut Link,
        out: &mut Vec<u8>,
        out_pending: usize,
    ) -> bool {
        // The stream held for it counts as its output buffer, limited by
        // client-output-buffer-limit's replica class (the hard limit).
        let (hard, _, _) = shared.hot.output_limit_replica();
        let held_for_it = self.feed.lock().offset.saturating_sub(r.position()) + out_pending as u64;
        if hard > 0 && held_for_it > hard {
            log::warn!(
                "Client replica {}:{} scheduled to be closed ASAP for overcoming of output buffer limits.",
                r.ip,
                r.listening_port
            );
            return false;
        }
        if !r.preamble.is_empty() {
            out.extend_from_slice(&std::mem::take(&mut r.preamble));
        }
        let mut pending = out_pending;
        loop {
            if pending >= PUMP_HIGH_WATER {
                return true;
            }
            match r.state {
                State::WaitBgsave | State::WaitBgsaveEnd { .. } | State::AwaitAck { .. } => return true,
                State::Transfer { offset } => {
                    let Some(t) = r.transfer.clone() else { return false };
                    match t.copy_to(r.client_id, out, PUMP_HIGH_WATER - pending) {
                        transfer::Step::Copied(n) => {
                            pending += n;
                            r.transfer_moved = Instant::now();
                        }
                        transfer::Step::Waiting => {
                            r.transfer_moved = Instant::now();
                            return true;
                        }
                        transfer::Step::Failed => return false,
                        transfer::Step::Done => {
                            log::info!(
                                "Streamed RDB transfer with replica {}:{} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming",
                                r.ip,
                                r.listening_port
                            );
                            r.state = State::AwaitAck { offset };
                            // Not acknowledged before: the wait counts from now.
                            r.ack_at = Instant::now();
                            return true;
                        }
                    }
                }
                State::Failed => return false,
                State::RdbReady { offset } => {
                    let path = crate::persist::snapshot::rdb_path(&shared.config.read());
                    let Ok(file) = File::open(&path) else { return false };
                    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                    let header = format!("${len}\r\n");
                    out.extend_from_slice(header.as_bytes());
                    pending += header.len();
                    link.file = Some((file, len));
                    log::info!("Synchronization with replica {}:{} started ({len} bytes)", r.ip, r.listening_port);
                    r.state = State::SendingRdb { offset };
                }
                State::SendingRdb { offset } => {
                    let Some((file, left)) = link.file.as_mut() else { return false };
                    if *left == 0 {
                        link.file = None;
                        r.state = State::Online;
                        r.sent = offset;
                        // Its acknowledgements count from now.
                        r.ack_at = Instant::now();
                        log::info!("Synchronization with replica {}:{} succeeded", r.ip, r.listening_port);
                        continue;
                    }
                    let take = (*left as usize).min(FILE_CHUNK);
                    let at = out.len();
                    out.resize(at + take, 0);
                    if file.read_exact(&mut out[at..]).is_err() {
                        return false;
                    }
                    *left -= take as u64;
                    pending += take;
                }
                State::Online => {
                    let feed = self.feed.lock();
                    let first = feed.first();
                    if r.sent < first {
                        // Fell out of the buffer, which keeps what replicas
                        // need: not expected, but a resync fixes it.
                        return false;
                    }
                    let from = (r.sent - first) as usize;
                    let take = (feed.buf.len() - from).min(PUMP_HIGH_WATER - pending);
                    super::copy_out(&feed.buf, from, take, out);
                    r.sent += take as u64;
                    return true;
                }
            }
        }
    }
}

/// A pipe for a diskless transfer: its write end and a new end mark go
/// into `plan` for the child; its read end and the mark are the
/// relay's.
fn transfer_pipe(plan: &mut crate::persist::snapshot::Plan) -> Option<(File, String)> {
    let (read_end, write_end) =
        crate::persist::pipe().map_err(|e| log::warn!("Can't create a pipe for the diskless transfer: {e}")).ok()?;
    let mark = crate::server::random_hex(transfer::MARK_LEN);
    plan.stream = Some(Stream { out: write_end, mark: mark.clone(), relay_end: read_end.as_raw_fd() });
    Some((read_end, mark))
}
