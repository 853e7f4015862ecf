//! A primary's shutdown waits for its replicas, as Redis 7.0's does: writes
//! are held (`crate::pause`), the replicas are asked for their offsets,
//! and the shutdown goes on once every one has acknowledged the whole
//! stream, or after shutdown-timeout seconds. SHUTDOWN ABORT gives up
//! meanwhile; SHUTDOWN NOW does not wait. The waiting happens on a thread
//! of its own (for SHUTDOWN) or on the signal thread (for SIGTERM), never
//! on an event loop, which must go on serving the replicas' ACKs.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::net::mailbox::Message;
use crate::server::Shared;

/// A shutdown waiting for the replicas.
pub struct Waiting {
    /// The client that sent SHUTDOWN (its thread and id), if one did.
    client: Option<(usize, u64)>,
    aborted: AtomicBool,
}

/// Whether a shutdown should wait for replicas now: this server is a
/// primary with replicas that have not acknowledged everything, and
/// shutdown-timeout is not 0.
pub fn should_wait(shared: &Shared) -> bool {
    let timeout = shared.config.read().get("shutdown-timeout").parse::<u64>().unwrap_or(0);
    timeout > 0 && !shared.repl.is_replica() && shared.repl.lagging_replicas() > 0
}

/// Starts waiting, on behalf of `client` (thread, id) if a client asked.
/// None when a shutdown already waits.
pub fn begin(shared: &Shared, client: Option<(usize, u64)>) -> Option<Arc<Waiting>> {
    let mut slot = shared.shutdown_wait.lock();
    if slot.is_some() {
        return None;
    }
    let waiting = Arc::new(Waiting { client, aborted: AtomicBool::new(false) });
    *slot = Some(waiting.clone());
    drop(slot);
    log::info!("Waiting for replicas before shutting down.");
    shared.pause.hold_writes(shared, crate::pause::Purpose::Shutdown, true);
    shared.repl.request_acks(shared, 0);
    Some(waiting)
}

/// Blocks until every replica has acknowledged the whole stream, the
/// timeout passes, or the wait is aborted. True when the shutdown goes on.
pub fn wait(shared: &Shared, waiting: &Waiting) -> bool {
    let timeout = shared.config.read().get("shutdown-timeout").parse::<u64>().unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut asked = Instant::now();
    while !waiting.aborted.load(Relaxed) && Instant::now() < deadline && shared.repl.lagging_replicas() > 0 {
        if asked.elapsed() >= Duration::from_secs(1) {
            shared.repl.request_acks(shared, 0);
            asked = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if waiting.aborted.load(Relaxed) {
        return false;
    }
    if shared.repl.lagging_replicas() > 0 {
        log::warn!("{} replicas have not caught up before shutting down.", shared.repl.lagging_replicas());
    }
    true
}

/// SHUTDOWN ABORT: false when no shutdown waits.
pub fn abort(shared: &Shared) -> bool {
    let Some(waiting) = shared.shutdown_wait.lock().take() else { return false };
    waiting.aborted.store(true, Relaxed);
    log::info!("Shutdown manually aborted.");
    failed(shared, &waiting);
    true
}

/// The shutdown does not happen after all (aborted, or its save failed):
/// writes go on, and the client that asked gets Redis's error.
pub fn failed(shared: &Shared, waiting: &Waiting) {
    shared.shutdown_wait.lock().take();
    shared.pause.hold_writes(shared, crate::pause::Purpose::Shutdown, false);
    if let Some((thread, client_id)) = waiting.client {
        let reply = format!("-{}\r\n", crate::commands::Error::ShutdownSaveFailed).into_bytes();
        shared.mailboxes[thread].send(Message::ShutdownFailed { client_id, reply });
    }
}

/// SHUTDOWN that waits: on a thread of its own, waits, then saves as
/// asked (`save`: whether to) and stops the server, or reports failure to
/// the client.
pub fn in_background(shared: Arc<Shared>, waiting: Arc<Waiting>, save: bool, force: bool) {
    let (on_thread, waiting_there) = (shared.clone(), waiting.clone());
    let spawned = std::thread::Builder::new().name("kvstore-shutdown".into()).spawn(move || {
        let (shared, waiting) = (on_thread, waiting_there);
        if !wait(&shared, &waiting) {
            return;
        }
        crate::persist::kill_child(&shared);
        if save {
            log::info!("Saving the final RDB snapshot before exiting.");
            let saved = crate::persist::with_all_shards(&shared, |shards| crate::persist::save(&shared, shards));
            if saved.is_err() && !force {
                log::warn!("Error trying to save the DB, can't exit.");
                failed(&shared, &waiting);
                return;
            }
        }
        shared.request_shutdown();
    });
    if let Err(e) = spawned {
        log::warn!("Can't wait for the replicas before shutting down: {e}");
        failed(&shared, &waiting);
    }
}

/// SIGTERM or SIGINT: waits for the replicas (unless aborted), then makes
/// the final save. False when the server must keep running (aborted, or
/// the save failed).
pub fn on_signal(shared: &Shared) -> bool {
    let waiting = if should_wait(shared) { begin(shared, None) } else { None };
    if let Some(waiting) = &waiting {
        if !wait(shared, waiting) {
            return false;
        }
    }
    if crate::persist::save_for_shutdown(shared) {
        return true;
    }
    if let Some(waiting) = &waiting {
        failed(shared, waiting);
    }
    false
}
