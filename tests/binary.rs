//! The `kvstore-server` binary: flags, config files, start-up errors,
//! signals.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_kvstore-server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn help_and_version() {
    let (code, text) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(text.contains("Usage: kvstore-server"));
    let (code, text) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(text.starts_with("kvstore-server v="), "{text}");
}

#[test]
fn bad_directives_stop_start_up() {
    let (code, text) = run(&["--port", "99999"]);
    assert_eq!(code, 1);
    assert!(text.contains("--port"), "{text}");
    let (code, text) = run(&["--nonsense", "1"]);
    assert_eq!(code, 1);
    assert!(text.contains("nonsense"), "{text}");
    let (code, text) = run(&["--cluster-enabled", "yes"]);
    assert_eq!(code, 1);
    assert!(text.contains("cluster mode"), "{text}");
    let dir = std::env::temp_dir().join(format!("kvstore-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.conf");
    std::fs::write(&file, "# comment\nport 7000\n\nbogus-directive yes\n").unwrap();
    let (code, text) = run(&[file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(text.contains("bad.conf:4") && text.contains("bogus-directive"), "{text}");
    let (code, text) = run(&["/nonexistent/kvstore.conf"]);
    assert_eq!(code, 1);
    assert!(text.contains("/nonexistent/kvstore.conf"), "{text}");
}

#[test]
fn port_in_use_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, text) = run(&["--port", &port]);
    assert_eq!(code, 1);
    assert!(text.contains("Address already in use"), "{text}");
}

#[test]
fn config_file_then_flags_then_sigterm() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("kvstore-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("kvstore.conf");
    std::fs::write(&file, "port 1\nthreads 2\nshards 3\nsave \"\"\nrequirepass \"s3cret\"\n").unwrap();
    let mut child = Command::new(BIN)
        .arg(file.to_str().unwrap())
        .args(["--port", &port.to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let ready = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("listening"))).unwrap().unwrap();
    assert!(ready.contains(&format!("127.0.0.1:{port}")) && ready.contains("2 threads and 3 shards"), "{ready}");
    let mut c = common::Conn::connect(port);
    assert_eq!(c.q("PING"), "-NOAUTH Authentication required.");
    assert_eq!(c.q("AUTH s3cret"), "+OK");
    assert_eq!(c.q("CONFIG GET shards"), "[\"shards\", \"3\"]");
    assert_eq!(c.q("CONFIG SET maxclients 123"), "+OK");
    assert_eq!(c.q("CONFIG REWRITE"), "+OK");
    let rewritten = std::fs::read_to_string(&file).unwrap();
    assert!(rewritten.contains("\nmaxclients 123\n"), "{rewritten}");
    assert!(rewritten.starts_with(&format!("port {port}\n")), "the running port is written: {rewritten}");
    assert!(rewritten.contains("requirepass s3cret\n"), "{rewritten}");
    // SIGTERM: graceful exit with status 0.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(status, Some(0));
}

#[test]
fn shutdown_command_exits_0() {
    let port = free_port();
    let mut child =
        Command::new(BIN).args(["--port", &port.to_string(), "--save", ""]).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("listening"))).unwrap().unwrap();
    let mut c = common::Conn::connect(port);
    c.send_raw(&common::encode(&[b"SHUTDOWN"]));
    assert!(c.is_closed());
    assert_eq!(wait_timeout(&mut child, Duration::from_secs(10)), Some(0));
}

fn wait_timeout(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}
