//! Server commands: INFO, CONFIG, TIME, SHUTDOWN, MEMORY and DEBUG.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::args::{self, is};
use super::connection::REDIS_VERSION;
use super::flags::*;
use super::{table, CmdResult, CommandSpec, Ctx, Error};
use crate::cmd;
use crate::config::ConfigError;
use crate::memory;
use crate::stats::total;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("info", -1, LOADING | STALE, NONE, info, "server", "1.0.0", "Get information and statistics about the server", "[section...]"),
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

/// INFO sections in the order Redis prints them, and whether `default`
/// includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", false),
    ("commandstats", false),
    ("errorstats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// INFO [section [section ...]]
fn info(ctx: &mut Ctx) -> CmdResult {
    let mut wanted: Vec<String> = ctx.args.tail(1).iter().map(|a| String::from_utf8_lossy(a).to_lowercase()).collect();
    if wanted.is_empty() {
        wanted.push("default".into());
    }
    let mut text = String::new();
    for (name, in_default) in SECTIONS {
        let include = wanted.iter().any(|w| {
            w == name || w == "all" && *name != "modules" || w == "everything" || w == "default" && *in_default
        });
        if include {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            section(ctx, name, &mut text);
        }
    }
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn section(ctx: &mut Ctx, name: &str, s: &mut String) {
    let server = ctx.server;
    let _ = writeln_crlf(s, &format!("# {}", capitalize(name)));
    let mut field = |k: &str, v: String| {
        let _ = writeln_crlf(s, &format!("{k}:{v}"));
    };
    match name {
        "server" => {
            let uptime = server.started.elapsed().as_secs();
            let now_us = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
            field("redis_version", REDIS_VERSION.into());
            field("redis_git_sha1", "00000000".into());
            field("redis_git_dirty", "0".into());
            field("redis_build_id", "0".into());
            field("redis_mode", "standalone".into());
            field("os", os_name());
            field("arch_bits", (usize::BITS).to_string());
            field("monotonic_clock", "POSIX clock_gettime".into());
            field("multiplexing_api", "epoll".into());
            field("atomicvar_api", "c11-builtin".into());
            field("gcc_version", "0.0.0".into());
            field("process_id", std::process::id().to_string());
            field("process_supervised", "no".into());
            field("run_id", server.run_id.clone());
            field("tcp_port", server.port.to_string());
            field("server_time_usec", now_us.to_string());
            field("uptime_in_seconds", uptime.to_string());
            field("uptime_in_days", (uptime / 86400).to_string());
            field("hz", server.hot.hz.load(Relaxed).to_string());
            field("configured_hz", server.hot.hz.load(Relaxed).to_string());
            field("lru_clock", (((now_us / 1000) as u64 / 1000) & ((1 << 24) - 1)).to_string());
            field("executable", std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default());
            field("config_file", server.config_file.clone().unwrap_or_default());
            field("io_threads_active", "0".into());
            field("kvstore_version", env!("CARGO_PKG_VERSION").into());
            field("kvstore_threads", server.threads.to_string());
            field("kvstore_shards", server.store.shard_count().to_string());
        }
        "clients" => {
            field("connected_clients", server.clients.len().to_string());
            field("cluster_connections", "0".into());
            field("maxclients", server.hot.maxclients.load(Relaxed).to_string());
            field("client_recent_max_input_buffer", "0".into());
            field("client_recent_max_output_buffer", "0".into());
            let waiters: Vec<_> = server.clients.all().iter().filter_map(|c| c.blocked.lock().clone()).collect();
            let with_timeout = waiters.iter().filter(|w| w.deadline_ms.is_some()).count();
            field("blocked_clients", waiters.len().to_string());
            field("tracking_clients", "0".into());
            field("clients_in_timeout_table", with_timeout.to_string());
        }
        "memory" => {
            let used = memory::used();
            let rss = memory::rss();
            let peak = memory::peak();
            field("used_memory", used.to_string());
            field("used_memory_human", memory::human(used));
            field("used_memory_rss", rss.to_string());
            field("used_memory_rss_human", memory::human(rss));
            field("used_memory_peak", peak.to_string());
            field("used_memory_peak_human", memory::human(peak));
            field("used_memory_peak_perc", format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64));
            let startup = memory::startup();
            // The keyspace's tables are not looked at while the data loads.
            let tables = if server.persist.is_loading() { 0 } else { keyspace_overhead(ctx) };
            let overhead = (startup + tables).min(used);
            field("used_memory_overhead", overhead.to_string());
            field("used_memory_startup", startup.to_string());
            field("used_memory_dataset", (used - overhead).to_string());
            let perc = (used - overhead) as f64 * 100.0 / used.saturating_sub(startup).max(1) as f64;
            field("used_memory_dataset_perc", format!("{perc:.2}%"));
            field("total_system_memory", system_memory().to_string());
            field("total_system_memory_human", memory::human(system_memory()));
            field("maxmemory", server.config.read().get("maxmemory").to_string());
            field("maxmemory_human", memory::human(server.config.read().get("maxmemory").parse().unwrap_or(0)));
            field("maxmemory_policy", server.config.read().get("maxmemory-policy").to_string());
            let a = memory::allocator_stats();
            let ratio = |x: usize, y: usize| format!("{:.2}", x as f64 / y.max(1) as f64);
            let diff = |x: usize, y: usize| (x as i64 - y as i64).to_string();
            field("allocator_allocated", a.allocated.to_string());
            field("allocator_active", a.active.to_string());
            field("allocator_resident", a.resident.to_string());
            field("allocator_frag_ratio", ratio(a.active, a.allocated));
            field("allocator_frag_bytes", diff(a.active, a.allocated));
            field("allocator_rss_ratio", ratio(a.resident, a.active));
            field("allocator_rss_bytes", diff(a.resident, a.active));
            field("rss_overhead_ratio", ratio(rss, a.resident));
            field("rss_overhead_bytes", diff(rss, a.resident));
            field("mem_fragmentation_ratio", ratio(rss, used));
            field("mem_fragmentation_bytes", diff(rss, used));
            // No replication, cluster links or defragmentation exist: their
            // memory is truly none.
            field("mem_clients_slaves", "0".into());
            field("mem_replication_backlog", "0".into());
            field("mem_total_replication_buffers", "0".into());
            field("mem_cluster_links", "0".into());
            let (libraries, functions) = server.functions.counts();
            field("number_of_cached_scripts", server.scripts.len().to_string());
            field("number_of_functions", functions.to_string());
            field("number_of_libraries", libraries.to_string());
            field("mem_allocator", memory::allocator_name());
            field("active_defrag_running", "0".into());
            field("lazyfree_pending_objects", crate::lazyfree::pending().to_string());
        }
        "persistence" => {
            let p = server.persist.info(server);
            // Read once, so the lines agree with each other.
            let loading = p.loading.filter(|_| server.persist.is_loading());
            let secs = |v: Option<u64>| v.map_or("-1".to_string(), |s| s.to_string());
            for (k, v) in [
                ("loading", (loading.is_some() as u8).to_string()),
                ("async_loading", "0".into()),
                ("current_cow_peak", "0".into()),
                ("current_cow_size", "0".into()),
                ("current_cow_size_age", "0".into()),
                ("current_fork_perc", "0.00".into()),
                ("current_save_keys_processed", "0".into()),
                ("current_save_keys_total", "0".into()),
                ("rdb_changes_since_last_save", p.changes.to_string()),
                ("rdb_bgsave_in_progress", (p.in_progress as u8).to_string()),
                ("rdb_last_save_time", p.last_save_s.to_string()),
                ("rdb_last_bgsave_status", if p.last_ok { "ok" } else { "err" }.into()),
                ("rdb_last_bgsave_time_sec", secs(p.last_bgsave_secs)),
                ("rdb_current_bgsave_time_sec", secs(p.current_secs)),
                ("rdb_saves", p.saves.to_string()),
                ("rdb_last_cow_size", p.last_cow.to_string()),
                ("rdb_last_load_keys_expired", p.loaded_expired.to_string()),
                ("rdb_last_load_keys_loaded", p.loaded_keys.to_string()),
                ("aof_enabled", (server.aof.is_on() as u8).to_string()),
                ("aof_rewrite_in_progress", (p.rewrite_in_progress as u8).to_string()),
                ("aof_rewrite_scheduled", (p.rewrite_scheduled as u8).to_string()),
                ("aof_last_rewrite_time_sec", secs(p.rewrite_last_secs)),
                ("aof_current_rewrite_time_sec", secs(p.rewrite_current_secs)),
                ("aof_last_bgrewrite_status", if p.rewrite_ok { "ok" } else { "err" }.into()),
                ("aof_rewrites", p.rewrites.to_string()),
                ("aof_rewrites_consecutive_failures", p.rewrite_failures.to_string()),
                ("aof_last_write_status", if server.aof.write_failed.load(Relaxed) { "err" } else { "ok" }.into()),
                ("aof_last_cow_size", p.rewrite_cow.to_string()),
                ("module_fork_in_progress", "0".into()),
                ("module_fork_last_cow_size", "0".into()),
            ] {
                field(k, v);
            }
            if server.aof.is_on() {
                let (base, incr) = (server.aof.base_bytes.load(Relaxed), server.aof.incr_bytes.load(Relaxed));
                field("aof_current_size", (base + incr).to_string());
                field("aof_base_size", base.to_string());
                field("aof_pending_rewrite", (p.rewrite_scheduled as u8).to_string());
                field("aof_buffer_length", "0".into());
                field("aof_pending_bio_fsync", "0".into());
                field("aof_delayed_fsync", "0".into());
            }
            if let Some(l) = loading {
                field("loading_start_time", l.start_s.to_string());
                field("loading_total_bytes", l.total_bytes.to_string());
                field("loading_rdb_used_mem", l.rdb_used_mem.to_string());
                field("loading_loaded_bytes", l.loaded_bytes.to_string());
                let (perc, eta) = loading_eta(&l);
                field("loading_loaded_perc", format!("{perc:.2}"));
                field("loading_eta_seconds", eta.to_string());
            }
        }
        "stats" => {
            let st = &server.stats;
            let (mut expired, mut hits, mut misses) = (0, 0, 0);
            for s in 0..server.store.shard_count() {
                ctx.keys.with_shard(s, |shard| {
                    for db in shard.dbs.iter() {
                        expired += db.expired;
                        hits += db.hits;
                        misses += db.misses;
                    }
                });
            }
            field("total_connections_received", total(st, |s| &s.connections).to_string());
            field("total_commands_processed", server.total_commands().to_string());
            field("instantaneous_ops_per_sec", server.instantaneous_ops().to_string());
            field("total_net_input_bytes", total(st, |s| &s.net_input).to_string());
            field("total_net_output_bytes", total(st, |s| &s.net_output).to_string());
            field("rejected_connections", total(st, |s| &s.rejected_connections).to_string());
            field("sync_full", server.repl.full_syncs.load(Relaxed).to_string());
            field("sync_partial_ok", server.repl.partial_ok.load(Relaxed).to_string());
            field("sync_partial_err", server.repl.partial_err.load(Relaxed).to_string());
            field("expired_keys", expired.to_string());
            field("evicted_keys", server.evictor.evicted.load(Relaxed).to_string());
            field("evicted_clients", "0".into());
            let (exceeded_total, exceeded_now) = server.evictor.exceeded_ms();
            field("total_eviction_exceeded_time", exceeded_total.to_string());
            field("current_eviction_exceeded_time", exceeded_now.to_string());
            field("keyspace_hits", hits.to_string());
            field("keyspace_misses", misses.to_string());
            field("pubsub_channels", "0".into());
            field("pubsub_patterns", "0".into());
            let persisted = server.persist.info(server);
            field("latest_fork_usec", persisted.fork_usec.to_string());
            field("total_forks", persisted.forks.to_string());
            let failed: u64 = st.iter().flat_map(|t| t.per_command.iter()).map(|c| c.failed.load(Relaxed)).sum();
            let rejected: u64 = st.iter().flat_map(|t| t.per_command.iter()).map(|c| c.rejected.load(Relaxed)).sum();
            field("total_error_replies", (failed + rejected).to_string());
        }
        "replication" => {
            let r = server.repl.info();
            match crate::repl::upstream::status(server) {
                None => field("role", "master".into()),
                Some(up) => {
                    use crate::repl::upstream::LinkState;
                    let config = server.config.read();
                    field("role", "slave".into());
                    field("master_host", up.host.clone());
                    field("master_port", up.port.to_string());
                    let linked = up.state == LinkState::Connected;
                    field("master_link_status", if linked { "up" } else { "down" }.into());
                    field("master_last_io_seconds_ago", if linked { up.last_io_secs as i64 } else { -1 }.to_string());
                    let syncing = up.state == LinkState::Sync;
                    field("master_sync_in_progress", (syncing as u8).to_string());
                    field("slave_read_repl_offset", r.offset.to_string());
                    field("slave_repl_offset", r.offset.to_string());
                    if syncing {
                        // As Redis computes them, a transfer of unknown
                        // size (-1) included.
                        let left = up.sync_total - up.sync_read as i64;
                        let percent = match up.sync_total {
                            0 => 0.0,
                            t => up.sync_read as f64 * 100.0 / t as f64,
                        };
                        field("master_sync_total_bytes", up.sync_total.to_string());
                        field("master_sync_read_bytes", up.sync_read.to_string());
                        field("master_sync_left_bytes", left.to_string());
                        field("master_sync_perc", format!("{percent:.2}"));
                        field("master_sync_last_io_seconds_ago", up.last_io_secs.to_string());
                    }
                    if !linked {
                        field("master_link_down_since_seconds", up.down_secs.to_string());
                    }
                    field("slave_priority", config.get("replica-priority").to_string());
                    field("slave_read_only", ((config.get("replica-read-only") == "yes") as u8).to_string());
                    field("replica_announced", ((config.get("replica-announced") == "yes") as u8).to_string());
                }
            }
            field("connected_slaves", r.replicas.len().to_string());
            if server.hot.min_replicas.load(Relaxed) > 0 && server.hot.min_replicas_max_lag.load(Relaxed) > 0 {
                field("min_slaves_good_slaves", server.repl.good_replicas(server).to_string());
            }
            for line in r.replicas {
                let (name, value) = line.split_once(':').expect("slaveN:...");
                field(name, value.to_string());
            }
            field("master_failover_state", server.repl.failover_stage().name().into());
            let (replid, replid2, second_offset) = server.repl.ids();
            field("master_replid", replid);
            field("master_replid2", replid2);
            field("master_repl_offset", r.offset.to_string());
            field("second_repl_offset", second_offset.to_string());
            field("repl_backlog_active", (r.active as u8).to_string());
            field("repl_backlog_size", server.config.read().get("repl-backlog-size").to_string());
            field("repl_backlog_first_byte_offset", if r.active { r.first_byte } else { 0 }.to_string());
            field("repl_backlog_histlen", r.histlen.to_string());
        }
        "cpu" => {
            let (user, sys) = cpu_times();
            field("used_cpu_sys", format!("{sys:.6}"));
            field("used_cpu_user", format!("{user:.6}"));
            field("used_cpu_sys_children", "0.000000".into());
            field("used_cpu_user_children", "0.000000".into());
        }
        "commandstats" => {
            for (idx, entry) in table::all() {
                let (mut calls, mut usec, mut rejected, mut failed) = (0, 0, 0, 0);
                for t in &server.stats {
                    let c = &t.per_command[idx];
                    calls += c.calls.load(Relaxed);
                    usec += c.usec.load(Relaxed);
                    rejected += c.rejected.load(Relaxed);
                    failed += c.failed.load(Relaxed);
                }
                if calls + rejected + failed == 0 {
                    continue;
                }
                let per_call = if calls == 0 { 0.0 } else { usec as f64 / calls as f64 };
                field(
                    &format!("cmdstat_{}", entry.full_name),
                    format!("calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}"),
                );
            }
        }
        "cluster" => field("cluster_enabled", "0".into()),
        // Not while the data loads (the loader holds the shards).
        "keyspace" if server.persist.is_loading() => {}
        "keyspace" => {
            for db in 0..server.store.databases() {
                let (mut keys, mut expires) = (0, 0);
                for s in 0..server.store.shard_count() {
                    ctx.keys.with_shard(s, |shard| {
                        keys += shard.dbs[db].len();
                        expires += shard.dbs[db].expires_len();
                    });
                }
                if keys > 0 {
                    field(&format!("db{db}"), format!("keys={keys},expires={expires},avg_ttl=0"));
                }
            }
        }
        _ => {}
    }
}

/// A load's percentage done and the seconds it has left, as Redis
/// estimates them (1 second while none has passed).
fn loading_eta(l: &crate::persist::Loading) -> (f64, u64) {
    let (perc, remaining) = match l.total_bytes {
        0 => (0.0, 1),
        total => (l.loaded_bytes as f64 * 100.0 / total as f64, total.saturating_sub(l.loaded_bytes)),
    };
    let elapsed = (crate::server::unix_ms() / 1000).saturating_sub(l.start_s);
    let eta = if elapsed == 0 { 1 } else { elapsed * remaining / (l.loaded_bytes + 1) };
    (perc, eta)
}

fn writeln_crlf(s: &mut String, line: &str) -> std::fmt::Result {
    write!(s, "{line}\r\n")
}

fn capitalize(name: &str) -> String {
    match name {
        "cpu" => "CPU".into(),
        other => {
            let mut c = other.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
    }
}

fn os_name() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("Linux {} {}", release.trim(), std::env::consts::ARCH)
}

fn system_memory() -> usize {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// (user, system) CPU seconds of this process.
pub fn cpu_times() -> (f64, f64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct we pass; RUSAGE_SELF is valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

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

/// The keyspace's tables and TTL indexes, in bytes, shard by shard.
fn keyspace_overhead(ctx: &mut Ctx) -> usize {
    (0..ctx.server.store.shard_count())
        .map(|s| ctx.keys.with_shard(s, |shard| shard.dbs.iter().map(|db| db.overhead()).sum::<usize>()))
        .sum()
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
