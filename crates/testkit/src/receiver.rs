//! A scripted HTTP receiver on loopback: answers each request as its script says, and
//! keeps what it received, for tests of clients that retry.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// This status, at once.
    Status(u16),
    /// This status, after a while.
    Late(Duration, u16),
    /// Nothing: the connection is held open, never answered.
    Never,
}

/// What a receiver got: each request's arrival and its body.
pub type Received = Arc<Mutex<Vec<(Instant, String)>>>;

/// A receiver answering the requests as `script` says in turn (its last answer from then
/// on); returns its URL (`http://127.0.0.1:PORT`) and what it receives.
pub fn receiver(script: &[Answer]) -> (String, Received) {
    assert!(!script.is_empty(), "a script answers something");
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    let received = Received::default();
    let (script, log) = (script.to_vec(), received.clone());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let Some(body) = read_request(&stream) else {
                continue;
            };
            log.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((Instant::now(), body));
            let status = match script[n.min(script.len() - 1)] {
                Answer::Never => {
                    held.push(stream);
                    continue;
                }
                Answer::Status(status) => status,
                Answer::Late(delay, status) => {
                    std::thread::sleep(delay);
                    status
                }
            };
            let said = format!("scripted {status}");
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{said}",
                said.len()
            );
        }
    });
    (url, received)
}

/// The body of the request on `stream` (by its `content-length`).
fn read_request(stream: &std::net::TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}
