//! Counters for INFO. Each event-loop thread writes only its own
//! `ThreadStats` (plain loads and stores, no contended cache lines); INFO
//! sums them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Adds `n` to a counter that only one thread writes.
#[inline]
pub fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Monotonic time in nanoseconds, for timing every command: a third of
/// what `Instant::now` and `elapsed` cost, whose arithmetic normalises
/// seconds and nanoseconds at each step.
#[inline]
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Calls and time of one command.
#[derive(Default)]
pub struct CommandStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

/// The counters one event-loop thread keeps.
pub struct ThreadStats {
    pub commands: AtomicU64,
    /// Changes to the keyspace (never reset: saves measure from it).
    pub dirty: AtomicU64,
    pub connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input: AtomicU64,
    pub net_output: AtomicU64,
    pub per_command: Box<[CommandStat]>,
}

impl ThreadStats {
    pub fn new(commands: usize) -> Self {
        ThreadStats {
            commands: AtomicU64::new(0),
            dirty: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            net_input: AtomicU64::new(0),
            net_output: AtomicU64::new(0),
            per_command: (0..commands).map(|_| CommandStat::default()).collect(),
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in [&self.commands, &self.connections, &self.rejected_connections, &self.net_input, &self.net_output] {
            c.store(0, Relaxed);
        }
        for c in self.per_command.iter() {
            for f in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                f.store(0, Relaxed);
            }
        }
    }
}

/// Sums one counter over every thread.
pub fn total(stats: &[ThreadStats], field: impl Fn(&ThreadStats) -> &AtomicU64) -> u64 {
    stats.iter().map(|s| field(s).load(Relaxed)).sum()
}
