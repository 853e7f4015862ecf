//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT. The expected
//! replies are Redis 7.0's (this file passes against redis-server too).

mod common;

fn eval(c: &mut common::Conn, script: &str) -> String {
    c.cmd(&["EVAL", script, "1", "k", "v"])
}

#[test]
fn conversions_both_ways() {
    let s = common::start();
    let mut c = s.connect();
    let cases: &[(&str, &str)] = &[
        ("return 1", ":1"),
        ("return 'hello'", "\"hello\""),
        ("return 3.99", ":3"),
        ("return -2.5", ":-2"),
        ("return true", ":1"),
        ("return false", "(nil)"),
        ("return nil", "(nil)"),
        ("return {1,2,{3,'a'},nil,5}", "[:1, :2, [:3, \"a\"]]"),
        ("return {err='MYERR bad'}", "-MYERR bad"),
        ("return {ok='fine'}", "+fine"),
        ("return redis.error_reply('my err')", "-my err"),
        ("return redis.status_reply('MYOK')", "+MYOK"),
        ("return redis.sha1hex('abc')", "\"a9993e364706816aba3e25717850c26c9cd0d89d\""),
        ("return redis.call('set',KEYS[1],ARGV[1])", "+OK"),
        ("return redis.call('get',KEYS[1])", "\"v\""),
        ("return type(redis.call('get', 'nokey'))", "\"boolean\""),
        ("return redis.call('echo', 3.5)", "\"3.5\""),
        ("return redis.call('echo', 10)", "\"10\""),
        ("local t = redis.call('set', 'x', 'y') return t.ok", "\"OK\""),
        ("local t = redis.pcall('incr', KEYS[1]) return t.err", "\"ERR value is not an integer or out of range\""),
        ("return redis.pcall('nosuch')", "-ERR Unknown Redis command called from script"),
        ("return #KEYS + #ARGV", ":2"),
        ("return {1, 'two', 3.7, false, true}", "[:1, \"two\", :3, (nil), :1]"),
        ("local n = 0 for i=1,100 do n = n + i end return n", ":5050"),
        ("return loadstring", "(nil)"),
    ];
    for (script, want) in cases {
        assert_eq!(eval(&mut c, script), *want, "{script}");
    }
}

/// Errors carry the script's SHA-1 and the line, as Redis 7.0 words them.
#[test]
fn errors_and_sandbox() {
    let s = common::start();
    let mut c = s.connect();
    c.q("SET k v");
    let cases: &[(&str, &str)] = &[
        (
            "return redis.call('nosuch')",
            "-ERR Unknown Redis command called from script script: 206396248e12c6e742fd7296250433c8d7343b74, on @user_script:1.",
        ),
        (
            "return redis.call('get')",
            "-ERR Wrong number of args calling Redis command from script script: f187dee77f607f7cff00bbabc9df38507582c78d, on @user_script:1.",
        ),
        (
            "return redis.call('incr', KEYS[1])",
            "-ERR value is not an integer or out of range script: 2bab3b661081db58bd2341920e0ba7cf5dc77b25, on @user_script:1.",
        ),
        (
            "return redis.call('blpop', 'nol', 0)",
            "-ERR This Redis command is not allowed from script script: 7214291958ccfd2eb19472c9f6b30b1e427462ad, on @user_script:1.",
        ),
        (
            "return redis.call('set', 'a', {})",
            "-ERR Lua redis lib command arguments must be strings or integers script: f37b5e7bcfb7cec825b302c88928083ea5eb6fdd, on @user_script:1.",
        ),
        (
            "x = 1",
            "-ERR user_script:1: Attempt to modify a readonly table script: 34bce5f775de97f557a34088509c8bfe1ea17e52, on @user_script:1.",
        ),
        (
            "return os",
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'os' script: f03b5ad6e7d58786b6a5e879efbea4a4408f5c2f, on @user_script:1.",
        ),
        (
            "error('boom')",
            "-ERR user_script:1: boom script: 82903a0434f1503e152f89c03c9acd881a0e8150, on @user_script:1.",
        ),
        (
            "error({err='THROWN table'})",
            "-THROWN table script: 995d0cab72a0e0a329a7d6fc24d4670d036d0a27, on @user_script:1.",
        ),
        ("syntax error here", "-ERR Error compiling script (new function): user_script:1: '=' expected near 'error'"),
    ];
    for (script, want) in cases {
        assert_eq!(eval(&mut c, script), *want, "{script}");
    }
    assert_eq!(c.cmd(&["EVAL", "return 1", "-1"]), "-ERR Number of keys can't be negative");
    assert_eq!(c.cmd(&["EVAL", "return 1", "5", "a"]), "-ERR Number of keys can't be greater than number of args");
    assert_eq!(c.cmd(&["EVAL", "return 1", "x"]), "-ERR value is not an integer or out of range");
    assert_eq!(
        c.cmd(&["EVAL_RO", "return redis.call('set','a','b')", "0"]),
        "-ERR Write commands are not allowed from read-only scripts. script: ff967d0ae0e68b4f9e360fa91c54598bc25ad9b6, on @user_script:1."
    );
    assert_eq!(c.cmd(&["EVAL_RO", "return redis.call('get','k')", "0"]), "\"v\"");
}

#[test]
fn script_cache() {
    let s = common::start();
    let mut c = s.connect();
    let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db";
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), "+OK");
    assert_eq!(c.cmd(&["EVALSHA", sha, "0"]), "-NOSCRIPT No matching script. Please use EVAL.");
    assert_eq!(c.cmd(&["EVALSHA", "abc", "x"]), "-NOSCRIPT No matching script. Please use EVAL.");
    assert_eq!(c.cmd(&["SCRIPT", "LOAD", "return 1"]), format!("\"{sha}\""));
    assert_eq!(c.cmd(&["EVALSHA", sha, "0"]), ":1");
    assert_eq!(c.cmd(&["EVALSHA", &sha.to_uppercase(), "0"]), ":1");
    assert_eq!(c.cmd(&["EVALSHA_RO", sha, "0"]), ":1");
    assert_eq!(c.cmd(&["SCRIPT", "EXISTS", sha, "abc"]), "[:1, :0]");
    // Loaded on one connection, known to every thread.
    let mut other = s.connect();
    assert_eq!(other.cmd(&["EVALSHA", sha, "0"]), ":1");
    // EVAL caches what it runs; a script that does not compile is not kept.
    assert_eq!(c.cmd(&["EVAL", "return 2", "0"]), ":2");
    assert_eq!(c.cmd(&["SCRIPT", "EXISTS", "7f923f79fe76194c868d7e1d0820de36700eb649"]), "[:1]");
    assert!(c.cmd(&["SCRIPT", "LOAD", "nope nope"]).starts_with("-ERR Error compiling script"));
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), "+OK");
    assert_eq!(c.cmd(&["SCRIPT", "EXISTS", sha]), "[:0]");
    assert_eq!(other.cmd(&["EVALSHA", sha, "0"]), "-NOSCRIPT No matching script. Please use EVAL.");
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH", "ASYNC"]), "+OK");
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH", "x"]), "-ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "-NOTBUSY No scripts in execution right now.");
    assert_eq!(c.cmd(&["SCRIPT", "FOO"]), "-ERR unknown subcommand 'FOO'. Try SCRIPT HELP.");
}

/// A script is atomic across shards, may touch keys it did not declare,
/// and the clients it unblocks are served once it is done.
#[test]
fn scripts_are_atomic_and_wake_waiters_after() {
    let s = common::start();
    let mut c = s.connect();
    let move_all = "for i = 1, 20 do redis.call('incr', 'counter:' .. i) end return redis.call('get', 'counter:20')";
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (port, stop) = (s.port, stop.clone());
        std::thread::spawn(move || {
            let mut r = common::Conn::connect(port);
            let keys: Vec<String> = (1..=20).map(|i| format!("counter:{i}")).collect();
            let mget = format!("MGET {}", keys.join(" "));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let values = common::items(&r.q(&mget));
                assert!(values.windows(2).all(|w| w[0] == w[1]), "torn read: {values:?}");
            }
        })
    };
    for i in 1..=200 {
        assert_eq!(c.cmd(&["EVAL", move_all, "0"]), format!("\"{i}\""));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    let mut waiter = s.connect();
    waiter.send("BLPOP q 0");
    common::wait_blocked(&mut c, 1);
    let push = "redis.call('lpush', 'q', 'x') redis.call('lpush', 'q', 'y') return redis.call('llen', 'q')";
    assert_eq!(c.cmd(&["EVAL", push, "0"]), ":2");
    assert_eq!(waiter.read_reply(), "[\"q\", \"y\"]");
    // SELECT inside a script does not change the caller's database.
    assert_eq!(c.cmd(&["EVAL", "redis.call('select', '1') return redis.call('set', 'in1', 'x')", "0"]), "+OK");
    assert_eq!(c.q("EXISTS in1"), ":0");
    assert_eq!(c.q("SELECT 1"), "+OK");
    assert_eq!(c.q("EXISTS in1"), ":1");
}

/// A script past busy-reply-threshold makes the clients of other threads
/// get BUSY; SCRIPT KILL stops it when it has not written, and refuses
/// (UNKILLABLE) when it has.
#[test]
fn busy_scripts_and_script_kill() {
    let s = common::start_with(&[("busy-reply-threshold", "100")]);
    let mut admin = s.connect();
    assert_eq!(admin.q("CONFIG GET lua-time-limit"), "[\"lua-time-limit\", \"100\"]");
    // Until the script has run 100 ms the answer is PONG; from then on
    // every client gets BUSY, on the script's own thread too (its hook
    // serves them), so a connection that answers PING is waited for.
    let busy_conn = || -> common::Conn {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            let mut c = s.connect();
            let reply = c.q("PING");
            if reply.starts_with("-BUSY") {
                return c;
            }
            assert_eq!(reply, "+PONG");
        }
        panic!("no connection saw BUSY");
    };
    let mut looping = s.connect();
    looping.cmd(&["SCRIPT", "FLUSH"]);
    looping.send_raw(&common::encode(&[b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0"]));
    let mut free = busy_conn();
    const BUSY: &str = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    assert_eq!(free.q("GET x"), BUSY);
    // Eight more connections: with two threads, all but surely some share
    // the script's.
    for _ in 0..8 {
        assert_eq!(s.connect().q("PING"), BUSY);
    }
    assert_eq!(free.q("SHUTDOWN"), BUSY, "only SHUTDOWN NOSAVE runs while busy");
    assert_eq!(free.q("SHUTDOWN ABORT"), "-ERR No shutdown in progress.");
    // WATCH is allowed while busy (Redis answers at once; here the script
    // holds the key's shard, so it answers once the script has ended).
    let mut watcher = busy_conn();
    watcher.send("WATCH x");
    assert_eq!(free.q("SCRIPT KILL"), "+OK");
    assert_eq!(watcher.read_reply(), "+OK");
    let killed = looping.read_reply();
    assert!(killed.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "), "{killed}");
    assert!(killed.ends_with(", on @user_script:1."), "{killed}");
    assert_eq!(free.q("SCRIPT KILL"), "-NOTBUSY No scripts in execution right now.");
    // A script that wrote cannot be killed; it runs to its end.
    let writer = "redis.call('set', 'w', '1') for i = 1, 100000000 do end return 'done'";
    looping.send_raw(&common::encode(&[b"EVAL", writer.as_bytes(), b"0"]));
    let mut free = busy_conn();
    assert!(free.q("SCRIPT KILL").starts_with("-UNKILLABLE Sorry the script already executed write commands"));
    assert_eq!(looping.read_reply(), "\"done\"");
    assert_eq!(admin.q("GET w"), "\"1\"");
}

/// SHUTDOWN NOSAVE ends a busy script that wrote, and the server with it.
#[test]
fn shutdown_nosave_stops_a_busy_script() {
    if common::external() {
        return; // it would stop the reference server
    }
    let s = common::start_with(&[("busy-reply-threshold", "50")]);
    let mut looping = s.connect();
    let writer = "redis.call('set', 'w', '1') while true do end";
    looping.send_raw(&common::encode(&[b"EVAL", writer.as_bytes(), b"0"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut admin = loop {
        let mut c = s.connect();
        if c.q("PING").starts_with("-BUSY") {
            break c;
        }
        assert!(std::time::Instant::now() < deadline, "the script never got busy");
    };
    admin.send("SHUTDOWN NOSAVE");
    assert!(looping.read_reply().starts_with("-ERR Script killed by user with SCRIPT KILL..."));
    assert!(admin.is_closed());
    // Returns once every thread has ended, the script's too.
    s.stop();
}

/// The bit, cjson, cmsgpack and struct libraries; their full error texts
/// are compared with Redis in tests/compat/scripting_libs.txt.
#[test]
fn lua_libraries() {
    let s = common::start();
    let mut c = s.connect();
    let cases: &[(&str, &str)] = &[
        ("return bit.band(0xff, 0x0f)", ":15"),
        ("return bit.tohex(-1)", "\"ffffffff\""),
        ("return bit.lshift(1, 31)", ":-2147483648"),
        ("return cjson.encode({1, 'a/b', {x=true}})", "\"[1,\\\"a\\\\/b\\\",{\\\"x\\\":true}]\""),
        ("return cjson.decode('[10,\"s\",{\"k\":[2]}]')[3].k[1]", ":2"),
        ("return cjson.decode('{\"a\":null}').a == cjson.null and 1 or 0", ":1"),
        ("return cmsgpack.unpack(cmsgpack.pack({1, 'two', {k = 300}}))[3].k", ":300"),
        ("return #cmsgpack.pack(65536)", ":5"),
        ("return {struct.unpack('>I2 s', struct.pack('>I2 s', 513, 'hi'))}", "[:513, \"hi\", :6]"),
        ("return struct.size('<i4 d')", ":12"),
        ("local ok, e = pcall(cjson.decode, '[1,') return e", "\"Expected value but found T_END at character 4\""),
    ];
    for (script, want) in cases {
        assert_eq!(c.cmd(&["EVAL", script, "0"]), *want, "{script}");
    }
    let failed = c.cmd(&["EVAL", "return cjson.decode('x')", "0"]);
    assert!(failed.starts_with("-ERR user_script:1: Expected value but found invalid token at character 1 script: "));
}

/// Deep nesting in library input is refused or handled, never a crash.
#[test]
fn lua_libraries_deep_nesting() {
    let s = common::start();
    let mut c = s.connect();
    let deep_json = "return cjson.decode(string.rep('[', 1001))";
    assert!(c
        .cmd(&["EVAL", deep_json, "0"])
        .starts_with("-ERR user_script:1: Found too many nested data structures (1001)"));
    let nested_json = "return #cjson.encode(cjson.decode(string.rep('[', 999) .. string.rep(']', 999)))";
    assert_eq!(c.cmd(&["EVAL", nested_json, "0"]), ":1998");
    let deep_pack = "return #{cmsgpack.unpack(string.rep('\\145', 100000) .. '\\1')}";
    assert!(c.cmd(&["EVAL", deep_pack, "0"]).starts_with("-ERR user_script:1: stack overflow"));
    let nested_pack = "return #{cmsgpack.unpack(string.rep('\\145', 1500) .. '\\1')}";
    assert_eq!(c.cmd(&["EVAL", nested_pack, "0"]), ":1");
    let deep_table = "local t = {} local c = t for i = 1, 1100 do c[1] = {} c = c[1] end return #cmsgpack.pack(t)";
    assert_eq!(c.cmd(&["EVAL", deep_table, "0"]), ":17");
    assert_eq!(c.q("PING"), "+PONG");
}
