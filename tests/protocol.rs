//! The wire: pipelining, inline commands, big values, bad input, slow and
//! vanishing clients, limits. After every bad client, a good one still gets
//! served.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn still_serves(s: &common::TestServer) {
    let mut c = s.connect();
    assert_eq!(c.q("PING"), "+PONG");
}

#[test]
fn protocol_errors_close_only_that_client() {
    let s = common::start();
    let mut bystander = s.connect();
    bystander.q("SET k v");
    let cases: &[(&[u8], &str)] = &[
        (b"*x\r\n", "-ERR Protocol error: invalid multibulk length"),
        (b"*2147483648\r\n", "-ERR Protocol error: invalid multibulk length"),
        (b"*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'"),
        (b"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length"),
        (b"*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length"),
        (b"*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length"),
        (b"SET k \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request"),
        (b"SET k 'a'b\r\n", "-ERR Protocol error: unbalanced quotes in request"),
    ];
    for (input, error) in cases {
        let mut c = s.connect();
        c.send_raw(input);
        assert_eq!(c.read_reply(), *error, "{:?}", String::from_utf8_lossy(input));
        assert!(c.is_closed());
        assert_eq!(bystander.q("GET k"), "\"v\"");
    }
}

#[test]
fn oversized_lines_are_refused() {
    let s = common::start();
    let mut c = s.connect();
    c.send_raw(&vec![b'a'; 70 * 1024]);
    assert_eq!(c.read_reply(), "-ERR Protocol error: too big inline request");
    assert!(c.is_closed());
    let mut c = s.connect();
    let mut big = b"*".to_vec();
    big.extend(vec![b'1'; 70 * 1024]);
    c.send_raw(&big);
    assert_eq!(c.read_reply(), "-ERR Protocol error: too big mbulk count string");
    still_serves(&s);
}

#[test]
fn inline_commands() {
    let s = common::start();
    let mut c = s.connect();
    c.send_raw(b"PING\r\n");
    assert_eq!(c.read_reply(), "+PONG");
    c.send_raw(b"set k \"a b\\x41\"\n");
    assert_eq!(c.read_reply(), "+OK");
    c.send_raw(b"\r\n   \r\nget k\r\n");
    assert_eq!(c.read_reply(), "\"a bA\"");
    c.send_raw(b"SET 'it''s' x\r\n");
    assert_eq!(c.read_reply(), "-ERR Protocol error: unbalanced quotes in request");
}

#[test]
fn pipelines_are_answered_in_order() {
    let s = common::start();
    let mut c = s.connect();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        batch.extend(common::encode(&[b"SET", format!("k{i}").as_bytes(), i.to_string().as_bytes()]));
        batch.extend(common::encode(&[b"GET", format!("k{i}").as_bytes()]));
    }
    c.send_raw(&batch);
    for i in 0..10_000 {
        assert_eq!(c.read_reply(), "+OK");
        assert_eq!(c.read_reply(), format!("\"{i}\""));
    }
    assert_eq!(c.q("DBSIZE"), ":10000");
}

#[test]
fn a_pipelining_client_does_not_starve_others() {
    let s = common::start_with(&[("threads", "1"), ("shards", "1")]);
    let mut heavy = s.connect();
    let mut batch = Vec::new();
    for _ in 0..200_000 {
        batch.extend(common::encode(&[b"INCR", b"counter"]));
    }
    let writer = {
        let mut stream = heavy.stream().try_clone().unwrap();
        std::thread::spawn(move || stream.write_all(&batch).unwrap())
    };
    let mut light = s.connect();
    // The light client is answered while the heavy one is being served.
    assert_eq!(light.q("PING"), "+PONG");
    for i in 1..=200_000 {
        assert_eq!(heavy.read_reply(), format!(":{i}"));
    }
    writer.join().unwrap();
}

#[test]
fn big_values_in_pieces() {
    let s = common::start();
    let mut c = s.connect();
    let value: Vec<u8> = (0..20 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let frame = common::encode(&[b"SET", b"big", &value]);
    for piece in frame.chunks(7919) {
        c.send_raw(piece);
    }
    assert_eq!(c.read_reply(), "+OK");
    assert_eq!(c.q("STRLEN big"), format!(":{}", value.len()));
    // Read the raw reply back and compare the bytes.
    c.send_raw(&common::encode(&[b"GET", b"big"]));
    let mut stream = c.stream().try_clone().unwrap();
    let header = format!("${}\r\n", value.len());
    let mut got = vec![0u8; header.len() + value.len() + 2];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(&got[..header.len()], header.as_bytes());
    assert!(got[header.len()..header.len() + value.len()] == value[..]);
}

#[test]
fn clients_that_vanish_mid_command() {
    let s = common::start();
    for partial in [&b"*3\r\n$3\r\nSET\r\n$1\r\nk"[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc", b"GET k"] {
        let mut raw = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        raw.write_all(partial).unwrap();
        drop(raw);
    }
    let mut c = s.connect();
    assert_eq!(c.q("EXISTS k"), ":0");
    // The half-sent clients are gone.
    for _ in 0..100 {
        if c.q("INFO clients").contains("connected_clients:1\\r\\n") {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("vanished clients still listed");
}

#[test]
fn garbage_bytes_do_not_hurt() {
    let s = common::start();
    let mut state = 0x2545F4914F6CDD1Du64;
    for _ in 0..200 {
        let mut raw = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let len = (state % 300) as usize + 1;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let _ = raw.write_all(&bytes);
    }
    still_serves(&s);
}

/// A client that pipelines big replies and never reads them: the server
/// stops reading its commands once its output is large, so memory stays
/// bounded, and everyone else is served.
#[test]
fn a_client_that_never_reads_is_held_back() {
    let s = common::start();
    let mut c = s.connect();
    c.cmd(&["SET", "v", &"x".repeat(100 * 1024)]);
    let mut silent = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    silent.write_all(&common::encode(&[b"CLIENT", b"SETNAME", b"silent"])).unwrap();
    let get = common::encode(&[b"GET", b"v"]);
    let batch: Vec<u8> = get.iter().copied().cycle().take(get.len() * 5000).collect();
    let writer = {
        let mut w = silent.try_clone().unwrap();
        w.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
        std::thread::spawn(move || {
            let _ = w.write_all(&batch);
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let list = common::unquote(&c.q("CLIENT LIST"));
    let line = list.lines().find(|l| l.contains("name=silent")).expect("silent client listed");
    let field = |name: &str| -> usize {
        line.split(' ').find_map(|f| f.strip_prefix(&format!("{name}="))).unwrap().parse().unwrap()
    };
    assert!(field("obl") <= 8 * 1024 * 1024, "output held: {line}");
    assert!(field("qbuf") <= 2 * 1024 * 1024, "input held: {line}");
    assert_eq!(c.q("PING"), "+PONG");
    drop(silent);
    writer.join().unwrap();
    still_serves(&s);
}

#[test]
fn output_buffer_hard_limit_disconnects() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.cmd(&["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0"]), "+OK");
    c.cmd(&["SET", "v", &"x".repeat(200 * 1024)]);
    let mut silent = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let get = common::encode(&[b"GET", b"v"]);
    let batch: Vec<u8> = get.iter().copied().cycle().take(get.len() * 200).collect();
    silent.write_all(&batch).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // The server closed it: reading drains what was sent, then EOF or reset.
    let mut sink = vec![0u8; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match silent.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(Instant::now() < deadline, "still open"),
        }
    }
    still_serves(&s);
}

#[test]
fn query_buffer_limit_disconnects() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("CONFIG SET client-query-buffer-limit 1mb"), "+OK");
    let mut big = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    big.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n").unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..40 {
        if big.write_all(&chunk).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if !closed {
        big.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 16];
        closed = matches!(big.read(&mut b), Ok(0) | Err(_));
    }
    assert!(closed);
    assert_eq!(c.q("EXISTS k"), ":0");
}

#[test]
fn ten_thousand_connections_come_and_go() {
    let s = common::start();
    for _ in 0..20 {
        let conns: Vec<TcpStream> = (0..500).map(|_| TcpStream::connect(("127.0.0.1", s.port)).unwrap()).collect();
        drop(conns);
    }
    let mut c = s.connect();
    assert_eq!(c.q("PING"), "+PONG");
    for _ in 0..200 {
        if c.q("INFO clients").contains("connected_clients:1\\r\\n") {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("closed connections still listed: {}", c.q("INFO clients"));
}

/// A client that reads its replies late still gets all of them: reading
/// resumes once its output drains.
#[test]
fn a_slow_reader_gets_every_reply() {
    let s = common::start();
    let mut c = s.connect();
    c.cmd(&["SET", "v", &"x".repeat(100 * 1024)]);
    let get = common::encode(&[b"GET", b"v"]);
    let batch: Vec<u8> = get.iter().copied().cycle().take(get.len() * 300).collect();
    c.send_raw(&batch);
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..300 {
        assert_eq!(c.read_reply().len(), 100 * 1024 + 2);
    }
    assert_eq!(c.q("PING"), "+PONG");
}
