//! COMMAND and its subcommands: the command table, as clients see it.

use super::flags::*;
use super::{table, CmdResult, CommandSpec, Ctx, Error};
use crate::cmd;
use crate::resp::Reply;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    subcommands: COMMAND_SUBCOMMANDS,
    ..cmd!("command", -1, LOADING | STALE, NONE, command, "server", "2.8.13", "Get array of Redis command details", "")
}];

const FLAGS: u32 = LOADING | STALE;

#[rustfmt::skip]
static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("count", 2, FLAGS, NONE, command_count, "server", "2.8.13", "Get total number of Redis commands", ""),
    cmd!("info", -2, FLAGS, NONE, command_info, "server", "2.8.13", "Get array of specific Redis command details, or all when no argument is given.", "[command-name...]"),
    cmd!("list", -2, FLAGS, NONE, command_list, "server", "7.0.0", "Get an array of Redis command names", "[FILTERBY (MODULE module-name|ACLCAT category|PATTERN pattern)]"),
    cmd!("docs", -2, FLAGS, NONE, command_docs, "server", "7.0.0", "Get array of specific Redis command documentation", "[command-name...]"),
    cmd!("getkeys", -4, FLAGS, NONE, command_getkeys, "server", "2.8.13", "Extract keys given a full Redis command", "command [arg...]"),
    cmd!("help", 2, LOADING | STALE, NONE, command_help, "server", "5.0.0", "Show helpful text about the different subcommands", ""),
];

/// Redis's ACL categories, in the order it lists them.
const CATEGORY_ORDER: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

/// ACL categories, derived from flags and group as Redis does.
fn categories(spec: &CommandSpec) -> Vec<&'static str> {
    let mut cats = Vec::new();
    let mut add = |c: &'static str, yes: bool| {
        if yes {
            cats.push(c);
        }
    };
    add("@write", spec.has(WRITE));
    add("@read", spec.has(READONLY));
    add("@admin", spec.has(ADMIN));
    add("@dangerous", spec.has(ADMIN));
    add("@pubsub", spec.has(PUBSUB));
    add("@fast", spec.has(FAST));
    add("@slow", !spec.has(FAST));
    add("@blocking", spec.has(BLOCKING));
    match spec.group {
        "string" => cats.push("@string"),
        "bitmap" => cats.push("@bitmap"),
        "hash" => cats.push("@hash"),
        "set" => cats.push("@set"),
        "list" => cats.push("@list"),
        "sorted-set" => cats.push("@sortedset"),
        // SORT reads and writes collections, and BY/GET reach any key.
        "generic" if spec.name == "sort" || spec.name == "sort_ro" => {
            cats.extend(["@set", "@sortedset", "@list", "@dangerous"])
        }
        "generic" => cats.push("@keyspace"),
        "connection" => cats.push("@connection"),
        "transactions" => cats.push("@transaction"),
        "scripting" => cats.push("@scripting"),
        _ => {}
    }
    cats.sort_by_key(|c| CATEGORY_ORDER.iter().position(|o| o == c));
    cats
}

/// One command's COMMAND INFO entry.
fn describe(out: &mut Reply, spec: &CommandSpec, full_name: &str) {
    out.array(10);
    out.bulk(full_name.as_bytes());
    out.int(spec.arity as i64);
    let mut flags: Vec<&str> = NAMES.iter().filter(|(f, _)| spec.has(*f)).map(|(_, n)| *n).collect();
    if spec.keys.keynum > 0 || spec.keys.movable {
        flags.push("movablekeys");
    }
    out.array(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.int(spec.keys.first as i64);
    out.int(spec.keys.last as i64);
    out.int(spec.keys.step as i64);
    let cats = categories(spec);
    out.array(cats.len());
    for c in cats {
        out.simple(c);
    }
    out.array(0);
    if spec.keys.first > 0 {
        out.array(1);
        out.array(6);
        out.bulk(b"flags");
        out.array(2);
        if spec.has(WRITE) {
            out.simple("RW");
            out.simple("update");
        } else {
            out.simple("RO");
            out.simple("access");
        }
        out.bulk(b"begin_search");
        out.array(4);
        out.bulk(b"type");
        out.bulk(b"index");
        out.bulk(b"spec");
        out.array(2);
        out.bulk(b"index");
        out.int(spec.keys.first as i64);
        out.bulk(b"find_keys");
        out.array(4);
        out.bulk(b"type");
        out.bulk(b"range");
        out.bulk(b"spec");
        out.array(6);
        out.bulk(b"lastkey");
        out.int(if spec.keys.last < 0 { spec.keys.last as i64 } else { (spec.keys.last - spec.keys.first) as i64 });
        out.bulk(b"keystep");
        out.int(spec.keys.step as i64);
        out.bulk(b"limit");
        out.int(0);
    } else {
        out.array(0);
    }
    out.array(spec.subcommands.len());
    for sub in spec.subcommands {
        describe(out, sub, &format!("{}|{}", full_name, sub.name));
    }
}

/// COMMAND
fn command(ctx: &mut Ctx) -> CmdResult {
    let all: Vec<&CommandSpec> = table::top_level().collect();
    ctx.out.array(all.len());
    for spec in all {
        describe(&mut ctx.out, spec, spec.name);
    }
    Ok(())
}

/// COMMAND COUNT
fn command_count(ctx: &mut Ctx) -> CmdResult {
    ctx.out.int(table::top_level().count() as i64);
    Ok(())
}

/// COMMAND INFO [command-name ...]
fn command_info(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() == 2 {
        return command(ctx);
    }
    ctx.out.array(ctx.argc() - 2);
    for name in ctx.args.tail(2).iter() {
        match find_any(name) {
            Some((idx, spec)) => describe(&mut ctx.out, spec, table::full_name(idx)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// A command or `container|sub` by name.
fn find_any(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    match name.iter().position(|&b| b == b'|') {
        Some(bar) => {
            let (parent, _) = table::lookup(&name[..bar])?;
            table::lookup_sub(parent, &name[bar + 1..])
        }
        None => table::lookup(name),
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
fn command_list(ctx: &mut Ctx) -> CmdResult {
    let filter = match ctx.argc() {
        2 => None,
        5 if super::args::is(ctx.arg(2), "filterby") => Some((ctx.arg(3), ctx.arg(4))),
        _ => return Err(Error::Syntax),
    };
    let names: Vec<&str> = table::all()
        .filter(|(_, e)| match filter {
            None => true,
            Some((kind, value)) if super::args::is(kind, "pattern") => {
                crate::glob::matches(value, e.full_name.as_bytes(), true)
            }
            Some((kind, value)) if super::args::is(kind, "aclcat") => {
                categories(e.spec).iter().any(|c| c.as_bytes()[1..].eq_ignore_ascii_case(value))
            }
            Some((kind, _)) if super::args::is(kind, "module") => false,
            Some(_) => false,
        })
        .map(|(_, e)| e.full_name.as_str())
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn doc(out: &mut Reply, spec: &CommandSpec, full_name: &str) {
    out.bulk(full_name.as_bytes());
    let args = super::docs::parse(spec.syntax);
    let fields = 3 + !args.is_empty() as usize + !spec.subcommands.is_empty() as usize;
    out.array(fields * 2);
    out.bulk(b"summary");
    out.bulk(spec.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(spec.since.as_bytes());
    out.bulk(b"group");
    out.bulk(spec.group.as_bytes());
    if !args.is_empty() {
        out.bulk(b"arguments");
        super::docs::write(out, &args);
    }
    if !spec.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.array(spec.subcommands.len() * 2);
        for sub in spec.subcommands {
            doc(out, sub, &format!("{full_name}|{}", sub.name));
        }
    }
}

/// COMMAND DOCS [command-name ...]
fn command_docs(ctx: &mut Ctx) -> CmdResult {
    let specs: Vec<(String, &CommandSpec)> = if ctx.argc() == 2 {
        table::top_level().map(|s| (s.name.to_string(), s)).collect()
    } else {
        ctx.args.tail(2).iter().filter_map(find_any).map(|(i, s)| (table::full_name(i).to_string(), s)).collect()
    };
    ctx.out.array(specs.len() * 2);
    for (name, spec) in specs {
        doc(&mut ctx.out, spec, &name);
    }
    Ok(())
}

/// COMMAND GETKEYS command [arg ...]
fn command_getkeys(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args.tail(2);
    let Some((mut idx, mut spec)) = table::lookup(args.get(0)) else {
        return Err(Error::InvalidCommandSpecified);
    };
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        if let Some(found) = table::lookup_sub(idx, args.get(1)) {
            (idx, spec) = found;
        }
    }
    let _ = idx;
    if spec.keys.first <= 0 && spec.keys.keynum <= 0 {
        return Err(Error::NoKeyArguments);
    }
    if !spec.arity_ok(args.len()) {
        return Err(Error::InvalidArgumentCount);
    }
    let mut positions: Vec<usize> = spec.keys.positions(&args).collect();
    if spec.keys.movable {
        positions.extend(super::sort::store_position(&args));
    }
    ctx.out.array(positions.len());
    for p in positions {
        ctx.out.bulk(args.get(p));
    }
    Ok(())
}

/// COMMAND HELP
fn command_help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ];
    super::keys::help(ctx, LINES);
    Ok(())
}
