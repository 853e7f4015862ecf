//! A thread's mailbox: a lock-free queue plus a `mio::Waker`. A sender wakes
//! the owner only when the pending flag flips from false to true, so a busy
//! thread is not woken once per message.

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::SegQueue;

/// What one thread can ask of another.
#[derive(Debug)]
pub enum Message {
    /// Stop accepting, flush replies in flight, and exit the loop.
    Shutdown,
    /// Close the connection of this client (CLIENT KILL).
    Kill(u64),
    /// End the block of this client with this reply (a push served it, or
    /// CLIENT UNBLOCK).
    /// With appendfsync always, the reply waits until the AOF is durable
    /// up to `aof_offset` (the pop that served it is recorded there).
    Unblock { client_id: u64, reply: Vec<u8>, aof_offset: Option<u64> },
    /// The shutdown a client's SHUTDOWN waits for will not happen: it gets
    /// `reply` and goes on.
    ShutdownFailed { client_id: u64, reply: Vec<u8> },
    /// As `Unblock`, then the connection closes once the reply is out.
    UnblockAndClose { client_id: u64, reply: Vec<u8> },
    /// A published message for some of this thread's subscribers.
    Publish(crate::pubsub::Delivery),
    /// The AOF writer made records durable that held replies wait for.
    AofSynced,
}

pub struct Mailbox {
    queue: SegQueue<Message>,
    pending: AtomicBool,
    waker: mio::Waker,
}

impl Mailbox {
    pub fn new(waker: mio::Waker) -> Self {
        Mailbox { queue: SegQueue::new(), pending: AtomicBool::new(false), waker }
    }

    pub fn send(&self, msg: Message) {
        self.queue.push(msg);
        if !self.pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.waker.wake() {
                log::warn!("failed to wake an event loop: {e}");
            }
        }
    }

    /// Wakes the owner without a message (it has work to look for: a
    /// replica's stream grew), unless it is due to wake already.
    pub fn nudge(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.waker.wake() {
                log::warn!("failed to wake an event loop: {e}");
            }
        }
    }

    /// Takes every message queued so far. Clears the flag first, so a
    /// message sent while draining wakes the thread again.
    pub fn drain(&self) -> impl Iterator<Item = Message> + '_ {
        self.pending.store(false, Ordering::Release);
        std::iter::from_fn(move || self.queue.pop())
    }
}
