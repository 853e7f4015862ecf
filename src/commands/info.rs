//! INFO: every section, in Redis 7.0's order and field names, built from
//! the server's live state.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use super::connection::REDIS_VERSION;
use super::{table, CmdResult, Ctx};
use crate::memory;
use crate::stats::total;

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
pub fn info(ctx: &mut Ctx) -> CmdResult {
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

/// The keyspace's tables and TTL indexes, in bytes, shard by shard.
fn keyspace_overhead(ctx: &mut Ctx) -> usize {
    (0..ctx.server.store.shard_count())
        .map(|s| ctx.keys.with_shard(s, |shard| shard.dbs.iter().map(|db| db.overhead()).sum::<usize>()))
        .sum()
}
