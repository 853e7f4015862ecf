//! Test support: a real server started in-process on a free loopback port
//! (2 threads, 2 shards, so cross-shard paths always run), and a plain TCP
//! client that shows each reply in a compact, exact form:
//! `+OK`, `-ERR ...`, `:1`, `"bulk"` (Rust-escaped), `(nil)`, `[a, b]`.
//!
//! To check the expectations themselves against the reference Redis, run a
//! test file with `KVSTORE_TEST_EXTERNAL_PORT=<port of a redis-server>` and
//! `--test-threads 1`: each test then flushes and uses that server instead.

#![allow(dead_code)]

pub mod binary;
pub mod data;
pub mod repl;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use kvstore::{Config, Server};

pub struct TestServer {
    server: Option<Server>,
    pub port: u16,
    /// For an external server: settings to restore, and the password set.
    restore: Vec<(String, String)>,
}

impl TestServer {
    pub fn connect(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// A plain socket to the server.
    pub fn connect_raw(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("running")
    }

    /// Stops the server and waits for its threads.
    pub fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
        }
        if !self.restore.is_empty() {
            let mut c = Conn::connect(self.port);
            if let Some((_, _)) = self.restore.iter().find(|(k, _)| k == "requirepass") {
                let password = c.cmd(&["CONFIG", "GET", "requirepass"]);
                if password.starts_with("-NOAUTH") {
                    c.cmd(&["AUTH", &self.password()]);
                }
            }
            for (k, v) in &self.restore {
                c.cmd(&["CONFIG", "SET", k, v]);
            }
        }
    }
}

impl TestServer {
    fn password(&self) -> String {
        std::env::var("KVSTORE_TEST_PASSWORD").unwrap_or_else(|_| "secret".into())
    }
}

/// True when the tests run against an outside server (the reference
/// Redis), so checks of where we deliberately differ are left out.
pub fn external() -> bool {
    std::env::var("KVSTORE_TEST_EXTERNAL_PORT").is_ok()
}

/// A server with 2 threads and 2 shards on a free port.
pub fn start() -> TestServer {
    start_with(&[])
}

/// Like `start`, with extra directives (`("requirepass", "secret")`).
pub fn start_with(directives: &[(&str, &str)]) -> TestServer {
    if let Some(port) = std::env::var("KVSTORE_TEST_EXTERNAL_PORT").ok().and_then(|p| p.parse().ok()) {
        let mut c = Conn::connect(port);
        assert_eq!(c.q("FLUSHALL"), "+OK");
        let mut restore = Vec::new();
        for (k, v) in directives {
            let old = items(&c.cmd(&["CONFIG", "GET", k]));
            restore.push((k.to_string(), old.get(1).cloned().unwrap_or_default()));
            c.cmd(&["CONFIG", "SET", k, v]);
        }
        return TestServer { server: None, port, restore };
    }
    let mut config = Config::default();
    for (k, v) in [("port", "0"), ("threads", "2"), ("shards", "2"), ("save", "")].iter().chain(directives) {
        config.apply(k, &[v.to_string()]).unwrap_or_else(|e| panic!("{k}: {e}"));
    }
    let server = Server::start(config).expect("server starts");
    let port = server.port();
    TestServer { server: Some(server), port, restore: Vec::new() }
}

pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn { reader: BufReader::new(stream) }
    }

    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Sends a command given as words and returns its reply.
    pub fn cmd(&mut self, words: &[&str]) -> String {
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        self.cmd_bytes(&args)
    }

    /// `c.q("SET k v")`: a command written as one space-separated line.
    pub fn q(&mut self, line: &str) -> String {
        let words: Vec<&str> = line.split(' ').collect();
        self.cmd(&words)
    }

    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> String {
        self.send_raw(&encode(args));
        self.read_reply()
    }

    /// A command whose reply is a bulk string, as raw bytes (`None` for a
    /// null); panics on any other reply.
    pub fn bulk_bytes(&mut self, args: &[&[u8]]) -> Option<Vec<u8>> {
        self.send_raw(&encode(args));
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a reply");
        let len: i64 =
            line.strip_prefix('$').unwrap_or_else(|| panic!("not a bulk: {line:?}")).trim_end().parse().unwrap();
        if len < 0 {
            return None;
        }
        let mut data = vec![0; len as usize + 2];
        self.reader.read_exact(&mut data).expect("bulk data");
        data.truncate(len as usize);
        Some(data)
    }

    /// Sends a command line without waiting for its reply.
    pub fn send(&mut self, line: &str) {
        let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.send_raw(&encode(&words));
    }

    /// True when no reply byte arrives within `ms` milliseconds.
    pub fn silent_for(&mut self, ms: u64) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        let stream = self.reader.get_ref();
        stream.set_read_timeout(Some(Duration::from_millis(ms))).unwrap();
        let mut byte = [0u8; 1];
        let silent = match stream.peek(&mut byte) {
            Ok(_) => false,
            Err(e) => matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        };
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        silent
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// Reads one reply.
    pub fn read_reply(&mut self) -> String {
        read_value(&mut self.reader).expect("a reply")
    }

    /// The next line a primary sends a replica during its sync (the
    /// answer to PSYNC, the snapshot's header), after any newlines it sends
    /// meanwhile to keep the link alive.
    pub fn read_sync_line(&mut self) -> String {
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("a line");
            if !line.trim_end().is_empty() {
                return line.trim_end().to_string();
            }
        }
    }

    /// Reads a full sync's snapshot as a replica does, after any newlines
    /// the primary sends to keep the link alive: `$<len>` and that many
    /// bytes, or `$EOF:<mark>` and the bytes up to the mark. Returns the
    /// header and the file's bytes.
    pub fn read_snapshot(&mut self) -> (String, Vec<u8>) {
        let header = self.read_sync_line();
        if let Some(mark) = header.strip_prefix("$EOF:") {
            let mut data = Vec::new();
            while !data.ends_with(mark.as_bytes()) {
                let mut byte = [0u8; 1];
                self.reader.read_exact(&mut byte).expect("snapshot bytes");
                data.push(byte[0]);
            }
            data.truncate(data.len() - mark.len());
            return (header, data);
        }
        let len: usize = header.strip_prefix('$').and_then(|l| l.parse().ok()).expect("a bulk header");
        let mut data = vec![0; len];
        self.reader.read_exact(&mut data).expect("snapshot bytes");
        (header, data)
    }

    /// True when the server closed the connection (EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }
}

/// Waits (up to 10 s) until INFO reports `n` blocked clients.
pub fn wait_blocked(c: &mut Conn, n: usize) {
    let want = format!("blocked_clients:{n}");
    for _ in 0..1000 {
        if c.cmd(&["INFO", "clients"]).contains(&want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never saw {want}");
}

/// A command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    assert!(line.ends_with(b"\r\n"), "line without CRLF: {:?}", String::from_utf8_lossy(&line));
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn read_value(r: &mut impl BufRead) -> std::io::Result<String> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at(1);
    Ok(match kind {
        "+" | "-" | ":" => line,
        "$" => {
            let len: i64 = rest.parse().expect("bulk length");
            if len < 0 {
                return Ok("(nil)".into());
            }
            let mut data = vec![0u8; len as usize + 2];
            r.read_exact(&mut data)?;
            data.truncate(len as usize);
            format!("{:?}", String::from_utf8_lossy(&data))
        }
        "*" => {
            let len: i64 = rest.parse().expect("array length");
            if len < 0 {
                return Ok("(nil array)".into());
            }
            let items: std::io::Result<Vec<String>> = (0..len).map(|_| read_value(r)).collect();
            format!("[{}]", items?.join(", "))
        }
        _ => panic!("not RESP: {line:?}"),
    })
}

/// The text inside a rendered bulk reply (`"abc"` -> `abc`).
pub fn unquote(reply: &str) -> String {
    assert!(reply.starts_with('"') && reply.ends_with('"'), "not a bulk: {reply}");
    reply[1..reply.len() - 1].replace("\\r", "\r").replace("\\n", "\n").replace("\\\"", "\"")
}

/// The items of a rendered flat array of bulks, unquoted.
pub fn items(reply: &str) -> Vec<String> {
    let inner = reply.strip_prefix('[').and_then(|r| r.strip_suffix(']')).expect("an array");
    if inner.is_empty() {
        return Vec::new();
    }
    inner.split(", ").map(|s| s.trim_matches('"').to_string()).collect()
}

/// A reference `redis-server` (Debian's 7.0.x) on a free port, stopped
/// when dropped.
pub struct Reference {
    child: std::process::Child,
    pub port: u16,
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Reference {
    /// The server's process id (to stop and resume it).
    #[allow(dead_code)]
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Starts one with snapshots off, in a directory of its own (so it
    /// never loads a file another test left), and `extra` directives after.
    pub fn start(extra: &[&str]) -> Reference {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = temp_dir(&format!("reference-{port}"));
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", dir.to_str().unwrap()])
            .args(["--enable-debug-command", "yes", "--daemonize", "no", "--loglevel", "warning"])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        let reference = Reference { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        reference
    }

    pub fn connect(&self) -> Conn {
        Conn::connect(self.port)
    }
}

/// A fresh empty directory for one test's files.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kvstore-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
