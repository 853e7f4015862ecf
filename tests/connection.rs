//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, CLIENT.

mod common;

#[test]
fn ping_echo_quit() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("PING"), "+PONG");
    assert_eq!(c.q("ping hello"), "\"hello\"");
    assert_eq!(c.q("PING a b"), "-ERR wrong number of arguments for 'ping' command");
    assert_eq!(c.q("ECHO hi"), "\"hi\"");
    assert_eq!(c.q("ECHO"), "-ERR wrong number of arguments for 'echo' command");
    assert_eq!(c.q("QUIT"), "+OK");
    assert!(c.is_closed());
}

/// A client that sends its commands and shuts down its sending side at
/// once (the shutdown arriving with the data) gets its replies, and then
/// the server closes the connection instead of keeping it.
#[test]
fn half_closed_clients_are_answered_and_closed() {
    use std::io::{Read, Write};
    let s = common::start();
    let mut watcher = s.connect();
    for _ in 0..20 {
        let mut raw = s.connect_raw();
        raw.write_all(b"PING\r\nECHO bye\r\n").unwrap();
        raw.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        raw.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"+PONG\r\n$3\r\nbye\r\n");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let info = watcher.q("INFO clients");
        if info.contains("connected_clients:1\\r\\n") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{info}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// RESET puts the connection back as it was after connecting.
#[test]
fn reset_clears_connection_state() {
    let s = common::start_with(&[("requirepass", "secret")]);
    let mut c = s.connect();
    assert_eq!(c.q("AUTH secret"), "+OK");
    assert_eq!(c.q("CLIENT SETNAME worker"), "+OK");
    assert_eq!(c.q("SELECT 3"), "+OK");
    assert_eq!(c.q("SET k v"), "+OK");
    assert_eq!(c.q("WATCH k"), "+OK");
    assert_eq!(c.q("MULTI"), "+OK");
    assert_eq!(c.q("SET k w"), "+QUEUED");
    // RESET acts at once inside MULTI, and in subscribed mode.
    assert_eq!(c.q("RESET"), "+RESET");
    assert_eq!(c.q("GET k"), "-NOAUTH Authentication required.");
    assert_eq!(c.q("AUTH secret"), "+OK");
    assert_eq!(c.q("EXEC"), "-ERR EXEC without MULTI");
    assert_eq!(c.q("CLIENT GETNAME"), "(nil)");
    assert_eq!(c.q("EXISTS k"), ":0");
    assert_eq!(c.q("SUBSCRIBE ch"), "[\"subscribe\", \"ch\", :1]");
    assert_eq!(c.q("RESET"), "+RESET");
    assert_eq!(c.q("AUTH secret"), "+OK");
    assert_eq!(c.q("PUBSUB NUMSUB ch"), "[\"ch\", :0]");
    assert_eq!(c.q("RESET x"), "-ERR wrong number of arguments for 'reset' command");
    let mut other = s.connect();
    assert_eq!(other.q("AUTH secret"), "+OK");
    assert_eq!(other.q("SELECT 3"), "+OK");
    // The watch went with the RESET: this write fails no one's EXEC.
    assert_eq!(other.q("SET k x"), "+OK");
}

#[test]
fn unknown_commands() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("FOO a b"), "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
    assert_eq!(c.q("foo"), "-ERR unknown command 'foo', with args beginning with: ");
    let long = "x".repeat(200);
    let reply = c.cmd(&["nope", &long]);
    assert_eq!(reply, format!("-ERR unknown command 'nope', with args beginning with: '{}' ", "x".repeat(128)));
}

#[test]
fn hello() {
    let s = common::start();
    let mut c = s.connect();
    let id = c.q("CLIENT ID");
    let reply = c.q("HELLO 2");
    assert_eq!(
        reply,
        format!(
            "[\"server\", \"redis\", \"version\", \"7.0.15\", \"proto\", :2, \"id\", {id}, \"mode\", \"standalone\", \"role\", \"master\", \"modules\", []]"
        )
    );
    assert_eq!(c.q("HELLO"), reply);
    assert_eq!(c.q("HELLO 1"), "-NOPROTO unsupported protocol version");
    assert_eq!(c.q("HELLO x"), "-ERR Protocol version is not an integer or out of range");
    assert_eq!(c.q("HELLO 2 setname"), "-ERR Syntax error in HELLO option 'setname'");
    assert_eq!(c.q("HELLO 2 auth default"), "-ERR Syntax error in HELLO option 'auth'");
    assert_eq!(
        c.cmd(&["HELLO", "2", "SETNAME", "a b"]),
        "-ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(c.q("HELLO 2 SETNAME myname").len(), reply.len());
    assert_eq!(c.q("CLIENT GETNAME"), "\"myname\"");
}

/// RESP3 is not spoken yet: HELLO 3 is declined, so clients stay on RESP2.
#[test]
fn hello_declines_resp3() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("HELLO 3"), "-NOPROTO unsupported protocol version");
    assert_eq!(c.q("PING"), "+PONG");
}

#[test]
fn auth_without_password() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(
        c.q("AUTH x"),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
    assert_eq!(c.q("AUTH default x"), "+OK");
    assert_eq!(c.q("AUTH a b"), "-WRONGPASS invalid username-password pair or user is disabled.");
}

#[test]
fn auth_with_requirepass() {
    let s = common::start_with(&[("requirepass", "secret")]);
    let mut c = s.connect();
    assert_eq!(c.q("GET k"), "-NOAUTH Authentication required.");
    assert_eq!(c.q("NOSUCH k"), "-ERR unknown command 'NOSUCH', with args beginning with: 'k' ");
    assert_eq!(c.q("GET"), "-ERR wrong number of arguments for 'get' command");
    assert_eq!(c.q("AUTH wrong"), "-WRONGPASS invalid username-password pair or user is disabled.");
    assert_eq!(c.q("HELLO 2 AUTH default wrong"), "-WRONGPASS invalid username-password pair or user is disabled.");
    assert!(c.q("HELLO 2").starts_with("-NOAUTH HELLO must be called with the client already authenticated"));
    assert_eq!(c.q("AUTH secret"), "+OK");
    assert_eq!(c.q("SET k v"), "+OK");
    let mut d = s.connect();
    assert!(d.q("HELLO 2 AUTH default secret").starts_with("[\"server\""));
    assert_eq!(d.q("GET k"), "\"v\"");
    // Before authenticating, big multibulks are refused as Redis does.
    let mut e = s.connect();
    e.send_raw(b"*11\r\n");
    assert_eq!(e.read_reply(), "-ERR Protocol error: unauthenticated multibulk length");
    assert!(e.is_closed());
}

#[test]
fn client_name_id_info() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("CLIENT GETNAME"), "(nil)");
    assert_eq!(c.q("CLIENT SETNAME conn-1"), "+OK");
    assert_eq!(c.q("CLIENT GETNAME"), "\"conn-1\"");
    assert_eq!(
        c.cmd(&["CLIENT", "SETNAME", "a b"]),
        "-ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", ""]), "+OK");
    assert_eq!(c.q("CLIENT GETNAME"), "(nil)");
    let id = c.q("CLIENT ID");
    assert!(id.starts_with(':'));
    let info = common::unquote(&c.q("CLIENT INFO"));
    assert!(info.starts_with(&format!("id={} addr=127.0.0.1:", &id[1..])), "{info}");
    assert!(info.contains(" cmd=client|info "), "{info}");
    assert!(info.ends_with('\n'));
    assert_eq!(c.q("CLIENT SETNAME"), "-ERR wrong number of arguments for 'client|setname' command");
    assert_eq!(c.q("CLIENT FOO"), "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.");
    assert_eq!(c.q("CLIENT"), "-ERR wrong number of arguments for 'client' command");
    assert_eq!(c.q("CLIENT NO-EVICT on"), "+OK");
    assert_eq!(c.q("CLIENT NO-EVICT maybe"), "-ERR syntax error");
}

/// CLIENT SETINFO comes from Redis 7.2; client libraries send it on connect.
#[test]
fn client_setinfo_from_7_2() {
    let s = common::start();
    let mut c = s.connect();
    assert_eq!(c.q("CLIENT SETINFO lib-name redis-py"), "+OK");
    assert_eq!(c.q("CLIENT SETINFO lib-ver 1.0"), "+OK");
    assert_eq!(c.q("CLIENT SETINFO foo 1"), "-ERR Unrecognized option 'foo'");
    assert_eq!(
        c.cmd(&["CLIENT", "SETINFO", "lib-name", "a b"]),
        "-ERR lib-name cannot contain spaces, newlines or special characters."
    );
    let info = common::unquote(&c.q("CLIENT INFO"));
    assert!(info.contains("lib-name=redis-py lib-ver=1.0"), "{info}");
}

#[test]
fn client_list_and_kill_across_threads() {
    let s = common::start();
    let mut admin = s.connect();
    let mut others: Vec<common::Conn> = (0..6).map(|_| s.connect()).collect();
    let ids: Vec<String> = others.iter_mut().map(|c| c.q("CLIENT ID")[1..].to_string()).collect();
    let list = common::unquote(&admin.q("CLIENT LIST"));
    assert_eq!(list.lines().count(), 7, "{list}");
    for id in &ids {
        assert!(list.contains(&format!("id={id} ")), "{list}");
    }
    let only = common::unquote(&admin.cmd(&["CLIENT", "LIST", "ID", &ids[0]]));
    assert_eq!(only.lines().count(), 1);
    assert_eq!(admin.q("CLIENT LIST TYPE pubsub"), "\"\"");
    assert_eq!(admin.q("CLIENT LIST TYPE foo"), "-ERR Unknown client type 'foo'");
    // Kill each of the others, by id, whichever thread owns it.
    for (conn, id) in others.iter_mut().zip(&ids) {
        assert_eq!(admin.cmd(&["CLIENT", "KILL", "ID", id]), ":1");
        assert!(conn.is_closed(), "client {id} was closed");
    }
    assert_eq!(admin.q("CLIENT KILL ID 999999"), ":0");
    assert_eq!(admin.q("CLIENT KILL ID 0"), "-ERR client-id should be greater than 0");
    assert_eq!(admin.q("CLIENT KILL 1.2.3.4:5"), "-ERR No such client");
    assert_eq!(admin.q("CLIENT KILL FOO bar"), "-ERR syntax error");
    // Old form, by address.
    let mut victim = s.connect();
    assert_eq!(victim.q("PING"), "+PONG");
    let addr = victim.stream().local_addr().unwrap().to_string();
    assert_eq!(admin.cmd(&["CLIENT", "KILL", &addr]), "+OK");
    assert!(victim.is_closed());
    // SKIPME no kills the caller too.
    let my_addr = admin.stream().local_addr().unwrap().to_string();
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "ADDR", &my_addr, "SKIPME", "no"]), ":1");
    assert!(admin.is_closed());
}

#[test]
fn client_reply_modes() {
    let s = common::start();
    let mut c = s.connect();
    // OFF: no replies until ON, whose reply is sent.
    c.send_raw(&common::encode(&[b"CLIENT", b"REPLY", b"OFF"]));
    c.send_raw(&common::encode(&[b"SET", b"k", b"1"]));
    c.send_raw(&common::encode(&[b"CLIENT", b"REPLY", b"ON"]));
    assert_eq!(c.read_reply(), "+OK");
    // SKIP: the next command's reply is dropped.
    c.send_raw(&common::encode(&[b"CLIENT", b"REPLY", b"SKIP"]));
    c.send_raw(&common::encode(&[b"INCR", b"k"]));
    assert_eq!(c.q("GET k"), "\"2\"");
    assert_eq!(c.q("CLIENT REPLY maybe"), "-ERR syntax error");
}
