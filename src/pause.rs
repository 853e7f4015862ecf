//! Pausing clients: CLIENT PAUSE (every command, or those that write) and
//! FAILOVER's hold on writes while a replica catches up. A paused command
//! is not refused: it stays unread in its client's buffer, the client's
//! later commands behind it, until the pause ends; its thread then runs it.
//! Replicas and the link to a primary are never paused. While any pause
//! holds, keys are neither expired by the active cycle nor evicted, so the
//! replication stream stays still, as in Redis.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use crate::server::{unix_ms, Shared};

/// What a pause holds back now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    Nothing,
    /// Commands that write or may cause writes (WRITE mode).
    Writes,
    /// Every command (ALL mode).
    All,
}

/// Commands that are not flagged as writes but may write or replicate
/// (scripts, functions, PUBLISH, PFCOUNT): held by a WRITE pause, as
/// redis-server 7.0 holds them. (It holds FCALL_RO too, but not EVAL_RO or
/// EVALSHA_RO.)
const MAY_REPLICATE: &[&str] = &["eval", "evalsha", "fcall", "fcall_ro", "publish", "pfcount"];

/// Who holds writes, besides CLIENT PAUSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Failover,
    Shutdown,
}

#[derive(Default)]
pub struct Pause {
    /// Set once anything was paused (the fast check every command makes;
    /// left set when a pause runs out by its time).
    ever: AtomicBool,
    /// CLIENT PAUSE: until when (Unix ms; 0 for none), and whether every
    /// command waits or only writes.
    client_until_ms: AtomicU64,
    client_all: AtomicBool,
    /// FAILOVER, and a shutdown waiting for replicas, hold writes until
    /// they end.
    failover: AtomicBool,
    shutdown: AtomicBool,
    /// Bumped at every change: threads look at their waiting clients again.
    generation: AtomicU64,
}

impl Pause {
    /// What is held back at `now_ms`.
    #[inline]
    pub fn holds(&self, now_ms: u64) -> Holds {
        if !self.ever.load(Relaxed) {
            return Holds::Nothing;
        }
        let until = self.client_until_ms.load(Relaxed);
        let by_client = until != 0 && now_ms < until;
        if by_client && self.client_all.load(Relaxed) {
            Holds::All
        } else if by_client || self.failover.load(Relaxed) || self.shutdown.load(Relaxed) {
            Holds::Writes
        } else {
            Holds::Nothing
        }
    }

    /// Whether anything is held back now.
    pub fn active(&self) -> bool {
        // The clock only once something was ever paused.
        self.ever.load(Relaxed) && self.holds(unix_ms()) != Holds::Nothing
    }

    /// Whether a command (its name, its flags, and for EXEC the flags of
    /// what it would run) waits under `holds`.
    pub fn holds_command(holds: Holds, name: &str, flags: u32) -> bool {
        match holds {
            Holds::Nothing => false,
            Holds::All => true,
            Holds::Writes => flags & crate::commands::flags::WRITE != 0 || MAY_REPLICATE.contains(&name),
        }
    }

    /// CLIENT PAUSE timeout [WRITE|ALL]: while a pause already holds, the
    /// later end and the stronger mode win.
    pub fn pause_clients(&self, shared: &Shared, until_ms: u64, all: bool) {
        let now = unix_ms();
        let running = self.client_until_ms.load(Relaxed) > now;
        if running {
            self.client_until_ms.fetch_max(until_ms, Relaxed);
            self.client_all.fetch_or(all, Relaxed);
        } else {
            self.client_all.store(all, Relaxed);
            self.client_until_ms.store(until_ms, Relaxed);
        }
        self.changed(shared);
    }

    /// CLIENT UNPAUSE.
    pub fn unpause_clients(&self, shared: &Shared) {
        self.client_until_ms.store(0, Relaxed);
        self.client_all.store(false, Relaxed);
        self.changed(shared);
    }

    /// A hold on writes for `purpose`, on or off.
    pub fn hold_writes(&self, shared: &Shared, purpose: Purpose, on: bool) {
        match purpose {
            Purpose::Failover => self.failover.store(on, Relaxed),
            Purpose::Shutdown => self.shutdown.store(on, Relaxed),
        }
        self.changed(shared);
    }

    /// When CLIENT PAUSE ends, while it holds.
    pub fn deadline(&self, now_ms: u64) -> Option<u64> {
        Some(self.client_until_ms.load(Relaxed)).filter(|&until| until > now_ms)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    fn changed(&self, shared: &Shared) {
        self.ever.store(true, Relaxed);
        self.generation.fetch_add(1, Relaxed);
        for mailbox in &shared.mailboxes {
            mailbox.nudge();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::flags::{READONLY, WRITE};

    #[test]
    fn write_mode_holds_writes_and_what_may_replicate() {
        let w = Holds::Writes;
        assert!(Pause::holds_command(w, "set", WRITE));
        assert!(Pause::holds_command(w, "eval", 0));
        assert!(Pause::holds_command(w, "publish", 0));
        assert!(Pause::holds_command(w, "pfcount", READONLY));
        assert!(!Pause::holds_command(w, "get", READONLY));
        assert!(!Pause::holds_command(w, "eval_ro", 0));
        assert!(Pause::holds_command(w, "fcall_ro", 0));
        assert!(Pause::holds_command(Holds::All, "ping", 0));
        assert!(!Pause::holds_command(Holds::Nothing, "set", WRITE));
    }

    #[test]
    fn a_pause_ends_at_its_time() {
        let p = Pause::default();
        p.ever.store(true, Relaxed);
        p.client_until_ms.store(1_000, Relaxed);
        p.client_all.store(true, Relaxed);
        assert_eq!(p.holds(999), Holds::All);
        assert_eq!(p.holds(1_000), Holds::Nothing);
        p.failover.store(true, Relaxed);
        assert_eq!(p.holds(1_000), Holds::Writes);
        assert_eq!(p.deadline(999), Some(1_000));
        assert_eq!(p.deadline(1_000), None);
    }
}
