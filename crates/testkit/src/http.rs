//! A blocking HTTP/1.0 client over a `std` socket: one request per connection, the body
//! delimited by the server closing it (so never chunked), enough for tests to read
//! `/metrics` and Prometheus' API.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A received response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// Body, as received (not decompressed).
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text; panics if it is not UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }
}

/// GETs `url` (`http://host:port/path`) with extra headers; returns status and body text.
/// Panics on any transport error: the caller is a test.
pub fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let response = request("GET", url, headers, b"");
    (response.status, response.text())
}

/// Sends one request with `body` and reads the whole response, within 30 s.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{url}: only http:// URLs"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream =
        TcpStream::connect(authority).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    parse(&raw).unwrap_or_else(|| panic!("{method} {url}: not an HTTP response: {raw:?}"))
}

/// Sends a request whose body the server may refuse before reading it all (a body over
/// a cap): the body is written on a thread of its own, a write the server cut short is
/// no error, and the answer is read meanwhile.
pub fn request_cut_short(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Response {
    let authority = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("{url}: only http:// URLs"));
    let path = &url["http://".len() + authority.len()..];
    let mut stream = TcpStream::connect(authority).unwrap_or_else(|e| panic!("POST {url}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a timeout");
    let mut head = format!(
        "POST {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut writer = stream.try_clone().expect("a second handle");
    let written = std::thread::spawn(move || {
        let _ = writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(&body));
    });
    let mut raw = Vec::new();
    // A reset after the answer arrived ends the read; what came before it counts.
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = written.join();
    parse(&raw).unwrap_or_else(|| panic!("POST {url}: not an HTTP response: {raw:?}"))
}

fn parse(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Response {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    })
}

/// One HTTP/1.1 connection kept open across requests (for loads and benches): each
/// answer is read by its `Content-Length`.
#[derive(Debug)]
pub struct KeepAlive {
    stream: std::io::BufReader<TcpStream>,
    authority: String,
}

impl KeepAlive {
    /// Connects to `authority` (`host:port`).
    pub fn connect(authority: &str) -> std::io::Result<KeepAlive> {
        let stream = TcpStream::connect(authority)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(KeepAlive {
            stream: std::io::BufReader::new(stream),
            authority: authority.to_owned(),
        })
    }

    /// Sends one request and reads its answer.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        use std::io::BufRead;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.authority,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        loop {
            let start = raw.len();
            if self.stream.read_until(b'\n', &mut raw)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if raw[start..] == *b"\r\n" {
                break;
            }
        }
        let mut response = parse(&raw).ok_or(std::io::ErrorKind::InvalidData)?;
        let length: usize = response
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        response.body = vec![0; length];
        self.stream.read_exact(&mut response.body)?;
        Ok(response)
    }
}
