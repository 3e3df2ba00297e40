//! The few bytes of HTTP/1.1 a streaming client needs: a request head, the response head,
//! and a chunked body decoded incrementally. Nothing else (no redirects, no compression), so
//! the generator stays far cheaper than the servers it measures.

use bytes::{Buf, BytesMut};

/// A malformed or unexpected response.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpError {
    #[error("malformed response head: {0}")]
    Head(String),
    #[error("response head larger than {0} bytes")]
    HeadTooLarge(usize),
    #[error("malformed chunked body")]
    Chunked,
}

/// Response heads above this are refused.
pub const MAX_HEAD: usize = 16 * 1024;

/// A request head (and body, for a POST).
pub fn request(
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + path.len() + body.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if method != "GET" || !body.is_empty() {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// How the response body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    Chunked,
    Length(usize),
    /// Until the connection closes.
    Close,
}

/// The parts of a response head a client acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub framing: Framing,
    pub content_type: String,
}

/// Parses a complete head from the front of `buf` and removes it; `Ok(None)` when more bytes
/// are needed.
pub fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, HttpError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(HttpError::HeadTooLarge(MAX_HEAD));
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| HttpError::Head("not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Head(format!("status line {status_line:?}")));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| HttpError::Head(format!("status line {status_line:?}")))?;
    let mut framing = Framing::Close;
    let mut content_type = String::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::Head(format!("header line {line:?}")));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().contains("chunked") {
                framing = Framing::Chunked;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            if framing != Framing::Chunked {
                let length = value
                    .parse()
                    .map_err(|_| HttpError::Head(format!("content-length {value:?}")))?;
                framing = Framing::Length(length);
            }
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = value.to_owned();
        }
    }
    // 1xx, 204 and 304 have no body.
    if status < 200 || status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    buf.advance(end + 4);
    Ok(Some(Head {
        status,
        framing,
        content_type,
    }))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the hex size; `digits` seen so far.
    Size {
        value: usize,
        digits: u8,
    },
    /// After the size: a chunk extension, up to CRLF.
    Extension {
        value: usize,
    },
    /// The CR of the size line was seen.
    SizeLf {
        value: usize,
    },
    Data {
        left: usize,
    },
    DataCr,
    DataLf,
    /// After the last chunk: trailer lines until an empty one.
    Trailer {
        empty: bool,
    },
    Done,
}

/// An incremental `Transfer-Encoding: chunked` decoder.
#[derive(Debug)]
pub struct Chunked {
    state: State,
}

impl Default for Chunked {
    fn default() -> Self {
        Self {
            state: State::Size {
                value: 0,
                digits: 0,
            },
        }
    }
}

impl Chunked {
    /// Decodes `input`, handing each run of body bytes to `sink`. Returns true once the last
    /// chunk has been read.
    pub fn feed(&mut self, input: &[u8], sink: &mut dyn FnMut(&[u8])) -> Result<bool, HttpError> {
        let mut at = 0;
        while at < input.len() {
            let byte = input[at];
            self.state = match self.state {
                State::Size { value, digits } => match byte {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if digits >= 15 {
                            return Err(HttpError::Chunked);
                        }
                        let digit = (byte as char).to_digit(16).unwrap_or(0) as usize;
                        State::Size {
                            value: value * 16 + digit,
                            digits: digits + 1,
                        }
                    }
                    b'\r' if digits > 0 => State::SizeLf { value },
                    b';' | b' ' | b'\t' if digits > 0 => State::Extension { value },
                    _ => return Err(HttpError::Chunked),
                },
                State::Extension { value } => match byte {
                    b'\r' => State::SizeLf { value },
                    _ => State::Extension { value },
                },
                State::SizeLf { value } => match (byte, value) {
                    (b'\n', 0) => State::Trailer { empty: true },
                    (b'\n', left) => State::Data { left },
                    _ => return Err(HttpError::Chunked),
                },
                State::Data { left } => {
                    let take = left.min(input.len() - at);
                    sink(&input[at..at + take]);
                    at += take;
                    self.state = if take == left {
                        State::DataCr
                    } else {
                        State::Data { left: left - take }
                    };
                    continue;
                }
                State::DataCr => match byte {
                    b'\r' => State::DataLf,
                    _ => return Err(HttpError::Chunked),
                },
                State::DataLf => match byte {
                    b'\n' => State::Size {
                        value: 0,
                        digits: 0,
                    },
                    _ => return Err(HttpError::Chunked),
                },
                State::Trailer { empty } => match byte {
                    b'\r' => State::Trailer { empty },
                    b'\n' if empty => State::Done,
                    b'\n' => State::Trailer { empty: true },
                    _ => State::Trailer { empty: false },
                },
                State::Done => return Ok(true),
            };
            at += 1;
        }
        Ok(self.state == State::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_requests() {
        let get = request(
            "GET",
            "/sub/a",
            "127.0.0.1:8",
            &[("Accept", "text/event-stream")],
            b"",
        );
        assert_eq!(
            get,
            b"GET /sub/a HTTP/1.1\r\nHost: 127.0.0.1:8\r\nAccept: text/event-stream\r\n\r\n"
        );
        let post = request("POST", "/pub/a", "h", &[], b"{}");
        assert_eq!(
            post,
            b"POST /pub/a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn parses_heads_in_pieces() {
        let mut buf =
            BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-"[..]);
        assert_eq!(parse_head(&mut buf), Ok(None));
        buf.extend_from_slice(b"Encoding: chunked\r\n\r\n5\r\nhello");
        let head = parse_head(&mut buf).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.framing, Framing::Chunked);
        assert_eq!(head.content_type, "text/event-stream");
        assert_eq!(&buf[..], b"5\r\nhello");

        let mut buf =
            BytesMut::from(&b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 12\r\n\r\n"[..]);
        let head = parse_head(&mut buf).unwrap().unwrap();
        assert_eq!((head.status, head.framing), (503, Framing::Length(12)));
        let mut buf = BytesMut::from(&b"SSH-2.0\r\n\r\n"[..]);
        assert!(parse_head(&mut buf).is_err());
    }

    fn decode_split(encoded: &[u8], split: usize) -> (Vec<u8>, bool) {
        let mut decoder = Chunked::default();
        let mut out = Vec::new();
        let (a, b) = encoded.split_at(split);
        let mut done = decoder.feed(a, &mut |s| out.extend_from_slice(s)).unwrap();
        done |= decoder.feed(b, &mut |s| out.extend_from_slice(s)).unwrap();
        (out, done)
    }

    #[test]
    fn decodes_chunks_across_any_split() {
        let encoded = b"6\r\nid: 1\n\r\n18;ext=1\r\nevent: x\ndata: {\"a\":1}\n\n\r\n0\r\n\r\n";
        for split in 0..=encoded.len() {
            let (out, done) = decode_split(encoded, split);
            assert_eq!(
                out, b"id: 1\nevent: x\ndata: {\"a\":1}\n\n",
                "split at {split}"
            );
            assert!(done, "split at {split}");
        }
        let mut decoder = Chunked::default();
        assert_eq!(
            decoder.feed(b"zz\r\n", &mut |_| {}),
            Err(HttpError::Chunked)
        );
        let mut decoder = Chunked::default();
        assert_eq!(
            decoder.feed(b"2\r\nabX", &mut |_| {}),
            Err(HttpError::Chunked)
        );
    }
}
