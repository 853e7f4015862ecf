//! The latency monitor behind LATENCY LATEST, HISTORY and RESET. When
//! something the server does takes `latency-monitor-threshold` ms or more
//! (0 turns the monitor off), it is logged under its event's name:
//! `command` and `fast-command` for a command's run, `expire-cycle` for a
//! pass of active expiry, `fork` for starting a snapshot. As in Redis,
//! each event keeps one sample a second (the worst of that second), the
//! last 160 of them, and its all-time maximum.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use parking_lot::Mutex;

/// Samples kept per event.
const KEPT: usize = 160;

#[derive(Default)]
struct Series {
    /// (Unix time in seconds, latency in ms), oldest first.
    samples: VecDeque<(u64, u64)>,
    max: u64,
}

#[derive(Default)]
pub struct Monitor {
    /// latency-monitor-threshold, in milliseconds.
    pub threshold_ms: AtomicU64,
    events: Mutex<HashMap<&'static str, Series>>,
}

impl Monitor {
    /// Takes latency-monitor-threshold from the configuration.
    pub fn configure(&self, config: &crate::config::Config) {
        self.threshold_ms.store(config.get("latency-monitor-threshold").parse().unwrap_or(0), Relaxed);
    }

    /// Logs `event` if it took at least the threshold.
    pub fn observe(&self, event: &'static str, took: Duration) {
        self.observe_ns(event, took.as_nanos() as u64);
    }

    /// `observe` for a time in nanoseconds. Cheap when the event was
    /// short: one atomic load and a comparison.
    #[inline]
    pub fn observe_ns(&self, event: &'static str, took_ns: u64) {
        let threshold = self.threshold_ms.load(Relaxed);
        if threshold != 0 && took_ns >= threshold.saturating_mul(1_000_000) {
            self.add(event, took_ns / 1_000_000, crate::server::unix_ms() / 1000);
        }
    }

    fn add(&self, event: &'static str, ms: u64, now_s: u64) {
        let mut events = self.events.lock();
        let series = events.entry(event).or_default();
        series.max = series.max.max(ms);
        match series.samples.back_mut() {
            Some((at, worst)) if *at == now_s => *worst = (*worst).max(ms),
            _ => {
                if series.samples.len() == KEPT {
                    series.samples.pop_front();
                }
                series.samples.push_back((now_s, ms));
            }
        }
    }

    /// Every event: (name, time of its latest sample, that sample, the
    /// maximum).
    pub fn latest(&self) -> Vec<(&'static str, u64, u64, u64)> {
        let events = self.events.lock();
        let mut out: Vec<_> =
            events.iter().filter_map(|(name, s)| s.samples.back().map(|&(at, ms)| (*name, at, ms, s.max))).collect();
        out.sort_unstable();
        out
    }

    /// The samples of `event`, oldest first.
    pub fn history(&self, event: &[u8]) -> Vec<(u64, u64)> {
        let events = self.events.lock();
        let series = std::str::from_utf8(event).ok().and_then(|name| events.get(name));
        series.map_or_else(Vec::new, |s| s.samples.iter().copied().collect())
    }

    /// Forgets the named events (all with `None`); returns how many there
    /// were.
    pub fn reset(&self, names: Option<&[&[u8]]>) -> usize {
        let mut events = self.events.lock();
        match names {
            None => {
                let n = events.len();
                events.clear();
                n
            }
            Some(names) => {
                let before = events.len();
                events.retain(|name, _| !names.iter().any(|n| n.eq_ignore_ascii_case(name.as_bytes())));
                before - events.len()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_a_second_the_worst_and_the_maximum() {
        let m = Monitor::default();
        m.add("command", 10, 100);
        m.add("command", 20, 100);
        m.add("command", 5, 100);
        m.add("command", 7, 101);
        m.add("fork", 3, 101);
        assert_eq!(m.latest(), vec![("command", 101, 7, 20), ("fork", 101, 3, 3)]);
        assert_eq!(m.history(b"command"), vec![(100, 20), (101, 7)]);
        assert_eq!(m.history(b"nosuch"), vec![]);
        for s in 0..200 {
            m.add("fork", 1, 1000 + s);
        }
        assert_eq!(m.history(b"fork").len(), KEPT);
        assert_eq!(m.history(b"fork")[0], (1040, 1));
        assert_eq!(m.reset(Some(&[b"FORK", b"nosuch"])), 1);
        assert_eq!(m.reset(None), 1);
        assert!(m.latest().is_empty());
    }

    #[test]
    fn off_at_threshold_zero() {
        let m = Monitor::default();
        m.observe("command", Duration::from_secs(5));
        assert!(m.latest().is_empty());
        m.threshold_ms.store(2, Relaxed);
        m.observe("command", Duration::from_micros(1999));
        assert!(m.latest().is_empty());
        m.observe("command", Duration::from_millis(2));
        assert_eq!(m.latest().len(), 1);
    }
}
