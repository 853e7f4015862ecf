//! The AOF's files over time: creating them at start-up, turning the AOF
//! on and off at run time, and rewriting (BGREWRITEAOF, or automatically
//! when the files have grown by auto-aof-rewrite-percentage).
//!
//! A rewrite, as in Redis 7.0: with every shard locked, new records are
//! switched to a new incremental file, which the manifest lists at once
//! (after the old files: a crash now still loads everything); a child
//! writes the point-in-time keyspace as the next base file (an RDB
//! snapshot); when it succeeds, the manifest becomes that base plus the new
//! incremental file, and the old files are deleted.

use std::fs::{self, File};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::aof::{Fsync, Layout, Manifest};
use super::snapshot::Plan;
use super::{aof_load, fork_job, snapshot, Job};
use crate::server::Shared;
use crate::store::Shard;

/// Opens the AOF at start-up (appendonly yes): loads the files the
/// manifest names, or creates an empty base and an incremental file when
/// there are none (an existing dump.rdb is not read then, as in Redis).
pub fn start_at_boot(shared: &Shared) -> Result<(), String> {
    let layout = Layout::from_config(&shared.config.read());
    fs::create_dir_all(&layout.dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", layout.dir.display()))?;
    let started = Instant::now();
    let loaded = aof_load::load(shared, &layout)?;
    let mut manifest = layout.read_manifest()?.unwrap_or_default();
    if !loaded || manifest.base.is_none() && manifest.incrs.is_empty() {
        let seq = 1;
        let plan = Plan::new(shared, layout.base_path(seq, true), layout.dir.join("temp-base.rdb"), true);
        super::with_all_shards(shared, |shards| snapshot::write(&plan, shards))
            .map_err(|e| format!("Can't create the AOF base file: {e}"))?;
        manifest.base = Some((seq, true));
        log::info!("Creating AOF base file {} on server start", plan.path.display());
    } else {
        log::info!("DB loaded from append only file: {:.3} seconds", started.elapsed().as_secs_f64());
    }
    if manifest.incrs.is_empty() {
        let seq = 1 + manifest.incrs.iter().copied().max().unwrap_or(0);
        create_incr(&layout, seq)?;
        manifest.incrs.push(seq);
        log::info!("Creating AOF incr file {} on server start", layout.incr_path(seq).display());
    }
    layout.write_manifest(&manifest).map_err(|e| format!("Can't write the AOF manifest: {e}"))?;
    let incr = *manifest.incrs.last().expect("one at least");
    let mut locks = shared.store.lock_all();
    log_expired(&mut locks.all(), true);
    open(shared, layout, manifest, incr);
    shared.persist.loaded(shared, None);
    Ok(())
}

/// Makes every database log the keys that expire (while the AOF is on),
/// starting from an empty log.
pub fn log_expired(shards: &mut [&mut Shard], on: bool) {
    for shard in shards.iter_mut() {
        for db in shard.dbs.iter_mut() {
            db.take_expired();
            db.log_expired = on;
        }
    }
}

fn create_incr(layout: &Layout, seq: u64) -> Result<(), String> {
    let path = layout.incr_path(seq);
    File::create(&path)
        .and_then(|f| f.sync_all())
        .and_then(|_| super::aof::sync_dir(&layout.dir))
        .map_err(|e| format!("Can't create the AOF incr file {}: {e}", path.display()))
}

/// Starts appending to incremental file `incr` of `manifest`.
fn open(shared: &Shared, layout: Layout, manifest: Manifest, incr: u64) {
    let aof = &shared.aof;
    let size = |p: std::path::PathBuf| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let base = manifest.base.map_or(0, |(seq, rdb)| size(layout.base_path(seq, rdb)));
    let incrs: u64 = manifest.incrs.iter().map(|&s| size(layout.incr_path(s))).sum();
    aof.base_bytes.store(base, Relaxed);
    aof.incr_bytes.store(incrs, Relaxed);
    *aof.files.lock() = Some((layout, manifest));
    aof.switch_incr(incr);
    aof.set_fsync_policy(Fsync::parse(shared.config.read().get("appendfsync")));
    aof.set_on(true);
}

/// CONFIG SET appendonly yes: records start now, into a new incremental
/// file, and a rewrite writes the base they follow.
pub fn turn_on(shared: &Shared, shards: &[&Shard]) -> Result<(), String> {
    if shared.aof.is_on() {
        return Ok(());
    }
    let layout = Layout::from_config(&shared.config.read());
    fs::create_dir_all(&layout.dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", layout.dir.display()))?;
    let old = layout.read_manifest()?.unwrap_or_default();
    let incr = 1 + old.incrs.iter().copied().max().unwrap_or(0);
    create_incr(&layout, incr)?;
    // The manifest on disk stays the old one until the rewrite ends: the
    // new file means nothing without its base.
    let pending = Manifest { base: old.base, incrs: vec![incr] };
    open(shared, layout, pending, incr);
    match shared.persist.running() {
        Some(_) => {
            log::warn!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
            shared.persist.state.lock().rewrite_scheduled = true;
            Ok(())
        }
        None => fork_rewrite(shared, shards, false).inspect_err(|_| shared.aof.set_on(false)),
    }
}

/// CONFIG SET appendonly no: writes and fsyncs what is queued, then stops
/// recording; a rewrite in progress is abandoned.
pub fn turn_off(shared: &Shared) {
    if !shared.aof.is_on() {
        return;
    }
    if matches!(shared.persist.running(), Some(Job::Rewrite { .. })) {
        super::kill_child(shared);
    }
    shared.aof.drain();
    shared.aof.set_on(false);
}

/// BGREWRITEAOF with nothing else running (every shard locked).
pub fn start(shared: &Shared, shards: &[&Shard]) -> Result<(), String> {
    fork_rewrite(shared, shards, shared.aof.is_on())
}

/// Forks the rewrite child; with `rotate`, first moves new records to a
/// fresh incremental file listed in the manifest.
fn fork_rewrite(shared: &Shared, shards: &[&Shard], rotate: bool) -> Result<(), String> {
    let aof = &shared.aof;
    let layout = match aof.files.lock().as_ref() {
        Some((layout, _)) => layout.clone(),
        None => Layout::from_config(&shared.config.read()),
    };
    fs::create_dir_all(&layout.dir).map_err(|e| e.to_string())?;
    let on_disk = layout.read_manifest()?.unwrap_or_default();
    if rotate {
        let incr = 1 + on_disk.incrs.iter().copied().max().unwrap_or(0).max(aof.current_incr());
        create_incr(&layout, incr)?;
        let mut m = on_disk.clone();
        m.incrs.push(incr);
        layout.write_manifest(&m).map_err(|e| format!("Can't write the AOF manifest: {e}"))?;
        if let Some((_, manifest)) = aof.files.lock().as_mut() {
            *manifest = m;
        }
        aof.switch_incr(incr);
    }
    let base_seq = 1 + on_disk.base.map_or(0, |(seq, _)| seq);
    let temp = layout.dir.join(format!("temp-rewriteaof-bg-{}.rdb", std::process::id()));
    let plan = Plan::new(shared, layout.base_path(base_seq, true), temp, true);
    fork_job(shared, shards, Job::Rewrite { base_seq }, plan).map_err(|e| e.to_string())
}

/// A rewrite child succeeded: its base and the current incremental file
/// become the manifest, and the files before them go.
pub fn finish(shared: &Shared, base_seq: u64) -> Result<(), String> {
    let aof = &shared.aof;
    let layout = match aof.files.lock().as_ref() {
        Some((layout, _)) => layout.clone(),
        None => Layout::from_config(&shared.config.read()),
    };
    let old = layout.read_manifest()?.unwrap_or_default();
    let incrs = if aof.is_on() { vec![aof.current_incr()] } else { Vec::new() };
    let new = Manifest { base: Some((base_seq, true)), incrs };
    layout.write_manifest(&new).map_err(|e| format!("Can't write the AOF manifest: {e}"))?;
    if let Some((seq, rdb)) = old.base.filter(|b| Some(*b) != new.base) {
        let _ = fs::remove_file(layout.base_path(seq, rdb));
    }
    for seq in old.incrs.iter().filter(|s| !new.incrs.contains(s)) {
        let _ = fs::remove_file(layout.incr_path(*seq));
    }
    let size = |p: std::path::PathBuf| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    aof.base_bytes.store(size(layout.base_path(base_seq, true)), Relaxed);
    aof.incr_bytes.store(new.incrs.iter().map(|&s| size(layout.incr_path(s))).sum(), Relaxed);
    if let Some((_, manifest)) = aof.files.lock().as_mut() {
        *manifest = new;
    }
    Ok(())
}

/// Whether the AOF has grown enough since its last rewrite for an
/// automatic one (auto-aof-rewrite-percentage, auto-aof-rewrite-min-size).
pub fn growth_due(shared: &Shared) -> bool {
    let aof = &shared.aof;
    if !aof.is_on() {
        return false;
    }
    let (percent, min_size) = {
        let c = shared.config.read();
        (c.get("auto-aof-rewrite-percentage").parse::<u64>().unwrap_or(0), c.memory("auto-aof-rewrite-min-size"))
    };
    if percent == 0 {
        return false;
    }
    let base = aof.base_bytes.load(Relaxed);
    let current = base + aof.incr_bytes.load(Relaxed);
    if current < min_size {
        return false;
    }
    let growth = (current * 100 / base.max(1)).saturating_sub(100);
    if growth >= percent {
        log::info!("Starting automatic rewriting of AOF on {growth}% growth");
        return true;
    }
    false
}
