//! How recently or how often each key is used: the 32-bit stamp every
//! entry carries, read by OBJECT IDLETIME / FREQ and by eviction.
//!
//! - Under an LFU maxmemory-policy the stamp is a frequency counter in the
//!   low 8 bits and, above it, the minute it was last decremented. The
//!   counter grows logarithmically (the more it holds, the less likely an
//!   access bumps it, scaled by lfu-log-factor) and loses one for every
//!   lfu-decay-time minutes without access. New keys start at 5, so they
//!   are not evicted before they had a chance to be read.
//! - Under any other policy it is the Unix second of the last access.
//!
//! Redis keeps 24 bits for the same purpose; switching policy at run time
//! leaves old stamps to be read the other way until keys are touched, as
//! Redis warns. Each database holds a copy of the settings (`Db::access`),
//! so a lookup reads them without a lock and servers sharing a process
//! keep their own.

/// The counter a new key starts with under LFU.
pub const LFU_INIT: u8 = 5;
const MINUTE_BITS: u32 = 24;

/// maxmemory-policy (whether it is an LFU one), lfu-log-factor and
/// lfu-decay-time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub lfu: bool,
    pub log_factor: u32,
    pub decay_minutes: u32,
}

impl Default for Access {
    fn default() -> Self {
        Access { lfu: false, log_factor: 10, decay_minutes: 1 }
    }
}

fn minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) as u32) & ((1 << MINUTE_BITS) - 1)
}

/// The stamp of a key whose OBJECT FREQ is to read `counter` (RESTORE,
/// loading a file).
pub fn with_frequency(counter: u8, now_ms: u64) -> u32 {
    (minutes(now_ms) << 8) | counter as u32
}

/// The stamp of a key idle for `idle_secs` (RESTORE IDLETIME, loading).
pub fn with_idle(idle_secs: u64, now_ms: u64) -> u32 {
    (now_ms / 1000).saturating_sub(idle_secs) as u32
}

/// Seconds since the last access, reading the stamp as an LRU clock.
pub fn idle_secs(stamp: u32, now_ms: u64) -> u64 {
    ((now_ms / 1000) as u32).wrapping_sub(stamp) as u64
}

impl Access {
    /// The stamp of a key created now.
    pub fn initial(self, now_ms: u64) -> u32 {
        if self.lfu {
            with_frequency(LFU_INIT, now_ms)
        } else {
            (now_ms / 1000) as u32
        }
    }

    /// The stamp of a key accessed now, given its old one.
    pub fn touched(self, stamp: u32, now_ms: u64) -> u32 {
        if !self.lfu {
            return (now_ms / 1000) as u32;
        }
        let counter = self.log_increment(self.frequency(stamp, now_ms), crate::server::random_u64());
        with_frequency(counter, now_ms)
    }

    /// The stamp of a key restored (RESTORE, or loaded from a file) with
    /// the idle time or frequency it came with; only the one the policy
    /// tracks counts, as in Redis.
    pub fn restored(self, idle_secs: Option<u64>, frequency: Option<u8>, now_ms: u64) -> u32 {
        match (self.lfu, idle_secs, frequency) {
            (true, _, Some(counter)) => with_frequency(counter, now_ms),
            (false, Some(idle), _) => with_idle(idle, now_ms),
            _ => self.initial(now_ms),
        }
    }

    /// The LFU counter with the decay since its last access applied.
    pub fn frequency(self, stamp: u32, now_ms: u64) -> u8 {
        let counter = (stamp & 0xff) as u8;
        if self.decay_minutes == 0 {
            return counter;
        }
        let elapsed = minutes(now_ms).wrapping_sub(stamp >> 8) & ((1 << MINUTE_BITS) - 1);
        counter.saturating_sub((elapsed / self.decay_minutes).min(255) as u8)
    }

    /// One access's increment: certain at the start value, then ever less
    /// likely, with probability 1 / ((counter - 5) * lfu-log-factor + 1).
    /// `random` is a uniformly random u64.
    fn log_increment(self, counter: u8, random: u64) -> u8 {
        if counter == u8::MAX {
            return counter;
        }
        let base = counter.saturating_sub(LFU_INIT) as f64;
        let p = 1.0 / (base * self.log_factor as f64 + 1.0);
        let r = (random >> 11) as f64 / (1u64 << 53) as f64;
        if r < p {
            counter + 1
        } else {
            counter
        }
    }

    /// How fit a key is for eviction under an LRU or LFU policy: the
    /// higher, the sooner it goes (milliseconds idle, or 255 less the
    /// frequency).
    pub fn eviction_score(self, stamp: u32, now_ms: u64) -> u64 {
        if self.lfu {
            (u8::MAX - self.frequency(stamp, now_ms)) as u64
        } else {
            idle_secs(stamp, now_ms) * 1000
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counter's growth follows lfu-log-factor as Redis documents it:
    /// with factor 10, about 100 hits reach 10, 1000 reach 18, 100k reach
    /// 142 and a million saturate.
    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let lfu = Access { lfu: true, ..Access::default() };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut counter = LFU_INIT;
        let mut at = Vec::new();
        for hits in 1..=1_000_000u32 {
            counter = lfu.log_increment(counter, rand());
            if [100, 1_000, 100_000, 1_000_000].contains(&hits) {
                at.push(counter);
            }
        }
        assert!((8..=13).contains(&at[0]), "{at:?}");
        assert!((15..=25).contains(&at[1]), "{at:?}");
        assert!((125..=160).contains(&at[2]), "{at:?}");
        assert_eq!(at[3], 255, "{at:?}");

        let now = 1_700_000_000_000u64;
        let stamp = with_frequency(20, now);
        assert_eq!(lfu.frequency(stamp, now), 20);
        assert_eq!(lfu.frequency(stamp, now + 3 * 60_000), 17);
        assert_eq!(lfu.frequency(stamp, now + 300 * 60_000), 0);
        assert_eq!(lfu.eviction_score(stamp, now), 235);
        let slow = Access { decay_minutes: 10, ..lfu };
        assert_eq!(slow.frequency(stamp, now + 30 * 60_000), 17);
        assert_eq!(lfu.frequency(lfu.initial(now), now), LFU_INIT);
        let lru = Access::default();
        assert_eq!(idle_secs(lru.initial(now), now + 7_500), 7);
        assert_eq!(lru.eviction_score(with_idle(30, now), now), 30_000);
    }
}
