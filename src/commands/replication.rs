//! What replicas send their primary (PSYNC, SYNC, REPLCONF) and ROLE; the
//! primary's side of replication is `crate::repl`.

use super::args::is;
use super::error::{CmdResult, Error};
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::client::ReplyMode;
use crate::cmd;
use crate::repl::{upstream, Refusal, Replica};

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("psync", -3, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, NONE, psync, "server", "2.8.0", "An internal command used in replication", "replicationid offset"),
    cmd!("sync", 1, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, NONE, sync, "server", "1.0.0", "An internal command used in replication", ""),
    cmd!("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, NONE, replconf, "server", "3.0.0", "An internal command for configuring the replication stream", ""),
    cmd!("role", 1, NOSCRIPT | LOADING | STALE | FAST, NONE, role, "server", "2.8.12", "Returns the replication role.", ""),
    cmd!("replicaof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, NONE, replicaof, "server", "5.0.0", "Make the server a replica of another instance, or promote it as master.", "host port"),
    cmd!("slaveof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, NONE, replicaof, "server", "1.0.0", "Make the server a replica of another instance, or promote it as master.", "host port"),
    cmd!("wait", 3, NOSCRIPT, NONE, wait, "generic", "3.0.0", "Wait for the synchronous replication of all the write commands sent in the context of the current connection", "numreplicas timeout"),
    cmd!("failover", -1, ADMIN | NOSCRIPT | STALE, NONE, failover, "server", "6.2.0", "Start a coordinated failover between this server and one of its replicas.", "[TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]"),
];

/// WAIT numreplicas timeout: the number of replicas that acknowledged
/// this client's last write, once `numreplicas` have or `timeout`
/// milliseconds passed (0: no limit). Inside a transaction it answers at
/// once. The event loop answers a WAIT that has to wait.
fn wait(ctx: &mut Ctx) -> CmdResult {
    if ctx.server.repl.is_replica() {
        return Err(Error::WaitOnReplica);
    }
    let wanted = super::args::int(ctx.arg(1))?;
    let timeout =
        std::str::from_utf8(ctx.arg(2)).ok().and_then(|t| t.parse::<i64>().ok()).ok_or(Error::TimeoutNotInteger)?;
    if timeout < 0 {
        return Err(Error::TimeoutNegative);
    }
    let offset = ctx.client.woff;
    let acked = ctx.server.repl.count_acked(offset);
    if acked as i64 >= wanted || ctx.client.in_exec {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    let deadline = (timeout > 0).then(|| ctx.now_ms().saturating_add(timeout as u64));
    ctx.client.waiting_acks = Some((offset, wanted as usize, deadline));
    ctx.server.repl.request_acks(ctx.server, ctx.client.meta.thread);
    Ok(())
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]: hand
/// this primary's role to a replica once it has every write
/// (`crate::repl::failover`).
fn failover(ctx: &mut Ctx) -> CmdResult {
    let (mut target, mut timeout, mut force, mut abort) = (None, None, false, false);
    // As Redis parses them: nothing after ABORT, each option once, the
    // timeout checked where it stands.
    let mut at = 1;
    while at < ctx.argc() {
        let word = ctx.arg(at);
        if is(word, "to") && !abort && target.is_none() && at + 2 < ctx.argc() {
            let port = super::args::int(ctx.arg(at + 2))?;
            target = Some((String::from_utf8_lossy(ctx.arg(at + 1)).into_owned(), port));
            at += 3;
        } else if is(word, "timeout") && !abort && timeout.is_none() && at + 1 < ctx.argc() {
            let ms = super::args::int(ctx.arg(at + 1))?;
            if ms <= 0 {
                return Err(Error::FailoverTimeout);
            }
            timeout = Some(ms as u64);
            at += 2;
        } else if is(word, "force") && !abort && !force {
            force = true;
            at += 1;
        } else if is(word, "abort") && !abort {
            abort = true;
            at += 1;
        } else {
            return Err(Error::Syntax);
        }
    }
    let server = ctx.server;
    if abort {
        if target.is_some() || timeout.is_some() || force {
            return Err(Error::Syntax);
        }
        if !server.repl.abort_failover(server, "Failover manually aborted") {
            return Err(Error::NoFailover);
        }
        ctx.out.ok();
        return Ok(());
    }
    // A port out of range names no replica.
    let target = target.map(|(host, port)| (host, u16::try_from(port).unwrap_or(0)));
    server.repl.start_failover(server, target, force, timeout).map_err(|refusal| match refusal {
        Refusal::OnReplica => Error::FailoverOnReplica,
        Refusal::NoReplicas => Error::FailoverNoReplicas,
        Refusal::InProgress => Error::FailoverInProgress,
        Refusal::Force => Error::FailoverForce,
        Refusal::NotAReplica => Error::FailoverNotAReplica,
        Refusal::NotOnline => Error::FailoverNotOnline,
    })?;
    ctx.out.ok();
    Ok(())
}

/// PSYNC replid offset [FAILOVER]: a partial resync from `offset` if the
/// stream is still buffered from there under this replication id, else a
/// full one. With FAILOVER (from a primary handing over to this replica),
/// this replica first becomes a primary, if `replid` is the one it
/// follows.
fn psync(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 && is(ctx.arg(3), "failover") && ctx.client.replica.is_none() {
        if !ctx.server.repl.is_replica() {
            return Err(Error::PsyncFailoverToMaster);
        }
        if ctx.arg(1) != ctx.server.repl.ids().0.as_bytes() {
            return Err(Error::PsyncFailoverReplid);
        }
        log::warn!("Failover request received for replid {}.", String::from_utf8_lossy(ctx.arg(1)));
        upstream::stop_following(ctx.server);
        ctx.server.config.write().apply("replicaof", &[]).expect("an empty value is valid");
    }
    let replid = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let offset = std::str::from_utf8(ctx.arg(2)).ok().and_then(|s| s.parse::<i64>().ok());
    let asked = match offset {
        Some(o) if o >= 0 && replid != "?" => Some((replid.as_str(), o as u64)),
        _ => None,
    };
    become_replica(ctx, asked)
}

/// SYNC: the old protocol, always a full resync.
fn sync(ctx: &mut Ctx) -> CmdResult {
    become_replica(ctx, None)
}

fn become_replica(ctx: &mut Ctx, asked: Option<(&str, u64)>) -> CmdResult {
    if ctx.client.replica.is_some() {
        // Redis ignores a second SYNC from a replica.
        return Ok(());
    }
    if ctx.server.repl.failing_over() {
        return Err(Error::SyncWhileFailingOver);
    }
    // A replica serves replicas of its own only while it follows its
    // primary: what it holds otherwise may be a stream that goes nowhere.
    if upstream::status(ctx.server).is_some_and(|s| s.state != upstream::LinkState::Connected) {
        return Err(Error::NoMasterLink);
    }
    let meta = &ctx.client.meta;
    let peer_ip = meta.addr.rsplit_once(':').map_or(meta.addr.as_str(), |(ip, _)| ip).to_string();
    let ip = ctx.client.announced_ip.clone().unwrap_or(peer_ip);
    let port = ctx.client.listening_port;
    let replica = Replica::new(ctx.client.id, meta.thread, ip.clone(), port, ctx.client.capa_eof);
    log::info!("Replica {ip}:{port} asks for synchronization");
    let server = ctx.server;
    let mut shards = ctx.keys.lock_all();
    server.repl.psync(server, &mut shards, replica, asked);
    ctx.client.replica = Some(Box::default());
    ctx.client.meta.replica.store(true, std::sync::atomic::Ordering::Relaxed);
    // The replica reads the stream from here on, not replies: even the
    // answer to PSYNC goes out with the stream (`Replication::pump`).
    ctx.client.reply_mode = ReplyMode::Off;
    Ok(())
}

/// REPLCONF option value [option value ...]: what a replica tells its
/// primary. ACK gets no reply.
fn replconf(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    let mut at = 1;
    while at < ctx.argc() {
        let option = ctx.arg(at);
        let value = ctx.arg(at + 1);
        if is(option, "listening-port") {
            ctx.client.listening_port =
                std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()).ok_or(Error::NotInteger)?;
        } else if is(option, "ip-address") {
            ctx.client.announced_ip = Some(String::from_utf8_lossy(value).into_owned());
        } else if is(option, "capa") {
            // eof: it takes a diskless transfer. psync2 (the replication
            // id's change on a promotion) needs nothing of the primary.
            if is(value, "eof") {
                ctx.client.capa_eof = true;
            }
        } else if is(option, "rdb-only") || is(option, "rdb-filter-only") {
            // Options of redis-cli --rdb, which takes a full sync as any
            // replica does.
        } else if is(option, "ack") || is(option, "fack") {
            if ctx.client.replica.is_some() && is(option, "ack") {
                let offset = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
                ctx.server.repl.acked(ctx.server, ctx.client.id, offset);
            }
            // Never answered.
            ctx.client.reply_mode = ReplyMode::SkipThis;
            return Ok(());
        } else if is(option, "getack") {
            // Only a primary asks this of its replica; a primary ignores it.
            ctx.client.reply_mode = ReplyMode::SkipThis;
            return Ok(());
        } else {
            return Err(Error::ReplconfOption(option.to_vec()));
        }
        at += 2;
    }
    ctx.out.ok();
    Ok(())
}

/// REPLICAOF host port | NO ONE (and SLAVEOF): follow a primary, or stop
/// following one and take writes.
fn replicaof(ctx: &mut Ctx) -> CmdResult {
    let server = ctx.server;
    if is(ctx.arg(1), "no") && is(ctx.arg(2), "one") {
        if server.repl.is_replica() {
            upstream::stop_following(server);
            server.config.write().apply("replicaof", &[]).expect("an empty value is valid");
        }
        ctx.out.ok();
        return Ok(());
    }
    let port = std::str::from_utf8(ctx.arg(2))
        .ok()
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (0..=65535).contains(p))
        .ok_or(Error::InvalidMasterPort)? as u16;
    let host = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    if upstream::status(server).is_some_and(|s| s.host.eq_ignore_ascii_case(&host) && s.port == port) {
        ctx.out.simple("OK Already connected to specified master");
        return Ok(());
    }
    server.repl.demoted();
    upstream::follow(server, host.clone(), port);
    let _ = server.config.write().apply("replicaof", &[host, port.to_string()]);
    ctx.out.ok();
    Ok(())
}

/// ROLE: ["master", offset, [[ip, port, acknowledged offset], ...]], or
/// on a replica ["slave", host, port, link state, offset].
fn role(ctx: &mut Ctx) -> CmdResult {
    if let Some(s) = upstream::status(ctx.server) {
        ctx.out.array(5);
        ctx.out.bulk(b"slave");
        ctx.out.bulk(s.host.as_bytes());
        ctx.out.int(s.port as i64);
        ctx.out.bulk(s.state.name().as_bytes());
        ctx.out.int(ctx.server.repl.offset() as i64);
        return Ok(());
    }
    let offset = ctx.server.repl.offset();
    let replicas = ctx.server.repl.online();
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(offset as i64);
    ctx.out.array(replicas.len());
    for (ip, port, ack) in replicas {
        ctx.out.array(3);
        ctx.out.bulk(ip.as_bytes());
        ctx.out.bulk(port.to_string().as_bytes());
        ctx.out.bulk(ack.to_string().as_bytes());
    }
    Ok(())
}
