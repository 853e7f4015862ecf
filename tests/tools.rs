//! Stock Redis tools against our server: redis-cli and redis-benchmark, as
//! installed by `scripts/test` from Debian's redis-tools.

mod common;

use std::process::Command;

fn tool(name: &str) -> Command {
    let found = Command::new("sh").args(["-c", &format!("command -v {name}")]).output().unwrap();
    assert!(found.status.success(), "{name} is not installed: run scripts/test, which installs redis-tools");
    Command::new(name)
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = tool("redis-cli").args(["-p", &port.to_string()]).args(args).output().unwrap();
    assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_commands_scan_repeat_bigkeys() {
    let s = common::start();
    assert_eq!(cli(s.port, &["PING"]), "PONG\n");
    assert_eq!(cli(s.port, &["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(cli(s.port, &["GET", "greeting"]), "hello world\n");
    assert_eq!(cli(s.port, &["-r", "100", "INCR", "n"]).lines().count(), 100);
    assert_eq!(cli(s.port, &["GET", "n"]), "100\n");
    for i in 0..50 {
        cli(s.port, &["SET", &format!("scan:{i}"), "x"]);
    }
    let scanned = cli(s.port, &["--scan", "--pattern", "scan:*"]);
    assert_eq!(scanned.lines().count(), 50);
    let big = cli(s.port, &["--bigkeys"]);
    assert!(big.contains("Biggest string found"), "{big}");
    assert!(big.contains("52 keys"), "{big}");
    assert!(cli(s.port, &["INFO", "server"]).contains("redis_version:7.0.15"));
    assert!(cli(s.port, &["CLIENT", "LIST"]).contains("cmd=client|list"));
}

#[test]
fn redis_cli_stat_and_latency_run() {
    let s = common::start();
    // redis-cli buffers --stat output when it is not a terminal.
    let stat = tool("stdbuf")
        .args(["-oL", "timeout", "2", "redis-cli", "-p", &s.port.to_string(), "--stat", "-i", "0.5"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&stat.stdout);
    assert!(text.contains("keys") && text.contains("clients"), "{text}");
    let latency =
        tool("timeout").args(["2", "redis-cli", "-p", &s.port.to_string(), "--latency", "--raw"]).output().unwrap();
    let text = String::from_utf8_lossy(&latency.stdout);
    assert!(text.split_whitespace().count() >= 3, "{text:?}");
}

#[test]
fn redis_benchmark_core_tests_run_clean() {
    let s = common::start();
    for pipeline in ["1", "16"] {
        let out = tool("redis-benchmark")
            .args(["-p", &s.port.to_string(), "-q", "-n", "20000", "-c", "50", "-P", pipeline])
            .args(["-t", "ping_inline,ping_mbulk,set,get,incr,mset,hset,sadd,spop,lpush,rpush,lpop,rpop,lrange_100"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        for test in [
            "PING_INLINE",
            "PING_MBULK",
            "SET",
            "GET",
            "INCR",
            "MSET",
            "HSET",
            "SADD",
            "SPOP",
            "LPUSH",
            "RPUSH",
            "LPOP",
            "RPOP",
            "LRANGE_100",
        ] {
            let done = text
                .split(['\r', '\n'])
                .any(|l| l.trim_start().starts_with(test) && l.contains(" requests per second"));
            assert!(done, "{test}: {text}");
        }
        assert!(!text.contains("ERR"), "{text}");
    }
}

/// redis-benchmark's whole default test list runs with no error.
#[test]
fn redis_benchmark_full_default_run_is_clean() {
    let s = common::start();
    let out = tool("timeout")
        .args(["300", "redis-benchmark", "-p", &s.port.to_string(), "-q", "-n", "2000", "-c", "20"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("ERR") && !text.contains("Error"), "{text}");
    let finished = text.split(['\r', '\n']).filter(|l| l.contains(" requests per second")).count();
    assert_eq!(finished, 20, "every default test reported: {text}");
}
