//! The event loop's part in replication: feeding the replicas whose
//! connections live on this thread, and answering its clients in WAIT.

use super::EventLoop;
use crate::client::ReplyMode;
use crate::server::unix_ms;

impl EventLoop {
    /// The earliest deadline of a WAIT on this thread.
    pub(super) fn next_ack_deadline(&self) -> Option<u64> {
        self.ack_waiters.iter().filter_map(|&idx| self.conns.get(idx)?.as_ref()?.client.waiting_acks?.2).min()
    }

    /// Answers each WAIT whose replicas have acknowledged enough, or
    /// whose time is up, with the count, and lets its client go on.
    pub(super) fn answer_ack_waiters(&mut self) {
        if self.ack_waiters.is_empty() {
            return;
        }
        let now = unix_ms();
        for i in (0..self.ack_waiters.len()).rev() {
            let idx = self.ack_waiters[i];
            let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
                self.ack_waiters.swap_remove(i);
                continue;
            };
            let Some((offset, wanted, deadline)) = conn.client.waiting_acks else {
                self.ack_waiters.swap_remove(i);
                continue;
            };
            let acked = self.shared.repl.count_acked(offset);
            if acked < wanted && deadline.is_none_or(|d| now < d) {
                continue;
            }
            self.ack_waiters.swap_remove(i);
            conn.client.waiting_acks = None;
            if conn.client.reply_mode == ReplyMode::On {
                crate::resp::Reply::new(&mut conn.wbuf).int(acked as i64);
            }
            conn.more_to_run = true;
            if !conn.scheduled {
                conn.scheduled = true;
                self.ready.push_back(idx);
            }
            if !conn.flush_queued {
                conn.flush_queued = true;
                self.to_flush.push(idx);
            }
        }
    }

    /// Gives each replica served here what it is due next (the RDB file,
    /// then the replication stream), as far as its output has room.
    /// True when any got something.
    pub(super) fn pump_replicas(&mut self) -> bool {
        let mut gave = false;
        for i in (0..self.replicas.len()).rev() {
            let idx = self.replicas[i];
            let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) else { continue };
            let Some(mut link) = conn.client.replica.take() else { continue };
            let before = conn.wbuf.len();
            let pending = conn.pending_output();
            let keep = self.shared.repl.pump(&self.shared, conn.client.id, &mut link, &mut conn.wbuf, pending);
            conn.client.replica = Some(link);
            if !keep {
                self.close(idx);
            } else if conn.wbuf.len() > before {
                gave = true;
                if !conn.flush_queued {
                    conn.flush_queued = true;
                    self.to_flush.push(idx);
                }
            }
        }
        gave
    }
}
