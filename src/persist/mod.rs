//! Persistence: RDB snapshots in Redis 7.0's format (SAVE, BGSAVE, save
//! points, loading at start-up) and the append-only file (`aof`), with
//! their bookkeeping for INFO.
//!
//! How a background save or an AOF rewrite gets a point-in-time view: the
//! thread that starts it takes every shard lock, forks, and lets go; the
//! child writes the file from its copy of memory and exits. The kernel's
//! copy-on-write does the versioning, page by page, and only for pages the
//! server changes while the child runs. The pause is the fork itself
//! (copying page tables, about 10 ms per GB of RSS) and no write path pays
//! anything when no save runs. Dragonfly's versioned incremental snapshots
//! avoid the fork, but they need a hook in every mutation; with our locked
//! shards, fork is the simpler way to the same guarantee, and the one
//! Redis users know (including its memory cost: up to twice the data under
//! heavy writes).
//!
//! The child runs only code that is safe after a fork in a threaded
//! process: it holds no lock another thread may hold (the shard locks are
//! its own copies, taken before the fork; jemalloc re-arms its locks
//! around fork), it does not log, and it leaves with `_exit`. It reports
//! through a pipe. One child runs at a time, as in Redis; a BGSAVE or
//! BGREWRITEAOF asked for meanwhile is scheduled.

pub mod aof;
pub mod aof_load;
pub mod lzf;
pub mod packed;
pub mod rdb;
pub mod rewrite;
pub mod snapshot;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use parking_lot::Mutex;

use crate::commands::Error;
use crate::server::{unix_ms, Shared};
use crate::store::Shard;

pub use snapshot::rdb_path;

/// A failed background save is retried by the save points only after
/// this long (as in Redis).
const RETRY_DELAY_SECS: u64 = 5;

/// Save and load bookkeeping shared by every thread.
#[derive(Default)]
pub struct Persistence {
    /// The change count (summed over threads) the last save captured.
    saved_dirty: AtomicU64,
    /// The last save failed; with save points and
    /// stop-writes-on-bgsave-error, writes are refused until one succeeds.
    pub failed: AtomicBool,
    /// Set while data loads (at start-up, or a primary's snapshot):
    /// commands not flagged loading get `-LOADING` rather than waiting for
    /// the locks the loader holds.
    loading: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    child: Option<Child>,
    last_save_s: u64,
    last_bgsave_secs: Option<u64>,
    last_try_s: u64,
    saves: u64,
    last_cow: u64,
    loaded_keys: u64,
    loaded_expired: u64,
    /// How long the last fork took, and how many there were (INFO stats).
    fork_usec: u64,
    forks: u64,
    bgsave_scheduled: bool,
    rewrite_scheduled: bool,
    rewrite: RewriteStats,
    /// The RDB file being loaded, if one is.
    loading: Option<Loading>,
}

/// A load's progress, as INFO's loading_* fields show it.
#[derive(Default, Clone, Copy)]
pub struct Loading {
    pub start_s: u64,
    pub total_bytes: u64,
    /// The file's used-mem field.
    pub rdb_used_mem: u64,
    pub loaded_bytes: u64,
    pub keys: u64,
    pub expired: u64,
}

#[derive(Default, Clone, Copy)]
struct RewriteStats {
    /// The child has exited and its files are being swapped in (without
    /// the state lock): INFO still shows the rewrite in progress, so no
    /// one sees it ended before it is counted.
    finishing: bool,
    last_secs: Option<u64>,
    failed: bool,
    count: u64,
    consecutive_failures: u64,
    last_cow: u64,
}

/// What a child process writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// BGSAVE: the RDB file.
    Save,
    /// BGREWRITEAOF: base file `base_seq` of the AOF.
    Rewrite { base_seq: u64 },
    /// A diskless full sync: the RDB, written into a pipe for replicas.
    Transfer,
}

impl Job {
    /// Whether it writes an RDB snapshot (BGSAVE's kind of child, as INFO
    /// and BGSAVE see it).
    pub fn is_rdb(self) -> bool {
        matches!(self, Job::Save | Job::Transfer)
    }
}

struct Child {
    pid: libc::pid_t,
    job: Job,
    started: Instant,
    dirty_at_start: u64,
    temp: std::path::PathBuf,
    report: File,
}

/// INFO persistence's fields.
pub struct Info {
    pub changes: u64,
    pub in_progress: bool,
    pub last_save_s: u64,
    pub last_ok: bool,
    pub last_bgsave_secs: Option<u64>,
    pub current_secs: Option<u64>,
    pub saves: u64,
    pub last_cow: u64,
    pub loaded_keys: u64,
    pub loaded_expired: u64,
    pub fork_usec: u64,
    pub forks: u64,
    pub rewrite_in_progress: bool,
    pub rewrite_scheduled: bool,
    pub rewrite_last_secs: Option<u64>,
    pub rewrite_current_secs: Option<u64>,
    pub rewrite_ok: bool,
    pub rewrites: u64,
    pub rewrite_failures: u64,
    pub rewrite_cow: u64,
    pub loading: Option<Loading>,
}

impl Persistence {
    pub fn new(started_s: u64) -> Self {
        let p = Persistence::default();
        p.state.lock().last_save_s = started_s;
        p
    }

    pub fn info(&self, shared: &Shared) -> Info {
        let s = self.state.lock();
        let running = |job: fn(&Job) -> bool| s.child.as_ref().filter(|c| job(&c.job));
        let save = running(|j| j.is_rdb());
        let rewrite = running(|j| matches!(j, Job::Rewrite { .. }));
        Info {
            changes: changes_since_save(shared),
            in_progress: save.is_some(),
            last_save_s: s.last_save_s,
            last_ok: !self.failed.load(Relaxed),
            last_bgsave_secs: s.last_bgsave_secs,
            current_secs: save.map(|c| c.started.elapsed().as_secs()),
            saves: s.saves,
            last_cow: s.last_cow,
            // While a file loads, what it has given so far (as Redis shows).
            loaded_keys: s.loading.map_or(s.loaded_keys, |l| l.keys),
            loaded_expired: s.loading.map_or(s.loaded_expired, |l| l.expired),
            loading: s.loading,
            fork_usec: s.fork_usec,
            forks: s.forks,
            rewrite_in_progress: rewrite.is_some() || s.rewrite.finishing,
            rewrite_scheduled: s.rewrite_scheduled,
            rewrite_last_secs: s.rewrite.last_secs,
            rewrite_current_secs: rewrite.map(|c| c.started.elapsed().as_secs()),
            rewrite_ok: !s.rewrite.failed,
            rewrites: s.rewrite.count,
            rewrite_failures: s.rewrite.consecutive_failures,
            rewrite_cow: s.rewrite.last_cow,
        }
    }

    pub fn last_save_s(&self) -> u64 {
        self.state.lock().last_save_s
    }

    /// The job a child is running, if any.
    pub fn running(&self) -> Option<Job> {
        self.state.lock().child.as_ref().map(|c| c.job)
    }

    pub fn bgsave_running(&self) -> bool {
        self.running().is_some_and(Job::is_rdb)
    }

    fn succeeded(&self, s: &mut State, dirty_at_start: u64) {
        s.last_save_s = unix_ms() / 1000;
        s.saves += 1;
        self.saved_dirty.store(dirty_at_start, Relaxed);
        self.failed.store(false, Relaxed);
    }

    /// A load (at start-up, or of a primary's snapshot) begins: commands
    /// that need the data get -LOADING, and INFO shows the load's progress.
    pub fn begin_loading(&self) {
        self.state.lock().loading = Some(Loading { start_s: unix_ms() / 1000, ..Loading::default() });
        self.loading.store(true, Relaxed);
    }

    /// The load ended.
    pub fn end_loading(&self) {
        self.loading.store(false, Relaxed);
        self.state.lock().loading = None;
    }

    /// Whether data is loading (INFO's loading:1).
    #[inline]
    pub fn is_loading(&self) -> bool {
        self.loading.load(Relaxed)
    }

    /// The file being loaded (during a load) has `total_bytes`.
    pub fn loading_file(&self, total_bytes: u64) {
        if let Some(l) = self.state.lock().loading.as_mut() {
            *l = Loading { total_bytes, start_s: l.start_s, ..Loading::default() };
        }
    }

    /// How far the load has come.
    pub fn loading_progress(&self, loaded_bytes: u64, rdb_used_mem: u64, keys: u64, expired: u64) {
        if let Some(l) = self.state.lock().loading.as_mut() {
            *l = Loading { loaded_bytes, rdb_used_mem, keys, expired, ..*l };
        }
    }

    /// Records what a load at start-up read, and counts from there.
    pub fn loaded(&self, shared: &Shared, report: Option<&rdb::LoadReport>) {
        let mut s = self.state.lock();
        if let Some(r) = report {
            s.loaded_keys = r.keys_loaded;
            s.loaded_expired = r.keys_expired;
        }
        self.saved_dirty.store(total_dirty(shared), Relaxed);
    }
}

/// Changes made since the last successful save.
pub fn changes_since_save(shared: &Shared) -> u64 {
    total_dirty(shared).saturating_sub(shared.persist.saved_dirty.load(Relaxed))
}

fn total_dirty(shared: &Shared) -> u64 {
    crate::stats::total(&shared.stats, |s| &s.dirty)
}

/// The MISCONF error writes get: the AOF cannot be written, or the last
/// save failed with save points set and stop-writes-on-bgsave-error on.
pub fn writes_refused(shared: &Shared) -> Option<Error> {
    if shared.aof.write_failed.load(Relaxed) && shared.aof.is_on() {
        return Some(Error::MisConfAof(shared.aof.last_error()));
    }
    if !shared.persist.failed.load(Relaxed) {
        return None;
    }
    let config = shared.config.read();
    (config.get("stop-writes-on-bgsave-error") == "yes" && !config.get("save").is_empty()).then_some(Error::MisConf)
}

/// SAVE (and SHUTDOWN, FLUSHALL, DEBUG RELOAD): writes the snapshot from
/// this thread, with every shard locked by the caller.
pub fn save(shared: &Shared, shards: &[&Shard]) -> Result<(), String> {
    let plan = snapshot::Plan::rdb(shared, std::process::id());
    let dirty = total_dirty(shared);
    let p = &shared.persist;
    match snapshot::write(&plan, shards) {
        Ok(_) => {
            log::info!("DB saved on disk");
            p.succeeded(&mut p.state.lock(), dirty);
            Ok(())
        }
        Err(e) => {
            let text = format!("Failed saving the DB to {}: {e}", plan.path.display());
            log::warn!("{text}");
            p.failed.store(true, Relaxed);
            Err(text)
        }
    }
}

/// How BGSAVE or BGREWRITEAOF went.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    Now,
    /// Another child runs; this one starts when it ends.
    Scheduled,
}

/// BGSAVE [SCHEDULE], with every shard locked by the caller.
pub fn bgsave(shared: &Shared, shards: &[&Shard], schedule: bool) -> Result<Started, Error> {
    match shared.persist.running() {
        Some(Job::Save | Job::Transfer) => Err(Error::BgsaveInProgress),
        Some(Job::Rewrite { .. }) if schedule => {
            shared.persist.state.lock().bgsave_scheduled = true;
            Ok(Started::Scheduled)
        }
        Some(Job::Rewrite { .. }) => Err(Error::BgsaveDuringRewrite),
        None => {
            let mut plan = snapshot::Plan::rdb(shared, std::process::id());
            // Apart from the temporary file of a SAVE at the same time.
            plan.temp.set_extension("bg.rdb");
            fork_job(shared, shards, Job::Save, plan).map(|_| Started::Now).map_err(|_| Error::Bare)
        }
    }
}

/// BGREWRITEAOF, with every shard locked by the caller.
pub fn bgrewriteaof(shared: &Shared, shards: &[&Shard]) -> Result<Started, Error> {
    match shared.persist.running() {
        Some(Job::Rewrite { .. }) => Err(Error::RewriteInProgress),
        Some(Job::Save | Job::Transfer) => {
            shared.persist.state.lock().rewrite_scheduled = true;
            Ok(Started::Scheduled)
        }
        None => rewrite::start(shared, shards).map(|_| Started::Now).map_err(|e| {
            log::warn!("Can't rewrite the append only file in background: {e}");
            Error::Bare
        }),
    }
}

/// Forks a child that writes `plan` from `shards` (every shard, locked by
/// the caller until this returns).
pub(crate) fn fork_job(shared: &Shared, shards: &[&Shard], job: Job, mut plan: snapshot::Plan) -> io::Result<()> {
    let p = &shared.persist;
    let mut state = p.state.lock();
    if state.child.is_some() || state.rewrite.finishing {
        return Err(io::Error::other("a child is already running"));
    }
    let dirty = total_dirty(shared);
    state.last_try_s = unix_ms() / 1000;
    let (read_end, write_end) = pipe()?;
    let forking = Instant::now();
    // SAFETY: the child runs `child_main`, which only touches memory it
    // owns in its copy (the shards locked by this thread, the plan) and
    // ends in `_exit`, never returning into code that expects the other
    // threads to exist.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = io::Error::last_os_error();
        if job == Job::Save {
            p.failed.store(true, Relaxed);
        }
        log::warn!("Can't fork for a background job: {e}");
        return Err(e);
    }
    if pid == 0 {
        drop(read_end);
        child_main(plan, shards, write_end);
    }
    // The child's end of a transfer's pipe: the relay sees the pipe end
    // when the child's copy closes.
    drop(plan.stream.take());
    state.fork_usec = forking.elapsed().as_micros() as u64;
    shared.latency.observe("fork", forking.elapsed());
    state.forks += 1;
    drop(write_end);
    crate::store::set_snapshot_running(true);
    match job {
        Job::Save => log::info!("Background saving started by pid {pid}"),
        Job::Rewrite { .. } => log::info!("Background append only file rewriting started by pid {pid}"),
        Job::Transfer => log::info!("Background RDB transfer started by pid {pid}"),
    }
    state.child =
        Some(Child { pid, job, started: Instant::now(), dirty_at_start: dirty, temp: plan.temp, report: read_end });
    Ok(())
}

/// A pipe (read end, write end), closed on exec.
pub(crate) fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills both descriptors, which we own from here on.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptors were just created and are not owned elsewhere.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

fn child_main(mut plan: snapshot::Plan, shards: &[&Shard], mut report: File) -> ! {
    let stream = plan.stream.take();
    let to = match &stream {
        Some(_) => "the snapshot to replicas".to_string(),
        None => plan.path.display().to_string(),
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        match stream {
            Some(s) => {
                // SAFETY: closes the child's copy of the relay's end, which
                // nothing in the child uses.
                unsafe { libc::close(s.relay_end) };
                snapshot::stream(&plan, shards, s.out, &s.mark)
            }
            None => snapshot::write(&plan, shards),
        }
        .map(|_| cow_bytes())
    }));
    let (code, message) = match outcome {
        Ok(Ok(cow)) => (0, cow.to_string()),
        Ok(Err(e)) => (1, format!("Failed writing {to}: {e}")),
        Err(_) => (1, "the background job panicked".to_string()),
    };
    let _ = report.write_all(message.as_bytes());
    // SAFETY: ends the child at once, without running the parent's exit
    // handlers or destructors.
    unsafe { libc::_exit(code) }
}

/// The memory this child copied because the parent wrote to it while it
/// ran (its private dirty pages), as Redis reports "Fork CoW".
fn cow_bytes() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/self/smaps_rollup") else { return 0 };
    text.lines()
        .filter(|l| l.starts_with("Private_Dirty:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

/// Periodic work (thread 0's cron): reaps a finished child, starts a
/// scheduled job, a background save when a save point is reached, or an
/// AOF rewrite when the file has grown enough.
pub fn cron(shared: &Shared) {
    reap(shared, false);
    if shared.persist.running().is_some() {
        return;
    }
    if shared.repl.waiting_for_snapshot() {
        with_all_shards(shared, |shards| shared.repl.start_snapshot(shared, shards));
        return;
    }
    let (rewrite_due, bgsave_due) = {
        let mut s = shared.persist.state.lock();
        (std::mem::take(&mut s.rewrite_scheduled), std::mem::take(&mut s.bgsave_scheduled))
    };
    if rewrite_due || rewrite::growth_due(shared) {
        with_all_shards(shared, |shards| {
            let _ = bgrewriteaof(shared, shards);
        });
        return;
    }
    if bgsave_due {
        with_all_shards(shared, |shards| {
            let _ = bgsave(shared, shards, false);
        });
        return;
    }
    let points = parse_save_points(shared.config.read().get("save"));
    if points.is_empty() {
        return;
    }
    let changes = changes_since_save(shared);
    let now = unix_ms() / 1000;
    let (last_save, last_try) = {
        let s = shared.persist.state.lock();
        (s.last_save_s, s.last_try_s)
    };
    let retry_ok = !shared.persist.failed.load(Relaxed) || now.saturating_sub(last_try) > RETRY_DELAY_SECS;
    let due = points.iter().find(|&&(secs, min)| changes >= min && now.saturating_sub(last_save) > secs);
    if let (Some(&(secs, _)), true) = (due, retry_ok) {
        log::info!("{changes} changes in {secs} seconds. Saving...");
        with_all_shards(shared, |shards| {
            let _ = bgsave(shared, shards, false);
        });
    }
}

/// Runs `f` with every shard locked.
pub fn with_all_shards<R>(shared: &Shared, f: impl FnOnce(&[&Shard]) -> R) -> R {
    let mut locks = shared.store.lock_all();
    let shards: Vec<&Shard> = locks.all().into_iter().map(|s| &*s).collect();
    f(&shards)
}

/// Runs `f` with every shard locked, to change.
pub fn with_all_shards_mut<R>(shared: &Shared, f: impl FnOnce(&mut [&mut Shard]) -> R) -> R {
    let mut locks = shared.store.lock_all();
    let mut shards = locks.all();
    f(&mut shards)
}

/// Pairs of (seconds, changes) from the `save` setting.
fn parse_save_points(text: &str) -> Vec<(u64, u64)> {
    let numbers: Vec<u64> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    numbers.chunks_exact(2).map(|c| (c[0], c[1])).collect()
}

/// Collects the child if it has finished (a replica waiting for its
/// snapshot should not wait for the next cron tick).
pub fn poll_child(shared: &Shared) {
    reap(shared, false);
}

/// Collects a finished child (or, with `wait`, waits for it).
fn reap(shared: &Shared, wait: bool) {
    let p = &shared.persist;
    let mut state = p.state.lock();
    let Some(child) = state.child.as_mut() else { return };
    let mut status = 0;
    // SAFETY: waits only for our own child, by pid.
    let done = unsafe { libc::waitpid(child.pid, &mut status, if wait { 0 } else { libc::WNOHANG }) };
    if done == 0 {
        return;
    }
    let mut child = state.child.take().expect("checked above");
    crate::store::set_snapshot_running(false);
    let mut message = String::new();
    let _ = child.report.read_to_string(&mut message);
    let secs = child.started.elapsed().as_secs();
    let ok = done == child.pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let killed = libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGUSR1;
    if !ok {
        let _ = std::fs::remove_file(&child.temp);
        if !message.is_empty() {
            log::warn!("{message}");
        }
    }
    match child.job {
        Job::Save => {
            state.last_bgsave_secs = Some(secs);
            if ok {
                state.last_cow = message.trim().parse().unwrap_or(0);
                log::info!("Background saving terminated with success");
                p.succeeded(&mut state, child.dirty_at_start);
            } else if killed {
                log::warn!("Background saving terminated by signal {}", libc::WTERMSIG(status));
            } else {
                log::warn!("Background saving error");
                p.failed.store(true, Relaxed);
            }
            // Replicas take the file (the persistence state is not held:
            // replication locks its own state first, then this).
            drop(state);
            shared.repl.snapshot_done(shared, ok);
        }
        Job::Transfer => {
            // The relay learns how it went from the pipe: the end mark
            // comes only from a child that wrote everything.
            if ok {
                log::info!("Background RDB transfer terminated with success");
            } else if killed {
                log::warn!("Background transfer terminated by signal {}", libc::WTERMSIG(status));
            } else {
                log::warn!("Background transfer error");
            }
        }
        Job::Rewrite { base_seq } => {
            state.rewrite.last_secs = Some(secs);
            state.rewrite.finishing = true;
            drop(state);
            let finished = if ok { rewrite::finish(shared, base_seq) } else { Err("the child failed".into()) };
            let mut state = p.state.lock();
            state.rewrite.finishing = false;
            match finished {
                Ok(()) => {
                    state.rewrite.count += 1;
                    state.rewrite.failed = false;
                    state.rewrite.consecutive_failures = 0;
                    state.rewrite.last_cow = message.trim().parse().unwrap_or(0);
                    log::info!("Background AOF rewrite finished successfully");
                }
                Err(e) => {
                    if !killed {
                        log::warn!("Background AOF rewrite failed: {e}");
                        state.rewrite.failed = true;
                        state.rewrite.consecutive_failures += 1;
                    }
                }
            }
        }
    }
}

/// Stops a running child (shutdown, FLUSHALL, turning the AOF off) and
/// removes its temporary file.
pub fn kill_child(shared: &Shared) {
    let pid = match shared.persist.state.lock().child.as_ref() {
        Some(c) => c.pid,
        None => return,
    };
    // SAFETY: signals our own child, by pid.
    unsafe {
        libc::kill(pid, libc::SIGUSR1);
    }
    reap(shared, true);
}

/// Waits for a running child to end.
pub fn wait_child(shared: &Shared) {
    reap(shared, true);
}

/// The save a shutdown makes (SIGTERM, SIGINT): stops a child, then saves
/// when save points are set. False when that save failed and the server
/// must keep running.
pub fn save_for_shutdown(shared: &Shared) -> bool {
    kill_child(shared);
    // Not while the data is still loading: the file would hold part of it.
    if shared.config.read().get("save").is_empty() || shared.scripts.running.is_busy() || shared.persist.is_loading() {
        return true;
    }
    log::info!("Saving the final RDB snapshot before exiting.");
    if with_all_shards(shared, |shards| save(shared, shards)).is_err() {
        log::warn!("Error trying to save the DB, can't exit.");
        return false;
    }
    true
}

/// Loads the data at start-up: the AOF when appendonly is on, else the RDB
/// file if there is one. An unreadable or corrupt file stops start-up.
pub fn load_at_startup(shared: &Shared) -> Result<(), String> {
    if shared.config.read().get("appendonly") == "yes" {
        return rewrite::start_at_boot(shared);
    }
    let path = rdb_path(&shared.config.read());
    let started = Instant::now();
    let report = {
        let mut locks = shared.store.lock_all();
        let mut shards = locks.all();
        let report = snapshot::load(shared, &path, &mut shards, false)
            .map_err(|e| format!("Fatal error loading the DB from {}: {e}. Exiting.", path.display()))?;
        // Where the data stands in the replication stream it came from, so
        // replication can resume from there rather than start over.
        let databases = shared.store.databases();
        if let Some(info) = report.as_ref().and_then(|r| crate::repl::SaveInfo::from_aux(&r.aux, databases)) {
            let replica = !shared.config.read().get("replicaof").is_empty();
            shared.repl.restore(&mut shards, info, replica);
        }
        report
    };
    shared.persist.loaded(shared, report.as_ref());
    if let Some(report) = report {
        log::info!(
            "DB loaded from disk: {:.3} seconds ({} keys, {} expired keys skipped)",
            started.elapsed().as_secs_f64(),
            report.keys_loaded,
            report.keys_expired
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_points_parse_in_pairs() {
        assert_eq!(parse_save_points("3600 1 300 100 60 10000"), vec![(3600, 1), (300, 100), (60, 10000)]);
        assert!(parse_save_points("").is_empty());
    }
}
