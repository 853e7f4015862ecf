//! Keyspace notifications (notify-keyspace-events): every change to a key
//! is published as pub/sub messages, `__keyspace@<db>__:<key>` with the
//! event's name and `__keyevent@<db>__:<event>` with the key, for the
//! classes of events the setting enables. Off by default; a command pays
//! one atomic load per event when it is off.

use std::sync::atomic::Ordering::Relaxed;

use crate::server::Shared;

/// The flag letters Redis uses, one bit each.
pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const MODULE: u32 = 1 << 11; // d
pub const NEW: u32 = 1 << 12; // n
pub const KEY_MISS: u32 = 1 << 13; // m
/// `A`: every class but key misses and new keys.
pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The class letters in the order Redis prints them, after `A`.
const CLASSES: [(char, u32); 11] = [
    ('g', GENERIC),
    ('$', STRING),
    ('l', LIST),
    ('s', SET),
    ('h', HASH),
    ('z', ZSET),
    ('x', EXPIRED),
    ('e', EVICTED),
    ('t', STREAM),
    ('d', MODULE),
    ('n', NEW),
];

/// The flags a setting names; None for a character that names none.
pub fn parse(text: &str) -> Option<u32> {
    let mut flags = 0;
    for c in text.chars() {
        flags |= match c {
            'A' => ALL,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            'm' => KEY_MISS,
            c => CLASSES.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(flags)
}

/// The setting as CONFIG GET shows it: `A` or the class letters, then
/// `K`, `E` and `m`. (As in Redis, `n` is not shown next to `A`.)
pub fn format(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        s.extend(CLASSES.iter().filter(|(_, f)| flags & f != 0).map(|(c, _)| *c));
    }
    for (c, f) in [('K', KEYSPACE), ('E', KEYEVENT), ('m', KEY_MISS)] {
        if flags & f != 0 {
            s.push(c);
        }
    }
    s
}

/// Publishes `event` on `key` of database `db` if its class is enabled.
pub fn emit(shared: &Shared, class: u32, event: &str, key: &[u8], db: usize) {
    let flags = shared.hot.notify_flags.load(Relaxed);
    if flags & class == 0 {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        shared.pubsub.publish(&shared.mailboxes, &channel, event.as_bytes());
    }
    if flags & KEYEVENT != 0 {
        let channel = format!("__keyevent@{db}__:{event}");
        shared.pubsub.publish(&shared.mailboxes, channel.as_bytes(), key);
    }
}

/// Events a database logged: (class, key), oldest first.
pub type Logged = Vec<(u32, Box<[u8]>)>;

/// The classes a database logs itself, of those enabled in `flags`.
pub fn logged_by_store(flags: u32) -> u32 {
    if flags & (KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        flags & (EXPIRED | NEW | KEY_MISS)
    }
}

/// The event a database logged for `class`.
pub fn logged_event(class: u32) -> &'static str {
    match class {
        EXPIRED => "expired",
        NEW => "new",
        _ => "keymiss",
    }
}

/// Publishes what a database logged (expirations, new keys, misses).
pub fn emit_logged(shared: &Shared, events: Logged, db: usize) {
    for (class, key) in events {
        emit(shared, class, logged_event(class), &key, db);
    }
}

/// True when any keyspace notification is on (the hot paths' one check).
pub fn any_enabled(shared: &Shared) -> bool {
    shared.hot.notify_flags.load(Relaxed) != 0
}

/// True when events of `class` are published (to skip building them).
pub fn enabled(shared: &Shared, class: u32) -> bool {
    shared.hot.notify_flags.load(Relaxed) & class != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_and_print_as_redis_does() {
        assert_eq!(parse("KEA").map(format).as_deref(), Some("AKE"));
        assert_eq!(parse("Kl").map(format).as_deref(), Some("lK"));
        assert_eq!(parse("nmEKdxzhsl$g").map(format).as_deref(), Some("g$lshzxdnKEm"));
        assert_eq!(parse("Atn").map(format).as_deref(), Some("A"));
        assert_eq!(parse("").map(format).as_deref(), Some(""));
        assert_eq!(parse("Q"), None);
    }
}
