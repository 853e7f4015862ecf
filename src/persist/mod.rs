//! Persistence: RDB snapshots in Redis 7.0's format (SAVE, BGSAVE, save
//! points, loading at start-up), and their bookkeeping for INFO.
//!
//! How BGSAVE gets a point-in-time view: the thread that starts it takes
//! every shard lock, forks, and lets go; the child writes the file from
//! its copy of memory and exits. The kernel's copy-on-write does the
//! versioning, page by page, and only for pages the server changes while
//! the child runs. The pause is the fork itself (copying page tables,
//! about 10 ms per GB of RSS) and no write path pays anything when no save
//! runs. Dragonfly's versioned incremental snapshots avoid the fork, but
//! they need a hook in every mutation; with our locked shards, fork is the
//! simpler way to the same guarantee, and the one Redis users know
//! (including its memory cost: up to twice the data under heavy writes).
//!
//! The child runs only code that is safe after a fork in a threaded
//! process: it holds no lock another thread may hold (the shard locks are
//! its own copies, taken before the fork; jemalloc re-arms its locks
//! around fork), it does not log, and it leaves with `_exit`. It reports
//! through a pipe.

pub mod lzf;
pub mod packed;
pub mod rdb;

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use parking_lot::Mutex;

use crate::server::{unix_ms, Shared};
use crate::store::{Entry, Shard};

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
}

struct Child {
    pid: libc::pid_t,
    started: Instant,
    dirty_at_start: u64,
    report: File,
}

/// What a save writes, gathered before the fork.
struct Plan {
    /// The file, in `dir` (paths never depend on the working directory:
    /// an embedder may run several servers in one process).
    path: PathBuf,
    compress: bool,
    checksum: bool,
    libraries: Vec<Vec<u8>>,
}

/// INFO persistence's RDB fields.
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
}

impl Persistence {
    pub fn new(started_s: u64) -> Self {
        let p = Persistence::default();
        p.state.lock().last_save_s = started_s;
        p
    }

    pub fn info(&self, shared: &Shared) -> Info {
        let s = self.state.lock();
        Info {
            changes: changes_since_save(shared),
            in_progress: s.child.is_some(),
            last_save_s: s.last_save_s,
            last_ok: !self.failed.load(Relaxed),
            last_bgsave_secs: s.last_bgsave_secs,
            current_secs: s.child.as_ref().map(|c| c.started.elapsed().as_secs()),
            saves: s.saves,
            last_cow: s.last_cow,
            loaded_keys: s.loaded_keys,
            loaded_expired: s.loaded_expired,
            fork_usec: s.fork_usec,
            forks: s.forks,
        }
    }

    pub fn last_save_s(&self) -> u64 {
        self.state.lock().last_save_s
    }

    pub fn bgsave_running(&self) -> bool {
        self.state.lock().child.is_some()
    }

    fn succeeded(&self, s: &mut State, dirty_at_start: u64) {
        s.last_save_s = unix_ms() / 1000;
        s.saves += 1;
        self.saved_dirty.store(dirty_at_start, Relaxed);
        self.failed.store(false, Relaxed);
    }
}

/// Changes made since the last successful save.
pub fn changes_since_save(shared: &Shared) -> u64 {
    total_dirty(shared).saturating_sub(shared.persist.saved_dirty.load(Relaxed))
}

fn total_dirty(shared: &Shared) -> u64 {
    crate::stats::total(&shared.stats, |s| &s.dirty)
}

/// Whether writes are refused with MISCONF: the last save failed, save
/// points are set and stop-writes-on-bgsave-error is on.
pub fn writes_refused(shared: &Shared) -> bool {
    if !shared.persist.failed.load(Relaxed) {
        return false;
    }
    let config = shared.config.read();
    config.get("stop-writes-on-bgsave-error") == "yes" && !config.get("save").is_empty()
}

/// The RDB file: dbfilename in dir.
pub fn rdb_path(config: &crate::Config) -> PathBuf {
    Path::new(config.dir()).join(config.get("dbfilename"))
}

/// A temporary file next to `path`, named for process `pid` as Redis names
/// its own.
fn temp_path(path: &Path, pid: u32) -> PathBuf {
    path.with_file_name(format!("temp-{pid}.rdb"))
}

fn plan(shared: &Shared) -> Plan {
    let config = shared.config.read();
    Plan {
        path: rdb_path(&config),
        compress: config.get("rdbcompression") == "yes",
        checksum: config.get("rdbchecksum") == "yes",
        libraries: shared.functions.library_codes(),
    }
}

/// Writes the snapshot of `shards` to a temporary file, syncs it, renames
/// it over `plan.path` and syncs the directory. Returns the bytes written.
fn write_snapshot(plan: &Plan, shards: &[&Shard], tmp: &Path) -> io::Result<u64> {
    let result = (|| {
        let file = File::create(tmp)?;
        let mut w = rdb::Writer::new(BufWriter::with_capacity(1 << 20, file), plan.compress, plan.checksum);
        write_body(&mut w, shards, &plan.libraries)?;
        let written = w.written + 9;
        let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(tmp, &plan.path)?;
        let dir = Path::new(&plan.path).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(dir)?.sync_all()?;
        Ok(written)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// The file's contents up to (not including) the EOF opcode.
fn write_body<W: Write>(w: &mut rdb::Writer<W>, shards: &[&Shard], libraries: &[Vec<u8>]) -> io::Result<()> {
    w.raw(format!("REDIS{:04}", rdb::RDB_VERSION).as_bytes())?;
    let aux = [
        ("redis-ver", crate::commands::connection::REDIS_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", (unix_ms() / 1000).to_string()),
        ("used-mem", crate::memory::used().to_string()),
        ("aof-base", "0".to_string()),
    ];
    for (k, v) in aux {
        w.byte(250)?;
        w.string(k.as_bytes())?;
        w.string(v.as_bytes())?;
    }
    for code in libraries {
        w.byte(245)?;
        w.string(code)?;
    }
    let databases = shards.first().map_or(0, |s| s.dbs.len());
    for db in 0..databases {
        let keys: usize = shards.iter().map(|s| s.dbs[db].len()).sum();
        if keys == 0 {
            continue;
        }
        let expires: usize = shards.iter().map(|s| s.dbs[db].expires_len()).sum();
        w.byte(254)?;
        w.len(db as u64)?;
        w.byte(251)?;
        w.len(keys as u64)?;
        w.len(expires as u64)?;
        for shard in shards {
            for (key, entry) in shard.dbs[db].iter() {
                write_key(w, key, entry)?;
            }
        }
    }
    Ok(())
}

fn write_key<W: Write>(w: &mut rdb::Writer<W>, key: &[u8], entry: &Entry) -> io::Result<()> {
    if let Some(at) = entry.expires_at_ms() {
        w.byte(252)?;
        w.raw(&at.to_le_bytes())?;
    }
    w.byte(rdb::Writer::<W>::type_of(&entry.value))?;
    w.string(key)?;
    w.value(&entry.value)
}

/// SAVE (and SHUTDOWN, FLUSHALL, DEBUG RELOAD): writes the snapshot from
/// this thread, with every shard locked by the caller.
pub fn save(shared: &Shared, shards: &[&Shard]) -> Result<(), String> {
    let plan = plan(shared);
    let dirty = total_dirty(shared);
    let tmp = temp_path(&plan.path, std::process::id());
    let p = &shared.persist;
    match write_snapshot(&plan, shards, &tmp) {
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

/// Why BGSAVE did not start.
#[derive(Debug)]
pub enum BgsaveError {
    InProgress,
    Fork(io::Error),
}

/// BGSAVE: forks a child that writes the snapshot of `shards` (every
/// shard, locked by the caller until this returns).
pub fn bgsave(shared: &Shared, shards: &[&Shard]) -> Result<(), BgsaveError> {
    let p = &shared.persist;
    let mut state = p.state.lock();
    if state.child.is_some() {
        return Err(BgsaveError::InProgress);
    }
    let plan = plan(shared);
    let dirty = total_dirty(shared);
    state.last_try_s = unix_ms() / 1000;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills both descriptors, which we own from here on.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(BgsaveError::Fork(io::Error::last_os_error()));
    }
    // SAFETY: the descriptors were just created and are not owned elsewhere.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let forking = Instant::now();
    // SAFETY: the child runs `child_main`, which only touches memory it
    // owns in its copy (the shards locked by this thread, the plan) and
    // ends in `_exit`, never returning into code that expects the other
    // threads to exist.
    let pid = unsafe { libc::fork() };
    if pid > 0 {
        state.fork_usec = forking.elapsed().as_micros() as u64;
        state.forks += 1;
    }
    if pid < 0 {
        let e = io::Error::last_os_error();
        p.failed.store(true, Relaxed);
        log::warn!("Can't save in background: fork: {e}");
        return Err(BgsaveError::Fork(e));
    }
    if pid == 0 {
        drop(read_end);
        child_main(&plan, shards, File::from(write_end));
    }
    drop(write_end);
    crate::store::set_snapshot_running(true);
    log::info!("Background saving started by pid {pid}");
    state.child = Some(Child { pid, started: Instant::now(), dirty_at_start: dirty, report: File::from(read_end) });
    Ok(())
}

fn child_main(plan: &Plan, shards: &[&Shard], mut report: File) -> ! {
    let tmp = temp_path(&plan.path, std::process::id());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        write_snapshot(plan, shards, &tmp).map(|_| cow_bytes())
    }));
    let (code, message) = match outcome {
        Ok(Ok(cow)) => (0, cow.to_string()),
        Ok(Err(e)) => (1, format!("Failed saving the DB to {}: {e}", plan.path.display())),
        Err(_) => (1, "the save panicked".to_string()),
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

/// Periodic work (thread 0's cron): reaps a finished child, and starts a
/// background save when a save point is reached.
pub fn cron(shared: &Shared) {
    reap(shared, false);
    let points = parse_save_points(shared.config.read().get("save"));
    if points.is_empty() || shared.persist.bgsave_running() {
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
        let mut locks = shared.store.lock_all();
        let shards: Vec<&Shard> = locks.all().into_iter().map(|s| &*s).collect();
        let _ = bgsave(shared, &shards);
    }
}

/// Pairs of (seconds, changes) from the `save` setting.
fn parse_save_points(text: &str) -> Vec<(u64, u64)> {
    let numbers: Vec<u64> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    numbers.chunks_exact(2).map(|c| (c[0], c[1])).collect()
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
    state.last_bgsave_secs = Some(child.started.elapsed().as_secs());
    let exited_ok = done == child.pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if exited_ok {
        state.last_cow = message.trim().parse().unwrap_or(0);
        log::info!("Background saving terminated with success");
        p.succeeded(&mut state, child.dirty_at_start);
    } else if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGUSR1 {
        log::warn!("Background saving terminated by signal {}", libc::WTERMSIG(status));
    } else {
        if !message.is_empty() {
            log::warn!("{message}");
        }
        log::warn!("Background saving error");
        p.failed.store(true, Relaxed);
    }
}

/// Stops a running background save (shutdown, or a save that replaces
/// it) and removes its temporary file.
pub fn kill_child(shared: &Shared) {
    let pid = match shared.persist.state.lock().child.as_ref() {
        Some(c) => c.pid,
        None => return,
    };
    let tmp = temp_path(&rdb_path(&shared.config.read()), pid as u32);
    // SAFETY: signals our own child, by pid.
    unsafe {
        libc::kill(pid, libc::SIGUSR1);
    }
    reap(shared, true);
    let _ = std::fs::remove_file(tmp);
}

/// Waits for a running background save to end (SAVE does not wait; tests
/// and shutdown paths that need the file do).
pub fn wait_child(shared: &Shared) {
    reap(shared, true);
}

/// The save a shutdown makes (SIGTERM, SIGINT): stops a background save,
/// then saves when save points are set. False when that save failed and
/// the server must keep running.
pub fn save_for_shutdown(shared: &Shared) -> bool {
    kill_child(shared);
    if shared.config.read().get("save").is_empty() || shared.scripts.running.is_busy() {
        return true;
    }
    log::info!("Saving the final RDB snapshot before exiting.");
    let mut locks = shared.store.lock_all();
    let shards: Vec<&Shard> = locks.all().into_iter().map(|s| &*s).collect();
    if save(shared, &shards).is_err() {
        log::warn!("Error trying to save the DB, can't exit.");
        return false;
    }
    true
}

/// Loads the RDB file at start-up, if there is one; an unreadable or
/// corrupt file is an error that stops start-up.
pub fn load_at_startup(shared: &Shared) -> Result<Option<rdb::LoadReport>, String> {
    let path = rdb_path(&shared.config.read());
    let started = Instant::now();
    let mut locks = shared.store.lock_all();
    let mut shards = locks.all();
    let report = match load(shared, &path, &mut shards, false) {
        Ok(None) => return Ok(None),
        Ok(Some(report)) => report,
        Err(e) => return Err(format!("Fatal error loading the DB from {}: {e}. Exiting.", path.display())),
    };
    log::info!(
        "DB loaded from disk: {:.3} seconds ({} keys, {} expired keys skipped)",
        started.elapsed().as_secs_f64(),
        report.keys_loaded,
        report.keys_expired
    );
    Ok(Some(report))
}

/// Reads the RDB file at `path` into `shards` (every shard, locked) and
/// the function registry; `None` when there is no such file. A key or
/// library already present is an error, or, with `merge`, replaced.
pub fn load(
    shared: &Shared,
    path: &Path,
    shards: &mut [&mut Shard],
    merge: bool,
) -> Result<Option<rdb::LoadReport>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let mut reader = rdb::Reader::new(io::BufReader::with_capacity(1 << 20, file), size);
    let limits = rdb::Limits::from_hot(&shared.hot);
    let verify = shared.config.read().get("rdbchecksum") == "yes";
    let now = unix_ms();
    let store = &shared.store;
    let report = rdb::read_file(
        &mut reader,
        &limits,
        store.databases(),
        now,
        verify,
        |k| {
            let accessed = (now / 1000).saturating_sub(k.idle_secs.unwrap_or(0)) as u32;
            let entry = Entry::with(k.value, k.expires_at_ms, accessed);
            let db = &mut shards[store.shard_of(&k.key)].dbs[k.db];
            if merge {
                db.remove(&k.key, now);
            }
            if !db.load(&k.key, entry) {
                return Err(format!("duplicate key '{}' in DB {}", String::from_utf8_lossy(&k.key), k.db));
            }
            Ok(())
        },
        |code| {
            crate::commands::functions::load_library(shared, &code, merge)
                .map(|_| ())
                .map_err(|e| format!("Failed loading library: {}", String::from_utf8_lossy(&e.to_bytes())))
        },
    )?;
    if report.unchecked {
        log::warn!("RDB file was saved with checksum disabled: no check performed.");
    }
    let mut s = shared.persist.state.lock();
    s.loaded_keys = report.keys_loaded;
    s.loaded_expired = report.keys_expired;
    Ok(Some(report))
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
