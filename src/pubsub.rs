//! Pub/sub: which clients listen to which channels and patterns, across
//! every thread. PUBLISH reads the tables, builds each frame once, and
//! hands it to the subscribers' threads through their mailboxes, one
//! message per thread: a thread's mailbox is a FIFO queue, so the messages
//! of one publisher reach every subscriber in the order they were
//! published, and a slow subscriber only fills its own output buffer
//! (which its own loop limits) and never holds the publisher back.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::glob;
use crate::net::mailbox::{Mailbox, Message};
use crate::resp::Reply;

/// A subscribed client: its id and the thread that owns its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscriber {
    pub client_id: u64,
    pub thread: usize,
}

/// Channel (or pattern) to its subscribers, in subscription order.
type Table = RwLock<HashMap<Box<[u8]>, Vec<Subscriber>, ahash::RandomState>>;

#[derive(Default)]
pub struct PubSub {
    channels: Table,
    patterns: Table,
}

/// Which table a subscription goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
}

/// A frame to write to some of a thread's clients, if each is still
/// subscribed to `to` (a client that unsubscribed after the PUBLISH began
/// does not get it).
#[derive(Debug)]
pub struct Delivery {
    pub clients: Vec<u64>,
    pub kind: Kind,
    pub to: Arc<[u8]>,
    pub frame: Arc<[u8]>,
}

impl PubSub {
    fn table(&self, kind: Kind) -> &Table {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
        }
    }

    pub fn subscribe(&self, kind: Kind, name: &[u8], who: Subscriber) {
        let mut table = self.table(kind).write();
        let subs = table.entry(name.into()).or_default();
        if !subs.contains(&who) {
            subs.push(who);
        }
    }

    pub fn unsubscribe(&self, kind: Kind, name: &[u8], client_id: u64) {
        let mut table = self.table(kind).write();
        if let Some(subs) = table.get_mut(name) {
            subs.retain(|s| s.client_id != client_id);
            if subs.is_empty() {
                table.remove(name);
            }
        }
    }

    /// PUBLISH: queues the message for every subscriber of `channel` and
    /// of every pattern it matches; returns how many receive it.
    pub fn publish(&self, mailboxes: &[Mailbox], channel: &[u8], message: &[u8]) -> usize {
        let mut per_thread: Vec<Vec<u64>> = vec![Vec::new(); mailboxes.len()];
        let mut receivers = 0;
        let to: Arc<[u8]> = channel.into();
        if let Some(subs) = self.channels.read().get(channel) {
            let mut frame = Vec::with_capacity(32 + channel.len() + message.len());
            let mut out = Reply::new(&mut frame);
            out.array(3);
            out.bulk(b"message");
            out.bulk(channel);
            out.bulk(message);
            for s in subs {
                per_thread[s.thread].push(s.client_id);
            }
            receivers += subs.len();
            send(mailboxes, &mut per_thread, Kind::Channel, &to, frame.into());
        }
        for (pattern, subs) in self.patterns.read().iter() {
            if !glob::matches(pattern, channel, false) {
                continue;
            }
            let mut frame = Vec::with_capacity(48 + pattern.len() + channel.len() + message.len());
            let mut out = Reply::new(&mut frame);
            out.array(4);
            out.bulk(b"pmessage");
            out.bulk(pattern);
            out.bulk(channel);
            out.bulk(message);
            for s in subs {
                per_thread[s.thread].push(s.client_id);
            }
            receivers += subs.len();
            send(mailboxes, &mut per_thread, Kind::Pattern, &(**pattern).into(), frame.into());
        }
        receivers
    }

    /// PUBSUB CHANNELS [pattern]: channels with at least one subscriber.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        let table = self.channels.read();
        table.keys().filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false))).cloned().collect()
    }

    /// PUBSUB NUMSUB: subscribers of one channel.
    pub fn subscribers(&self, channel: &[u8]) -> usize {
        self.channels.read().get(channel).map_or(0, Vec::len)
    }

    /// PUBSUB NUMPAT: patterns with at least one subscriber.
    pub fn patterns(&self) -> usize {
        self.patterns.read().len()
    }
}

/// Sends one delivery per thread that has receivers, emptying the lists.
fn send(mailboxes: &[Mailbox], per_thread: &mut [Vec<u64>], kind: Kind, to: &Arc<[u8]>, frame: Arc<[u8]>) {
    for (thread, clients) in per_thread.iter_mut().enumerate() {
        if !clients.is_empty() {
            let clients = std::mem::take(clients);
            let delivery = Delivery { clients, kind, to: to.clone(), frame: frame.clone() };
            mailboxes[thread].send(Message::Publish(delivery));
        }
    }
}
