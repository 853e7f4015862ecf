//! The benchmark floor: a server that finds where each RESP frame ends and
//! answers `+OK`, doing nothing else. What it costs per request is what the
//! network calls and the event loop cost by themselves; `scripts/bench
//! --variants floor` runs the suite against it, so a command's real cost
//! is what it takes above this.
//!
//! Usage: cargo run --release --example floor -- PORT

use std::collections::HashMap;
use std::io::{self, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(0);

/// How far a buffer holds whole frames: the offset after the last one,
/// and how many there are. Only the lengths are read.
fn whole_frames(buf: &[u8]) -> (usize, usize) {
    let (mut at, mut frames) = (0, 0);
    'frames: while at < buf.len() {
        let line_end = |from: usize| buf[from..].iter().position(|&b| b == b'\n').map(|p| from + p + 1);
        let number = |from: usize, to: usize| -> usize {
            std::str::from_utf8(&buf[from + 1..to - 2]).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
        };
        let Some(mut next) = line_end(at) else { break };
        if buf[at] == b'*' {
            for _ in 0..number(at, next) {
                let Some(end) = line_end(next) else { break 'frames };
                let len = number(next, end);
                if end + len + 2 > buf.len() {
                    break 'frames;
                }
                next = end + len + 2;
            }
        }
        at = next;
        frames += 1;
    }
    (at, frames)
}

fn main() -> io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(7399);
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: HashMap<Token, (TcpStream, Vec<u8>)> = HashMap::new();
    let mut next = 1;
    let mut events = Events::with_capacity(1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            if event.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    let token = Token(next);
                    next += 1;
                    stream.set_nodelay(true)?;
                    poll.registry().register(&mut stream, token, Interest::READABLE)?;
                    conns.insert(token, (stream, Vec::new()));
                }
                continue;
            }
            let Some((stream, pending)) = conns.get_mut(&event.token()) else { continue };
            let mut closed = false;
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => pending.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            let (used, frames) = whole_frames(pending);
            pending.drain(..used);
            out.clear();
            for _ in 0..frames {
                out.extend_from_slice(b"+OK\r\n");
            }
            // Replies are small; a full socket buffer is not waited for.
            if closed || stream.write_all(&out).is_err() {
                conns.remove(&event.token());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::whole_frames;

    #[test]
    fn frames_are_found_by_their_lengths() {
        let two = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
        assert_eq!(whole_frames(two), (two.len(), 2));
        assert_eq!(whole_frames(&two[..20]), (20, 1));
        assert_eq!(whole_frames(&two[..19]), (0, 0));
        assert_eq!(whole_frames(b"PING\r\n"), (6, 1));
    }
}
