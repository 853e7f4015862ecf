//! The append-only file, in Redis 7.0's multi-part layout: a directory
//! (appenddirname) holding a base file (an RDB snapshot, or commands), the
//! incremental files of commands appended since, and a manifest naming
//! them (`file appendonly.aof.1.base.rdb seq 1 type b`).
//!
//! The write path: a command's effects are encoded into the stream while
//! its shard locks are held, so the stream's order is the execution order
//! for every key. A writer thread takes what accumulated, writes it to the
//! current incremental file and, by policy, fsyncs: after every batch
//! (`always`), once a second (`everysec`) or never (`no`). No event-loop
//! thread writes or fsyncs. Under `always` a connection's replies from a
//! write on are held until the writer reports its offset durable, so one
//! fsync covers every client whose writes were in the batch (group
//! commit). The writer is woken once per event-loop turn that appended
//! (`kick`), not per record, so a batch is what a turn ran, as Redis
//! batches what one of its loop iterations ran.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::resp::reply::format_i64;
use crate::server::Shared;

/// appendfsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always = 0,
    EverySec = 1,
    No = 2,
}

impl Fsync {
    pub fn parse(text: &str) -> Fsync {
        match text {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// A command to append: its database, and its arguments already encoded
/// as the record (one allocation per command, made once).
#[derive(Debug, Clone)]
pub struct Op {
    pub db: usize,
    pub(crate) record: Vec<u8>,
}

impl Op {
    pub fn new(db: usize, args: &[&[u8]]) -> Op {
        Op::encode(db, args.iter().copied())
    }

    pub fn encode<'a>(db: usize, args: impl ExactSizeIterator<Item = &'a [u8]>) -> Op {
        let mut record = Vec::with_capacity(16 + args.len() * 16);
        encode_command(&mut record, args);
        Op { db, record }
    }
}

/// Appends `args` as a RESP multibulk.
pub fn encode_command<'a>(out: &mut Vec<u8>, args: impl ExactSizeIterator<Item = &'a [u8]>) {
    let mut num = [0u8; 20];
    out.push(b'*');
    out.extend_from_slice(format_i64(args.len() as i64, &mut num));
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(format_i64(a.len() as i64, &mut num));
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

thread_local! {
    /// This thread appended records the writer has not been woken for.
    static APPENDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Bytes appended but not yet written, by the incremental file they go to.
struct Segment {
    incr: u64,
    data: Vec<u8>,
}

struct Stream {
    segments: VecDeque<Segment>,
    /// The incremental file new records go to.
    incr: u64,
    /// The database the last record ran in (a SELECT precedes a change).
    last_db: Option<usize>,
    /// Bytes appended since start-up.
    offset: u64,
    writer_idle: bool,
    stop: bool,
}

/// The files the manifest names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    /// (sequence, is an RDB file)
    pub base: Option<(u64, bool)>,
    pub incrs: Vec<u64>,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let field = |key: &str| words.windows(2).find(|w| w[0] == key).map(|w| w[1]);
            let (Some(name), Some(seq), Some(ty)) = (field("file"), field("seq"), field("type")) else {
                return Err(format!("Invalid AOF manifest file format at line {}", n + 1));
            };
            let seq: u64 = seq.parse().map_err(|_| format!("Invalid AOF manifest file format at line {}", n + 1))?;
            match ty {
                "b" => m.base = Some((seq, name.ends_with(".rdb"))),
                "i" => m.incrs.push(seq),
                "h" => {}
                _ => return Err(format!("Unknown AOF file type '{ty}' in the manifest")),
            }
        }
        Ok(m)
    }

    fn render(&self, prefix: &str) -> String {
        let mut out = String::new();
        if let Some((seq, rdb)) = self.base {
            out.push_str(&format!("file {} seq {seq} type b\n", base_name(prefix, seq, rdb)));
        }
        for &seq in &self.incrs {
            out.push_str(&format!("file {} seq {seq} type i\n", incr_name(prefix, seq)));
        }
        out
    }
}

pub fn base_name(prefix: &str, seq: u64, rdb: bool) -> String {
    format!("{prefix}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

/// Where the files live: dir/appenddirname, named from appendfilename.
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
    pub prefix: String,
}

impl Layout {
    pub fn from_config(config: &crate::Config) -> Layout {
        Layout {
            dir: Path::new(config.dir()).join(config.get("appenddirname")),
            prefix: config.get("appendfilename").into(),
        }
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.prefix))
    }

    pub fn incr_path(&self, seq: u64) -> PathBuf {
        self.dir.join(incr_name(&self.prefix, seq))
    }

    pub fn base_path(&self, seq: u64, rdb: bool) -> PathBuf {
        self.dir.join(base_name(&self.prefix, seq, rdb))
    }

    /// The manifest, if there is one.
    pub fn read_manifest(&self) -> Result<Option<Manifest>, String> {
        match std::fs::read_to_string(self.manifest_path()) {
            Ok(text) => Manifest::parse(&text).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("Can't open the AOF manifest {}: {e}", self.manifest_path().display())),
        }
    }

    /// Replaces the manifest atomically: a temporary file, fsynced, renamed,
    /// and the directory fsynced.
    pub fn write_manifest(&self, m: &Manifest) -> io::Result<()> {
        let tmp = self.dir.join(format!("temp-{}.manifest", self.prefix));
        let mut f = File::create(&tmp)?;
        f.write_all(m.render(&self.prefix).as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, self.manifest_path())?;
        sync_dir(&self.dir)
    }
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The append-only file's state, shared by every thread.
pub struct Aof {
    /// Records are appended (appendonly is on and the server is not
    /// loading).
    on: AtomicBool,
    fsync: AtomicU8,
    stream: Mutex<Stream>,
    wake: Condvar,
    /// Stream offsets written to the file and known durable.
    written: AtomicU64,
    synced: AtomicU64,
    /// Per event loop: the offset its held replies wait for (0: none).
    wanted: Box<[AtomicU64]>,
    /// The last write or fsync failed, and why.
    pub write_failed: AtomicBool,
    error: Mutex<String>,
    /// The files in use.
    pub files: Mutex<Option<(Layout, Manifest)>>,
    /// Bytes in the incremental files, and the base's size at the last
    /// rewrite (for auto-aof-rewrite-percentage).
    pub incr_bytes: AtomicU64,
    pub base_bytes: AtomicU64,
}

impl Aof {
    pub fn new(threads: usize) -> Aof {
        Aof {
            on: AtomicBool::new(false),
            fsync: AtomicU8::new(Fsync::EverySec as u8),
            stream: Mutex::new(Stream {
                segments: VecDeque::new(),
                incr: 0,
                last_db: None,
                offset: 0,
                writer_idle: false,
                stop: false,
            }),
            wake: Condvar::new(),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            wanted: (0..threads).map(|_| AtomicU64::new(0)).collect(),
            write_failed: AtomicBool::new(false),
            error: Mutex::new(String::new()),
            files: Mutex::new(None),
            incr_bytes: AtomicU64::new(0),
            base_bytes: AtomicU64::new(0),
        }
    }

    /// Why the last write failed (MISCONF's text).
    pub fn last_error(&self) -> String {
        self.error.lock().clone()
    }

    fn failed(&self, e: &io::Error) {
        *self.error.lock() = e.to_string();
        if !self.write_failed.swap(true, Relaxed) {
            log::warn!("Error writing to the AOF file: {e}");
        }
    }

    /// Whether writes are recorded.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }

    pub fn set_on(&self, on: bool) {
        self.on.store(on, SeqCst);
    }

    pub fn fsync_policy(&self) -> Fsync {
        match self.fsync.load(Relaxed) {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    pub fn set_fsync_policy(&self, policy: Fsync) {
        self.fsync.store(policy as u8, Relaxed);
        self.wake.notify_one();
    }

    /// Appends `ops` (wrapped in MULTI/EXEC when there are several) and
    /// returns the stream offset after them. Called with the shard locks
    /// of the keys involved held.
    pub fn append(&self, ops: &[Op]) -> u64 {
        let mut s = self.stream.lock();
        let incr = s.incr;
        let mut last_db = s.last_db;
        if s.segments.back().is_none_or(|g| g.incr != incr) {
            s.segments.push_back(Segment { incr, data: Vec::new() });
        }
        let seg = s.segments.back_mut().expect("pushed above");
        let before = seg.data.len();
        let wrap = ops.len() > 1;
        for (i, op) in ops.iter().enumerate() {
            if last_db != Some(op.db) {
                let db = op.db.to_string();
                encode_command(&mut seg.data, [&b"SELECT"[..], db.as_bytes()].into_iter());
                last_db = Some(op.db);
            }
            if wrap && i == 0 {
                encode_command(&mut seg.data, [&b"MULTI"[..]].into_iter());
            }
            seg.data.extend_from_slice(&op.record);
        }
        if wrap {
            encode_command(&mut seg.data, [&b"EXEC"[..]].into_iter());
        }
        let added = (seg.data.len() - before) as u64;
        s.last_db = last_db;
        s.offset += added;
        APPENDED.with(|a| a.set(true));
        s.offset
    }

    /// Wakes the writer if this thread appended since its last kick (the
    /// event loops call it at the end of every turn; threads that are not
    /// event loops, right after appending).
    pub fn kick(&self) {
        if APPENDED.with(|a| a.replace(false)) {
            let mut s = self.stream.lock();
            if s.writer_idle {
                s.writer_idle = false;
                self.wake.notify_one();
            }
        }
    }

    /// Makes new records go to incremental file `seq` (a rewrite started,
    /// or the AOF was turned on).
    pub fn switch_incr(&self, seq: u64) {
        let mut s = self.stream.lock();
        s.incr = seq;
        // The next record names its database in the new file.
        s.last_db = None;
        self.wake.notify_one();
    }

    pub fn current_incr(&self) -> u64 {
        self.stream.lock().incr
    }

    /// The offset written and fsynced so far.
    pub fn synced(&self) -> u64 {
        self.synced.load(SeqCst)
    }

    /// Event loop `thread` holds replies until `offset` is durable. True
    /// when it already is (nothing to wait for).
    pub fn wait_for(&self, thread: usize, offset: u64) -> bool {
        let w = &self.wanted[thread];
        if w.load(SeqCst) < offset {
            w.store(offset, SeqCst);
        }
        self.synced.load(SeqCst) >= offset
    }

    /// Event loop `thread` has no held replies left.
    pub fn clear_wait(&self, thread: usize) {
        self.wanted[thread].store(0, SeqCst);
    }

    /// Waits until everything appended so far is written and fsynced (a
    /// clean shutdown, or turning the AOF off).
    pub fn drain(&self) {
        let target = self.stream.lock().offset;
        self.wake.notify_one();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.synced() < target && Instant::now() < deadline {
            {
                let s = self.stream.lock();
                if s.stop {
                    break;
                }
            }
            self.wake.notify_one();
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Tells the writer thread to finish what is queued and exit.
    pub fn stop_writer(&self) {
        self.stream.lock().stop = true;
        self.wake.notify_one();
    }
}

/// The writer thread: writes queued records to the incremental files and
/// fsyncs them by policy; wakes event loops whose held replies became
/// durable.
pub fn run_writer(shared: Arc<Shared>) {
    let aof = &shared.aof;
    let mut file: Option<(u64, File)> = None;
    let mut last_fsync = Instant::now();
    let mut unsynced = false;
    loop {
        let (segments, end, stop) = {
            let mut s = aof.stream.lock();
            loop {
                let pending = s.segments.iter().any(|g| !g.data.is_empty());
                if pending || s.stop {
                    break;
                }
                let wait = if unsynced {
                    Duration::from_millis(1000).saturating_sub(last_fsync.elapsed())
                } else {
                    Duration::from_secs(1)
                };
                if unsynced && wait.is_zero() {
                    break;
                }
                s.writer_idle = true;
                let timed_out = aof.wake.wait_for(&mut s, wait).timed_out();
                s.writer_idle = false;
                if timed_out && unsynced {
                    break;
                }
            }
            (std::mem::take(&mut s.segments), s.offset, s.stop)
        };
        let mut failed = None;
        let mut left: VecDeque<Segment> = VecDeque::new();
        for seg in segments {
            if failed.is_some() {
                left.push_back(seg);
                continue;
            }
            if file.as_ref().is_none_or(|(seq, _)| *seq != seg.incr) {
                if let Some((_, old)) = file.take() {
                    let _ = old.sync_data();
                }
                match open_incr(&shared, seg.incr) {
                    Ok(f) => file = Some((seg.incr, f)),
                    Err(e) => {
                        failed = Some(e);
                        left.push_back(seg);
                        continue;
                    }
                }
            }
            let (_, f) = file.as_mut().expect("opened above");
            if let Err(e) = write_all_or_undo(f, &seg.data) {
                failed = Some(e);
                left.push_back(seg);
                continue;
            }
            aof.incr_bytes.fetch_add(seg.data.len() as u64, Relaxed);
            unsynced = true;
        }
        if let Some(e) = failed {
            aof.failed(&e);
            // Put back what was not written, ahead of anything newer.
            let mut s = aof.stream.lock();
            while let Some(seg) = left.pop_back() {
                s.segments.push_front(seg);
            }
            drop(s);
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        aof.written.store(end, SeqCst);
        let policy = aof.fsync_policy();
        let due = match policy {
            Fsync::Always => true,
            Fsync::EverySec => last_fsync.elapsed() >= Duration::from_secs(1) || stop,
            Fsync::No => stop,
        };
        if unsynced && due {
            if let Some((_, f)) = &file {
                if let Err(e) = f.sync_data() {
                    aof.failed(&e);
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
            last_fsync = Instant::now();
            unsynced = false;
        }
        if !unsynced || policy == Fsync::No {
            // Under `no` the OS decides; held replies never wait for it.
            aof.synced.store(end, SeqCst);
            if aof.write_failed.swap(false, Relaxed) {
                log::info!("AOF write error looks solved. Redis can write again.");
            }
            for (i, w) in aof.wanted.iter().enumerate() {
                let want = w.load(SeqCst);
                if want != 0 && want <= end && w.compare_exchange(want, 0, SeqCst, SeqCst).is_ok() {
                    shared.mailboxes[i].send(crate::net::mailbox::Message::AofSynced);
                }
            }
        }
        if stop {
            return;
        }
    }
}

fn open_incr(shared: &Shared, seq: u64) -> io::Result<File> {
    let layout = shared.aof.files.lock().as_ref().map(|(l, _)| l.clone());
    let layout = layout.ok_or_else(|| io::Error::other("the AOF has no files"))?;
    OpenOptions::new().create(true).append(true).open(layout.incr_path(seq))
}

/// Writes `data`; on failure cuts the file back to where it was, so a
/// retry does not leave half a record behind.
fn write_all_or_undo(f: &mut File, data: &[u8]) -> io::Result<()> {
    let before = f.metadata()?.len();
    if let Err(e) = f.write_all(data) {
        let _ = f.set_len(before);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m, Manifest { base: Some((1, true)), incrs: vec![1, 2] });
        assert_eq!(m.render("appendonly.aof"), text);
        assert!(Manifest::parse("file x seq y type b\n").is_err());
        assert!(Manifest::parse("nonsense\n").is_err());
        let history = "file a.1.base.aof seq 1 type h\nfile a.2.base.aof seq 2 type b\n";
        assert_eq!(Manifest::parse(history).unwrap().base, Some((2, false)));
    }

    #[test]
    fn records_name_their_database_and_wrap_several_ops() {
        let aof = Aof::new(1);
        let end = aof.append(&[Op::new(0, &[b"SET", b"k", b"v"])]);
        let end2 = aof.append(&[Op::new(3, &[b"DEL", b"a"]), Op::new(3, &[b"SET", b"a", b"1"])]);
        let s = aof.stream.lock();
        let data: Vec<u8> = s.segments.iter().flat_map(|g| g.data.clone()).collect();
        let text = String::from_utf8(data).unwrap();
        assert_eq!(
            text,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n\
             *3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*1\r\n$4\r\nEXEC\r\n"
        );
        assert_eq!(end2, text.len() as u64);
        assert!(end < end2);
    }
}
