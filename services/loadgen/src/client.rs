//! One SSE stream over a raw `TcpStream`: a GET, the response head, then the body (chunked
//! or not) fed to the SSE parser as it arrives. About 4 KiB of buffer per stream, one
//! task, no timers.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{self, Chunked, Framing, HttpError};
use crate::sources::Sources;
use crate::sse::{Event, Parser};
use crate::target::Endpoint;

const READ_BUF: usize = 4096;

/// Why a stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("connecting: {0}")]
    Connect(std::io::Error),
    #[error("reading the response: {0}")]
    Io(std::io::Error),
    #[error("the server closed the connection before answering")]
    Closed,
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("status {status}: {body}")]
    Status { status: u16, body: String },
}

impl OpenError {
    /// A short label to count failures by.
    pub fn label(&self) -> String {
        match self {
            OpenError::Connect(e) => format!("connect: {}", e.kind()),
            OpenError::Io(e) => format!("io: {}", e.kind()),
            OpenError::Closed => "closed".into(),
            OpenError::Http(_) => "bad response".into(),
            OpenError::Status { status, .. } => format!("status {status}"),
        }
    }
}

enum Body {
    Chunked(Chunked),
    Raw,
}

/// An open SSE stream.
pub struct SseStream {
    socket: TcpStream,
    buf: BytesMut,
    body: Body,
    parser: Parser,
}

impl SseStream {
    /// Opens `path` on `server` from the next source address, with `Last-Event-ID` when
    /// resuming; returns once the response head (status 200) has arrived.
    pub async fn open(
        sources: &Sources,
        server: &Endpoint,
        path: &str,
        last_event_id: Option<&str>,
    ) -> Result<Self, OpenError> {
        let mut socket = sources
            .connect(server.addr)
            .await
            .map_err(OpenError::Connect)?;
        let mut headers = vec![
            ("Accept", "text/event-stream"),
            ("Cache-Control", "no-cache"),
        ];
        if let Some(id) = last_event_id {
            headers.push(("Last-Event-ID", id));
        }
        let request = http::request("GET", path, &server.host, &headers, b"");
        socket.write_all(&request).await.map_err(OpenError::Io)?;
        let mut buf = BytesMut::with_capacity(READ_BUF);
        let head = loop {
            if let Some(head) = http::parse_head(&mut buf)? {
                break head;
            }
            if socket.read_buf(&mut buf).await.map_err(OpenError::Io)? == 0 {
                return Err(OpenError::Closed);
            }
        };
        if head.status != 200 {
            let body = String::from_utf8_lossy(&buf[..buf.len().min(300)]).into_owned();
            return Err(OpenError::Status {
                status: head.status,
                body,
            });
        }
        let body = match head.framing {
            Framing::Chunked => Body::Chunked(Chunked::default()),
            Framing::Length(_) | Framing::Close => Body::Raw,
        };
        Ok(Self {
            socket,
            buf,
            body,
            parser: Parser::default(),
        })
    }

    /// Waits for bytes from the server. Returns false when the connection has closed.
    pub async fn fill(&mut self) -> std::io::Result<bool> {
        if !self.buf.is_empty() {
            return Ok(true);
        }
        self.buf.reserve(READ_BUF);
        Ok(self.socket.read_buf(&mut self.buf).await? > 0)
    }

    /// Hands every complete event received so far to `on_event`. Returns false when the
    /// response body has ended.
    pub fn drain(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> std::io::Result<bool> {
        let parser = &mut self.parser;
        let open = match &mut self.body {
            Body::Raw => {
                parser.feed(&self.buf, on_event);
                true
            }
            Body::Chunked(chunked) => {
                let ended = chunked
                    .feed(&self.buf, &mut |bytes| parser.feed(bytes, on_event))
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                !ended
            }
        };
        self.buf.clear();
        Ok(open)
    }

    /// The reconnection time the server last asked for (`retry:`).
    pub fn retry(&self) -> Option<Duration> {
        self.parser.retry_ms().map(Duration::from_millis)
    }

    /// The last event id received (for `Last-Event-ID` on a reconnect).
    pub fn last_id(&self) -> String {
        String::from_utf8_lossy(self.parser.last_id()).into_owned()
    }
}
