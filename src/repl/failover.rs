//! FAILOVER: a primary hands its role to one of its replicas without
//! losing a write. It holds writes (`crate::pause`), waits until a replica
//! (the one named with TO, or the first) has acknowledged the whole
//! stream, then follows that replica with `PSYNC <replid> <offset> FAILOVER`,
//! which tells it to take over first; the partial resync that answers ends
//! the failover and lets the held writes go (to be refused as a replica's,
//! or sent to the new primary by the client). TIMEOUT gives up waiting
//! (or, with FORCE, fails over to the named replica anyway); ABORT gives
//! up at any point, and a failed handover makes this server a primary
//! again.

use super::{upstream, Replication, State};
use crate::server::{unix_ms, Shared};

/// master_failover_state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Stage {
    #[default]
    None,
    WaitingForSync,
    InProgress,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::None => "no-failover",
            Stage::WaitingForSync => "waiting-for-sync",
            Stage::InProgress => "failover-in-progress",
        }
    }
}

/// A failover under way.
#[derive(Default)]
pub struct Failover {
    pub stage: Stage,
    /// The replica named with TO, or (once in progress) the one chosen.
    target: Option<(String, u16)>,
    force: bool,
    /// TIMEOUT's end (Unix ms).
    deadline_ms: Option<u64>,
    /// When the replicas were last asked for their offsets (Unix ms).
    asked_ms: u64,
}

/// Why FAILOVER is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    OnReplica,
    NoReplicas,
    InProgress,
    /// FORCE without both TO and TIMEOUT.
    Force,
    NotAReplica,
    NotOnline,
}

impl Replication {
    pub fn failover_stage(&self) -> Stage {
        self.failover.lock().stage
    }

    /// FAILOVER [TO host port [FORCE]] [TIMEOUT ms], its options parsed;
    /// refused in the order Redis checks.
    pub fn start_failover(
        &self,
        shared: &Shared,
        target: Option<(String, u16)>,
        force: bool,
        timeout_ms: Option<u64>,
    ) -> Result<(), Refusal> {
        if self.is_replica() {
            return Err(Refusal::OnReplica);
        }
        // The failover's lock before the replicas', as the cron takes them.
        let mut failover = self.failover.lock();
        let replicas = self.replicas.lock();
        if replicas.is_empty() {
            return Err(Refusal::NoReplicas);
        }
        if failover.stage != Stage::None {
            return Err(Refusal::InProgress);
        }
        if force && (target.is_none() || timeout_ms.is_none()) {
            return Err(Refusal::Force);
        }
        if let Some((host, port)) = &target {
            let replica = replicas
                .iter()
                .find(|r| r.ip.eq_ignore_ascii_case(host) && r.listening_port == *port)
                .ok_or(Refusal::NotAReplica)?;
            if replica.state != State::Online {
                return Err(Refusal::NotOnline);
            }
        }
        match &target {
            Some((host, port)) => log::info!("FAILOVER requested to {host}:{port}."),
            None => log::info!("FAILOVER requested to any replica."),
        }
        *failover = Failover {
            stage: Stage::WaitingForSync,
            target,
            force,
            deadline_ms: timeout_ms.map(|t| unix_ms().saturating_add(t)),
            asked_ms: unix_ms(),
        };
        drop(replicas);
        drop(failover);
        shared.pause.hold_writes(shared, crate::pause::Purpose::Failover, true);
        // The replicas say where they are now rather than within a second.
        self.request_acks(shared, 0);
        Ok(())
    }

    /// FAILOVER ABORT: false when none is under way.
    pub fn abort_failover(&self, shared: &Shared, why: &str) -> bool {
        let stage = std::mem::take(&mut *self.failover.lock()).stage;
        if stage == Stage::None {
            return false;
        }
        log::warn!("FAILOVER aborted: {why}");
        if stage == Stage::InProgress {
            // Back to being the primary.
            upstream::stop_following(shared);
            let _ = shared.config.write().apply("replicaof", &[]);
        }
        shared.pause.hold_writes(shared, crate::pause::Purpose::Failover, false);
        true
    }

    /// Periodic work (thread 0's cron): once a replica has everything,
    /// hand over to it; past TIMEOUT, give up or (FORCE) hand over anyway.
    pub fn failover_cron(&self, shared: &Shared) {
        let mut failover = self.failover.lock();
        if failover.stage != Stage::WaitingForSync {
            return;
        }
        let offset = self.offset();
        let synced = self
            .replicas
            .lock()
            .iter()
            .filter(|r| r.state == State::Online && r.ack >= offset)
            .find(|r| {
                failover.target.as_ref().is_none_or(|(h, p)| r.ip.eq_ignore_ascii_case(h) && r.listening_port == *p)
            })
            .map(|r| (r.ip.clone(), r.listening_port));
        let timed_out = failover.deadline_ms.is_some_and(|d| unix_ms() >= d);
        let chosen = match synced {
            Some(target) => {
                log::info!("Failover target {}:{} is synced, failing over.", target.0, target.1);
                target
            }
            None if timed_out && failover.force => {
                let target = failover.target.clone().expect("FORCE comes with TO");
                log::info!("Failover target {}:{} is not synced, failing over anyway (FORCE).", target.0, target.1);
                target
            }
            None if timed_out => {
                drop(failover);
                self.abort_failover(shared, "Replica never caught up before timeout");
                return;
            }
            None => {
                // Ask again now and then: an ACK may have left before the
                // last write. (Not at every turn: each question is a few
                // bytes more that the replica must acknowledge.)
                if unix_ms().saturating_sub(failover.asked_ms) >= 1000 {
                    failover.asked_ms = unix_ms();
                    drop(failover);
                    self.request_acks(shared, 0);
                }
                return;
            }
        };
        failover.stage = Stage::InProgress;
        failover.target = Some(chosen.clone());
        drop(failover);
        let (host, port) = chosen;
        self.demoted();
        let _ = shared.config.write().apply("replicaof", &[host.clone(), port.to_string()]);
        upstream::follow(shared, host, port);
    }

    /// The replica's link asks whether its PSYNC hands a failover over to
    /// `host:port`.
    pub fn failover_to(&self, host: &str, port: u16) -> bool {
        let failover = self.failover.lock();
        failover.stage == Stage::InProgress
            && failover.target.as_ref().is_some_and(|(h, p)| h.eq_ignore_ascii_case(host) && *p == port)
    }

    /// The new primary answered the handover's PSYNC: done, or (refused)
    /// this server is the primary again.
    pub fn failover_answered(&self, shared: &Shared, accepted: bool) {
        if !accepted {
            self.abort_failover(shared, "Failover target rejected psync request");
            return;
        }
        *self.failover.lock() = Failover::default();
        shared.pause.hold_writes(shared, crate::pause::Purpose::Failover, false);
        log::info!("FAILOVER finished.");
    }

    /// Whether this server takes on replicas now (not while failing over).
    pub fn failing_over(&self) -> bool {
        self.failover_stage() != Stage::None
    }
}
