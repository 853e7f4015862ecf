//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//! PUBLISH and PUBSUB. The tables live in `crate::pubsub`; a client keeps
//! its own list of what it listens to, in subscription order, which is the
//! order an UNSUBSCRIBE without arguments answers in.

use std::sync::atomic::Ordering::Relaxed;

use super::flags::*;
use super::{keys::help, CmdResult, CommandSpec, Ctx, Error};
use crate::client::Client;
use crate::cmd;
use crate::pubsub::{Kind, Subscriber};
use crate::server::Shared;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    cmd!("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, NONE, subscribe, "pubsub", "2.0.0", "Listen for messages published to the given channels", "channel..."),
    cmd!("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, NONE, unsubscribe, "pubsub", "2.0.0", "Stop listening for messages posted to the given channels", "[channel...]"),
    cmd!("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, NONE, psubscribe, "pubsub", "2.0.0", "Listen for messages published to channels matching the given patterns", "pattern..."),
    cmd!("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, NONE, punsubscribe, "pubsub", "2.0.0", "Stop listening for messages posted to channels matching the given patterns", "[pattern...]"),
    cmd!("publish", 3, PUBSUB | LOADING | STALE | FAST, NONE, publish, "pubsub", "2.0.0", "Post a message to a channel", "channel message"),
    CommandSpec {
        subcommands: PUBSUB_SUBCOMMANDS,
        ..cmd!("pubsub", -2, 0, NONE, pubsub_help, "pubsub", "2.8.0", "A container for Pub/Sub commands", "")
    },
];

#[rustfmt::skip]
static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("channels", -2, PUBSUB | LOADING | STALE, NONE, pubsub_channels, "pubsub", "2.8.0", "List active channels", "[pattern]"),
    cmd!("numsub", -2, PUBSUB | LOADING | STALE, NONE, pubsub_numsub, "pubsub", "2.8.0", "Get the count of subscribers for channels", "[channel...]"),
    cmd!("numpat", 2, PUBSUB | LOADING | STALE, NONE, pubsub_numpat, "pubsub", "2.8.0", "Get the count of unique patterns pattern subscriptions", ""),
    cmd!("help", 2, LOADING | STALE, NONE, pubsub_help, "pubsub", "6.2.0", "Show helpful text about the different subcommands", ""),
];

/// The commands a RESP2 client may send while it is subscribed.
pub fn allowed_when_subscribed(spec: &CommandSpec) -> bool {
    matches!(spec.name, "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ping" | "quit" | "reset")
}

fn list(client: &mut Client, kind: Kind) -> &mut Vec<Box<[u8]>> {
    match kind {
        Kind::Channel => &mut client.channels,
        Kind::Pattern => &mut client.patterns,
    }
}

/// Publishes the client's subscription counts for CLIENT LIST.
fn update_counts(client: &Client) {
    client.meta.sub.store(client.channels.len(), Relaxed);
    client.meta.psub.store(client.patterns.len(), Relaxed);
}

/// One `[kind, name, count]` confirmation, as Redis sends per name.
fn confirm(ctx: &mut Ctx, word: &str, name: Option<&[u8]>) {
    ctx.out.array(3);
    ctx.out.bulk(word.as_bytes());
    ctx.out.bulk_opt(name);
    ctx.out.int(ctx.client.subscriptions() as i64);
}

fn subscribe_to(ctx: &mut Ctx, kind: Kind, word: &str) -> CmdResult {
    let who = Subscriber { client_id: ctx.client.id, thread: ctx.client.meta.thread };
    for name in ctx.args.tail(1).iter() {
        if !list(ctx.client, kind).iter().any(|n| **n == *name) {
            list(ctx.client, kind).push(name.into());
            ctx.server.pubsub.subscribe(kind, name, who);
        }
        confirm(ctx, word, Some(name));
    }
    update_counts(ctx.client);
    Ok(())
}

fn unsubscribe_from(ctx: &mut Ctx, kind: Kind, word: &str) -> CmdResult {
    let names: Vec<Box<[u8]>> = if ctx.argc() == 1 {
        list(ctx.client, kind).clone()
    } else {
        ctx.args.tail(1).iter().map(Into::into).collect()
    };
    if names.is_empty() {
        confirm(ctx, word, None);
    }
    for name in &names {
        let subscribed = list(ctx.client, kind);
        if let Some(at) = subscribed.iter().position(|n| n == name) {
            subscribed.remove(at);
            ctx.server.pubsub.unsubscribe(kind, name, ctx.client.id);
        }
        confirm(ctx, word, Some(name));
    }
    update_counts(ctx.client);
    Ok(())
}

/// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_to(ctx, Kind::Channel, "subscribe")
}

/// UNSUBSCRIBE [channel [channel ...]]
fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_from(ctx, Kind::Channel, "unsubscribe")
}

/// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    subscribe_to(ctx, Kind::Pattern, "psubscribe")
}

/// PUNSUBSCRIBE [pattern [pattern ...]]
fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    unsubscribe_from(ctx, Kind::Pattern, "punsubscribe")
}

/// Drops every subscription of a client (closing, or RESET).
pub fn forget(shared: &Shared, client: &mut Client) {
    for (kind, names) in [(Kind::Channel, &mut client.channels), (Kind::Pattern, &mut client.patterns)] {
        for name in names.drain(..) {
            shared.pubsub.unsubscribe(kind, &name, client.id);
        }
    }
    update_counts(client);
}

/// PUBLISH channel message
fn publish(ctx: &mut Ctx) -> CmdResult {
    let receivers = ctx.server.pubsub.publish(&ctx.server.mailboxes, ctx.arg(1), ctx.arg(2));
    ctx.out.int(receivers as i64);
    Ok(())
}

/// PUBSUB CHANNELS [pattern]
fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    let pattern = match ctx.argc() {
        2 => None,
        3 => Some(ctx.arg(2)),
        _ => return Err(Error::UnknownSubcommandOrArity { sub: ctx.arg(1).to_vec(), command: "PUBSUB" }),
    };
    let channels = ctx.server.pubsub.channels(pattern);
    ctx.out.array(channels.len());
    for c in &channels {
        ctx.out.bulk(c);
    }
    Ok(())
}

/// PUBSUB NUMSUB [channel ...]
fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    let channels = ctx.args.tail(2);
    ctx.out.array(channels.len() * 2);
    for c in channels.iter() {
        ctx.out.bulk(c);
        ctx.out.int(ctx.server.pubsub.subscribers(c) as i64);
    }
    Ok(())
}

/// PUBSUB NUMPAT
fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(ctx.server.pubsub.patterns() as i64);
    Ok(())
}

/// PUBSUB HELP
fn pubsub_help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "HELP",
        "    Prints this help.",
    ];
    help(ctx, LINES);
    Ok(())
}

/// PING inside subscribed mode: a `pong` message, as RESP2 clients in
/// that mode expect.
pub fn subscribed_ping(ctx: &mut Ctx) {
    ctx.out.array(2);
    ctx.out.bulk(b"pong");
    ctx.out.bulk(if ctx.argc() == 2 { ctx.arg(1) } else { b"" });
}
