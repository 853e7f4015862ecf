//! Server commands: INFO, CONFIG, COMMAND, TIME, DEBUG, SHUTDOWN.

mod common;

fn info_field(info: &str, name: &str) -> String {
    info.split("\\r\\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .to_string()
}

#[test]
fn info_sections() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET a 1");
    c.q("SET b 2 EX 100");
    let info = c.q("INFO");
    for section in
        ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Keyspace"]
    {
        assert!(info.contains(section), "{section} missing");
    }
    assert!(!info.contains("# Commandstats"));
    assert_eq!(info_field(&info, "redis_version"), "7.0.15");
    assert_eq!(info_field(&info, "tcp_port"), s.port.to_string());
    assert_eq!(info_field(&info, "connected_clients"), "1");
    assert_eq!(info_field(&info, "db0"), "keys=2,expires=1,avg_ttl=0");
    assert_eq!(info_field(&info, "role"), "master");
    assert!(info_field(&info, "used_memory").parse::<u64>().is_ok());
    let only = c.q("INFO keyspace");
    assert!(only.starts_with("\"# Keyspace\\r\\ndb0:"), "{only}");
    let stats = c.q("INFO commandstats");
    assert!(stats.contains("cmdstat_set:calls=2,"), "{stats}");
    let everything = c.q("INFO everything");
    assert!(everything.contains("# Commandstats") && everything.contains("# Server"));
    assert_eq!(c.q("INFO nosuchsection"), "\"\"");
    let processed: u64 = info_field(&c.q("INFO stats"), "total_commands_processed").parse().unwrap();
    assert!(processed >= 7, "{processed}");
}

#[test]
fn config_get_set() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("CONFIG GET maxclients"), "[\"maxclients\", \"10000\"]");
    assert_eq!(c.q("CONFIG GET appendonly"), "[\"appendonly\", \"no\"]");
    assert_eq!(c.q("CONFIG GET nosuch"), "[]");
    let many = common::items(&c.q("CONFIG GET max*"));
    assert!(many.contains(&"maxmemory-policy".to_string()), "{many:?}");
    assert_eq!(c.q("CONFIG SET maxclients 500 timeout 30"), "+OK");
    assert_eq!(c.q("CONFIG GET maxclients"), "[\"maxclients\", \"500\"]");
    assert_eq!(c.q("CONFIG SET maxclients abc"), "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer");
    assert_eq!(
        c.q("CONFIG SET timeout 0 timeout 1"),
        "-ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter"
    );
    assert_eq!(c.q("CONFIG SET foo bar"), "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    assert_eq!(
        c.q("CONFIG SET databases 3"),
        "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
    );
    assert_eq!(c.q("CONFIG SET maxclients 10 timeout"), "-ERR syntax error");
    assert_eq!(
        c.q("CONFIG SET loglevel foo"),
        "-ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"
    );
    assert_eq!(
        c.q("CONFIG SET maxmemory 1x"),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "save", "1 2 3"]),
        "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "save", "100 10"]), "+OK");
    assert_eq!(c.q("CONFIG GET save"), "[\"save\", \"100 10\"]");
    assert_eq!(c.q("CONFIG SET proto-max-bulk-len 2mb"), "+OK");
    assert_eq!(c.q("CONFIG GET proto-max-bulk-len"), "[\"proto-max-bulk-len\", \"2097152\"]");
    assert_eq!(c.q("CONFIG GET"), "-ERR wrong number of arguments for 'config|get' command");
    assert_eq!(c.q("CONFIG RESETSTAT"), "+OK");
    // The eviction settings and their ranges, as redis-server checks them.
    assert_eq!(c.q("CONFIG SET maxmemory-policy allkeys-lru"), "+OK");
    assert_eq!(c.q("CONFIG SET maxmemory-policy lru"), "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
    assert_eq!(c.q("CONFIG SET lfu-log-factor -1"), "-ERR CONFIG SET failed (possibly related to argument 'lfu-log-factor') - argument must be between 0 and 2147483647 inclusive");
    assert_eq!(c.q("CONFIG SET maxmemory-eviction-tenacity 101"), "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-eviction-tenacity') - argument must be between 0 and 100 inclusive");
    assert_eq!(c.q("CONFIG SET lfu-decay-time 5 lfu-log-factor 100 maxmemory-eviction-tenacity 20"), "+OK");
    assert_eq!(c.q("CONFIG GET lfu-decay-time"), "[\"lfu-decay-time\", \"5\"]");
    assert_eq!(c.q("CONFIG GET lfu-log-factor"), "[\"lfu-log-factor\", \"100\"]");
}

#[test]
fn maxclients_and_timeout_apply_at_run_time() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("CONFIG SET maxclients 2"), "+OK");
    let mut second = s.connect();
    assert_eq!(second.q("PING"), "+PONG");
    let mut third = s.connect();
    assert_eq!(third.read_reply(), "-ERR max number of clients reached");
    assert!(third.is_closed());
    drop(second);
    assert_eq!(c.q("CONFIG SET maxclients 10000 timeout 1"), "+OK");
    let mut idle = s.connect();
    assert_eq!(idle.q("PING"), "+PONG");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(idle.is_closed(), "idle client closed after the timeout");
}

#[test]
fn command_introspection() {
    let s = common::start();
    let mut c = s.connect();
    let count: usize = c.q("COMMAND COUNT")[1..].parse().unwrap();
    assert!(count > 50, "{count}");
    assert_eq!(
        c.q("COMMAND INFO get"),
        "[[\"get\", :2, [+readonly, +fast], :1, :1, :1, [+@read, +@string, +@fast], [], [[\"flags\", [+RO, +access], \"begin_search\", [\"type\", \"index\", \"spec\", [\"index\", :1]], \"find_keys\", [\"type\", \"range\", \"spec\", [\"lastkey\", :0, \"keystep\", :1, \"limit\", :0]]]], []]]"
    );
    assert_eq!(c.q("COMMAND INFO nosuch"), "[(nil)]");
    assert!(c.q("COMMAND INFO config").contains("\"config|set\", :-4"));
    assert_eq!(c.q("COMMAND GETKEYS mset a 1 b 2"), "[\"a\", \"b\"]");
    assert_eq!(c.q("COMMAND GETKEYS get"), "-ERR wrong number of arguments for 'command|getkeys' command");
    assert_eq!(c.q("COMMAND GETKEYS foo a"), "-ERR Invalid command specified");
    assert_eq!(c.q("COMMAND GETKEYS ping x"), "-ERR The command has no key arguments");
    assert_eq!(c.q("COMMAND GETKEYS get a b"), "-ERR Invalid number of arguments specified for command");
    let list = common::items(&c.q("COMMAND LIST"));
    assert!(list.contains(&"get".to_string()) && list.contains(&"client|kill".to_string()));
    assert_eq!(list.len() - list.iter().filter(|n| n.contains('|')).count(), count);
    assert!(c.q("COMMAND DOCS get").starts_with(
        "[\"get\", [\"summary\", \"Get the value of a key\", \"since\", \"1.0.0\", \"group\", \"string\""
    ));
    let all = c.q("COMMAND");
    assert!(all.starts_with("[[\""));
    assert_eq!(c.q("COMMAND FOO"), "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.");
}

#[test]
fn time() {
    let s = common::start();
    let mut c = s.connect();
    let t = common::items(&c.q("TIME"));
    let secs: u64 = t[0].parse().unwrap();
    let micros: u64 = t[1].parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(secs.abs_diff(now) <= 2);
    assert!(micros < 1_000_000);
}

#[test]
fn debug_is_refused_unless_enabled() {
    let s = common::start();
    let mut c = s.connect();
    assert!(c.q("DEBUG SLEEP 0").starts_with("-ERR DEBUG command not allowed."));
    let s = common::start_with(&[("enable-debug-command", "yes")]);
    let mut c = s.connect();
    assert_eq!(c.q("DEBUG SLEEP 0"), "+OK");
    assert_eq!(c.q("DEBUG OBJECT nope"), "-ERR no such key");
    c.q("SET k 1");
    assert!(c.q("DEBUG OBJECT k").starts_with("+Value at:"));
    assert_eq!(c.q("DEBUG FOO"), "-ERR unknown subcommand or wrong number of arguments for 'FOO'. Try DEBUG HELP.");
}

#[test]
fn shutdown_stops_the_server() {
    let s = common::start();
    let port = s.port;
    let mut c = s.connect();
    assert_eq!(c.q("SHUTDOWN ABORT"), "-ERR No shutdown in progress.");
    assert_eq!(c.q("SHUTDOWN FOO"), "-ERR syntax error");
    c.send_raw(&common::encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(c.is_closed(), "no reply: the connection closes");
    s.server().shared();
    // Joining the loops returns once they stopped; the port is free again.
    s.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn keyspace_hits_and_misses() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET a 1");
    c.q("CONFIG RESETSTAT");
    c.q("GET a");
    c.q("GET nope");
    c.q("MGET a nope nope2");
    c.q("EXISTS a nope");
    c.q("TYPE a");
    c.q("TTL nope");
    c.q("SET a 2");
    c.q("INCR counter");
    let info = c.q("INFO stats");
    assert_eq!(info_field(&info, "keyspace_hits"), "4");
    assert_eq!(info_field(&info, "keyspace_misses"), "5");
}

#[test]
fn config_dir() {
    let s = common::start();
    let mut c = s.connect();
    let dir = common::items(&c.q("CONFIG GET dir"));
    assert!(std::path::Path::new(&dir[1]).is_absolute(), "{dir:?}");
    assert_eq!(
        c.q("CONFIG SET dir /tmp"),
        "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        c.q("CONFIG SET dbfilename x.rdb"),
        "-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config"
    );
    assert_eq!(
        c.q("CONFIG SET logfile x"),
        "-ERR CONFIG SET failed (possibly related to argument 'logfile') - can't set immutable config"
    );
}

#[test]
fn config_dir_when_protected_configs_are_enabled() {
    let s = common::start_with(&[("enable-protected-configs", "yes")]);
    let mut c = s.connect();
    let dir = common::items(&c.q("CONFIG GET dir"));
    assert_eq!(
        c.q("CONFIG SET dir /nonexistent/kvstore"),
        "-ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory"
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "dir", &dir[1]]), "+OK");
}

/// LATENCY LATEST/HISTORY/RESET: a DEBUG SLEEP past the threshold is
/// logged as a `command` event, one sample a second, as redis-server
/// logs it; the replies' shapes and every error match redis-server's.
#[test]
fn latency_monitor() {
    let s = common::start_with(&[("enable-debug-command", "yes")]);
    let reference = common::Reference::start(&[]);
    let mut ours = s.connect();
    let mut theirs = common::Conn::connect(reference.port);
    for c in [&mut ours, &mut theirs] {
        assert_eq!(c.q("LATENCY LATEST"), "[]");
        assert_eq!(c.q("CONFIG GET latency-monitor-threshold"), "[\"latency-monitor-threshold\", \"0\"]");
        c.q("DEBUG SLEEP 0.02");
        assert_eq!(c.q("LATENCY LATEST"), "[]", "off at threshold 0");
        assert_eq!(c.q("CONFIG SET latency-monitor-threshold 5"), "+OK");
        c.q("DEBUG SLEEP 0.02");
        c.q("DEBUG SLEEP 0.03");
        c.q("SET fast 1");
        let latest = c.q("LATENCY LATEST");
        // [["command", <time>, <latest>, <max>]]; both sleeps fell within
        // a second or two, so one or two samples, and the max is the 30 ms.
        let fields: Vec<&str> = latest.trim_matches(|ch| ch == '[' || ch == ']').split(", ").collect();
        assert_eq!(fields.len(), 4, "{latest}");
        assert_eq!(fields[0], "\"command\"");
        let max: u64 = fields[3].trim_start_matches(':').parse().unwrap_or_else(|_| panic!("{latest}"));
        assert!((30..200).contains(&max), "{latest}");
        let history = c.q("LATENCY HISTORY command");
        assert!(history.starts_with("[[") && history.matches('[').count() <= 3, "{history}");
        assert_eq!(c.q("LATENCY HISTORY COMMAND"), "[]", "event names are case-sensitive");
        assert_eq!(c.q("LATENCY HISTORY nosuch"), "[]");
        assert_eq!(c.q("LATENCY RESET Command command nosuch"), ":1");
        assert_eq!(c.q("LATENCY LATEST"), "[]");
        assert_eq!(c.q("LATENCY RESET"), ":0");
        // Queued in a transaction, though RESET alone would run at once.
        assert_eq!(c.q("MULTI"), "+OK");
        assert_eq!(c.q("LATENCY RESET"), "+QUEUED");
        assert_eq!(c.q("EXEC"), "[:0]");
    }
    for line in ["LATENCY", "LATENCY FOO", "LATENCY HISTORY", "LATENCY LATEST x", "LATENCY HISTORY a b"] {
        assert_eq!(ours.q(line), theirs.q(line), "{line}");
    }
}
