//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! Script bodies live in one server-wide cache keyed by their SHA-1, and
//! each thread's VM (lua_engine.rs) compiles a body the first time it runs
//! it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use mlua::Function;
use parking_lot::RwLock;

use super::args::{self, is};
use super::flags::*;
use super::lua_engine::{compile, execute, with_vm, Entry, Running, Vm};
use super::{keys::help, CmdResult, CommandSpec, Ctx, Error, KeySpec};
use crate::cmd;
use crate::resp::Args;

pub(super) const EVAL_KEYS: KeySpec = KeySpec { first: 0, last: 0, step: 0, keynum: 2, movable: true };

#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec { keys: EVAL_KEYS, ..cmd!("eval", -3, NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS, NONE, eval, "scripting", "2.6.0", "Execute a Lua script server side", "script numkeys [key...] [arg...]") },
    CommandSpec { keys: EVAL_KEYS, ..cmd!("evalsha", -3, NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS, NONE, evalsha, "scripting", "2.6.0", "Execute a Lua script server side", "sha1 numkeys [key...] [arg...]") },
    CommandSpec { keys: EVAL_KEYS, ..cmd!("eval_ro", -3, READONLY | NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS, NONE, eval_ro, "scripting", "7.0.0", "Execute a read-only Lua script server side", "script numkeys [key...] [arg...]") },
    CommandSpec { keys: EVAL_KEYS, ..cmd!("evalsha_ro", -3, READONLY | NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS, NONE, evalsha_ro, "scripting", "7.0.0", "Execute a read-only Lua script server side", "sha1 numkeys [key...] [arg...]") },
    CommandSpec {
        subcommands: SCRIPT_SUBCOMMANDS,
        ..cmd!("script", -2, 0, NONE, script_help, "scripting", "2.6.0", "A container for Lua scripts management commands", "")
    },
];

#[rustfmt::skip]
static SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    cmd!("load", 3, NOSCRIPT | STALE, NONE, script_load, "scripting", "2.6.0", "Load a Lua script into the scripts cache, without executing it", "script"),
    cmd!("exists", -3, NOSCRIPT, NONE, script_exists, "scripting", "2.6.0", "Check existence of scripts in the script cache", "sha1..."),
    cmd!("flush", -2, NOSCRIPT, NONE, script_flush, "scripting", "2.6.0", "Remove all the scripts from the script cache", "[ASYNC|SYNC]"),
    cmd!("kill", 2, NOSCRIPT | ALLOW_BUSY, NONE, script_kill, "scripting", "2.6.0", "Kill the script currently in execution", ""),
    cmd!("help", 2, LOADING | STALE, NONE, script_help, "scripting", "5.0.0", "Show helpful text about the different subcommands", ""),
];

/// The server-wide script cache: SHA-1 (lowercase hex) to body. FLUSH
/// bumps the generation, which tells every VM to drop what it compiled.
#[derive(Default)]
pub struct ScriptCache {
    bodies: RwLock<HashMap<String, Arc<[u8]>>>,
    pub(super) generation: AtomicU64,
    pub running: Arc<Running>,
}

impl ScriptCache {
    fn get(&self, sha: &str) -> Option<Arc<[u8]>> {
        self.bodies.read().get(sha).cloned()
    }

    /// Scripts cached (EVAL and SCRIPT LOAD), for INFO.
    pub fn len(&self) -> usize {
        self.bodies.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub(super) fn sha1_hex(bytes: &[u8]) -> String {
    sha1_smol::Sha1::from(bytes).digest().to_string()
}

/// How a script was named: by its body or by its SHA-1.
enum Source<'a> {
    Body(&'a [u8]),
    Sha(&'a [u8]),
}

/// EVAL script numkeys [key ...] [arg ...]
fn eval(ctx: &mut Ctx) -> CmdResult {
    run(ctx, Source::Body(ctx.arg(1)), false)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
fn evalsha(ctx: &mut Ctx) -> CmdResult {
    run(ctx, Source::Sha(ctx.arg(1)), false)
}

/// EVAL_RO script numkeys [key ...] [arg ...]
fn eval_ro(ctx: &mut Ctx) -> CmdResult {
    run(ctx, Source::Body(ctx.arg(1)), true)
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
fn evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    run(ctx, Source::Sha(ctx.arg(1)), true)
}

fn run(ctx: &mut Ctx, source: Source, read_only: bool) -> CmdResult {
    // As Redis: a SHA-1 of the wrong length is unknown before anything
    // else is checked.
    if matches!(source, Source::Sha(sha) if sha.len() != 40) {
        return Err(Error::NoScript);
    }
    let (keys, argv) = keys_and_args(ctx)?;
    let mut hex = [0u8; 40];
    let (sha, body) = match source {
        Source::Body(body) => {
            hex.copy_from_slice(sha1_hex(body).as_bytes());
            (std::str::from_utf8(&hex).expect("hex digits"), Some(body))
        }
        Source::Sha(given) => {
            hex.copy_from_slice(given);
            hex.make_ascii_lowercase();
            // Not hex, so no script of ours has that name.
            (std::str::from_utf8(&hex).map_err(|_| Error::NoScript)?, None)
        }
    };
    let server = ctx.server;
    let run = |vm: &Vm, function| execute(ctx, vm, Entry::Script(function), keys, argv, sha, read_only);
    let reply = with_function(server, sha, body, run)?;
    ctx.out.buffer().extend_from_slice(&reply);
    Ok(())
}

/// The keys and the arguments of EVAL and FCALL: `numkeys` (argument 2)
/// keys from argument 3, then the rest.
pub(super) fn keys_and_args<'a>(ctx: &Ctx<'a, '_>) -> Result<(Args<'a>, Args<'a>), Error> {
    let numkeys = args::int(ctx.arg(2))?;
    if numkeys < 0 {
        return Err(Error::NegativeNumKeys);
    }
    if numkeys as usize > ctx.argc() - 3 {
        return Err(Error::TooManyNumKeys);
    }
    Ok((ctx.args.tail(3).head(numkeys as usize), ctx.args.tail(3 + numkeys as usize)))
}

/// Calls `f` with this thread's VM and the compiled script `sha`: compiled
/// now if this VM has not yet (from `body`, or else from the server-wide
/// cache), and cached server-wide once it compiles.
fn with_function<R>(
    server: &crate::server::Shared,
    sha: &str,
    body: Option<&[u8]>,
    f: impl FnOnce(&Vm, Function) -> Result<R, Error>,
) -> Result<R, Error> {
    let cache = &server.scripts;
    with_vm(server, |vm| {
        let function = match vm.compiled.get(sha) {
            Some(f) => f.clone(),
            None => {
                let cached;
                let body = match body {
                    Some(body) => body,
                    None => {
                        cached = cache.get(sha).ok_or(Error::NoScript)?;
                        &cached[..]
                    }
                };
                let f = compile(vm, body, "@user_script").map_err(|message| {
                    let mut text = b"ERR Error compiling script (new function): ".to_vec();
                    text.extend_from_slice(&message);
                    Error::Script(text)
                })?;
                cache.bodies.write().entry(sha.to_string()).or_insert_with(|| body.into());
                vm.compiled.insert(sha.to_string(), f.clone());
                f
            }
        };
        f(vm, function)
    })
}

/// SCRIPT LOAD script
fn script_load(ctx: &mut Ctx) -> CmdResult {
    let body = ctx.arg(2);
    let sha = sha1_hex(body);
    with_function(ctx.server, &sha, Some(body), |_, _| Ok(()))?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

/// SCRIPT EXISTS sha1 [sha1 ...]
fn script_exists(ctx: &mut Ctx) -> CmdResult {
    let shas = ctx.args.tail(2);
    ctx.out.array(shas.len());
    for sha in shas.iter() {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        ctx.out.int(ctx.server.scripts.get(&sha).is_some() as i64);
    }
    Ok(())
}

/// SCRIPT FLUSH [ASYNC | SYNC]
fn script_flush(ctx: &mut Ctx) -> CmdResult {
    match ctx.argc() {
        2 => {}
        3 if is(ctx.arg(2), "async") || is(ctx.arg(2), "sync") => {}
        _ => return Err(Error::ScriptFlushOption),
    }
    let cache = &ctx.server.scripts;
    cache.bodies.write().clear();
    cache.generation.fetch_add(1, Relaxed);
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL: stops a busy script that has not written, at its next
/// hook.
fn script_kill(ctx: &mut Ctx) -> CmdResult {
    kill(ctx, false)
}

/// SCRIPT KILL and FUNCTION KILL.
pub(super) fn kill(ctx: &mut Ctx, function: bool) -> CmdResult {
    ctx.server.scripts.running.kill(function)?;
    ctx.out.ok();
    Ok(())
}

/// SCRIPT HELP
fn script_help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    help(ctx, LINES);
    Ok(())
}
