//! `GET /api/v1/sse/connect` arriving first on a connection, served without hyper.
//!
//! hyper keeps two buffers per HTTP/1 connection for the connection's whole life (an 8 KiB
//! read buffer and an 8 KiB header buffer; neither can be set below 8 KiB), which for an SSE
//! stream idling for hours is most of its memory. A connection whose first bytes are a stream
//! request is read here instead, into a small buffer freed once the head is parsed, handed to
//! the stream service (the same checks and handler as the full router, as plain calls: see
//! `routes/stream_direct.rs`), and its response written here: a stream
//! hands its socket to its connection, which writes the head with the first frames and then
//! every frame straight from its queue (see [`crate::transport::wire`]); this task only waits for a
//! full socket or for the client to leave. Other responses (errors) are written frame by
//! frame. The connection carries that one request (`Connection: close`); any other first
//! request goes to hyper.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::socket::end_writing;
use super::wire;
use super::{Cut, Origin, Pending};
use crate::error::ApiError;
use crate::fanout::Connection;

/// The request line prefix served here.
const STREAM_REQUEST: &[u8] = b"GET /api/v1/sse/connect";
/// Larger request heads are refused (the router's own `MAX_HEADER_BYTES` check is smaller).
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

/// The connection's first bytes (empty when the client left before sending any), read into
/// the buffer a stream request is parsed from: one read serves both the choice of path and the
/// request. A request line that has not fully arrived goes to hyper, which serves it as well.
pub async fn first_bytes(socket: &mut TcpStream) -> std::io::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(1024);
    socket.read_buf(&mut buf).await?;
    Ok(buf)
}

/// Whether `first` (a connection's first bytes) starts a stream request.
pub fn is_stream_request(first: &[u8]) -> bool {
    first.len() > STREAM_REQUEST.len()
        && first.starts_with(STREAM_REQUEST)
        && matches!(first[STREAM_REQUEST.len()], b' ' | b'?')
}

/// What a request head is read with: the bytes already read, and the socket's place among
/// those waiting for a head (see [`Pending`]). Boxed, so an idle stream's task does not keep
/// room for what only reading its head needs.
pub struct Head {
    pub first: BytesMut,
    pub pending: Pending,
}

/// Serves the one request of `socket`, which starts with `head.first`, through `streams`; its
/// head must be complete by `head.pending.deadline`.
pub async fn serve(
    mut socket: TcpStream,
    head: Box<Head>,
    streams: super::StreamService,
    origin: Box<Origin>,
) {
    let Head { first, pending } = *head;
    let reading = read_request(&mut socket, first, origin);
    let read = tokio::time::timeout_at(pending.deadline, reading);
    let Ok(read) = read.await else {
        return Cut::HeaderTimeout.count();
    };
    // No longer waiting for a request: the place is given back.
    drop(pending);
    let (response, version) = match read {
        Ok(Some(request)) => {
            let version = request.version();
            // Boxed by the service: the handler's state is large and only needed until the
            // response starts; the stream's task keeps only what writing the body needs.
            (streams(request).await, version)
        }
        Ok(None) => return,
        Err(rejected) => (rejected.into_response(), Version::HTTP_11),
    };
    write_response(socket, response, version).await;
}

/// Parses the request head, reading what is missing after `buf`; `Ok(None)` if the client
/// left before sending it all.
async fn read_request(
    socket: &mut TcpStream,
    mut buf: BytesMut,
    origin: Box<Origin>,
) -> Result<Option<Request>, ApiError> {
    loop {
        if let Some(mut request) = parse_head(&buf)? {
            origin.mark(&mut request);
            return Ok(Some(request));
        }
        if buf.len() >= MAX_HEAD {
            return Err(too_large());
        }
        if buf.len() == buf.capacity() {
            buf.reserve(buf.len());
        }
        match socket.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
        format!("the request's head exceeds {MAX_HEAD} bytes or {MAX_HEADERS} headers"),
    )
}

fn invalid(message: &str) -> ApiError {
    ApiError::bad_request("invalid_request", message)
}

/// A complete request head as a request (`None` while incomplete).
fn parse_head(bytes: &[u8]) -> Result<Option<Request>, ApiError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let status = parsed.parse(bytes).map_err(|error| match error {
        httparse::Error::TooManyHeaders => too_large(),
        _ => invalid("malformed request head"),
    })?;
    if status.is_partial() {
        return Ok(None);
    }
    if parsed.method != Some("GET") {
        return Err(invalid("a stream is opened with GET"));
    }
    let uri: Uri = parsed
        .path
        .unwrap_or_default()
        .parse()
        .map_err(|_| invalid("malformed request target"))?;
    let mut request = Request::new(Body::empty());
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    *request.version_mut() = match parsed.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let map = request.headers_mut();
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| invalid("malformed header name"))?;
        let value =
            HeaderValue::from_bytes(field.value).map_err(|_| invalid("malformed header value"))?;
        let has_body = (name == header::CONTENT_LENGTH && value.as_bytes() != b"0")
            || name == header::TRANSFER_ENCODING;
        if has_body {
            return Err(invalid("a stream request has no body"));
        }
        map.append(name, value);
    }
    Ok(Some(request))
}

/// How the response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length,
    Chunked,
    /// HTTP/1.0 client, unknown length: until the connection closes.
    Close,
}

/// The status line and headers, ending with the empty line.
fn response_head(response: &Response, framing: Framing, length: Option<u64>) -> Vec<u8> {
    let status = response.status();
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in response.headers() {
        let hop_by_hop = name == header::CONNECTION
            || name == header::TRANSFER_ENCODING
            || name == header::CONTENT_LENGTH
            || name.as_str() == "keep-alive";
        if !hop_by_hop {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(b"date: ");
    head.extend_from_slice(httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes());
    head.extend_from_slice(b"\r\nconnection: close\r\n");
    match (framing, length) {
        (Framing::Length, Some(length)) => {
            head.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
        }
        (Framing::Chunked, _) => head.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// How a response is written once prepared.
enum Prepared {
    /// A stream: written straight from its connection's queue (see [`crate::transport::wire`]).
    /// The body is kept, not polled: dropping it ends the stream in the hub.
    Stream {
        connection: Arc<Connection>,
        body: Body,
    },
    /// Anything else (an error, a body without a connection): written frame by frame.
    Other(Pin<Box<dyn Future<Output = ()> + Send>>),
}

/// Starts writing `response`. Synchronous, so the response itself never sits in the
/// stream's task. A stream takes the socket into its connection's queue.
fn prepare(socket: TcpStream, response: Response, version: Version) -> Prepared {
    let Some(connection) = response.extensions().get::<Arc<Connection>>().cloned() else {
        return Prepared::Other(Box::pin(write_body(socket, response, version)));
    };
    let framing = match version {
        Version::HTTP_10 => Framing::Close,
        _ => Framing::Chunked,
    };
    let head = response_head(&response, framing, None);
    connection.attach_sink(Box::new(wire::Wire::new(
        socket,
        &head,
        framing == Framing::Chunked,
    )));
    Prepared::Stream {
        connection,
        body: response.into_body(),
    }
}

/// Writes the response; the stream's task ends with it.
async fn write_response(socket: TcpStream, response: Response, version: Version) {
    match prepare(socket, response, version) {
        Prepared::Stream { connection, body } => {
            let attached = Attached(&connection);
            let ended = poll_fn(|cx| connection.poll_sink(cx)).await;
            let sink = connection.detach_sink();
            drop(attached);
            drop(body);
            // Write errors mean the client is gone.
            if let (Ok(()), Some(sink)) = (ended, sink) {
                sink.end();
            }
        }
        Prepared::Other(writing) => writing.await,
    }
}

/// Takes the socket back from the connection when the stream's task ends, however it ends
/// (dropped, the socket closes).
struct Attached<'a>(&'a Connection);

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        self.0.detach_sink();
    }
}

async fn write_all(socket: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        socket.writable().await?;
        match socket.try_write(bytes) {
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Writes a response that is not a stream, then ends the connection's write side.
async fn write_body(socket: TcpStream, response: Response, version: Version) {
    // Write errors mean the client is gone.
    if write_body_on(&socket, response, version).await.is_ok() {
        end_writing(&socket);
    }
}

async fn write_body_on(
    socket: &TcpStream,
    response: Response,
    version: Version,
) -> std::io::Result<()> {
    let length = response.body().size_hint().exact();
    let framing = match (length, version) {
        (Some(_), _) => Framing::Length,
        (None, Version::HTTP_10) => Framing::Close,
        (None, _) => Framing::Chunked,
    };
    write_all(socket, &response_head(&response, framing, length)).await?;
    let mut body = std::pin::pin!(response.into_body());
    loop {
        let frame = tokio::select! {
            frame = poll_fn(|cx| body.as_mut().poll_frame(cx)) => frame,
            () = poll_fn(|cx| wire::client_left(cx, socket)) => return Ok(()),
        };
        let data = match frame {
            None => break,
            Some(Err(error)) => return Err(std::io::Error::other(error)),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) if !data.is_empty() => data,
                _ => continue,
            },
        };
        if framing == Framing::Chunked {
            let mut size_line = [0u8; 18];
            let mut chunk = BytesMut::with_capacity(data.len() + 20);
            chunk.extend_from_slice(wire::chunk_size_line(data.len(), &mut size_line));
            chunk.extend_from_slice(&data);
            chunk.extend_from_slice(b"\r\n");
            write_all(socket, &chunk).await?;
        } else {
            write_all(socket, &data).await?;
        }
    }
    if framing == Framing::Chunked {
        write_all(socket, b"0\r\n\r\n").await?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "stream_http1_tests.rs"]
mod tests;
