//! Connections that wait, and their release: clients a pause holds (CLIENT
//! PAUSE, FAILOVER), replies held until the AOF is durable, and clients
//! blocked in a command (their timeouts and their answers).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{conn_mut, conn_ref, EventLoop};
use crate::client::{Client, ReplyMode};
use crate::commands::blocking;
use crate::server::{unix_ms, Shared};
use crate::store::blocking::Waiter;

impl EventLoop {
    /// Sets a client a pause holds aside until it ends (out of line: rare,
    /// and `finish_turn` runs for every request).
    #[cold]
    #[inline(never)]
    pub(super) fn park_paused(&mut self, idx: usize) {
        if !self.paused.contains(&idx) {
            self.paused.push(idx);
        }
    }

    /// Gives the clients a pause held back a turn once the pause ended or
    /// changed (those still held stop again at once).
    pub(super) fn release_paused(&mut self) {
        if self.paused.is_empty() {
            return;
        }
        let generation = self.shared.pause.generation();
        if generation == self.pause_seen && self.shared.pause.active() {
            return;
        }
        self.pause_seen = generation;
        for idx in std::mem::take(&mut self.paused) {
            let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) else { continue };
            conn.client.pause_wait = false;
            conn.more_to_run = true;
            if !conn.scheduled {
                conn.scheduled = true;
                self.ready.push_back(idx);
            }
        }
    }

    /// Notes a connection whose replies wait for the AOF, and asks the
    /// writer to say when they may go.
    pub(super) fn hold(&mut self, idx: usize) {
        if !self.held.contains(&idx) {
            self.held.push(idx);
        }
        let until = conn_ref(&self.conns, idx).held_until;
        if self.shared.aof.wait_for(self.index, until) {
            self.release_held();
        }
    }

    /// Lets the replies go that the AOF has made durable, and waits on for
    /// the rest.
    pub(super) fn release_held(&mut self) {
        let aof = &self.shared.aof;
        loop {
            let synced = aof.synced();
            let mut waiting = u64::MAX;
            let mut held = std::mem::take(&mut self.held);
            held.retain(|&idx| {
                let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) else { return false };
                if conn.release(synced) {
                    if !conn.flush_queued {
                        conn.flush_queued = true;
                        self.to_flush.push(idx);
                    }
                    return false;
                }
                if !conn.is_held() {
                    return false;
                }
                waiting = waiting.min(conn.held_until);
                true
            });
            self.held = held;
            if self.held.is_empty() {
                aof.clear_wait(self.index);
                return;
            }
            aof.clear_wait(self.index);
            if !aof.wait_for(self.index, waiting) {
                return;
            }
        }
    }

    /// Answers blocked clients whose timeout has passed.
    pub(super) fn expire_blocked(&mut self) {
        let now = unix_ms();
        while let Some(&(deadline, client_id)) = self.timers.first() {
            if deadline > now {
                break;
            }
            self.timers.pop_first();
            let Some(&idx) = self.by_client.get(&client_id) else { continue };
            // Losing the claim means a reply is already on its way.
            if conn_ref(&self.conns, idx).client.blocked.as_ref().is_some_and(|w| w.claim()) {
                self.finish_block(idx, blocking::TIMEOUT_REPLY, None);
            }
        }
    }

    /// Ends a client's block with `reply` and lets it run the commands it
    /// sent meanwhile.
    pub(super) fn finish_block(&mut self, idx: usize, reply: &[u8], aof_offset: Option<u64>) {
        let conn = conn_mut(&mut self.conns, idx);
        let Some(waiter) = conn.client.blocked.take() else { return };
        if conn.client.reply_mode == ReplyMode::On {
            if let Some(offset) = aof_offset {
                conn.hold_from(conn.wbuf.len(), offset);
            }
            conn.wbuf.extend_from_slice(reply);
        }
        conn.more_to_run = true;
        if !conn.scheduled {
            conn.scheduled = true;
            self.ready.push_back(idx);
        }
        unblocked(&mut self.timers, &self.shared, &conn.client, &waiter);
        if conn.is_held() {
            self.hold(idx);
        }
    }
}

/// Forgets a finished waiter: its timer, its queue entries, its mark on
/// the client.
pub(super) fn unblocked(timers: &mut BTreeSet<(u64, u64)>, shared: &Shared, client: &Client, waiter: &Arc<Waiter>) {
    if let Some(deadline) = waiter.deadline_ms {
        timers.remove(&(deadline, client.id));
    }
    *client.meta.blocked.lock() = None;
    blocking::forget(&shared.store, waiter);
}
