//! The Lua engine under EVAL and FCALL: one Lua 5.1 VM (mlua) per
//! event-loop thread, made on first use; the sandbox; `redis.call` and
//! `redis.pcall`; the RESP2 and Lua conversions; and the instruction hook
//! that notices a long script (BUSY, SCRIPT KILL) or a library that loads
//! too long.
//!
//! A script or function runs holding every shard's lock, as a transaction
//! does, so it is atomic and may touch keys it did not declare;
//! `redis.call` runs commands through the same handlers with those locks,
//! and the reply bytes come back as Lua values by Redis's conversion rules.
//!
//! The sandbox is Redis 7.0's: globals are read-only (creating one is an
//! error), reading a missing global is an error, and `os`, `io`,
//! `loadfile` and `dofile` are gone.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};

use super::flags::*;
use super::scripting::sha1_hex;
use super::{blocking, dispatch, table, Ctx, Error};
use crate::resp::{Args, Reply};

/// The script that holds the shard locks, if any (only one can). Its VM's
/// instruction hook marks it busy once it has run past
/// busy-reply-threshold; from then on other threads answer BUSY instead of
/// waiting for the locks, and SCRIPT KILL may stop it if it wrote nothing.
#[derive(Default)]
pub struct Running {
    active: AtomicBool,
    /// The running code is a library function (FCALL), not a script.
    function: AtomicBool,
    busy: AtomicBool,
    kill: AtomicBool,
    wrote: AtomicBool,
    started_ms: AtomicU64,
    threshold_ms: AtomicU64,
    /// The script line the hook saw when it stopped a killed script.
    killed_at: AtomicU64,
    /// The running function's name and command, for FUNCTION STATS.
    pub(super) function_call: parking_lot::Mutex<Option<(String, Vec<Vec<u8>>)>>,
}

impl Running {
    pub fn is_busy(&self) -> bool {
        self.busy.load(Relaxed)
    }

    /// The running function's name, command and milliseconds so far, when
    /// it is busy.
    pub(super) fn busy_function(&self) -> Option<(String, Vec<Vec<u8>>, u64)> {
        if !self.is_busy() || !self.function.load(Relaxed) {
            return None;
        }
        let (name, command) = self.function_call.lock().clone()?;
        let elapsed = crate::server::unix_ms().saturating_sub(self.started_ms.load(Relaxed));
        Some((name, command, elapsed))
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL: stops a busy script
    /// of that kind that wrote nothing, at its next hook. The other kind's
    /// KILL gets the BUSY error that names the right one.
    pub(super) fn kill(&self, function: bool) -> Result<(), Error> {
        if !self.busy.load(Relaxed) {
            return Err(Error::NotBusy);
        }
        if self.function.load(Relaxed) != function {
            return Err(self.busy_error());
        }
        if self.wrote.load(Relaxed) {
            return Err(Error::Unkillable);
        }
        self.kill.store(true, Relaxed);
        Ok(())
    }

    /// The error for other clients while busy: it names the KILL that
    /// applies.
    pub fn busy_error(&self) -> Error {
        if self.function.load(Relaxed) {
            Error::BusyFunction
        } else {
            Error::Busy
        }
    }

    /// Shutting down: a running script ends at its next hook even if it
    /// wrote.
    pub fn stop_for_shutdown(&self) {
        if self.active.load(Relaxed) {
            self.kill.store(true, Relaxed);
        }
    }
}

/// Instructions between two looks at the clock and the kill flag.
const HOOK_EVERY: u32 = 100_000;
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// Defines `redis.*` (`call` and `pcall` are Rust functions, set after,
/// so a script's frame stays on the stack for error locations) and the
/// runner that turns any error into a `{err, source, line}`
/// table; then makes the globals read-only.
const PRELUDE: &str = r#"
local getinfo = debug.getinfo
local function frame(e)
  for level = 3, 12 do
    local i = getinfo(level, 'Sl')
    if i == nil then break end
    if i.source == '@user_script' or i.source == '@user_function' then
      e.source, e.line = i.source, i.currentline
      return e
    end
  end
  return e
end
-- redis.call and redis.pcall are set from Rust: C functions, so a script's `return redis.call(...)` keeps its frame on the
-- stack for error lines (a tail call to a Lua function would drop it).
redis = {}
function redis.error_reply(e) return {err = e} end
function redis.status_reply(s) return {ok = s} end
function redis.sha1hex(s) return __kv_sha1(s) end
function redis.log(level, msg) __kv_log(level, msg) end
function redis.setresp(v) if v ~= 2 and v ~= 3 then error('RESP version must be 2 or 3.', 2) end end
function redis.set_repl(v) end
function redis.replicate_commands() return true end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
local CALL_FAILED, error_text = __kv_call_failed, __kv_error_text
local function on_error(e)
  if type(e) == 'table' then
    if e.source == nil then frame(e) end
    return e
  end
  -- A failed redis.call: its error waits on the Rust side. Other Rust
  -- errors (the bit, cjson, cmsgpack and struct libraries) are messages.
  if type(e) == 'userdata' then
    local text = error_text(e)
    if text == CALL_FAILED then return {kv_call = true} end
    return frame({err = 'ERR ' .. text})
  end
  return frame({err = 'ERR ' .. tostring(e)})
end
local raw_pcall, raw_xpcall = pcall, xpcall
function __kv_run(f) return raw_xpcall(f, on_error) end
function __kv_call(f, keys, args) return raw_xpcall(function() return f(keys, args) end, on_error) end
-- pcall and xpcall hand scripts the libraries' errors as strings, as the
-- C libraries raise them in Redis.
local function as_text(e)
  if type(e) == 'userdata' then
    local text = error_text(e)
    if text ~= CALL_FAILED then return text end
  end
  return e
end
local function converted(ok, ...)
  if ok then return ok, ... end
  return ok, as_text((...))
end
function pcall(f, ...) return converted(raw_pcall(f, ...)) end
function xpcall(f, handler) return raw_xpcall(f, function(e) return handler(as_text(e)) end) end
-- FUNCTION LOAD: runs a library's chunk where `redis` is all it sees, and
-- `redis` has only register_function, log and the LOG_ levels. Returns
-- the registrations as {name, callback, flags, description} lists, or
-- nil and the error. Afterwards the chunk's environment reads the
-- ordinary globals, so the callbacks see the whole `redis` API.
local FLAGS = {['no-writes'] = 1, ['allow-oom'] = 2, ['allow-stale'] = 4, ['no-cluster'] = 8,
               ['allow-cross-slot-keys'] = 16}
local select, pairs, ipairs, type, tostring, pcall, setfenv, setmetatable, error =
  select, pairs, ipairs, type, tostring, pcall, setfenv, setmetatable, error
local log = __kv_log
local function missing(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
local function readonly() error('Attempt to modify a readonly table', 2) end
function __kv_load_library(chunk)
  local order, seen = {}, {}
  local api = {LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3}
  function api.log(level, msg) log(level, msg) end
  function api.register_function(...)
    local name, callback, flags, description
    local n = select('#', ...)
    if n == 1 then
      local t = ...
      if type(t) ~= 'table' then
        error('ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).', 0)
      end
      for k, v in pairs(t) do
        if k == 'function_name' then name = v
        elseif k == 'callback' then callback = v
        elseif k == 'flags' then flags = v
        elseif k == 'description' then description = v
        else error('ERR unknown argument given to redis.register_function', 0) end
      end
      if name == nil then error('ERR redis.register_function must get a function name argument', 0) end
      if callback == nil then error('ERR redis.register_function must get a callback argument', 0) end
    elseif n == 2 then
      name, callback = ...
      if type(name) ~= 'string' and type(name) ~= 'number' then
        error('ERR first argument to redis.register_function must be a string', 0)
      end
      if type(callback) ~= 'function' then
        error('ERR second argument to redis.register_function must be a function', 0)
      end
    else
      error('ERR wrong number of arguments to redis.register_function', 0)
    end
    if type(name) == 'number' then name = tostring(name) end
    if type(name) ~= 'string' then error('ERR function_name argument given to redis.register_function must be a string', 0) end
    if type(callback) ~= 'function' then
      error('ERR callback argument given to redis.register_function must be a function', 0)
    end
    if not name:match('^[%w_]+$') then
      error('ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long', 0)
    end
    local mask = 0
    if flags ~= nil then
      if type(flags) ~= 'table' then
        error('ERR flags argument to redis.register_function must be a table representing function flags', 0)
      end
      for _, f in ipairs(flags) do
        local bit = FLAGS[f]
        if bit == nil then error('ERR unknown flag given', 0) end
        if mask % (bit * 2) < bit then mask = mask + bit end
      end
    end
    if type(description) == 'number' then description = tostring(description) end
    if description ~= nil and type(description) ~= 'string' then
      error('ERR description argument given to redis.register_function must be a string', 0)
    end
    if seen[name] then error('ERR Function already exists in the library', 0) end
    seen[name] = true
    order[#order + 1] = {name, callback, mask, description}
  end
  setmetatable(api, {__index = missing, __newindex = readonly})
  local env = setmetatable({}, {
    __index = function(_, name)
      if name == 'redis' then return api end
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end,
    __newindex = readonly,
  })
  setfenv(chunk, env)
  local ok, err = pcall(chunk)
  setmetatable(env, {__index = _G, __newindex = readonly})
  if not ok then return nil, err end
  return order
end
local allowed = {loadstring = true}
setmetatable(_G, {
  __index = function(_, name)
    if allowed[name] then return nil end
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
})
"#;

pub(super) struct Vm {
    pub(super) lua: Lua,
    /// `__kv_run`, `__kv_call`, `__kv_load_library` and the globals,
    /// looked up once.
    runner: Function,
    caller: Function,
    pub(super) library_loader: Function,
    globals: Table,
    /// Lua's `loadstring`, kept from before the sandbox removed it: its
    /// compile errors come back as the raw bytes Redis shows.
    pub(super) loader: Function,
    pub(super) compiled: HashMap<String, Function>,
    generation: u64,
    /// Library functions by name, loaded at `functions_generation`.
    pub(super) functions: HashMap<String, Function>,
    pub(super) functions_generation: Option<u64>,
}

thread_local! {
    static VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
    /// When the library this thread is loading must be done (unix ms), or
    /// 0 when it loads none.
    static LOAD_DEADLINE: Cell<u64> = const { Cell::new(0) };
}

/// How long FUNCTION LOAD lets a library's code run, as Redis does.
const LOAD_TIMEOUT_MS: u64 = 500;

/// Runs `f` (a library load) under FUNCTION LOAD's time limit.
pub(super) fn with_load_deadline<R>(f: impl FnOnce() -> R) -> R {
    LOAD_DEADLINE.with(|d| d.set(crate::server::unix_ms() + LOAD_TIMEOUT_MS));
    let result = f();
    LOAD_DEADLINE.with(|d| d.set(0));
    result
}

impl Vm {
    fn new(running: Arc<Running>) -> mlua::Result<Vm> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: mlua calls the debug library unsafe because a script can
        // break the VM's invariants with it; Redis loads it for scripts,
        // and the prelude needs `debug.getinfo` for error locations. Each
        // VM belongs to one thread and never outlives it.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let globals = lua.globals();
        let loader: Function = globals.raw_get("loadstring")?;
        for name in ["dofile", "loadfile", "loadstring", "print"] {
            globals.raw_set(name, Value::Nil)?;
        }
        globals.raw_set("__kv_sha1", lua.create_function(|_, s: mlua::String| Ok(sha1_hex(&s.as_bytes())))?)?;
        globals.raw_set(
            "__kv_log",
            lua.create_function(|_, (level, msg): (i64, mlua::String)| {
                let text = String::from_utf8_lossy(&msg.as_bytes()).into_owned();
                match level {
                    0 => log::debug!("{text}"),
                    1 | 2 => log::info!("{text}"),
                    _ => log::warn!("{text}"),
                }
                Ok(())
            })?,
        )?;
        super::lua_libs::install(&lua)?;
        globals.raw_set("__kv_call_failed", CALL_FAILED)?;
        globals.raw_set("__kv_error_text", lua.create_function(|_, e: Value| Ok(error_text(&e)))?)?;
        lua.load(PRELUDE).set_name("=prelude").exec()?;
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, debug| {
            // A library loading here (which takes no locks, so a script
            // may run on another thread meanwhile) has half a second.
            let deadline = LOAD_DEADLINE.with(Cell::get);
            if deadline != 0 {
                if crate::server::unix_ms() > deadline {
                    return Err(mlua::Error::runtime("FUNCTION LOAD timeout"));
                }
                return Ok(VmState::Continue);
            }
            if !running.active.load(Relaxed) {
                return Ok(VmState::Continue);
            }
            if running.kill.load(Relaxed) {
                running.killed_at.store(debug.curr_line().max(0) as u64, Relaxed);
                return Err(mlua::Error::runtime(KILLED));
            }
            let elapsed = crate::server::unix_ms().saturating_sub(running.started_ms.load(Relaxed));
            if elapsed >= running.threshold_ms.load(Relaxed) {
                if !running.busy.swap(true, Relaxed) {
                    log::warn!("a script has run for {elapsed} ms; other clients get BUSY until it ends or is killed");
                }
                crate::net::event_loop::serve_while_busy();
            }
            Ok(VmState::Continue)
        });
        let (runner, redis): (Function, Table) = (globals.raw_get("__kv_run")?, globals.raw_get("redis")?);
        redis.raw_set("call", lua.create_function(redis_call)?)?;
        redis.raw_set("pcall", lua.create_function(redis_pcall)?)?;
        let (caller, library_loader) = (globals.raw_get("__kv_call")?, globals.raw_get("__kv_load_library")?);
        Ok(Vm {
            runner,
            caller,
            library_loader,
            globals,
            lua,
            loader,
            compiled: HashMap::new(),
            generation: 0,
            functions: HashMap::new(),
            functions_generation: None,
        })
    }
}

/// What `redis.call` needs while a script runs: the caller's context and
/// whether the script is read-only. A failed `redis.call` leaves its error
/// here, with where the script made the call.
struct CallState<'c, 'a, 'k> {
    ctx: &'c mut Ctx<'a, 'k>,
    read_only: bool,
    failed: Option<(Vec<u8>, String, i64)>,
}

thread_local! {
    /// The running script's `CallState` (type-erased); null between runs.
    static CURRENT: Cell<*mut ()> = const { Cell::new(std::ptr::null_mut()) };
}

/// Publishes a `CallState` to `redis.call` for as long as it lives.
struct CurrentCall;

impl CurrentCall {
    fn set(state: &mut CallState) -> CurrentCall {
        CURRENT.with(|c| c.set(state as *mut CallState as *mut ()));
        CurrentCall
    }
}

impl Drop for CurrentCall {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(std::ptr::null_mut()));
    }
}

/// Runs `f` on the running script's `CallState`; outside a run (a library
/// being loaded, say) there is none and Redis's commands are out of reach.
fn with_current<R>(f: impl FnOnce(&mut CallState) -> mlua::Result<R>) -> mlua::Result<R> {
    // Taken, not borrowed: a nested call (which no command makes) would
    // find nothing rather than a second `&mut`.
    let ptr = CURRENT.with(|c| c.replace(std::ptr::null_mut()));
    if ptr.is_null() {
        return Err(mlua::Error::runtime("redis.call is only available while a script runs"));
    }
    // SAFETY: `ptr` was set by `CurrentCall::set` from a `&mut CallState`
    // that outlives the `CurrentCall` guard, and the guard is dropped
    // before the state is used again; Lua calls this on the same thread,
    // inside that window, and the pointer is taken out above so no second
    // reference to the state exists while `f` runs.
    let state = unsafe { &mut *(ptr as *mut CallState) };
    let result = f(state);
    CURRENT.with(|c| c.set(ptr));
    result
}

/// The message of an error a Rust function raised (Lua sees it as
/// userdata): the innermost runtime error's text, without mlua's
/// decoration.
pub(super) fn error_text(e: &Value) -> String {
    let Value::Error(e) = e else {
        return String::new();
    };
    let mut e: &mlua::Error = e;
    while let mlua::Error::CallbackError { cause, .. } = e {
        e = cause;
    }
    match e {
        mlua::Error::RuntimeError(text) => text.clone(),
        other => other.to_string(),
    }
}

/// What a failed `redis.call` raises; the runner then takes the command's
/// error from the call state.
const CALL_FAILED: &str = "redis.call failed";

/// `redis.call`: a command's error is raised, and kept (with the script
/// line that called) for the reply.
fn redis_call(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    with_current(|state| {
        let reply = call_from_script(state.ctx, lua, args, state.read_only)?;
        let Value::Table(t) = &reply else { return Ok(reply) };
        let Ok(Value::String(e)) = t.raw_get::<Value>("err") else { return Ok(reply) };
        let (source, line) = lua.inspect_stack(1).map_or((String::new(), 0), |d| {
            (d.source().source.map(|s| s.into_owned()).unwrap_or_default(), d.curr_line() as i64)
        });
        state.failed = Some((e.as_bytes().to_vec(), source, line));
        Err(mlua::Error::runtime(CALL_FAILED))
    })
}

/// `redis.pcall`: a command's error comes back as an `{err = ...}` table.
fn redis_pcall(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    with_current(|state| call_from_script(state.ctx, lua, args, state.read_only))
}

/// Calls `f` with this thread's VM, made now if it has none or its
/// scripts were flushed.
pub(super) fn with_vm<R>(
    server: &crate::server::Shared,
    f: impl FnOnce(&mut Vm) -> Result<R, Error>,
) -> Result<R, Error> {
    let cache = &server.scripts;
    let generation = cache.generation.load(Relaxed);
    VM.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|vm| vm.generation != generation) {
            let mut vm =
                Vm::new(cache.running.clone()).map_err(|e| Error::Script(format!("ERR Lua: {e}").into_bytes()))?;
            vm.generation = generation;
            *slot = Some(vm);
        }
        f(slot.as_mut().expect("made above"))
    })
}

/// Compiles code as the chunk `name`; a compile error's message bytes
/// as Lua gives them.
pub(super) fn compile(vm: &Vm, code: &[u8], name: &str) -> Result<Function, Vec<u8>> {
    let lua_err = |e: mlua::Error| format!("Lua: {e}").into_bytes();
    let code = vm.lua.create_string(code).map_err(lua_err)?;
    let (f, message): (Value, Value) = vm.loader.call((code, name)).map_err(lua_err)?;
    match (f, message) {
        (Value::Function(f), _) => Ok(f),
        (_, Value::String(m)) => Err(m.as_bytes().to_vec()),
        _ => Err(Vec::new()),
    }
}

/// What runs: a script body (KEYS and ARGV are globals) or a library's
/// function (called with the keys and arguments).
pub(super) enum Entry {
    Script(Function),
    Callback(Function),
}

/// Runs a script or function with every shard locked; the reply as bytes.
/// `name` (the SHA-1 or the function's name) goes in error replies.
pub(super) fn execute(
    ctx: &mut Ctx,
    vm: &Vm,
    entry: Entry,
    keys: Args,
    argv: Args,
    name: &str,
    read_only: bool,
) -> Result<Vec<u8>, Error> {
    let lua_err = |e: mlua::Error| Error::Script(format!("ERR {e}").into_bytes());
    let (lua, globals) = (&vm.lua, &vm.globals);
    let list = |args: Args| -> mlua::Result<Table> {
        let t = lua.create_table_with_capacity(args.len(), 0)?;
        for (i, a) in args.iter().enumerate() {
            t.raw_set(i + 1, lua.create_string(a)?)?;
        }
        Ok(t)
    };
    let (keys, argv) = (list(keys).map_err(lua_err)?, list(argv).map_err(lua_err)?);
    let is_function = matches!(entry, Entry::Callback(_));
    if !is_function {
        globals.raw_set("KEYS", keys.clone()).map_err(lua_err)?;
        globals.raw_set("ARGV", argv.clone()).map_err(lua_err)?;
    }
    ctx.keys.lock_all();
    let db = ctx.client.db;
    ctx.client.in_exec = true;
    let running = ctx.server.scripts.running.clone();
    running.threshold_ms.store(ctx.server.hot.busy_reply_ms.load(Relaxed), Relaxed);
    running.started_ms.store(ctx.now_ms(), Relaxed);
    running.wrote.store(false, Relaxed);
    running.kill.store(false, Relaxed);
    running.function.store(is_function, Relaxed);
    running.active.store(true, Relaxed);
    let mut state = CallState { ctx, read_only, failed: None };
    let outcome = (|| -> mlua::Result<Vec<u8>> {
        let result: MultiValue = {
            let _current = CurrentCall::set(&mut state);
            match entry {
                Entry::Script(f) => vm.runner.call(f)?,
                Entry::Callback(f) => vm.caller.call((f, keys, argv))?,
            }
        };
        let mut values = result.into_iter();
        let ok = matches!(values.next(), Some(Value::Boolean(true)));
        let mut out = Vec::with_capacity(64);
        let value = values.next().unwrap_or(Value::Nil);
        if ok {
            to_resp(&value, &mut Reply::new(&mut out), 0);
        } else if running.kill.load(Relaxed) {
            let line = running.killed_at.load(Relaxed);
            let source = if is_function { "@user_function" } else { "@user_script" };
            let text = format!("{KILLED} script: {name}, on {source}:{line}.");
            Reply::new(&mut out).error(&text);
        } else if let (Value::Table(t), Some((e, source, line))) = (&value, state.failed.take()) {
            if t.raw_get::<Option<bool>>("kv_call").ok().flatten() == Some(true) {
                let mut text = e;
                text.extend_from_slice(format!(" script: {name}, on {source}:{line}.").as_bytes());
                Reply::new(&mut out).error_bytes(&text);
            } else {
                script_error(&value, name, &mut out);
            }
        } else {
            script_error(&value, name, &mut out);
        }
        Ok(out)
    })();
    let ctx = state.ctx;
    running.active.store(false, Relaxed);
    running.busy.store(false, Relaxed);
    running.kill.store(false, Relaxed);
    ctx.client.in_exec = false;
    ctx.client.select(db);
    ctx.keys.select(db);
    // Pushes inside the script wake blocked clients once it is done.
    let deferred = blocking::serve_ready(ctx.keys, ctx.server);
    debug_assert!(deferred.is_empty(), "every shard is locked");
    outcome.map_err(lua_err)
}

/// The reply of a script that failed: its error, where it happened.
fn script_error(value: &Value, sha: &str, out: &mut Vec<u8>) {
    let mut text = Vec::new();
    let (mut source, mut line) = (None, None);
    if let Value::Table(t) = value {
        if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
            text.extend_from_slice(&e.as_bytes());
        }
        if let Ok(Value::String(s)) = t.raw_get::<Value>("source") {
            source = Some(s.to_string_lossy());
        }
        line = t.raw_get::<Option<i64>>("line").ok().flatten();
    }
    if text.is_empty() {
        text.extend_from_slice(b"ERR unknown error");
    }
    text.extend_from_slice(format!(" script: {sha}").as_bytes());
    if let (Some(source), Some(line)) = (source, line) {
        text.extend_from_slice(format!(", on {source}:{line}.").as_bytes());
    }
    Reply::new(out).error_bytes(&text);
}

const ARGS_MUST_BE_STRINGS: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// `redis.call` / `redis.pcall`: runs one command; errors come back as
/// `{err = ...}` tables (redis.call raises them).
fn call_from_script(ctx: &mut Ctx, lua: &Lua, args: MultiValue, read_only: bool) -> mlua::Result<Value> {
    let err = |text: &str| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set("err", text)?;
        Ok(Value::Table(t))
    };
    let mut data = Vec::with_capacity(128);
    let mut spans = Vec::with_capacity(args.len());
    for a in args.iter() {
        let start = data.len();
        match a {
            Value::String(s) => data.extend_from_slice(&s.as_bytes()),
            // Lua's own number formatting (%.14g), as Redis converts.
            Value::Integer(_) | Value::Number(_) => match lua.coerce_string(a.clone())? {
                Some(s) => data.extend_from_slice(&s.as_bytes()),
                None => return err(ARGS_MUST_BE_STRINGS),
            },
            _ => return err(ARGS_MUST_BE_STRINGS),
        }
        spans.push(start..data.len());
    }
    let args = Args::from_parts(&data, &spans);
    let Some((mut idx, mut spec)) = table::lookup(args.get(0)) else {
        return err("ERR Unknown Redis command called from script");
    };
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        match table::lookup_sub(idx, args.get(1)) {
            Some(found) => (idx, spec) = found,
            None => return err("ERR Unknown Redis command called from script"),
        }
    }
    if !spec.arity_ok(args.len()) {
        return err("ERR Wrong number of args calling Redis command from script");
    }
    if spec.has(NOSCRIPT) {
        return err("ERR This Redis command is not allowed from script");
    }
    if read_only && spec.has(WRITE) {
        return err("ERR Write commands are not allowed from read-only scripts.");
    }
    if spec.has(DENYOOM) && ctx.client.oom_at_start {
        return err(super::error::OOM);
    }
    if spec.has(WRITE) && crate::repl::upstream::refuses_writes(ctx.server, ctx.client) {
        return err(super::error::READ_ONLY_REPLICA);
    }
    if spec.has(WRITE) && !ctx.server.repl.enough_good_replicas(ctx.server) {
        return err(super::error::NO_REPLICAS);
    }
    if spec.has(WRITE) {
        ctx.server.scripts.running.wrote.store(true, Relaxed);
    }
    let mut out = Vec::with_capacity(128);
    dispatch::run_in_script(args, idx, spec, ctx, &mut out);
    let (value, _) = from_resp(lua, &out)?;
    Ok(value)
}

/// A reply (one RESP2 value our handlers wrote) as a Lua value, by
/// Redis's rules: integers to numbers, bulk strings to strings, nulls to
/// false, status and error replies to `{ok=...}` and `{err=...}` tables,
/// arrays to tables. Returns the value and the bytes it took.
fn from_resp(lua: &Lua, buf: &[u8]) -> mlua::Result<(Value, usize)> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n").ok_or_else(|| mlua::Error::runtime("bad reply"))?;
    let head = &buf[1..line_end];
    let next = line_end + 2;
    let number = || String::from_utf8_lossy(head).parse::<i64>().map_err(|_| mlua::Error::runtime("bad reply"));
    Ok(match buf[0] {
        b':' => (Value::Integer(number()?), next),
        b'+' | b'-' => {
            let t = lua.create_table()?;
            t.raw_set(if buf[0] == b'+' { "ok" } else { "err" }, lua.create_string(head)?)?;
            (Value::Table(t), next)
        }
        b'$' => match number()? {
            n if n < 0 => (Value::Boolean(false), next),
            n => (Value::String(lua.create_string(&buf[next..next + n as usize])?), next + n as usize + 2),
        },
        b'*' => match number()? {
            n if n < 0 => (Value::Boolean(false), next),
            n => {
                let t = lua.create_table_with_capacity(n as usize, 0)?;
                let mut at = next;
                for i in 1..=n {
                    let (v, used) = from_resp(lua, &buf[at..])?;
                    t.raw_set(i, v)?;
                    at += used;
                }
                (Value::Table(t), at)
            }
        },
        _ => return Err(mlua::Error::runtime("bad reply")),
    })
}

/// A script's result as a reply, by Redis's rules: numbers truncated to
/// integers, true as 1, false and nil as a null, `{ok=}` and `{err=}` as
/// status and error replies, other tables as arrays up to the first nil.
fn to_resp(value: &Value, out: &mut Reply, depth: usize) {
    match value {
        Value::Integer(i) => out.int(*i),
        Value::Number(f) => out.int(f.trunc() as i64),
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(true) => out.int(1),
        Value::Table(t) if depth < 1000 => {
            if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                out.error_bytes(&e.as_bytes());
            } else if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
                out.simple(&s.to_string_lossy());
            } else {
                let items: Vec<Value> =
                    (1..).map_while(|i| t.raw_get::<Value>(i).ok().filter(|v| !v.is_nil())).collect();
                out.array(items.len());
                for v in &items {
                    to_resp(v, out, depth + 1);
                }
            }
        }
        _ => out.null(),
    }
}
