//! LATENCY: what the latency monitor (`crate::latency`) logged.

use super::error::CmdResult;
use super::flags::*;
use super::{CommandSpec, Ctx};
use crate::cmd;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        subcommands: SUBCOMMANDS,
        ..cmd!("latency", -2, 0, NONE, help, "server", "2.8.13", "A container for latency diagnostics commands", "")
    },
];

const FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

#[rustfmt::skip]
static SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("latest", 2, FLAGS, NONE, latest, "server", "2.8.13", "Return the latest latency samples for all events.", ""),
    cmd!("history", 3, FLAGS, NONE, history, "server", "2.8.13", "Return timestamp-latency samples for an event.", "event"),
    cmd!("reset", -2, FLAGS, NONE, reset, "server", "2.8.13", "Reset latency data for one or more events.", "[event [event ...]]"),
    cmd!("help", 2, LOADING | STALE, NONE, help, "server", "2.8.13", "Show helpful text about the different subcommands.", ""),
];

/// LATENCY LATEST: [event, time, latest ms, max ms] for each event.
fn latest(ctx: &mut Ctx) -> CmdResult {
    let events = ctx.server.latency.latest();
    ctx.out.array(events.len());
    for (name, at, ms, max) in events {
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(at as i64);
        ctx.out.int(ms as i64);
        ctx.out.int(max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event: [time, ms] for each sample, oldest first.
fn history(ctx: &mut Ctx) -> CmdResult {
    let samples = ctx.server.latency.history(ctx.arg(2));
    ctx.out.array(samples.len());
    for (at, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(at as i64);
        ctx.out.int(ms as i64);
    }
    Ok(())
}

/// LATENCY RESET [event ...]: how many events were forgotten.
fn reset(ctx: &mut Ctx) -> CmdResult {
    let names: Vec<&[u8]> = (2..ctx.argc()).map(|i| ctx.arg(i)).collect();
    let n = ctx.server.latency.reset((!names.is_empty()).then_some(&names[..]));
    ctx.out.int(n as i64);
    Ok(())
}

/// LATENCY HELP
fn help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HELP",
        "    Prints this help.",
    ];
    super::keys::help(ctx, LINES);
    Ok(())
}
