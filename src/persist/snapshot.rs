//! Snapshot files: writing the keyspace (and the function libraries) as an
//! RDB file, and reading one back into the keyspace. Used by SAVE, by the
//! BGSAVE and AOF-rewrite children, at start-up and by DEBUG RELOAD.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::rdb;
use crate::server::{unix_ms, Shared};
use crate::store::{Entry, Shard};

/// What a snapshot writes, gathered before any fork.
pub struct Plan {
    /// The file (paths never depend on the working directory: an embedder
    /// may run several servers in one process).
    pub path: PathBuf,
    /// Where it is written first; renamed over `path` once complete.
    pub temp: PathBuf,
    pub compress: bool,
    pub checksum: bool,
    /// The AOF base (the `aof-base` field says 1).
    pub aof_base: bool,
    /// Each key's idle time is written too, as Redis does under an LRU
    /// maxmemory-policy.
    pub idle: bool,
    /// Under an LFU policy, each key's frequency is written, read with
    /// these settings.
    pub frequency: Option<crate::store::access::Access>,
    pub now_s: u64,
    pub libraries: Vec<Vec<u8>>,
    /// A diskless transfer: the snapshot goes into its pipe, framed for
    /// replicas, rather than to `path`.
    pub stream: Option<Stream>,
    /// The replication stream's position the data stands at (not in an
    /// AOF base, as in Redis).
    pub repl: Option<crate::repl::SaveInfo>,
}

/// A diskless transfer's pipe, as the child sees it.
pub struct Stream {
    /// The pipe's write end.
    pub out: File,
    /// The end mark.
    pub mark: String,
    /// The relay's end, which the child closes: the pipe must break when
    /// the relay drops it.
    pub relay_end: std::os::fd::RawFd,
}

impl Plan {
    /// A snapshot to `path`, with the server's settings. The caller holds
    /// every shard.
    pub fn new(shared: &Shared, path: PathBuf, temp: PathBuf, aof_base: bool) -> Plan {
        let config = shared.config.read();
        Plan {
            path,
            temp,
            compress: config.get("rdbcompression") == "yes",
            checksum: config.get("rdbchecksum") == "yes",
            aof_base,
            idle: config.get("maxmemory-policy").contains("lru"),
            frequency: config.get("maxmemory-policy").contains("lfu").then(|| config.access()),
            now_s: unix_ms() / 1000,
            libraries: shared.functions.library_codes(),
            stream: None,
            repl: if aof_base { None } else { shared.repl.save_info() },
        }
    }

    /// The RDB file (dbfilename in dir), written by process `pid`.
    pub fn rdb(shared: &Shared, pid: u32) -> Plan {
        let path = rdb_path(&shared.config.read());
        let temp = temp_path(&path, pid);
        Plan::new(shared, path, temp, false)
    }
}

/// The RDB file: dbfilename in dir.
pub fn rdb_path(config: &crate::Config) -> PathBuf {
    Path::new(config.dir()).join(config.get("dbfilename"))
}

/// A temporary file next to `path`, named for process `pid` as Redis names
/// its own.
pub fn temp_path(path: &Path, pid: u32) -> PathBuf {
    path.with_file_name(format!("temp-{pid}.rdb"))
}

/// Writes the snapshot of `shards` to the plan's temporary file, syncs it,
/// renames it over the plan's path and syncs the directory. Returns the
/// bytes written.
pub fn write(plan: &Plan, shards: &[&Shard]) -> io::Result<u64> {
    let result = (|| {
        let file = File::create(&plan.temp)?;
        let mut w = rdb::Writer::new(BufWriter::with_capacity(1 << 20, file), plan.compress, plan.checksum);
        write_body(&mut w, shards, plan)?;
        let written = w.written + 9;
        let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&plan.temp, &plan.path)?;
        super::aof::sync_dir(parent(&plan.path))?;
        Ok(written)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&plan.temp);
    }
    result
}

/// Writes the snapshot of `shards` into `out` as a diskless transfer
/// frames it: `$EOF:<mark>\r\n`, the file's bytes, then the mark (only
/// once everything before it is written, so a replica that reads the mark
/// has it all). Returns the file's bytes.
pub fn stream(plan: &Plan, shards: &[&Shard], out: File, mark: &str) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    write!(out, "$EOF:{mark}\r\n")?;
    let mut w = rdb::Writer::new(out, plan.compress, plan.checksum);
    write_body(&mut w, shards, plan)?;
    let written = w.written + 9;
    let mut out = w.finish()?;
    out.write_all(mark.as_bytes())?;
    out.flush()?;
    Ok(written)
}

fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The file's contents up to (not including) the EOF opcode.
fn write_body<W: Write>(w: &mut rdb::Writer<W>, shards: &[&Shard], plan: &Plan) -> io::Result<()> {
    w.raw(format!("REDIS{:04}", rdb::RDB_VERSION).as_bytes())?;
    let aux = [
        ("redis-ver", crate::commands::connection::REDIS_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", (unix_ms() / 1000).to_string()),
        ("used-mem", crate::memory::used().to_string()),
    ];
    let repl = plan.repl.iter().flat_map(|r| {
        [
            ("repl-stream-db", r.stream_db.to_string()),
            ("repl-id", r.replid.clone()),
            ("repl-offset", r.offset.to_string()),
        ]
    });
    let aux = aux.into_iter().chain(repl).chain([("aof-base", (plan.aof_base as u8).to_string())]);
    for (k, v) in aux {
        w.byte(rdb::op::AUX)?;
        w.string(k.as_bytes())?;
        w.string(v.as_bytes())?;
    }
    for code in &plan.libraries {
        w.byte(rdb::op::FUNCTION2)?;
        w.string(code)?;
    }
    let databases = shards.first().map_or(0, |s| s.dbs.len());
    for db in 0..databases {
        let keys: usize = shards.iter().map(|s| s.dbs[db].len()).sum();
        if keys == 0 {
            continue;
        }
        let expires: usize = shards.iter().map(|s| s.dbs[db].expires_len()).sum();
        w.byte(rdb::op::SELECTDB)?;
        w.len(db as u64)?;
        w.byte(rdb::op::RESIZEDB)?;
        w.len(keys as u64)?;
        w.len(expires as u64)?;
        for shard in shards {
            for (key, entry) in shard.dbs[db].iter() {
                if plan.idle {
                    w.byte(rdb::op::IDLE)?;
                    w.len(entry.idle_secs(plan.now_s * 1000))?;
                }
                if let Some(access) = plan.frequency {
                    w.byte(rdb::op::FREQ)?;
                    w.byte(access.frequency(entry.access, plan.now_s * 1000))?;
                }
                write_key(w, key, entry)?;
            }
        }
    }
    Ok(())
}

fn write_key<W: Write>(w: &mut rdb::Writer<W>, key: &[u8], entry: &Entry) -> io::Result<()> {
    if let Some(at) = entry.expires_at_ms() {
        w.byte(rdb::op::EXPIRETIME_MS)?;
        w.raw(&at.to_le_bytes())?;
    }
    w.byte(rdb::Writer::<W>::type_of(&entry.value))?;
    w.string(key)?;
    w.value(&entry.value)
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
    let mut sink = Loader { shared, shards, merge, now, size };
    shared.persist.loading_file(size);
    let report = rdb::read_file(&mut reader, &limits, shared.store.databases(), now, verify, &mut sink)?;
    if report.unchecked {
        log::warn!("RDB file was saved with checksum disabled: no check performed.");
    }
    Ok(Some(report))
}

/// Puts a file's keys into the locked shards and its libraries into the
/// registry.
struct Loader<'a, 's> {
    shared: &'a Shared,
    shards: &'a mut [&'s mut Shard],
    merge: bool,
    now: u64,
    /// The file's size, which bounds what its counts can honestly claim.
    size: u64,
}

impl rdb::Sink for Loader<'_, '_> {
    fn key(&mut self, k: rdb::LoadedKey) -> Result<(), String> {
        let db = &mut self.shards[self.shared.store.shard_of(&k.key)].dbs[k.db];
        let entry = Entry::with(k.value, k.expires_at_ms, db.access.restored(k.idle_secs, k.frequency, self.now));
        if self.merge {
            db.remove(&k.key, self.now);
        }
        if !db.load(&k.key, entry) {
            return Err(format!("duplicate key '{}' in DB {}", String::from_utf8_lossy(&k.key), k.db));
        }
        Ok(())
    }

    fn library(&mut self, code: Vec<u8>) -> Result<(), String> {
        crate::commands::functions::load_library(self.shared, &code, self.merge)
            .map(|_| ())
            .map_err(|e| format!("Failed loading library: {}", String::from_utf8_lossy(&e.to_bytes())))
    }

    /// Sizes each shard's tables for its part of the keys at once, as Redis
    /// sizes its table on RESIZEDB.
    fn resize(&mut self, db: usize, keys: u64, expires: u64) {
        let shards = self.shards.len().max(1);
        let per_shard = |n: u64| (n.min(self.size / 4) as usize).div_ceil(shards);
        for shard in self.shards.iter_mut() {
            shard.dbs[db].reserve(per_shard(keys), per_shard(expires));
        }
    }

    /// INFO's loading_* fields follow the load.
    fn progress(&mut self, bytes: u64, report: &rdb::LoadReport) {
        let used_mem = report
            .aux
            .iter()
            .find(|(k, _)| k == b"used-mem")
            .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse().ok())
            .unwrap_or(0);
        self.shared.persist.loading_progress(bytes, used_mem, report.keys_loaded, report.keys_expired);
    }
}
