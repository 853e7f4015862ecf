//! Configuration: one table of parameters read by start-up (redis.conf
//! files and `--name value` flags, parsed by our own code because a Redis
//! flag is a config directive with any number of values, `--save 3600 1 300
//! 100`) and by CONFIG GET/SET at run time. Values are kept in their
//! normalised CONFIG GET form; typed accessors read them.

use std::fmt;

/// How a parameter's value is checked and normalised.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    /// Bytes, with redis.conf's units (`kb`, `mb`, `gb`, `k`, `m`, `g`).
    Memory {
        min: u64,
    },
    Bool,
    Enum(&'static [&'static str]),
    Str,
    /// `save`: pairs of seconds and changes, or empty.
    Save,
    /// `client-output-buffer-limit`: class hard soft seconds, repeated.
    OutputLimits,
    /// `bind`: one or more addresses.
    Addresses,
    /// `dir`: an existing directory, kept as an absolute path.
    Dir,
    /// `notify-keyspace-events`: class letters, shown in Redis's order.
    NotifyEvents,
}

/// What we do with a setting this build cannot honour yet.
#[derive(Debug, Clone, Copy)]
enum Support {
    Full,
    /// Only these values are accepted; others need a later feature.
    Only(&'static [&'static str], &'static str),
}

struct Param {
    name: &'static str,
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
    mutable: bool,
    /// Settable at run time only with enable-protected-configs (Redis
    /// protects the file locations).
    protected: bool,
    support: Support,
}

const fn p(name: &'static str, kind: Kind, default: &'static str, mutable: bool) -> Param {
    Param { name, alias: None, kind, default, mutable, protected: false, support: Support::Full }
}

const YES_NO: Kind = Kind::Bool;
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
const INT_MAX: i64 = i32::MAX as i64;

/// Every parameter we know. `threads` and `shards` are ours; the rest are
/// Redis's names with Redis's defaults (bind is loopback-only by default).
static PARAMS: &[Param] = &[
    p("bind", Kind::Addresses, "127.0.0.1", false),
    p("port", Kind::Int { min: 0, max: 65535 }, "6379", false),
    p("threads", Kind::Int { min: 0, max: 1024 }, "0", false),
    p("shards", Kind::Int { min: 0, max: 16384 }, "0", false),
    p("databases", Kind::Int { min: 1, max: INT_MAX }, "16", false),
    p("requirepass", Kind::Str, "", true),
    p("maxclients", Kind::Int { min: 1, max: INT_MAX }, "10000", true),
    p("timeout", Kind::Int { min: 0, max: INT_MAX }, "0", true),
    p("tcp-keepalive", Kind::Int { min: 0, max: INT_MAX }, "300", true),
    p("tcp-backlog", Kind::Int { min: 0, max: INT_MAX }, "511", false),
    p("loglevel", Kind::Enum(LOGLEVELS), "notice", true),
    p("logfile", Kind::Str, "", false),
    Param {
        support: Support::Only(&["no"], "running in the background (use a service manager)"),
        ..p("daemonize", YES_NO, "no", false)
    },
    Param {
        support: Support::Only(&["no"], "supervision"),
        ..p("supervised", Kind::Enum(&["upstart", "systemd", "auto", "no"]), "no", false)
    },
    p("pidfile", Kind::Str, "", false),
    Param { protected: true, ..p("dir", Kind::Dir, "", true) },
    Param { protected: true, ..p("dbfilename", Kind::Str, "dump.rdb", true) },
    p("save", Kind::Save, "3600 1 300 100 60 10000", true),
    p("appendonly", YES_NO, "no", true),
    p("appendfsync", Kind::Enum(&["always", "everysec", "no"]), "everysec", true),
    p("appendfilename", Kind::Str, "appendonly.aof", false),
    p("appenddirname", Kind::Str, "appendonlydir", false),
    p("aof-load-truncated", YES_NO, "yes", true),
    p("aof-use-rdb-preamble", YES_NO, "yes", true),
    p("aof-rewrite-incremental-fsync", YES_NO, "yes", true),
    p("aof-timestamp-enabled", YES_NO, "no", true),
    p("auto-aof-rewrite-percentage", Kind::Int { min: 0, max: INT_MAX }, "100", true),
    p("auto-aof-rewrite-min-size", Kind::Memory { min: 0 }, "67108864", true),
    p("no-appendfsync-on-rewrite", YES_NO, "no", true),
    p("rdbcompression", YES_NO, "yes", true),
    p("rdbchecksum", YES_NO, "yes", true),
    p("stop-writes-on-bgsave-error", YES_NO, "yes", true),
    p("proto-max-bulk-len", Kind::Memory { min: 1024 * 1024 }, "536870912", true),
    p("client-query-buffer-limit", Kind::Memory { min: 1024 * 1024 }, "1073741824", true),
    p(
        "client-output-buffer-limit",
        Kind::OutputLimits,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        true,
    ),
    p("enable-debug-command", Kind::Enum(&["no", "yes", "local"]), "no", false),
    p("enable-protected-configs", Kind::Enum(&["no", "yes", "local"]), "no", false),
    p("enable-module-command", Kind::Enum(&["no", "yes", "local"]), "no", false),
    p("hz", Kind::Int { min: 1, max: 500 }, "10", true),
    p("maxmemory", Kind::Memory { min: 0 }, "0", true),
    p("maxmemory-policy", Kind::Enum(POLICIES), "noeviction", true),
    p("maxmemory-samples", Kind::Int { min: 1, max: INT_MAX }, "5", true),
    p("maxmemory-eviction-tenacity", Kind::Int { min: 0, max: 100 }, "10", true),
    p("lfu-log-factor", Kind::Int { min: 0, max: INT_MAX }, "10", true),
    p("lfu-decay-time", Kind::Int { min: 0, max: INT_MAX }, "1", true),
    p("protected-mode", YES_NO, "yes", true),
    p("notify-keyspace-events", Kind::NotifyEvents, "", true),
    Param { support: Support::Only(&["no"], "cluster mode"), ..p("cluster-enabled", YES_NO, "no", false) },
    Param { support: Support::Only(&[""], "unix sockets"), ..p("unixsocket", Kind::Str, "", false) },
    p("lazyfree-lazy-eviction", YES_NO, "no", true),
    p("lazyfree-lazy-expire", YES_NO, "no", true),
    p("lazyfree-lazy-server-del", YES_NO, "no", true),
    p("lazyfree-lazy-user-del", YES_NO, "no", true),
    p("lazyfree-lazy-user-flush", YES_NO, "no", true),
    p("activerehashing", YES_NO, "yes", true),
    p("set-max-intset-entries", Kind::Int { min: 0, max: i64::MAX }, "512", true),
    Param {
        alias: Some("list-max-ziplist-size"),
        ..p("list-max-listpack-size", Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, "-2", true)
    },
    Param {
        alias: Some("zset-max-ziplist-entries"),
        ..p("zset-max-listpack-entries", Kind::Int { min: 0, max: i64::MAX }, "128", true)
    },
    Param {
        alias: Some("zset-max-ziplist-value"),
        ..p("zset-max-listpack-value", Kind::Int { min: 0, max: i64::MAX }, "64", true)
    },
    Param {
        alias: Some("hash-max-ziplist-entries"),
        ..p("hash-max-listpack-entries", Kind::Int { min: 0, max: i64::MAX }, "512", true)
    },
    Param {
        alias: Some("hash-max-ziplist-value"),
        ..p("hash-max-listpack-value", Kind::Int { min: 0, max: i64::MAX }, "64", true)
    },
    p("slowlog-log-slower-than", Kind::Int { min: -1, max: i64::MAX }, "10000", true),
    p("slowlog-max-len", Kind::Int { min: 0, max: i64::MAX }, "128", true),
    p("latency-monitor-threshold", Kind::Int { min: 0, max: i64::MAX }, "0", true),
    p("always-show-logo", YES_NO, "no", false),
    p("set-proc-title", YES_NO, "yes", false),
    p("io-threads", Kind::Int { min: 1, max: 128 }, "1", false),
    Param {
        alias: Some("lua-time-limit"),
        ..p("busy-reply-threshold", Kind::Int { min: 0, max: i64::MAX }, "5000", true)
    },
    Param { alias: Some("slave-read-only"), ..p("replica-read-only", YES_NO, "yes", true) },
    p("repl-backlog-size", Kind::Memory { min: 1 }, "1048576", true),
    // REPLICAOF keeps this current, so CONFIG REWRITE records it.
    Param { alias: Some("slaveof"), ..p("replicaof", Kind::Str, "", false) },
    p("masterauth", Kind::Str, "", true),
    p("masteruser", Kind::Str, "", true),
    Param { alias: Some("slave-priority"), ..p("replica-priority", Kind::Int { min: 0, max: INT_MAX }, "100", true) },
    p("replica-announced", YES_NO, "yes", true),
    Param { alias: Some("slave-serve-stale-data"), ..p("replica-serve-stale-data", YES_NO, "yes", true) },
    Param { alias: Some("slave-ignore-maxmemory"), ..p("replica-ignore-maxmemory", YES_NO, "yes", true) },
    Param { alias: Some("slave-announce-ip"), ..p("replica-announce-ip", Kind::Str, "", true) },
    Param {
        alias: Some("slave-announce-port"),
        ..p("replica-announce-port", Kind::Int { min: 0, max: 65535 }, "0", true)
    },
    p("repl-backlog-ttl", Kind::Int { min: 0, max: INT_MAX }, "3600", true),
    Param {
        alias: Some("repl-ping-slave-period"),
        ..p("repl-ping-replica-period", Kind::Int { min: 1, max: INT_MAX }, "10", true)
    },
    p("repl-timeout", Kind::Int { min: 1, max: INT_MAX }, "60", true),
    p("shutdown-timeout", Kind::Int { min: 0, max: INT_MAX }, "10", true),
    p("repl-diskless-sync", YES_NO, "yes", true),
    p("repl-diskless-sync-delay", Kind::Int { min: 0, max: INT_MAX }, "5", true),
    p("repl-diskless-sync-max-replicas", Kind::Int { min: 0, max: INT_MAX }, "0", true),
    Param {
        support: Support::Only(&["disabled"], "loading a full sync without a file"),
        ..p("repl-diskless-load", Kind::Enum(&["disabled", "on-empty-db", "swapdb"]), "disabled", true)
    },
    Param {
        alias: Some("min-slaves-to-write"),
        ..p("min-replicas-to-write", Kind::Int { min: 0, max: INT_MAX }, "0", true)
    },
    Param {
        alias: Some("min-slaves-max-lag"),
        ..p("min-replicas-max-lag", Kind::Int { min: 0, max: INT_MAX }, "10", true)
    },
];

/// A rejected directive or value, with the reason Redis would give.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    UnknownDirective(String),
    BadValue { name: String, reason: String },
    Immutable(String),
    Protected(String),
    Unsupported { name: String, what: &'static str },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownDirective(name) => {
                write!(f, "Bad directive or wrong number of arguments: '{name}'")
            }
            ConfigError::BadValue { name, reason } => write!(f, "'{name}': {reason}"),
            ConfigError::Immutable(name) => write!(f, "'{name}' can't be changed at run time"),
            ConfigError::Protected(name) => write!(f, "'{name}' is protected (see enable-protected-configs)"),
            ConfigError::Unsupported { name, what } => {
                write!(f, "'{name}': this server does not support {what} yet")
            }
        }
    }
}

/// The live configuration: a normalised value per parameter.
#[derive(Debug, Clone)]
pub struct Config {
    values: Vec<String>,
}

impl Default for Config {
    /// Redis's defaults; `dir` is the current directory.
    fn default() -> Self {
        let mut c = Config { values: PARAMS.iter().map(|p| p.default.to_string()).collect() };
        if let Ok(cwd) = std::env::current_dir() {
            c.values[find("dir").expect("dir is a parameter")] = cwd.display().to_string();
        }
        c
    }
}

fn find(name: &str) -> Option<usize> {
    let name = name.to_ascii_lowercase();
    PARAMS.iter().position(|p| p.name == name || p.alias == Some(name.as_str()))
}

impl Config {
    /// Applies one directive from a file or the command line (any parameter,
    /// mutable or not).
    pub fn apply(&mut self, name: &str, values: &[String]) -> Result<(), ConfigError> {
        let idx = find(name).ok_or_else(|| ConfigError::UnknownDirective(name.to_string()))?;
        let joined = values.join(" ");
        self.set_index(idx, &joined)
    }

    /// CONFIG SET of one parameter.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let idx = find(name).ok_or_else(|| ConfigError::UnknownDirective(name.to_string()))?;
        if !PARAMS[idx].mutable {
            return Err(ConfigError::Immutable(PARAMS[idx].name.to_string()));
        }
        if PARAMS[idx].protected && self.get("enable-protected-configs") == "no" {
            return Err(ConfigError::Protected(PARAMS[idx].name.to_string()));
        }
        self.set_index(idx, value)
    }

    fn set_index(&mut self, idx: usize, value: &str) -> Result<(), ConfigError> {
        let param = &PARAMS[idx];
        let normalised = normalise(param.kind, value)
            .map_err(|reason| ConfigError::BadValue { name: param.name.to_string(), reason })?;
        if let Support::Only(allowed, what) = param.support {
            if !allowed.contains(&normalised.as_str()) {
                return Err(ConfigError::Unsupported { name: param.name.to_string(), what });
            }
        }
        self.values[idx] = normalised;
        Ok(())
    }

    /// CONFIG REWRITE: the file's text with each directive we know set to
    /// its current value (first occurrence kept, repeats dropped), and the
    /// parameters that differ from their defaults but are not in the file
    /// appended. Comments and unknown lines stay as they are.
    pub fn rewrite(&self, original: &str) -> String {
        let mut written = vec![false; PARAMS.len()];
        let mut out = String::with_capacity(original.len() + 256);
        for line in original.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            match find(name).filter(|_| !line.trim_start().starts_with('#')) {
                Some(idx) if written[idx] => {}
                // A primary's file loses its replicaof lines, as Redis's
                // does.
                Some(idx) if PARAMS[idx].name == "replicaof" && self.values[idx].is_empty() => written[idx] = true,
                Some(idx) => {
                    written[idx] = true;
                    out.push_str(&directive(PARAMS[idx].name, &self.values[idx]));
                    out.push('\n');
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        let defaults = Config::default();
        let mut header = false;
        for (idx, p) in PARAMS.iter().enumerate() {
            if written[idx] || self.values[idx] == defaults.values[idx] {
                continue;
            }
            if !header {
                out.push_str("# Generated by CONFIG REWRITE\n");
                header = true;
            }
            out.push_str(&directive(p.name, &self.values[idx]));
            out.push('\n');
        }
        out
    }

    /// CONFIG GET: (name, value) for every parameter matching the glob.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        for (p, v) in PARAMS.iter().zip(&self.values) {
            if crate::glob::matches(pattern, p.name.as_bytes(), true) {
                out.push((p.name, v.as_str()));
            } else if let Some(alias) = p.alias {
                if crate::glob::matches(pattern, alias.as_bytes(), true) {
                    out.push((alias, v.as_str()));
                }
            }
        }
        out
    }

    pub fn get(&self, name: &str) -> &str {
        &self.values[find(name).unwrap_or_else(|| panic!("unknown parameter {name}"))]
    }

    fn int(&self, name: &str) -> i64 {
        self.get(name).parse().expect("normalised integer")
    }

    pub fn port(&self) -> u16 {
        self.int("port") as u16
    }

    pub fn bind(&self) -> Vec<String> {
        self.get("bind").split(' ').map(str::to_string).collect()
    }

    /// Event-loop threads: the configured number, or one per core.
    pub fn threads(&self) -> usize {
        match self.int("threads") {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n as usize,
        }
    }

    /// Keyspace shards: the configured number, or one per thread.
    pub fn shards(&self) -> usize {
        match self.int("shards") {
            0 => self.threads(),
            n => n as usize,
        }
    }

    pub fn databases(&self) -> usize {
        self.int("databases") as usize
    }

    pub fn requirepass(&self) -> &str {
        self.get("requirepass")
    }

    pub fn maxclients(&self) -> usize {
        self.int("maxclients") as usize
    }

    pub fn timeout_secs(&self) -> u64 {
        self.int("timeout") as u64
    }

    /// The working directory for files (dump, logs given as relative paths).
    pub fn dir(&self) -> &str {
        self.get("dir")
    }

    /// The `log` crate level for `loglevel`.
    pub fn log_level(&self) -> log::LevelFilter {
        match self.get("loglevel") {
            "debug" => log::LevelFilter::Debug,
            "verbose" | "notice" => log::LevelFilter::Info,
            _ => log::LevelFilter::Warn,
        }
    }

    pub fn hz(&self) -> u64 {
        self.int("hz") as u64
    }

    pub fn proto_max_bulk_len(&self) -> u64 {
        self.int("proto-max-bulk-len") as u64
    }

    /// A byte-size setting (`Kind::Memory`), as bytes.
    /// How keys' accesses are stamped: maxmemory-policy, lfu-log-factor
    /// and lfu-decay-time.
    pub fn access(&self) -> crate::store::access::Access {
        crate::store::access::Access {
            lfu: self.get("maxmemory-policy").contains("lfu"),
            log_factor: self.int("lfu-log-factor") as u32,
            decay_minutes: self.int("lfu-decay-time") as u32,
        }
    }

    pub fn memory(&self, name: &str) -> u64 {
        self.int(name) as u64
    }

    pub fn client_query_buffer_limit(&self) -> u64 {
        self.int("client-query-buffer-limit") as u64
    }

    pub fn debug_command_enabled(&self) -> bool {
        self.get("enable-debug-command") != "no"
    }

    pub fn is_yes(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// (hard, soft, soft seconds) of the output limit for a client class
    /// (`normal`, `slave`, `pubsub`).
    pub fn output_limit(&self, class: &str) -> (u64, u64, u64) {
        let words: Vec<&str> = self.get("client-output-buffer-limit").split(' ').collect();
        for w in words.chunks(4) {
            if w[0] == class {
                return (w[1].parse().unwrap_or(0), w[2].parse().unwrap_or(0), w[3].parse().unwrap_or(0));
            }
        }
        (0, 0, 0)
    }
}

/// One config-file line; a value with spaces or none at all is quoted,
/// except for the directives whose values are lists of words.
fn directive(name: &str, value: &str) -> String {
    let list = matches!(name, "save" | "client-output-buffer-limit" | "bind" | "replicaof");
    if value.is_empty() || (!list && value.contains(' ')) || value.contains('"') {
        format!("{name} \"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("{name} {value}")
    }
}

/// Parses a memory amount with redis.conf's units.
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.to_ascii_lowercase();
    let units: [(&str, u64); 8] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
        ("b", 1),
        ("", 1),
    ];
    for (suffix, mul) in units {
        if let Some(num) = lower.strip_suffix(suffix) {
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                if suffix.is_empty() {
                    return None;
                }
                continue;
            }
            return num.parse::<u64>().ok()?.checked_mul(mul);
        }
    }
    None
}

fn normalise(kind: Kind, value: &str) -> Result<String, String> {
    let value = value.trim();
    match kind {
        Kind::Int { min, max } => {
            let n: i64 = value.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < min || n > max {
                return Err(format!("argument must be between {min} and {max} inclusive"));
            }
            Ok(n.to_string())
        }
        Kind::Memory { min } => {
            let n = parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?;
            if n < min {
                return Err(format!("argument must be between {min} and {} inclusive", i64::MAX));
            }
            Ok(n.to_string())
        }
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Enum(options) => {
            let lower = value.to_ascii_lowercase();
            if options.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err("argument(s) must be one of the following: ".to_string() + &options.join(", "))
            }
        }
        Kind::Str => Ok(value.to_string()),
        Kind::NotifyEvents => crate::notify::parse(value)
            .map(crate::notify::format)
            .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()),
        Kind::Save => {
            let words: Vec<&str> = value.split_whitespace().collect();
            if words.is_empty() || (words.len() == 1 && words[0].is_empty()) {
                return Ok(String::new());
            }
            if !words.len().is_multiple_of(2) || words.iter().any(|w| w.parse::<u64>().is_err()) {
                return Err("Invalid save parameters".into());
            }
            Ok(words.join(" "))
        }
        Kind::OutputLimits => {
            let words: Vec<&str> = value.split_whitespace().collect();
            if words.is_empty() || !words.len().is_multiple_of(4) {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            let mut current = Config::default().get("client-output-buffer-limit").to_string();
            for w in words.chunks(4) {
                let class = match w[0].to_ascii_lowercase().as_str() {
                    "normal" => "normal",
                    "slave" | "replica" => "slave",
                    "pubsub" => "pubsub",
                    _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
                };
                let hard = parse_memory(w[1]);
                let soft = parse_memory(w[2]);
                let secs = w[3].parse::<u64>().ok();
                let (Some(hard), Some(soft), Some(secs)) = (hard, soft, secs) else {
                    return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
                };
                let mut parts: Vec<String> = current.split(' ').map(str::to_string).collect();
                for chunk in parts.chunks_mut(4) {
                    if chunk[0] == class {
                        chunk[1] = hard.to_string();
                        chunk[2] = soft.to_string();
                        chunk[3] = secs.to_string();
                    }
                }
                current = parts.join(" ");
            }
            Ok(current)
        }
        Kind::Dir => match std::fs::canonicalize(value) {
            Ok(path) if path.is_dir() => Ok(path.display().to_string()),
            Ok(_) => Err("Not a directory".into()),
            Err(e) => {
                let text = e.to_string();
                Err(text.split(" (os error").next().unwrap_or(&text).to_string())
            }
        },
        Kind::Addresses => {
            let words: Vec<&str> = value.split_whitespace().collect();
            if words.is_empty() {
                return Err("argument must not be empty".into());
            }
            Ok(words.join(" "))
        }
    }
}

/// A start-up error: which file and line, or which flag, and why.
#[derive(Debug)]
pub struct StartupError(pub String);

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the command line asked for.
pub enum Cli {
    Run(Box<Config>),
    Help,
    Version,
}

/// Parses `kvstore-server [config-file] [--name value ...]`, as
/// redis-server does: the file first, then the flags, later ones winning.
pub fn from_args(args: &[String]) -> Result<Cli, StartupError> {
    let mut config = Config::default();
    let mut rest = args;
    match rest.first().map(String::as_str) {
        Some("--help" | "-h") => return Ok(Cli::Help),
        Some("--version" | "-v") => return Ok(Cli::Version),
        Some(path) if !path.starts_with("--") => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| StartupError(format!("Fatal error, can't open config file '{path}': {e}")))?;
            load_file(&mut config, path, &text)?;
            rest = &rest[1..];
        }
        _ => {}
    }
    let mut i = 0;
    while i < rest.len() {
        let Some(name) = rest[i].strip_prefix("--") else {
            return Err(StartupError(format!("Invalid argument '{}': expected --name value", rest[i])));
        };
        i += 1;
        let mut values = Vec::new();
        while i < rest.len() && !rest[i].starts_with("--") {
            values.push(rest[i].clone());
            i += 1;
        }
        // `--save ''` arrives as one empty value.
        config
            .apply(name, &values)
            .map_err(|e| StartupError(format!("Error in command line argument --{name}: {e}")))?;
    }
    Ok(Cli::Run(Box::new(config)))
}

/// Applies a redis.conf-style file: one directive per line, `#` comments,
/// values split like Redis's inline commands (quotes allowed).
pub fn load_file(config: &mut Config, path: &str, text: &str) -> Result<(), StartupError> {
    for (lineno, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let words = split_directive(trimmed)
            .ok_or_else(|| StartupError(format!("{path}:{}: unbalanced quotes in '{trimmed}'", lineno + 1)))?;
        let (name, values) = words.split_first().expect("line is not empty");
        if name == "include" {
            return Err(StartupError(format!("{path}:{}: 'include' is not supported", lineno + 1)));
        }
        config
            .apply(name, values)
            .map_err(|e| StartupError(format!("{path}:{}: directive '{trimmed}': {e}", lineno + 1)))?;
    }
    Ok(())
}

fn split_directive(line: &str) -> Option<Vec<String>> {
    let mut parser = crate::resp::RequestParser::new();
    let mut input = line.as_bytes().to_vec();
    input.push(b'\n');
    parser.parse(&input, crate::resp::ParseLimits::default()).ok()??;
    Some(parser.args(&input).iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn flags_and_units() {
        let Cli::Run(c) = from_args(&args(&["--port", "7000", "--save", "", "--proto-max-bulk-len", "2mb"])).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.port(), 7000);
        assert_eq!(c.get("save"), "");
        assert_eq!(c.proto_max_bulk_len(), 2 * 1024 * 1024);
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("10k"), Some(10_000));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn rejects_what_it_cannot_do() {
        assert!(from_args(&args(&["--cluster-enabled", "yes"])).is_err());
        assert!(from_args(&args(&["--cluster-enabled", "no"])).is_ok());
        assert!(from_args(&args(&["--nonsense", "1"])).is_err());
        assert!(from_args(&args(&["--port", "99999"])).is_err());
    }

    #[test]
    fn file_errors_name_the_line() {
        let mut c = Config::default();
        let err = load_file(&mut c, "x.conf", "port 7000\n# c\nbogus 1\n").unwrap_err();
        assert!(err.0.starts_with("x.conf:3:"), "{}", err.0);
        assert_eq!(c.port(), 7000);
    }

    #[test]
    fn rewrite_keeps_comments_and_updates_values() {
        let mut c = Config::default();
        let text = "# my server\nport 7000\nmaxclients 10\nmaxclients 20\nunknown-line stays\n";
        load_file(&mut c, "x.conf", "port 7000\n").unwrap();
        c.set("maxclients", "500").unwrap();
        c.set("requirepass", "a b").unwrap();
        let out = c.rewrite(text);
        assert_eq!(
            out,
            "# my server\nport 7000\nmaxclients 500\nunknown-line stays\n# Generated by CONFIG REWRITE\nrequirepass \"a b\"\n"
        );
        let mut again = Config::default();
        load_file(&mut again, "x.conf", &out.replace("unknown-line stays\n", "")).unwrap();
        assert_eq!(again.get("requirepass"), "a b");
        assert_eq!(again.maxclients(), 500);
    }

    #[test]
    fn rewrite_drops_replicaof_once_a_primary() {
        let mut c = Config::default();
        let text = "port 7000\nreplicaof 10.0.0.1 6379\nslaveof 10.0.0.1 6379\n";
        load_file(&mut c, "x.conf", text).unwrap();
        assert_eq!(c.rewrite(text), text.replace("slaveof 10.0.0.1 6379\n", ""));
        // REPLICAOF NO ONE.
        c.apply("replicaof", &[]).unwrap();
        assert_eq!(c.rewrite(text), "port 7000\n");
    }

    #[test]
    fn output_limits_merge() {
        let mut c = Config::default();
        c.set("client-output-buffer-limit", "normal 1mb 2mb 3").unwrap();
        assert_eq!(c.output_limit("normal"), (1 << 20, 2 << 20, 3));
        assert_eq!(c.output_limit("pubsub"), (33554432, 8388608, 60));
    }
}
