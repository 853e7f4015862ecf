//! Server commands: CONFIG, TIME, SHUTDOWN, MEMORY and DEBUG (INFO's
//! sections are `info.rs`).

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::args::{self, is};
use super::flags::*;
use super::{CmdResult, CommandSpec, Ctx, Error};
use crate::cmd;
use crate::config::ConfigError;
use crate::memory;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("info", -1, LOADING | STALE, NONE, super::info::info, "server", "1.0.0", "Get information and statistics about the server", "[section...]"),
    CommandSpec {
        subcommands: CONFIG_SUBCOMMANDS,
        ..cmd!("config", -2, 0, NONE, config_help, "server", "2.0.0", "A container for server configuration commands", "")
    },
    cmd!("time", 1, LOADING | STALE | FAST, NONE, time, "server", "2.6.0", "Return the current server time", ""),
    cmd!("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, NONE, shutdown, "server", "1.0.0", "Synchronously save the dataset to disk and then shut down the server", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"),
    CommandSpec {
        subcommands: MEMORY_SUBCOMMANDS,
        ..cmd!("memory", -2, 0, NONE, memory_help, "server", "4.0.0", "A container for memory diagnostics commands", "")
    },
    cmd!("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, NONE, debug, "server", "1.0.0", "A container for debugging commands", ""),
];

const CONFIG_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

#[rustfmt::skip]
static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("get", -3, CONFIG_FLAGS, NONE, config_get, "server", "2.0.0", "Get the values of configuration parameters", "parameter..."),
    cmd!("set", -4, CONFIG_FLAGS, NONE, config_set, "server", "2.0.0", "Set configuration parameters to the given values", "(parameter value)..."),
    cmd!("rewrite", 2, CONFIG_FLAGS, NONE, config_rewrite, "server", "2.8.0", "Rewrite the configuration file with the in memory configuration", ""),
    cmd!("resetstat", 2, CONFIG_FLAGS, NONE, config_resetstat, "server", "2.0.0", "Reset the stats returned by INFO", ""),
    cmd!("help", 2, LOADING | STALE, NONE, config_help, "server", "5.0.0", "Show helpful text about the different subcommands", ""),
];

#[rustfmt::skip]
static MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("usage", -3, READONLY, SECOND, memory_usage, "server", "4.0.0", "Estimate the memory usage of a key", "key [SAMPLES count]"),
    cmd!("purge", 2, 0, NONE, memory_purge, "server", "4.0.0", "Ask the allocator to release memory", ""),
    cmd!("help", 2, LOADING | STALE, NONE, memory_help, "server", "4.0.0", "Show helpful text about the different subcommands", ""),
];

/// CONFIG GET parameter [parameter ...]
fn config_get(ctx: &mut Ctx) -> CmdResult {
    let config = ctx.server.config.read();
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for pattern in ctx.args.tail(2).iter() {
        for (name, value) in config.matching(pattern) {
            if !pairs.iter().any(|(n, _)| *n == name) {
                pairs.push((name, value.to_string()));
            }
        }
    }
    drop(config);
    ctx.out.array(pairs.len() * 2);
    for (name, value) in &pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET parameter value [parameter value ...]: all or nothing.
fn config_set(ctx: &mut Ctx) -> CmdResult {
    if !ctx.argc().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    let mut updated = ctx.server.config.read().clone();
    let mut seen: Vec<String> = Vec::new();
    for pair in ctx.args.tail(2).iter().collect::<Vec<_>>().chunks(2) {
        let name = String::from_utf8_lossy(pair[0]).to_lowercase();
        if seen.contains(&name) {
            return Err(Error::ConfigDuplicate(name));
        }
        let value = String::from_utf8_lossy(pair[1]).into_owned();
        updated.set(&name, &value).map_err(|e| match e {
            ConfigError::UnknownDirective(n) => Error::ConfigUnknown(n),
            ConfigError::Immutable(n) => Error::ConfigImmutable(n),
            ConfigError::Protected(n) => Error::ConfigProtected(n),
            ConfigError::BadValue { name, reason } => Error::ConfigSetFailed { name, reason },
            ConfigError::Unsupported { name, what } => {
                Error::ConfigSetFailed { name, reason: format!("this server does not support {what} yet") }
            }
        })?;
        seen.push(name);
    }
    if seen.iter().any(|n| n == "dir") {
        if let Err(e) = crate::server::change_dir(updated.dir()) {
            return Err(Error::ConfigSetFailed { name: "dir".into(), reason: e.to_string() });
        }
    }
    let aof_was = ctx.server.config.read().get("appendonly") == "yes";
    let aof_now = updated.get("appendonly") == "yes";
    let fsync = crate::persist::aof::Fsync::parse(updated.get("appendfsync"));
    ctx.server.hot.refresh(&updated);
    ctx.server.latency.configure(&updated);
    *ctx.server.config.write() = updated;
    ctx.server.aof.set_fsync_policy(fsync);
    if aof_now != aof_was {
        let server = ctx.server;
        if aof_now {
            let mut locked = ctx.keys.lock_all();
            crate::persist::rewrite::log_expired(&mut locked, true);
            let shards: Vec<&crate::store::Shard> = locked.into_iter().map(|s| &*s).collect();
            if let Err(e) = crate::persist::rewrite::turn_on(server, &shards) {
                log::warn!("Can't turn the AOF on: {e}");
                server.config.write().set("appendonly", "no").expect("a valid value");
                crate::persist::rewrite::log_expired(&mut ctx.keys.lock_all(), server.repl.is_active());
                return Err(Error::ConfigSetFailed { name: "appendonly".into(), reason: e });
            }
        } else {
            crate::persist::rewrite::turn_off(server);
            crate::persist::rewrite::log_expired(&mut ctx.keys.lock_all(), server.repl.is_active());
        }
    }
    // The databases log the events of their lookups only while enabled,
    // and stamp accesses as the policy reads them.
    let logged = crate::notify::logged_by_store(ctx.server.hot.notify_flags.load(Relaxed));
    let access = ctx.server.config.read().access();
    for s in 0..ctx.server.store.shard_count() {
        ctx.keys.with_shard(s, |shard| {
            for db in shard.dbs.iter_mut() {
                db.log_events = logged;
                db.access = access;
            }
        });
    }
    ctx.server.evictor.set_policy(crate::evict::Policy::parse(ctx.server.config.read().get("maxmemory-policy")));
    // A lowered limit is enforced by the event loops, in bounded steps.
    ctx.server.evictor.wake();
    ctx.out.ok();
    Ok(())
}

/// CONFIG REWRITE: written to a temporary file, synced, then renamed over
/// the original, so a crash leaves the old file or the new one.
fn config_rewrite(ctx: &mut Ctx) -> CmdResult {
    let Some(path) = ctx.server.config_file.as_deref() else { return Err(Error::NoConfigFile) };
    let failed = |e: std::io::Error| Error::RewriteFailed(e.to_string());
    let original = std::fs::read_to_string(path).map_err(failed)?;
    let text = ctx.server.config.read().rewrite(&original);
    let tmp = format!("{path}.rewrite-{}", std::process::id());
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(e));
    }
    log::info!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

/// CONFIG RESETSTAT
fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    for s in &ctx.server.stats {
        s.reset();
    }
    for s in 0..ctx.server.store.shard_count() {
        ctx.keys.with_shard(s, |shard| {
            for db in shard.dbs.iter_mut() {
                db.expired = 0;
                db.hits = 0;
                db.misses = 0;
            }
        });
    }
    ctx.server.evictor.reset_stats();
    ctx.out.ok();
    Ok(())
}

/// CONFIG HELP
fn config_help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ];
    super::keys::help(ctx, LINES);
    Ok(())
}

/// TIME
fn time(ctx: &mut Ctx) -> CmdResult {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
///
/// A primary first waits for its replicas (up to shutdown-timeout; not
/// with NOW; ABORT calls that off: `crate::shutdown`). Saves first when
/// save points are set (or with SAVE; never with NOSAVE); a failed save
/// cancels the shutdown unless FORCE. On success the client gets no reply:
/// the connection closes as the server stops.
fn shutdown(ctx: &mut Ctx) -> CmdResult {
    let (mut abort, mut nosave, mut save, mut force, mut now) = (false, false, false, false, false);
    for word in ctx.args.tail(1).iter() {
        if is(word, "abort") {
            abort = true;
        } else if is(word, "nosave") {
            nosave = true;
        } else if is(word, "save") {
            save = true;
        } else if is(word, "force") {
            force = true;
        } else if is(word, "now") {
            now = true;
        } else {
            return Err(Error::Syntax);
        }
    }
    if nosave && save {
        return Err(Error::Syntax);
    }
    let server = ctx.server;
    if abort {
        if !crate::shutdown::abort(server) {
            return Err(Error::NoShutdownInProgress);
        }
        ctx.out.ok();
        return Ok(());
    }
    log::warn!("User requested shutdown...");
    let has_points = !server.config.read().get("save").is_empty();
    // Nothing is saved while the data is still loading, as in Redis: the
    // file would hold part of it.
    let loading = server.persist.is_loading();
    let saving = !nosave && !loading && (save || has_points) && !server.scripts.running.is_busy();
    if let Some(me) = server.arc().filter(|_| !now && crate::shutdown::should_wait(server)) {
        let client = Some((ctx.client.meta.thread, ctx.client.id));
        if let Some(waiting) = crate::shutdown::begin(server, client) {
            // No reply: the client waits, then its connection closes as the
            // server stops (or it gets an error if that is called off).
            ctx.client.shutdown_wait = true;
            crate::shutdown::in_background(me, waiting, saving, force);
            return Ok(());
        }
    }
    crate::persist::kill_child(server);
    if saving {
        log::info!("Saving the final RDB snapshot before exiting.");
        if super::persistence::save_locked(ctx).is_err() && !force {
            log::warn!("Error trying to save the DB, can't exit.");
            return Err(Error::ShutdownSaveFailed);
        }
    }
    ctx.server.request_shutdown();
    ctx.client.close_after_reply = true;
    Ok(())
}

/// MEMORY USAGE key [SAMPLES count]: the bytes the key's slot, name and
/// value hold. The whole value is measured; SAMPLES is checked as Redis
/// checks it and otherwise does not change the answer.
fn memory_usage(ctx: &mut Ctx) -> CmdResult {
    let mut at = 3;
    while at < ctx.argc() {
        if !is(ctx.arg(at), "samples") || at + 1 == ctx.argc() {
            return Err(Error::Syntax);
        }
        if args::int(ctx.arg(at + 1))? < 0 {
            return Err(Error::Syntax);
        }
        at += 2;
    }
    let now = ctx.now_ms();
    let key = ctx.arg(2);
    match ctx.keys.db(key).usage(key, now) {
        Some(bytes) => ctx.out.int(bytes as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// MEMORY PURGE
fn memory_purge(ctx: &mut Ctx) -> CmdResult {
    memory::purge();
    ctx.out.ok();
    Ok(())
}

/// MEMORY HELP
fn memory_help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value.",
        "HELP",
        "    Prints this help.",
    ];
    super::keys::help(ctx, LINES);
    Ok(())
}

/// DEBUG subcommand [argument ...]; refused unless enable-debug-command.
fn debug(ctx: &mut Ctx) -> CmdResult {
    if !ctx.server.config.read().debug_command_enabled() {
        return Err(Error::DebugDisabled("DEBUG"));
    }
    let sub = ctx.arg(1);
    if is(sub, "sleep") && ctx.argc() == 3 {
        let secs = args::float(ctx.arg(2))?;
        std::thread::sleep(Duration::from_secs_f64(secs.max(0.0)));
        ctx.out.ok();
    } else if is(sub, "set-active-expire") && ctx.argc() == 3 {
        let on = args::int(ctx.arg(2))? != 0;
        ctx.server.hot.active_expire.store(on, Relaxed);
        ctx.out.ok();
    } else if is(sub, "object") && ctx.argc() == 3 {
        let now = ctx.now_ms();
        let key = ctx.arg(2);
        let db_index = ctx.client.db;
        // As in Redis, DEBUG OBJECT looks at the table directly: an expired
        // key not yet deleted is shown.
        let line = ctx.keys.with_shard(ctx.server.store.shard_of(key), |shard| {
            shard.dbs[db_index].peek(key).map(|entry| {
                format!(
                    "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
                    entry.value.encoding(),
                    entry.value.heap_size().max(1),
                    entry.access & ((1 << 24) - 1),
                    entry.idle_secs(now)
                )
            })
        });
        ctx.out.simple(&line.ok_or(Error::NoSuchKey)?);
    } else if is(sub, "reload") {
        debug_reload(ctx)?;
    } else if is(sub, "help") {
        const LINES: &[&str] = &[
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "OBJECT <key>",
            "    Show low level info about the key and associated value.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
            "    * MERGE: Merge the content of the RDB with the current data.",
            "    * NOFLUSH: Do not empty the current data before loading the RDB.",
            "    * NOSAVE: the database will be loaded from an existing RDB file.",
            "    Examples:",
            "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
            "      the database.",
            "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
            "      existing RDB file.",
            "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
            "      file to the database.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "HELP",
            "    Prints this help.",
        ];
        super::keys::help(ctx, LINES);
    } else {
        return Err(Error::UnknownSubcommandOrArity { sub: sub.to_vec(), command: "debug" });
    }
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves, empties the dataset
/// (keys and functions) and loads the file back, as Redis does.
fn debug_reload(ctx: &mut Ctx) -> CmdResult {
    let (mut save, mut flush, mut merge) = (true, true, false);
    for word in ctx.args.tail(2).iter() {
        if is(word, "merge") {
            merge = true;
        } else if is(word, "noflush") {
            flush = false;
        } else if is(word, "nosave") {
            save = false;
        } else {
            return Err(Error::DebugReloadOption);
        }
    }
    if save {
        super::persistence::save_locked(ctx).map_err(|_| Error::Bare)?;
    }
    let server = ctx.server;
    let mut shards = ctx.keys.lock_all();
    if flush {
        for shard in shards.iter_mut() {
            for db in shard.dbs.iter_mut() {
                db.clear();
            }
        }
        server.functions.clear();
    }
    let path = crate::persist::rdb_path(&server.config.read());
    match crate::persist::snapshot::load(server, &path, &mut shards, merge) {
        Ok(Some(_)) => {}
        Ok(None) => {
            log::warn!("DEBUG RELOAD: no such file {}", path.display());
            return Err(Error::DebugReloadFailed);
        }
        Err(e) => {
            log::warn!("DEBUG RELOAD: {e}");
            return Err(Error::DebugReloadFailed);
        }
    }
    log::warn!("DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}
