//! Redis 7 functions: FUNCTION LOAD/DELETE/FLUSH/LIST/STATS/KILL and
//! FCALL/FCALL_RO, on the scripting engine.
//!
//! Libraries live in one server-wide registry (name, code, and what each
//! registered); a change bumps its generation. Each thread's VM loads every
//! library again when it sees a newer generation, so a function runs on
//! whichever thread its caller is on, as a script does.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use mlua::{Function, Table, Value};
use parking_lot::RwLock;

use super::args::is;
use super::flags::*;
use super::keys::help;
use super::lua_engine::{self, Entry, Vm};
use super::scripting::{self, EVAL_KEYS};
use super::{CmdResult, CommandSpec, Ctx, Error};
use crate::cmd;

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { keys: EVAL_KEYS, ..cmd!("fcall", -3, NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE, NONE, fcall, "scripting", "7.0.0", "Invoke a function", "function numkeys [key...] [arg...]") },
    CommandSpec { keys: EVAL_KEYS, ..cmd!("fcall_ro", -3, NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY, NONE, fcall_ro, "scripting", "7.0.0", "Invoke a read-only function", "function numkeys [key...] [arg...]") },
    CommandSpec {
        subcommands: FUNCTION_SUBCOMMANDS,
        ..cmd!("function", -2, 0, NONE, function_help, "scripting", "7.0.0", "A container for function commands", "")
    },
];

#[rustfmt::skip]
static FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("load", -3, WRITE | DENYOOM | NOSCRIPT, NONE, function_load, "scripting", "7.0.0", "Create a function with the given arguments (name, code, description)", "[REPLACE] function-code"),
    cmd!("delete", 3, WRITE | NOSCRIPT, NONE, function_delete, "scripting", "7.0.0", "Delete a function by name", "library-name"),
    cmd!("flush", -2, WRITE | NOSCRIPT, NONE, function_flush, "scripting", "7.0.0", "Deleting all functions", "[ASYNC|SYNC]"),
    cmd!("list", -2, NOSCRIPT, NONE, function_list, "scripting", "7.0.0", "List information about all the functions", "[LIBRARYNAME library-name-pattern] [WITHCODE]"),
    cmd!("dump", 2, NOSCRIPT, NONE, function_dump, "scripting", "7.0.0", "Dump all functions into a serialized binary payload", ""),
    cmd!("restore", -3, WRITE | DENYOOM | NOSCRIPT, NONE, function_restore, "scripting", "7.0.0", "Restore all the functions on the given payload", "serialized-value [FLUSH|APPEND|REPLACE]"),
    cmd!("stats", 2, NOSCRIPT | ALLOW_BUSY, NONE, function_stats, "scripting", "7.0.0", "Return information about the function currently running (name, description, duration)", ""),
    cmd!("kill", 2, NOSCRIPT | ALLOW_BUSY, NONE, function_kill, "scripting", "7.0.0", "Kill the function currently in execution.", ""),
    cmd!("help", 2, LOADING | STALE, NONE, function_help, "scripting", "7.0.0", "Show helpful text about the different subcommands", ""),
];

/// Function flags, in the order FUNCTION LIST shows them (the loader in
/// scripting.rs gives the same bits).
const NO_WRITES: u32 = 1;
const FLAG_NAMES: &[(u32, &str)] =
    &[(1, "no-writes"), (2, "allow-oom"), (4, "allow-stale"), (8, "no-cluster"), (16, "allow-cross-slot-keys")];

/// One registered function, as FUNCTION LIST shows it.
#[derive(Clone)]
struct FunctionInfo {
    name: String,
    description: Option<Vec<u8>>,
    flags: u32,
}

#[derive(Clone)]
struct Library {
    code: Arc<[u8]>,
    functions: Vec<FunctionInfo>,
}

#[derive(Default, Clone)]
struct Registry {
    libraries: BTreeMap<String, Library>,
    /// Function name to (library name, flags).
    functions: HashMap<String, (String, u32)>,
}

/// The server's libraries.
#[derive(Default)]
pub struct Functions {
    registry: RwLock<Registry>,
    generation: AtomicU64,
}

impl Functions {
    /// Every library's code, in name order (what an RDB file stores).
    pub fn library_codes(&self) -> Vec<Vec<u8>> {
        self.registry.read().libraries.values().map(|l| l.code.to_vec()).collect()
    }

    /// (libraries, functions) loaded, for INFO.
    pub fn counts(&self) -> (usize, usize) {
        let registry = self.registry.read();
        (registry.libraries.len(), registry.functions.len())
    }

    /// Drops every library (before loading a file over them).
    pub fn clear(&self) {
        *self.registry.write() = Registry::default();
        self.generation.fetch_add(1, Relaxed);
    }
}

/// A library's code split from its `#!lua name=<name>` first line.
struct Parsed<'a> {
    name: String,
    /// The code with the first line blanked, so line numbers hold.
    body: Vec<u8>,
    code: &'a [u8],
}

fn parse_library(code: &[u8]) -> Result<Parsed<'_>, Error> {
    let Some(rest) = code.strip_prefix(b"#!") else {
        return Err(Error::LibraryMetadataMissing);
    };
    let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = String::from_utf8_lossy(&rest[..line_end]);
    let mut words = line.trim_end_matches('\r').split(' ').filter(|w| !w.is_empty());
    let engine = words.next().unwrap_or("");
    let mut name = None;
    for word in words {
        let Some(value) = word.strip_prefix("name=") else {
            return Err(Error::LibraryMetadataInvalid(word.to_string()));
        };
        if name.replace(value).is_some() {
            return Err(Error::LibraryNameRepeated);
        }
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(Error::EngineNotFound(engine.to_string()));
    }
    let Some(name) = name else {
        return Err(Error::LibraryNameMissing);
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::LibraryNameInvalid);
    }
    let mut body = vec![b'\n'];
    body.extend_from_slice(rest.get(line_end + 1..).unwrap_or_default());
    Ok(Parsed { name: name.to_string(), body, code })
}

/// Runs a library's code in `vm`: its functions, or Redis's error.
fn load_into(vm: &Vm, body: &[u8]) -> Result<Vec<(FunctionInfo, Function)>, Error> {
    let err = |text: &[u8], prefix: &str| {
        let mut out = format!("ERR {prefix}").into_bytes();
        out.extend_from_slice(text);
        Error::Script(out)
    };
    let chunk = lua_engine::compile(vm, body, "@user_function").map_err(|m| err(&m, "Error compiling function: "))?;
    let lua_err = |e: mlua::Error| err(e.to_string().as_bytes(), "Error registering functions: ");
    let (list, message): (Value, Value) =
        lua_engine::with_load_deadline(|| vm.library_loader.call(chunk)).map_err(lua_err)?;
    let Value::Table(list) = list else {
        let text = match message {
            Value::String(s) => {
                let bytes = s.as_bytes().to_vec();
                if bytes.starts_with(b"ERR ") {
                    bytes
                } else {
                    [b"ERR ".as_slice(), &bytes].concat()
                }
            }
            // An error raised from Rust (the load timeout).
            error @ Value::Error(_) => {
                let text = lua_engine::error_text(&error);
                if text.starts_with("ERR ") {
                    text.into_bytes()
                } else {
                    format!("ERR {text}").into_bytes()
                }
            }
            _ => b"ERR unknown error".to_vec(),
        };
        return Err(err(&text, "Error registering functions: "));
    };
    let mut out = Vec::new();
    for entry in list.sequence_values::<Table>() {
        let entry = entry.map_err(lua_err)?;
        let name: String = entry.raw_get(1).map_err(lua_err)?;
        let callback: Function = entry.raw_get(2).map_err(lua_err)?;
        let flags: u32 = entry.raw_get(3).map_err(lua_err)?;
        let description: Option<mlua::String> = entry.raw_get(4).map_err(lua_err)?;
        let description = description.map(|d| d.as_bytes().to_vec());
        out.push((FunctionInfo { name, description, flags }, callback));
    }
    if out.is_empty() {
        return Err(Error::NoFunctionsRegistered);
    }
    Ok(out)
}

/// Brings `vm`'s functions up to the registry's generation.
fn refresh(vm: &mut Vm, functions: &Functions) -> Result<(), Error> {
    let generation = functions.generation.load(Relaxed);
    if vm.functions_generation == Some(generation) {
        return Ok(());
    }
    vm.functions.clear();
    let registry = functions.registry.read();
    for library in registry.libraries.values() {
        let parsed = parse_library(&library.code)?;
        for (info, callback) in load_into(vm, &parsed.body)? {
            vm.functions.insert(info.name, callback);
        }
    }
    vm.functions_generation = Some(generation);
    Ok(())
}

/// FCALL function numkeys [key ...] [arg ...]
fn fcall(ctx: &mut Ctx) -> CmdResult {
    call(ctx, false)
}

/// FCALL_RO function numkeys [key ...] [arg ...]
fn fcall_ro(ctx: &mut Ctx) -> CmdResult {
    call(ctx, true)
}

fn call(ctx: &mut Ctx, ro_command: bool) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let flags = match ctx.server.functions.registry.read().functions.get(&name) {
        Some(&(_, flags)) => flags,
        None => return Err(Error::FunctionNotFound),
    };
    if crate::commands::args::int(ctx.arg(2)).is_err() {
        return Err(Error::BadNumberOfKeys);
    }
    let (keys, argv) = scripting::keys_and_args(ctx)?;
    let read_only = flags & NO_WRITES != 0;
    if ro_command && !read_only {
        return Err(Error::FunctionWriteInRo);
    }
    let server = ctx.server;
    let command = ctx.args.iter().map(<[u8]>::to_vec).collect();
    *server.scripts.running.function_call.lock() = Some((name.clone(), command));
    let reply = lua_engine::with_vm(server, |vm| {
        refresh(vm, &server.functions)?;
        // Deleted between the look above and this VM's reload.
        let callback = vm.functions.get(&name).cloned().ok_or(Error::FunctionNotFound)?;
        lua_engine::execute(ctx, vm, Entry::Callback(callback), keys, argv, &name, read_only)
    });
    *server.scripts.running.function_call.lock() = None;
    let reply = reply?;
    ctx.out.buffer().extend_from_slice(&reply);
    Ok(())
}

/// FUNCTION LOAD [REPLACE] function-code
fn function_load(ctx: &mut Ctx) -> CmdResult {
    let mut replace = false;
    for option in ctx.args.tail(2).head(ctx.argc() - 3).iter() {
        if !is(option, "replace") {
            return Err(Error::FunctionLoadOption(option.to_vec()));
        }
        replace = true;
    }
    let name = load_library(ctx.server, ctx.arg(ctx.argc() - 1), replace)?;
    ctx.propagate_verbatim();
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

/// Loads a library's code (FUNCTION LOAD, and libraries in an RDB file):
/// its name, or Redis's error.
pub fn load_library(server: &crate::server::Shared, code: &[u8], replace: bool) -> Result<String, Error> {
    let parsed = parse_library(code)?;
    let functions = &server.functions;
    if !replace && functions.registry.read().libraries.contains_key(&parsed.name) {
        return Err(Error::LibraryExists(parsed.name.clone()));
    }
    // Loaded here first: its errors, and what it registers.
    let loaded = lua_engine::with_vm(server, |vm| load_into(vm, &parsed.body))?;
    let mut registry = functions.registry.write();
    if !replace && registry.libraries.contains_key(&parsed.name) {
        return Err(Error::LibraryExists(parsed.name.clone()));
    }
    for (info, _) in &loaded {
        if let Some((owner, _)) = registry.functions.get(&info.name) {
            if *owner != parsed.name {
                return Err(Error::FunctionExists(info.name.clone()));
            }
        }
    }
    if let Some(old) = registry.libraries.remove(&parsed.name) {
        for f in &old.functions {
            registry.functions.remove(&f.name);
        }
    }
    let infos: Vec<FunctionInfo> = loaded.into_iter().map(|(info, _)| info).collect();
    for f in &infos {
        registry.functions.insert(f.name.clone(), (parsed.name.clone(), f.flags));
    }
    registry.libraries.insert(parsed.name.clone(), Library { code: parsed.code.into(), functions: infos });
    functions.generation.fetch_add(1, Relaxed);
    Ok(parsed.name)
}

/// FUNCTION DUMP: every library, as RDB function records with the DUMP
/// footer.
fn function_dump(ctx: &mut Ctx) -> CmdResult {
    let compress = ctx.server.config.read().get("rdbcompression") == "yes";
    let payload = crate::persist::rdb::dump_functions(&ctx.server.functions.library_codes(), compress);
    ctx.out.bulk(&payload);
    Ok(())
}

/// What FUNCTION RESTORE does with libraries already there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RestorePolicy {
    Flush,
    Append,
    Replace,
}

/// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]: all the
/// payload's libraries, or none.
fn function_restore(ctx: &mut Ctx) -> CmdResult {
    let policy = match ctx.argc() {
        3 => RestorePolicy::Append,
        4 if is(ctx.arg(3), "flush") => RestorePolicy::Flush,
        4 if is(ctx.arg(3), "append") => RestorePolicy::Append,
        4 if is(ctx.arg(3), "replace") => RestorePolicy::Replace,
        4 => return Err(Error::RestorePolicy),
        _ => return Err(Error::UnknownSubcommandOrArity { sub: ctx.arg(1).to_vec(), command: "FUNCTION" }),
    };
    let body = crate::persist::rdb::check_dump(ctx.arg(2)).ok_or(Error::DumpPayload)?;
    let codes = crate::persist::rdb::undump_functions(body).ok_or(Error::NotAFunction)?;
    let server = ctx.server;
    let mut loaded = Vec::with_capacity(codes.len());
    for code in &codes {
        let parsed = parse_library(code)?;
        let infos: Vec<FunctionInfo> =
            lua_engine::with_vm(server, |vm| load_into(vm, &parsed.body))?.into_iter().map(|(info, _)| info).collect();
        loaded.push((parsed.name, Library { code: code.as_slice().into(), functions: infos }));
    }
    let functions = &server.functions;
    let mut registry = functions.registry.write();
    let mut next = if policy == RestorePolicy::Flush { Registry::default() } else { registry.clone() };
    for (name, library) in loaded {
        if let Some(old) = next.libraries.get(&name) {
            if policy == RestorePolicy::Append {
                return Err(Error::RestoredLibraryExists(name));
            }
            for f in old.functions.clone() {
                next.functions.remove(&f.name);
            }
            next.libraries.remove(&name);
        }
        for f in &library.functions {
            if next.functions.contains_key(&f.name) {
                return Err(Error::FunctionExists(f.name.clone()));
            }
            next.functions.insert(f.name.clone(), (name.clone(), f.flags));
        }
        next.libraries.insert(name, library);
    }
    *registry = next;
    functions.generation.fetch_add(1, Relaxed);
    drop(registry);
    ctx.propagate_verbatim();
    ctx.out.ok();
    Ok(())
}

/// FUNCTION DELETE library-name
fn function_delete(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.arg(2)).into_owned();
    let functions = &ctx.server.functions;
    let mut registry = functions.registry.write();
    let Some(library) = registry.libraries.remove(&name) else {
        return Err(Error::LibraryNotFound);
    };
    for f in &library.functions {
        registry.functions.remove(&f.name);
    }
    functions.generation.fetch_add(1, Relaxed);
    drop(registry);
    ctx.propagate_verbatim();
    ctx.out.ok();
    Ok(())
}

/// FUNCTION FLUSH [ASYNC | SYNC]
fn function_flush(ctx: &mut Ctx) -> CmdResult {
    match ctx.argc() {
        2 => {}
        3 if is(ctx.arg(2), "async") || is(ctx.arg(2), "sync") => {}
        3 => return Err(Error::FunctionFlushOption),
        _ => return Err(Error::UnknownSubcommandOrArity { sub: ctx.arg(1).to_vec(), command: "FUNCTION" }),
    }
    ctx.server.functions.clear();
    ctx.propagate_verbatim();
    ctx.out.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
fn function_list(ctx: &mut Ctx) -> CmdResult {
    let (mut pattern, mut with_code) = (None, false);
    let mut at = 2;
    while at < ctx.argc() {
        let word = ctx.arg(at);
        if is(word, "withcode") && !with_code {
            with_code = true;
        } else if is(word, "libraryname") && pattern.is_none() {
            if at + 1 == ctx.argc() {
                return Err(Error::LibraryPatternMissing);
            }
            at += 1;
            pattern = Some(ctx.arg(at));
        } else {
            return Err(Error::FunctionListArgument(word.to_vec()));
        }
        at += 1;
    }
    let registry = ctx.server.functions.registry.read();
    let shown: Vec<(&String, &Library)> = registry
        .libraries
        .iter()
        .filter(|(name, _)| pattern.is_none_or(|p| crate::glob::matches(p, name.as_bytes(), false)))
        .collect();
    let out = &mut ctx.out;
    out.array(shown.len());
    for (name, library) in shown {
        out.array(if with_code { 8 } else { 6 });
        out.bulk(b"library_name");
        out.bulk(name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(library.functions.len());
        for f in &library.functions {
            out.array(6);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let flags: Vec<&str> =
                FLAG_NAMES.iter().filter(|(bit, _)| f.flags & bit != 0).map(|&(_, name)| name).collect();
            out.array(flags.len());
            for flag in flags {
                out.simple(flag);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&library.code);
        }
    }
    Ok(())
}

/// FUNCTION STATS: the function running past busy-reply-threshold, if
/// any, and the counts.
fn function_stats(ctx: &mut Ctx) -> CmdResult {
    let busy = ctx.server.scripts.running.busy_function();
    let registry = ctx.server.functions.registry.read();
    let out = &mut ctx.out;
    out.array(4);
    out.bulk(b"running_script");
    match busy {
        Some((name, command, ms)) => {
            out.array(6);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(command.len());
            for arg in &command {
                out.bulk(arg);
            }
            out.bulk(b"duration_ms");
            out.int(ms as i64);
        }
        None => out.null(),
    }
    out.bulk(b"engines");
    out.array(2);
    out.bulk(b"LUA");
    out.array(4);
    out.bulk(b"libraries_count");
    out.int(registry.libraries.len() as i64);
    out.bulk(b"functions_count");
    out.int(registry.functions.len() as i64);
    Ok(())
}

/// FUNCTION KILL: as SCRIPT KILL, for a busy function.
fn function_kill(ctx: &mut Ctx) -> CmdResult {
    scripting::kill(ctx, true)
}

/// FUNCTION HELP
fn function_help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    help(ctx, LINES);
    Ok(())
}
