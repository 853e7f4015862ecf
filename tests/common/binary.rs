//! The real `kvstore-server` binary as a child process: for what only the
//! binary has (its counting allocator) or only a process can suffer
//! (SIGKILL, SIGSTOP).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Its config file, in its directory, if it was given one.
const CONFIG_FILE: &str = "kvstore.conf";

/// A running binary, killed when dropped.
pub struct Binary {
    child: Child,
    pub port: u16,
    /// Its working directory, where its files are.
    pub dir: PathBuf,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    /// Starts one on a free port with one event-loop thread, in a
    /// directory of its own (so it never loads a file something else
    /// left), with `extra` arguments after (a later one wins); returns once
    /// it listens.
    pub fn start(extra: &[&str]) -> Binary {
        Binary::start_with_config("", extra)
    }

    /// As `start`, with a config file holding `config` (which CONFIG
    /// REWRITE then updates: `config_file()` reads it back).
    pub fn start_with_config(config: &str, extra: &[&str]) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = super::temp_dir(&format!("binary-{port}"));
        if !config.is_empty() {
            std::fs::write(dir.join(CONFIG_FILE), config).unwrap();
        }
        Binary::start_at(port, dir, extra)
    }

    /// The config file's text now.
    pub fn config_file(&self) -> String {
        std::fs::read_to_string(self.dir.join(CONFIG_FILE)).unwrap_or_default()
    }

    /// Kills it with SIGKILL and starts it again on its port, in its
    /// directory (so it loads what it had persisted), with `extra`.
    pub fn restart(self, extra: &[&str]) -> Binary {
        let (port, dir) = (self.port, self.dir.clone());
        self.kill();
        Binary::start_at(port, dir, extra)
    }

    fn start_at(port: u16, dir: PathBuf, extra: &[&str]) -> Binary {
        let mut binary = Binary::spawn_at(port, dir, extra, Stdio::piped());
        let mut lines = BufReader::new(binary.child.stderr.take().unwrap()).lines();
        lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("listening"))).unwrap().unwrap();
        binary
    }

    /// Starts one on a free port in `dir` (with the files there) without
    /// waiting until it is ready: it listens while it loads them.
    pub fn spawn_in(dir: PathBuf, extra: &[&str]) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Binary::spawn_at(port, dir, extra, Stdio::null())
    }

    fn spawn_at(port: u16, dir: PathBuf, extra: &[&str], stderr: Stdio) -> Binary {
        let config = dir.join(CONFIG_FILE);
        let child = Command::new(env!("CARGO_BIN_EXE_kvstore-server"))
            .args(config.exists().then_some(&config))
            .args(["--port", &port.to_string(), "--save", "", "--threads", "1"])
            .args(["--dir", dir.to_str().unwrap()])
            .args(extra)
            .stderr(stderr)
            .spawn()
            .unwrap();
        Binary { child, port, dir }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for it to exit by itself.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    /// A connection as soon as it listens (it may still be loading).
    pub fn connect_when_listening(&self) -> super::Conn {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "the server never listened");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        self.connect()
    }

    /// Ends it with SIGKILL, at once.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn connect(&self) -> super::Conn {
        super::Conn::connect(self.port)
    }
}
