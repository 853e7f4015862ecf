//! maxmemory and memory reporting, on the real binary (its allocator
//! counts memory; the in-process test server's does not): what is refused
//! above the limit, compared reply for reply with redis-server, and INFO
//! memory's allocator figures.

mod common;

use common::binary::Binary;

fn start_binary() -> (Binary, u16) {
    start_binary_with(&[])
}

fn start_binary_with(extra: &[&str]) -> (Binary, u16) {
    let binary = Binary::start(extra);
    let port = binary.port;
    (binary, port)
}

/// Under noeviction past the limit, commands that may grow memory get
/// Redis's OOM error (inside MULTI, every queued command does, and EXEC
/// aborts); reads, deletions and scripts that do not write still run; a
/// script's write is refused with the script's location appended.
#[test]
fn noeviction_refuses_what_would_grow_memory() {
    let (_ours, port) = start_binary();
    let reference = common::Reference::start(&[]);
    let mut ours = common::Conn::connect(port);
    let mut theirs = common::Conn::connect(reference.port);
    let steps = [
        "SET k v",
        "RPUSH q a",
        "CONFIG SET maxmemory 1",
        "SET a b",
        "GET k",
        "INCR n",
        "LPUSH l x",
        "LPOP q",
        "EXPIRE k 100",
        "EVAL return 1 0",
        "PING",
        "MULTI",
        "SET a b",
        "GET a",
        "EXEC",
        "DEL k",
        "CONFIG SET maxmemory 0",
        "SET a b",
        "GET a",
    ];
    for line in steps {
        assert_eq!(ours.q(line), theirs.q(line), "{line}");
    }
    // Words with spaces: the script that writes.
    let script: [&[u8]; 3] = [b"EVAL", b"return redis.call('set','x','y')", b"0"];
    for c in [&mut ours, &mut theirs] {
        assert_eq!(c.q("CONFIG SET maxmemory 1"), "+OK");
    }
    assert_eq!(ours.cmd_bytes(&script), theirs.cmd_bytes(&script));
    assert!(ours.cmd_bytes(&script).starts_with("-OOM command not allowed when used memory > 'maxmemory'. script:"));
    // A transaction queued under the limit, executed over it.
    for c in [&mut ours, &mut theirs] {
        assert_eq!(c.q("CONFIG SET maxmemory 0"), "+OK");
        assert_eq!(c.q("MULTI"), "+OK");
        assert_eq!(c.q("SET t 1"), "+QUEUED");
    }
    let mut config = common::Conn::connect(port);
    let mut reference_config = common::Conn::connect(reference.port);
    assert_eq!(config.q("CONFIG SET maxmemory 1"), reference_config.q("CONFIG SET maxmemory 1"));
    assert_eq!(ours.q("EXEC"), theirs.q("EXEC"));
    let info = ours.q("INFO memory");
    assert!(info.contains("maxmemory:1\\r\\n"), "{info}");
}

/// INFO memory reports the allocator's own figures from the real binary,
/// under Redis's field names, with the ratios consistent with them.
#[test]
fn info_memory_reports_the_allocator() {
    let (_ours, port) = start_binary();
    let mut c = common::Conn::connect(port);
    let info = c.q("INFO memory");
    let field = |name: &str| -> String {
        info.split("\\r\\n")
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .to_string()
    };
    let int = |name: &str| field(name).parse::<i64>().unwrap();
    assert!(field("mem_allocator").starts_with("jemalloc-"), "{info}");
    assert!(int("allocator_allocated") > 0);
    assert!(int("allocator_active") >= int("allocator_allocated"));
    assert!(int("allocator_resident") >= int("allocator_active"));
    assert_eq!(int("allocator_frag_bytes"), int("allocator_active") - int("allocator_allocated"));
    assert!(int("used_memory_startup") > 0 && int("used_memory_startup") <= int("used_memory_peak"));
    assert_eq!(int("number_of_cached_scripts"), 0);
    c.q("SCRIPT LOAD return");
    let info = c.q("INFO memory");
    assert!(info.contains("number_of_cached_scripts:1\\r\\n"), "{info}");
}

/// A server of each kind for the policy tests: ours (the binary) and the
/// reference, each given `policy` and run through the same scenario.
/// Ours runs twice: with one shard, and with four, where the pool must
/// gather candidates from every shard for the coldest keys to go first.
fn both(policy: &str, scenario: impl Fn(&mut common::Conn, &str)) {
    let (_ours, port) = start_binary();
    let (_sharded, sharded_port) = start_binary_with(&["--shards", "4"]);
    let reference = common::Reference::start(&[]);
    for (port, who) in [(port, "ours"), (sharded_port, "ours with 4 shards"), (reference.port, "redis-server")] {
        let mut c = common::Conn::connect(port);
        assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory-policy", policy]), "+OK");
        scenario(&mut c, who);
    }
}

const VALUE: usize = 1000;

/// Writes `count` keys `{prefix}{i}` of `VALUE` bytes, pipelined ten at
/// a time (a deeper pipeline would hold its own bytes in the query
/// buffer, which counts as used memory), each with an expiry of `base +
/// step * i` seconds if `ttl` says so.
fn fill(c: &mut common::Conn, prefix: &str, count: usize, ttl: Option<(u64, u64)>) {
    let value = "v".repeat(VALUE);
    for start in (0..count).step_by(10) {
        let mut batch = Vec::new();
        let end = (start + 10).min(count);
        for i in start..end {
            let key = format!("{prefix}{i}");
            match ttl {
                Some((base, step)) => {
                    let secs = (base + step * i as u64).to_string();
                    batch.extend(common::encode(&[b"SET", key.as_bytes(), value.as_bytes(), b"EX", secs.as_bytes()]));
                }
                None => batch.extend(common::encode(&[b"SET", key.as_bytes(), value.as_bytes()])),
            }
        }
        c.send_raw(&batch);
        for _ in start..end {
            assert_eq!(c.read_reply(), "+OK", "{prefix}");
        }
    }
}

/// DBSIZE and evicted_keys, from one transaction: any command may evict
/// before it runs (its own reply buffer counts as used memory, and memory
/// freed on the freeing thread comes back late), so two separate reads
/// need not agree.
fn keys_and_evicted(c: &mut common::Conn) -> (i64, i64) {
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("DBSIZE"), "+QUEUED");
    assert_eq!(c.q("INFO stats"), "+QUEUED");
    let both = c.q("EXEC");
    let keys = both[2..both.find(',').unwrap()].parse().unwrap();
    let evicted = both.split("evicted_keys:").nth(1).unwrap().split('\\').next().unwrap().parse().unwrap();
    (keys, evicted)
}

/// An INFO field, asking for its section alone (the reply being built
/// is memory in use too).
fn info_int(c: &mut common::Conn, name: &str) -> i64 {
    let section = if name.contains("memory") { "memory" } else { "stats" };
    let info = c.cmd(&["INFO", section]);
    info.split("\\r\\n")
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .parse()
        .unwrap()
}

/// How many of `{prefix}0..count` exist.
fn surviving(c: &mut common::Conn, prefix: &str, count: usize) -> usize {
    let keys: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
    let mut words = vec!["EXISTS"];
    words.extend(keys.iter().map(String::as_str));
    c.cmd(&words).trim_start_matches(':').parse().unwrap()
}

/// Sets maxmemory to what the server uses now, so what is written next
/// must be paid for by evictions.
fn limit_to_now(c: &mut common::Conn) {
    let used = info_int(c, "used_memory");
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", &used.to_string()]), "+OK");
}

/// Eviction samples, in both servers, so which keys go is right within a
/// sampling error: the bounds below leave room for a few misses where
/// evicting at random would miss by hundreds.
///
/// allkeys-lru: keys idle for long (restored with IDLETIME) go before keys
/// read just now, though the two live in different shards (their hash
/// tags put them there when there are four), the limit holds, evictions are counted and announced.
#[test]
fn allkeys_lru_evicts_the_idle_keys_first() {
    both("allkeys-lru", |c, who| {
        fill(c, "{c}cold", 300, None);
        // Make every cold key idle for a day.
        for i in 0..300 {
            let key = format!("{{c}}cold{i}");
            let dump = c.bulk_bytes(&[b"DUMP", key.as_bytes()]).unwrap();
            assert_eq!(
                c.cmd_bytes(&[b"RESTORE", key.as_bytes(), b"0", &dump, b"REPLACE", b"IDLETIME", b"86400"]),
                "+OK"
            );
        }
        // A second may tick between RESTORE and OBJECT.
        let idle = c.q("OBJECT IDLETIME {c}cold7");
        assert!(idle == ":86400" || idle == ":86401", "{who}: {idle}");
        fill(c, "{b}hot", 50, None);
        let mut events = common::Conn::connect(c.stream().peer_addr().unwrap().port());
        assert_eq!(events.q("CONFIG SET notify-keyspace-events Ee"), "+OK");
        events.send("SUBSCRIBE __keyevent@0__:evicted");
        assert!(events.read_reply().contains("subscribe"));
        limit_to_now(c);
        fill(c, "{d}new", 200, None);
        assert!(surviving(c, "{b}hot", 50) >= 45, "{who}: keys read recently were evicted");
        assert!(surviving(c, "{d}new", 200) >= 190, "{who}");
        let (keys, evicted) = keys_and_evicted(c);
        assert!(evicted >= 150, "{who}: {evicted} evicted");
        assert_eq!(keys, 550 - evicted, "{who}");
        assert!(surviving(c, "{c}cold", 300) <= 150, "{who}");
        assert!(info_int(c, "used_memory") <= info_int(c, "maxmemory"), "{who}");
        let event = events.read_reply();
        assert!(event.starts_with("[\"message\", \"__keyevent@0__:evicted\", \"{c}cold"), "{who}: {event}");
    });
}

/// allkeys-lfu: keys read often outlive keys never read, and OBJECT FREQ
/// reports the counter.
#[test]
fn allkeys_lfu_keeps_the_frequently_read_keys() {
    both("allkeys-lfu", |c, who| {
        fill(c, "hot", 50, None);
        fill(c, "cold", 300, None);
        let mut reads = Vec::new();
        for _ in 0..30 {
            for i in 0..50 {
                reads.extend(common::encode(&[b"GET", format!("hot{i}").as_bytes()]));
            }
        }
        c.send_raw(&reads);
        for _ in 0..30 * 50 {
            c.read_reply();
        }
        let freq: i64 = c.q("OBJECT FREQ hot3").trim_start_matches(':').parse().unwrap();
        assert!(freq > 5, "{who}: {freq}");
        assert_eq!(c.q("OBJECT FREQ cold3"), ":5", "{who}");
        assert!(c.q("OBJECT IDLETIME hot3").starts_with("-ERR An LFU maxmemory policy is selected"), "{who}");
        limit_to_now(c);
        fill(c, "new", 150, None);
        assert!(surviving(c, "hot", 50) >= 45, "{who}: frequently read keys were evicted");
        assert!(info_int(c, "evicted_keys") >= 100, "{who}");
    });
}

/// volatile-ttl: the keys closest to expiring go first; keys without a
/// TTL stay.
#[test]
fn volatile_ttl_evicts_the_nearest_expiry_first() {
    both("volatile-ttl", |c, who| {
        fill(c, "keep", 100, None);
        fill(c, "soon", 200, Some((1000, 1)));
        fill(c, "late", 200, Some((100_000, 1)));
        limit_to_now(c);
        fill(c, "new", 100, None);
        assert_eq!(surviving(c, "keep", 100), 100, "{who}");
        assert!(surviving(c, "late", 200) >= 190, "{who}: late-expiring keys went before the early ones");
        assert!(surviving(c, "soon", 200) <= 120, "{who}");
    });
}

/// volatile-lru and volatile-random evict only keys with a TTL; with none
/// left, writes get the OOM error and reads work.
#[test]
fn volatile_policies_spare_persistent_keys_then_refuse() {
    for policy in ["volatile-lru", "volatile-random", "volatile-lfu"] {
        both(policy, |c, who| {
            fill(c, "keep", 100, None);
            fill(c, "ttl", 100, Some((1000, 0)));
            limit_to_now(c);
            fill(c, "new", 50, None);
            assert_eq!(surviving(c, "keep", 100), 100, "{who} {policy}");
            assert!(surviving(c, "ttl", 100) <= 60, "{who} {policy}");
            // Past what the TTL keys can pay for.
            let value = "v".repeat(VALUE);
            let mut refused = None;
            for i in 0..200 {
                let reply = c.cmd(&["SET", &format!("more{i}"), &value]);
                if reply != "+OK" {
                    refused = Some(reply);
                    break;
                }
            }
            assert_eq!(
                refused.as_deref(),
                Some("-OOM command not allowed when used memory > 'maxmemory'."),
                "{who} {policy}"
            );
            assert_eq!(surviving(c, "ttl", 100), 0, "{who} {policy}");
            assert_eq!(common::unquote(&c.q("GET keep1")).len(), VALUE, "{who} {policy}");
        });
    }
}

/// allkeys-random evicts, keeps to the limit, and counts.
#[test]
fn allkeys_random_keeps_to_the_limit() {
    both("allkeys-random", |c, who| {
        fill(c, "a", 300, None);
        limit_to_now(c);
        fill(c, "b", 200, None);
        let (keys, evicted) = keys_and_evicted(c);
        assert!(evicted >= 150, "{who}: {evicted}");
        assert_eq!(keys, 500 - evicted, "{who}");
        assert!(info_int(c, "used_memory") <= info_int(c, "maxmemory"), "{who}");
    });
}

/// Lowering maxmemory at run time evicts down to it, big values freed on
/// the freeing thread under lazyfree-lazy-eviction.
#[test]
fn lowering_the_limit_evicts_down_to_it() {
    both("allkeys-lru", |c, who| {
        assert_eq!(c.q("CONFIG SET lazyfree-lazy-eviction yes"), "+OK");
        for h in 0..40 {
            let mut words = vec!["HSET".to_string(), format!("hash{h}")];
            for f in 0..500 {
                words.push(format!("field{f}"));
                words.push("x".repeat(40));
            }
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            assert_eq!(c.cmd(&words), ":500", "{who}");
        }
        let used = info_int(c, "used_memory");
        let startup = info_int(c, "used_memory_startup");
        let limit = startup + (used - startup) / 2;
        assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory", &limit.to_string()]), "+OK");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while info_int(c, "used_memory") > limit {
            assert!(std::time::Instant::now() < deadline, "{who}: still over the limit");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (left, evicted) = keys_and_evicted(c);
        assert!((5..=25).contains(&left), "{who}: {left} hashes left");
        assert_eq!(evicted, 40 - left, "{who}");
    });
}

/// Evicted keys are recorded in the AOF as deletions: after a restart
/// without a limit, exactly the keys that were left come back.
#[test]
fn evictions_are_recorded_in_the_aof() {
    let dir = common::temp_dir("evict-aof");
    let dir_arg = dir.to_str().unwrap();
    let args = ["--dir", dir_arg, "--appendonly", "yes", "--appendfsync", "always"];
    let (server, port) = start_binary_with(&args);
    let mut c = common::Conn::connect(port);
    assert_eq!(c.q("CONFIG SET maxmemory-policy allkeys-random"), "+OK");
    fill(&mut c, "a", 300, None);
    limit_to_now(&mut c);
    fill(&mut c, "b", 200, None);
    assert_eq!(c.q("CONFIG SET maxmemory 0"), "+OK");
    let (keys, evicted) = keys_and_evicted(&mut c);
    assert!(evicted >= 150, "{evicted}");
    let mut names: Vec<String> = common::items(&c.q("KEYS *"));
    names.sort();
    drop(server);
    let (_again, port) = start_binary_with(&args);
    let mut c = common::Conn::connect(port);
    assert_eq!(c.q("DBSIZE"), format!(":{keys}"));
    let mut after: Vec<String> = common::items(&c.q("KEYS *"));
    after.sort();
    assert_eq!(after, names);
}
