//! Redis 7 functions across clients and threads: FUNCTION LOAD by one
//! client, FCALL by others, reloads after REPLACE/DELETE/FLUSH, and busy
//! functions (BUSY, FUNCTION STATS, FUNCTION KILL). Single-connection
//! replies are compared with Redis in tests/compat/functions.txt; these
//! pass against redis-server too.

mod common;

use std::time::{Duration, Instant};

const LIB: &str = "#!lua name=counter\n\
    redis.register_function('bump', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)\n\
    redis.register_function{function_name='peek', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";

#[test]
fn every_client_sees_loads_replaces_and_deletes() {
    let s = common::start();
    let mut loader = s.connect();
    loader.cmd(&["FUNCTION", "FLUSH"]);
    loader.cmd(&["DEL", "n"]);
    assert_eq!(loader.cmd(&["FUNCTION", "LOAD", LIB]), "\"counter\"");
    // Several clients, so both threads run the library.
    let mut clients: Vec<common::Conn> = (0..6).map(|_| s.connect()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.cmd(&["FCALL", "bump", "1", "n", "2"]), format!(":{}", 2 * (i + 1)));
        assert_eq!(c.cmd(&["FCALL_RO", "peek", "1", "n"]), format!("\"{}\"", 2 * (i + 1)));
    }
    let replaced = "#!lua name=counter\nredis.register_function('bump', function(keys) return 'replaced' end)";
    assert_eq!(loader.cmd(&["FUNCTION", "LOAD", "REPLACE", replaced]), "\"counter\"");
    for c in clients.iter_mut() {
        assert_eq!(c.cmd(&["FCALL", "bump", "1", "n", "2"]), "\"replaced\"");
        assert_eq!(c.cmd(&["FCALL_RO", "peek", "1", "n"]), "-ERR Function not found");
    }
    // SCRIPT FLUSH drops scripts, not libraries.
    assert_eq!(loader.q("SCRIPT FLUSH"), "+OK");
    assert_eq!(clients[0].cmd(&["FCALL", "bump", "0"]), "\"replaced\"");
    assert_eq!(loader.q("FUNCTION DELETE counter"), "+OK");
    for c in clients.iter_mut() {
        assert_eq!(c.cmd(&["FCALL", "bump", "0"]), "-ERR Function not found");
    }
    assert_eq!(loader.cmd(&["FUNCTION", "LOAD", LIB]), "\"counter\"");
    assert_eq!(loader.q("FUNCTION FLUSH"), "+OK");
    assert_eq!(clients[1].cmd(&["FCALL", "bump", "1", "n", "1"]), "-ERR Function not found");
}

/// A function inside MULTI runs when EXEC does, atomically with the rest.
#[test]
fn functions_inside_transactions() {
    let s = common::start();
    let mut c = s.connect();
    c.cmd(&["FUNCTION", "FLUSH"]);
    c.cmd(&["DEL", "n"]);
    c.cmd(&["FUNCTION", "LOAD", LIB]);
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("FCALL bump 1 n 5"), "+QUEUED");
    assert_eq!(c.q("FCALL_RO peek 1 n"), "+QUEUED");
    assert_eq!(c.q("EXEC"), "[:5, \"5\"]");
    c.cmd(&["FUNCTION", "FLUSH"]);
}

/// A function past busy-reply-threshold: other clients get the BUSY that
/// names FUNCTION KILL, FUNCTION STATS shows it, SCRIPT KILL refuses it,
/// and FUNCTION KILL stops it.
#[test]
fn busy_functions() {
    let s = common::start_with(&[("busy-reply-threshold", "100")]);
    let mut admin = s.connect();
    admin.cmd(&["FUNCTION", "FLUSH"]);
    let lib = "#!lua name=spin\n\
        redis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}";
    assert_eq!(admin.cmd(&["FUNCTION", "LOAD", lib]), "\"spin\"");
    let mut looping = s.connect();
    looping.send("FCALL spin 0");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut free = loop {
        let mut c = s.connect();
        let reply = c.q("PING");
        if reply.starts_with("-BUSY") {
            assert_eq!(
                reply,
                "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
            );
            break c;
        }
        assert_eq!(reply, "+PONG");
        assert!(Instant::now() < deadline, "the function never got busy");
    };
    let stats = common::items(&free.q("FUNCTION STATS"));
    assert_eq!(stats[0], "running_script");
    let running = free.q("FUNCTION STATS");
    assert!(
        running.contains("\"name\", \"spin\", \"command\", [\"FCALL\", \"spin\", \"0\"], \"duration_ms\""),
        "{running}"
    );
    assert_eq!(
        free.q("SCRIPT KILL"),
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    );
    assert_eq!(free.q("FUNCTION KILL"), "+OK");
    let killed = looping.read_reply();
    assert_eq!(killed.split(" script: ").nth(1), Some("spin, on @user_function:2."), "{killed}");
    assert_eq!(free.q("FUNCTION KILL"), "-NOTBUSY No scripts in execution right now.");
    assert_eq!(free.q("PING"), "+PONG");
    admin.cmd(&["FUNCTION", "FLUSH"]);
}

/// A library that never finishes loading is stopped at FUNCTION LOAD's
/// time limit; its thread goes on serving.
#[test]
fn function_load_times_out() {
    let s = common::start();
    let mut c = s.connect();
    let spin = "#!lua name=spinload\nwhile true do end";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", spin]), "-ERR Error registering functions: ERR FUNCTION LOAD timeout");
    assert_eq!(c.q("FUNCTION LIST LIBRARYNAME spinload"), "[]");
    assert_eq!(c.q("PING"), "+PONG");
}

/// FUNCTION DUMP payloads restore both ways with redis-server, and every
/// policy and error answers as it does there.
#[test]
fn function_dump_and_restore_match_redis() {
    let reference = common::Reference::start(&[]);
    let ours = common::start();
    let mut conns = [reference.connect(), ours.connect()];
    let lib = |name: &str, f: &str, v: i32| {
        format!("#!lua name={name}\nredis.register_function('{f}', function() return {v} end)")
    };
    for c in conns.iter_mut() {
        assert_eq!(c.cmd(&["FUNCTION", "LOAD", &lib("mylib", "f", 1)]), "\"mylib\"");
    }
    let theirs = conns[0].bulk_bytes(&[b"FUNCTION", b"DUMP"]).unwrap();
    let mine = conns[1].bulk_bytes(&[b"FUNCTION", b"DUMP"]).unwrap();
    assert_eq!(theirs, mine, "one library is dumped byte for byte alike");
    let mut corrupt = theirs.clone();
    corrupt[4] ^= 1;
    let empty = {
        conns[0].q("FUNCTION FLUSH");
        let e = conns[0].bulk_bytes(&[b"FUNCTION", b"DUMP"]).unwrap();
        conns[0].cmd(&["FUNCTION", "LOAD", &lib("mylib", "f", 1)]);
        e
    };
    let not_functions = conns[0].bulk_bytes(&[b"DUMP", b"nothing"]);
    assert_eq!(not_functions, None);
    conns[0].q("SET s v");
    conns[1].q("SET s v");
    let string_payload = conns[0].bulk_bytes(&[b"DUMP", b"s"]).unwrap();
    let other = lib("other", "f", 2);
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"FUNCTION", b"RESTORE", &theirs],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"APPEND"],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"replace"],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"FLUSH"],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"BOGUS"],
        vec![b"FUNCTION", b"RESTORE", &corrupt],
        vec![b"FUNCTION", b"RESTORE", b"short"],
        vec![b"FUNCTION", b"RESTORE", &string_payload],
        vec![b"FUNCTION", b"RESTORE"],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"FLUSH", b"extra"],
        vec![b"FUNCTION", b"DUMP", b"extra"],
        vec![b"FUNCTION", b"DELETE", b"mylib"],
        vec![b"FUNCTION", b"LOAD", other.as_bytes()],
        vec![b"FUNCTION", b"RESTORE", &theirs],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"REPLACE"],
        vec![b"FCALL", b"f", b"0"],
        vec![b"FUNCTION", b"RESTORE", &theirs, b"FLUSH"],
        vec![b"FCALL", b"f", b"0"],
        vec![b"FUNCTION", b"RESTORE", &empty, b"FLUSH"],
        vec![b"FUNCTION", b"LIST"],
        vec![b"FUNCTION", b"RESTORE", &mine],
        vec![b"FCALL", b"f", b"0"],
        vec![b"FUNCTION", b"HELP"],
    ];
    for case in &cases {
        let replies: Vec<String> = conns.iter_mut().map(|c| c.cmd_bytes(case)).collect();
        let shown: Vec<String> = case.iter().map(|a| String::from_utf8_lossy(&a[..a.len().min(24)]).into()).collect();
        assert_eq!(replies[0], replies[1], "{shown:?}");
    }
}
