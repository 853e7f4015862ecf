//! Loading the append-only file at start-up: the base (an RDB snapshot or
//! commands), then each incremental file, commands replayed through the
//! normal dispatch path by a client of its own.
//!
//! A command cut short at the end of the last file (a crash mid-write) is
//! dropped with a warning and the file cut back to the last whole command,
//! when aof-load-truncated allows; so is a MULTI that never reached its
//! EXEC. Anything else that is not a command stops start-up with the file
//! and offset named.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use super::aof::Layout;
use crate::client::{Client, ClientMeta};
use crate::commands::{dispatch, table};
use crate::resp::{ParseLimits, RequestParser};
use crate::server::{unix_ms, Shared};

/// What replaying a file did.
#[derive(Debug, Default)]
pub struct Replayed {
    pub commands: u64,
    /// The file was cut back to this many bytes.
    pub truncated_to: Option<u64>,
}

/// Loads every file the manifest names. `Ok(false)` when there is no
/// AOF yet.
pub fn load(shared: &Shared, layout: &Layout) -> Result<bool, String> {
    let Some(manifest) = layout.read_manifest()? else {
        return Ok(false);
    };
    if let Some((seq, rdb)) = manifest.base {
        let path = layout.base_path(seq, rdb);
        if rdb {
            let mut locks = shared.store.lock_all();
            let mut shards = locks.all();
            super::snapshot::load(shared, &path, &mut shards, false)
                .map_err(|e| format!("Fatal error loading the AOF base file {}: {e}", path.display()))?
                .ok_or_else(|| format!("The AOF base file {} does not exist", path.display()))?;
        } else {
            replay_file(shared, &path, false)?;
        }
    }
    let last = manifest.incrs.len().saturating_sub(1);
    for (i, &seq) in manifest.incrs.iter().enumerate() {
        let path = layout.incr_path(seq);
        if !path.exists() {
            return Err(format!("The AOF file {} does not exist", path.display()));
        }
        let truncation_allowed = i == last && shared.config.read().get("aof-load-truncated") == "yes";
        replay_file(shared, &path, truncation_allowed)?;
    }
    Ok(true)
}

/// Replays the commands in one file.
pub fn replay_file(shared: &Shared, path: &Path, truncation_allowed: bool) -> Result<Replayed, String> {
    let name = path.display().to_string();
    let mut file = File::open(path).map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
    let meta = Arc::new(ClientMeta::new(0, "aof".into(), String::new(), -1, 0));
    let mut client = Client::new(meta, true);
    // Applied as a primary's stream is: past every gate (LOADING, OOM,
    // read-only) that stands for clients.
    client.is_master = true;
    let stats = &shared.stats[0];
    let limits = ParseLimits { max_bulk_len: usize::MAX, auth_required: false };
    let mut parser = RequestParser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut start = 0;
    // File offset of buf[0], of the end of the last whole command, and of
    // the MULTI that opened the transaction still queued.
    let mut base = 0u64;
    let mut valid = 0u64;
    let mut multi_at = None;
    let mut out = Vec::new();
    let mut report = Replayed::default();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut chunk).map_err(|e| format!("Error reading the append-only file {name}: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let rest = &buf[start..];
            if rest.is_empty() {
                break;
            }
            if rest[0] != b'*' {
                return Err(format!(
                    "Bad file format reading the append only file {name} at offset {}",
                    base + start as u64
                ));
            }
            match parser.parse(rest, limits) {
                Ok(Some(consumed)) => {
                    let args = parser.args(rest);
                    let at = base + start as u64;
                    start += consumed;
                    if args.is_empty() {
                        continue;
                    }
                    if table::lookup(args.get(0)).is_none() {
                        return Err(format!(
                            "Unknown command '{}' reading the append only file {name} at offset {at}",
                            String::from_utf8_lossy(args.get(0))
                        ));
                    }
                    let opens_multi = args.get(0).eq_ignore_ascii_case(b"multi");
                    dispatch::execute(args, &mut client, shared, stats, unix_ms(), &mut out);
                    out.clear();
                    report.commands += 1;
                    if opens_multi {
                        multi_at = Some(at);
                    }
                    if client.multi.is_none() {
                        multi_at = None;
                        valid = base + start as u64;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(format!(
                        "Bad file format reading the append only file {name} at offset {}: {e:?}",
                        base + start as u64
                    ))
                }
            }
        }
        buf.drain(..start);
        base += start as u64;
        start = 0;
    }
    let size = base + buf.len() as u64;
    if valid < size {
        let what = if multi_at.is_some() { "an incomplete MULTI/EXEC transaction" } else { "a command cut short" };
        if !truncation_allowed {
            return Err(format!(
                "Unexpected end of file reading the append only file {name} ({what} at offset {valid}). \
                 Set aof-load-truncated yes to load it anyway, dropping the incomplete end."
            ));
        }
        log::warn!("!!! Warning: short read while loading the AOF file {name}: {what} at offset {valid} !!!");
        client.end_multi();
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(valid).and_then(|_| f.sync_all()))
            .map_err(|e| format!("Error truncating the AOF file {name}: {e}"))?;
        log::warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
        report.truncated_to = Some(valid);
    }
    Ok(report)
}
