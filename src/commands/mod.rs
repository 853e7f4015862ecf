//! Commands: one `CommandSpec` row per command in each family file, the
//! table that gathers them, and the dispatch gauntlet that runs them. The
//! table is the one list of command names in the crate: dispatch, COMMAND
//! and the README's compatibility list all read it. Handlers never touch
//! sockets; they read `Args`, use the locked shards, and write one reply.

pub mod args;
pub mod bitmaps;
pub mod blocking;
pub mod command;
pub mod connection;
pub mod dispatch;
pub mod docs;
pub mod error;
pub mod functions;
pub mod hashes;
pub mod info;
pub mod keys;
pub mod latency;
pub mod lists;
pub mod long_double;
mod lua_engine;
mod lua_libs;
mod lua_pack;
pub mod multi;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod table;
pub mod zset_algebra;
pub mod zset_ranges;
pub mod zsets;

use crate::client::Client;
use crate::notify;
use crate::persist::aof::Op;
use crate::resp::{Args, Reply};
use crate::server::Shared;
use crate::store::{Db, Locked, Shard, Store};

pub use error::{CmdResult, Error};

/// A command's flags, with Redis's names (COMMAND INFO lists them).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    pub const ALLOW_BUSY: u32 = 1 << 16;
    pub const SENTINEL: u32 = 1 << 17;
    pub const NO_ASYNC_LOADING: u32 = 1 << 18;

    /// Flag names in the order Redis prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Where a command's keys are: 1-based first and last argument index (last
/// negative counts from the end) and the step between keys. All zero for a
/// command with no keys.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    pub first: i32,
    pub last: i32,
    pub step: i32,
    /// For commands whose keys are counted by an argument (SINTERCARD
    /// numkeys key ...): that argument's index; the keys follow it. COMMAND
    /// INFO then shows 0 0 0 and the movablekeys flag, as Redis does.
    pub keynum: i32,
    /// More keys are found only as the command runs (SORT's BY, GET and
    /// STORE): dispatch locks every shard. COMMAND INFO shows the
    /// movablekeys flag.
    pub movable: bool,
}

impl KeySpec {
    pub const NONE: KeySpec = KeySpec { first: 0, last: 0, step: 0, keynum: 0, movable: false };
    pub const ONE: KeySpec = KeySpec { first: 1, last: 1, step: 1, keynum: 0, movable: false };
    pub const ALL: KeySpec = KeySpec { first: 1, last: -1, step: 1, keynum: 0, movable: false };
    pub const TWO: KeySpec = KeySpec { first: 1, last: 2, step: 1, keynum: 0, movable: false };
    pub const PAIRS: KeySpec = KeySpec { first: 1, last: -1, step: 2, keynum: 0, movable: false };
    /// The key is argument 2 (subcommands such as OBJECT ENCODING).
    pub const SECOND: KeySpec = KeySpec { first: 2, last: 2, step: 1, keynum: 0, movable: false };
    /// Every argument but the last (BLPOP key [key ...] timeout).
    pub const ALL_BUT_LAST: KeySpec = KeySpec { first: 1, last: -2, step: 1, keynum: 0, movable: false };

    /// The key at argument 1 and others found while the command runs.
    pub const MOVABLE: KeySpec = KeySpec { first: 1, last: 1, step: 1, keynum: 0, movable: true };

    /// Keys counted by the argument at `index`, listed right after it.
    pub const fn counted_at(index: i32) -> KeySpec {
        KeySpec { first: 0, last: 0, step: 0, keynum: index, movable: false }
    }

    /// Keys counted by the argument at `index` after a fixed key at
    /// argument 1 (ZUNIONSTORE destination numkeys key ...).
    pub const fn first_then_counted_at(index: i32) -> KeySpec {
        KeySpec { first: 1, last: 1, step: 1, keynum: index, movable: false }
    }

    /// The argument indexes of the keys in `args`.
    pub fn positions(&self, args: &Args) -> impl Iterator<Item = usize> {
        let argc = args.len();
        let fixed = if self.first <= 0 {
            (0..0).step_by(1)
        } else {
            let last = if self.last < 0 { argc as i32 + self.last } else { self.last.min(argc as i32 - 1) };
            let (first, last) = (self.first as usize, last.max(0) as usize);
            (first..(last + 1).max(first)).step_by(self.step.max(1) as usize)
        };
        let counted = if self.keynum > 0 {
            let at = self.keynum as usize;
            // An invalid count locks nothing; the handler reports it.
            let count = args.iter().nth(at).and_then(crate::resp::request::parse_i64).unwrap_or(0);
            let count = (count.max(0) as usize).min(argc.saturating_sub(at + 1));
            at + 1..at + 1 + count
        } else {
            0..0
        };
        fixed.chain(counted)
    }
}

pub type Handler = fn(&mut Ctx) -> CmdResult;

/// One command: everything dispatch and COMMAND need to know.
pub struct CommandSpec {
    /// Lowercase name (`get`; a subcommand's own name, `setname`).
    pub name: &'static str,
    /// Redis's rule: N exactly N arguments (name included), -N at least N.
    pub arity: i32,
    pub flags: u32,
    pub keys: KeySpec,
    pub handler: Handler,
    /// COMMAND DOCS: group, version it appeared in, one-line summary.
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    /// The arguments in the docs' notation (see `docs`), for COMMAND DOCS.
    pub syntax: &'static str,
    /// A container command (CLIENT, CONFIG, ...) dispatches on argument 1.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// Defines a `CommandSpec` row:
/// `cmd!("get", 2, READONLY | FAST, ONE, get, "string", "1.0.0", "Get the value of a key", "key")`.
#[macro_export]
macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $keys:ident, $handler:expr, $group:expr, $since:expr, $summary:expr, $syntax:expr) => {
        $crate::commands::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $crate::commands::KeySpec::$keys,
            handler: $handler,
            group: $group,
            since: $since,
            summary: $summary,
            syntax: $syntax,
            subcommands: &[],
        }
    };
}

/// The value of type `T` at `key`: `None` when missing, WRONGTYPE when it
/// holds another type. `read` counts the lookup in keyspace hits/misses.
pub fn lookup<'d, T: crate::store::Typed>(
    db: &'d mut Db,
    key: &[u8],
    now_ms: u64,
    read: bool,
) -> Result<Option<&'d mut T>, Error> {
    let entry = if read { db.read(key, now_ms) } else { db.get(key, now_ms) };
    match entry {
        None => Ok(None),
        Some(e) => T::from_value(&mut e.value).map(Some).ok_or(Error::WrongType),
    }
}

/// The value of type `T` at `key`, created empty when missing.
pub fn lookup_or_create<'d, T: crate::store::Typed + Default>(
    db: &'d mut Db,
    key: &[u8],
    now_ms: u64,
) -> Result<&'d mut T, Error> {
    if lookup::<T>(db, key, now_ms, false)?.is_none() {
        db.insert_new(key, T::default().into_value(), now_ms);
    }
    Ok(lookup::<T>(db, key, now_ms, false)?.expect("just created"))
}

/// The shard locks a command holds, viewed as databases.
pub struct Keys<'a> {
    store: &'a Store,
    locks: Locked<'a>,
    db: usize,
    pub now_ms: u64,
    /// Changes made to the keyspace (Redis's `dirty` count) by the
    /// command and the commands it ran (EXEC, scripts).
    pub dirty: u64,
    /// Writes are recorded (for the AOF or replicas): `ops` collects what
    /// ran.
    pub propagating: bool,
    /// The commands to record for what ran, in order: each write command
    /// as sent or as its handler rewrote it, the deletions of keys found
    /// expired, the pops that served blocked clients.
    pub ops: Vec<Op>,
    /// The running command recorded its own ops (a rewrite), so it is not
    /// recorded as sent.
    pub rewritten: bool,
    /// Replies for blocked clients this command served: (thread, client,
    /// reply), sent once the records are appended.
    pub unblocked: Vec<(usize, u64, Vec<u8>)>,
}

impl<'a> Keys<'a> {
    pub fn new(store: &'a Store, locks: Locked<'a>, db: usize, now_ms: u64) -> Self {
        Keys {
            store,
            locks,
            db,
            now_ms,
            dirty: 0,
            propagating: false,
            ops: Vec::new(),
            rewritten: false,
            unblocked: Vec::new(),
        }
    }

    /// The selected database in the shard that holds `key`.
    pub fn db(&mut self, key: &[u8]) -> &mut Db {
        let shard = self.store.shard_of(key);
        &mut self.locks.shard(shard).dbs[self.db]
    }

    /// Database `index` in the shard that holds `key` (MOVE, COPY DB).
    pub fn db_at(&mut self, key: &[u8], index: usize) -> &mut Db {
        let shard = self.store.shard_of(key);
        &mut self.locks.shard(shard).dbs[index]
    }

    pub fn selected(&self) -> usize {
        self.db
    }

    /// Records `args`, run in database `db`, as what the running command
    /// did (it will not be recorded as sent).
    pub fn record(&mut self, db: usize, args: &[&[u8]]) {
        self.rewritten = true;
        if self.propagating {
            self.record_expired();
            self.ops.push(Op::new(db, args));
        }
    }

    /// Appends what ran to the AOF, with the locks still held (so the
    /// file's order is the order keys changed in). Under appendfsync
    /// always, returns the offset replies must wait for.
    pub fn append_records(&mut self, server: &crate::server::Shared) -> Option<u64> {
        if !self.propagating {
            return None;
        }
        self.record_expired();
        if self.ops.is_empty() {
            return None;
        }
        let offset = server.propagate(&self.ops);
        self.ops.clear();
        offset.filter(|_| server.aof.fsync_policy() == crate::persist::aof::Fsync::Always)
    }

    /// Records the deletion of the keys the locked shards found expired
    /// since the last call.
    pub fn record_expired(&mut self) {
        let ops = &mut self.ops;
        self.locks.for_each(|shard| {
            for (i, db) in shard.dbs.iter_mut().enumerate() {
                if db.has_expired_log() {
                    for key in db.take_expired() {
                        ops.push(Op::new(i, &[b"DEL", &key[..]]));
                    }
                }
            }
        });
    }

    /// The events the locked shards' databases logged since last asked
    /// (expirations, new keys, misses), by database.
    pub fn take_events(&mut self) -> Vec<(usize, notify::Logged)> {
        let mut all = Vec::new();
        for shard in self.locks.all() {
            for (i, db) in shard.dbs.iter_mut().enumerate() {
                if db.log_events != 0 {
                    all.push((i, db.take_events()));
                }
            }
        }
        all
    }

    /// Follows a SELECT run inside a transaction.
    pub fn select(&mut self, db: usize) {
        self.db = db;
    }

    /// Shard `s` for `f`: through the lock held (inside a transaction, every
    /// shard's), or under a lock taken just for `f`. Commands that visit
    /// the shards one by one go through here, so they never wait for a
    /// lock their own transaction holds.
    pub fn with_shard<R>(&mut self, s: usize, f: impl FnOnce(&mut Shard) -> R) -> R {
        if self.locks.contains(s) {
            f(self.locks.shard(s))
        } else {
            f(&mut self.store.lock(s))
        }
    }

    /// `lock_all`, read only (saves and forks read every shard).
    pub fn all_shards(&mut self) -> Vec<&Shard> {
        self.lock_all().into_iter().map(|s| &*s).collect()
    }

    /// Every shard, locked (FLUSHALL, SWAPDB, transactions): the locks
    /// already held when they are all of them, or all taken now in order
    /// for a command that held none.
    pub fn lock_all(&mut self) -> Vec<&mut Shard> {
        if !(0..self.store.shard_count()).all(|s| self.locks.contains(s)) {
            debug_assert!(matches!(self.locks, Locked::None), "a partial lock set is never widened");
            self.locks = Locked::None;
            self.locks = self.store.lock_all();
        }
        self.locks.all()
    }
}

/// What a handler gets: its arguments, the locked keys, the client, the
/// server, and the reply writer.
pub struct Ctx<'a, 'k> {
    pub args: Args<'a>,
    pub keys: &'a mut Keys<'k>,
    pub out: Reply<'a>,
    pub client: &'a mut Client,
    pub server: &'a Shared,
    pub spec: &'static CommandSpec,
}

impl<'a> Ctx<'a, '_> {
    /// Argument `i` (0 is the command name).
    pub fn arg(&self, i: usize) -> &'a [u8] {
        self.args.get(i)
    }

    pub fn argc(&self) -> usize {
        self.args.len()
    }

    pub fn now_ms(&self) -> u64 {
        self.keys.now_ms
    }

    /// After a command took `removed` elements out of the collection at
    /// `key` (leaving it `emptied` or not): deletes an emptied key, tells
    /// watchers of a change, and publishes `event` (then `del`), as Redis
    /// does when something was removed.
    pub fn removed_from(&mut self, key: &[u8], class: u32, event: &str, removed: usize, emptied: bool) {
        let now = self.now_ms();
        let db = self.keys.db(key);
        if emptied {
            db.remove(key, now);
        } else if removed > 0 {
            db.touch(key);
        }
        if removed > 0 {
            self.notify(class, event, key);
            self.count_changes(removed - 1);
        }
        if emptied {
            self.notify_uncounted(notify::GENERIC, "del", key);
        }
    }

    /// Counts `n` more changes than the events announced (Redis counts
    /// each member a command added or removed).
    pub fn count_changes(&mut self, n: usize) {
        self.keys.dirty += n as u64;
    }

    /// Publishes an event that is not a change of its own (the `del` of a
    /// collection a removal emptied, the `expire` of a SET with a TTL).
    pub fn notify_uncounted(&mut self, class: u32, event: &str, key: &[u8]) {
        self.notify(class, event, key);
        self.keys.dirty -= 1;
    }

    /// Records `args` as what this command did, in place of the command
    /// as sent (relative expiries made absolute, random choices made
    /// explicit), in the selected database.
    pub fn propagate_as(&mut self, args: &[&[u8]]) {
        let db = self.client.db;
        self.keys.record(db, args);
    }

    /// Records the command as sent even if it changed nothing (FLUSHALL on
    /// an empty keyspace, as Redis does).
    pub fn propagate_verbatim(&mut self) {
        let args: Vec<&[u8]> = self.args.iter().collect();
        self.propagate_as(&args);
    }

    /// Publishes a keyspace event on `key` in the selected database.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.client.db;
        self.notify_in(db, class, event, key);
    }

    /// Publishes a keyspace event on `key` in database `db`, after the
    /// events its lookups logged there (which happened first).
    /// Every change to the keyspace announces itself here, so this is
    /// also where changes are counted.
    pub fn notify_in(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        self.keys.dirty += 1;
        if !notify::any_enabled(self.server) {
            return;
        }
        let logged = self.keys.db_at(key, db);
        if logged.log_events != 0 {
            let events = logged.take_events();
            notify::emit_logged(self.server, events, db);
        }
        notify::emit(self.server, class, event, key, db);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions() {
        let mut parser = crate::resp::RequestParser::new();
        let mut keys = |spec: KeySpec, line: &str| {
            let input = format!("{line}\n").into_bytes();
            parser.parse(&input, crate::resp::ParseLimits::default()).unwrap().unwrap();
            spec.positions(&parser.args(&input)).collect::<Vec<_>>()
        };
        assert_eq!(keys(KeySpec::ONE, "get a b"), vec![1]);
        assert_eq!(keys(KeySpec::PAIRS, "mset a 1 b 2"), vec![1, 3]);
        assert_eq!(keys(KeySpec::ALL, "del a b c"), vec![1, 2, 3]);
        assert_eq!(keys(KeySpec::NONE, "ping a b c"), Vec::<usize>::new());
        assert_eq!(keys(KeySpec::TWO, "rename a b"), vec![1, 2]);
        assert_eq!(keys(KeySpec::counted_at(1), "sintercard 2 a b LIMIT 1"), vec![2, 3]);
        assert_eq!(keys(KeySpec::counted_at(1), "sintercard 9 a"), vec![2]);
        assert_eq!(keys(KeySpec::counted_at(1), "sintercard x a"), Vec::<usize>::new());
        assert_eq!(keys(KeySpec::first_then_counted_at(2), "zunionstore d 2 a b WEIGHTS 1 2"), vec![1, 3, 4]);
    }
}
