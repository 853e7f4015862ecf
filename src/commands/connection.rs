//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH and CLIENT.

use std::sync::atomic::Ordering::Relaxed;

use super::args::{self, is, Cursor};
use super::flags::*;
use super::{blocking, table, CmdResult, CommandSpec, Ctx, Error};
use crate::client::{ClientKind, ReplyMode};
use crate::cmd;
use crate::net::mailbox::Message;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("ping", -1, FAST, NONE, ping, "connection", "1.0.0", "Ping the server", "[message]"),
    cmd!("echo", 2, FAST | LOADING | STALE, NONE, echo, "connection", "1.0.0", "Echo the given string", "message"),
    cmd!("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, NONE, reset, "connection", "6.2.0", "Reset the connection", ""),
    cmd!("quit", -1, ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH, NONE, quit, "connection", "1.0.0", "Close the connection", ""),
    cmd!("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, NONE, hello, "connection", "6.0.0", "Handshake with Redis", "[protover [AUTH username password] [SETNAME clientname]]"),
    cmd!("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, NONE, auth, "connection", "1.0.0", "Authenticate to the server", "[username] password"),
    CommandSpec {
        subcommands: CLIENT_SUBCOMMANDS,
        ..cmd!("client", -2, 0, NONE, client_help, "connection", "2.4.0", "A container for client connection commands", "")
    },
];

const CLIENT: u32 = NOSCRIPT | LOADING | STALE;

#[rustfmt::skip]
static CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("id", 2, CLIENT, NONE, client_id, "connection", "5.0.0", "Returns the client ID for the current connection", ""),
    cmd!("setname", 3, CLIENT, NONE, client_setname, "connection", "2.6.9", "Set the current connection name", "connection-name"),
    cmd!("getname", 2, CLIENT, NONE, client_getname, "connection", "2.6.9", "Get the current connection name", ""),
    cmd!("list", -2, ADMIN | CLIENT, NONE, client_list, "connection", "2.4.0", "Get the list of client connections", "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id...]"),
    cmd!("info", 2, CLIENT, NONE, client_info, "connection", "6.2.0", "Returns information about the current client connection.", ""),
    cmd!("kill", -3, ADMIN | CLIENT, NONE, client_kill, "connection", "2.4.0", "Kill the connection of a client", "(ip:port|[ID client-id] [TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES|NO])"),
    cmd!("setinfo", 4, CLIENT, NONE, client_setinfo, "connection", "7.2.0", "Set client or connection specific info", "(LIB-NAME libname|LIB-VER libver)"),
    cmd!("unblock", -3, ADMIN | CLIENT, NONE, client_unblock, "connection", "5.0.0", "Unblock a client blocked in a blocking command from a different connection", "client-id [TIMEOUT|ERROR]"),
    cmd!("no-evict", 3, ADMIN | CLIENT, NONE, client_no_evict, "connection", "7.0.0", "Set client eviction mode for the current connection", "(ON|OFF)"),
    cmd!("reply", 3, CLIENT, NONE, client_reply, "connection", "3.2.0", "Instruct the server whether to reply to commands", "(ON|OFF|SKIP)"),
    cmd!("pause", -3, ADMIN | CLIENT, NONE, client_pause, "connection", "3.0.0", "Stop processing commands from clients for some time", "timeout [WRITE|ALL]"),
    cmd!("unpause", 2, ADMIN | CLIENT, NONE, client_unpause, "connection", "6.2.0", "Resume processing of clients that were paused", ""),
    cmd!("help", 2, LOADING | STALE, NONE, client_help, "connection", "5.0.0", "Show helpful text about the different subcommands", ""),
];

/// The Redis release whose behaviour we match; clients gate features on it.
pub const REDIS_VERSION: &str = "7.0.15";

/// PING [message]
fn ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.subscriptions() > 0 && ctx.argc() <= 2 {
        super::pubsub::subscribed_ping(ctx);
        return Ok(());
    }
    match ctx.argc() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(ctx.arg(1)),
        _ => return Err(Error::WrongArity("ping".into())),
    }
    Ok(())
}

/// ECHO message
fn echo(ctx: &mut Ctx) -> CmdResult {
    ctx.out.bulk(ctx.arg(1));
    Ok(())
}

/// QUIT
fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

/// RESET: the connection as it was just after connecting, as Redis 7.0
/// leaves it: no transaction, no watches, no subscriptions, database 0,
/// replies on, no name, and logged out where a password is required.
/// (CLIENT NO-EVICT stays as it was, as in 7.0.)
fn reset(ctx: &mut Ctx) -> CmdResult {
    ctx.client.end_multi();
    super::multi::unwatch_all(ctx);
    super::pubsub::forget(ctx.server, ctx.client);
    ctx.client.select(0);
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.meta.name.lock().clear();
    ctx.client.authenticated = ctx.server.config.read().requirepass().is_empty();
    ctx.out.simple("RESET");
    Ok(())
}

/// Checks a password for `user`; only the `default` user exists.
fn check_password(ctx: &Ctx, user: &[u8], password: &[u8]) -> Result<(), Error> {
    let config = ctx.server.config.read();
    let required = config.requirepass();
    let ok = user == b"default" && (required.is_empty() || required.as_bytes() == password);
    if ok {
        Ok(())
    } else {
        Err(Error::WrongPass)
    }
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx) -> CmdResult {
    let (user, password) = match ctx.argc() {
        2 => {
            if ctx.server.config.read().requirepass().is_empty() {
                return Err(Error::AuthNotConfigured);
            }
            (&b"default"[..], ctx.arg(1))
        }
        3 => (ctx.arg(1), ctx.arg(2)),
        _ => return Err(Error::Syntax),
    };
    check_password(ctx, user, password)?;
    ctx.client.authenticated = true;
    ctx.out.ok();
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx) -> CmdResult {
    let mut cur = Cursor::new(ctx.args, 1);
    if let Some(ver) = cur.next_arg() {
        let ver = args::int(ver).map_err(|_| Error::ProtocolVersionNotInteger)?;
        if ver != 2 {
            return Err(Error::NoProto);
        }
    }
    let mut name = None;
    let mut credentials = None;
    while let Some(word) = cur.next_arg() {
        if is(word, "auth") && cur.remaining() >= 2 {
            credentials = Some((cur.value()?, cur.value()?));
        } else if is(word, "setname") && cur.remaining() >= 1 {
            name = Some(cur.value()?);
        } else {
            return Err(Error::HelloSyntax(word.to_vec()));
        }
    }
    if let Some((user, password)) = credentials {
        check_password(ctx, user, password)?;
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(Error::NoAuthHello);
    }
    if let Some(name) = name {
        set_name(ctx, name)?;
    }
    ctx.out.array(14);
    for (k, v) in [("server", "redis"), ("version", REDIS_VERSION)] {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    ctx.out.bulk(b"proto");
    ctx.out.int(2);
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.client.id as i64);
    for (k, v) in [("mode", "standalone"), ("role", "master")] {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
    Ok(())
}

/// CLIENT ID
fn client_id(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

/// Redis allows names made of the printable characters `!` to `~`.
fn printable(value: &[u8]) -> bool {
    value.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn set_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    if !printable(name) {
        return Err(Error::ClientNameSpaces);
    }
    *ctx.client.meta.name.lock() = name.to_vec();
    Ok(())
}

/// CLIENT SETNAME connection-name
fn client_setname(ctx: &mut Ctx) -> CmdResult {
    set_name(ctx, ctx.arg(2))?;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETNAME
fn client_getname(ctx: &mut Ctx) -> CmdResult {
    let name = ctx.client.meta.name.lock().clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(&name);
    }
    Ok(())
}

fn info_line(meta: &crate::client::ClientMeta) -> String {
    meta.info_line(|i| table::full_name(i).to_string())
}

/// CLIENT LIST [TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id ...]
fn client_list(ctx: &mut Ctx) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind = None;
    let mut cur = Cursor::new(ctx.args, 2);
    while let Some(word) = cur.next_arg() {
        if is(word, "type") {
            let t = cur.value()?;
            kind = Some(ClientKind::parse(t).ok_or_else(|| Error::UnknownClientType(t.to_vec()))?);
        } else if is(word, "id") {
            let mut list = Vec::new();
            while let Some(id) = cur.next_arg() {
                let id = args::int(id).map_err(|_| Error::InvalidClientId)?;
                list.push(id.max(0) as u64);
            }
            ids = Some(list);
        } else {
            return Err(Error::Syntax);
        }
    }
    let mut text = String::new();
    for meta in ctx.server.clients.all() {
        if ids.as_ref().is_none_or(|ids| ids.contains(&meta.id)) && kind.is_none_or(|k| meta.kind() == k) {
            text.push_str(&info_line(&meta));
            text.push('\n');
        }
    }
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// CLIENT INFO
fn client_info(ctx: &mut Ctx) -> CmdResult {
    let mut line = info_line(&ctx.client.meta);
    line.push('\n');
    ctx.out.bulk(line.as_bytes());
    Ok(())
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [ADDR ip:port] [LADDR ip:port] [SKIPME yes/no] [TYPE t] [USER u]
fn client_kill(ctx: &mut Ctx) -> CmdResult {
    let old_style = ctx.argc() == 3;
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skip_me = true;
    let mut kind = None;
    if old_style {
        addr = Some(ctx.arg(2));
        skip_me = false;
    } else {
        let mut cur = Cursor::new(ctx.args, 2);
        while let Some(word) = cur.next_arg() {
            let value = cur.value()?;
            if is(word, "id") {
                id = Some(args::int(value).ok().filter(|&n| n > 0).ok_or(Error::ClientIdNotPositive)? as u64);
            } else if is(word, "addr") {
                addr = Some(value);
            } else if is(word, "laddr") {
                laddr = Some(value);
            } else if is(word, "skipme") {
                skip_me = if is(value, "yes") {
                    true
                } else if is(value, "no") {
                    false
                } else {
                    return Err(Error::Syntax);
                };
            } else if is(word, "type") {
                kind = Some(ClientKind::parse(value).ok_or_else(|| Error::UnknownClientType(value.to_vec()))?);
            } else if is(word, "user") {
                if value != b"default" {
                    return Err(Error::NoSuchUser(value.to_vec()));
                }
            } else {
                return Err(Error::Syntax);
            }
        }
    }
    let mut killed = 0;
    for meta in ctx.server.clients.all() {
        let matches = id.is_none_or(|id| meta.id == id)
            && addr.is_none_or(|a| meta.addr.as_bytes() == a)
            && laddr.is_none_or(|a| meta.laddr.as_bytes() == a)
            && kind.is_none_or(|k| meta.kind() == k);
        if !matches || (skip_me && meta.id == ctx.client.id) {
            continue;
        }
        killed += 1;
        if meta.id == ctx.client.id {
            ctx.client.close_after_reply = true;
        } else {
            meta.killed.store(true, Relaxed);
            ctx.server.mailboxes[meta.thread].send(Message::Kill(meta.id));
        }
    }
    if old_style {
        if killed == 0 {
            return Err(Error::NoSuchClient);
        }
        ctx.out.ok();
    } else {
        ctx.out.int(killed);
    }
    Ok(())
}

/// CLIENT SETINFO LIB-NAME libname | LIB-VER libver
fn client_setinfo(ctx: &mut Ctx) -> CmdResult {
    let (attr, value) = (ctx.arg(2), ctx.arg(3));
    let (slot, label) = if is(attr, "lib-name") {
        (&ctx.client.meta.lib_name, "lib-name")
    } else if is(attr, "lib-ver") {
        (&ctx.client.meta.lib_ver, "lib-ver")
    } else {
        return Err(Error::ClientSetinfoAttr(attr.to_vec()));
    };
    if !printable(value) {
        return Err(Error::ClientSetinfoChars(label));
    }
    *slot.lock() = value.to_vec();
    ctx.out.ok();
    Ok(())
}

/// CLIENT NO-EVICT ON | OFF
fn client_no_evict(ctx: &mut Ctx) -> CmdResult {
    let on = on_off(ctx.arg(2))?;
    ctx.client.meta.no_evict.store(on, Relaxed);
    ctx.out.ok();
    Ok(())
}

fn on_off(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        Err(Error::Syntax)
    }
}

/// CLIENT REPLY ON | OFF | SKIP
fn client_reply(ctx: &mut Ctx) -> CmdResult {
    let arg = ctx.arg(2);
    ctx.client.reply_mode = if is(arg, "on") {
        ReplyMode::On
    } else if is(arg, "off") {
        ReplyMode::Off
    } else if is(arg, "skip") {
        ReplyMode::SkipNext
    } else {
        return Err(Error::Syntax);
    };
    ctx.out.ok();
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE | ALL]: for `timeout` milliseconds, every
/// client's commands (ALL, the default) or those that may write (WRITE)
/// wait before they run (`crate::pause`).
fn client_pause(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 4 {
        return Err(Error::UnknownSubcommandOrArity { sub: ctx.arg(1).to_vec(), command: "client" });
    }
    // The mode is checked before the timeout, as Redis does.
    let all = match ctx.args.iter().nth(3) {
        None => true,
        Some(mode) if is(mode, "all") => true,
        Some(mode) if is(mode, "write") => false,
        Some(_) => return Err(Error::PauseMode),
    };
    let timeout = args::int(ctx.arg(2)).map_err(|_| Error::TimeoutNotInteger)?;
    if timeout < 0 {
        return Err(Error::TimeoutNegative);
    }
    let until = ctx.now_ms().saturating_add(timeout as u64);
    ctx.server.pause.pause_clients(ctx.server, until, all);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE
fn client_unpause(ctx: &mut Ctx) -> CmdResult {
    ctx.server.pause.unpause_clients(ctx.server);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]: 1 when the client was
/// blocked and is now answered, with a null (TIMEOUT, the default) or the
/// UNBLOCKED error.
fn client_unblock(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 4 {
        return Err(Error::UnknownSubcommandOrArity { sub: ctx.arg(1).to_vec(), command: "client" });
    }
    // As Redis: the reason is checked before the id.
    let as_error = match ctx.args.iter().nth(3) {
        None => false,
        Some(reason) if is(reason, "timeout") => false,
        Some(reason) if is(reason, "error") => true,
        Some(_) => return Err(Error::UnblockReason),
    };
    let id = args::int(ctx.arg(2))?;
    let waiter =
        u64::try_from(id).ok().and_then(|id| ctx.server.clients.get(id)).and_then(|c| c.blocked.lock().clone());
    let freed = match waiter {
        Some(waiter) if waiter.claim() => {
            let reply = if as_error {
                format!("-{}\r\n", Error::Unblocked).into_bytes()
            } else {
                blocking::TIMEOUT_REPLY.to_vec()
            };
            ctx.server.mailboxes[waiter.thread].send(Message::Unblock {
                client_id: waiter.client_id,
                reply,
                aof_offset: None,
            });
            1
        }
        _ => 0,
    };
    ctx.out.int(freed);
    Ok(())
}

/// CLIENT HELP
fn client_help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * ID <client-id>",
        "      Kill connections by client id.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "HELP",
        "    Prints this help.",
    ];
    super::keys::help(ctx, LINES);
    Ok(())
}
